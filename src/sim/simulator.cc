#include "sim/simulator.h"

#include <algorithm>
#include <atomic>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <numbers>
#include <thread>
#include <vector>

#include "core/status.h"
#include "core/strings.h"
#include "core/time.h"
#include "sim/random.h"

namespace pdm::sim {
namespace {

namespace fs = std::filesystem;

// Components that wear out, in FailureMode order.
constexpr int kComponentCount = 4;
constexpr const char* kComponentNames[kComponentCount] = {"bearing", "seal", "motor", "cooling"};
// Mean life in days at nominal load, before any maintenance.
constexpr double kMeanLifeDays[kComponentCount] = {170, 220, 260, 200};
// Error code raised more often as each component's signature grows.
constexpr const char* kSymptomCodes[kComponentCount] = {"E210", "E240", "E220", "E230"};

struct MachineModel {
  char name;
  double rated_speed_rpm;
  double rated_torque_nm;
  double rated_current_a;
};
constexpr MachineModel kModels[] = {{'A', 1500, 60, 20}, {'B', 3000, 35, 22}, {'C', 1000, 120, 30}};

struct Regime {
  double load;      // fraction of rated load
  double setpoint;  // load_setpoint column, percent
  double dwell_h;   // mean time in the regime
};
constexpr Regime kRegimes[] = {{0.25, 25, 6}, {0.6, 60, 12}, {0.9, 90, 8}};

enum Sensor {
  kAirTemperature,
  kProcessTemperature,
  kBearingTemperature,
  kVibrationRms,
  kPressure,
  kRotationalSpeed,
  kTorque,
  kCurrent,
  kSensorCount
};
struct SensorInfo {
  const char* name;
  const char* unit;
  double min, max;
  int decimals;
  const char* description;
};
constexpr SensorInfo kSensors[kSensorCount] = {
    {"air_temperature", "degC", -40, 60, 2, "ambient air temperature at the machine"},
    {"process_temperature", "degC", -20, 150, 2, "process medium temperature"},
    {"bearing_temperature", "degC", -20, 180, 2, "drive-end bearing housing temperature"},
    {"vibration_rms", "mm/s", 0, 50, 3, "velocity RMS, 10-1000 Hz (ISO 10816)"},
    {"pressure", "bar", 0, 16, 3, "discharge pressure"},
    {"rotational_speed", "rpm", 0, 4000, 1, "shaft speed"},
    {"torque", "Nm", 0, 400, 2, "shaft torque"},
    {"current", "A", 0, 100, 2, "motor phase current RMS"},
};

struct MachineOutput {
  std::string telemetry, failures, maintenance, errors, machine;
  int64_t readings = 0, maintenance_count = 0, error_count = 0;
  std::array<int64_t, kFailureModeCount> failures_by_mode{};
};

void AppendNumber(std::string* out, double value, int decimals) {
  char buffer[48];
  auto [ptr, ec] =
      std::to_chars(buffer, buffer + sizeof(buffer), value, std::chars_format::fixed, decimals);
  // "-0.00" reads as a negative zero: write "0.00".
  if (ptr - buffer > 1 && buffer[0] == '-' &&
      std::all_of(buffer + 1, ptr, [](char c) { return c == '0' || c == '.'; })) {
    out->append(buffer + 1, ptr);
    return;
  }
  out->append(buffer, ptr);
}

void AppendTime(std::string* out, int64_t epoch_seconds) {
  char buffer[20];
  out->append(buffer, static_cast<size_t>(core::FormatTimestamp(epoch_seconds, buffer)));
}

struct ErrorEvent {
  int64_t time;
  const char* code;
};

// Simulates one machine over the whole span. Everything it draws comes from its own stream, so
// machines can be simulated in any order and on any thread.
// The drifts that apply to one machine, resolved: target sensor (-1: ambient), start time.
struct MachineDrift {
  int sensor = -1;
  bool relative = false;
  double amount = 0;
  int64_t from = 0;
};

void SimulateMachine(const SimulationOptions& options, int index,
                     const std::vector<MachineDrift>& drifts, MachineOutput* out) {
  Random rng(MixSeed(options.seed, static_cast<uint64_t>(index)));
  const std::string id = fmt::format("M{:04d}", index + 1);
  const MachineModel& model = kModels[rng.Int(0, 2)];
  const double age_days = std::round(rng.Uniform(30, 3650));
  const double site_offset = rng.Normal(0, 3);
  const double imbalance = rng.Uniform(0, 1);
  const double pm_interval_days = rng.Uniform(30, 120);
  const double dt_h = static_cast<double>(options.interval_seconds) / 3600.0;
  const double rated_power_kw =
      model.rated_torque_nm * model.rated_speed_rpm * 2 * std::numbers::pi / 60 / 1000;

  core::StrAppend(&out->machine, id, ",", std::string(1, model.name), ",", age_days, ",",
                  model.rated_speed_rpm, ",");
  AppendNumber(&out->machine, rated_power_kw, 2);
  out->machine.push_back('\n');

  // Wear state per component: wear grows with load; failure when it reaches the life's threshold.
  double wear[kComponentCount], rate_scale[kComponentCount], threshold[kComponentCount];
  auto new_life = [&](int c, double initial_wear) {
    wear[c] = initial_wear;
    rate_scale[c] = rng.LogNormal(0, 0.25);
    threshold[c] = rng.Uniform(0.9, 1.1);
  };
  for (int c = 0; c < kComponentCount; ++c) new_life(c, rng.Uniform(0, 0.7));

  const int64_t start = options.start_epoch_seconds;
  const int64_t end = start + options.duration_seconds;
  int64_t next_pm = start + static_cast<int64_t>(rng.Uniform(0, pm_interval_days) * 86400);
  int64_t down_until = start, outage_until = start;
  int regime = 1;
  std::array<int, kSensorCount> stuck_left{};
  std::array<double, kSensorCount> last_value{}, stuck_value{};
  std::vector<ErrorEvent> errors;
  std::string line;

  for (int64_t t = start; t < end; t += options.interval_seconds) {
    if (t < down_until) continue;
    if (t >= next_pm) {
      // Preventive maintenance: service some components, reset their wear, stop for a while.
      const double hours = std::round(rng.Uniform(2, 6));
      bool serviced_any = false;
      for (int c = 0; c < kComponentCount; ++c) {
        if (rng.Bernoulli(0.5) || (!serviced_any && c == kComponentCount - 1)) {
          serviced_any = true;
          new_life(c, rng.Uniform(0, 0.05));
          AppendTime(&out->maintenance, t);
          core::StrAppend(&out->maintenance, ",", id, ",", kComponentNames[c], ",preventive,",
                          hours, "\n");
          ++out->maintenance_count;
        }
      }
      down_until = t + static_cast<int64_t>(hours * 3600);
      next_pm = t + static_cast<int64_t>((pm_interval_days + rng.Normal(0, 5)) * 86400);
      continue;
    }
    // Operating regime: a Markov chain with exponential dwell times.
    if (rng.Bernoulli(1 - std::exp(-dt_h / kRegimes[regime].dwell_h))) {
      regime = static_cast<int>((regime + rng.Int(1, 2)) % 3);
    }
    const double load = std::clamp(kRegimes[regime].load + rng.Normal(0, 0.03), 0.05, 1.0);
    // Wear and failures.
    int failed = -1;
    for (int c = 0; c < kComponentCount; ++c) {
      wear[c] += dt_h / (kMeanLifeDays[c] * 24) * rate_scale[c] * (0.4 + load);
      if (failed < 0 && wear[c] >= threshold[c]) failed = c;
    }
    if (failed < 0 && rng.Bernoulli(dt_h / (4 * 8760.0)))
      failed = static_cast<int>(FailureMode::kRandom);
    if (failed >= 0) {
      const bool random = failed == static_cast<int>(FailureMode::kRandom);
      const double repair_h = std::round(random ? rng.Uniform(4, 24) : rng.Uniform(8, 72));
      AppendTime(&out->failures, t);
      core::StrAppend(&out->failures, ",", id, ",",
                      FailureModeName(static_cast<FailureMode>(failed)), "\n");
      ++out->failures_by_mode[static_cast<size_t>(failed)];
      const int64_t repaired = t + static_cast<int64_t>(repair_h * 3600);
      const int component = random ? static_cast<int>(rng.Int(0, kComponentCount - 1)) : failed;
      AppendTime(&out->maintenance, repaired);
      core::StrAppend(&out->maintenance, ",", id, ",", kComponentNames[component], ",corrective,",
                      repair_h, "\n");
      ++out->maintenance_count;
      new_life(component, rng.Uniform(0, 0.05));
      down_until = repaired;
      continue;
    }
    // Fault signatures: negligible until late in a component's life, then growing fast.
    double sig[kComponentCount];
    for (int c = 0; c < kComponentCount; ++c)
      sig[c] = std::min(3.0, std::exp(7.0 * (wear[c] - 1.0)));
    const double day_of_year = static_cast<double>((t / 86400) % 365);
    const double hour = static_cast<double>((t % 86400) / 3600.0);
    double v[kSensorCount];
    v[kAirTemperature] =
        16 + site_offset +
        options.seasonal_amplitude * std::sin(2 * std::numbers::pi * (day_of_year - 110) / 365) +
        4 * std::sin(2 * std::numbers::pi * (hour - 9) / 24) + rng.Normal(0, 0.3);
    // A changed ambient, before the temperatures that follow it (draws nothing: a drifted
    // fleet is the same fleet, changed only where the drift says).
    for (const MachineDrift& d : drifts) {
      if (d.sensor < 0 && t >= d.from) {
        v[kAirTemperature] =
            d.relative ? v[kAirTemperature] * (1 + d.amount) : v[kAirTemperature] + d.amount;
      }
    }
    v[kProcessTemperature] = v[kAirTemperature] + 12 + 18 * load + 15 * sig[3] + rng.Normal(0, 0.5);
    v[kBearingTemperature] =
        v[kAirTemperature] + 18 + 22 * load + 12 * sig[0] + 4 * sig[2] + rng.Normal(0, 0.7);
    v[kVibrationRms] =
        (1.2 + 1.5 * load + 0.6 * imbalance) * (1 + 2.5 * sig[0]) * rng.LogNormal(0, 0.08);
    v[kPressure] = std::max(0.0, 4 + 3 * load - 2.5 * sig[1] + rng.Normal(0, 0.08));
    v[kRotationalSpeed] =
        model.rated_speed_rpm * (0.7 + 0.3 * load) * (1 - 0.03 * sig[2]) + rng.Normal(0, 5);
    v[kTorque] =
        std::max(0.0, model.rated_torque_nm * load * (1 + 0.05 * sig[0]) + rng.Normal(0, 0.8));
    v[kCurrent] =
        model.rated_current_a * (0.25 + 0.75 * load) * (1 + 0.3 * sig[2]) + rng.Normal(0, 0.3);
    // A changed measurement: only the sensor's own column.
    for (const MachineDrift& d : drifts) {
      if (d.sensor >= 0 && t >= d.from) {
        v[d.sensor] = d.relative ? v[d.sensor] * (1 + d.amount) : v[d.sensor] + d.amount;
      }
    }

    // Error events: background codes plus symptom codes that grow with the signatures.
    if (rng.Bernoulli(0.002 * dt_h))
      errors.push_back({t + rng.Int(0, options.interval_seconds - 1), "E100"});
    for (int c = 0; c < kComponentCount; ++c) {
      if (rng.Bernoulli(std::min(0.5, 0.002 + 0.08 * sig[c] * sig[c]) * dt_h)) {
        errors.push_back({t + rng.Int(0, options.interval_seconds - 1), kSymptomCodes[c]});
      }
    }
    // Communication outage: the machine runs, the readings are lost.
    if (t < outage_until) continue;
    if (rng.Bernoulli(options.gap_rate)) {
      outage_until = t + rng.Int(1, 24) * options.interval_seconds;
      continue;
    }
    line.clear();
    AppendTime(&line, t);
    core::StrAppend(&line, ",", id, ",", kRegimes[regime].setpoint);
    for (int s = 0; s < kSensorCount; ++s) {
      line.push_back(',');
      double value = v[s];
      if (stuck_left[s] > 0) {
        --stuck_left[s];
        value = stuck_value[s];
      } else if (rng.Bernoulli(options.stuck_rate)) {
        stuck_left[s] = static_cast<int>(rng.Int(6, 48));
        stuck_value[s] = last_value[s];
        value = stuck_value[s];
        errors.push_back({t, "E110"});
      }
      last_value[s] = value;
      if (rng.Bernoulli(options.dropout_rate)) continue;  // empty cell
      if (rng.Bernoulli(options.outlier_rate)) {
        const double pick = rng.Uniform();
        value = pick < 0.4 ? -std::fabs(value) - 1 : pick < 0.8 ? value * 10 + 100 : 0.0;
      }
      AppendNumber(&line, value, kSensors[s].decimals);
    }
    line.push_back('\n');
    out->telemetry.append(line);
    ++out->readings;
    if (rng.Bernoulli(options.duplicate_rate)) {
      out->telemetry.append(line);  // re-sent reading
      ++out->readings;
    }
  }
  std::stable_sort(errors.begin(), errors.end(),
                   [](const ErrorEvent& a, const ErrorEvent& b) { return a.time < b.time; });
  for (const ErrorEvent& e : errors) {
    AppendTime(&out->errors, e.time);
    core::StrAppend(&out->errors, ",", id, ",", e.code, "\n");
  }
  out->error_count = static_cast<int64_t>(errors.size());
}

std::string SpecYaml(const SimulationOptions& options) {
  std::string y;
  core::StrAppend(
      &y,
      "# Written by `pdm simulate`: the spec of the simulated fleet next to it.\n"
      "# machines=",
      options.machines,
      " duration=", core::FormatSpan({core::Span::Kind::kTime, options.duration_seconds}),
      " interval=", core::FormatSpan({core::Span::Kind::kTime, options.interval_seconds}),
      " seed=", options.seed, "\n");
  if (options.seasonal_amplitude != 8) {
    core::StrAppend(&y, "# seasonal_amplitude=", options.seasonal_amplitude, "\n");
  }
  for (const DriftChange& d : options.drifts) core::StrAppend(&y, "# drift ", d.text, "\n");
  core::StrAppend(
      &y,
      "version: 1\n"
      "name: simulated-fleet\n"
      "description: Simulated fleet of rotating machines (pdm simulate)\n"
      "data:\n"
      "  file: telemetry.csv\n"
      "entity: machine_id\n"
      "time:\n"
      "  column: timestamp\n"
      "  type: timestamp\n"
      "settings:\n"
      "  - {name: load_setpoint, unit: \"%\", range: [0, 100], description: operating regime load "
      "setpoint}\n"
      "sensors:\n");
  for (const SensorInfo& s : kSensors) {
    core::StrAppend(&y, "  - {name: ", s.name, ", unit: \"", s.unit, "\", range: [", s.min, ", ",
                    s.max, "], description: \"", s.description, "\"}\n");
  }
  core::StrAppend(
      &y,
      "labels:\n"
      "  source: events\n"
      "  horizon: 48h     # positive: a failure within 48 hours of the reading\n"
      "  rul_clip: 30d\n"
      "events:\n"
      "  failures:\n"
      "    file: failures.csv\n"
      "    entity: machine_id\n"
      "    time: timestamp\n"
      "    kind: mode\n"
      "    kinds: [bearing, seal, motor, cooling, random]\n"
      "  maintenance:\n"
      "    file: maintenance.csv\n"
      "    entity: machine_id\n"
      "    time: timestamp\n"
      "    kind: component\n"
      "    kinds: [bearing, seal, motor, cooling]\n"
      "    categoricals:\n"
      "      - {name: kind, values: [preventive, corrective]}\n"
      "    attributes:\n"
      "      - {name: duration_h, unit: h, range: [0, 1000]}\n"
      "  errors:\n"
      "    file: errors.csv\n"
      "    entity: machine_id\n"
      "    time: timestamp\n"
      "    kind: code\n"
      "    kinds: [E100, E110, E210, E220, E230, E240]\n"
      "machines:\n"
      "  file: machines.csv\n"
      "  entity: machine_id\n"
      "  categoricals:\n"
      "    - {name: model, values: [A, B, C]}\n"
      "  attributes:\n"
      "    - {name: age_days, unit: d, range: [0, 20000]}\n"
      "    - {name: rated_speed_rpm, unit: rpm, range: [0, 10000]}\n"
      "    - {name: rated_power_kw, unit: kW, range: [0, 1000]}\n"
      "features:\n"
      "  windows: [3h, 24h, 7d]\n"
      "  stats: [mean, std, min, max, slope, ewma, delta, count]\n"
      "  baseline: 30d\n"
      "  # The load setpoints are the operating regimes: drift is judged within them, so a fleet\n"
      "  # moving between loads is not drift (the features are not normalised per regime).\n"
      "  regimes: {settings: [load_setpoint], normalize: false}\n"
      "  events: {windows: [24h, 7d]}\n"
      "  reset_on_maintenance:\n"
      "    bearing: [vibration_rms, bearing_temperature]\n"
      "validation:\n"
      "  missing_value: flag   # dropouts are expected: keep the reading, mark the value missing\n"
      "  out_of_range: flag    # spikes: keep the reading, mark the value missing\n");
  return y;
}

class OutputFile {
 public:
  absl::Status Open(const fs::path& path, std::string_view header) {
    path_ = path;
    file_ = std::fopen(path.c_str(), "wb");
    if (file_ == nullptr) {
      return absl::PermissionDeniedError(core::StrCat(path.string(), ": cannot create file"));
    }
    return Write(header);
  }
  absl::Status Write(std::string_view text) {
    if (!text.empty() && std::fwrite(text.data(), 1, text.size(), file_) != text.size()) {
      return absl::DataLossError(core::StrCat(path_.string(), ": write failed"));
    }
    bytes_ += static_cast<int64_t>(text.size());
    return absl::OkStatus();
  }
  absl::Status Close() {
    if (file_ != nullptr && std::fclose(file_) != 0) {
      file_ = nullptr;
      return absl::DataLossError(core::StrCat(path_.string(), ": close failed"));
    }
    file_ = nullptr;
    return absl::OkStatus();
  }
  ~OutputFile() {
    if (file_ != nullptr) std::fclose(file_);
  }
  int64_t bytes() const { return bytes_; }

