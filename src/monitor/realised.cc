#include "monitor/realised.h"

namespace pdm::monitor {

RealisedPerformance::RealisedPerformance(double horizon, size_t max_pending)
    : horizon_(horizon), max_pending_(max_pending) {}

void RealisedPerformance::Label(bool alarm, bool positive) {
  if (alarm) {
    ++(positive ? counts_.tp : counts_.fp);
  } else {
    ++(positive ? counts_.fn : counts_.tn);
  }
  --counts_.pending;
}

void RealisedPerformance::Scored(const std::string& machine, double time, bool alarm) {
  if (!std::isfinite(time)) return;
  std::lock_guard lock(mu_);
  std::deque<Waiting>& waiting = machines_[machine];
  // Readings whose horizon has passed without a failure are negatives.
  while (!waiting.empty() && waiting.front().time + horizon_ < time) {
    Label(waiting.front().alarm, false);
    waiting.pop_front();
  }
  if (waiting.size() >= max_pending_) {
    waiting.pop_front();
    --counts_.pending;
    ++counts_.dropped;
  }
  waiting.push_back({time, alarm});
  ++counts_.pending;
}

void RealisedPerformance::Failure(const std::string& machine, double time) {
  if (!std::isfinite(time)) return;
  std::lock_guard lock(mu_);
  FailureLocked(machine, time);
}

void RealisedPerformance::FailureLocked(const std::string& machine, double time) {
  ++counts_.failures;
  auto it = machines_.find(machine);
  if (it == machines_.end()) return;
  std::deque<Waiting>& waiting = it->second;
  // Readings at or before the failure are labelled by it; later ones (a failure reported late)
  // wait for the next.
  while (!waiting.empty() && waiting.front().time <= time) {
    Label(waiting.front().alarm, waiting.front().time + horizon_ >= time);
    waiting.pop_front();
  }
}

void RealisedPerformance::ConfirmedFailure(const std::string& machine) {
  std::lock_guard lock(mu_);
  ++counts_.confirmed_by_alerts;
  auto it = machines_.find(machine);
  if (it == machines_.end() || it->second.empty()) {
    ++counts_.failures;  // nothing waits to be labelled by it
    return;
  }
  FailureLocked(machine, it->second.back().time);
}

RealisedCounts RealisedPerformance::Counts() const {
  std::lock_guard lock(mu_);
  RealisedCounts c = counts_;
  const double tp = static_cast<double>(c.tp), fp = static_cast<double>(c.fp),
               fn = static_cast<double>(c.fn);
  if (tp + fp > 0) c.precision = tp / (tp + fp);
  if (tp + fn > 0) c.recall = tp / (tp + fn);
  if (2 * tp + fp + fn > 0) c.f1 = 2 * tp / (2 * tp + fp + fn);
  return c;
}

nlohmann::json RealisedJson(const RealisedCounts& c, double horizon) {
  auto number = [](double v) {
    return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr);
  };
  return {{"method", "failure_events"},
          {"horizon", horizon},
          {"labelled", c.labelled()},
          {"pending", c.pending},
          {"dropped", c.dropped},
          {"failures", c.failures},
          {"failures_confirmed_by_alerts", c.confirmed_by_alerts},
          {"confusion_matrix", {{c.tn, c.fp}, {c.fn, c.tp}}},
          {"precision", number(c.precision)},
          {"recall", number(c.recall)},
          {"f1", number(c.f1)}};
}

}  // namespace pdm::monitor
