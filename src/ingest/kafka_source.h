// The Kafka source: a consumer group on telemetry topics keyed by machine id (docs/ingest.md,
// ADR 0021). librdkafka (Debian librdkafka-dev).
//
// Records are keyed by machine, so a partition holds whole machines and each replica of a group
// owns whole machines. A record's offset is stored for commit only after the telemetry path has
// taken its readings (committed every second, and synchronously when partitions are revoked), so
// a replica killed mid-stream leaves its uncommitted records to the next owner: nothing is lost,
// and a record applied but not committed comes again as duplicates, which the path counts and
// never scores twice. On a rebalance the replica that gives partitions up hands the states of
// their machines over through the Store (`StateHandoff`); the new owner restores a machine's
// state before its first record.
#ifndef PDM_INGEST_KAFKA_SOURCE_H_
#define PDM_INGEST_KAFKA_SOURCE_H_

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "ingest/source.h"

namespace pdm::ingest {

// How machines' online states travel between the replicas of a consumer group.
struct StateHandoff {
  // Saves the states of `machines` (to the Store) before their partitions go to another
  // replica; how many it saved.
  std::function<size_t(const std::vector<std::string>& machines)> save;
  // Restores `machine`'s state (from the Store) when the saved one is newer than the local one;
  // whether it did.
  std::function<bool(const std::string& machine)> restore;
};

struct KafkaSourceOptions {
  std::string name = "kafka";       // in metrics, logs and GET /api/v1/sources
  std::string brokers;              // bootstrap servers: host:port[,host:port...]
  std::vector<std::string> topics;  // records keyed by machine id
  std::string group_id = "pdm";     // the consumer group: every replica of one fleet
  MessageOptions message;
  // Malformed records and refused readings are produced here with the reasons; empty: counted.
  std::string dead_letter_topic;
  // More librdkafka settings (security.protocol, sasl.*, ssl.ca.location, ...).
  std::map<std::string, std::string> properties;
};

// Checks the options (brokers, topics, group) without connecting.
absl::Status ValidateKafkaOptions(const KafkaSourceOptions& options);
// Checks that librdkafka knows every setting and takes its value.
absl::Status ValidateKafkaProperties(const std::map<std::string, std::string>& properties);

class KafkaSource : public Source {
 public:
  // REQUIRES: ValidateKafkaOptions(options).ok(). `handoff` may have empty functions.
  KafkaSource(KafkaSourceOptions options, TelemetryHandler handler, StateHandoff handoff = {});
  ~KafkaSource() override;
  KafkaSource(const KafkaSource&) = delete;
  KafkaSource& operator=(const KafkaSource&) = delete;

  // Joins the group and consumes on a thread of its own.
  void Start() override;
  // Finishes the record being applied, commits, hands its machines over and leaves the group.
  void Stop() override;

  const std::string& name() const override { return options_.name; }
  std::string Describe() const override;
  // {"name", "type": "kafka", "brokers", "topics", "group_id", "connected", "partitions" (owned
  //  now), "rebalances", "states_saved", "states_restored", "last_error", counters...}
  nlohmann::json Status() const override;

 private:
  class Impl;
  const KafkaSourceOptions options_;
  SourceCounters counters_;
  LastError last_error_;
  std::unique_ptr<Impl> impl_;
};

// Produces keyed records (`pdm simulate --publish kafka://`, the benchmarks and tests).
class KafkaPublisher {
 public:
  // `properties`: librdkafka settings on top of pdm's (SASL, TLS, ...).
  static absl::StatusOr<std::unique_ptr<KafkaPublisher>> Connect(
      const std::string& brokers, const std::map<std::string, std::string>& properties = {});
  ~KafkaPublisher();
  KafkaPublisher(const KafkaPublisher&) = delete;
  KafkaPublisher& operator=(const KafkaPublisher&) = delete;

  // Queues one record (waiting while librdkafka's queue is full).
  absl::Status Publish(const std::string& topic, const std::string& key,
                       const std::string& payload);
  // Waits until every record queued is acknowledged (or failed: the error says how many).
  absl::Status Flush();

 private:
  class Impl;
  explicit KafkaPublisher(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace pdm::ingest

#endif  // PDM_INGEST_KAFKA_SOURCE_H_
