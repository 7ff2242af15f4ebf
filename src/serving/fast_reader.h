// The hot routes' fast readers (telemetry, predict): bodies read straight into the pipeline's
// layout or the model's feature rows with simdjson, no JSON tree built. Each accepts only what
// the route's full reader (nlohmann) would accept without a refusal, and reads it the same way;
// anything else goes to the full reader, which names what is wrong. The value rules themselves
// are shared (NumericValueAccepted, FeatureValueAccepted).
#ifndef PDM_SERVING_FAST_READER_H_
#define PDM_SERVING_FAST_READER_H_

#include <cmath>
#include <string_view>
#include <vector>

#include "features/pipeline.h"
#include "serving/fleet.h"
#include "serving/model_manager.h"

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

// The readers keep one simdjson parser per thread, whose buffers grow to the largest body it
// read: frees them when they hold more than `keep_bytes` (after a large body; the results of
// the last read are invalid then).
void ReleaseFastReaderMemory(size_t keep_bytes);

// Whether a predict record's feature `name` takes the value: finite, within float32 and the
// feature's declared range (ServedModel::ranges).
bool FeatureValueAccepted(const ServedModel& model, std::string_view name, double v);

// Reads a predict body (one record, or for a batch an array of records or {"instances": [...]};
// a record is {feature: number|null} or {"features": {...}}) into rows of the model's features
// (row-major, NaN for null), reusing `rows`' capacity. False when any record would be refused,
// the body has another shape, or a batch is empty or over `max_records`: the full reader then
// takes the body.
bool ReadPredictFast(std::string_view body, bool batch, const ServedModel& model,
                     bool allow_unknown, size_t max_records, std::vector<float>* rows,
                     size_t* records);

}  // namespace pdm::serving

#endif  // PDM_SERVING_FAST_READER_H_
