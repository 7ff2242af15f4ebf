// The Modbus TCP source (docs/ingest.md): libmodbus servers on loopback, started here, play the
// PLCs. First the poller on its own (what each poll sends, and the faults: a device that stops
// answering, one that goes away and comes back, a map naming registers the device lacks), then
// `pdm serve` polling two devices through server.yaml, end to end into the served model.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

#include "ingest/modbus_source.h"
#include "ingest/source_config.h"
#include "nlohmann/json.hpp"
#include "tests/testing/http_client.h"
#include "tests/testing/modbus_server.h"
#include "tests/testing/pdm_cli.h"

namespace pdm {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using std::chrono::milliseconds;
using ::testing::HasSubstr;
using testing::ModbusServer;

// The bodies a source sent, answered as the telemetry path would answer a good reading.
class Recorder {
 public:
  ingest::TelemetryHandler Handler() {
    return [this](json body) {
      std::lock_guard lock(mu_);
      bodies_.push_back(body);
      ingest::IngestOutcome o;
      o.accepted = body["readings"].size();
      return o;
    };
  }
  std::vector<json> Bodies() {
    std::lock_guard lock(mu_);
    return bodies_;
  }
  size_t Count() { return Bodies().size(); }

 private:
  std::mutex mu_;
  std::vector<json> bodies_;
};

// Waits up to `limit` for `done`; whether it came.
template <typename F>
bool WaitUntil(F done, milliseconds limit = milliseconds(10000)) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (done()) return true;
    std::this_thread::sleep_for(milliseconds(10));
  }
  return done();
}

// One device's map: a float (input, low word first), a scaled int16 and a uint16 (holding).
ingest::RegisterMap PressMap() {
  auto map = ingest::ParseRegisterMap(R"(
registers:
  - {column: vibration_rms, table: input, address: 4, type: float32, word_order: little}
  - {column: bearing_temperature, address: 0, type: int16, scale: 0.1}
  - {column: rotational_speed, address: 1}
)",
                                      "press.yaml");
  EXPECT_TRUE(map.ok()) << map.status();
  return *map;
}

ingest::ModbusSourceOptions Options(const ModbusServer& server) {
  ingest::ModbusSourceOptions o;
  o.name = "line";
  o.poll_interval = milliseconds(50);
  o.timeout = milliseconds(200);
  o.retry_min = milliseconds(50);
  o.retry_max = milliseconds(200);
  o.stale_after = 3;
  ingest::ModbusDevice d;
  d.machine = "press-1";
  d.host = "127.0.0.1";
  d.port = server.port();
  d.unit = 1;
  d.registers = PressMap();
  o.devices.push_back(d);
  return o;
}

TEST(ModbusPollerTest, EachPollIsOneReadingOfTheDevicesMachine) {
  ModbusServer plc;
  ASSERT_TRUE(plc.Start());
  plc.SetInput32(4, ModbusServer::FloatBits(3.75f), /*big=*/false);
  plc.SetHolding(0, static_cast<uint16_t>(-125));  // -12.5 degC
  plc.SetHolding(1, 1480);
  Recorder recorder;
  ingest::ModbusSource source(Options(plc), recorder.Handler());
  source.Start();
  ASSERT_TRUE(WaitUntil([&] { return recorder.Count() >= 5; }));
  plc.SetHolding(1, 1500);
  const size_t before = recorder.Count();
  ASSERT_TRUE(WaitUntil([&] { return recorder.Count() >= before + 3; }));
  source.Stop();

  const std::vector<json> bodies = recorder.Bodies();
  double last_time = 0;
  for (const json& body : bodies) {
    ASSERT_EQ(body["readings"].size(), 1u) << body.dump();
    const json& r = body["readings"][0];
    EXPECT_EQ(r["machine"], "press-1");
    EXPECT_EQ(r["values"]["vibration_rms"], 3.75);
    EXPECT_NEAR(r["values"]["bearing_temperature"].get<double>(), -12.5, 1e-9);
    // Times rise with the polls, about one interval apart.
    const double t = r["time"].get<double>();
    EXPECT_GT(t, last_time);
    last_time = t;
  }
  EXPECT_EQ(bodies.front()["readings"][0]["values"]["rotational_speed"], 1480);
  EXPECT_EQ(bodies.back()["readings"][0]["values"]["rotational_speed"], 1500);
  // Two tables: two requests a poll (the holding registers 0-1 in one).
  EXPECT_LE(plc.requests(), static_cast<int64_t>(2 * bodies.size() + 2));

  const json status = source.Status();
  EXPECT_EQ(status["type"], "modbus");
  EXPECT_EQ(status["messages"], static_cast<int64_t>(bodies.size())) << status.dump();
  EXPECT_EQ(status["readings_accepted"], static_cast<int64_t>(bodies.size()));
  EXPECT_EQ(status["polls_failed"], 0);
  EXPECT_EQ(status["connects"], 1);
  EXPECT_EQ(status["devices"][0]["polls"], static_cast<int64_t>(bodies.size()));
  EXPECT_FALSE(status["devices"][0]["stale"].get<bool>());
}

