// Export sinks: the telemetry path's readings, risk scores and alerts written to the systems a
// plant already watches (InfluxDB for historians and Grafana, Redis for dashboards and other
// services), configured in server.yaml under `sinks:` (docs/ingest.md, ADR 0022).
//
// A sink never slows the path: Add and Alert queue (bounded; what does not fit is dropped and
// counted), and a thread of the sink's own writes the queue in batches, retrying a failed batch
// with backoff while new points queue behind it.
#ifndef PDM_SINK_SINK_H_
#define PDM_SINK_SINK_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "nlohmann/json.hpp"
#include "store/store.h"

namespace pdm::sink {

// What a sink writes at once.
struct Batch {
  std::vector<store::TelemetryRow> readings;  // one row per machine, time and sensor
  std::vector<store::PredictionRow> risks;
  std::vector<store::AlertRow> alerts;
  size_t points() const { return readings.size() + risks.size() + alerts.size(); }
  bool empty() const { return points() == 0; }
};

struct QueueOptions {
  size_t max_queued = 200'000;  // points (reading values, risks, alerts) waiting; more: dropped
  size_t max_batch = 20'000;    // points a write carries at most
  std::chrono::milliseconds flush_interval{1000};  // a batch waits at most this long
  std::chrono::milliseconds retry_min{200}, retry_max{10000};
};

// An alert as a message (a Redis channel's, a Kafka record's): {"id", "machine", "kind",
// "failure_mode", "severity", "state", "model", "version", "time", "score", "resolution",
// "message"}.
std::string AlertMessage(const store::AlertRow& alert);
// A risk score as a message: {"machine", "time", "score", "alarm", "model", "version"}.
std::string RiskMessage(const store::PredictionRow& risk);

// A sink's base: the queue, the writer thread, the retries and the counts. Subclasses write.
class Sink {
 public:
  Sink(std::string name, std::string type, QueueOptions options);
  virtual ~Sink();
  Sink(const Sink&) = delete;
  Sink& operator=(const Sink&) = delete;

  void Start();
  // Writes what is queued (one attempt each, within a few seconds), then ends the thread.
  void Stop();

  // Queue; never block on the destination. Thread-safe.
  void Add(std::span<const store::TelemetryRow> readings,
           std::span<const store::PredictionRow> risks);
  void Alert(const store::AlertRow& alert);

  const std::string& name() const { return name_; }
  virtual std::string Describe() const = 0;
  // {"name", "type", "connected", "queued", "points_written", "points_dropped", "batches",
  //  "retries", "last_error"}
  nlohmann::json Status() const;

 protected:
  // Writes one batch; an error makes the batch be tried again after a backoff, unless
  // `*permanent` is set (the destination refused the data itself: the batch is dropped and
  // counted).
  virtual absl::Status Write(const Batch& batch, bool* permanent) = 0;

 private:
  void Run(const std::stop_token& stop);
  bool TakeBatch(Batch* batch);
  void Flush(Batch* batch, const std::stop_token& stop, bool final);

  const std::string name_, type_;
  const QueueOptions options_;
  mutable std::mutex mu_;
  std::condition_variable_any wake_;
  Batch queue_;
  std::atomic<bool> connected_{false};
  std::atomic<int64_t> written_{0}, dropped_{0}, batches_{0}, retries_{0};
  mutable std::mutex error_mu_;
  std::string last_error_;
  std::jthread thread_;
};

}  // namespace pdm::sink

#endif  // PDM_SINK_SINK_H_
