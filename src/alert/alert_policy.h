// The alert policy of the live telemetry path: from each machine's stream of scored readings,
// when an alert opens, escalates or is held back. Pure bookkeeping: the Store keeps the alerts
// themselves (store::Store::OpenAlert and TransitionAlert); the caller tells the policy what the
// Store answered.
//
// Rules, per machine:
//   - any reading at or beyond `high` (probability >= high; RUL <= high) opens a critical alert;
//   - `consecutive` alarms in a row, or `m` alarms among the last `k` readings, open a warning;
//   - while the machine has an active alert, nothing opens; a critical reading escalates a
//     warning alert;
//   - after an acknowledgement, a resolution or a maintenance event, nothing opens for
//     `cooldown` (data time, or readings of that machine; a time cooldown needs timed readings)
//     and the alarm history starts over.
//
// Thread-safe: one lock over the machines (each call is a few integer operations).
#ifndef PDM_ALERT_ALERT_POLICY_H_
#define PDM_ALERT_ALERT_POLICY_H_

#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>

#include "absl/status/status.h"
#include "core/time.h"

namespace pdm::alert {

struct AlertRules {
  bool lower_is_riskier = false;  // RUL: a lower score is riskier
  double high = 0;                // a single reading this risky opens a critical alert
  int consecutive = 3;
  int m = 5;
  int k = 10;  // at most 64
  core::Span cooldown{core::Span::Kind::kTime, 86400};
};

// Refuses rules that cannot work (k outside 1..64, m > k, a non-positive count).
absl::Status ValidateRules(const AlertRules& rules);

enum class Action { kNone, kOpen, kEscalate };

struct Decision {
  Action action = Action::kNone;
  std::string severity;  // "warning" or "critical" for kOpen and kEscalate
  std::string reason;    // which rule fired, for the alert's message
  int64_t alert_id = 0;  // kEscalate: the active alert to escalate
};

class AlertPolicy {
 public:
  // REQUIRES: ValidateRules(rules).ok().
  explicit AlertPolicy(const AlertRules& rules) : rules_(rules) {}

  // One scored reading of `machine` at data time `time` (NaN when the data has no time), in the
  // machine's order; `alarm` is the served threshold's decision.
  Decision Observe(const std::string& machine, double time, double score, bool alarm);

  // The Store holds alert `id` (at `severity`) as the machine's active alert.
  void SetActive(const std::string& machine, int64_t id, const std::string& severity);
  // The active alert was acknowledged, or resolved (by a person or a maintenance event): the
  // cooldown starts from the machine's latest reading and its alarm history is cleared.
  void Acknowledged(const std::string& machine);
  void Resolved(const std::string& machine);
  // A maintenance event: the cooldown starts, the history is cleared; the caller resolves the
  // active alert (if any) with `maintenance_done`.
  void Maintained(const std::string& machine, double time);

  // The machine's active alert id, 0 when none.
  int64_t ActiveAlert(const std::string& machine) const;

 private:
  struct MachineState {
    uint64_t recent = 0;  // bit i: the reading i steps back was an alarm
    int seen = 0;         // readings in `recent`, up to k
    int run = 0;          // consecutive alarms up to the latest reading
    int64_t readings = 0;
    double last_time = 0;
    bool timed = false;
    double cooldown_until_time = 0;
    int64_t cooldown_until_reading = 0;
    int64_t active_id = 0;
    std::string active_severity;
  };
  void StartCooldown(MachineState* m);
  bool Cooling(const MachineState& m) const;

  const AlertRules rules_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, MachineState> machines_;
};

}  // namespace pdm::alert

#endif  // PDM_ALERT_ALERT_POLICY_H_
