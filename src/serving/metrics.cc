#include "serving/metrics.h"

#include <algorithm>
#include <array>
#include <cmath>

#include "prometheus/text_serializer.h"

namespace pdm::serving {
namespace {

using prometheus::BuildCounter;
using prometheus::BuildGauge;
using prometheus::BuildHistogram;

std::string_view MethodLabel(std::string_view method) {
  static constexpr std::array<std::string_view, 7> kKnown = {"GET",     "POST",  "PUT", "DELETE",
                                                             "OPTIONS", "PATCH", "HEAD"};
  for (std::string_view known : kKnown) {
    if (method == known) return known;
  }
  return "OTHER";
}

const prometheus::Histogram::BucketBoundaries& DurationBuckets() {
  static const prometheus::Histogram::BucketBoundaries bounds = {
      0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5};
  return bounds;
}

const prometheus::Histogram::BucketBoundaries& ProbabilityBuckets() {
  static const prometheus::Histogram::BucketBoundaries bounds = {
      0.01, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99};
  return bounds;
}

}  // namespace

ServerMetrics::ServerMetrics()
    : registry_(std::make_shared<prometheus::Registry>()),
      requests_(BuildCounter()
                    .Name("pdm_http_requests_total")
                    .Help("HTTP requests answered, by route pattern, method and status code")
                    .Register(*registry_)),
      durations_(BuildHistogram()
                     .Name("pdm_http_request_duration_seconds")
                     .Help("Time from a request read whole to its response built, by route")
                     .Register(*registry_)),
      predictions_(BuildCounter()
                       .Name("pdm_predictions_total")
                       .Help("Records scored, by model, version and decision")
                       .Register(*registry_)),
      probability_(BuildHistogram()
                       .Name("pdm_prediction_probability")
                       .Help("Failure probabilities returned, by model")
                       .Register(*registry_)),
      validation_errors_(BuildCounter()
                             .Name("pdm_validation_errors_total")
                             .Help("Refused input values and records, by reason")
                             .Register(*registry_)),
      model_info_(BuildGauge()
                      .Name("pdm_model_info")
                      .Help("1 for the model name and version being served")
                      .Register(*registry_)),
      model_state_(BuildGauge()
                       .Name("pdm_model_state")
                       .Help("1 for the model's current state: unloaded, loading (a new version "
                             "while the current one serves) or available")
                       .Register(*registry_)),
      reloads_(BuildCounter()
                   .Name("pdm_model_reloads_total")
                   .Help("Model loads attempted (reload requests and alias moves), by result")
                   .Register(*registry_)),
      online_machines_(BuildGauge()
                           .Name("pdm_online_machines")
                           .Help("Machines with online feature state in this server")
                           .Register(*registry_)
                           .Add({})),
      event_streams_(BuildGauge()
                         .Name("pdm_event_streams")
                         .Help("Live event streams (GET /api/v1/stream, the dashboard) open")
                         .Register(*registry_)
                         .Add({})),
      telemetry_readings_(BuildCounter()
                              .Name("pdm_telemetry_readings_total")
                              .Help("Telemetry readings received, by result (accepted, refused)")
                              .Register(*registry_)),
      telemetry_last_accepted_(BuildGauge()
                                   .Name("pdm_telemetry_last_accepted_timestamp_seconds")
                                   .Help("Wall-clock time (Unix seconds) a telemetry reading was "
                                         "last accepted; 0 before the first")
                                   .Register(*registry_)
                                   .Add({})),
      feature_drift_(
          BuildGauge()
              .Name("pdm_feature_drift")
              .Help("Drift of a feature (or the score, feature=\"score\") in the "
                    "window against the reference profile, by statistic: psi, ks, "
                    "jensen_shannon, wasserstein (in reference standard deviations), "
                    "median_shift (signed: where the window's median lies in the reference, "
                    "minus 0.5)")
              .Register(*registry_)),
      drift_status_(BuildGauge()
                        .Name("pdm_drift_status")
                        .Help("Drift status of a feature after hysteresis: 0 ok, 1 warning, "
                              "2 drift")
                        .Register(*registry_)),
      dataset_drift_(BuildGauge()
                         .Name("pdm_dataset_drift")
                         .Help("1 when the share of features in drift reaches the dataset "
                               "threshold")
                         .Register(*registry_)),
      drift_window_rows_(BuildGauge()
                             .Name("pdm_drift_window_rows")
                             .Help("Production rows in the drift window")
                             .Register(*registry_)),
      refusal_share_(BuildGauge()
                         .Name("pdm_telemetry_refusal_share")
                         .Help("Share of the drift window's readings refused for an input field "
                               "(field=\"all\": refused for any)")
                         .Register(*registry_)),
      estimated_precision_(BuildGauge()
                               .Name("pdm_estimated_precision")
                               .Help("Expected precision of the served alarms over the drift "
                                     "window, from the calibrated probabilities (label-free)")
                               .Register(*registry_)),
      estimated_recall_(BuildGauge()
                            .Name("pdm_estimated_recall")
                            .Help("Expected recall of the served alarms over the drift window "
                                  "(label-free)")
                            .Register(*registry_)),
      estimated_f1_(BuildGauge()
                        .Name("pdm_estimated_f1")
                        .Help("Expected F1 of the served alarms over the drift window "
                              "(label-free)")
                        .Register(*registry_)),
      realised_precision_(BuildGauge()
                              .Name("pdm_realised_precision")
                              .Help("Precision of the served alarms on readings whose label is "
                                    "known (a failure within the horizon, or none)")
                              .Register(*registry_)),
      realised_recall_(BuildGauge()
                           .Name("pdm_realised_recall")
                           .Help("Recall of the served alarms on readings whose label is known")
                           .Register(*registry_)),
      realised_f1_(BuildGauge()
                       .Name("pdm_realised_f1")
                       .Help("F1 of the served alarms on readings whose label is known")
                       .Register(*registry_)),
      realised_labelled_(BuildGauge()
                             .Name("pdm_realised_labelled")
                             .Help("Scored readings whose label is known")
                             .Register(*registry_)),
      alerts_open_(BuildGauge()
                       .Name("pdm_alerts_open")
                       .Help("Active (open or acknowledged) alerts in the store, by severity")
                       .Register(*registry_)),
      alerts_opened_(BuildCounter()
                         .Name("pdm_alerts_opened_total")
                         .Help("Alerts this server opened, by severity")
                         .Register(*registry_)),
      notifications_total_(BuildCounter()
                               .Name("pdm_alert_notifications_total")
                               .Help("Webhook attempts of alert notifications, by result "
                                     "(delivered, retried, dead)")
                               .Register(*registry_)),
      notifications_(BuildGauge()
                         .Name("pdm_alert_notifications")
                         .Help("Notifications in the store's outbox, by state (pending, "
                               "delivered, dead: the dead-letter list)")
                         .Register(*registry_)),
      source_messages_(BuildCounter()
                           .Name("pdm_source_messages_total")
                           .Help("Messages an ingestion source received, by result (received, "
                                 "malformed, dead_lettered, retried)")
                           .Register(*registry_)),
      source_readings_(BuildCounter()
                           .Name("pdm_source_readings_total")
                           .Help("Readings an ingestion source took, by result (accepted, "
                                 "refused, duplicate)")
                           .Register(*registry_)),
      source_losses_(BuildCounter()
                         .Name("pdm_source_connection_losses_total")
                         .Help("Connections an ingestion source lost")
                         .Register(*registry_)),
      source_connected_(BuildGauge()
                            .Name("pdm_source_connected")
                            .Help("1 while an ingestion source is connected (a polled "
                                  "source: every device)")
                            .Register(*registry_)),
      source_poll_failures_(BuildCounter()
                                .Name("pdm_source_poll_failures_total")
                                .Help("Polls of a polled source's devices that read nothing "
                                      "(timeout, refused connection, Modbus exception)")
                                .Register(*registry_)),
      source_device_stale_(BuildGauge()
                               .Name("pdm_source_device_stale")
                               .Help("1 while a polled device has not been read for its "
                                     "source's stale_after intervals")
                               .Register(*registry_)),
      sink_points_(BuildCounter()
                       .Name("pdm_sink_points_total")
                       .Help("Points (reading values, risks, alerts) an export sink took, by "
                             "result (written, dropped)")
                       .Register(*registry_)),
      sink_retries_(BuildCounter()
                        .Name("pdm_sink_retries_total")
                        .Help("Batches an export sink wrote again after a failure")
                        .Register(*registry_)),
      sink_queued_(BuildGauge()
                       .Name("pdm_sink_queued")
                       .Help("Points waiting in an export sink's queue")
                       .Register(*registry_)),
      sink_connected_(BuildGauge()
                          .Name("pdm_sink_connected")
                          .Help("1 while an export sink's last write succeeded")
                          .Register(*registry_)) {
  for (const char* severity : {"warning", "critical"}) {
    alerts_open_.Add({{"severity", severity}});
    alerts_opened_.Add({{"severity", severity}});
  }
  for (const char* result : {"delivered", "retried", "dead"}) {
    notifications_total_.Add({{"result", result}});
  }
  for (const char* state : {"pending", "delivered", "dead"}) notifications_.Add({{"state", state}});
  for (const char* result : {"accepted", "refused"}) telemetry_readings_.Add({{"result", result}});
}

void ServerMetrics::CountTelemetry(size_t accepted, size_t refused) {
  telemetry_readings_.Add({{"result", "accepted"}}).Increment(static_cast<double>(accepted));
  telemetry_readings_.Add({{"result", "refused"}}).Increment(static_cast<double>(refused));
  if (accepted > 0) telemetry_last_accepted_.SetToCurrentTime();
}

void ServerMetrics::CountNotification(std::string_view result) {
  notifications_total_.Add({{"result", std::string(result)}}).Increment();
}

void ServerMetrics::SetNotifications(const std::map<std::string, int64_t>& by_state) {
  for (const char* state : {"pending", "delivered", "dead"}) {
    auto it = by_state.find(state);
    notifications_.Add({{"state", state}})
        .Set(it == by_state.end() ? 0.0 : static_cast<double>(it->second));
  }
}

void ServerMetrics::AdvanceCounter(prometheus::Family<prometheus::Counter>& family,
                                   const char* owner_label, const std::string& owner,
                                   const char* result, const std::string& key, double total) {
  double& last = source_totals_[key];
  std::map<std::string, std::string> labels = {{owner_label, owner}};
  if (result != nullptr) labels["result"] = result;
  prometheus::Counter& counter = family.Add(labels);
  if (total > last) counter.Increment(total - last);
  last = std::max(last, total);
}

void ServerMetrics::SetSources(const nlohmann::json& sources) {
  std::lock_guard lock(sources_mu_);
  for (const nlohmann::json& source : sources) {
    if (!source.is_object() || !source.contains("name")) continue;
    const std::string name = source["name"].get<std::string>();
    auto advance = [&](prometheus::Family<prometheus::Counter>& family, const char* key,
                       const char* result) {
      AdvanceCounter(family, "source", name, result, name + "/" + key, source.value(key, 0.0));
    };
    advance(source_messages_, "messages", "received");
    advance(source_messages_, "messages_malformed", "malformed");
    advance(source_messages_, "dead_lettered", "dead_lettered");
    advance(source_messages_, "retries", "retried");
    advance(source_readings_, "readings_accepted", "accepted");
    advance(source_readings_, "readings_refused", "refused");
    advance(source_readings_, "readings_duplicate", "duplicate");
    advance(source_losses_, "connection_losses", nullptr);
    if (source.contains("polls_failed")) {
      advance(source_poll_failures_, "polls_failed", nullptr);
    }
    if (source.contains("devices") && source["devices"].is_array()) {
      for (const nlohmann::json& device : source["devices"]) {
        source_device_stale_.Add({{"source", name}, {"machine", device.value("machine", "")}})
            .Set(device.value("stale", false) ? 1.0 : 0.0);
      }
    }
    source_connected_.Add({{"source", name}}).Set(source.value("connected", false) ? 1.0 : 0.0);
  }
}

void ServerMetrics::SetSinks(const nlohmann::json& sinks) {
  std::lock_guard lock(sources_mu_);
  for (const nlohmann::json& sink : sinks) {
    if (!sink.is_object() || !sink.contains("name")) continue;
    const std::string name = sink["name"].get<std::string>();
    auto advance = [&](prometheus::Family<prometheus::Counter>& family, const char* key,
                       const char* result) {
      AdvanceCounter(family, "sink", name, result, "sink/" + name + "/" + key,
                     sink.value(key, 0.0));
    };
    advance(sink_points_, "points_written", "written");
    advance(sink_points_, "points_dropped", "dropped");
    advance(sink_retries_, "retries", nullptr);
    sink_queued_.Add({{"sink", name}}).Set(sink.value("queued", 0.0));
    sink_connected_.Add({{"sink", name}}).Set(sink.value("connected", false) ? 1.0 : 0.0);
  }
}

void ServerMetrics::SetOpenAlerts(const std::map<std::string, int64_t>& by_severity) {
  for (const char* severity : {"warning", "critical"}) {
    auto it = by_severity.find(severity);
    alerts_open_.Add({{"severity", severity}})
        .Set(it == by_severity.end() ? 0.0 : static_cast<double>(it->second));
  }
}

void ServerMetrics::CountAlertOpened(const std::string& severity) {
  alerts_opened_.Add({{"severity", severity}}).Increment();
}

void ServerMetrics::ObserveRequest(std::string_view route, std::string_view method, int status,
                                   double seconds) {
  const std::string route_label(route);
  requests_
      .Add({{"route", route_label},
            {"method", std::string(MethodLabel(method))},
            {"code", std::to_string(status)}})
      .Increment();
  durations_.Add({{"route", route_label}}, DurationBuckets()).Observe(seconds);
}

ServerMetrics::PredictionSeries ServerMetrics::Predictions(const std::string& model,
                                                           int64_t version) {
  PredictionSeries series;
  const std::string v = std::to_string(version);
  series.ok_ = &predictions_.Add({{"model", model}, {"version", v}, {"decision", "ok"}});
  series.alarm_ = &predictions_.Add({{"model", model}, {"version", v}, {"decision", "alarm"}});
  series.probability_ = &probability_.Add({{"model", model}}, ProbabilityBuckets());
  return series;
}

void ServerMetrics::PredictionSeries::Observe(bool alarm, double probability) const {
  (alarm ? alarm_ : ok_)->Increment();
  if (std::isfinite(probability)) probability_->Observe(probability);
}

std::string ServerMetrics::ReasonLabel(std::string_view reason) {
  // Reasons carry numbers (ranges, sizes); their label is the fixed kind. Labels of whole-request
  // refusals ("malformed_json", ...) pass through.
  static constexpr std::array<std::pair<std::string_view, std::string_view>, 14> kKinds = {{
      {"missing", "missing"},
      {"unknown field", "unknown_field"},
      {"unknown input", "unknown_field"},
      {"not a number", "not_a_number"},
      {"not finite", "not_finite"},
      {"out of range", "out_of_range"},
      {"expected", "wrong_type"},
      {"given twice", "duplicate_field"},
      {"datatype", "wrong_datatype"},
      {"shape", "wrong_shape"},
      {"data has", "wrong_shape"},
      {"has ", "wrong_shape"},
      {"rows must", "batch_size"},
      {"a \"features\" matrix", "wrong_shape"},
  }};
  for (const auto& [prefix, label] : kKinds) {
    if (reason.starts_with(prefix)) return std::string(label);
  }
  const bool label_like = !reason.empty() && reason.size() <= 32 &&
                          std::all_of(reason.begin(), reason.end(),
                                      [](char c) { return (c >= 'a' && c <= 'z') || c == '_'; });
  return label_like ? std::string(reason) : "other";
}

void ServerMetrics::CountValidationError(std::string_view reason) {
  validation_errors_.Add({{"reason", ReasonLabel(reason)}}).Increment();
}

void ServerMetrics::SetModel(const std::string& name, int64_t version) {
  std::lock_guard lock(model_mu_);
  if (info_ != nullptr) model_info_.Remove(info_);
  info_ = &model_info_.Add({{"name", name}, {"version", std::to_string(version)}});
  info_->Set(1);
}

void ServerMetrics::SetModelState(const std::string& name, ModelState state) {
  static constexpr std::array<std::pair<ModelState, const char*>, 3> kStates = {
      {{ModelState::kUnloaded, "unloaded"},
       {ModelState::kLoading, "loading"},
       {ModelState::kAvailable, "available"}}};
  for (const auto& [s, label] : kStates) {
    model_state_.Add({{"name", name}, {"state", label}}).Set(s == state ? 1 : 0);
  }
}

void ServerMetrics::CountReload(bool ok) {
  reloads_.Add({{"result", ok ? "ok" : "failed"}}).Increment();
}

void ServerMetrics::SetOnlineMachines(int64_t machines) {
  online_machines_.Set(static_cast<double>(machines));
}

void ServerMetrics::SetEventStreams(int64_t streams) {
  event_streams_.Set(static_cast<double>(streams));
}

namespace {

// A single-valued series: set to `value`, or removed when it is NaN (nothing to report).
void SetOrRemove(prometheus::Family<prometheus::Gauge>& family, double value) {
  prometheus::Gauge& g = family.Add({});
  if (std::isnan(value)) {
    family.Remove(&g);
  } else {
    g.Set(value);
  }
}

}  // namespace

void ServerMetrics::SetDrift(const monitor::DriftReport* report) {
  static constexpr std::array<const char*, 5> kStatistics = {"psi", "ks", "jensen_shannon",
                                                             "wasserstein", "median_shift"};
  std::lock_guard lock(drift_mu_);
  std::vector<const monitor::ColumnDrift*> columns;
  if (report != nullptr) {
    for (const monitor::ColumnDrift& c : report->features) columns.push_back(&c);
    columns.push_back(&report->score);
  }
  const bool same = columns.size() == drift_series_.size() &&
                    std::equal(columns.begin(), columns.end(), drift_series_.begin(),
                               [](const monitor::ColumnDrift* c, const DriftSeries& s) {
                                 return c->name == s.feature;
                               });
  if (!same) {
    for (const DriftSeries& s : drift_series_) {
      for (prometheus::Gauge* g : s.statistics) feature_drift_.Remove(g);
      drift_status_.Remove(s.status);
    }
    drift_series_.clear();
    for (const monitor::ColumnDrift* c : columns) {
      DriftSeries s;
      s.feature = c == &report->score ? "score" : c->name;
      for (size_t k = 0; k < kStatistics.size(); ++k) {
        s.statistics[k] =
            &feature_drift_.Add({{"feature", s.feature}, {"statistic", kStatistics[k]}});
      }
      s.status = &drift_status_.Add({{"feature", s.feature}});
      drift_series_.push_back(std::move(s));
    }
  }
  for (size_t i = 0; i < columns.size(); ++i) {
    const monitor::ColumnDrift& c = *columns[i];
    const std::array<double, 5> values = {c.psi, c.ks, c.jensen_shannon, c.wasserstein,
                                          c.median_shift};
    for (size_t k = 0; k < values.size(); ++k) drift_series_[i].statistics[k]->Set(values[k]);
    drift_series_[i].status->Set(static_cast<double>(c.status));
  }
  // The single-valued series exist only while a report does.
  SetOrRemove(dataset_drift_, report ? (report->dataset_drift ? 1.0 : 0.0) : NAN);
  SetOrRemove(drift_window_rows_, report ? static_cast<double>(report->window_rows) : NAN);
  // Refusal shares: a series per field refused in the window, "all" while there is a report.
  std::map<std::string, double> shares;
  if (report != nullptr) {
    const double offered = static_cast<double>(report->window_rows + report->refused_readings);
    shares["all"] = offered > 0 ? static_cast<double>(report->refused_readings) / offered : 0.0;
    for (const monitor::FieldRefusals& f : report->refusals) shares[f.field] = f.share;
  }
  for (auto it = refusal_series_.begin(); it != refusal_series_.end();) {
    if (shares.count(it->first) == 0) {
      refusal_share_.Remove(it->second);
      it = refusal_series_.erase(it);
    } else {
      ++it;
    }
  }
  for (const auto& [field, share] : shares) {
    prometheus::Gauge*& g = refusal_series_[field];
    if (g == nullptr) g = &refusal_share_.Add({{"field", field}});
    g->Set(share);
  }
  const monitor::PerformanceEstimate* p =
      report && report->performance ? &*report->performance : nullptr;
  SetOrRemove(estimated_precision_, p ? p->precision : NAN);
  SetOrRemove(estimated_recall_, p ? p->recall : NAN);
  SetOrRemove(estimated_f1_, p ? p->f1 : NAN);
}

void ServerMetrics::SetRealised(const monitor::RealisedCounts* counts) {
  SetOrRemove(realised_precision_, counts ? counts->precision : NAN);
  SetOrRemove(realised_recall_, counts ? counts->recall : NAN);
  SetOrRemove(realised_f1_, counts ? counts->f1 : NAN);
  SetOrRemove(realised_labelled_, counts ? static_cast<double>(counts->labelled()) : NAN);
}

std::string ServerMetrics::Render() const {
  return prometheus::TextSerializer().Serialize(registry_->Collect());
}

}  // namespace pdm::serving
