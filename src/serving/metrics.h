// The server's Prometheus metrics (docs/serving.md lists every series), kept in a prometheus-cpp
// registry and rendered in the text exposition format by `GET /metrics`.
//
// Label values are bounded: routes are the route table's patterns (or "unmatched"), methods the
// HTTP methods the server knows (else "OTHER"), reasons the fixed set of validation reasons. So a
// client cannot grow the number of series by sending odd requests.
#ifndef PDM_SERVING_METRICS_H_
#define PDM_SERVING_METRICS_H_

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "monitor/drift_monitor.h"
#include "monitor/realised.h"
#include "nlohmann/json.hpp"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"

namespace pdm::serving {

enum class ModelState { kUnloaded, kLoading, kAvailable };

class ServerMetrics {
 public:
  ServerMetrics();

  void ObserveRequest(std::string_view route, std::string_view method, int status, double seconds);
  // The prediction series of one model version, resolved once so that a request scoring many
  // records does not look its labels up per record. Valid as long as the ServerMetrics.
  class PredictionSeries {
   public:
    // `probability` is NaN for regression models (not observed then).
    void Observe(bool alarm, double probability) const;

   private:
    friend class ServerMetrics;
    prometheus::Counter* ok_ = nullptr;
    prometheus::Counter* alarm_ = nullptr;
    prometheus::Histogram* probability_ = nullptr;
  };
  PredictionSeries Predictions(const std::string& model, int64_t version);
  // One refused value or record; `reason` is a validation reason ("missing", "out of range
  // [0, 1]", ...), reduced to its fixed label ("missing", "out_of_range").
  void CountValidationError(std::string_view reason);
  void SetModel(const std::string& name, int64_t version);  // pdm_model_info
  void SetModelState(const std::string& name, ModelState state);
  void CountReload(bool ok);
  void SetOnlineMachines(int64_t machines);
  void SetEventStreams(int64_t streams);  // pdm_event_streams: GET /api/v1/stream open now
  // pdm_telemetry_readings_total{result} for one telemetry request; when any reading was accepted,
  // pdm_telemetry_last_accepted_timestamp_seconds becomes now (wall clock, for staleness alerts).
  void CountTelemetry(size_t accepted, size_t refused);
  // pdm_realised_{precision,recall,f1} and pdm_realised_labelled from the realised performance
  // (null removes them: no labels can be joined for the served model).
  void SetRealised(const monitor::RealisedCounts* counts);
  // The drift and estimated-performance gauges from a drift evaluation (GET /metrics sets them
  // from the latest one before rendering); null removes them (no monitor, or no evaluation yet).
  // Series of features that left the model are removed, so the label sets stay the model's.
  void SetDrift(const monitor::DriftReport* report);
  // pdm_alerts_open{severity} from the Store's count of active alerts.
  void SetOpenAlerts(const std::map<std::string, int64_t>& by_severity);
  void CountAlertOpened(const std::string& severity);  // pdm_alerts_opened_total
  // pdm_alert_notifications_total{result}: delivered, retried, dead (one per webhook attempt).
  void CountNotification(std::string_view result);
  // pdm_alert_notifications{state} from the Store's outbox: pending, delivered, dead.
  void SetNotifications(const std::map<std::string, int64_t>& by_state);

  // The ingestion sources' series from their statuses (ApiOptions::sources): per source
  // pdm_source_messages_total{result}, pdm_source_readings_total{result},
  // pdm_source_connection_losses_total, pdm_source_connected, and for polled sources (Modbus)
  // pdm_source_poll_failures_total and pdm_source_device_stale{machine}. The counters advance by
  // what the sources' totals advanced since the last call.
  void SetSources(const nlohmann::json& sources);
  // The export sinks' statuses (sink/sink.h): pdm_sink_points_total{sink,result},
  // pdm_sink_retries_total, pdm_sink_queued and pdm_sink_connected.
  void SetSinks(const nlohmann::json& sinks);

  // The text exposition format (version 0.0.4).
  std::string Render() const;

  // The label a validation reason is counted under.
  static std::string ReasonLabel(std::string_view reason);

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>& requests_;
  prometheus::Family<prometheus::Histogram>& durations_;
  prometheus::Family<prometheus::Counter>& predictions_;
  prometheus::Family<prometheus::Histogram>& probability_;
  prometheus::Family<prometheus::Counter>& validation_errors_;
  prometheus::Family<prometheus::Gauge>& model_info_;
  prometheus::Family<prometheus::Gauge>& model_state_;
  prometheus::Family<prometheus::Counter>& reloads_;
  prometheus::Gauge& online_machines_;
  prometheus::Gauge& event_streams_;
  prometheus::Family<prometheus::Counter>& telemetry_readings_;
  prometheus::Gauge& telemetry_last_accepted_;
  prometheus::Family<prometheus::Gauge>& feature_drift_;
  prometheus::Family<prometheus::Gauge>& drift_status_;
  prometheus::Family<prometheus::Gauge>& dataset_drift_;
  prometheus::Family<prometheus::Gauge>& drift_window_rows_;
  prometheus::Family<prometheus::Gauge>& refusal_share_;
  prometheus::Family<prometheus::Gauge>& estimated_precision_;
  prometheus::Family<prometheus::Gauge>& estimated_recall_;
  prometheus::Family<prometheus::Gauge>& estimated_f1_;
  prometheus::Family<prometheus::Gauge>& realised_precision_;
  prometheus::Family<prometheus::Gauge>& realised_recall_;
  prometheus::Family<prometheus::Gauge>& realised_f1_;
  prometheus::Family<prometheus::Gauge>& realised_labelled_;
  prometheus::Family<prometheus::Gauge>& alerts_open_;
  prometheus::Family<prometheus::Counter>& alerts_opened_;
  prometheus::Family<prometheus::Counter>& notifications_total_;
  prometheus::Family<prometheus::Gauge>& notifications_;
  prometheus::Family<prometheus::Counter>& source_messages_;
  prometheus::Family<prometheus::Counter>& source_readings_;
  prometheus::Family<prometheus::Counter>& source_losses_;
  prometheus::Family<prometheus::Gauge>& source_connected_;
  prometheus::Family<prometheus::Counter>& source_poll_failures_;
  prometheus::Family<prometheus::Gauge>& source_device_stale_;
  // Advances family{owner_label=owner, result} to `total`, a running total reported by a source
  // or sink (remembered under `key`). REQUIRES: sources_mu_ held.
  void AdvanceCounter(prometheus::Family<prometheus::Counter>& family, const char* owner_label,
                      const std::string& owner, const char* result, const std::string& key,
                      double total);
  prometheus::Family<prometheus::Counter>& sink_points_;
  prometheus::Family<prometheus::Counter>& sink_retries_;
  prometheus::Family<prometheus::Gauge>& sink_queued_;
  prometheus::Family<prometheus::Gauge>& sink_connected_;
  std::mutex sources_mu_;
  std::map<std::string, double> source_totals_;  // "source/key" -> the total last counted

  std::mutex drift_mu_;  // guards the drift series below
  struct DriftSeries {
    std::string feature;
    // psi, ks, jensen_shannon, wasserstein, median_shift
    std::array<prometheus::Gauge*, 5> statistics;
    prometheus::Gauge* status;
  };
  std::vector<DriftSeries> drift_series_;  // the features (and "score") of the last report
  std::map<std::string, prometheus::Gauge*> refusal_series_;  // field -> its share

  std::mutex model_mu_;  // guards info_ (the series of the model currently served)
  prometheus::Gauge* info_ = nullptr;
};

}  // namespace pdm::serving

#endif  // PDM_SERVING_METRICS_H_