 private:
  fs::path path_;
  std::FILE* file_ = nullptr;
  int64_t bytes_ = 0;
};

}  // namespace

absl::StatusOr<DriftChange> ParseDriftChange(std::string_view text) {
  DriftChange change;
  change.text = std::string(text);
  auto bad = [&](std::string_view why) {
    return absl::InvalidArgumentError(
        core::StrCat("--drift '", text, "': ", why,
                     " (expected TARGET:CHANGE@START[:MACHINES], e.g. vibration_rms:+20%@75d or "
                     "ambient:+5@60d:25%)"));
  };
  const size_t colon = text.find(':');
  const size_t at = text.find('@');
  if (colon == std::string_view::npos || colon == 0) return bad("no TARGET before ':'");
  if (at == std::string_view::npos || at < colon) return bad("no '@START'");
  change.target = std::string(text.substr(0, colon));
  std::string_view amount = text.substr(colon + 1, at - colon - 1);
  const size_t machines_at = text.find(':', at);
  const std::string_view start =
      text.substr(at + 1, machines_at == std::string_view::npos ? std::string_view::npos
                                                                : machines_at - at - 1);
  if (amount.empty() || (amount[0] != '+' && amount[0] != '-')) {
    return bad("CHANGE must start with + or -");
  }
  change.relative = amount.back() == '%';
  if (change.relative) amount.remove_suffix(1);
  const bool negative = amount[0] == '-';
  amount.remove_prefix(1);
  double value = 0;
  const auto [end, ec] = std::from_chars(amount.data(), amount.data() + amount.size(), value);
  if (ec != std::errc() || end != amount.data() + amount.size() || !std::isfinite(value)) {
    return bad("CHANGE is not a number");
  }
  change.amount = (negative ? -value : value) / (change.relative ? 100 : 1);
  if (change.relative && change.amount <= -1) return bad("a relative CHANGE must stay above -100%");
  auto offset = core::ParseDurationSeconds(start);
  if (!offset.ok()) return bad(core::StrCat("START: ", offset.status().message()));
  change.start_offset_seconds = *offset;
  if (machines_at != std::string_view::npos) {
    std::string_view machines = text.substr(machines_at + 1);
    if (machines.empty()) return bad("MACHINES is empty");
    if (machines == "all") {
      // every machine
    } else if (machines.back() == '%') {
      machines.remove_suffix(1);
      double share = 0;
      const auto [e, c] =
          std::from_chars(machines.data(), machines.data() + machines.size(), share);
      if (c != std::errc() || e != machines.data() + machines.size() || !(share > 0) ||
          share > 100) {
        return bad("a share of MACHINES must be within (0, 100]%");
      }
      change.fraction = share / 100;
    } else {
      for (std::string_view rest = machines; !rest.empty();) {
        const size_t comma = rest.find(',');
        const std::string_view id = rest.substr(0, comma);
        if (id.empty()) return bad("an empty machine id in MACHINES");
        change.machines.emplace_back(id);
        if (comma == std::string_view::npos) break;
        rest.remove_prefix(comma + 1);
      }
    }
  }
  return change;
}

const char* FailureModeName(FailureMode mode) {
  switch (mode) {
    case FailureMode::kBearing:
      return "bearing";
    case FailureMode::kSeal:
      return "seal";
    case FailureMode::kMotor:
      return "motor";
    case FailureMode::kCooling:
      return "cooling";
    case FailureMode::kRandom:
      return "random";
  }
  return "unknown";
}

absl::StatusOr<SimulationSummary> Simulate(const SimulationOptions& options,
                                           const fs::path& out_dir) {
  if (options.machines < 1 || options.machines > 1000000) {
    return absl::InvalidArgumentError("--machines must be between 1 and 1000000");
  }
  if (options.interval_seconds < 1) return absl::InvalidArgumentError("--interval must be >= 1s");
  if (options.duration_seconds < options.interval_seconds) {
    return absl::InvalidArgumentError("--duration must be at least one --interval");
  }
  for (double rate : {options.dropout_rate, options.outlier_rate, options.gap_rate,
                      options.duplicate_rate, options.stuck_rate}) {
    if (!(rate >= 0 && rate <= 1)) return absl::InvalidArgumentError("rates must be in [0, 1]");
  }
  if (!(options.seasonal_amplitude >= 0 && options.seasonal_amplitude <= 50)) {
    return absl::InvalidArgumentError("--seasonal-amplitude must be between 0 and 50 degC");
  }
  // Each machine's drifts; a share of the fleet is a seeded choice of exactly that many.
  std::vector<std::vector<MachineDrift>> drifts(static_cast<size_t>(options.machines));
  for (size_t k = 0; k < options.drifts.size(); ++k) {
    const DriftChange& change = options.drifts[k];
    MachineDrift d{-1, change.relative, change.amount,
                   options.start_epoch_seconds + change.start_offset_seconds};
    if (change.target != "ambient") {
      auto it = std::find_if(std::begin(kSensors), std::end(kSensors),
                             [&](const SensorInfo& info) { return change.target == info.name; });
      if (it == std::end(kSensors)) {
        return absl::InvalidArgumentError(
            core::StrCat("--drift '", change.text, "': no sensor '", change.target,
                         "' (ambient, air_temperature, process_temperature, bearing_temperature, "
                         "vibration_rms, pressure, rotational_speed, torque, current)"));
      }
      d.sensor = static_cast<int>(it - std::begin(kSensors));
    }
    std::vector<char> on(static_cast<size_t>(options.machines), change.machines.empty() ? 1 : 0);
    for (const std::string& id : change.machines) {
      int number = 0;
      const auto [end, err] = std::from_chars(id.data() + 1, id.data() + id.size(), number);
      if (id.size() < 2 || id[0] != 'M' || err != std::errc() || end != id.data() + id.size() ||
          number < 1 || number > options.machines) {
        return absl::InvalidArgumentError(core::StrCat(
            "--drift '", change.text, "': machine '", id, "' is not in the fleet (M0001..M",
            fmt::format("{:04d}", options.machines), ")"));
      }
      on[static_cast<size_t>(number - 1)] = 1;
    }
    if (change.machines.empty() && change.fraction < 1) {
      std::vector<int> order(static_cast<size_t>(options.machines));
      for (int i = 0; i < options.machines; ++i) order[static_cast<size_t>(i)] = i;
      Random pick(MixSeed(options.seed ^ 0x5eed'd71f'7000'0000ULL, k));
      for (size_t i = order.size(); i > 1; --i) {
        std::swap(order[i - 1],
                  order[static_cast<size_t>(pick.Int(0, static_cast<int64_t>(i) - 1))]);
      }
      const auto chosen = static_cast<size_t>(
          std::llround(change.fraction * static_cast<double>(options.machines)));
      std::fill(on.begin(), on.end(), 0);
      for (size_t i = 0; i < chosen; ++i) on[static_cast<size_t>(order[i])] = 1;
    }
    for (size_t m = 0; m < on.size(); ++m) {
      if (on[m]) drifts[m].push_back(d);
    }
  }
  std::error_code ec;
  fs::create_directories(out_dir, ec);
  if (ec) {
    return absl::PermissionDeniedError(
        core::StrCat(out_dir.string(), ": cannot create directory: ", ec.message()));
  }
  OutputFile telemetry, failures, maintenance, errors, machines;
  std::string header = "timestamp,machine_id,load_setpoint";
  for (const SensorInfo& s : kSensors) core::StrAppend(&header, ",", s.name);
  header.push_back('\n');
  PDM_RETURN_IF_ERROR(telemetry.Open(out_dir / "telemetry.csv", header));
  PDM_RETURN_IF_ERROR(failures.Open(out_dir / "failures.csv", "timestamp,machine_id,mode\n"));
  PDM_RETURN_IF_ERROR(maintenance.Open(out_dir / "maintenance.csv",
                                       "timestamp,machine_id,component,kind,duration_h\n"));
  PDM_RETURN_IF_ERROR(errors.Open(out_dir / "errors.csv", "timestamp,machine_id,code\n"));
  PDM_RETURN_IF_ERROR(machines.Open(out_dir / "machines.csv",
                                    "machine_id,model,age_days,rated_speed_rpm,rated_power_kw\n"));

  const int threads =
      std::max(1, options.threads > 0 ? options.threads
                                      : static_cast<int>(std::thread::hardware_concurrency()));
  // Machines are simulated in blocks so that memory stays bounded; each block is written in
  // machine order, so the bytes do not depend on the thread count.
  const int block = 32 * threads;
  SimulationSummary summary;
  std::vector<MachineOutput> outputs;
  for (int first = 0; first < options.machines; first += block) {
    const int count = std::min(block, options.machines - first);
    outputs.assign(static_cast<size_t>(count), MachineOutput{});
    std::atomic<int> next{0};
    auto work = [&] {
      for (int i = next++; i < count; i = next++) {
        const int machine = first + i;
        SimulateMachine(options, machine, drifts[static_cast<size_t>(machine)],
                        &outputs[static_cast<size_t>(i)]);
      }
    };
    std::vector<std::thread> pool;
    for (int t = 1; t < std::min(threads, count); ++t) pool.emplace_back(work);
    work();
    for (std::thread& thread : pool) thread.join();
    for (const MachineOutput& out : outputs) {
      PDM_RETURN_IF_ERROR(telemetry.Write(out.telemetry));
      PDM_RETURN_IF_ERROR(failures.Write(out.failures));
      PDM_RETURN_IF_ERROR(maintenance.Write(out.maintenance));
      PDM_RETURN_IF_ERROR(errors.Write(out.errors));
      PDM_RETURN_IF_ERROR(machines.Write(out.machine));
      summary.readings += out.readings;
      summary.maintenance += out.maintenance_count;
      summary.errors += out.error_count;
      for (int m = 0; m < kFailureModeCount; ++m) {
        summary.failures_by_mode[static_cast<size_t>(m)] +=
            out.failures_by_mode[static_cast<size_t>(m)];
        summary.failures += out.failures_by_mode[static_cast<size_t>(m)];
      }
    }
  }
  for (OutputFile* file : {&telemetry, &failures, &maintenance, &errors, &machines}) {
    PDM_RETURN_IF_ERROR(file->Close());
    summary.bytes += file->bytes();
  }
  OutputFile spec;
  summary.spec_path = out_dir / "spec.yaml";
  PDM_RETURN_IF_ERROR(spec.Open(summary.spec_path, SpecYaml(options)));
  PDM_RETURN_IF_ERROR(spec.Close());
  return summary;
}

}  // namespace pdm::sim
