// libFuzzer target: the dataset spec parser on arbitrary YAML. Any input must give a spec or an
// error naming the key; never a crash, a hang or a sanitizer report.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "spec/dataset_spec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto spec = pdm::spec::ParseDatasetSpec(text, "/fuzz/spec.yaml");
  if (spec.ok()) {
    for (const pdm::spec::TableSpec* table : spec->Tables()) (void)table->FindColumn("x");
  }
  return 0;
}
