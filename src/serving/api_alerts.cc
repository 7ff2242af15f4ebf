// Maintenance alerts of the live telemetry path (alert/alert_policy.h decides, the Store keeps
// them) and their routes: GET /api/v1/alerts, GET /api/v1/alerts/{id},
// POST /api/v1/alerts/{id}/ack and /resolve.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <map>

#include "core/status.h"
#include "core/strings.h"
#include "core/time.h"
#include "notify/webhook_sender.h"
#include "serving/api.h"
#include "serving/json_body.h"

namespace pdm::serving {
namespace {

using json = nlohmann::json;

constexpr size_t kMaxActorLength = 128;
constexpr size_t kMaxNoteLength = 2000;

json AlertJson(const store::AlertRow& a, spec::TimeType time_type) {
  json out = {{"id", a.id},
              {"machine", a.machine},
              {"kind", a.kind},
              {"failure_mode", a.failure_mode},
              {"severity", a.severity},
              {"state", a.state},
              {"message", a.message},
              {"score", a.score ? json(*a.score) : json(nullptr)},
              {"model", a.model},
              {"version", a.version},
              {"opened_at", WallTime(a.opened_us)},
              {"updated_at", WallTime(a.updated_us)}};
  const double data_time = static_cast<double>(a.time_us) / 1e6;
  if (time_type == spec::TimeType::kTimestamp) {
    out["time"] = core::FormatTimestamp(static_cast<int64_t>(std::floor(data_time)));
  } else if (time_type == spec::TimeType::kCycle) {
    out["time"] = data_time;
  }
  if (a.acknowledged_us) {
    out["acknowledged_by"] = a.acknowledged_by;
    out["acknowledged_at"] = WallTime(*a.acknowledged_us);
  }
  if (a.resolved_us) {
    out["resolution"] = a.resolution;
    out["resolved_by"] = a.resolved_by;
    out["resolved_at"] = WallTime(*a.resolved_us);
  }
  if (!a.note.empty()) out["note"] = a.note;
  return out;
}

json HistoryJson(const store::AlertHistoryRow& h) {
  json out = {{"id", h.id},       {"time", WallTime(h.time_us)}, {"event", h.event},
              {"state", h.state}, {"severity", h.severity},      {"actor", h.actor}};
  if (!h.resolution.empty()) out["resolution"] = h.resolution;
  if (!h.note.empty()) out["note"] = h.note;
  return out;
}

// An alert id of the path: a positive integer.
bool ParseId(std::string_view text, int64_t* id) {
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), *id);
  return ec == std::errc() && end == text.data() + text.size() && *id > 0;
}

spec::TimeType TimeTypeOf(const std::shared_ptr<const ServedModel>& served) {
  return served && served->bundle.pipeline ? served->bundle.pipeline->layout().time_type
                                           : spec::TimeType::kNone;
}

}  // namespace

std::shared_ptr<alert::AlertPolicy> Api::AlertsFor(
    const std::shared_ptr<const ServedModel>& served) {
  if (!options_.alerts.enabled || !served) return nullptr;
  std::lock_guard lock(alerts_mu_);
  if (alerts_ && alerts_model_ == served->artifact_hash) return alerts_;
  const model::Ensemble& e = served->bundle.ensemble;
  alert::AlertRules rules = options_.alerts.rules;
  rules.lower_is_riskier = e.task == model::Task::kRul;
  if (options_.alerts.high) {
    rules.high = *options_.alerts.high;
  } else if (rules.lower_is_riskier) {
    rules.high = e.horizon.value_or(0) / 2;  // half the horizon left
  } else {
    rules.high = e.combiner.threshold + (1 - e.combiner.threshold) / 2;  // halfway to certainty
  }
  const bool timed = TimeTypeOf(served) == spec::TimeType::kTimestamp;
  rules.cooldown =
      options_.alerts.cooldown.value_or(timed ? core::Span{core::Span::Kind::kTime, 86400}
                                              : core::Span{core::Span::Kind::kRecords, 50});
  if (!timed && rules.cooldown.is_time()) rules.cooldown = {core::Span::Kind::kRecords, 50};
  auto policy = std::make_shared<alert::AlertPolicy>(rules);
  // The alerts that are active already (another model's, or before a restart) hold their keys.
  store::AlertFilter active;
  active.state = "active";
  active.kind = "failure_risk";
  active.limit = 1'000'000;
  if (auto rows = models_->registry().store().ListAlerts(active); rows.ok()) {
    for (const store::AlertRow& a : *rows) policy->SetActive(a.machine, a.id, a.severity);
  }
  alerts_ = std::move(policy);
  alerts_model_ = served->artifact_hash;
  return alerts_;
}

