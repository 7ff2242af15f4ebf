// The Kafka source end to end (docs/ingest.md): librdkafka's mock cluster, made in this process
// and listening on loopback, is the broker; two `pdm serve` replicas in one consumer group share
// a registry. Records are keyed by machine. A rebalance (a second replica joins, then the first
// leaves) loses no reading and counts none twice, and each machine's online state follows it to
// its new owner through the Store.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <thread>

#include "core/time.h"
#include "ingest/kafka_source.h"
#include "nlohmann/json.hpp"
#include "tests/testing/http_client.h"
#include "tests/testing/pdm_cli.h"
#include "tests/testing/serve_config.h"
#include "tests/testing/sources.h"
#include "tests/testing/wait.h"

namespace pdm {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using ::testing::HasSubstr;

constexpr char kTopic[] = "telemetry";
constexpr char kDeadLetters[] = "pdm-dead-letter";
constexpr int kMachines = 8;

// A one-broker Kafka cluster in this process (librdkafka's mock), on 127.0.0.1.
class MockCluster {
 public:
  MockCluster() {
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    char error[512];
    handle_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, error, sizeof(error));
    cluster_ = rd_kafka_mock_cluster_new(handle_, 1);
    rd_kafka_mock_topic_create(cluster_, kTopic, 4, 1);
    rd_kafka_mock_topic_create(cluster_, kDeadLetters, 1, 1);
    for (const char* output : {"pdm.risk", "pdm.alerts", "pdm.readings"}) {
      rd_kafka_mock_topic_create(cluster_, output, 2, 1);
    }
  }
  ~MockCluster() {
    rd_kafka_mock_cluster_destroy(cluster_);
    rd_kafka_destroy(handle_);
  }
  std::string brokers() const { return rd_kafka_mock_cluster_bootstraps(cluster_); }

  // Every record of `topic` (from the beginning), by a consumer of its own.
  std::vector<std::string> ReadAll(const std::string& topic, size_t expected) {
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    char error[512];
    rd_kafka_conf_set(conf, "bootstrap.servers", brokers().c_str(), error, sizeof(error));
    rd_kafka_conf_set(conf, "group.id", ("test-reader-" + topic).c_str(), error, sizeof(error));
    rd_kafka_conf_set(conf, "auto.offset.reset", "earliest", error, sizeof(error));
    rd_kafka_t* consumer = rd_kafka_new(RD_KAFKA_CONSUMER, conf, error, sizeof(error));
    rd_kafka_poll_set_consumer(consumer);
    rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(list, topic.c_str(), RD_KAFKA_PARTITION_UA);
    rd_kafka_subscribe(consumer, list);
    rd_kafka_topic_partition_list_destroy(list);
    std::vector<std::string> out;
    const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (out.size() < expected && std::chrono::steady_clock::now() < end) {
      rd_kafka_message_t* m = rd_kafka_consumer_poll(consumer, 100);
      if (m == nullptr) continue;
      if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        out.emplace_back(static_cast<const char*>(m->payload), m->len);
      }
      rd_kafka_message_destroy(m);
    }
    rd_kafka_consumer_close(consumer);
    rd_kafka_destroy(consumer);
    return out;
  }

 private:
  rd_kafka_t* handle_ = nullptr;
  rd_kafka_mock_cluster_t* cluster_ = nullptr;
};

std::string MachineId(int m) { return "m-" + std::to_string(m); }

// A reading of machine-less JSON (the key names the machine) at hour `hour` of 2025-03-01.
std::string Reading(int hour, double vibration) {
  return json({{"time", core::FormatTimestamp(1740787200 + int64_t{hour} * 3600)},
               {"values",
                {{"load_setpoint", 60},
                 {"air_temperature", 20.5},
                 {"process_temperature", 42},
                 {"bearing_temperature", 51},
                 {"vibration_rms", vibration},
                 {"pressure", 5.8},
                 {"rotational_speed", 1420},
                 {"torque", 40},
                 {"current", 31}}}})
      .dump();
}

// Hours [from, to) of every machine, hour by hour.
void PublishHours(ingest::KafkaPublisher* publisher, int from, int to) {
  for (int hour = from; hour < to; ++hour) {
    for (int m = 0; m < kMachines; ++m) {
      ASSERT_TRUE(publisher->Publish(kTopic, MachineId(m), Reading(hour, 2.0 + 0.01 * m)).ok());
    }
  }
  ASSERT_TRUE(publisher->Flush().ok());
}

class KafkaTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new fs::path(testing::TempDir("kafka"));
    std::string error;
    registry_ = new std::string(testing::TrainedFleetRegistry(*dir_, &error));
    ASSERT_FALSE(registry_->empty()) << error;
  }

  std::string Config(const MockCluster& cluster, const std::string& topic = kTopic,
                     const std::string& group = "pdm-fleet") {
    const fs::path path = *dir_ / ("server-" + group + ".yaml");
    std::ofstream(path) << "sources:\n"
                        << "  - type: kafka\n"
                        << "    name: fleet-log\n"
                        << "    brokers: " << cluster.brokers() << "\n"
                        << "    topics: [" << topic << "]\n"
                        << "    group_id: " << group << "\n"
                        << "    dead_letter_topic: " << kDeadLetters << "\n"
                        << "    properties: {session.timeout.ms: '6000', "
                        << "heartbeat.interval.ms: '500'}\n";
    return path.string();
  }

  testing::ServeProcess Serve(const std::string& config) {
    return testing::StartServe({"--registry", *registry_, "--model", "fleet", "--threads", "1",
                                "--config", config, "--drift-window", "off"},
                               "test-token");
  }

  static json Source(uint16_t port) { return testing::FirstSource(port); }

  // The machine's count of readings in its 7-day window, as its owner's features say.
  static int64_t ReadingsInWeek(uint16_t port, const std::string& machine) {
    const testing::Reply r =
        testing::Send(port, testing::Request("GET", "/api/v1/machines/" + machine, "", ""));
    if (r.status != 200) return -1;
    const json detail = json::parse(r.body, nullptr, false);
    if (!detail.contains("windows") || !detail["windows"].contains("vibration_rms")) return -1;
    for (const auto& [name, value] : detail["windows"]["vibration_rms"].items()) {
      if (name.find("count") != std::string::npos && name.ends_with("7d") && value.is_number()) {
        return static_cast<int64_t>(value.get<double>());
      }
    }
    return -1;
  }

  static int64_t Total(const json& a, const json& b, const char* key) {
    return a.value(key, int64_t{0}) + b.value(key, int64_t{0});
  }

  static inline fs::path* dir_ = nullptr;
  static inline std::string* registry_ = nullptr;
};

