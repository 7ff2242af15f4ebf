// The export sinks end to end (docs/ingest.md): a real influxd (InfluxDB 1.x) and a real
// redis-server from Debian on loopback, started and stopped here; `pdm serve` writes the
// telemetry path's readings, risks and alerts to both through server.yaml. InfluxDB is stopped
// mid-stream and restarted: the sink retries, and every point arrives once.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <hiredis/hiredis.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "core/time.h"
#include "nlohmann/json.hpp"
#include "tests/testing/http_client.h"
#include "tests/testing/pdm_cli.h"
#include "tests/testing/serve_config.h"
#include "tests/testing/wait.h"

namespace pdm {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using ::testing::HasSubstr;

constexpr char kInfluxd[] = "/usr/bin/influxd";
constexpr char kRedisServer[] = "/usr/bin/redis-server";

// A child process that dies with the test.
pid_t Spawn(const std::vector<std::string>& words, const fs::path& log) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    ::dup2(fd, STDOUT_FILENO);
    ::dup2(fd, STDERR_FILENO);
    std::vector<char*> argv;
    for (const std::string& w : words) argv.push_back(const_cast<char*>(w.c_str()));
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  return pid;
}

void Stop(pid_t* pid) {
  if (*pid <= 0) return;
  ::kill(*pid, SIGTERM);
  ::waitpid(*pid, nullptr, 0);
  *pid = -1;
}

// influxd with its data in `dir`, on a free port; restartable on the same port and data.
class Influx {
 public:
  explicit Influx(const fs::path& dir) : dir_(dir), port_(testing::FreePort()) {
    const uint16_t rpc = testing::FreePort();
    std::ofstream(dir_ / "influxdb.conf")
        << "reporting-disabled = true\n"
        << "bind-address = \"127.0.0.1:" << rpc << "\"\n"
        << "[meta]\n  dir = \"" << (dir_ / "meta").string() << "\"\n"
        << "[data]\n  dir = \"" << (dir_ / "data").string() << "\"\n"
        << "  wal-dir = \"" << (dir_ / "wal").string() << "\"\n"
        << "  query-log-enabled = false\n"
        << "[http]\n  bind-address = \"127.0.0.1:" << port_ << "\"\n  log-enabled = false\n"
        << "[monitor]\n  store-enabled = false\n";
  }
  ~Influx() { Stop(&pid_); }
  bool Start() {
    pid_ = Spawn({kInfluxd, "-config", (dir_ / "influxdb.conf").string()}, dir_ / "influxd.log");
    return testing::WaitUntil(
        [&] { return testing::Send(port_, testing::Request("GET", "/ping", "")).status == 204; });
  }
  void Halt() { Stop(&pid_); }
  uint16_t port() const { return port_; }
  // The first value of `select` (an InfluxQL query on database pdm), or null.
  json Query(const std::string& select) const {
    std::string q;
    for (const char c : select) {
      if (std::isalnum(static_cast<unsigned char>(c)) != 0) {
        q += c;
      } else {
        char hex[4];
        std::snprintf(hex, sizeof(hex), "%%%02X", static_cast<unsigned char>(c));
        q += hex;
      }
    }
    const testing::Reply r =
        testing::Send(port_, testing::Request("GET", "/query?db=pdm&q=" + q, ""));
    const json body = json::parse(r.body, nullptr, false);
    if (!body.is_object() || !body.contains("results")) return nullptr;
    const json& result = body["results"][0];
    if (!result.contains("series")) return nullptr;
    return result["series"][0]["values"][0];
  }

 private:
  fs::path dir_;
  uint16_t port_;
  pid_t pid_ = -1;
};

class SinksTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new fs::path(testing::TempDir("sinks"));
    std::string error;
    registry_ = new std::string(testing::TrainedFleetRegistry(*dir_, &error));
    ASSERT_FALSE(registry_->empty()) << error;
  }

  static inline fs::path* dir_ = nullptr;
  static inline std::string* registry_ = nullptr;
};

// An hour of `machines` machines' readings (nine sensors each) as a telemetry body.
std::string Hour(int hour, int machines) {
  json readings = json::array();
  for (int m = 0; m < machines; ++m) {
    readings.push_back({{"machine", "m-" + std::to_string(m)},
                        {"time", core::FormatTimestamp(1740787200 + int64_t{hour} * 3600)},
                        {"values",
                         {{"load_setpoint", 60},
                          {"air_temperature", 20.5},
                          {"process_temperature", 42},
                          {"bearing_temperature", 51},
                          {"vibration_rms", 2.0 + 0.1 * m},
                          {"pressure", 5.8},
                          {"rotational_speed", 1420},
                          {"torque", 40},
                          {"current", 31}}}});
  }
  return json({{"readings", readings}}).dump();
}

