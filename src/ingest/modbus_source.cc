#include "ingest/modbus_source.h"

#include <modbus/modbus.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <condition_variable>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>
#include <thread>

#include "core/strings.h"
#include "core/time.h"

namespace pdm::ingest {

using json = nlohmann::json;

int RegisterCount(RegisterType type) {
  return type == RegisterType::kInt16 || type == RegisterType::kUInt16 ? 1 : 2;
}

namespace {

const char* TableName(RegisterTable table) {
  return table == RegisterTable::kInput ? "input" : "holding";
}

// A scalar of the map as T; false (and `status` set) when it is not one.
template <typename T>
bool Scalar(const YAML::Node& node, const std::string& where, T* out, absl::Status* status,
            const char* expected) {
  if (node.IsScalar() && YAML::convert<T>::decode(node, *out)) return true;
  *status = absl::InvalidArgumentError(core::StrCat(where, ": expected ", expected));
  return false;
}

absl::StatusOr<RegisterField> ParseField(const YAML::Node& node, const std::string& where) {
  if (!node.IsMap()) return absl::InvalidArgumentError(where + ": expected a mapping");
  RegisterField field;
  absl::Status status;
  bool has_address = false;
  for (const auto& item : node) {
    const std::string key = item.first.Scalar();
    const std::string at = core::StrCat(where, ".", key);
    const YAML::Node& v = item.second;
    std::string text;
    if (key == "column") {
      Scalar(v, at, &field.column, &status, "a spec column's name");
    } else if (key == "table") {
      if (Scalar(v, at, &text, &status, "holding or input")) {
        if (text == "holding") {
          field.table = RegisterTable::kHolding;
        } else if (text == "input") {
          field.table = RegisterTable::kInput;
        } else {
          status = absl::InvalidArgumentError(
              core::StrCat(at, ": '", text, "': expected holding or input"));
        }
      }
    } else if (key == "address") {
      has_address = Scalar(v, at, &field.address, &status, "a register address (0-65535)");
      if (has_address && (field.address < 0 || field.address > 65535)) {
        status = absl::InvalidArgumentError(
            core::StrCat(at, ": ", field.address, ": expected a register address (0-65535)"));
      }
    } else if (key == "type") {
      const std::map<std::string, RegisterType> types = {{"int16", RegisterType::kInt16},
                                                         {"uint16", RegisterType::kUInt16},
                                                         {"int32", RegisterType::kInt32},
                                                         {"uint32", RegisterType::kUInt32},
                                                         {"float32", RegisterType::kFloat32}};
      if (Scalar(v, at, &text, &status, "int16, uint16, int32, uint32 or float32")) {
        auto it = types.find(text);
        if (it == types.end()) {
          status = absl::InvalidArgumentError(
              core::StrCat(at, ": '", text, "': expected int16, uint16, int32, uint32 or float32"));
        } else {
          field.type = it->second;
        }
      }
    } else if (key == "word_order") {
      if (Scalar(v, at, &text, &status, "big or little")) {
        if (text == "big") {
          field.word_order = WordOrder::kBig;
        } else if (text == "little") {
          field.word_order = WordOrder::kLittle;
        } else {
          status = absl::InvalidArgumentError(
              core::StrCat(at, ": '", text, "': expected big or little"));
        }
      }
    } else if (key == "scale") {
      if (Scalar(v, at, &field.scale, &status, "a number") &&
          (!std::isfinite(field.scale) || field.scale == 0)) {
        status = absl::InvalidArgumentError(at + ": expected a finite number other than 0");
      }
    } else if (key == "offset") {
      if (Scalar(v, at, &field.offset, &status, "a number") && !std::isfinite(field.offset)) {
        status = absl::InvalidArgumentError(at + ": expected a finite number");
      }
    } else {
      return absl::InvalidArgumentError(core::StrCat(
          at, ": unknown key (column, table, address, type, word_order, scale, offset)"));
    }
    if (!status.ok()) return status;
  }
  if (field.column.empty()) return absl::InvalidArgumentError(where + ".column: missing");
  if (!has_address) return absl::InvalidArgumentError(where + ".address: missing");
  if (field.address + RegisterCount(field.type) > 65536) {
    return absl::InvalidArgumentError(
        core::StrCat(where, ".address: ", field.address, " leaves no room for its second word"));
  }
  return field;
}

}  // namespace

absl::StatusOr<RegisterMap> ParseRegisterMap(std::string_view yaml, std::string_view where) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml));
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(core::StrCat(where, ": ", e.what()));
  }
  // Either {registers: [...]} or the list itself.
  YAML::Node list = root;
  std::string prefix = core::StrCat(where, ": registers");
  if (root.IsMap()) {
    for (const auto& item : root) {
      if (item.first.Scalar() != "registers") {
        return absl::InvalidArgumentError(
            core::StrCat(where, ": ", item.first.Scalar(), ": unknown key (registers)"));
      }
    }
    list = root["registers"];
  }
  if (!list || !list.IsSequence() || list.size() == 0) {
    return absl::InvalidArgumentError(prefix + ": expected a list of at least one register");
  }
  RegisterMap map;
  std::map<std::string, size_t> columns;
  for (size_t i = 0; i < list.size(); ++i) {
    const std::string at = core::StrCat(prefix, "[", i, "]");
    auto field = ParseField(list[i], at);
    if (!field.ok()) return field.status();
    if (auto [it, added] = columns.emplace(field->column, i); !added) {
      return absl::InvalidArgumentError(core::StrCat(
          at, ".column: '", field->column, "' is read by registers[", it->second, "] too"));
    }
    map.fields.push_back(std::move(*field));
  }
  return map;
}