void Api::RaiseAlerts(const std::shared_ptr<const ServedModel>& served,
                      std::span<const PendingAlert> pending) {
  if (pending.empty()) return;
  const std::shared_ptr<alert::AlertPolicy> policy = AlertsFor(served);
  if (!policy) return;
  store::Store& store = models_->registry().store();
  const std::string failure_mode =
      served->bundle.ensemble.task == model::Task::kRul ? "end_of_life" : "failure";
  for (const PendingAlert& p : pending) {
    absl::Status status;
    if (p.decision.action == alert::Action::kOpen) {
      store::AlertRow row;
      row.machine = p.machine;
      row.time_us = p.time_us;
      row.severity = p.decision.severity;
      row.kind = "failure_risk";
      row.failure_mode = failure_mode;
      row.message = p.decision.reason;
      row.score = p.score;
      row.model = served->name;
      row.version = served->version;
      auto opened = store.OpenAlert(row, options_.alerts.webhooks);
      status = opened.status();
      if (opened.ok()) {
        policy->SetActive(p.machine, opened->alert.id, opened->alert.severity);
        if (opened->opened) metrics_->CountAlertOpened(row.severity);
        if (opened->opened) PublishAlert(opened->alert);
      }
    } else if (p.decision.action == alert::Action::kEscalate) {
      auto escalated = store.TransitionAlert(
          p.decision.alert_id, {"escalated", "pdm", "", p.decision.reason, p.decision.severity},
          options_.alerts.webhooks);
      status = escalated.status();
      if (escalated.ok()) {
        policy->SetActive(p.machine, escalated->id, escalated->severity);
        PublishAlert(*escalated);
      }
      // Resolved meanwhile (by a person, or another replica): nothing to escalate.
      if (absl::IsFailedPrecondition(status)) status = absl::OkStatus();
    }
    if (!status.ok()) metrics_->CountValidationError("store_failed");
  }
  WakeNotifier();
}

