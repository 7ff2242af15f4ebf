// The Modbus TCP source end to end (docs/ingest.md): `pdm serve` polling two PLCs through
// server.yaml into the served model; libmodbus servers on loopback, started here, play the PLCs.
// The poller's faults on their own: modbus_poller_test.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "nlohmann/json.hpp"
#include "tests/testing/http_client.h"
#include "tests/testing/modbus_server.h"
#include "tests/testing/pdm_cli.h"
#include "tests/testing/serve_config.h"
#include "tests/testing/sources.h"
#include "tests/testing/wait.h"

namespace pdm {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using std::chrono::milliseconds;
using ::testing::HasSubstr;
using testing::ModbusServer;

// `pdm serve` polling two PLCs through server.yaml, end to end into the served model.
class ModbusServeTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new fs::path(testing::TempDir("modbus"));
    std::string error;
    registry_ = new std::string(testing::TrainedFleetRegistry(*dir_, &error));
    ASSERT_FALSE(registry_->empty()) << error;
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
  auto source = [&] { return testing::FirstSource(served.port); };
  ASSERT_TRUE(testing::WaitUntil([&] { return source().value("readings_accepted", 0) >= 5; }));
  ASSERT_TRUE(testing::WaitUntil([&] { return source().value("readings_refused", 0) >= 2; }));

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
  ASSERT_TRUE(testing::WaitUntil([&] { return source()["stale_devices"] == 1; }));
  std::string metrics =
      testing::Send(served.port, testing::Request("GET", "/metrics", "", "")).body;
  EXPECT_THAT(metrics, HasSubstr("pdm_source_device_stale{machine=\"press-1\",source=\"line\"} 1"));
  EXPECT_THAT(metrics, HasSubstr("pdm_source_device_stale{machine=\"pump-1\",source=\"line\"} 0"));
  EXPECT_THAT(metrics, HasSubstr("pdm_source_poll_failures_total{source=\"line\"}"));
  press.SetAnswering(true);
  ASSERT_TRUE(testing::WaitUntil([&] { return source()["stale_devices"] == 0; }));
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
  testing::ExpectServeRefuses(
      *registry_, path,
      {
          {"sources: [{type: opcua}]", "sources[0].type: 'opcua': expected mqtt, modbus or kafka"},
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
      });
}

}  // namespace
}  // namespace pdm
