// The routes of `pdm serve` (docs/serving.md, and GET /openapi.json): probes, single and batch
// prediction from feature values, the Open Inference Protocol v2, the model listing and reload,
// Prometheus metrics, CORS. Every error is JSON:
// {"error": ..., "details": [{"field": ..., "reason": ..., "value": ...}]}.
#ifndef PDM_SERVING_API_H_
#define PDM_SERVING_API_H_

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "alert/alert_policy.h"
#include "core/time.h"
#include "econ/roi_config.h"
#include "monitor/drift_monitor.h"
#include "monitor/realised.h"
#include "serving/events.h"
#include "serving/fleet.h"
#include "serving/http_server.h"
#include "serving/metrics.h"
#include "serving/model_manager.h"

namespace pdm::serving {

// The Content-Security-Policy of every answer (pages: only this server's scripts, styles,
// images and API; no inline script, no framing). A version's training report, which is one
// self-contained page with inline styles, relaxes style-src only.
inline constexpr char kContentSecurityPolicy[] =
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'; form-action 'self'";

struct CorsOptions {
  // Origins allowed to call the API from a browser ("*": any); empty: CORS is off (no
  // Access-Control-* headers, preflights refused).
  std::vector<std::string> origins;
  std::string methods = "GET, POST, OPTIONS";
  std::string headers = "Content-Type, Authorization";
  int max_age_seconds = 600;
};

// Drift monitoring of the telemetry route (monitor/drift_monitor.h).
struct DriftConfig {
  bool enabled = true;
  // Unset: 24h and 1m for timestamped data, 10000r and 1000r otherwise (cycles, no time).
  std::optional<core::Span> window;
  std::optional<core::Span> every;
  monitor::DriftOptions thresholds;  // its window, every and probability_threshold are set here
};

// Maintenance alerts of the telemetry route (alert/alert_policy.h).
struct AlertConfig {
  bool enabled = true;
  // Unset: halfway from the served threshold to 1 (probability), half the horizon (RUL).
  std::optional<double> high;
  // Unset: 24h for timestamped data, 50 readings otherwise.
  std::optional<core::Span> cooldown;
  alert::AlertRules rules;  // its consecutive, m and k are used; the rest is set per model
  // Webhook URLs told of every alert event (through the Store's outbox); `wake_notifier` is
  // called after events were written, so that the sender delivers them now.
  std::vector<std::string> webhooks;
  std::function<void()> wake_notifier;
};

struct ApiOptions {
  size_t max_batch = 1000;
  bool allow_unknown_fields = false;
  std::string token;  // bearer token of mutating routes; empty: they are refused
  CorsOptions cors;
  size_t max_machines = 100'000;  // machines followed by the telemetry route
  bool store_telemetry = true;    // append accepted readings and their scores to the store
  DriftConfig drift;
  AlertConfig alerts;
  // The business case of GET /api/v1/roi (its detection comes from the served model's measured
  // errors); unset: the route answers 404 and says how to set it (pdm serve --roi).
  std::optional<econ::RoiConfig> roi;
  std::string roi_source;   // the config's file, for messages
  size_t max_streams = 64;  // GET /api/v1/stream subscribers at a time
  // Keep every machine's latest features for the explanation of its risk (else only those of
  // machines at risk: serving/fleet.h).
  bool explain_all = false;
  // Score a machine's reading only when its latest scored one is this much data time or this
  // many readings before it (serving/fleet.h); unset: every reading.
  std::optional<core::Span> score_every;
  // The ingestion sources' statuses (GET /api/v1/sources, and the pdm_source_* series at each
  // scrape): one JSON object per source with "name", "type", "connected" and its counters
  // (ingest/source.h). Unset: no sources.
  std::function<nlohmann::json()> sources;
  // The export sinks' statuses (GET /api/v1/sources' "sinks", the pdm_sink_* series): one JSON
  // object per sink with "name", "type", "connected" and its counters (sink/sink.h).
  std::function<nlohmann::json()> sinks;
  // Called after each telemetry body with what it stored (or would store): the readings' values
  // and the scores. From the request's thread; must not block (the sinks queue).
  std::function<void(std::span<const store::TelemetryRow>, std::span<const store::PredictionRow>)>
      on_ingested;
  // Called with each alert as it opens, escalates or changes state. Must not block.
  std::function<void(const store::AlertRow&)> on_alert;
  // Log one line per request (core/log.h: request id, method, route, path, status, latency,
  // model version, peer). Probes and scrapes are logged only when they fail.
  bool access_log = false;
};

// What the telemetry path made of one body, counted (the sources' accounting).
struct TelemetryCounts {
  size_t accepted = 0, refused = 0;
  size_t duplicates = 0;  // of refused: a reading at the time its machine already has
  size_t unscored = 0;    // of accepted: not scored, throttled by score_every
  size_t events_applied = 0, events_refused = 0;
  std::string first_error;
};

// One served route: its method and path pattern ({name} matches one non-empty segment).
struct RouteSpec {
  std::string_view method;
  std::string_view pattern;
};

class Api {
 public:
  // `models` and `metrics` must outlive the Api.
  Api(ModelManager* models, ServerMetrics* metrics, ApiOptions options)
      : models_(models),
        metrics_(metrics),
        options_(std::move(options)),
        fleet_(options_.max_machines, options_.explain_all, options_.score_every) {}
  HttpResponse Handle(const HttpRequest& request);

