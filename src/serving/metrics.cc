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
                           .Add({})) {}

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

std::string ServerMetrics::Render() const {
  return prometheus::TextSerializer().Serialize(registry_->Collect());
}

}  // namespace pdm::serving
