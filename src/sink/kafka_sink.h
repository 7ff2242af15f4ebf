// The Kafka sink: risk scores and alerts (and optionally readings) produced to topics keyed by
// machine, so that other services, another plant system or another pdm follow the fleet's
// state from the log (docs/ingest.md). librdkafka, through ingest::KafkaPublisher.
//
//   <risk_topic>      {"machine", "time", "score", "alarm", "model", "version"}
//   <alert_topic>     AlertMessage: every alert as it opens, escalates or changes state
//   <readings_topic>  {"machine", "time", "values": {...}}: pdm's telemetry JSON, one record per
//                     reading (a Kafka source of another pdm reads it as it is)
//
// A batch is written when every record of it is acknowledged (acks=all, an idempotent
// producer); a batch that fails is produced again after a backoff, so delivery is at least
// once: a consumer deduplicates by machine and time (pdm's own sources do).
#ifndef PDM_SINK_KAFKA_SINK_H_
#define PDM_SINK_KAFKA_SINK_H_

#include <map>
#include <memory>
#include <string>

#include "ingest/kafka_source.h"
#include "sink/sink.h"

namespace pdm::sink {

struct KafkaSinkOptions {
  std::string name = "kafka";
  std::string brokers;                            // host:port[,host:port...]
  std::string risk_topic = "pdm.risk";            // empty: risk scores are not produced
  std::string alert_topic = "pdm.alerts";         // empty: alerts are not produced
  std::string readings_topic;                     // empty (default): readings are not produced
  std::map<std::string, std::string> properties;  // librdkafka settings (SASL, TLS, ...)
  QueueOptions queue;
};

absl::Status ValidateKafkaSinkOptions(const KafkaSinkOptions& options);

class KafkaSink : public Sink {
 public:
  explicit KafkaSink(KafkaSinkOptions options);
  ~KafkaSink() override;
  std::string Describe() const override;

 protected:
  absl::Status Write(const Batch& batch, bool* permanent) override;

 private:
  const KafkaSinkOptions options_;
  std::unique_ptr<ingest::KafkaPublisher> publisher_;  // the writer thread's own
};

}  // namespace pdm::sink

#endif  // PDM_SINK_KAFKA_SINK_H_
