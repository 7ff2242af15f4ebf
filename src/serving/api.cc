#include "serving/api.h"

#include <openssl/crypto.h>

#include <algorithm>
#include <array>
#include <cfloat>
#include <chrono>
#include <cmath>
#include <optional>
#include <random>

#include "core/build_info.h"
#include "core/log.h"
#include "core/strings.h"
#include "fmt/format.h"
#include "nlohmann/json.hpp"
#include "serving/fast_reader.h"
#include "serving/json_body.h"

namespace pdm::serving {
namespace {

using json = nlohmann::json;

// Checks one feature value; on success stores it in `*cell`, else adds the reason to `details`.
void CheckValue(const std::string& name, const json& value, const ServedModel& model, float* cell,
                json* details) {
  if (value.is_null()) {  // an explicit null: a missing value, which the trees route
    *cell = std::nanf("");
    return;
  }
  if (!value.is_number()) {
    details->push_back({{"field", name}, {"reason", "not a number"}, {"value", Shown(value)}});
    return;
  }
  const double v = value.get<double>();
  if (!std::isfinite(v)) {
    details->push_back({{"field", name}, {"reason", "not finite"}, {"value", Shown(value)}});
  } else if (std::fabs(v) > FLT_MAX) {
    details->push_back(
        {{"field", name}, {"reason", "out of range (beyond float32)"}, {"value", Shown(value)}});
  } else if (auto range = model.ranges.find(name);
             range != model.ranges.end() && (v < range->second.first || v > range->second.second)) {
    details->push_back({{"field", name},
                        {"reason", core::StrCat("out of range [", range->second.first, ", ",
                                                range->second.second, "]")},
                        {"value", Shown(value)}});
  } else {
    *cell = static_cast<float>(v);
  }
}

// The feature row of one record, or the reasons it has none.
bool ReadRecord(const json& record, const ServedModel& model, bool allow_unknown, float* row,
                json* details) {
  if (!record.is_object()) {
    details->push_back({{"field", ""},
                        {"reason", "expected an object of feature: number"},
                        {"value", Shown(record)}});
    return false;
  }
  const json* features = &record;
  if (auto it = record.find("features"); it != record.end() && it->is_object()) {
    features = &*it;
  }
  const auto& names = model.bundle.ensemble.feature_names;
  for (size_t i = 0; i < names.size(); ++i) {
    auto it = features->find(names[i]);
    if (it == features->end()) {
      details->push_back({{"field", names[i]}, {"reason", "missing"}});
      continue;
    }
    CheckValue(names[i], *it, model, &row[i], details);
  }
  if (!allow_unknown) {
    for (const auto& [key, value] : features->items()) {
      if (!model.feature_index.contains(key)) {
        details->push_back({{"field", key}, {"reason", "unknown field"}, {"value", Shown(value)}});
      }
    }
  }
  return details->empty();
}

json ResultJson(const ServedModel& model, const model::Prediction& p) {
  const model::Ensemble& e = model.bundle.ensemble;
  if (e.task != model::Task::kRul) {
    json out = {{"probability", p.probability},
                {"alarm", p.alarm},
                {"decision", p.alarm ? "alarm" : "ok"},
                {"threshold", e.combiner.threshold}};
    if (e.task == model::Task::kMode && p.mode_probability.size() == e.classes.size()) {
      // Which failure: the most probable class, and every class's probability.
      out["mode"] = e.classes[static_cast<size_t>(p.mode)];
      json modes = json::object();
      for (size_t c = 0; c < e.classes.size(); ++c) modes[e.classes[c]] = p.mode_probability[c];
      out["mode_probabilities"] = modes;
    }
    return out;
  }
  json out = {{"rul", p.margin}, {"alarm", p.alarm}, {"decision", p.alarm ? "alarm" : "ok"}};
  if (e.horizon) out["horizon"] = *e.horizon;
  return out;
}

bool TokenMatches(const std::string& authorization, const std::string& token) {
  constexpr std::string_view kBearer = "Bearer ";
  if (token.empty() || !authorization.starts_with(kBearer)) return false;
  const std::string_view given = std::string_view(authorization).substr(kBearer.size());
  // Constant time in the token's content (the length is not secret).
  return given.size() == token.size() &&
         CRYPTO_memcmp(given.data(), token.data(), token.size()) == 0;
}

// The route table. Api::Route dispatches on the index, so keep both in the same order.
enum RouteId : size_t {
  kLivez,
  kReadyz,
  kMetrics,
  kOpenApi,
  kPredict,
  kPredictBatch,
  kModels,
  kReload,
  kOipServer,
  kOipLive,
  kOipReady,
  kOipModel,
  kOipModelReady,
  kOipVersion,
  kOipVersionReady,
  kOipInfer,
  kOipVersionInfer,
  kTelemetry,
  kMachines,
  kMachine,
  kDrift,
  kPerformance,
  kAlerts,
  kAlert,
  kAlertAck,
  kAlertResolve,
  kNotifications,
  kNotificationRetry,
  kDashboard,
  kStream,
  kModelVersions,
  kMoveAlias,
  kVersionReport,
  kRoi,
  kSources,
  kRouteCount,
};

constexpr std::array<RouteSpec, kRouteCount> kRoutes = {{
    {"GET", "/livez"},
    {"GET", "/readyz"},
    {"GET", "/metrics"},
    {"GET", "/openapi.json"},
    {"POST", "/api/v1/predict"},
    {"POST", "/api/v1/predict/batch"},
    {"GET", "/api/v1/models"},
    {"POST", "/api/v1/models/{name}/reload"},
    {"GET", "/v2"},
    {"GET", "/v2/health/live"},
    {"GET", "/v2/health/ready"},
    {"GET", "/v2/models/{name}"},
    {"GET", "/v2/models/{name}/ready"},
    {"GET", "/v2/models/{name}/versions/{version}"},
    {"GET", "/v2/models/{name}/versions/{version}/ready"},
    {"POST", "/v2/models/{name}/infer"},
    {"POST", "/v2/models/{name}/versions/{version}/infer"},
    {"POST", "/api/v1/telemetry"},
    {"GET", "/api/v1/machines"},
    {"GET", "/api/v1/machines/{id}"},
    {"GET", "/api/v1/drift"},
    {"GET", "/api/v1/performance"},
    {"GET", "/api/v1/alerts"},
    {"GET", "/api/v1/alerts/{id}"},
    {"POST", "/api/v1/alerts/{id}/ack"},
    {"POST", "/api/v1/alerts/{id}/resolve"},
    {"GET", "/api/v1/notifications"},
    {"POST", "/api/v1/notifications/{id}/retry"},
    {"GET", "/"},
    {"GET", "/api/v1/stream"},
    {"GET", "/api/v1/models/{name}/versions"},
    {"POST", "/api/v1/models/{name}/aliases/{alias}"},
    {"GET", "/api/v1/models/{name}/versions/{version}/report"},
    {"GET", "/api/v1/roi"},
    {"GET", "/api/v1/sources"},
}};

// Whether `path` matches `pattern`; the {param} segments' values go to `params`.
bool Matches(std::string_view pattern, std::string_view path,
             std::vector<std::string_view>* params) {
  params->clear();
  while (!pattern.empty() && !path.empty()) {
    if (pattern[0] != '/' || path[0] != '/') return false;
    pattern.remove_prefix(1);
    path.remove_prefix(1);
    const std::string_view want = pattern.substr(0, pattern.find('/'));
    const std::string_view got = path.substr(0, path.find('/'));
    if (want.starts_with('{')) {
      if (got.empty()) return false;
      params->push_back(got);
    } else if (want != got) {
      return false;
    }
    pattern.remove_prefix(want.size());
    path.remove_prefix(got.size());
  }
  return pattern.empty() && path.empty();
}

// Flattens nested arrays of an OIP tensor's data into `out`; false when an element is not an
// array or a scalar.
void Flatten(const json& data, std::vector<const json*>* out) {
  if (data.is_array()) {
    for (const json& element : data) Flatten(element, out);
  } else {
    out->push_back(&data);
  }
}

// The headers every answer carries: pages load only this server's scripts, styles and data, and
// cannot be framed; no answer is sniffed into another type or leaks its URL as a referrer.
void AddSecurityHeaders(HttpResponse* response) {
  auto has = [&](std::string_view name) {
    return std::any_of(response->headers.begin(), response->headers.end(),
                       [&](const auto& h) { return h.first == name; });
  };
  if (!has("Content-Security-Policy")) {
    response->headers.emplace_back("Content-Security-Policy", kContentSecurityPolicy);
  }
  response->headers.emplace_back("X-Content-Type-Options", "nosniff");
  response->headers.emplace_back("X-Frame-Options", "DENY");
  response->headers.emplace_back("Referrer-Policy", "no-referrer");
  response->headers.emplace_back("Cross-Origin-Opener-Policy", "same-origin");
  response->headers.emplace_back("Cross-Origin-Resource-Policy", "same-origin");
  response->headers.emplace_back("Permissions-Policy", "camera=(), microphone=(), geolocation=()");
}

}  // namespace

std::span<const RouteSpec> Api::Routes() { return kRoutes; }

namespace {

// A client's X-Request-Id is kept when it is 1 to 128 characters of [A-Za-z0-9._:-] (it goes
// into log lines and a response header); otherwise the server makes one: a per-process random
// prefix and a counter, 16 hex digits.
bool RequestIdAcceptable(std::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == ':' || c == '-';
  });
}

