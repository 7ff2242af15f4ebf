// The fleet simulator: a physically plausible fleet of rotating machines (pumps/compressors)
// with operating regimes, wear-driven failure modes that each leave their own signature before
// the failure, preventive maintenance, error events, sensor noise, dropouts, stuck sensors,
// outliers, communication gaps and re-sent (duplicate) readings. See docs/simulator.md.
#ifndef PDM_SIM_SIMULATOR_H_
#define PDM_SIM_SIMULATOR_H_

#include <array>
#include <cstdint>
#include <filesystem>
#include <string>

#include "absl/status/statusor.h"

namespace pdm::sim {

struct SimulationOptions {
  int machines = 20;                               // fleet size; >= 1
  int64_t duration_seconds = int64_t{30} * 86400;  // simulated span; >= interval
  int64_t interval_seconds = 3600;                 // reading period; >= 1
  uint64_t seed = 1;
  int64_t start_epoch_seconds = 1735689600;  // 2025-01-01T00:00:00Z
  int threads = 0;                           // 0: all cores. The output does not depend on it.
  // Probability that one sensor value of a reading is missing (empty cell).
  double dropout_rate = 0.002;
  // Probability that one sensor value is a spike (may fall outside the valid range).
  double outlier_rate = 0.0003;
  // Probability per reading that a communication outage (1-24 readings lost) starts.
  double gap_rate = 0.0005;
  // Probability per reading that it is sent twice (same machine and time).
  double duplicate_rate = 0.0002;
  // Probability per reading that one sensor sticks at its last value for 6-48 readings.
  double stuck_rate = 0.0002;
};

// Failure modes, each tied to a component.
enum class FailureMode { kBearing, kSeal, kMotor, kCooling, kRandom };
inline constexpr int kFailureModeCount = 5;
const char* FailureModeName(FailureMode mode);

struct SimulationSummary {
  int64_t readings = 0;
  int64_t failures = 0;
  std::array<int64_t, kFailureModeCount> failures_by_mode{};
  int64_t maintenance = 0;  // preventive and corrective
  int64_t errors = 0;
  int64_t bytes = 0;
  std::filesystem::path spec_path;
};

// Writes telemetry.csv, failures.csv, maintenance.csv, errors.csv, machines.csv and spec.yaml
// into `out_dir` (created if needed). The same options give the same bytes, whatever `threads`.
absl::StatusOr<SimulationSummary> Simulate(const SimulationOptions& options,
                                           const std::filesystem::path& out_dir);

}  // namespace pdm::sim

#endif  // PDM_SIM_SIMULATOR_H_
