// server.yaml's `sinks:` (docs/ingest.md): where `pdm serve` writes readings, risks and alerts.
#ifndef PDM_SINK_SINK_CONFIG_H_
#define PDM_SINK_SINK_CONFIG_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "sink/influx_sink.h"
#include "sink/kafka_sink.h"
#include "sink/redis_sink.h"

namespace YAML {
class Node;
}

namespace pdm::sink {

struct SinksConfig {
  std::vector<InfluxSinkOptions> influx;
  std::vector<RedisSinkOptions> redis;
  std::vector<KafkaSinkOptions> kafka;
  bool empty() const { return influx.empty() && redis.empty() && kafka.empty(); }
};

// Parses the list under `sinks:` of the file `path` into `out` (replacing what it held);
// `password_env` is read from the environment here. Errors name the file, entry and key.
absl::Status ParseSinks(const std::string& path, const YAML::Node& list, SinksConfig* out);

// One sink per entry; not started.
std::vector<std::unique_ptr<Sink>> MakeSinks(const SinksConfig& config);

}  // namespace pdm::sink

#endif  // PDM_SINK_SINK_CONFIG_H_