void Api::WatchDrift(const std::shared_ptr<const ServedModel>& served,
                     const monitor::DriftReport& report) {
  if (!options_.alerts.enabled || !served || !served->bundle.reference || report.evaluations == 0) {
    return;
  }
  std::lock_guard lock(drift_alert_mu_);
  if (drift_alert_model_ == served->artifact_hash &&
      drift_alert_evaluation_ == report.evaluations) {
    return;
  }
  store::Store& store = models_->registry().store();
  const std::string prefix = served->name + "/";
  if (drift_alert_model_ != served->artifact_hash) {
    // A new model (or the first look): its drift alerts still active, if a previous run of the
    // server, or the model's previous version, left some.
    drift_alert_model_ = served->artifact_hash;
    drift_alerts_.clear();
    auto active = store.ListAlerts({"active", "", "drift", 0, 1000});
    if (!active.ok()) {
      metrics_->CountValidationError("store_failed");
      drift_alert_model_.clear();  // look again at the next evaluation
      return;
    }
    for (const store::AlertRow& a : *active) {
      if (a.machine.empty() && a.failure_mode.starts_with(prefix)) {
        drift_alerts_[a.failure_mode] = {a.id, a.severity};
      }
    }
  }
  drift_alert_evaluation_ = report.evaluations;
  if (report.warming_up) return;
  // The features in drift by input, the furthest beyond their drift threshold first.
  // (The model's features, then the level columns: monitor/level.h.)
  const monitor::ReferenceProfile& profile = *served->bundle.reference;
  std::map<std::string, std::vector<const monitor::ColumnDrift*>> drifted;
  for (size_t j = 0; j < report.features.size() && j < profile.columns(); ++j) {
    const monitor::ColumnDrift& f = report.features[j];
    if (!f.monitored || f.status != monitor::DriftStatus::kDrift) continue;
    const std::string& source = profile.column(j).source;
    drifted[prefix + (source.empty() ? f.name : source)].push_back(&f);
  }
  auto excess = [](const monitor::ColumnDrift* f) {
    double e = f->psi / f->thresholds.drift;
    if (f->fast_psi) e = std::max(e, *f->fast_psi / f->fast_thresholds.drift);
    if (f->median_shift_thresholds && std::isfinite(f->median_shift)) {
      e = std::max(e, std::abs(f->median_shift) / f->median_shift_thresholds->drift);
    }
    if (f->fast_median_shift && f->fast_median_shift_thresholds) {
      e = std::max(e, std::abs(*f->fast_median_shift) / f->fast_median_shift_thresholds->drift);
    }
    return e;
  };
  const std::string severity = report.dataset_drift ? "critical" : "warning";
  bool failed = false;
  for (auto& [mode, features] : drifted) {
    std::stable_sort(features.begin(), features.end(),
                     [&](const auto* a, const auto* b) { return excess(a) > excess(b); });
    std::string message = core::StrCat(mode.substr(prefix.size()), ": ", features.size(),
                                       features.size() == 1 ? " feature" : " features", " in drift",
                                       report.dataset_drift ? " (dataset drift)" : "", ": ");
    for (size_t i = 0; i < features.size() && i < 5; ++i) {
      char psi[32];
      std::snprintf(psi, sizeof(psi), "%.2f",
                    std::max(features[i]->psi, features[i]->fast_psi.value_or(0.0)));
      core::StrAppend(&message, i == 0 ? "" : ", ", features[i]->name, " (PSI ", psi, ")");
    }
    if (features.size() > 5) core::StrAppend(&message, ", ...");
    auto active = drift_alerts_.find(mode);
    if (active == drift_alerts_.end()) {
      store::AlertRow row;
      row.time_us = std::isfinite(report.evaluated_at)
                        ? static_cast<int64_t>(std::llround(report.evaluated_at * 1e6))
                        : 0;
      row.severity = severity;
      row.kind = "drift";
      row.failure_mode = mode;
      row.message = message;
      row.score = report.drifted_share;
      row.model = served->name;
      row.version = served->version;
      auto opened = store.OpenAlert(row, options_.alerts.webhooks);
      if (!opened.ok()) {
        failed = true;
        continue;
      }
      drift_alerts_[mode] = {opened->alert.id, opened->alert.severity};
      if (opened->opened) metrics_->CountAlertOpened(severity);
      if (opened->opened) PublishAlert(opened->alert);
    } else if (severity == "critical" && active->second.severity != "critical") {
      auto escalated =
          store.TransitionAlert(active->second.id, {"escalated", "pdm", "", message, "critical"},
                                options_.alerts.webhooks);
      if (escalated.ok()) {
        active->second.severity = "critical";
        PublishAlert(*escalated);
      } else if (absl::IsFailedPrecondition(escalated.status())) {
        drift_alerts_.erase(active);  // resolved by a person meanwhile
      } else {
        failed = true;
      }
    }
  }
  for (auto it = drift_alerts_.begin(); it != drift_alerts_.end();) {
    if (drifted.contains(it->first)) {
      ++it;
      continue;
    }
    auto resolved = store.TransitionAlert(it->second.id,
                                          {"resolved", "pdm", std::string(store::kDriftEnded),
                                           "none of its features is in drift any more", ""},
                                          options_.alerts.webhooks);
    if (resolved.ok()) PublishAlert(*resolved);
    if (resolved.ok() || absl::IsFailedPrecondition(resolved.status())) {
      it = drift_alerts_.erase(it);
    } else {
      failed = true;
      ++it;
    }
  }
  if (failed) metrics_->CountValidationError("store_failed");
  WakeNotifier();
}

