// The MQTT source end to end (docs/ingest.md): a real mosquitto on loopback, started and stopped
// here, `pdm serve` subscribed to it through server.yaml, and a Paho client publishing as a
// plant's gateways would. Every reading published is accepted, refused with a reason, or
// counted as a duplicate; readings published while pdm is down, and across a broker restart,
// arrive once it is back (the persistent session).
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <thread>

#include "core/time.h"
#include "mqtt/async_client.h"
#include "nlohmann/json.hpp"
#include "tests/testing/http_client.h"
#include "tests/testing/pdm_cli.h"
#include "tests/testing/sources.h"

namespace pdm {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using testing::Reply;
using testing::Request;
using testing::Send;

// mosquitto from Debian (scripts/setup.sh installs it).
constexpr char kMosquitto[] = "/usr/sbin/mosquitto";

// A mosquitto on 127.0.0.1:port with persistence in `dir`, restartable on the same port.
class Broker {
 public:
  explicit Broker(const fs::path& dir) : dir_(dir), port_(testing::FreePort()) {
    std::ofstream conf(dir_ / "mosquitto.conf");
    conf << "listener " << port_ << " 127.0.0.1\n"
         << "allow_anonymous true\n"
         << "persistence true\n"
         << "persistence_location " << (dir_ / "").string() << "\n"
         << "autosave_interval 1\n"
         << "max_queued_messages 100000\n"
         << "log_dest file " << (dir_ / "mosquitto.log").string() << "\n";
    // As root (CI), mosquitto would switch to its own user, who cannot write `dir`.
    if (::geteuid() == 0) conf << "user root\n";
  }
  ~Broker() { Stop(SIGKILL); }
  bool Start() {
    pid_ = ::fork();
    if (pid_ == 0) {
      ::execl(kMosquitto, kMosquitto, "-c", (dir_ / "mosquitto.conf").c_str(),
              static_cast<char*>(nullptr));
      ::_exit(127);
    }
    // Listening once a TCP connection is accepted.
    for (int i = 0; i < 100; ++i) {
      if (Connects()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }
  // SIGTERM: mosquitto saves its persistent sessions and messages before it exits.
  void Stop(int signal = SIGTERM) {
    if (pid_ <= 0) return;
    ::kill(pid_, signal);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
  uint16_t port() const { return port_; }
  std::string url() const { return "mqtt://127.0.0.1:" + std::to_string(port_); }

 private:
  bool Connects() const {
    try {
      mqtt::async_client probe("tcp://127.0.0.1:" + std::to_string(port_), "probe");
      probe
          .connect(
              mqtt::connect_options_builder().connect_timeout(std::chrono::seconds(1)).finalize())
          ->wait();
      probe.disconnect()->wait();
      return true;
    } catch (const mqtt::exception&) {
      return false;
    }
  }
  fs::path dir_;
  uint16_t port_;
  pid_t pid_ = -1;
};

// A gateway: publishes QoS 1 and waits for the broker's acknowledgement.
class Publisher {
 public:
  explicit Publisher(const Broker& broker)
      : client_("tcp://127.0.0.1:" + std::to_string(broker.port()),
                "gateway-" + std::to_string(::getpid())) {
    client_.connect(mqtt::connect_options_builder().clean_session(true).finalize())->wait();
  }
  ~Publisher() {
    try {
      client_.disconnect()->wait();
    } catch (const mqtt::exception&) {
    }
  }
  void Publish(const std::string& topic, const std::string& payload) {
    client_.publish(topic, payload, 1, false)->wait();
  }

 private:
  mqtt::async_client client_;
};

// A reading of the simulated fleet's sensors at hour `hour` of 2025-03-01.
json Reading(int hour, double vibration, bool with_machine = false, const std::string& id = "") {
  json r = {{"time", core::FormatTimestamp(1740787200 + int64_t{hour} * 3600)},
            {"values",
             {{"load_setpoint", 60},
              {"air_temperature", 20.5},
              {"process_temperature", 42},
              {"bearing_temperature", 51},
              {"vibration_rms", vibration},
              {"pressure", 5.8},
              {"rotational_speed", 1420},
              {"torque", 40},
              {"current", 31}}}};
  if (with_machine) r["machine"] = id;
  return r;
}

// The line protocol of the same reading (nanosecond timestamps).
std::string Line(const std::string& machine, int hour, double vibration) {
  const int64_t ns = (1740787200 + int64_t{hour} * 3600) * int64_t{1000000000};
  return "telemetry,machine=" + machine +
         " load_setpoint=60,air_temperature=20.5,process_temperature=42,bearing_temperature=51,"
         "vibration_rms=" +
         std::to_string(vibration) + ",pressure=5.8,rotational_speed=1420i,torque=40,current=31 " +
         std::to_string(ns);
}

class MqttTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ASSERT_TRUE(fs::exists(kMosquitto)) << kMosquitto << " is missing: run scripts/setup.sh";
    dir_ = new fs::path(testing::TempDir("mqtt"));
    std::string error;
    registry_ = new std::string(testing::TrainedFleetRegistry(*dir_, &error));
    ASSERT_FALSE(registry_->empty()) << error;
  }

  // server.yaml with one MQTT source on `broker`: machines from the topic's second level.
  std::string Config(const Broker& broker) {
    const fs::path path = *dir_ / "server.yaml";
    std::ofstream out(path);
    out << "sources:\n"
        << "  - type: mqtt\n"
        << "    name: plant\n"
        << "    url: " << broker.url() << "\n"
        << "    topics: [plant/+/telemetry]\n"
        << "    client_id: pdm-test\n"
        << "    machine_level: 1\n"
        << "    dead_letter_topic: pdm/dead-letter\n";
    return path.string();
  }

  testing::ServeProcess Serve(const std::string& config) {
    return testing::StartServe({"--registry", *registry_, "--model", "fleet", "--threads", "1",
                                "--config", config, "--drift-window", "off"},
                               "test-token");
  }

  static json Sources(uint16_t port) {
    const json source = testing::FirstSource(port);
    EXPECT_FALSE(source.empty()) << "no source in GET /api/v1/sources";
    return source;
  }

  // Waits until the source has taken `messages` messages (and is connected); its status.
  static json WaitFor(uint16_t port, int64_t messages) {
    json s;
    for (int i = 0; i < 400; ++i) {
      s = Sources(port);
      if (s.value("messages", int64_t{0}) >= messages && s.value("connected", false)) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
    return s;
  }

  // A broker of its own in `name`, started; then the server subscribed to it, connected.
  struct Rig {
    std::unique_ptr<Broker> broker;
    testing::ServeProcess served;
  };
  Rig StartRig(const std::string& name) {
    Rig rig;
    const fs::path broker_dir = *dir_ / name;
    fs::create_directories(broker_dir);
    rig.broker = std::make_unique<Broker>(broker_dir);
    EXPECT_TRUE(rig.broker->Start());
    rig.served = Serve(Config(*rig.broker));
    EXPECT_NE(rig.served.port, 0) << rig.served.first_line;
    if (rig.served.port != 0) {
      EXPECT_TRUE(WaitFor(rig.served.port, 0).value("connected", false));
    }
    return rig;
  }

  static void Kill(testing::ServeProcess* p, int signal) {
    if (p->pid <= 0) return;
    ::kill(p->pid, signal);
    ::waitpid(p->pid, nullptr, 0);
    p->pid = -1;
  }

  static inline fs::path* dir_ = nullptr;
  static inline std::string* registry_ = nullptr;
};

TEST_F(MqttTest, ReadingsInBothPayloadsAreAccountedForOneByOne) {
  Rig rig = StartRig("broker-1");
  ASSERT_FALSE(HasFailure());
  Broker& broker = *rig.broker;
  testing::ServeProcess& served = rig.served;
  json status;

  // The dead letters, as an operator would watch them.
  mqtt::async_client watcher("tcp://127.0.0.1:" + std::to_string(broker.port()), "watcher");
  watcher.start_consuming();
  watcher.connect()->wait();
  watcher.subscribe("pdm/dead-letter", 1)->wait();

  Publisher gateway(broker);
  // 1. JSON: a batch of three hours of m-a (machine from the topic).
  gateway.Publish("plant/m-a/telemetry",
                  json({{"readings", {Reading(0, 2.1), Reading(1, 2.2), Reading(2, 2.3)}}}).dump());
  // 2. Line protocol, two machines' lines: one names another machine than the topic.
  gateway.Publish("plant/m-b/telemetry", Line("m-b", 0, 2.0) + "\n" + Line("m-b", 1, 2.05) + "\n" +
                                             Line("m-z", 1, 2.0) + "\n");
  // 3. The same message again, as at-least-once delivery brings it: duplicates.
  gateway.Publish("plant/m-b/telemetry", Line("m-b", 1, 2.05));
  // 4. Not a payload at all.
  gateway.Publish("plant/m-c/telemetry", "{\"readings\": [oops");
  // 5. A reading the telemetry path refuses: a sensor value that is not a number.
  json bad = Reading(3, 2.4);
  bad["values"]["vibration_rms"] = "high";
  gateway.Publish("plant/m-a/telemetry", bad.dump());

  status = WaitFor(served.port, 5);
  EXPECT_EQ(status["messages"], 5) << status.dump();
  EXPECT_EQ(status["readings_accepted"], 5) << status.dump();
  EXPECT_EQ(status["readings_duplicate"], 1) << status.dump();
  EXPECT_EQ(status["readings_refused"], 2) << status.dump();  // m-z's line, the "high" reading
  EXPECT_EQ(status["messages_malformed"], 1) << status.dump();
  EXPECT_EQ(status["dead_lettered"], 3) << status.dump();
  EXPECT_THAT(status["last_error"].get<std::string>(), ::testing::HasSubstr("vibration_rms"));

  // The machines the source fed, as REST sees them.
  const Reply machine = Send(served.port, Request("GET", "/api/v1/machines/m-a", "", ""));
  ASSERT_EQ(machine.status, 200) << machine.body;
  EXPECT_EQ(json::parse(machine.body)["time"], "2025-03-01T02:00:00Z");
  EXPECT_EQ(Send(served.port, Request("GET", "/api/v1/machines/m-b", "", "")).status, 200);
  EXPECT_EQ(Send(served.port, Request("GET", "/api/v1/machines/m-z", "", "")).status, 404);

  // Prometheus sees the same totals.
  const std::string metrics = Send(served.port, Request("GET", "/metrics", "", "")).body;
  EXPECT_THAT(metrics, ::testing::HasSubstr(
                           "pdm_source_readings_total{result=\"accepted\",source=\"plant\"} 5"));
  EXPECT_THAT(metrics, ::testing::HasSubstr(
                           "pdm_source_readings_total{result=\"duplicate\",source=\"plant\"} 1"));
  EXPECT_THAT(metrics, ::testing::HasSubstr("pdm_source_connected{source=\"plant\"} 1"));

  // Three dead letters, each with its topic and reasons.
  std::vector<json> letters;
  for (int i = 0; i < 3; ++i) {
    mqtt::const_message_ptr m;
    if (!watcher.try_consume_message_for(&m, std::chrono::seconds(5)) || !m) break;
    letters.push_back(json::parse(m->get_payload_str(), nullptr, false));
  }
  ASSERT_EQ(letters.size(), 3u);
  EXPECT_EQ(letters[0]["topic"], "plant/m-b/telemetry");
  EXPECT_THAT(letters[0]["reasons"][0].get<std::string>(),
              ::testing::HasSubstr("line 3: machine 'm-z' is not the topic's ('m-b')"));
  EXPECT_THAT(letters[1]["reasons"][0].get<std::string>(), ::testing::HasSubstr("not valid JSON"));
  EXPECT_EQ(letters[2]["source"], "plant");
  watcher.disconnect()->wait();
  Kill(&served, SIGTERM);
}

TEST_F(MqttTest, NothingIsLostWhilePdmIsDownOrTheBrokerRestarts) {
  const fs::path broker_dir = *dir_ / "broker-2";
  fs::create_directories(broker_dir);
  Broker broker(broker_dir);
  ASSERT_TRUE(broker.Start());
  const std::string config = Config(broker);
  testing::ServeProcess served = Serve(config);
  ASSERT_NE(served.port, 0) << served.first_line;
  ASSERT_TRUE(WaitFor(served.port, 0).value("connected", false));
  {
    Publisher gateway(broker);
    for (int h = 0; h < 10; ++h) gateway.Publish("plant/m-d/telemetry", Reading(h, 2.0).dump());
  }
  json status = WaitFor(served.port, 10);
  ASSERT_EQ(status["readings_accepted"], 10) << status.dump();

  // pdm killed outright; the gateway goes on publishing into its session at the broker.
  Kill(&served, SIGKILL);
  {
    Publisher gateway(broker);
    for (int h = 10; h < 30; ++h) gateway.Publish("plant/m-d/telemetry", Reading(h, 2.0).dump());
  }
  served = Serve(config);
  ASSERT_NE(served.port, 0) << served.first_line;
  status = WaitFor(served.port, 20);
  EXPECT_EQ(status["messages"], 20) << status.dump();
  EXPECT_EQ(status["readings_accepted"], 20) << status.dump();
  EXPECT_EQ(status["readings_refused"], 0) << status.dump();

  // The broker restarts (its persistence keeps pdm's session); pdm reconnects by itself.
  broker.Stop(SIGTERM);
  ASSERT_TRUE(broker.Start());
  {
    Publisher gateway(broker);
    for (int h = 30; h < 40; ++h) gateway.Publish("plant/m-d/telemetry", Reading(h, 2.0).dump());
  }
  // The broker may deliver again what it had sent but not yet seen acknowledged when it went
  // down (at least once): those readings are duplicates, not scored twice and not refusals.
  for (int i = 0; i < 400; ++i) {
    status = WaitFor(served.port, 30);
    if (status["readings_accepted"] >= 30) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  EXPECT_EQ(status["readings_accepted"], 30) << status.dump();
  EXPECT_EQ(status["readings_refused"], 0) << status.dump();
  EXPECT_EQ(
      status["readings_accepted"].get<int64_t>() + status["readings_duplicate"].get<int64_t>(),
      status["messages"].get<int64_t>())
      << "one reading a message, each accepted or a duplicate: " << status.dump();
  EXPECT_GE(status["connection_losses"], 1) << status.dump();
  EXPECT_GE(status["connects"], 2) << status.dump();
  const Reply machine = Send(served.port, Request("GET", "/api/v1/machines/m-d", "", ""));
  ASSERT_EQ(machine.status, 200);
  EXPECT_EQ(json::parse(machine.body)["time"], "2025-03-02T15:00:00Z");  // hour 39
  Kill(&served, SIGTERM);
}

// The number after `word` in `text` ("published 120 readings" -> 120); -1 when absent.
int64_t NumberBefore(const std::string& text, const std::string& word) {
  const size_t at = text.find(" " + word);
  if (at == std::string::npos) return -1;
  size_t start = text.rfind(' ', at - 1);
  start = start == std::string::npos ? 0 : start + 1;
  return std::stoll(text.substr(start, at - start));
}

// `pdm simulate --publish` streams a fleet live, one message per machine and hour over MQTT, or
// one request per hour over HTTP; the server accounts for every reading it sent.
TEST_F(MqttTest, SimulatePublishesAFleetLiveOverMqttAndHttp) {
  Rig rig = StartRig("broker-3");
  ASSERT_FALSE(HasFailure());
  Broker& broker = *rig.broker;
  testing::ServeProcess& served = rig.served;

  const testing::Result mqtt =
      testing::Pdm("simulate --machines 3 --duration 2d --interval 1h --seed 11 --out " +
                   (*dir_ / "published").string() + " --publish " + broker.url() +
                   " --topic 'plant/{machine}/telemetry' --speed 0");
  ASSERT_EQ(mqtt.code, 0) << mqtt.err;
  const int64_t readings = NumberBefore(mqtt.out, "readings in");
  const int64_t messages = NumberBefore(mqtt.out, "messages");
  ASSERT_GT(readings, 3 * 40) << mqtt.out;
  json status = WaitFor(served.port, messages);
  EXPECT_EQ(status["messages"], messages) << status.dump();
  EXPECT_EQ(status["messages_malformed"], 0) << status.dump();
  // The simulator sends some readings twice and some values out of range, on purpose.
  EXPECT_EQ(status["readings_accepted"].get<int64_t>() + status["readings_refused"].get<int64_t>() +
                status["readings_duplicate"].get<int64_t>(),
            readings)
      << status.dump();
  EXPECT_GT(status["readings_accepted"].get<int64_t>(), readings * 9 / 10) << status.dump();

  // Over HTTP, to the telemetry route: a fleet whose readings all come after the first's.
  const std::string scrape_before = Send(served.port, Request("GET", "/metrics", "", "")).body;
  const testing::Result http = testing::Pdm(
      "simulate --machines 2 --duration 1d --interval 1h --seed 12 --start 2026-01-01T00:00:00Z "
      "--out " +
      (*dir_ / "posted").string() + " --publish http://127.0.0.1:" + std::to_string(served.port) +
      " --speed 0");
  ASSERT_EQ(http.code, 0) << http.err;
  const int64_t posted = NumberBefore(http.out, "readings in");
  ASSERT_GT(posted, 2 * 20) << http.out;
  EXPECT_THAT(http.out, ::testing::HasSubstr("times) to http://127.0.0.1:"));
  // Every reading posted went through the telemetry route: accepted or refused (duplicates too).
  const std::string scrape_after = Send(served.port, Request("GET", "/metrics", "", "")).body;
  auto taken = [](const std::string& scrape) {
    double total = 0;
    for (const char* result : {"accepted", "refused"}) {
      const std::string series =
          std::string("pdm_telemetry_readings_total{result=\"") + result + "\"} ";
      const size_t at = scrape.find(series);
      if (at != std::string::npos) total += std::stod(scrape.substr(at + series.size()));
    }
    return total;
  };
  EXPECT_EQ(taken(scrape_after) - taken(scrape_before), static_cast<double>(posted));
  // A wrong scheme is a usage error.
  const testing::Result bad = testing::Pdm("simulate --machines 1 --duration 1h --out " +
                                           (*dir_ / "bad").string() + " --publish ftp://x");
  EXPECT_EQ(bad.code, 2) << bad.err;
  EXPECT_THAT(bad.err, ::testing::HasSubstr(
                           "expected mqtt://host:port, kafka://host:port or http://host:port"));
  Kill(&served, SIGTERM);
}

TEST_F(MqttTest, BadSourceConfigurationsAreRefusedByKey) {
  const fs::path path = *dir_ / "bad.yaml";
  for (const auto& [yaml, expected] : std::vector<std::pair<std::string, std::string>>{
           {"sources: [{type: amqp}]", "sources[0].type: 'amqp': expected mqtt"},
           {"sources: [{type: mqtt, url: 'http://x', topics: [a]}]", "expected mqtt://host:port"},
           {"sources: [{type: mqtt, url: 'mqtt://x:1', topics: []}]", "topics: at least one"},
           {"sources: [{type: mqtt, url: 'mqtt://x:1', topics: [a], qos: 3}]", "qos: expected 0"},
           {"sources: [{type: mqtt, url: 'mqtt://x:1', topics: [a], colour: red}]",
            "sources[0].colour: unknown key"},
           {"sources: [{type: mqtt, url: 'mqtt://x:1', topics: [a], password_env: PDM_NO_SUCH}]",
            "$PDM_NO_SUCH is not set"},
           {"sources: [{type: mqtt, url: 'mqtt://x:1', topics: ['a/#/b']}]",
            "is not a topic pattern"}}) {
    std::ofstream(path) << yaml << "\n";
    const testing::Result r =
        testing::Pdm("serve --registry " + *registry_ + " --port 0 --config " + path.string());
    EXPECT_NE(r.code, 0) << yaml;
    EXPECT_THAT(r.err, ::testing::HasSubstr(expected)) << yaml;
  }
}

}  // namespace
}  // namespace pdm
