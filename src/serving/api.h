// The routes of `pdm serve` (docs/serving.md, and GET /openapi.json): probes, single and batch
// prediction from feature values, the Open Inference Protocol v2, the model listing and reload,
// Prometheus metrics, CORS. Every error is JSON:
// {"error": ..., "details": [{"field": ..., "reason": ..., "value": ...}]}.
#ifndef PDM_SERVING_API_H_
#define PDM_SERVING_API_H_

#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/time.h"
#include "monitor/drift_monitor.h"
#include "serving/fleet.h"
#include "serving/http_server.h"
#include "serving/metrics.h"
#include "serving/model_manager.h"

namespace pdm::serving {

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

struct ApiOptions {
  size_t max_batch = 1000;
  bool allow_unknown_fields = false;
  std::string token;  // bearer token of mutating routes; empty: they are refused
  CorsOptions cors;
  size_t max_machines = 100'000;  // machines followed by the telemetry route
  bool store_telemetry = true;    // append accepted readings and their scores to the store
  DriftConfig drift;
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
        fleet_(options_.max_machines) {}
  HttpResponse Handle(const HttpRequest& request);

  // Readiness turns false (503) from now on: the server is shutting down.
  void StartDraining() { draining_.store(true); }

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
  HttpResponse Telemetry(const HttpRequest& request);
  HttpResponse ApplyTelemetry(const HttpRequest& request);
  HttpResponse Machines(const HttpRequest& request);
  HttpResponse Machine(std::string_view id);
  HttpResponse Drift(const HttpRequest& request);
  HttpResponse Performance();
  HttpResponse Metrics();
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
  std::atomic<bool> draining_{false};
  std::mutex drift_mu_;  // guards the two below
  std::shared_ptr<monitor::DriftMonitor> drift_;
  std::string drift_model_;  // artifact hash of the model drift_ watches
};

}  // namespace pdm::serving

#endif  // PDM_SERVING_API_H_