  // Readiness turns false (503) from now on: the server is shutting down.
  void StartDraining() { draining_.store(true); }

  // The webhook body of an outbox row: {"text", "idempotency_key", "event", "alert", "entry"}
  // with the alert as it is now and the history entry the row reports.
  absl::StatusOr<std::string> NotificationBody(const store::NotificationRow& row);

  // The telemetry route's work on a body already parsed (the ingestion sources call it from
  // their threads): the same validation, features, scoring, store, alerts and events as
  // POST /api/v1/telemetry, whose answer it returns; `counts` receives the accounting.
  HttpResponse IngestTelemetry(nlohmann::json body, TelemetryCounts* counts);
  // The same for a body as text: a well-formed body of valid readings is read straight into the
  // readings (simdjson); any other goes through IngestTelemetry, which names what is wrong.
  HttpResponse IngestTelemetryText(std::string_view body, TelemetryCounts* counts);

  // The hand-over of machines between replicas (the Kafka source's rebalance, docs/ingest.md):
  // Save writes the online states of `machines` to the Store as `owner`'s; Restore takes a
  // machine's saved state when it is newer than this replica's and built by the served model's
  // features. Both return how many machines they saved or restored.
  absl::StatusOr<size_t> SaveMachineStates(const std::vector<std::string>& machines,
                                           const std::string& owner);
  absl::StatusOr<bool> RestoreMachineState(const std::string& machine);

  // Every route served, in the order they are matched.
  static std::span<const RouteSpec> Routes();
  // The OpenAPI 3 document of the routes (the body of GET /openapi.json).
  static std::string_view OpenApiDocument();

 private:
  HttpResponse Dispatch(const HttpRequest& request, std::string_view* route);
  HttpResponse Route(size_t route, const HttpRequest& request,
                     const std::vector<std::string_view>& params);
  HttpResponse Ready();
  HttpResponse Predict(const HttpRequest& request, bool batch);
  HttpResponse Models();
  HttpResponse Reload(const HttpRequest& request, std::string_view name);
  HttpResponse ModelMetadata(std::string_view name, std::string_view version, bool ready_only);
  HttpResponse Infer(const HttpRequest& request, std::string_view name, std::string_view version);
  // Scores the valid records' rows `x` (records `valid` of `record_count`; the others refused
  // with `errors[i]`) and answers the predict route.
  HttpResponse Score(const HttpRequest& request, bool batch,
                     const std::shared_ptr<const ServedModel>& served, model::DenseMatrix x,
                     const std::vector<size_t>& valid, const std::vector<nlohmann::json>& errors,
                     size_t record_count);
  HttpResponse Telemetry(const HttpRequest& request);
  // The telemetry path after the body's shape was read: `events` applied first, then
  // `reading_count` readings, each filled by `read_reading` (refusal details in its json
  // array); `shown_time` gives reading i's time as sent, for refusals found on the way.
  HttpResponse IngestReadings(
      const std::shared_ptr<const ServedModel>& served, const nlohmann::json& events,
      size_t reading_count,
      const std::function<void(size_t, MachineReading*, nlohmann::json*)>& read_reading,
      const std::function<nlohmann::json(size_t)>& shown_time, TelemetryCounts* counts);
  HttpResponse Sources();
  HttpResponse Machines(const HttpRequest& request);
  HttpResponse Machine(std::string_view id);
  HttpResponse Drift(const HttpRequest& request);
  HttpResponse Performance();
  HttpResponse Metrics();
  HttpResponse Alerts(const HttpRequest& request);
  HttpResponse AlertById(std::string_view id);
  HttpResponse AlertAction(const HttpRequest& request, std::string_view id, bool resolve);
  HttpResponse Notifications(const HttpRequest& request);
  // The dashboard (api_dashboard.cc): its embedded files, the live event stream, the registry's
  // versions and alias moves, a version's training report, the business case.
  HttpResponse Asset(std::string_view path);
  HttpResponse Stream(const HttpRequest& request);
  HttpResponse ModelVersions(std::string_view name);
  HttpResponse MoveAlias(const HttpRequest& request, std::string_view name, std::string_view alias);
  HttpResponse VersionReport(std::string_view name, std::string_view version);
  HttpResponse Roi();
  // Tells the stream's subscribers of an alert's new state.
  void PublishAlert(const store::AlertRow& alert);
  HttpResponse RetryNotification(const HttpRequest& request, std::string_view id);
  // Tells the webhook sender that events were written.
  void WakeNotifier() const {
    if (!options_.alerts.webhooks.empty() && options_.alerts.wake_notifier) {
      options_.alerts.wake_notifier();
    }
  }
  // The 401/403 to answer when `request` lacks the bearer token of mutating routes.
  std::optional<HttpResponse> RequireToken(const HttpRequest& request, std::string_view what);

