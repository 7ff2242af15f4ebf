// What every ingestion source shares: the telemetry path it feeds, and its accounting.
#ifndef PDM_INGEST_SOURCE_H_
#define PDM_INGEST_SOURCE_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>

#include "nlohmann/json.hpp"

namespace pdm::ingest {

// What the telemetry path made of one body (the REST route's answer, counted).
struct IngestOutcome {
  int status = 200;  // the route's HTTP status: 2xx applied; 422 nothing accepted; 5xx retry
  size_t accepted = 0;
  size_t refused = 0;     // readings refused with a reason (duplicates included)
  size_t duplicates = 0;  // of refused: a machine's reading at the time it already has
  size_t events_applied = 0, events_refused = 0;
  std::string error;  // the first refusal's reason, when any
};
// Applies a body of readings and events (POST /api/v1/telemetry's) to the served model.
// Thread-safe; may be called from any source's thread.
using TelemetryHandler = std::function<IngestOutcome(nlohmann::json body)>;

// A source's running totals. Every reading a source took is accepted, refused (by the
// telemetry path, or undecodable in its message) or a duplicate; nothing else.
struct SourceCounters {
  std::atomic<int64_t> messages{0};            // payloads received
  std::atomic<int64_t> messages_malformed{0};  // not decodable at all (dead-lettered)
  std::atomic<int64_t> readings_accepted{0};
  std::atomic<int64_t> readings_refused{0};    // by the telemetry path or undecodable, not dups
  std::atomic<int64_t> readings_duplicate{0};  // at-least-once delivery's repeats: not scored
  std::atomic<int64_t> events_applied{0};
  std::atomic<int64_t> events_refused{0};
  std::atomic<int64_t> dead_lettered{0};  // payloads republished to the dead-letter topic
  std::atomic<int64_t> retries{0};        // deliveries retried after a 5xx of the path
  std::atomic<int64_t> connects{0};
  std::atomic<int64_t> connection_losses{0};
  std::atomic<bool> connected{false};

  void Count(const IngestOutcome& o) {
    readings_accepted += static_cast<int64_t>(o.accepted);
    readings_refused += static_cast<int64_t>(o.refused - o.duplicates);
    readings_duplicate += static_cast<int64_t>(o.duplicates);
    events_applied += static_cast<int64_t>(o.events_applied);
    events_refused += static_cast<int64_t>(o.events_refused);
  }
  nlohmann::json ToJson() const;
};

// A running source of readings inside `pdm serve` (MQTT, Modbus TCP). Start and Stop are called
// once each, from one thread; Status from any thread.
class Source {
 public:
  virtual ~Source() = default;
  virtual void Start() = 0;
  // Returns once nothing more reaches the telemetry path; work in progress is finished first.
  virtual void Stop() = 0;
  virtual const std::string& name() const = 0;
  // Where it reads from, for the server's start-up lines ("mqtt://host:1883 plant/+/telemetry").
  virtual std::string Describe() const = 0;
  // {"name", "type", "connected", "last_error", counters...} (GET /api/v1/sources).
  virtual nlohmann::json Status() const = 0;
};

// The last problem a source met (a refusal, a connection error), for its status.
class LastError {
 public:
  void Set(std::string text) {
    std::lock_guard lock(mu_);
    text_ = std::move(text);
  }
  std::string Get() const {
    std::lock_guard lock(mu_);
    return text_;
  }

 private:
  mutable std::mutex mu_;
  std::string text_;
};

}  // namespace pdm::ingest

#endif  // PDM_INGEST_SOURCE_H_