void Api::CloseAlertsOnEvent(const std::shared_ptr<const ServedModel>& served,
                             const std::string& machine, features::EventType type, double time) {
  const std::shared_ptr<alert::AlertPolicy> policy = AlertsFor(served);
  if (!policy) return;
  if (type == features::EventType::kError) return;
  const int64_t active = policy->ActiveAlert(machine);
  if (type == features::EventType::kMaintenance) policy->Maintained(machine, time);
  if (active == 0) return;
  const bool failed = type == features::EventType::kFailure;
  auto resolved = models_->registry().store().TransitionAlert(
      active,
      {"resolved", "pdm", failed ? "failure_confirmed" : "maintenance_done",
       failed ? "a failure event arrived" : "a maintenance event arrived", ""},
      options_.alerts.webhooks);
  if (resolved.ok()) {
    WakeNotifier();
    PublishAlert(*resolved);
  }
  if (resolved.ok() || absl::IsFailedPrecondition(resolved.status())) {
    policy->Resolved(machine);
    if (type == features::EventType::kMaintenance) policy->Maintained(machine, time);
  } else {
    metrics_->CountValidationError("store_failed");
  }
}

HttpResponse Api::Alerts(const HttpRequest& request) {
  store::AlertFilter filter;
  json details = json::array();
  if (auto state = QueryValue(request.query, "state")) {
    if (*state != "open" && *state != "acknowledged" && *state != "resolved" &&
        *state != "active") {
      details.push_back({{"field", "state"},
                         {"reason", "expected open, acknowledged, resolved or active"},
                         {"value", std::string(state->substr(0, 32))}});
    } else {
      filter.state = std::string(*state);
    }
  }
  if (auto machine = QueryValue(request.query, "machine")) {
    filter.machine = std::string(machine->substr(0, 128));
  }
  if (auto kind = QueryValue(request.query, "kind")) filter.kind = std::string(kind->substr(0, 32));
  for (const auto& [name, target, low, high] :
       {std::tuple<std::string_view, int64_t*, int64_t, int64_t>{"before", &filter.before_id, 1,
                                                                 INT64_MAX},
        {"limit", nullptr, 1, 1000}}) {
    auto text = QueryValue(request.query, name);
    if (!text) continue;
    int64_t value = 0;
    const auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), value);
    if (ec != std::errc() || end != text->data() + text->size() || value < low || value > high) {
      details.push_back({{"field", std::string(name)},
                         {"reason", core::StrCat("expected an integer from ", low, " to ", high)},
                         {"value", std::string(text->substr(0, 32))}});
    } else if (target != nullptr) {
      *target = value;
    } else {
      filter.limit = static_cast<int>(value);
    }
  }
  if (!details.empty()) return Error(422, "invalid query", std::move(details));
  auto rows = models_->registry().store().ListAlerts(filter);
  if (!rows.ok()) return Error(503, core::StrCat("the store: ", rows.status().message()));
  const spec::TimeType time_type = TimeTypeOf(models_->current());
  json list = json::array();
  for (const store::AlertRow& a : *rows) list.push_back(AlertJson(a, time_type));
  json out = {{"alerts", std::move(list)}};
  if (static_cast<int>(rows->size()) == filter.limit) out["next_before"] = rows->back().id;
  return Json(200, out);
}

HttpResponse Api::AlertById(std::string_view id_text) {
  int64_t id = 0;
  if (!ParseId(id_text, &id)) {
    return Error(404, core::StrCat("no alert '", id_text.substr(0, 32), "' (ids are integers)"));
  }
  store::Store& store = models_->registry().store();
  auto alert = store.GetAlert(id);
  if (!alert.ok()) return Error(503, core::StrCat("the store: ", alert.status().message()));
  if (!*alert) return Error(404, core::StrCat("no alert ", id));
  auto history = store.AlertHistory(id);
  if (!history.ok()) return Error(503, core::StrCat("the store: ", history.status().message()));
  json out = AlertJson(**alert, TimeTypeOf(models_->current()));
  json entries = json::array();
  for (const store::AlertHistoryRow& h : *history) entries.push_back(HistoryJson(h));
  out["history"] = std::move(entries);
  return Json(200, out);
}