std::string MakeRequestId() {
  static const uint32_t prefix = std::random_device{}();
  static std::atomic<uint32_t> counter{0};
  return fmt::format("{:08x}{:08x}", prefix, counter.fetch_add(1, std::memory_order_relaxed));
}

bool IsProbeOrScrape(std::string_view route) {
  return route == "/livez" || route == "/readyz" || route == "/metrics" ||
         route.starts_with("/v2/health");
}

}  // namespace

HttpResponse Api::Handle(const HttpRequest& request) {
  const auto start = std::chrono::steady_clock::now();
  std::string_view route = "unmatched";
  HttpResponse response = Dispatch(request, &route);
  AddSecurityHeaders(&response);
  if (!request.origin.empty() && request.method != "OPTIONS" && OriginAllowed(request.origin)) {
    response.headers.emplace_back("Access-Control-Allow-Origin", request.origin);
    response.headers.emplace_back("Vary", "Origin");
  }
  const std::string request_id =
      RequestIdAcceptable(request.request_id) ? request.request_id : MakeRequestId();
  response.headers.emplace_back("X-Request-Id", request_id);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  metrics_->ObserveRequest(route, request.method, response.status, seconds);
  if (options_.access_log && (response.status >= 400 || !IsProbeOrScrape(route))) {
    const std::shared_ptr<const ServedModel> served = models_->current();
    const std::string_view path = std::string_view(request.path).substr(0, 256);
    core::Log(response.status >= 500 ? core::LogLevel::kError : core::LogLevel::kInfo, "request",
              {{"request_id", request_id},
               {"method", std::string_view(request.method).substr(0, 16)},
               {"route", route},
               {"path", path},
               {"status", int64_t{response.status}},
               {"latency_ms", seconds * 1e3},
               {"bytes", static_cast<int64_t>(response.body.size())},
               {"model", served ? std::string_view(served->name) : std::string_view()},
               {"version", served ? int64_t{served->version} : int64_t{0}},
               {"peer", request.peer}});
  }
  return response;
}

