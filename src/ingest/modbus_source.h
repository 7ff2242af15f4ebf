// The Modbus TCP source: polls PLCs' registers on an interval and feeds each poll, as one reading
// of the device's machine, to the telemetry path (docs/ingest.md, ADR 0020). libmodbus (Debian
// libmodbus-dev).
//
// Each device has a register map: which registers hold which spec column, in which type and word
// order, with a scale and offset. The poller reads a map's registers in as few requests as the
// protocol allows (contiguous runs of one table, at most 125 registers a request) and stamps the
// reading with the time the poll started. A device that does not answer within the timeout is
// disconnected and reconnected with backoff; one not read for `stale_after` intervals is stale
// (its status and the pdm_source_device_stale gauge say so). Polling samples: what a device
// showed while it was unreachable is not read later, and its status says how many polls failed.
#ifndef PDM_INGEST_MODBUS_SOURCE_H_
#define PDM_INGEST_MODBUS_SOURCE_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "ingest/source.h"
#include "nlohmann/json.hpp"

namespace pdm::ingest {

enum class RegisterTable { kHolding, kInput };
enum class RegisterType { kInt16, kUInt16, kInt32, kUInt32, kFloat32 };
// For 32-bit types: kBig puts the high word in the first register (Modbus's usual order, ABCD);
// kLittle puts it in the second (CDAB, as many PLCs send floats).
enum class WordOrder { kBig, kLittle };

// One spec column read from one or two registers: value = raw * scale + offset.
struct RegisterField {
  std::string column;
  RegisterTable table = RegisterTable::kHolding;
  int address = 0;  // 0-based, as on the wire (register 40001 is holding address 0)
  RegisterType type = RegisterType::kUInt16;
  WordOrder word_order = WordOrder::kBig;
  double scale = 1.0;
  double offset = 0.0;
};
// Registers a field occupies: 1 for 16-bit types, 2 for 32-bit ones.
int RegisterCount(RegisterType type);

struct RegisterMap {
  std::vector<RegisterField> fields;
};

// A register map in YAML, as a file holds it (docs/ingest.md):
//   registers:
//     - {column: vibration_rms, table: input, address: 0, type: float32, word_order: little}
// Errors name `where` (the file), the field's index and key, and the reason.
absl::StatusOr<RegisterMap> ParseRegisterMap(std::string_view yaml, std::string_view where);
absl::StatusOr<RegisterMap> LoadRegisterMap(const std::string& path);

// One read request: `count` registers of `table` from `address`.
struct ReadBlock {
  RegisterTable table = RegisterTable::kHolding;
  int address = 0;
  int count = 0;
};
constexpr int kMaxRegistersPerRead = 125;  // the protocol's limit for function codes 3 and 4
// The fewest requests that read every field of `map`: runs of one table with gaps of at most
// `max_gap` unused registers, each at most kMaxRegistersPerRead long.
std::vector<ReadBlock> PlanReads(const RegisterMap& map, int max_gap = 8);

// The field's value from its registers (`registers[0]` is the one at field.address).
double DecodeRegisters(const RegisterField& field, const uint16_t* registers);

struct ModbusDevice {
  std::string machine;  // the reading's machine
  std::string host;
  int port = 502;
  int unit = 1;  // the unit (slave) id
  RegisterMap registers;
};

struct ModbusSourceOptions {
  std::string name = "modbus";  // in metrics, logs and GET /api/v1/sources
  std::vector<ModbusDevice> devices;
  std::chrono::milliseconds poll_interval{1000};
  std::chrono::milliseconds timeout{1000};  // for each request's answer, and for connecting
  std::chrono::milliseconds retry_min{500}, retry_max{30000};  // reconnect backoff
  int stale_after = 3;  // polls: a device not read for this many intervals is stale
};

// Checks the options (devices, machines unique, maps not empty, intervals) without connecting.
absl::Status ValidateModbusOptions(const ModbusSourceOptions& options);

// Polls every device on its own thread, so a device that times out delays no other.
class ModbusSource : public Source {
 public:
  // REQUIRES: ValidateModbusOptions(options).ok().
  ModbusSource(ModbusSourceOptions options, TelemetryHandler handler);
  ~ModbusSource() override;
  ModbusSource(const ModbusSource&) = delete;
  ModbusSource& operator=(const ModbusSource&) = delete;

  void Start() override;
  // Ends every poller; a poll being applied is finished first.
  void Stop() override;

  const std::string& name() const override { return options_.name; }
  std::string Describe() const override;
  const ModbusSourceOptions& options() const { return options_; }
  // {"name", "type": "modbus", "connected" (every device), "stale_devices", "devices": [{
  //  "machine", "host", "port", "unit", "connected", "stale", "polls", "polls_failed",
  //  "last_read", "last_error"}], counters...}; `messages` counts polls read.
  nlohmann::json Status() const override;

 private:
  class Device;
  const ModbusSourceOptions options_;
  const TelemetryHandler handler_;
  SourceCounters counters_;
  LastError last_error_;
  std::vector<std::unique_ptr<Device>> devices_;
};

}  // namespace pdm::ingest

#endif  // PDM_INGEST_MODBUS_SOURCE_H_
