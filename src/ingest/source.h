// What every ingestion source shares: the telemetry path it feeds, and its accounting.
#ifndef PDM_INGEST_SOURCE_H_
#define PDM_INGEST_SOURCE_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ingest/payload.h"
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

// How a message-carrying source (MQTT, Kafka) turns one payload into readings on the path.
struct MessageOptions {
  DecodeOptions decode;
  size_t max_payload = 8 << 20;  // bytes; larger payloads are malformed
  std::chrono::milliseconds retry_min{100}, retry_max{10000};
};

// What became of one message.
struct MessageResult {
  enum class Kind {
    kApplied,     // the path took it: its readings are accepted, refused or duplicates
    kMalformed,   // nothing in it could be read (too large, not decodable)
    kNotApplied,  // the path answered 5xx and the source stopped before a retry succeeded
  };
  Kind kind = Kind::kApplied;
  size_t readings = 0;  // decoded from it
  // Why some or all of it was refused (the dead letter's reasons; empty: nothing refused).
  std::vector<std::string> reasons;
};

// Decodes `payload` (readings without a machine get `machine`) and applies it through
// `handler`. While the path answers 5xx (no model loaded yet) it applies it again after a
// backoff, for as long as `wait(backoff)` returns true (the source's sleep, false once it
// stops). Counts the message's readings, events, malformed payload and retries in `counters`,
// but not the message itself: the caller counts it once it has finished with it.
MessageResult ApplyMessage(std::string_view payload, const std::optional<std::string>& machine,
                           const MessageOptions& options, const TelemetryHandler& handler,
                           const std::function<bool(std::chrono::milliseconds)>& wait,
                           SourceCounters* counters);

// A dead letter: {"source", "topic", "reasons", "payload" (its first 64 KiB), "payload_bytes"}.
std::string DeadLetterBody(std::string_view source, std::string_view topic,
                           std::string_view payload, const std::vector<std::string>& reasons);

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