HttpResponse Api::Dispatch(const HttpRequest& request, std::string_view* route) {
  if (request.path.starts_with("/ui/")) {
    *route = "/ui/*";
    if (request.method == "GET") return Asset(request.path);
    HttpResponse r = Error(405, core::StrCat(request.method.substr(0, 16), " ",
                                             request.path.substr(0, 256), ": method not allowed"));
    r.headers.emplace_back("Allow", "GET");
    return r;
  }
  std::vector<std::string_view> params;
  std::string allowed;  // methods of the routes whose pattern matches
  for (size_t i = 0; i < kRoutes.size(); ++i) {
    if (!Matches(kRoutes[i].pattern, request.path, &params)) continue;
    *route = kRoutes[i].pattern;
    if (kRoutes[i].method == request.method) return Route(i, request, params);
    if (!allowed.empty()) allowed += ", ";
    allowed += kRoutes[i].method;
  }
  if (allowed.empty()) return Error(404, core::StrCat("no route ", request.path.substr(0, 256)));
  allowed += ", OPTIONS";
  if (request.method == "OPTIONS") return Options(request, allowed);
  HttpResponse r = Error(405, core::StrCat(request.method.substr(0, 16), " ",
                                           request.path.substr(0, 256), ": method not allowed"));
  r.headers.emplace_back("Allow", allowed);
  return r;
}

HttpResponse Api::Route(size_t route, const HttpRequest& request,
                        const std::vector<std::string_view>& params) {
  switch (static_cast<RouteId>(route)) {
    case kLivez:
    case kOipLive:
      return Json(200, {{"live", true}});
    case kReadyz:
    case kOipReady:
      return Ready();
    case kMetrics:
      return Metrics();
    case kOpenApi:
      return HttpResponse{200, "application/json", std::string(OpenApiDocument()), {}, nullptr};
    case kPredict:
      return Predict(request, false);
    case kPredictBatch:
      return Predict(request, true);
    case kModels:
      return Models();
    case kReload:
      return Reload(request, params[0]);
    case kOipServer:
      return Json(200, {{"name", "pdm"},
                        {"version", std::string(core::PdmVersion())},
                        {"extensions", json::array()}});
    case kOipModel:
      return ModelMetadata(params[0], "", false);
    case kOipModelReady:
      return ModelMetadata(params[0], "", true);
    case kOipVersion:
      return ModelMetadata(params[0], params[1], false);
    case kOipVersionReady:
      return ModelMetadata(params[0], params[1], true);
    case kOipInfer:
      return Infer(request, params[0], "");
    case kOipVersionInfer:
      return Infer(request, params[0], params[1]);
    case kTelemetry:
      return Telemetry(request);
    case kMachines:
      return Machines(request);
    case kMachine:
      return Machine(params[0]);
    case kDrift:
      return Drift(request);
    case kPerformance:
      return Performance();
    case kAlerts:
      return Alerts(request);
    case kAlert:
      return AlertById(params[0]);
    case kAlertAck:
      return AlertAction(request, params[0], false);
    case kAlertResolve:
      return AlertAction(request, params[0], true);
    case kNotifications:
      return Notifications(request);
    case kNotificationRetry:
      return RetryNotification(request, params[0]);
    case kDashboard:
      return Asset("/ui/index.html");
    case kStream:
      return Stream(request);
    case kModelVersions:
      return ModelVersions(params[0]);
    case kMoveAlias:
      return MoveAlias(request, params[0], params[1]);
    case kVersionReport:
      return VersionReport(params[0], params[1]);
    case kRoi:
      return Roi();
    case kSources:
      return Sources();
    case kRouteCount:
      break;
  }
  return Error(404, "no route");
}