HttpResponse Api::AlertAction(const HttpRequest& request, std::string_view id_text, bool resolve) {
  if (auto refused = RequireToken(request, "alert actions")) return std::move(*refused);
  int64_t id = 0;
  if (!ParseId(id_text, &id)) {
    return Error(404, core::StrCat("no alert '", id_text.substr(0, 32), "' (ids are integers)"));
  }
  json body = json::object();
  if (!request.body.empty()) {
    if (auto refused = ParseJsonBody(request, &body)) {
      return Refuse(refused->status, refused->reason, refused->message);
    }
  }
  json details = json::array();
  if (!body.is_object()) {
    return Refuse(422, "not_an_object",
                  "expected {\"by\": ..., \"resolution\": ..., \"note\": ...}");
  }
  auto text = [&](const char* field, size_t max, bool required) -> std::string {
    auto it = body.find(field);
    if (it == body.end() || it->is_null()) {
      if (required) details.push_back({{"field", field}, {"reason", "missing"}});
      return {};
    }
    if (!it->is_string() || it->get_ref<const std::string&>().size() > max ||
        (required && it->get_ref<const std::string&>().empty())) {
      details.push_back({{"field", field},
                         {"reason", core::StrCat("expected a string of ", required ? 1 : 0, " to ",
                                                 max, " characters")},
                         {"value", Shown(*it)}});
      return {};
    }
    return it->get<std::string>();
  };
  store::AlertTransition t;
  t.event = resolve ? "resolved" : "acknowledged";
  t.actor = text("by", kMaxActorLength, true);
  t.note = text("note", kMaxNoteLength, false);
  if (resolve) {
    t.resolution = text("resolution", 32, true);
    if (!t.resolution.empty() &&
        std::find(std::begin(store::kResolutions), std::end(store::kResolutions), t.resolution) ==
            std::end(store::kResolutions)) {
      details.push_back(
          {{"field", "resolution"},
           {"reason", "expected failure_confirmed, no_fault_found or maintenance_done"},
           {"value", t.resolution}});
    }
  }
  for (const auto& item : body.items()) {
    const std::string& key = item.key();
    if (key != "by" && key != "note" && !(resolve && key == "resolution")) {
      details.push_back(
          {{"field", key}, {"reason", "unknown field"}, {"value", Shown(item.value())}});
    }
  }
  if (!details.empty()) {
    for (const json& d : details) metrics_->CountValidationError(d["reason"].get<std::string>());
    return Error(422, "invalid alert action", std::move(details));
  }
  auto updated = models_->registry().store().TransitionAlert(id, t, options_.alerts.webhooks);
  if (absl::IsNotFound(updated.status()))
    return Error(404, std::string(updated.status().message()));
  if (absl::IsFailedPrecondition(updated.status())) {
    return Error(409, std::string(updated.status().message()));
  }
  if (!updated.ok()) return Error(503, core::StrCat("the store: ", updated.status().message()));
  WakeNotifier();
  PublishAlert(*updated);
  if (updated->kind == "failure_risk") {
    if (const std::shared_ptr<alert::AlertPolicy> policy = AlertsFor(models_->current())) {
      if (resolve) {
        policy->Resolved(updated->machine);
      } else {
        policy->Acknowledged(updated->machine);
      }
    }
    // A confirmed failure is a label: the machine's readings within the horizon before its
    // latest one were positives.
    std::string no_labels;
    const std::shared_ptr<monitor::RealisedPerformance> realised =
        resolve && t.resolution == "failure_confirmed" ? RealisedFor(models_->current(), &no_labels)
                                                       : nullptr;
    if (realised) realised->ConfirmedFailure(updated->machine);
  }
  return AlertById(std::to_string(id));
}