// A hiredis connection to the test's redis-server.
struct Redis {
  explicit Redis(uint16_t port) {
    const timeval timeout{10, 0};
    context = redisConnectWithTimeout("127.0.0.1", port, timeout);
    if (context != nullptr) redisSetTimeout(context, timeout);
  }
  ~Redis() {
    if (context != nullptr) redisFree(context);
  }
  std::map<std::string, std::string> HashOf(const std::string& key) {
    std::map<std::string, std::string> out;
    auto* reply = static_cast<redisReply*>(redisCommand(context, "HGETALL %s", key.c_str()));
    if (reply == nullptr) return out;
    for (size_t i = 0; i + 1 < reply->elements; i += 2) {
      out[reply->element[i]->str] = reply->element[i + 1]->str;
    }
    freeReplyObject(reply);
    return out;
  }
  redisContext* context = nullptr;
};

TEST_F(SinksTest, ReadingsRisksAndAlertsReachInfluxAndRedis) {
  ASSERT_TRUE(fs::exists(kInfluxd)) << kInfluxd << " is missing: run scripts/setup.sh";
  ASSERT_TRUE(fs::exists(kRedisServer)) << kRedisServer << " is missing: run scripts/setup.sh";
  Influx influx(*dir_);
  ASSERT_TRUE(influx.Start());
  const uint16_t redis_port = testing::FreePort();
  pid_t redis = Spawn({kRedisServer, "--port", std::to_string(redis_port), "--bind", "127.0.0.1",
                       "--save", "", "--appendonly", "no", "--dir", dir_->string()},
                      *dir_ / "redis.log");
  ASSERT_TRUE(testing::WaitUntil([&] {
    Redis probe(redis_port);
    return probe.context != nullptr && probe.context->err == 0;
  }));

  // A subscriber on the alert channel, before anything is published.
  std::vector<json> alerts;
  std::thread subscriber([&] {
    Redis sub(redis_port);
    auto* reply = static_cast<redisReply*>(redisCommand(sub.context, "SUBSCRIBE pdm:alerts"));
    if (reply != nullptr) freeReplyObject(reply);
    void* raw = nullptr;
    while (alerts.size() < 3 && redisGetReply(sub.context, &raw) == REDIS_OK) {
      auto* message = static_cast<redisReply*>(raw);
      if (message->elements == 3) alerts.push_back(json::parse(message->element[2]->str));
      freeReplyObject(message);
    }
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));

  const fs::path config = *dir_ / "server.yaml";
  std::ofstream(config) << "sinks:\n"
                        << "  - {type: influxdb, name: historian, url: 'http://127.0.0.1:"
                        << influx.port() << "', database: pdm, flush_ms: 100, retry_max_ms: 500}\n"
                        << "  - {type: redis, name: live, url: 'redis://127.0.0.1:" << redis_port
                        << "', flush_ms: 100}\n";
  testing::ServeProcess served = testing::StartServe(
      {"--registry", *registry_, "--model", "fleet", "--threads", "1", "--config", config.string(),
       "--drift-window", "off", "--alert-high", "0", "--alert-consecutive", "1"},
      "test-token");
  ASSERT_GT(served.port, 0) << served.first_line;
  auto post = [&](int hour) {
    const testing::Reply r =
        testing::Send(served.port, testing::Request("POST", "/api/v1/telemetry", Hour(hour, 3)));
    EXPECT_EQ(r.status, 200) << r.body;
    return json::parse(r.body, nullptr, false);
  };
  for (int hour = 0; hour < 4; ++hour) post(hour);

  // InfluxDB: a point per machine and hour of readings, and of risks.
  ASSERT_TRUE(testing::WaitUntil([&] {
    const json count = influx.Query("SELECT count(score) FROM pdm_risk");
    return count.is_array() && count[1] == 12;
  })) << influx.Query("SELECT count(score) FROM pdm_risk");
  EXPECT_EQ(influx.Query("SELECT count(vibration_rms) FROM pdm_reading")[1], 12);
  EXPECT_EQ(influx.Query("SELECT last(current) FROM pdm_reading WHERE machine = 'm-2'")[1], 31);
  const json last_hour = post(4);
  EXPECT_EQ(last_hour["accepted"], 3);

  // Redis: each machine's latest risk, as the telemetry answer gave it.
  Redis redis_client(redis_port);
  ASSERT_TRUE(testing::WaitUntil([&] {
    return redis_client.HashOf("pdm:risk:m-1")["time"] == std::to_string(1740787200 + 4 * 3600);
  })) << redis_client.HashOf("pdm:risk:m-1")["time"];
  std::map<std::string, std::string> risk = redis_client.HashOf("pdm:risk:m-1");
  double answered = -1;
  for (const json& m : last_hour["machines"]) {
    if (m["machine"] == "m-1") answered = m.value("probability", m.value("score", -1.0));
  }
  EXPECT_NEAR(std::stod(risk["score"]), answered, 1e-9) << last_hour.dump();
  EXPECT_EQ(risk["model"], "fleet");
  EXPECT_EQ(risk["version"], "1");
  EXPECT_EQ(risk["alarm"].size(), 1u);

  // Alerts: one per machine opened at once (--alert-high 0), on the channel and in InfluxDB.
  subscriber.join();
  ASSERT_EQ(alerts.size(), 3u);
  EXPECT_EQ(alerts[0]["state"], "open");
  EXPECT_EQ(alerts[0]["kind"], "failure_risk");
  EXPECT_THAT(alerts[0]["machine"].get<std::string>(), HasSubstr("m-"));
  ASSERT_TRUE(testing::WaitUntil([&] {
    const json count = influx.Query("SELECT count(id) FROM pdm_alert");
    return count.is_array() && count[1] == 3;
  }));

  // InfluxDB goes away while readings arrive: the sink retries, then writes them all once.
  influx.Halt();
  for (int hour = 5; hour < 8; ++hour) post(hour);
  std::this_thread::sleep_for(std::chrono::milliseconds(800));
  const testing::Reply sources =
      testing::Send(served.port, testing::Request("GET", "/api/v1/sources", ""));
  ASSERT_EQ(sources.status, 200) << sources.body;
  const json answer = json::parse(sources.body);
  json status;
  for (const json& s : answer["sinks"]) {
    if (s["name"] == "historian") status = s;
  }
  ASSERT_TRUE(status.is_object()) << sources.body;
  EXPECT_FALSE(status["connected"].get<bool>()) << status.dump();
  EXPECT_GE(status["retries"], 1) << status.dump();
  EXPECT_THAT(status["last_error"].get<std::string>(), HasSubstr("127.0.0.1")) << status.dump();
  ASSERT_TRUE(influx.Start());
  ASSERT_TRUE(testing::WaitUntil([&] {
    const json count = influx.Query("SELECT count(score) FROM pdm_risk");
    return count.is_array() && count[1] == 24;
  })) << influx.Query("SELECT count(score) FROM pdm_risk");
  EXPECT_EQ(influx.Query("SELECT count(vibration_rms) FROM pdm_reading")[1], 24);

  // Prometheus counts what each sink wrote.
  const std::string metrics =
      testing::Send(served.port, testing::Request("GET", "/metrics", "")).body;
  EXPECT_THAT(metrics, HasSubstr("pdm_sink_points_total{result=\"dropped\",sink=\"historian\"} 0"));
  EXPECT_THAT(metrics, HasSubstr("pdm_sink_connected{sink=\"historian\"} 1"));
  EXPECT_THAT(metrics, HasSubstr("pdm_sink_connected{sink=\"live\"} 1"));

  ::kill(served.pid, SIGTERM);
  int exit_status = 0;
  ::waitpid(served.pid, &exit_status, 0);
  EXPECT_TRUE(WIFEXITED(exit_status) && WEXITSTATUS(exit_status) == 0) << exit_status;
  Stop(&redis);
}

TEST_F(SinksTest, BadSinkConfigurationsAreRefusedByKey) {
  const fs::path path = *dir_ / "bad.yaml";
  testing::ExpectServeRefuses(
      *registry_, path,
      {
          {"sinks: [{type: graphite}]",
           "sinks[0].type: 'graphite': expected influxdb, redis or kafka"},
          {"sinks: [{type: influxdb, url: 'udp://h:8089'}]", "expected http://host:8086"},
          {"sinks: [{type: redis, url: 'redis://h:0'}]", "expected redis://host:port[/db]"},
          {"sinks: [{type: redis, url: 'redis://h', batch: 0}]",
           "sinks[0].batch: expected a positive"},
          {"sinks: [{type: influxdb, url: 'http://h', colour: red}]",
           "sinks[0].colour: unknown key"},
          {"sinks: [{type: redis, url: 'redis://h', password_env: PDM_NO_SUCH}]",
           "$PDM_NO_SUCH is not set"},
      });
}

}  // namespace
}  // namespace pdm