std::shared_ptr<monitor::DriftMonitor> Api::DriftFor(
    const std::shared_ptr<const ServedModel>& served, std::string* why) {
  if (!options_.drift.enabled) {
    *why = "drift monitoring is off (--drift-window off)";
    return nullptr;
  }
  if (!served) {
    *why = "no model loaded";
    return nullptr;
  }
  if (!served->bundle.reference) {
    *why = core::StrCat(
        served->name, " v", served->version,
        " has no reference profile this pdm reads (retrain it): ", served->bundle.reference_error);
    return nullptr;
  }
  std::lock_guard lock(drift_mu_);
  if (drift_ && drift_model_ == served->artifact_hash) return drift_;
  // A new model: a new window against its own reference.
  const bool timed = served->bundle.pipeline &&
                     served->bundle.pipeline->layout().time_type == spec::TimeType::kTimestamp;
  monitor::DriftOptions o = options_.drift.thresholds;
  o.window = options_.drift.window.value_or(monitor::DefaultDriftWindow(timed));
  o.every = options_.drift.every.value_or(timed ? core::Span{core::Span::Kind::kTime, 60}
                                                : core::Span{core::Span::Kind::kRecords, 1000});
  if (!timed) {
    // Untimed rows cannot fill a time window: such a model is watched over rows.
    if (o.window.is_time()) o.window = monitor::DefaultDriftWindow(false);
    if (o.every.is_time()) o.every = {core::Span::Kind::kRecords, 1000};
  }
  o.probability_threshold.reset();
  if (served->bundle.ensemble.task != model::Task::kRul) {
    o.probability_threshold = served->bundle.ensemble.combiner.threshold;
  }
  drift_ = std::make_shared<monitor::DriftMonitor>(*served->bundle.reference, o);
  drift_model_ = served->artifact_hash;
  return drift_;
}

std::shared_ptr<monitor::RealisedPerformance> Api::RealisedFor(
    const std::shared_ptr<const ServedModel>& served, std::string* why) {
  if (!served) {
    *why = "no model loaded";
    return nullptr;
  }
  const model::Task task = served->bundle.ensemble.task;
  const json& horizon = served->bundle.manifest.contains("label_horizon")
                            ? served->bundle.manifest["label_horizon"]
                            : json(nullptr);
  if (task == model::Task::kRul) {
    *why = "a remaining-useful-life model: realised performance is for alarm decisions";
    return nullptr;
  }
  if (!served->bundle.pipeline ||
      served->bundle.pipeline->layout().time_type != spec::TimeType::kTimestamp ||
      !horizon.is_number() || !(horizon.get<double>() > 0)) {
    *why = core::StrCat(served->name, " v", served->version,
                        " has no failure horizon in data time (labels.horizon of timestamped "
                        "data, stored by pdm train from this version on): readings cannot be "
                        "labelled by failure events");
    return nullptr;
  }
  std::lock_guard lock(realised_mu_);
  if (realised_ && realised_model_ == served->artifact_hash) return realised_;
  realised_ = std::make_shared<monitor::RealisedPerformance>(horizon.get<double>());
  realised_model_ = served->artifact_hash;
  return realised_;
}

HttpResponse Api::Metrics() {
  metrics_->SetEventStreams(events_->subscribers.load());
  std::string why;
  {
    const std::shared_ptr<monitor::RealisedPerformance> realised =
        RealisedFor(models_->current(), &why);
    const monitor::RealisedCounts counts =
        realised ? realised->Counts() : monitor::RealisedCounts{};
    metrics_->SetRealised(realised ? &counts : nullptr);
  }
  const std::shared_ptr<monitor::DriftMonitor> drift = DriftFor(models_->current(), &why);
  const std::shared_ptr<const monitor::DriftReport> report = drift ? drift->Latest() : nullptr;
  metrics_->SetDrift(report && report->evaluations > 0 ? report.get() : nullptr);
  if (auto active = models_->registry().store().CountActiveAlerts(); active.ok()) {
    metrics_->SetOpenAlerts(*active);
  }
  if (auto notifications = models_->registry().store().CountNotifications(); notifications.ok()) {
    metrics_->SetNotifications(*notifications);
  }
  if (options_.sources) metrics_->SetSources(options_.sources());
  if (options_.sinks) metrics_->SetSinks(options_.sinks());
  return HttpResponse{
      200, "text/plain; version=0.0.4; charset=utf-8", metrics_->Render(), {}, nullptr};
}

HttpResponse Api::Drift(const HttpRequest& request) {
  const std::shared_ptr<const ServedModel> served = models_->current();
  std::string why;
  const std::shared_ptr<monitor::DriftMonitor> drift = DriftFor(served, &why);
  if (!drift) return Error(served ? 409 : 503, why);
  const bool histograms = !QueryValue(request.query, "histograms").has_value() ||
                          QueryFlag(request.query, "histograms");
  json out =
      monitor::DriftReportJson(*drift->Latest(), drift->profile(), drift->options(), histograms);
  out["model"] = served->name;
  out["version"] = served->version;
  if (out.contains("evaluated_at") &&
      served->bundle.pipeline->layout().time_type == spec::TimeType::kTimestamp) {
    out["evaluated_at"] =
        core::FormatTimestamp(static_cast<int64_t>(out["evaluated_at"].get<double>()));
  }
  return Json(200, out);
}

