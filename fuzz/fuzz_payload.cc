// libFuzzer target: the ingestion payload decoder (pdm's reading JSON and InfluxDB line
// protocol, as MQTT and Kafka messages bring them). The first byte picks the format, the time
// unit and whether the topic names a machine.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "ingest/payload.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  pdm::ingest::DecodeOptions options;
  const uint8_t mode = data[0];
  options.format = (mode & 3) == 0   ? pdm::ingest::PayloadFormat::kJson
                   : (mode & 3) == 1 ? pdm::ingest::PayloadFormat::kLineProtocol
                                     : pdm::ingest::PayloadFormat::kAuto;
  options.time_unit = (mode & 4) != 0 ? 1.0 : 1e-9;
  const std::optional<std::string> machine =
      (mode & 8) != 0 ? std::optional<std::string>("M0001") : std::nullopt;
  const std::string_view payload(reinterpret_cast<const char*>(data) + 1, size - 1);
  auto decoded = pdm::ingest::DecodePayload(payload, options, machine);
  if (decoded.ok())
    (void)decoded->body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  (void)pdm::ingest::ParseLine(payload);
  return 0;
}