absl::StatusOr<std::string> Api::NotificationBody(const store::NotificationRow& row) {
  store::Store& store = models_->registry().store();
  PDM_ASSIGN_OR_RETURN(std::optional<store::AlertRow> alert, store.GetAlert(row.alert_id));
  if (!alert) return absl::NotFoundError(core::StrCat("alert ", row.alert_id, " is gone"));
  PDM_ASSIGN_OR_RETURN(std::vector<store::AlertHistoryRow> history,
                       store.AlertHistory(row.alert_id));
  auto entry = std::find_if(history.begin(), history.end(), [&](const store::AlertHistoryRow& h) {
    return h.id == row.history_id;
  });
  if (entry == history.end()) {
    return absl::NotFoundError(
        core::StrCat("history entry ", row.history_id, " of alert ", row.alert_id, " is gone"));
  }
  const json alert_json = AlertJson(*alert, TimeTypeOf(models_->current()));
  // "text" first: chat webhooks (Slack, Mattermost, Rocket.Chat) show it as the message.
  std::string text = core::StrCat("[", entry->severity, "] ", alert->machine, ": ", alert->kind,
                                  " alert ", alert->id, " ", entry->event);
  if (alert->score) {
    char score[32];
    std::snprintf(score, sizeof(score), " (score %.3g)", *alert->score);
    text += score;
  }
  if (!entry->resolution.empty()) text += core::StrCat(": ", entry->resolution);
  if (!alert->message.empty() && entry->event == "opened") text += " - " + alert->message;
  const json out = {{"text", text},
                    {"idempotency_key", row.idempotency_key},
                    {"event", row.event},
                    {"alert", alert_json},
                    {"entry", HistoryJson(*entry)}};
  return out.dump(-1, ' ', false, json::error_handler_t::replace);
}

namespace {

json NotificationJson(const store::NotificationRow& n) {
  json out = {{"id", n.id},
              {"alert_id", n.alert_id},
              {"event", n.event},
              {"target", notify::RedactedTarget(n.target)},
              {"idempotency_key", n.idempotency_key},
              {"state", n.state},
              {"attempts", n.attempts},
              {"created_at", WallTime(n.created_us)},
              {"updated_at", WallTime(n.updated_us)}};
  if (n.state == "pending") out["next_attempt_at"] = WallTime(n.next_attempt_us);
  if (!n.last_error.empty()) out["last_error"] = n.last_error;
  return out;
}

}  // namespace

HttpResponse Api::Notifications(const HttpRequest& request) {
  std::string state;
  json details = json::array();
  if (auto given = QueryValue(request.query, "state")) {
    if (*given != "pending" && *given != "delivered" && *given != "dead") {
      details.push_back({{"field", "state"},
                         {"reason", "expected pending, delivered or dead"},
                         {"value", std::string(given->substr(0, 32))}});
    } else {
      state = std::string(*given);
    }
  }
  int64_t limit = 100;
  if (auto text = QueryValue(request.query, "limit")) {
    const auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), limit);
    if (ec != std::errc() || end != text->data() + text->size() || limit < 1 || limit > 1000) {
      details.push_back({{"field", "limit"},
                         {"reason", "expected an integer from 1 to 1000"},
                         {"value", std::string(text->substr(0, 32))}});
    }
  }
  if (!details.empty()) return Error(422, "invalid query", std::move(details));
  store::Store& store = models_->registry().store();
  auto rows = store.ListNotifications(state, static_cast<int>(limit));
  if (!rows.ok()) return Error(503, core::StrCat("the store: ", rows.status().message()));
  auto counts = store.CountNotifications();
  if (!counts.ok()) return Error(503, core::StrCat("the store: ", counts.status().message()));
  json list = json::array();
  for (const store::NotificationRow& n : *rows) list.push_back(NotificationJson(n));
  return Json(200, {{"notifications", std::move(list)},
                    {"counts", *counts},
                    {"webhooks", options_.alerts.webhooks.size()}});
}

HttpResponse Api::RetryNotification(const HttpRequest& request, std::string_view id_text) {
  if (auto refused = RequireToken(request, "notification retries")) return std::move(*refused);
  int64_t id = 0;
  if (!ParseId(id_text, &id)) {
    return Error(404,
                 core::StrCat("no notification '", id_text.substr(0, 32), "' (ids are integers)"));
  }
  const absl::Status retried = models_->registry().store().RetryNotification(id);
  if (absl::IsNotFound(retried)) {
    return Error(404, core::StrCat("no dead notification ", id, " (only dead ones are retried)"));
  }
  if (!retried.ok()) return Error(503, core::StrCat("the store: ", retried.message()));
  if (options_.alerts.wake_notifier) options_.alerts.wake_notifier();
  return Json(202, {{"id", id}, {"state", "pending"}});
}

}  // namespace pdm::serving