HttpResponse Api::Performance() {
  const std::shared_ptr<const ServedModel> served = models_->current();
  std::string why;
  const std::shared_ptr<monitor::DriftMonitor> drift = DriftFor(served, &why);
  if (!drift) return Error(served ? 409 : 503, why);
  const std::shared_ptr<const monitor::DriftReport> report = drift->Latest();
  auto number = [](double v) { return std::isfinite(v) ? json(v) : json(nullptr); };
  json out = {{"model", served->name},
              {"version", served->version},
              {"evaluations", report->evaluations},
              {"window_rows", report->window_rows}};
  if (!report->performance) {
    out["estimated"] = nullptr;
    out["reason"] = "a remaining-useful-life model has no decision threshold to estimate at";
  } else {
    const monitor::PerformanceEstimate& p = *report->performance;
    out["threshold"] = *drift->options().probability_threshold;
    out["estimated"] = {{"method", "cbpe"},
                        {"rows", p.rows},
                        {"alarm_rate", number(p.alarm_rate)},
                        {"expected_failure_rate", number(p.expected_positive_rate)},
                        {"precision", number(p.precision)},
                        {"recall", number(p.recall)},
                        {"f1", number(p.f1)}};
  }
  std::string no_labels;
  if (const auto realised = RealisedFor(served, &no_labels)) {
    out["realised"] = monitor::RealisedJson(realised->Counts(), realised->horizon());
  } else {
    out["realised"] = nullptr;
    out["realised_reason"] = no_labels;
  }
  return Json(200, out);
}

HttpResponse Api::Ready() {
  const bool loaded = models_->current() != nullptr;
  const bool store = models_->registry().store().SchemaVersion().ok();
  const bool draining = draining_.load();
  const bool ready = loaded && store && !draining;
  return Json(ready ? 200 : 503, {{"ready", ready},
                                  {"model_loaded", loaded},
                                  {"store_reachable", store},
                                  {"draining", draining}});
}

bool Api::OriginAllowed(std::string_view origin) const {
  for (const std::string& allowed : options_.cors.origins) {
    if (allowed == "*" || allowed == origin) return true;
  }
  return false;
}

HttpResponse Api::Options(const HttpRequest& request, const std::string& allowed) {
  if (request.origin.empty() || request.access_control_request_method.empty()) {
    HttpResponse r{204, "application/json", "", {{"Allow", allowed}}, nullptr};
    return r;
  }
  // A CORS preflight.
  if (!OriginAllowed(request.origin)) {
    return Error(403,
                 core::StrCat("origin '", request.origin.substr(0, 256),
                              "' is not allowed (configure cors.origins or PDM_CORS_ORIGINS)"));
  }
  return HttpResponse{204,
                      "application/json",
                      "",
                      {{"Access-Control-Allow-Origin", request.origin},
                       {"Access-Control-Allow-Methods", options_.cors.methods},
                       {"Access-Control-Allow-Headers", options_.cors.headers},
                       {"Access-Control-Max-Age", std::to_string(options_.cors.max_age_seconds)},
                       {"Vary", "Origin"},
                       {"Allow", allowed}},
                      nullptr};
}

HttpResponse Api::Refuse(int status, std::string_view reason, const std::string& message) {
  metrics_->CountValidationError(reason);
  return Error(status, message);
}

HttpResponse Api::Predict(const HttpRequest& request, bool batch) {
  if (auto refused = CheckJsonContentType(request)) {
    return Refuse(refused->status, refused->reason, refused->message);
  }
  const std::shared_ptr<const ServedModel> served = models_->current();
  const size_t width = served ? served->bundle.ensemble.feature_names.size() : 0;
  model::DenseMatrix x;
  x.cols = width;
  size_t record_count = 0;
  std::vector<json> errors;
  std::vector<size_t> valid;
  // Valid records only: read straight into the rows (fast_reader.h).
  thread_local std::vector<float> fast_rows;
  if (served && ReadPredictFast(request.body, batch, *served, options_.allow_unknown_fields,
                                options_.max_batch, &fast_rows, &record_count)) {
    x.values.assign(fast_rows.begin(), fast_rows.begin() + record_count * width);
    valid.resize(record_count);
    for (size_t i = 0; i < record_count; ++i) valid[i] = i;
    errors.resize(record_count);
    if (fast_rows.size() > (size_t{1} << 20)) fast_rows = {};  // a large batch's: not kept
    ReleaseFastReaderMemory(size_t{4} << 20);
    return Score(request, batch, served, std::move(x), valid, errors, record_count);
  }
  json body;
  if (auto refused = ParseJsonText(request.body, &body)) {
    return Refuse(refused->status, refused->reason, refused->message);
  }
  if (!served) return Error(503, "no model loaded");

  std::vector<const json*> records;
  if (batch) {
    const json* list = &body;
    if (body.is_object() && body.contains("instances")) list = &body["instances"];
    if (!list->is_array()) {
      return Refuse(422, "not_a_batch",
                    "expected a JSON array of records, or {\"instances\": [...]}");
    }
    if (list->empty()) return Refuse(422, "empty_batch", "the batch is empty");
    if (list->size() > options_.max_batch) {
      return Refuse(
          413, "batch_too_large",
          core::StrCat("batch of ", list->size(), " records; at most ", options_.max_batch));
    }
    for (const json& r : *list) records.push_back(&r);
  } else {
    records.push_back(&body);
  }

  record_count = records.size();
  errors.resize(record_count);
  std::vector<float> row(width);
  for (size_t i = 0; i < records.size(); ++i) {
    json details = json::array();
    std::fill(row.begin(), row.end(), 0.0f);
    if (ReadRecord(*records[i], *served, options_.allow_unknown_fields, row.data(), &details)) {
      x.values.insert(x.values.end(), row.begin(), row.end());
      valid.push_back(i);
    } else {
      for (const json& d : details) metrics_->CountValidationError(d["reason"].get<std::string>());
      errors[i] = std::move(details);
    }
  }
  return Score(request, batch, served, std::move(x), valid, errors, record_count);
}

