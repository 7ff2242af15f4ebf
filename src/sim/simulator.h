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
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace pdm::sim {

// An injected change (docs/simulator.md, "Injected drift"): from `start_offset_seconds` after
// the simulation's start, on the chosen machines, either one sensor's measurement (a
// recalibrated or fouled sensor: only that column changes) or the ambient air temperature (a
// physical change: every temperature follows it, as the machine's heat balance does).
struct DriftChange {
  std::string target;     // a sensor column name, or "ambient"
  bool relative = false;  // amount is a fraction (+0.2 = +20%); else it is added, in units
  double amount = 0;
  int64_t start_offset_seconds = 0;
  std::vector<std::string> machines;  // ids; empty with fraction 1: every machine
  double fraction = 1;                // of the machines (seeded choice) when `machines` is empty
  std::string text;                   // as given
};

// Parses "TARGET:CHANGE@START[:MACHINES]": CHANGE is +20% or -5% (relative) or +3.5 / -2
// (added, in the sensor's unit); START a span from the start ("75d", "12h"); MACHINES "all",
// a share of the fleet ("25%") or ids ("M0001,M0007"). InvalidArgument names the part.
absl::StatusOr<DriftChange> ParseDriftChange(std::string_view text);

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
  // Amplitude of the ambient temperature's yearly swing, degC (0: no season, a stationary
  // ambient apart from the daily cycle).
  double seasonal_amplitude = 8;
  std::vector<DriftChange> drifts;
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