TEST_F(KafkaTest, ARebalanceLosesNothingCountsNothingTwiceAndMovesTheStates) {
  MockCluster cluster;
  auto publisher = ingest::KafkaPublisher::Connect(cluster.brokers());
  ASSERT_TRUE(publisher.ok()) << publisher.status();
  const std::string config = Config(cluster);

  // Replica A alone: a day of every machine, and one malformed record.
  testing::ServeProcess a = Serve(config);
  ASSERT_GT(a.port, 0) << a.first_line;
  PublishHours(publisher->get(), 0, 24);
  ASSERT_TRUE((*publisher)->Publish(kTopic, MachineId(0), "{not json").ok());
  ASSERT_TRUE((*publisher)->Flush().ok());
  ASSERT_TRUE(testing::WaitUntil([&] {
    return Source(a.port).value("messages", 0) >= 24 * kMachines + 1;
  })) << Source(a.port).dump();
  json sa = Source(a.port);
  EXPECT_EQ(sa["readings_accepted"], 24 * kMachines) << sa.dump();
  EXPECT_EQ(sa["messages_malformed"], 1);
  EXPECT_EQ(sa["dead_lettered"], 1);
  EXPECT_EQ(sa["partitions"].size(), 4u);

  // Replica B joins: the group rebalances, A commits and saves its machines' states.
  testing::ServeProcess b = Serve(config);
  ASSERT_GT(b.port, 0) << b.first_line;
  ASSERT_TRUE(testing::WaitUntil([&] {
    return !Source(a.port)["partitions"].empty() && !Source(b.port)["partitions"].empty() &&
           Source(a.port)["partitions"].size() + Source(b.port)["partitions"].size() == 4;
  })) << Source(a.port).dump()
      << Source(b.port).dump();
  EXPECT_GE(Source(a.port)["states_saved"], kMachines) << Source(a.port).dump();

  // A second day, split between the two by partition. Each reading is accepted exactly once:
  // what a replica had applied but not committed when it gave its partitions up comes again to
  // the new owner, which knows it for a duplicate from the state handed over.
  PublishHours(publisher->get(), 24, 48);
  ASSERT_TRUE(testing::WaitUntil([&] {
    return Total(Source(a.port), Source(b.port), "readings_accepted") >= 48 * kMachines;
  })) << Source(a.port).dump()
      << Source(b.port).dump();
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // nothing more may come
  sa = Source(a.port);
  json sb = Source(b.port);
  EXPECT_EQ(Total(sa, sb, "readings_accepted"), 48 * kMachines) << sa.dump() << sb.dump();
  EXPECT_EQ(Total(sa, sb, "readings_refused"), 0);
  EXPECT_GT(sb["readings_accepted"], 0) << sb.dump();
  EXPECT_GT(sb["states_restored"], 0) << sb.dump();

  // A leaves (SIGTERM): it commits and hands every machine it held to B.
  sa = Source(a.port);
  ::kill(a.pid, SIGTERM);
  int status = 0;
  ::waitpid(a.pid, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  ASSERT_TRUE(testing::WaitUntil([&] { return Source(b.port)["partitions"].size() == 4; }))
      << Source(b.port).dump();
  PublishHours(publisher->get(), 48, 60);
  const int64_t a_accepted = sa["readings_accepted"].get<int64_t>();
  ASSERT_TRUE(testing::WaitUntil([&] {
    return a_accepted + Source(b.port).value("readings_accepted", int64_t{0}) >= 60 * kMachines;
  })) << sa.dump()
      << Source(b.port).dump();
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  sb = Source(b.port);
  EXPECT_EQ(a_accepted + sb["readings_accepted"].get<int64_t>(), 60 * kMachines)
      << sa.dump() << sb.dump();
  EXPECT_EQ(sb["readings_refused"], 0) << sb.dump();
  // Every record was taken: accepted, a duplicate, or the malformed one (perhaps again).
  EXPECT_GE(Total(sa, sb, "messages"), 60 * kMachines + 1);
  EXPECT_EQ(Total(sa, sb, "messages"), Total(sa, sb, "readings_accepted") +
                                           Total(sa, sb, "readings_duplicate") +
                                           Total(sa, sb, "messages_malformed"));

  // Every machine's state came along: B's 7-day windows hold all 60 hours, A's included.
  for (int m = 0; m < kMachines; ++m) {
    EXPECT_EQ(ReadingsInWeek(b.port, MachineId(m)), 60) << MachineId(m);
  }

  // The malformed record is a dead letter with its reason.
  const std::vector<std::string> letters = cluster.ReadAll(kDeadLetters, 1);
  ASSERT_EQ(letters.size(), 1u);
  const json letter = json::parse(letters[0]);
  EXPECT_EQ(letter["topic"], kTopic);
  EXPECT_THAT(letter["reasons"][0].get<std::string>(), HasSubstr("not valid JSON"));

  ::kill(b.pid, SIGTERM);
  ::waitpid(b.pid, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
}

// `pdm simulate --publish kafka://` streams a fleet as records keyed by machine; the server
// accounts for every reading sent.
TEST_F(KafkaTest, SimulatePublishesAFleetAsKeyedRecords) {
  MockCluster cluster;
  testing::ServeProcess served = Serve(Config(cluster, "sim", "pdm-sim"));
  ASSERT_GT(served.port, 0) << served.first_line;
  const testing::Result sent =
      testing::Pdm("simulate --machines 3 --duration 2d --interval 1h --seed 11 --out " +
                   (*dir_ / "published").string() + " --publish kafka://" + cluster.brokers() +
                   " --topic sim --speed 0");
  ASSERT_EQ(sent.code, 0) << sent.err;
  // "published N readings in M messages ..."
  const size_t at = sent.out.find(" readings in");
  ASSERT_NE(at, std::string::npos) << sent.out;
  const int64_t readings = std::stoll(sent.out.substr(sent.out.rfind(' ', at - 1) + 1));
  ASSERT_GT(readings, 3 * 40) << sent.out;
  json s;
  ASSERT_TRUE(testing::WaitUntil([&] {
    s = Source(served.port);
    return s.value("readings_accepted", int64_t{0}) + s.value("readings_refused", int64_t{0}) +
               s.value("readings_duplicate", int64_t{0}) >=
           readings;
  })) << s.dump();
  // The simulator sends some readings twice and some values out of range, on purpose.
  EXPECT_EQ(s["readings_accepted"].get<int64_t>() + s["readings_refused"].get<int64_t>() +
                s["readings_duplicate"].get<int64_t>(),
            readings)
      << s.dump();
  EXPECT_GT(s["readings_accepted"].get<int64_t>(), readings * 9 / 10) << s.dump();
  EXPECT_EQ(s["messages_malformed"], 0);
  // A Kafka topic names no machine.
  const testing::Result bad =
      testing::Pdm("simulate --machines 1 --duration 1h --out " + (*dir_ / "bad").string() +
                   " --publish kafka://" + cluster.brokers() + " --topic 'plant/{machine}'");
  EXPECT_EQ(bad.code, 2) << bad.err;
  EXPECT_THAT(bad.err, HasSubstr("a Kafka topic names no machine"));
  ::kill(served.pid, SIGTERM);
  int status = 0;
  ::waitpid(served.pid, &status, 0);
}

// The Kafka sink: each scored reading's risk, each alert and each reading produced to topics
// keyed by machine, while the Kafka source feeds the server from another topic.
TEST_F(KafkaTest, RiskAlertsAndReadingsAreProducedToOutputTopics) {
  MockCluster cluster;
  auto publisher = ingest::KafkaPublisher::Connect(cluster.brokers());
  ASSERT_TRUE(publisher.ok()) << publisher.status();
  const std::string config = Config(cluster, kTopic, "pdm-out");
  std::ofstream(config, std::ios::app) << "sinks:\n"
                                       << "  - type: kafka\n"
                                       << "    brokers: " << cluster.brokers() << "\n"
                                       << "    readings_topic: pdm.readings\n"
                                       << "    flush_ms: 100\n";
  // Every scored reading risky enough to open a critical alert: one per machine.
  testing::ServeProcess served =
      testing::StartServe({"--registry", *registry_, "--model", "fleet", "--threads", "1",
                           "--config", config, "--drift-window", "off", "--alert-high", "0.000001"},
                          "test-token");
  ASSERT_GT(served.port, 0) << served.first_line;
  // Hours after those of the other tests: the store holds machine states they saved, which
  // this server restores, so earlier readings would be out of order.
  constexpr int kHours = 6, kFirstHour = 1000;
  PublishHours(publisher->get(), kFirstHour, kFirstHour + kHours);
  ASSERT_TRUE(testing::WaitUntil([&] {
    return Source(served.port).value("readings_accepted", 0) >= kHours * kMachines;
  })) << Source(served.port).dump();

  const std::vector<std::string> risks = cluster.ReadAll("pdm.risk", kHours * kMachines);
  ASSERT_EQ(risks.size(), static_cast<size_t>(kHours * kMachines));
  std::map<std::string, int> per_machine;
  for (const std::string& text : risks) {
    const json risk = json::parse(text);
    ++per_machine[risk["machine"].get<std::string>()];
    EXPECT_TRUE(risk["score"].is_number()) << text;
    EXPECT_EQ(risk["model"], "fleet") << text;
    EXPECT_TRUE(risk.contains("alarm") && risk.contains("time") && risk.contains("version"));
  }
  EXPECT_EQ(per_machine.size(), static_cast<size_t>(kMachines));
  for (const auto& [machine, count] : per_machine) EXPECT_EQ(count, kHours) << machine;

  const std::vector<std::string> alerts = cluster.ReadAll("pdm.alerts", kMachines);
  ASSERT_GE(alerts.size(), static_cast<size_t>(kMachines));
  std::set<std::string> alerted;
  for (const std::string& text : alerts) {
    const json alert = json::parse(text);
    EXPECT_EQ(alert["severity"], "critical") << text;
    alerted.insert(alert["machine"].get<std::string>());
  }
  EXPECT_EQ(alerted.size(), static_cast<size_t>(kMachines));

  // A reading record is pdm's telemetry JSON: the readings of another pdm's Kafka source.
  const std::vector<std::string> readings = cluster.ReadAll("pdm.readings", kHours * kMachines);
  ASSERT_EQ(readings.size(), static_cast<size_t>(kHours * kMachines));
  const json reading = json::parse(readings.front());
  EXPECT_TRUE(reading["time"].is_number()) << readings.front();
  EXPECT_EQ(reading["values"]["rotational_speed"], 1420) << readings.front();

  const json sinks = json::parse(
      testing::Send(served.port, testing::Request("GET", "/api/v1/sources", "", "")).body)["sinks"];
  ASSERT_EQ(sinks.size(), 1u);
  EXPECT_EQ(sinks[0]["type"], "kafka");
  EXPECT_EQ(sinks[0]["points_dropped"], 0);
  ::kill(served.pid, SIGTERM);
  ::waitpid(served.pid, nullptr, 0);
}

TEST_F(KafkaTest, BadKafkaConfigurationsAreRefusedByKey) {
  const fs::path path = *dir_ / "bad.yaml";
  testing::ExpectServeRefuses(
      *registry_, path,
      {
          {"sources: [{type: kafka, topics: [t]}]", "brokers: expected host:port"},
          {"sources: [{type: kafka, brokers: 'h:9092', topics: []}]", "topics: at least one"},
          {"sources: [{type: kafka, brokers: 'h:9092', topics: [t], group_id: ''}]",
           "group_id: missing"},
          {"sources: [{type: kafka, brokers: 'h:9092', topics: [t], properties: {no.such: 1}}]",
           "kafka setting no.such"},
          {"sources: [{type: kafka, brokers: 'h:9092', topics: [t], partitions: 3}]",
           "sources[0].partitions: unknown key"},
          {"sinks: [{type: kafka, brokers: 'h:9092', risk_topic: '', alert_topic: ''}]",
           "nothing to produce"},
          {"sinks: [{type: kafka, risk_topic: r}]", "brokers: expected host:port"},
          {"sinks: [{type: kafka, brokers: 'h:9092', properties: {no.such: 1}}]",
           "kafka setting no.such"},
      });
}

}  // namespace
}  // namespace pdm
