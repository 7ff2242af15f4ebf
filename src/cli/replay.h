// A simulated fleet replayed live: `pdm demo --serve` trains on the first part of the fleet it
// simulated and replays the rest through the telemetry route, one request per reading time (every
// machine's readings at that time, after the events since the previous one), at an accelerated
// clock, so that the dashboard shows machines moving, alerts opening and risk rising before
// failures.
#ifndef PDM_CLI_REPLAY_H_
#define PDM_CLI_REPLAY_H_

#include <filesystem>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace pdm::cli {

struct ReplayStep {
  double time = 0;      // epoch seconds of the readings
  std::string body;     // the POST /api/v1/telemetry body
  size_t readings = 0;  // in body
};

// The steps of the fleet simulated into `dir` (pdm simulate's CSV files) at or after `from`
// (epoch seconds), in time order. Each machine's first reading carries its attributes.
absl::StatusOr<std::vector<ReplayStep>> LoadReplay(const std::filesystem::path& dir, double from);

// Copies the fleet's files into `out` (created) keeping the rows before `before` (epoch
// seconds): the training part of a replayed demo. The spec is copied whole.
absl::Status SplitFleet(const std::filesystem::path& dir, double before,
                        const std::filesystem::path& out);

// `pdm simulate --publish URL`: the steps sent live to a broker or a server.
struct PublishOptions {
  // mqtt://host:port (or mqtts://): to `topic`; kafka://host:port[,host:port]: to `topic`
  // (default telemetry), one record per machine and step keyed by the machine;
  // http://host:port[/path]: POSTed to the path (default /api/v1/telemetry), one request per step.
  std::string url;
  // MQTT: with "{machine}", one message per machine and step (its readings and events) on the
  // topic with the machine's id in place; without, the whole step on the topic. Kafka: the
  // topic's name (no "{machine}": the key names the machine).
  std::string topic = "pdm/{machine}/telemetry";
  // Data seconds per wall second (3600: an hour of data each second); 0: as fast as the
  // receiver acknowledges.
  double speed = 0;
};
struct PublishSummary {
  size_t steps = 0, messages = 0, readings = 0;
  double seconds = 0;  // wall time, until the last message was acknowledged
};
absl::StatusOr<PublishSummary> PublishReplay(const std::vector<ReplayStep>& steps,
                                             const PublishOptions& options);

}  // namespace pdm::cli

#endif  // PDM_CLI_REPLAY_H_
