// Payloads of the ingestion sources, decoded into the telemetry route's body (docs/ingest.md):
// pdm's reading JSON (what POST /api/v1/telemetry takes) and InfluxDB line protocol.
//
// Decoding only shapes the readings; validation (fields, ranges, time order) stays with the
// telemetry path, so a reading gets the same answer whichever way it came.
#ifndef PDM_INGEST_PAYLOAD_H_
#define PDM_INGEST_PAYLOAD_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace pdm::ingest {

enum class PayloadFormat {
  kAuto,  // JSON when the payload's first non-blank byte is '{' or '[', else line protocol
  kJson,
  kLineProtocol,
};
absl::StatusOr<PayloadFormat> ParsePayloadFormat(std::string_view text);

struct DecodeOptions {
  PayloadFormat format = PayloadFormat::kAuto;
  // Line protocol: the tag that names the machine, and the timestamps' unit.
  std::string machine_tag = "machine";
  // Seconds per timestamp unit: 1e-9 (ns, InfluxDB's default), 1e-6, 1e-3 or 1.
  double time_unit = 1e-9;
};

// A payload's readings (and events) as the telemetry route's body, with what could not be
// decoded. `machine` (e.g. from the MQTT topic) fills readings and events without one; one that
// names another machine is refused.
struct Decoded {
  nlohmann::json body;  // {"readings": [...], "events": [...]}
  size_t readings = 0;  // in body
  // What could not be decoded, each naming the line or reading and the reason.
  std::vector<std::string> errors;
};
absl::StatusOr<Decoded> DecodePayload(std::string_view payload, const DecodeOptions& options,
                                      const std::optional<std::string>& machine);

// One line of InfluxDB line protocol: `measurement[,tag=value...] field=value[,...] [time]`.
struct LinePoint {
  std::string measurement;
  std::vector<std::pair<std::string, std::string>> tags;
  // Numbers (floats, integers `1i`, unsigned `1u`; booleans as 1 and 0) and strings.
  std::vector<std::pair<std::string, nlohmann::json>> fields;
  std::optional<int64_t> timestamp;
};
// Parses one line; the error says what is wrong and at which column (1-based).
absl::StatusOr<LinePoint> ParseLine(std::string_view line);

// The topic's level `level` (0-based, '/'-separated), if it has one and it is not empty.
std::optional<std::string> TopicLevel(std::string_view topic, int level);

}  // namespace pdm::ingest

#endif  // PDM_INGEST_PAYLOAD_H_