HttpResponse Api::Score(const HttpRequest& request, bool batch,
                        const std::shared_ptr<const ServedModel>& served, model::DenseMatrix x,
                        const std::vector<size_t>& valid, const std::vector<json>& errors,
                        size_t record_count) {
  const model::Ensemble& ensemble = served->bundle.ensemble;
  const size_t width = ensemble.feature_names.size();
  x.rows = valid.size();
  if (!batch && valid.empty()) return Error(422, "invalid record", errors[0]);

  std::vector<model::Prediction> predictions;
  if (x.rows > 0) {
    auto scored = ensemble.Predict(x, 1);
    if (!scored.ok()) return Error(500, "scoring failed");
    predictions = std::move(*scored);
  }
  const bool classify = ensemble.task != model::Task::kRul;
  const ServerMetrics::PredictionSeries series =
      metrics_->Predictions(served->name, served->version);
  for (const model::Prediction& p : predictions) {
    series.Observe(p.alarm, classify ? p.probability : std::nan(""));
  }
  json head = {{"model", served->name}, {"version", served->version}};
  if (!batch) {
    json out = ResultJson(*served, predictions[0]);
    out.update(head);
    if (QueryFlag(request.query, "explain")) {
      auto explained = ensemble.Explain(x, 1);
      if (explained.ok()) {
        std::vector<size_t> order(width);
        for (size_t j = 0; j < width; ++j) order[j] = j;
        const auto& c = explained->contributions;
        std::sort(order.begin(), order.end(),
                  [&](size_t a, size_t b) { return std::fabs(c[a]) > std::fabs(c[b]); });
        json top = json::array();
        for (size_t k = 0; k < std::min<size_t>(5, width); ++k) {
          top.push_back(
              {{"feature", ensemble.feature_names[order[k]]}, {"contribution", c[order[k]]}});
        }
        out["explanation"] = {{"top", top}, {"bias", c[width]}};
      }
    }
    return Json(200, out);
  }
  json results = json::array();
  size_t next = 0;
  for (size_t i = 0; i < record_count; ++i) {
    if (next < valid.size() && valid[next] == i) {
      json r = ResultJson(*served, predictions[next++]);
      r["index"] = i;
      results.push_back(std::move(r));
    } else {
      results.push_back({{"index", i}, {"error", "invalid record"}, {"details", errors[i]}});
    }
  }
  head["results"] = std::move(results);
  head["scored"] = valid.size();
  head["refused"] = record_count - valid.size();
  return Json(200, head);
}

HttpResponse Api::Models() {
  json list = json::array();
  if (auto served = models_->current()) {
    const model::Ensemble& e = served->bundle.ensemble;
    json members = json::array();
    for (const auto& m : e.members) members.push_back(model::LearnerName(m.kind));
    list.push_back({{"name", served->name},
                    {"version", served->version},
                    {"alias", served->alias},
                    {"artifact_hash", served->artifact_hash},
                    {"task", model::TaskName(e.task)},
                    {"members", members},
                    {"features", e.feature_names}});
  }
  return Json(200, {{"models", list}});
}

std::optional<HttpResponse> Api::RequireToken(const HttpRequest& request, std::string_view what) {
  if (options_.token.empty()) {
    return Error(403,
                 core::StrCat(what, " are disabled: no token is configured (PDM_SERVE_TOKEN)"));
  }
  if (!TokenMatches(request.authorization, options_.token)) {
    HttpResponse r = Error(401, "a valid bearer token is required");
    r.headers.emplace_back("WWW-Authenticate", "Bearer");
    return r;
  }
  return std::nullopt;
}

HttpResponse Api::Reload(const HttpRequest& request, std::string_view name) {
  if (auto refused = RequireToken(request, "reloads")) return std::move(*refused);
  if (name != models_->name()) {
    return Error(404, core::StrCat("model '", name.substr(0, 128), "' is not served"));
  }
  auto reloaded = models_->Reload();
  if (!reloaded.ok()) return Error(409, std::string(reloaded.status().message()));
  return Json(200, {{"name", (*reloaded)->name}, {"version", (*reloaded)->version}});
}