TEST(ModbusPollerTest, ADeviceThatStopsAnsweringGoesStaleAndRecovers) {
  ModbusServer plc;
  ASSERT_TRUE(plc.Start());
  Recorder recorder;
  ingest::ModbusSource source(Options(plc), recorder.Handler());
  source.Start();
  ASSERT_TRUE(WaitUntil([&] { return recorder.Count() >= 3; }));

  plc.SetAnswering(false);  // requests read, never answered
  // Stale once three intervals pass unread, which may come before the first timeout.
  ASSERT_TRUE(WaitUntil([&] {
    const json s = source.Status();
    return s["devices"][0]["stale"].get<bool>() && s["polls_failed"].get<int64_t>() >= 1;
  }));
  json status = source.Status();
  EXPECT_GE(status["connection_losses"], 1);  // a timeout drops the connection
  EXPECT_EQ(status["stale_devices"], 1);
  EXPECT_THAT(status["devices"][0]["last_error"].get<std::string>(), HasSubstr("press-1: read"));
  // While it hangs, nothing is sent: a poll that read nothing makes no reading.
  const size_t during = recorder.Count();
  std::this_thread::sleep_for(milliseconds(300));
  EXPECT_LE(recorder.Count(), during + 1);  // at most a poll that was answered just before

  plc.SetAnswering(true);
  ASSERT_TRUE(WaitUntil([&] { return recorder.Count() >= during + 5; }));
  ASSERT_TRUE(WaitUntil([&] { return !source.Status()["devices"][0]["stale"].get<bool>(); }));
  status = source.Status();
  EXPECT_TRUE(status["connected"].get<bool>()) << status.dump();
  EXPECT_GE(status["connects"], 2);  // reconnected after the timeouts
  // Every poll either made a reading or counted as failed.
  EXPECT_EQ(status["messages"], status["devices"][0]["polls"]);
  source.Stop();
}

TEST(ModbusPollerTest, ADeviceThatGoesAwayIsReconnectedWhenItComesBack) {
  ModbusServer plc;
  ASSERT_TRUE(plc.Start());
  Recorder recorder;
  ingest::ModbusSource source(Options(plc), recorder.Handler());
  source.Start();
  ASSERT_TRUE(WaitUntil([&] { return recorder.Count() >= 3; }));
  plc.Stop();  // connection closed, port refused
  ASSERT_TRUE(WaitUntil([&] { return !source.Status()["connected"].get<bool>(); }));
  ASSERT_TRUE(WaitUntil([&] { return source.Status()["devices"][0]["stale"].get<bool>(); }));
  const json down = source.Status();
  EXPECT_THAT(down["last_error"].get<std::string>(), HasSubstr("press-1: connect to 127.0.0.1"));
  const size_t during = recorder.Count();

  ASSERT_TRUE(plc.Start());  // the same port
  ASSERT_TRUE(WaitUntil([&] { return recorder.Count() >= during + 3; }));
  const json up = source.Status();
  EXPECT_TRUE(up["connected"].get<bool>()) << up.dump();
  EXPECT_FALSE(up["devices"][0]["stale"].get<bool>());
  EXPECT_GE(up["connects"], 2);
  source.Stop();
}

TEST(ModbusPollerTest, AMapNamingMissingRegistersFailsItsPollsAndKeepsTheConnection) {
  ModbusServer plc;
  ASSERT_TRUE(plc.Start());
  ingest::ModbusSourceOptions o = Options(plc);
  o.devices[0].registers.fields[2].address = ModbusServer::kRegisters + 10;  // beyond the device's
  Recorder recorder;
  ingest::ModbusSource source(o, recorder.Handler());
  source.Start();
  ASSERT_TRUE(WaitUntil([&] { return source.Status()["polls_failed"].get<int64_t>() >= 3; }));
  source.Stop();
  const json status = source.Status();
  EXPECT_EQ(recorder.Count(), 0u);
  // The device answered with an exception: the connection stays.
  EXPECT_EQ(status["connects"], 1) << status.dump();
  EXPECT_EQ(status["connection_losses"], 0);
  EXPECT_THAT(status["last_error"].get<std::string>(), HasSubstr("Illegal data address"));
}

