// The telemetry route's fast reader: a body of valid readings read straight into the pipeline's
// layout with simdjson, no JSON tree built. It accepts only what the full reader
// (api_telemetry.cc, nlohmann) would accept without a refusal, and reads it the same way; on
// anything else it answers false and the full reader takes the body, naming what is wrong. The
// value rules themselves are shared (NumericValueAccepted).
#ifndef PDM_SERVING_TELEMETRY_READER_H_
#define PDM_SERVING_TELEMETRY_READER_H_

#include <cmath>
#include <string_view>
#include <vector>

#include "features/pipeline.h"
#include "serving/fleet.h"

namespace pdm::serving {

// Whether numeric input i of the layout takes the value (finite, within its declared range).
inline bool NumericValueAccepted(const features::InputLayout& layout, size_t i, double v) {
  return std::isfinite(v) && v >= layout.numeric_min[i] && v <= layout.numeric_max[i];
}

inline constexpr size_t kMaxMachineIdLength = 128;

struct FastReading {
  MachineReading reading;
  std::string_view time_text;  // the time as sent (a string's contents; empty for a number)
  // Non-empty when this reading is not one the fast reader takes (it would be refused, or has
  // attributes or other keys): the reading as JSON text, for the full reader.
  std::string full_reader_json;
};

// Reads a telemetry body ({"readings": [...]}, an array of readings, or one reading; no events)
// into `out`, reusing its capacity; a reading other than one valid reading of "machine", "time"
// and "values" is handed on as text (full_reader_json). False when the body is not of that
// shape, or holds no reading or more than `max_readings`: then `out` is unspecified.
bool ReadTelemetryFast(std::string_view body, const features::InputLayout& layout,
                       bool allow_unknown, size_t max_readings, std::vector<FastReading>* out);

}  // namespace pdm::serving

#endif  // PDM_SERVING_TELEMETRY_READER_H_