namespace {

// The served model when `name` (and `version`, unless empty) name it; else the 404 to answer.
std::shared_ptr<const ServedModel> FindServed(const ModelManager& models, std::string_view name,
                                              std::string_view version, HttpResponse* not_found) {
  std::shared_ptr<const ServedModel> served = models.current();
  if (name != models.name()) {
    *not_found = Error(404, core::StrCat("model '", name.substr(0, 128),
                                         "' is not served (this "
                                         "server serves '",
                                         models.name(), "')"));
    return nullptr;
  }
  if (!served) {
    *not_found = Error(503, "no model loaded");
    return nullptr;
  }
  if (!version.empty() && version != std::to_string(served->version)) {
    *not_found =
        Error(404, core::StrCat("version '", version.substr(0, 32), "' of '", name,
                                "' is not loaded (serving version ", served->version, ")"));
    return nullptr;
  }
  return served;
}

std::vector<std::pair<std::string, std::string>> OutputTensors(const ServedModel& served) {
  if (served.bundle.ensemble.task != model::Task::kRul) {
    return {{"probability", "FP64"}, {"alarm", "BOOL"}};
  }
  return {{"rul", "FP64"}, {"alarm", "BOOL"}};
}

}  // namespace

HttpResponse Api::ModelMetadata(std::string_view name, std::string_view version, bool ready_only) {
  HttpResponse not_found;
  const std::shared_ptr<const ServedModel> served = FindServed(*models_, name, version, &not_found);
  if (!served) return not_found;
  if (ready_only) return Json(200, {{"name", served->name}, {"ready", true}});
  json inputs = json::array();
  for (const std::string& feature : served->bundle.ensemble.feature_names) {
    inputs.push_back({{"name", feature}, {"datatype", "FP32"}, {"shape", {-1}}});
  }
  json outputs = json::array();
  for (const auto& [output, datatype] : OutputTensors(*served)) {
    outputs.push_back({{"name", output}, {"datatype", datatype}, {"shape", {-1}}});
  }
  return Json(200, {{"name", served->name},
                    {"versions", {std::to_string(served->version)}},
                    {"platform", "pdm_ensemble"},
                    {"inputs", inputs},
                    {"outputs", outputs}});
}

