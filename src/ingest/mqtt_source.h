// The MQTT source: subscribes to topic patterns on a broker and feeds each message's readings to
// the telemetry path (docs/ingest.md, ADR 0019). Eclipse Paho MQTT C++ (Debian
// libpaho-mqttpp-dev).
//
// Delivery: QoS 1 on a persistent session (clean_session off, a fixed client id), so messages
// published while pdm is down, or while the broker restarts with persistence, are delivered
// when it is back. Each message is applied inside Paho's delivery callback, one at a time:
// while pdm works on one, Paho reads no further packets and the broker holds the rest (at most
// its in-flight window), which is the source's back-pressure. Paho acknowledges a QoS 1 message
// as it reads it, before pdm sees it (ADR 0019): a message is lost only when pdm is killed while
// applying it. A 5xx of the telemetry path (no model loaded) retries the message with backoff
// until it is applied or the source stops.
#ifndef PDM_INGEST_MQTT_SOURCE_H_
#define PDM_INGEST_MQTT_SOURCE_H_

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "ingest/payload.h"
#include "ingest/source.h"
#include "nlohmann/json.hpp"

namespace pdm::ingest {

struct MqttSourceOptions {
  std::string name = "mqtt";        // in metrics, logs and GET /api/v1/sources
  std::string url;                  // mqtt://host:1883, or mqtts://host:8883 (TLS)
  std::vector<std::string> topics;  // patterns, e.g. plant/+/+/telemetry
  std::string client_id = "pdm";    // the session's identity at the broker: one per replica
  int qos = 1;
  bool clean_session = false;  // false: the broker keeps the session while pdm is away
  std::string username, password;
  std::string ca_file;  // TLS: the CA to trust (empty: the system's)
  // The topic level (0-based) that names the machine, for payloads without one.
  std::optional<int> machine_level;
  DecodeOptions decode;
  // Undecodable payloads and refused readings are republished here (QoS 1) with the reason;
  // empty: counted only.
  std::string dead_letter_topic;
  size_t max_payload = 8 << 20;  // bytes; larger payloads are refused
  std::chrono::milliseconds retry_min{100}, retry_max{10000};
};

// Checks the options (URL scheme, topics, QoS, level) without connecting.
absl::Status ValidateMqttOptions(const MqttSourceOptions& options);

class MqttSource : public Source {
 public:
  // REQUIRES: ValidateMqttOptions(options).ok().
  MqttSource(MqttSourceOptions options, TelemetryHandler handler);
  ~MqttSource() override;
  MqttSource(const MqttSource&) = delete;
  MqttSource& operator=(const MqttSource&) = delete;

  // Connects in the background (retrying with backoff until the broker answers) and subscribes;
  // Paho reconnects after a lost connection.
  void Start() override;
  // Disconnects; a message being applied is finished first.
  void Stop() override;

  const std::string& name() const override { return options_.name; }
  std::string Describe() const override;
  const MqttSourceOptions& options() const { return options_; }
  const SourceCounters& counters() const { return counters_; }
  // {"name", "type", "url", "topics", "connected", "last_error", counters...}
  nlohmann::json Status() const override;

 private:
  class Impl;
  const MqttSourceOptions options_;
  SourceCounters counters_;
  LastError last_error_;
  std::unique_ptr<Impl> impl_;
};

// Publishes to a broker, QoS 1 by default, keeping at most `max_in_flight` messages
// unacknowledged (`pdm simulate --publish`, the benchmarks).
struct MqttPublisherOptions {
  std::string url;  // mqtt://host:port or mqtts://host:port
  std::string client_id = "pdm-publisher";
  int qos = 1;
  int max_in_flight = 64;  // below Paho's default command buffer (100)
  std::string username, password, ca_file;
};

class MqttPublisher {
 public:
  static absl::StatusOr<std::unique_ptr<MqttPublisher>> Connect(
      const MqttPublisherOptions& options);
  ~MqttPublisher();
  MqttPublisher(const MqttPublisher&) = delete;
  MqttPublisher& operator=(const MqttPublisher&) = delete;

  // Sends one message; waits for the oldest acknowledgement first when max_in_flight are out.
  absl::Status Publish(const std::string& topic, std::string payload);
  // Waits until every message sent is acknowledged.
  absl::Status Flush();

 private:
  class Impl;
  explicit MqttPublisher(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace pdm::ingest

#endif  // PDM_INGEST_MQTT_SOURCE_H_