absl::StatusOr<RegisterMap> LoadRegisterMap(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(core::StrCat(path, ": cannot read the register map"));
  std::stringstream text;
  text << in.rdbuf();
  return ParseRegisterMap(text.str(), path);
}

std::vector<ReadBlock> PlanReads(const RegisterMap& map, int max_gap) {
  std::vector<const RegisterField*> fields;
  for (const RegisterField& f : map.fields) fields.push_back(&f);
  std::sort(fields.begin(), fields.end(), [](const RegisterField* a, const RegisterField* b) {
    return std::pair(a->table, a->address) < std::pair(b->table, b->address);
  });
  std::vector<ReadBlock> blocks;
  for (const RegisterField* f : fields) {
    const int end = f->address + RegisterCount(f->type);
    if (!blocks.empty()) {
      ReadBlock& last = blocks.back();
      const int last_end = last.address + last.count;
      if (last.table == f->table && f->address <= last_end + max_gap &&
          std::max(end, last_end) - last.address <= kMaxRegistersPerRead) {
        last.count = std::max(end, last_end) - last.address;
        continue;
      }
    }
    blocks.push_back({f->table, f->address, end - f->address});
  }
  return blocks;
}

double DecodeRegisters(const RegisterField& field, const uint16_t* registers) {
  double raw = 0;
  if (RegisterCount(field.type) == 1) {
    raw = field.type == RegisterType::kInt16 ? static_cast<int16_t>(registers[0]) : registers[0];
  } else {
    const uint16_t high = field.word_order == WordOrder::kBig ? registers[0] : registers[1];
    const uint16_t low = field.word_order == WordOrder::kBig ? registers[1] : registers[0];
    const uint32_t bits = (uint32_t{high} << 16) | low;
    switch (field.type) {
      case RegisterType::kInt32:
        raw = static_cast<int32_t>(bits);
        break;
      case RegisterType::kUInt32:
        raw = bits;
        break;
      default: {
        float f = 0;
        static_assert(sizeof(f) == sizeof(bits));
        std::memcpy(&f, &bits, sizeof(f));
        raw = f;
      }
    }
  }
  return raw * field.scale + field.offset;
}

absl::Status ValidateModbusOptions(const ModbusSourceOptions& o) {
  const std::string where = core::StrCat("sources.", o.name, ": ");
  if (o.devices.empty()) return absl::InvalidArgumentError(where + "devices: at least one");
  if (o.poll_interval.count() <= 0 || o.timeout.count() <= 0) {
    return absl::InvalidArgumentError(where + "poll_interval and timeout must be positive");
  }
  if (o.stale_after < 1) return absl::InvalidArgumentError(where + "stale_after: at least 1");
  std::map<std::string, size_t> machines;
  for (size_t i = 0; i < o.devices.size(); ++i) {
    const ModbusDevice& d = o.devices[i];
    const std::string at = core::StrCat(where, "devices[", i, "]");
    if (d.machine.empty()) return absl::InvalidArgumentError(at + ".machine: missing");
    if (d.host.empty()) return absl::InvalidArgumentError(at + ".host: missing");
    if (d.port < 1 || d.port > 65535) {
      return absl::InvalidArgumentError(core::StrCat(at, ".port: ", d.port, ": expected 1-65535"));
    }
    if (d.unit < 0 || d.unit > 255) {
      return absl::InvalidArgumentError(core::StrCat(at, ".unit: ", d.unit, ": expected 0-255"));
    }
    if (d.registers.fields.empty()) {
      return absl::InvalidArgumentError(at + ": no registers (register_map or registers)");
    }
    if (auto [it, added] = machines.emplace(d.machine, i); !added) {
      return absl::InvalidArgumentError(core::StrCat(
          at, ".machine: '", d.machine, "' is polled by devices[", it->second, "] too"));
    }
  }
  return absl::OkStatus();
}