TEST(ModbusPollerTest, StopReturnsWhileADeviceHangs) {
  ModbusServer plc;
  ASSERT_TRUE(plc.Start());
  ingest::ModbusSourceOptions o = Options(plc);
  o.timeout = milliseconds(1000);
  Recorder recorder;
  ingest::ModbusSource source(o, recorder.Handler());
  source.Start();
  ASSERT_TRUE(WaitUntil([&] { return recorder.Count() >= 1; }));
  plc.SetAnswering(false);
  std::this_thread::sleep_for(milliseconds(100));  // a poll now waits on its answer
  const auto start = std::chrono::steady_clock::now();
  source.Stop();
  // At most the request in flight's timeout.
  EXPECT_LT(std::chrono::steady_clock::now() - start, milliseconds(2000));
}

// `pdm serve` polling two PLCs through server.yaml, end to end into the served model.
class ModbusServeTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new fs::path(testing::TempDir("modbus"));
    const fs::path sim = *dir_ / "sim";
    ASSERT_EQ(testing::Pdm("simulate --machines 12 --duration 60d --interval 1h --seed 7 --out " +
                           sim.string())
                  .code,
              0);
    registry_ = new std::string((*dir_ / "registry").string());
    const testing::Result trained = testing::Pdm(
        "train --spec " + (sim / "spec.yaml").string() + " --models xgb --cv 2 --threads 1 " +
        "--out " + (*dir_ / "run").string() + " --register --name fleet --registry " + *registry_);
    ASSERT_EQ(trained.code, 0) << trained.err;
    ASSERT_EQ(
        testing::Pdm("models promote fleet 1 --alias production --registry " + *registry_).code, 0);
  }

  static inline fs::path* dir_ = nullptr;
  static inline std::string* registry_ = nullptr;
};

// The simulated fleet's nine sensors, as a PLC would hold them (holding registers, floats high
// word first, temperatures in tenths of a degree).
constexpr char kFleetMap[] = R"(registers:
  - {column: load_setpoint, address: 0}
  - {column: air_temperature, address: 1, type: int16, scale: 0.1}
  - {column: process_temperature, address: 2, type: int16, scale: 0.1}
  - {column: bearing_temperature, address: 3, type: int16, scale: 0.1}
  - {column: vibration_rms, address: 10, type: float32}
  - {column: pressure, address: 12, type: float32}
  - {column: rotational_speed, address: 4}
  - {column: torque, address: 5}
  - {column: current, table: input, address: 0, type: uint32, word_order: little, scale: 0.001}
)";

void Fill(ModbusServer* plc, float vibration) {
  plc->SetHolding(0, 60);
  plc->SetHolding(1, 205);
  plc->SetHolding(2, 420);
  plc->SetHolding(3, 510);
  plc->SetHolding32(10, ModbusServer::FloatBits(vibration));
  plc->SetHolding32(12, ModbusServer::FloatBits(5.75f));
  plc->SetHolding(4, 1420);
  plc->SetHolding(5, 40);
  plc->SetInput32(0, 31250, /*big=*/false);  // 31.25 A
}

