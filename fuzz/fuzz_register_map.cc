// libFuzzer target: the Modbus register map (YAML per device) parser.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "ingest/modbus_source.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view yaml(reinterpret_cast<const char*>(data), size);
  (void)pdm::ingest::ParseRegisterMap(yaml, "/fuzz/registers.yaml");
  return 0;
}