// One device's poller: its connection, its thread and its counts.
class ModbusSource::Device {
 public:
  using Clock = std::chrono::steady_clock;

  Device(const ModbusDevice& config, ModbusSource* source)
      : config_(config), source_(source), blocks_(PlanReads(config.registers)) {
    // Where each field's registers sit in the block buffers.
    size_t start = 0;
    std::vector<size_t> block_start;
    for (const ReadBlock& b : blocks_) {
      block_start.push_back(start);
      start += static_cast<size_t>(b.count);
    }
    buffer_.resize(start);
    for (const RegisterField& f : config_.registers.fields) {
      for (size_t b = 0; b < blocks_.size(); ++b) {
        if (blocks_[b].table == f.table && f.address >= blocks_[b].address &&
            f.address + RegisterCount(f.type) <= blocks_[b].address + blocks_[b].count) {
          field_offset_.push_back(block_start[b] +
                                  static_cast<size_t>(f.address - blocks_[b].address));
          break;
        }
      }
    }
  }
  ~Device() {
    Stop();
    Close();
  }

  void Start() {
    last_read_ns_ = Clock::now().time_since_epoch().count();
    thread_ = std::jthread([this](const std::stop_token& stop) { Run(stop); });
  }
  void Stop() {
    if (!thread_.joinable()) return;
    thread_.request_stop();
    thread_.join();
  }

  bool connected() const { return connected_; }
  bool stale() const {
    const auto since = Clock::now().time_since_epoch() - Clock::duration(last_read_ns_.load());
    return since > source_->options_.poll_interval * source_->options_.stale_after;
  }

  json Status() const {
    json out = {{"machine", config_.machine}, {"host", config_.host},
                {"port", config_.port},       {"unit", config_.unit},
                {"connected", connected()},   {"stale", stale()},
                {"polls", polls_.load()},     {"polls_failed", polls_failed_.load()},
                {"last_read", nullptr},       {"last_error", last_error_.Get()}};
    if (const double t = last_read_wall_; t > 0) {
      out["last_read"] = core::FormatTimestamp(static_cast<int64_t>(std::floor(t)));
    }
    return out;
  }
  int64_t polls_failed() const { return polls_failed_; }

 private:
  void Run(const std::stop_token& stop) {
    const ModbusSourceOptions& o = source_->options_;
    std::chrono::milliseconds backoff = o.retry_min;
    Clock::time_point next = Clock::now();
    while (!stop.stop_requested()) {
      if (ctx_ == nullptr && !Connect()) {
        ++polls_failed_;
        if (!Sleep(stop, backoff)) return;
        backoff = std::min(backoff * 2, o.retry_max);
        next = Clock::now();
        continue;
      }
      backoff = o.retry_min;
      const Clock::time_point started = Clock::now();
      Poll();
      // The next tick on the interval's grid; ticks missed while a poll hung are skipped.
      next += o.poll_interval;
      if (next <= started) next = started + o.poll_interval;
      if (!Sleep(stop, next - Clock::now())) return;
    }
  }

  // Sleeps `d` unless the source stops first (false then).
  bool Sleep(const std::stop_token& stop, Clock::duration d) {
    std::unique_lock lock(mu_);
    return !wake_.wait_for(lock, stop, d, [] { return false; });
  }

  bool Connect() {
    const ModbusSourceOptions& o = source_->options_;
    const std::string port = std::to_string(config_.port);
    modbus_t* ctx = modbus_new_tcp_pi(config_.host.c_str(), port.c_str());
    if (ctx == nullptr) {
      Fail(core::StrCat("cannot create a context for ", config_.host, ":", port, ": ",
                        modbus_strerror(errno)));
      return false;
    }
    const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(o.timeout);
    const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(o.timeout - seconds);
    modbus_set_response_timeout(ctx, static_cast<uint32_t>(seconds.count()),
                                static_cast<uint32_t>(micros.count()));
    modbus_set_slave(ctx, config_.unit);
    if (modbus_connect(ctx) != 0) {
      Fail(core::StrCat("connect to ", config_.host, ":", port, ": ", modbus_strerror(errno)));
      modbus_free(ctx);
      return false;
    }
    ctx_ = ctx;
    connected_ = true;
    ++source_->counters_.connects;
    return true;
  }

  void Close() {
    if (ctx_ == nullptr) return;
    modbus_close(ctx_);
    modbus_free(ctx_);
    ctx_ = nullptr;
    connected_ = false;
  }

