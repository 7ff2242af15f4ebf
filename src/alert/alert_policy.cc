#include "alert/alert_policy.h"

#include <bit>
#include <cmath>

#include "core/strings.h"

namespace pdm::alert {

absl::Status ValidateRules(const AlertRules& rules) {
  if (rules.k < 1 || rules.k > 64) {
    return absl::InvalidArgumentError(
        core::StrCat("alert rule M of K: K = ", rules.k, " (expected 1 to 64)"));
  }
  if (rules.m < 1 || rules.m > rules.k) {
    return absl::InvalidArgumentError(
        core::StrCat("alert rule M of K: M = ", rules.m, " (expected 1 to K = ", rules.k, ")"));
  }
  if (rules.consecutive < 1) {
    return absl::InvalidArgumentError(
        core::StrCat("alert rule consecutive: ", rules.consecutive, " (expected at least 1)"));
  }
  if (!std::isfinite(rules.high)) {
    return absl::InvalidArgumentError("alert rule high: not a finite number");
  }
  return absl::OkStatus();
}

Decision AlertPolicy::Observe(const std::string& machine, double time, double score, bool alarm) {
  std::lock_guard lock(mu_);
  MachineState& m = machines_[machine];
  ++m.readings;
  if (std::isfinite(time)) {
    m.last_time = time;
    m.timed = true;
  }
  const uint64_t window = rules_.k == 64 ? ~uint64_t{0} : (uint64_t{1} << rules_.k) - 1;
  m.recent = ((m.recent << 1) | (alarm ? 1 : 0)) & window;
  if (m.seen < rules_.k) ++m.seen;
  m.run = alarm ? m.run + 1 : 0;

  const bool critical = rules_.lower_is_riskier ? score <= rules_.high : score >= rules_.high;
  Decision d;
  if (m.active_id != 0) {
    if (critical && m.active_severity != "critical") {
      d.action = Action::kEscalate;
      d.severity = "critical";
      d.alert_id = m.active_id;
      d.reason = core::StrCat("score ", score, " beyond the high threshold ", rules_.high);
    }
    return d;
  }
  if (Cooling(m)) return d;
  const int alarms = std::popcount(m.recent);
  if (critical) {
    d.action = Action::kOpen;
    d.severity = "critical";
    d.reason = core::StrCat("score ", score, " beyond the high threshold ", rules_.high);
  } else if (m.run >= rules_.consecutive) {
    d.action = Action::kOpen;
    d.severity = "warning";
    d.reason = core::StrCat(m.run, " consecutive readings above the served threshold");
  } else if (alarms >= rules_.m) {
    d.action = Action::kOpen;
    d.severity = "warning";
    d.reason =
        core::StrCat(alarms, " of the last ", m.seen, " readings above the served threshold");
  }
  return d;
}

void AlertPolicy::SetActive(const std::string& machine, int64_t id, const std::string& severity) {
  std::lock_guard lock(mu_);
  MachineState& m = machines_[machine];
  m.active_id = id;
  m.active_severity = severity;
}

void AlertPolicy::Acknowledged(const std::string& machine) {
  std::lock_guard lock(mu_);
  StartCooldown(&machines_[machine]);
}

void AlertPolicy::Resolved(const std::string& machine) {
  std::lock_guard lock(mu_);
  MachineState& m = machines_[machine];
  m.active_id = 0;
  m.active_severity.clear();
  StartCooldown(&m);
}

void AlertPolicy::Maintained(const std::string& machine, double time) {
  std::lock_guard lock(mu_);
  MachineState& m = machines_[machine];
  if (std::isfinite(time) && (!m.timed || time > m.last_time)) {
    m.last_time = time;
    m.timed = true;
  }
  StartCooldown(&m);
}

int64_t AlertPolicy::ActiveAlert(const std::string& machine) const {
  std::lock_guard lock(mu_);
  auto it = machines_.find(machine);
  return it == machines_.end() ? 0 : it->second.active_id;
}

void AlertPolicy::StartCooldown(MachineState* m) {
  m->recent = 0;
  m->seen = 0;
  m->run = 0;
  if (rules_.cooldown.is_time()) {
    m->cooldown_until_time = m->last_time + static_cast<double>(rules_.cooldown.amount);
  } else {
    m->cooldown_until_reading = m->readings + rules_.cooldown.amount;
  }
}

bool AlertPolicy::Cooling(const MachineState& m) const {
  if (rules_.cooldown.is_time()) {
    return m.timed && m.cooldown_until_time > 0 && m.last_time < m.cooldown_until_time;
  }
  return m.readings <= m.cooldown_until_reading;
}

}  // namespace pdm::alert
