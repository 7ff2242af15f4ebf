// The Modbus TCP poller on its own (docs/ingest.md): libmodbus's server on loopback, started here,
// plays the PLC. What each poll sends, and the faults: a device that stops answering, one that
// goes away and comes back, a map naming registers the device lacks. In-process and threaded, so
// CI also runs it under TSan; `modbus_test` covers `pdm serve` end to end.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <mutex>
#include <thread>

#include "ingest/modbus_source.h"
#include "nlohmann/json.hpp"
#include "tests/testing/modbus_server.h"
#include "tests/testing/wait.h"

namespace pdm {
namespace {

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
  ASSERT_TRUE(testing::WaitUntil([&] { return recorder.Count() >= 5; }));
  plc.SetHolding(1, 1500);
  const size_t before = recorder.Count();
  ASSERT_TRUE(testing::WaitUntil([&] { return recorder.Count() >= before + 3; }));
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
  ASSERT_TRUE(testing::WaitUntil([&] { return recorder.Count() >= 3; }));

  plc.SetAnswering(false);  // requests read, never answered
  // Stale once three intervals pass unread, which may come before the first timeout.
  ASSERT_TRUE(testing::WaitUntil([&] {
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
  ASSERT_TRUE(testing::WaitUntil([&] { return recorder.Count() >= during + 5; }));
  ASSERT_TRUE(
      testing::WaitUntil([&] { return !source.Status()["devices"][0]["stale"].get<bool>(); }));
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
  ASSERT_TRUE(testing::WaitUntil([&] { return recorder.Count() >= 3; }));
  plc.Stop();  // connection closed, port refused
  ASSERT_TRUE(testing::WaitUntil([&] { return !source.Status()["connected"].get<bool>(); }));
  ASSERT_TRUE(
      testing::WaitUntil([&] { return source.Status()["devices"][0]["stale"].get<bool>(); }));
  const json down = source.Status();
  EXPECT_THAT(down["last_error"].get<std::string>(), HasSubstr("press-1: connect to 127.0.0.1"));
  const size_t during = recorder.Count();

  ASSERT_TRUE(plc.Start());  // the same port
  ASSERT_TRUE(testing::WaitUntil([&] { return recorder.Count() >= during + 3; }));
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
  ASSERT_TRUE(
      testing::WaitUntil([&] { return source.Status()["polls_failed"].get<int64_t>() >= 3; }));
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
  ASSERT_TRUE(testing::WaitUntil([&] { return recorder.Count() >= 1; }));
  plc.SetAnswering(false);
  std::this_thread::sleep_for(milliseconds(100));  // a poll now waits on its answer
  const auto start = std::chrono::steady_clock::now();
  source.Stop();
  // At most the request in flight's timeout.
  EXPECT_LT(std::chrono::steady_clock::now() - start, milliseconds(2000));
}

}  // namespace
}  // namespace pdm