  void Fail(std::string reason) {
    reason = core::StrCat(config_.machine, ": ", reason);
    last_error_.Set(reason);
    source_->last_error_.Set(std::move(reason));
  }

  void Poll() {
    const double time = std::round(std::chrono::duration<double>(
                                       std::chrono::system_clock::now().time_since_epoch())
                                       .count() *
                                   1000.0) /
                        1000.0;
    size_t start = 0;
    for (const ReadBlock& b : blocks_) {
      uint16_t* into = buffer_.data() + start;
      const int read = b.table == RegisterTable::kInput
                           ? modbus_read_input_registers(ctx_, b.address, b.count, into)
                           : modbus_read_registers(ctx_, b.address, b.count, into);
      if (read != b.count) {
        const int error = errno;
        ++polls_failed_;
        Fail(core::StrCat("read ", b.count, " ", TableName(b.table), " registers at ", b.address,
                          ": ", read < 0 ? modbus_strerror(error) : "short answer"));
        // A Modbus exception (the device answered: the map names registers it lacks) keeps the
        // connection; anything else (a timeout, a reset) may leave a late answer in the socket,
        // so the connection is dropped and made again.
        if (read >= 0 || error < MODBUS_ENOBASE) {
          Close();
          ++source_->counters_.connection_losses;
        }
        return;
      }
      start += static_cast<size_t>(b.count);
    }
    json values = json::object();
    for (size_t i = 0; i < config_.registers.fields.size(); ++i) {
      const RegisterField& f = config_.registers.fields[i];
      const double v = DecodeRegisters(f, buffer_.data() + field_offset_[i]);
      values[f.column] = std::isfinite(v) ? json(v) : json(nullptr);
    }
    ++polls_;
    last_read_ns_ = Clock::now().time_since_epoch().count();
    last_read_wall_ = time;
    json body = {
        {"readings",
         json::array({{{"machine", config_.machine}, {"time", time}, {"values", values}}})}};
    const IngestOutcome outcome = source_->handler_(std::move(body));
    source_->counters_.Count(outcome);
    if (!outcome.error.empty()) {
      Fail(core::StrCat("reading at ", core::FormatTimestamp(static_cast<int64_t>(time)), ": ",
                        outcome.error));
    }
    ++source_->counters_.messages;
  }

  const ModbusDevice config_;
  ModbusSource* const source_;
  const std::vector<ReadBlock> blocks_;
  std::vector<size_t> field_offset_;  // per field, its first register in buffer_
  std::vector<uint16_t> buffer_;      // the blocks' registers, one after another
  modbus_t* ctx_ = nullptr;           // only the poller's thread uses it
  std::atomic<bool> connected_{false};
  std::atomic<int64_t> polls_{0}, polls_failed_{0};
  std::atomic<Clock::rep> last_read_ns_{0};
  std::atomic<double> last_read_wall_{0};
  LastError last_error_;
  std::mutex mu_;
  std::condition_variable_any wake_;
  std::jthread thread_;
};

ModbusSource::ModbusSource(ModbusSourceOptions options, TelemetryHandler handler)
    : options_(std::move(options)), handler_(std::move(handler)) {
  for (const ModbusDevice& d : options_.devices) {
    devices_.push_back(std::make_unique<Device>(d, this));
  }
}

ModbusSource::~ModbusSource() { Stop(); }

void ModbusSource::Start() {
  for (const auto& d : devices_) d->Start();
}

void ModbusSource::Stop() {
  for (const auto& d : devices_) d->Stop();
}

std::string ModbusSource::Describe() const {
  std::string out = core::StrCat("modbus ", options_.devices.size(), " device(s) every ",
                                 options_.poll_interval.count(), " ms:");
  for (const ModbusDevice& d : options_.devices) {
    out += core::StrCat(" ", d.machine, "@", d.host, ":", d.port, "/", d.unit);
  }
  return out;
}

json ModbusSource::Status() const {
  json devices = json::array();
  bool connected = true;
  int64_t stale = 0, polls_failed = 0;
  for (const auto& d : devices_) {
    devices.push_back(d->Status());
    connected = connected && d->connected();
    stale += d->stale() ? 1 : 0;
    polls_failed += d->polls_failed();
  }
  json out = {{"name", options_.name},
              {"type", "modbus"},
              {"poll_interval_ms", options_.poll_interval.count()},
              {"connected", connected},
              {"stale_devices", stale},
              {"polls_failed", polls_failed},
              {"last_error", last_error_.Get()}};
  out.update(counters_.ToJson());
  out["devices"] = std::move(devices);
  return out;
}

}  // namespace pdm::ingest
