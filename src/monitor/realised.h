// Realised performance of the served decisions, once labels arrive through the telemetry route.
//
// A scored reading of a machine at time t is labelled as training labelled it (labels.horizon):
// positive when a failure of the machine is reported at F with t <= F <= t + horizon (a failure
// event, or an alert resolved as failure_confirmed), negative
// once the machine's data time passes t + horizon without one. Its alarm then counts as a true
// or false positive, its silence as a false or true negative. Readings wait per machine, so
// memory grows with machines x readings per horizon; past `max_pending` a machine's oldest
// waiting reading is dropped unlabelled (counted).
//
// Thread-safe.
#ifndef PDM_MONITOR_REALISED_H_
#define PDM_MONITOR_REALISED_H_

#include <cmath>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <unordered_map>

#include "nlohmann/json.hpp"

namespace pdm::monitor {

struct RealisedCounts {
  int64_t tp = 0, fp = 0, fn = 0, tn = 0;
  int64_t pending = 0;  // scored, not labelled yet
  int64_t dropped = 0;  // never labelled: beyond max_pending
  int64_t failures = 0;
  int64_t confirmed_by_alerts = 0;  // of failures, those from alerts resolved failure_confirmed
  double precision = NAN, recall = NAN, f1 = NAN;
  int64_t labelled() const { return tp + fp + fn + tn; }
};

class RealisedPerformance {
 public:
  // `horizon` in the data's time unit (seconds for timestamps). REQUIRES: horizon > 0.
  explicit RealisedPerformance(double horizon, size_t max_pending = 100'000);

  // A scored reading, in each machine's time order.
  void Scored(const std::string& machine, double time, bool alarm);
  // A failure of `machine` at `time`: labels its waiting readings.
  void Failure(const std::string& machine, double time);
  // A failure confirmed by resolving the machine's risk alert (`failure_confirmed`): a failure
  // at the machine's latest scored reading, the latest data time known of it.
  void ConfirmedFailure(const std::string& machine);
  RealisedCounts Counts() const;
  double horizon() const { return horizon_; }

 private:
  struct Waiting {
    double time;
    bool alarm;
  };
  void Label(bool alarm, bool positive);                        // REQUIRES: mu_ held
  void FailureLocked(const std::string& machine, double time);  // REQUIRES: mu_ held

  const double horizon_;
  const size_t max_pending_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, std::deque<Waiting>> machines_;
  RealisedCounts counts_;
};

// GET /api/v1/performance's "realised" object.
nlohmann::json RealisedJson(const RealisedCounts& counts, double horizon);

}  // namespace pdm::monitor

#endif  // PDM_MONITOR_REALISED_H_