TEST_F(ModbusServeTest, PollsTwoDevicesIntoTheServedModel) {
  ModbusServer press, pump;
  ASSERT_TRUE(press.Start());
  ASSERT_TRUE(pump.Start());
  Fill(&press, 2.5f);
  Fill(&pump, 80.0f);  // beyond the spec's range [0, 50]: refused, with its field
  std::ofstream(*dir_ / "fleet-map.yaml") << kFleetMap;
  const fs::path config = *dir_ / "server.yaml";
  std::ofstream(config) << "sources:\n"
                        << "  - type: modbus\n"
                        << "    name: line\n"
                        << "    poll_ms: 100\n"
                        << "    timeout_ms: 300\n"
                        << "    stale_after: 3\n"
                        << "    register_map: fleet-map.yaml\n"  // relative to server.yaml
                        << "    devices:\n"
                        << "      - {machine: press-1, host: 127.0.0.1, port: " << press.port()
                        << "}\n"
                        << "      - {machine: pump-1, host: 127.0.0.1, port: " << pump.port()
                        << ", unit: 2}\n";
  testing::ServeProcess served =
      testing::StartServe({"--registry", *registry_, "--model", "fleet", "--threads", "1",
                           "--config", config.string(), "--drift-window", "off"},
                          "test-token");
  ASSERT_GT(served.port, 0);
  auto source = [&] {
    const testing::Reply r =
        testing::Send(served.port, testing::Request("GET", "/api/v1/sources", "", ""));
    const json body = json::parse(r.body, nullptr, false);
    return body.is_object() && body["sources"].is_array() && !body["sources"].empty()
               ? body["sources"][0]
               : json::object();
  };
  ASSERT_TRUE(WaitUntil([&] { return source().value("readings_accepted", 0) >= 5; }));
  ASSERT_TRUE(WaitUntil([&] { return source().value("readings_refused", 0) >= 2; }));

  // press-1's readings are scored with the values its registers hold.
  const testing::Reply machine =
      testing::Send(served.port, testing::Request("GET", "/api/v1/machines/press-1", "", ""));
  ASSERT_EQ(machine.status, 200) << machine.body;
  const json detail = json::parse(machine.body);
  const json& last = detail["last_readings"];
  ASSERT_TRUE(last.contains("current")) << machine.body;
  EXPECT_NEAR(last["current"].get<double>(), 31.25, 1e-9) << machine.body;
  EXPECT_NEAR(last["air_temperature"].get<double>(), 20.5, 1e-9);
  EXPECT_NEAR(last["pressure"].get<double>(), 5.75, 1e-6);
  EXPECT_NEAR(last["vibration_rms"].get<double>(), 2.5, 1e-6);
  // pump-1's are refused for its vibration, and say so.
  json s = source();
  EXPECT_THAT(s["last_error"].get<std::string>(), HasSubstr("vibration_rms")) << s.dump();
  EXPECT_EQ(s["readings_accepted"].get<int64_t>() + s["readings_refused"].get<int64_t>() +
                s["readings_duplicate"].get<int64_t>(),
            s["messages"].get<int64_t>())
      << s.dump();

  // press-1 stops answering: its device goes stale, and Prometheus sees it.
  press.SetAnswering(false);
  ASSERT_TRUE(WaitUntil([&] { return source()["stale_devices"] == 1; }));
  std::string metrics =
      testing::Send(served.port, testing::Request("GET", "/metrics", "", "")).body;
  EXPECT_THAT(metrics, HasSubstr("pdm_source_device_stale{machine=\"press-1\",source=\"line\"} 1"));
  EXPECT_THAT(metrics, HasSubstr("pdm_source_device_stale{machine=\"pump-1\",source=\"line\"} 0"));
  EXPECT_THAT(metrics, HasSubstr("pdm_source_poll_failures_total{source=\"line\"}"));
  press.SetAnswering(true);
  ASSERT_TRUE(WaitUntil([&] { return source()["stale_devices"] == 0; }));
  s = source();
  EXPECT_GE(s["polls_failed"], 1);
  EXPECT_GE(s["connection_losses"], 1);
  metrics = testing::Send(served.port, testing::Request("GET", "/metrics", "", "")).body;
  EXPECT_THAT(metrics, HasSubstr("pdm_source_device_stale{machine=\"press-1\",source=\"line\"} 0"));
  ::kill(served.pid, SIGTERM);
  int wait_status = 0;
  ::waitpid(served.pid, &wait_status, 0);
  EXPECT_TRUE(WIFEXITED(wait_status) && WEXITSTATUS(wait_status) == 0) << wait_status;
}

TEST_F(ModbusServeTest, BadModbusConfigurationsAreRefusedByFileAndKey) {
  std::ofstream(*dir_ / "bad-map.yaml") << "registers:\n  - {column: a, address: 1, type: real}\n";
  const fs::path path = *dir_ / "bad.yaml";
  for (const auto& [yaml, expected] : std::vector<std::pair<std::string, std::string>>{
           {"sources: [{type: opcua}]", "sources[0].type: 'opcua': expected mqtt or modbus"},
           {"sources: [{type: modbus, register_map: bad-map.yaml, devices: [{machine: m, host: "
            "h}]}]",
            "bad-map.yaml: registers[0].type: 'real': expected int16"},
           {"sources: [{type: modbus, register_map: none.yaml, devices: []}]",
            "none.yaml: cannot read the register map"},
           {"sources: [{type: modbus, registers: [{column: a, address: 1}]}]",
            "sources[0].devices: missing"},
           {"sources: [{type: modbus, devices: [{machine: m, host: h}]}]",
            "sources[0].devices[0]: no register_map"},
           {"sources: [{type: modbus, registers: [{column: a, address: 1}], devices: [{machine: "
            "m, host: h, port: 99999}]}]",
            "devices[0].port: 99999"},
           {"sources: [{type: modbus, registers: [{column: a, address: 1}], poll_ms: 0, "
            "devices: [{machine: m, host: h}]}]",
            "sources[0].poll_ms: expected a positive number"},
           {"sources: [{type: modbus, registers: [{column: a, address: 1}], devices: [{machine: "
            "m, host: h, slave: 3}]}]",
            "sources[0].devices[0].slave: unknown key"},
       }) {
    std::ofstream(path) << yaml << "\n";
    const testing::Result r =
        testing::Pdm("serve --registry " + *registry_ + " --port 0 --config " + path.string());
    EXPECT_NE(r.code, 0) << yaml;
    EXPECT_THAT(r.err, HasSubstr(expected)) << yaml;
  }
}

}  // namespace
}  // namespace pdm
