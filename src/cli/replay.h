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
  double time = 0;   // epoch seconds of the readings
  std::string body;  // the POST /api/v1/telemetry body
};

// The steps of the fleet simulated into `dir` (pdm simulate's CSV files) at or after `from`
// (epoch seconds), in time order. Each machine's first reading carries its attributes.
absl::StatusOr<std::vector<ReplayStep>> LoadReplay(const std::filesystem::path& dir, double from);

// Copies the fleet's files into `out` (created) keeping the rows before `before` (epoch
// seconds): the training part of a replayed demo. The spec is copied whole.
absl::Status SplitFleet(const std::filesystem::path& dir, double before,
                        const std::filesystem::path& out);

}  // namespace pdm::cli

#endif  // PDM_CLI_REPLAY_H_
