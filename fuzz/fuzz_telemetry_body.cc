// libFuzzer target: the telemetry route's body readers, the fast one (simdjson into the
// layout) and the full one (nlohmann, with its nesting and size limits), on one layout of three
// sensors with ranges and timestamps.
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string_view>
#include <vector>

#include "serving/fast_reader.h"
#include "serving/json_body.h"

namespace {

pdm::features::InputLayout Layout() {
  pdm::features::InputLayout layout;
  layout.time_type = pdm::spec::TimeType::kTimestamp;
  layout.has_entity = true;
  layout.numeric = {"vibration_rms", "bearing_temperature", "load_setpoint"};
  layout.numeric_roles = {pdm::spec::ColumnRole::kSensor, pdm::spec::ColumnRole::kSensor,
                          pdm::spec::ColumnRole::kSetting};
  layout.numeric_min = {0, -20, 0};
  layout.numeric_max = {50, 180, std::numeric_limits<double>::infinity()};
  return layout;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const pdm::features::InputLayout layout = Layout();
  static std::vector<pdm::serving::FastReading> readings;
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  if (pdm::serving::ReadTelemetryFast(body, layout, size % 2 == 0, 1000, &readings)) {
    for (const pdm::serving::FastReading& r : readings) {
      if (r.reading.numeric.size() != layout.numeric.size() && r.full_reader_json.empty()) {
        __builtin_trap();  // a taken reading has one value per input
      }
    }
  }
  pdm::serving::ReleaseFastReaderMemory(1 << 20);
  nlohmann::json parsed;
  (void)pdm::serving::ParseJsonText(body, &parsed);
  return 0;
}
