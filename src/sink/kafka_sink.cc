#include "sink/kafka_sink.h"

#include <cmath>

#include "core/status.h"
#include "core/strings.h"
#include "core/time.h"
#include "nlohmann/json.hpp"

namespace pdm::sink {

absl::Status ValidateKafkaSinkOptions(const KafkaSinkOptions& o) {
  const std::string where = core::StrCat("sinks.", o.name, ": ");
  if (o.brokers.empty()) {
    return absl::InvalidArgumentError(where + "brokers: expected host:port[,host:port...]");
  }
  if (o.risk_topic.empty() && o.alert_topic.empty() && o.readings_topic.empty()) {
    return absl::InvalidArgumentError(
        where + "risk_topic, alert_topic and readings_topic are all empty: nothing to produce");
  }
  if (absl::Status valid = ingest::ValidateKafkaProperties(o.properties); !valid.ok()) {
    return absl::InvalidArgumentError(where + std::string(valid.message()));
  }
  return absl::OkStatus();
}

KafkaSink::KafkaSink(KafkaSinkOptions options)
    : Sink(options.name, "kafka", options.queue), options_(std::move(options)) {}

KafkaSink::~KafkaSink() { Stop(); }

std::string KafkaSink::Describe() const {
  std::string topics;
  for (const std::string* topic :
       {&options_.risk_topic, &options_.alert_topic, &options_.readings_topic}) {
    if (!topic->empty()) topics += (topics.empty() ? "" : ", ") + *topic;
  }
  return core::StrCat("kafka ", options_.brokers, " (", topics, ")");
}

absl::Status KafkaSink::Write(const Batch& batch, bool* /*permanent*/) {
  if (publisher_ == nullptr) {
    // A record the brokers have not acknowledged within 10 s fails its batch, which is then
    // retried with backoff: a cluster that is down must not hold the writer (or a shutdown) in
    // librdkafka's own five-minute retries. `properties` may set another.
    std::map<std::string, std::string> properties = {{"message.timeout.ms", "10000"}};
    for (const auto& [key, value] : options_.properties) properties[key] = value;
    auto connected = ingest::KafkaPublisher::Connect(options_.brokers, properties);
    if (!connected.ok()) return connected.status();
    publisher_ = std::move(*connected);
  }
  if (!options_.readings_topic.empty()) {
    // The rows of one reading are consecutive (machine, time): one record each.
    for (size_t i = 0; i < batch.readings.size();) {
      const store::TelemetryRow& first = batch.readings[i];
      nlohmann::json values = nlohmann::json::object();
      size_t j = i;
      for (; j < batch.readings.size() && batch.readings[j].machine == first.machine &&
             batch.readings[j].time_us == first.time_us;
           ++j) {
        if (std::isfinite(batch.readings[j].value)) {
          values[batch.readings[j].sensor] = batch.readings[j].value;
        }
      }
      const nlohmann::json record = {{"machine", first.machine},
                                     {"time", static_cast<double>(first.time_us) / 1e6},
                                     {"values", std::move(values)}};
      PDM_RETURN_IF_ERROR(publisher_->Publish(
          options_.readings_topic, first.machine,
          record.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)));
      i = j;
    }
  }
  if (!options_.risk_topic.empty()) {
    for (const store::PredictionRow& risk : batch.risks) {
      PDM_RETURN_IF_ERROR(
          publisher_->Publish(options_.risk_topic, risk.machine, RiskMessage(risk)));
    }
  }
  if (!options_.alert_topic.empty()) {
    for (const store::AlertRow& alert : batch.alerts) {
      PDM_RETURN_IF_ERROR(
          publisher_->Publish(options_.alert_topic, alert.machine, AlertMessage(alert)));
    }
  }
  return publisher_->Flush();
}

}  // namespace pdm::sink