  // An alert decision of one reading, applied to the Store after the request's readings.
  struct PendingAlert {
    std::string machine;
    int64_t time_us = 0;
    double score = 0;
    alert::Decision decision;
  };
  // The alert policy of `served` (made, with the Store's active alerts, when the served model
  // changed); null when alerts are off.
  std::shared_ptr<alert::AlertPolicy> AlertsFor(const std::shared_ptr<const ServedModel>& served);
  void RaiseAlerts(const std::shared_ptr<const ServedModel>& served,
                   std::span<const PendingAlert> pending);
  // A maintenance or failure event resolves the machine's active alert (maintenance_done,
  // failure_confirmed); maintenance also starts the cooldown.
  void CloseAlertsOnEvent(const std::shared_ptr<const ServedModel>& served,
                          const std::string& machine, features::EventType type, double time);
  // Drift alerts, from the latest drift evaluation of `served`: one active per served model and
  // input (kind "drift", no machine, failure mode "<model>/<input>", the input being the sensor
  // the drifted features are computed from, or "errors" for error counts). It opens when a
  // monitored feature of that input enters drift (a warning; critical on dataset drift, to
  // which open ones escalate) and is resolved as "drift_ended" when none of the input's
  // features is in drift any more. Delivered like the maintenance alerts.
  void WatchDrift(const std::shared_ptr<const ServedModel>& served,
                  const monitor::DriftReport& report);
  // The realised performance of `served` (made when the served model changed): labels joined
  // from failure events; null with the reason in `why` when they cannot be (not a classifier of
  // timestamped data with a failure horizon, or a model trained before the horizon was stored).
  std::shared_ptr<monitor::RealisedPerformance> RealisedFor(
      const std::shared_ptr<const ServedModel>& served, std::string* why);
  // The drift monitor of `served` (made when the served model changed); null with the reason in
  // `why` when the model cannot be monitored or monitoring is off.
  std::shared_ptr<monitor::DriftMonitor> DriftFor(const std::shared_ptr<const ServedModel>& served,
                                                  std::string* why);
  HttpResponse Options(const HttpRequest& request, const std::string& allowed);
  bool OriginAllowed(std::string_view origin) const;
  // A refused request (4xx before any record is read), counted under `reason`.
  HttpResponse Refuse(int status, std::string_view reason, const std::string& message);

  ModelManager* models_;
  ServerMetrics* metrics_;
  ApiOptions options_;
  Fleet fleet_;
  std::shared_ptr<EventHub> events_ = std::make_shared<EventHub>();
  std::atomic<bool> draining_{false};
  std::mutex drift_mu_;  // guards the two below
  std::shared_ptr<monitor::DriftMonitor> drift_;
  std::string drift_model_;  // artifact hash of the model drift_ watches
  std::mutex alerts_mu_;     // guards the two below
  std::shared_ptr<alert::AlertPolicy> alerts_;
  std::string alerts_model_;
  std::mutex realised_mu_;  // guards the two below
  std::shared_ptr<monitor::RealisedPerformance> realised_;
  std::string realised_model_;           // artifact hash of the model realised_ follows
  std::mutex drift_alert_mu_;            // guards the three below
  std::string drift_alert_model_;        // artifact hash of the model the fields below are about
  int64_t drift_alert_evaluation_ = -1;  // the evaluation last looked at
  struct ActiveDriftAlert {
    int64_t id = 0;
    std::string severity;
  };
  std::map<std::string, ActiveDriftAlert> drift_alerts_;  // by failure mode "<model>/<input>"
};

}  // namespace pdm::serving

#endif  // PDM_SERVING_API_H_