HttpResponse Api::Infer(const HttpRequest& request, std::string_view name,
                        std::string_view version) {
  json body;
  if (auto refused = ParseJsonBody(request, &body)) {
    return Refuse(refused->status, refused->reason, refused->message);
  }
  HttpResponse not_found;
  const std::shared_ptr<const ServedModel> served = FindServed(*models_, name, version, &not_found);
  if (!served) return not_found;
  const model::Ensemble& ensemble = served->bundle.ensemble;
  const size_t width = ensemble.feature_names.size();
  if (!body.is_object() || !body.contains("inputs") || !body["inputs"].is_array() ||
      body["inputs"].empty()) {
    return Refuse(422, "not_an_inference_request",
                  "expected {\"inputs\": [{\"name\", \"shape\", \"datatype\", \"data\"}, ...]}");
  }

  // Either one tensor per feature (shape [n] or [n, 1]), or one [n, width] tensor of rows in
  // feature order named "features".
  json details = json::array();
  auto fail = [&](const std::string& field, const std::string& reason, const json& value) {
    details.push_back({{"field", field}, {"reason", reason}, {"value", Shown(value)}});
  };
  struct Tensor {
    std::string name;
    size_t column = 0;  // for per-feature tensors
    std::vector<const json*> data;
    int64_t rows = -1;
  };
  std::vector<Tensor> tensors;
  const json& inputs = body["inputs"];
  bool matrix = false;
  for (const json& input : inputs) {
    const std::string field =
        input.is_object() && input.contains("name") && input["name"].is_string()
            ? input["name"].get<std::string>()
            : std::string("inputs[") + std::to_string(tensors.size()) + "]";
    if (!input.is_object() || !input.contains("name") || !input["name"].is_string() ||
        !input.contains("shape") || !input["shape"].is_array() || !input.contains("datatype") ||
        !input.contains("data")) {
      fail(field, "expected an object with name, shape, datatype and data", input);
      continue;
    }
    const json& datatype = input["datatype"];
    if (!datatype.is_string() || (datatype != "FP32" && datatype != "FP64")) {
      fail(field, "datatype must be FP32 or FP64", datatype);
      continue;
    }
    int64_t elements = 1;
    std::vector<int64_t> shape;
    // At most two dimensions of at most 1e8 each: their product cannot overflow.
    bool shape_ok = !input["shape"].empty() && input["shape"].size() <= 2;
    for (const json& d : input["shape"]) {
      if (!shape_ok || !d.is_number_integer() || d.get<int64_t>() < 0 ||
          d.get<int64_t>() > 100'000'000) {
        shape_ok = false;
        break;
      }
      shape.push_back(d.get<int64_t>());
      elements *= shape.back();
    }
    Tensor t;
    t.name = field;
    const auto column = served->feature_index.find(field);
    const bool is_matrix = field == "features" && column == served->feature_index.end();
    if (shape_ok && is_matrix) {
      shape_ok = shape.size() == 2 && shape[1] == static_cast<int64_t>(width);
    } else if (shape_ok) {
      shape_ok = shape.size() == 1 || shape[1] == 1;
    }
    if (!shape_ok) {
      fail(field,
           is_matrix ? core::StrCat("shape must be [rows, ", width, "]")
                     : std::string("shape must be [rows] or [rows, 1]"),
           input["shape"]);
      continue;
    }
    if (!is_matrix && column == served->feature_index.end()) {
      if (!options_.allow_unknown_fields) fail(field, "unknown input", input["name"]);
      continue;
    }
    Flatten(input["data"], &t.data);
    if (static_cast<int64_t>(t.data.size()) != elements) {
      fail(field, core::StrCat("data has ", t.data.size(), " elements; the shape needs ", elements),
           input["shape"]);
      continue;
    }
    t.rows = shape[0];
    if (is_matrix) {
      matrix = true;
    } else {
      t.column = column->second;
    }
    tensors.push_back(std::move(t));
  }
  if (details.empty() && matrix && tensors.size() > 1) {
    fail("features", "a \"features\" matrix cannot be combined with other inputs", "");
  }
  if (details.empty() && !matrix) {
    std::vector<bool> present(width, false);
    for (const Tensor& t : tensors) {
      if (present[t.column]) fail(t.name, "given twice", "");
      present[t.column] = true;
    }
    for (size_t j = 0; j < width; ++j) {
      if (!present[j])
        details.push_back({{"field", ensemble.feature_names[j]}, {"reason", "missing"}});
    }
  }
  const int64_t rows = tensors.empty() ? 0 : tensors[0].rows;
  for (const Tensor& t : tensors) {
    if (details.empty() && t.rows != rows) {
      fail(t.name, core::StrCat("has ", t.rows, " rows; ", tensors[0].name, " has ", rows), "");
    }
  }
  if (details.empty() && (rows == 0 || rows > static_cast<int64_t>(options_.max_batch))) {
    fail("inputs", core::StrCat("rows must be 1 to ", options_.max_batch), rows);
  }
  model::DenseMatrix x;
  x.rows = static_cast<size_t>(rows);
  x.cols = width;
  if (details.empty()) {
    x.values.assign(x.rows * width, 0.0f);
    for (const Tensor& t : tensors) {
      for (size_t k = 0; k < t.data.size(); ++k) {
        const size_t column = matrix ? k % width : t.column;
        const size_t row = matrix ? k / width : k;
        json row_details = json::array();
        CheckValue(ensemble.feature_names[column], *t.data[k], *served,
                   &x.values[row * width + column], &row_details);
        for (json& d : row_details) {
          d["field"] = core::StrCat(d["field"].get<std::string>(), "[", row, "]");
          if (details.size() < 100) details.push_back(std::move(d));
        }
        if (t.data[k]->is_null()) {
          fail(core::StrCat(ensemble.feature_names[column], "[", row, "]"), "not a number",
               nullptr);
        }
      }
    }
  }
  if (!details.empty()) {
    for (const json& d : details) metrics_->CountValidationError(d["reason"].get<std::string>());
    return Error(422, "invalid inference request", std::move(details));
  }

  // The outputs asked for (all when the request names none).
  std::vector<std::string> wanted;
  if (body.contains("outputs") && body["outputs"].is_array()) {
    for (const json& o : body["outputs"]) {
      if (o.is_object() && o.contains("name") && o["name"].is_string()) {
        wanted.push_back(o["name"].get<std::string>());
      }
    }
  }
  const auto tensors_out = OutputTensors(*served);
  for (const std::string& w : wanted) {
    if (std::none_of(tensors_out.begin(), tensors_out.end(),
                     [&](const auto& t) { return t.first == w; })) {
      return Refuse(422, "unknown_output",
                    core::StrCat("unknown output '", w.substr(0, 64),
                                 "' (outputs: ", tensors_out[0].first, ", alarm)"));
    }
  }
  auto scored = ensemble.Predict(x, 1);
  if (!scored.ok()) return Error(500, "scoring failed");
  const bool classify = ensemble.task != model::Task::kRul;
  json values = json::array(), alarms = json::array();
  const ServerMetrics::PredictionSeries series =
      metrics_->Predictions(served->name, served->version);
  for (const model::Prediction& p : *scored) {
    values.push_back(classify ? p.probability : p.margin);
    alarms.push_back(p.alarm);
    series.Observe(p.alarm, classify ? p.probability : std::nan(""));
  }
  json outputs = json::array();
  for (const auto& [output, datatype] : tensors_out) {
    if (!wanted.empty() && std::find(wanted.begin(), wanted.end(), output) == wanted.end()) {
      continue;
    }
    outputs.push_back({{"name", output},
                       {"datatype", datatype},
                       {"shape", {rows}},
                       {"data", output == "alarm" ? alarms : values}});
  }
  json out = {{"model_name", served->name},
              {"model_version", std::to_string(served->version)},
              {"outputs", outputs},
              {"parameters", {{"threshold", ensemble.combiner.threshold}}}};
  if (body.contains("id") && body["id"].is_string()) out["id"] = body["id"];
  return Json(200, out);
}

}  // namespace pdm::serving
