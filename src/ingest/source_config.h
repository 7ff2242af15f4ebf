// server.yaml's `sources:` (docs/ingest.md): the ingestion sources `pdm serve` runs.
#ifndef PDM_INGEST_SOURCE_CONFIG_H_
#define PDM_INGEST_SOURCE_CONFIG_H_

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "ingest/config_reader.h"
#include "ingest/kafka_source.h"
#include "ingest/modbus_source.h"
#include "ingest/mqtt_source.h"
#include "ingest/source.h"

namespace YAML {
class Node;
}

namespace pdm::ingest {

struct SourcesConfig {
  std::vector<MqttSourceOptions> mqtt;
  std::vector<ModbusSourceOptions> modbus;
  std::vector<KafkaSourceOptions> kafka;
  bool empty() const { return mqtt.empty() && modbus.empty() && kafka.empty(); }
};

// Parses the list under `sources:` of the file `path` into `out` (replacing what it held).
// Relative register-map paths are resolved against the file's folder; `password_env` is read
// from the environment here. Errors name the file, the entry and the key.
absl::Status ParseSources(const std::string& path, const YAML::Node& list, SourcesConfig* out);

// The Kafka client keys that sources and sinks share: `username`, `password_env` (the SASL
// password, read from the environment) and `properties` (librdkafka settings). Whether `key` is
// one of them.
bool ReadKafkaClientKey(const std::string& key, const YAML::Node& value, EntryReader* reader,
                        std::map<std::string, std::string>* properties);

// One source per entry, each feeding `handler`; Kafka sources hand machines' states over between
// replicas through `handoff`. Not started.
std::vector<std::unique_ptr<Source>> MakeSources(const SourcesConfig& config,
                                                 const TelemetryHandler& handler,
                                                 const StateHandoff& handoff = {});

}  // namespace pdm::ingest

#endif  // PDM_INGEST_SOURCE_CONFIG_H_
