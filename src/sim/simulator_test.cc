#include "sim/simulator.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <set>
#include <sstream>

#include "core/time.h"
#include "spec/dataset_spec.h"
#include "tests/testing/test_paths.h"
#include "validate/dataset_validation.h"

namespace pdm::sim {
namespace {

namespace fs = std::filesystem;
using testing::ReadFile;
using testing::TempDir;

std::vector<std::vector<std::string>> ReadCsv(const fs::path& path) {
  std::vector<std::vector<std::string>> rows;
  std::istringstream in(ReadFile(path));
  std::string line;
  while (std::getline(in, line)) {
    std::vector<std::string> fields;
    std::string field;
    std::istringstream fields_in(line);
    while (std::getline(fields_in, field, ',')) fields.push_back(field);
    if (!line.empty() && line.back() == ',') fields.emplace_back();
    rows.push_back(fields);
  }
  return rows;
}

constexpr const char* kFiles[] = {"telemetry.csv", "failures.csv", "maintenance.csv",
                                  "errors.csv",    "machines.csv", "spec.yaml"};

TEST(SimulatorTest, SameSeedSameBytesWhateverTheThreadCount) {
  SimulationOptions options;
  options.machines = 70;  // more than one block per thread
  options.duration_seconds = 10 * 86400;
  options.seed = 42;
  options.threads = 1;
  const fs::path a = TempDir("det_a"), b = TempDir("det_b"), c = TempDir("det_c");
  ASSERT_TRUE(Simulate(options, a).ok());
  options.threads = 2;
  ASSERT_TRUE(Simulate(options, b).ok());
  for (const char* file : kFiles) {
    EXPECT_EQ(ReadFile(a / file), ReadFile(b / file)) << file;
  }
  options.seed = 43;
  ASSERT_TRUE(Simulate(options, c).ok());
  EXPECT_NE(ReadFile(a / "telemetry.csv"), ReadFile(c / "telemetry.csv"));
}

TEST(SimulatorTest, ParsesDriftChangesAndRefusesBadOnes) {
  auto a = ParseDriftChange("vibration_rms:+20%@75d");
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->target, "vibration_rms");
  EXPECT_TRUE(a->relative);
  EXPECT_DOUBLE_EQ(a->amount, 0.2);
  EXPECT_EQ(a->start_offset_seconds, 75 * 86400);
  EXPECT_TRUE(a->machines.empty());
  EXPECT_EQ(a->fraction, 1);
  auto b = ParseDriftChange("ambient:-2.5@12h:25%");
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_FALSE(b->relative);
  EXPECT_DOUBLE_EQ(b->amount, -2.5);
  EXPECT_EQ(b->start_offset_seconds, 12 * 3600);
  EXPECT_DOUBLE_EQ(b->fraction, 0.25);
  auto c = ParseDriftChange("pressure:+1@1d:M0001,M0003");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->machines, (std::vector<std::string>{"M0001", "M0003"}));
  for (const char* bad :
       {"vibration_rms", "vibration_rms:20%@1d", "vibration_rms:+x%@1d", ":+1@1d",
        "vibration_rms:+1@", "vibration_rms:+1@1q", "vibration_rms:-100%@1d",
        "vibration_rms:+1@1d:0%", "vibration_rms:+1@1d:M1,,M2", "vibration_rms:+1@1d:"}) {
    auto parsed = ParseDriftChange(bad);
    EXPECT_FALSE(parsed.ok()) << bad;
    if (!parsed.ok()) {
      EXPECT_NE(parsed.status().message().find(bad), std::string::npos) << bad;
    }
  }
}

// A drifted fleet is the same fleet: only the drifted column of the chosen machines changes,
// from the start of the drift on, by the amount given.
TEST(SimulatorTest, DriftChangesOnlyItsColumnOnItsMachinesFromItsStart) {
  SimulationOptions options;
  options.machines = 8;
  options.duration_seconds = 6 * 86400;
  options.seed = 5;
  options.threads = 1;
  const fs::path plain = TempDir("drift_plain"), drifted = TempDir("drift_on");
  ASSERT_TRUE(Simulate(options, plain).ok());
  options.drifts = {*ParseDriftChange("vibration_rms:+20%@3d:50%"),
                    *ParseDriftChange("pressure:-0.5@4d:M0002")};
  ASSERT_TRUE(Simulate(options, drifted).ok());
  for (const char* file : {"failures.csv", "maintenance.csv", "errors.csv", "machines.csv"}) {
    EXPECT_EQ(ReadFile(plain / file), ReadFile(drifted / file)) << file;
  }
  const auto a = ReadCsv(plain / "telemetry.csv"), b = ReadCsv(drifted / "telemetry.csv");
  ASSERT_EQ(a.size(), b.size());
  const size_t vibration = 6, pressure = 7;  // timestamp, machine_id, load_setpoint, 8 sensors
  ASSERT_EQ(a[0][vibration], "vibration_rms");
  ASSERT_EQ(a[0][pressure], "pressure");
  std::set<std::string> vibrated;
  int pressure_changed = 0;
  for (size_t r = 1; r < a.size(); ++r) {
    const std::string& time = a[r][0];
    const std::string& machine = a[r][1];
    for (size_t col = 0; col < a[r].size(); ++col) {
      if (a[r][col] == b[r][col]) continue;
      ASSERT_TRUE(col == vibration || col == pressure) << "row " << r << " column " << a[0][col];
      const double before = std::stod(a[r][col]), after = std::stod(b[r][col]);
      if (col == vibration) {
        EXPECT_GE(time, "2025-01-04T00:00:00Z");
        EXPECT_NEAR(after, before * 1.2, 0.0011) << time << " " << machine;
        vibrated.insert(machine);
      } else {
        EXPECT_GE(time, "2025-01-05T00:00:00Z");
        EXPECT_EQ(machine, "M0002");
        EXPECT_NEAR(after, before - 0.5, 0.0011);
        ++pressure_changed;
      }
    }
  }
  EXPECT_EQ(vibrated.size(), 4u) << "50% of 8 machines";
  EXPECT_GT(pressure_changed, 20);
  EXPECT_NE(ReadFile(drifted / "spec.yaml").find("# drift vibration_rms:+20%@3d:50%"),
            std::string::npos);
  options.drifts = {*ParseDriftChange("oil_level:+1@1d")};
  EXPECT_FALSE(Simulate(options, TempDir("drift_bad")).ok());
  options.drifts = {*ParseDriftChange("pressure:+1@1d:M0009")};
  EXPECT_FALSE(Simulate(options, TempDir("drift_bad2")).ok());
}

// A warmer ambient is physical: every temperature follows it; the other sensors do not move.
TEST(SimulatorTest, AmbientDriftWarmsEveryTemperature) {
  SimulationOptions options;
  options.machines = 3;
  options.duration_seconds = 3 * 86400;
  options.threads = 1;
  const fs::path plain = TempDir("ambient_plain"), warm = TempDir("ambient_warm");
  ASSERT_TRUE(Simulate(options, plain).ok());
  options.drifts = {*ParseDriftChange("ambient:+5@1d")};
  ASSERT_TRUE(Simulate(options, warm).ok());
  const auto a = ReadCsv(plain / "telemetry.csv"), b = ReadCsv(warm / "telemetry.csv");
  ASSERT_EQ(a.size(), b.size());
  int shifted = 0, compared = 0;
  for (size_t r = 1; r < a.size(); ++r) {
    if (a[r][0] < "2025-01-02T00:00:00Z") {
      EXPECT_EQ(a[r], b[r]);
      continue;
    }
    for (size_t col = 3; col < 6; ++col) {  // the three temperatures
      if (a[r][col].empty() || b[r][col].empty()) continue;
      ++compared;
      const double delta = std::stod(b[r][col]) - std::stod(a[r][col]);
      // Outliers and stuck values do not follow the ambient; the rest moves by 5 degC.
      if (std::fabs(delta - 5) < 0.011) ++shifted;
    }
    for (size_t col = 6; col < a[r].size(); ++col) EXPECT_EQ(a[r][col], b[r][col]);
  }
  EXPECT_GT(compared, 200);
  EXPECT_GE(shifted, compared * 95 / 100);
}

TEST(SimulatorTest, NoSeasonKeepsTheAmbientLevel) {
  SimulationOptions options;
  options.machines = 4;
  options.duration_seconds = 120 * 86400;
  options.interval_seconds = 6 * 3600;
  options.seasonal_amplitude = 0;
  options.threads = 1;
  const fs::path dir = TempDir("no_season");
  ASSERT_TRUE(Simulate(options, dir).ok());
  // Mean ambient of January against April: the season moves it by about 8 degC; none here.
  double sum[2] = {0, 0};
  int n[2] = {0, 0};
  const auto rows = ReadCsv(dir / "telemetry.csv");
  for (size_t r = 1; r < rows.size(); ++r) {
    if (rows[r][3].empty()) continue;
    const int half = rows[r][0] < "2025-02-01" ? 0 : rows[r][0] >= "2025-04-01" ? 1 : -1;
    if (half < 0) continue;
    const double v = std::stod(rows[r][3]);
    if (v < -30 || v > 50) continue;  // outliers
    sum[half] += v;
    ++n[half];
  }
  ASSERT_GT(n[0], 100);
  ASSERT_GT(n[1], 100);
  EXPECT_NEAR(sum[0] / n[0], sum[1] / n[1], 1.0);
}

TEST(SimulatorTest, RefusesBadOptions) {
  SimulationOptions options;
  options.machines = 0;
  EXPECT_FALSE(Simulate(options, TempDir("bad")).ok());
  options.machines = 1;
  options.interval_seconds = 3600;
  options.duration_seconds = 60;
  EXPECT_FALSE(Simulate(options, TempDir("bad")).ok());
  options.duration_seconds = 86400;
  options.dropout_rate = 1.5;
  EXPECT_FALSE(Simulate(options, TempDir("bad")).ok());
}

class SimulatedFleetTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new fs::path(TempDir("fleet"));
    SimulationOptions options;
    options.machines = 25;
    options.duration_seconds = 300 * 86400;
    options.seed = 9;
    auto summary = Simulate(options, *dir_);
    ASSERT_TRUE(summary.ok()) << summary.status();
    summary_ = new SimulationSummary(*summary);
  }
  static void TearDownTestSuite() {
    fs::remove_all(*dir_);
    delete dir_;
    delete summary_;
  }
  static fs::path* dir_;
  static SimulationSummary* summary_;
};
fs::path* SimulatedFleetTest::dir_ = nullptr;
SimulationSummary* SimulatedFleetTest::summary_ = nullptr;

TEST_F(SimulatedFleetTest, WritesAValidDatasetWithItsOwnSpec) {
  auto spec = spec::LoadDatasetSpec(summary_->spec_path);
  ASSERT_TRUE(spec.ok()) << spec.status();
  auto report = validate::ValidateDataset(*spec, {});
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->rows_read, report->rows_accepted + report->rows_quarantined);
  EXPECT_EQ(report->tables[0].rows_read, summary_->readings);
  EXPECT_EQ(report->tables[0].entities, 25);
  // Only the injected re-sent readings are refused; dropouts and spikes are flagged.
  EXPECT_EQ(report->rows_quarantined,
            report->rows_by_reason[static_cast<int>(validate::Reason::kDuplicateKey)]);
  EXPECT_GT(report->rows_quarantined, 0);
  EXPECT_GT(report->flags_by_reason[static_cast<int>(validate::Reason::kMissingValue)], 0);
  EXPECT_GT(report->flags_by_reason[static_cast<int>(validate::Reason::kOutOfRange)], 0);
}

TEST_F(SimulatedFleetTest, HasRegimesFailureModesMaintenanceAndErrors) {
  std::set<std::string> setpoints;
  for (const auto& row : ReadCsv(*dir_ / "telemetry.csv")) setpoints.insert(row[2]);
  EXPECT_EQ(setpoints, (std::set<std::string>{"load_setpoint", "25", "60", "90"}));
  std::map<std::string, int> modes;
  for (const auto& row : ReadCsv(*dir_ / "failures.csv")) ++modes[row[2]];
  for (const char* mode : {"bearing", "seal", "motor", "cooling"}) {
    EXPECT_GE(modes[mode], 5) << mode;
  }
  std::map<std::string, int> kinds;
  for (const auto& row : ReadCsv(*dir_ / "maintenance.csv")) ++kinds[row[3]];
  EXPECT_GT(kinds["preventive"], 40);
  EXPECT_EQ(kinds["corrective"], summary_->failures);
  EXPECT_GT(summary_->errors, 100);
}

// Each failure mode leaves its own signature in the day before the failure.
TEST_F(SimulatedFleetTest, FailureModesLeaveDistinctSignatures) {
  // telemetry columns: 0 ts, 1 id, 2 setpoint, 3 air, 4 process, 5 bearing, 6 vib, 7 pressure,
  // 8 speed, 9 torque, 10 current
  struct Reading {
    double t;
    std::vector<double> v;
  };
  std::map<std::string, std::vector<Reading>> by_machine;
  for (const auto& row : ReadCsv(*dir_ / "telemetry.csv")) {
    double t = 0;
    if (!core::ParseTimestamp(row[0], &t)) continue;
    Reading r{t, {}};
    for (size_t i = 2; i < row.size(); ++i) r.v.push_back(row[i].empty() ? NAN : std::stod(row[i]));
    if (r.v.size() == 9) by_machine[row[1]].push_back(r);
  }
  // Ratio of a quantity in the 24 h before each failure to the same machine's 30-day baseline
  // taken 60-30 days before, averaged per mode.
  auto quantity = [](const std::vector<double>& v, int k) {
    switch (k) {
      case 0:
        return v[4];  // vibration_rms
      case 1:
        return -v[5];  // pressure (lower is worse)
      case 2:
        return v[8];  // current
      default:
        return v[2] - v[1];  // process - air temperature
    }
  };
  std::map<std::string, std::array<double, 4>> lift_sum;
  std::map<std::string, int> count;
  for (const auto& row : ReadCsv(*dir_ / "failures.csv")) {
    double tf = 0;
    if (!core::ParseTimestamp(row[0], &tf)) continue;
    const auto& readings = by_machine[row[1]];
    std::array<double, 4> late{}, base{};
    std::array<int, 4> nl{}, nb{};
    for (const Reading& r : readings) {
      for (int k = 0; k < 4; ++k) {
        const double q = quantity(r.v, k);
        if (std::isnan(q) || std::fabs(q) > 500) continue;
        if (r.t < tf && r.t >= tf - 86400) late[k] += q, ++nl[k];
        if (r.t < tf - 30 * 86400 && r.t >= tf - 60 * 86400) base[k] += q, ++nb[k];
      }
    }
    if (nl[0] < 5 || nb[0] < 100) continue;
    for (int k = 0; k < 4; ++k) lift_sum[row[2]][k] += late[k] / nl[k] - base[k] / nb[k];
    ++count[row[2]];
  }
  const char* modes[] = {"bearing", "seal", "motor", "cooling"};
  for (int m = 0; m < 4; ++m) {
    ASSERT_GT(count[modes[m]], 2) << modes[m];
    std::array<double, 4> lift = lift_sum[modes[m]];
    for (double& x : lift) x /= count[modes[m]];
    // The mode's own signal moves most; vibration by > 1 mm/s for bearings, etc.
    const double own = lift[static_cast<size_t>(m)];
    std::printf("%s: n=%d lift vib %.2f pressure %.2f current %.2f dT %.2f\n", modes[m],
                count[modes[m]], lift[0], lift[1], lift[2], lift[3]);
    EXPECT_GT(own, m == 0 ? 1.0 : m == 1 ? 0.5 : m == 2 ? 1.0 : 3.0) << modes[m];
  }
}

TEST_F(SimulatedFleetTest, RealisticImperfections) {
  int64_t empty_cells = 0, gaps = 0;
  std::map<std::string, double> last;
  for (const auto& row : ReadCsv(*dir_ / "telemetry.csv")) {
    if (row[0] == "timestamp") continue;
    for (const auto& cell : row) empty_cells += cell.empty();
    double t = 0;
    ASSERT_TRUE(core::ParseTimestamp(row[0], &t));
    auto it = last.find(row[1]);
    if (it != last.end() && t - it->second > 3600) ++gaps;
    last[row[1]] = t;
  }
  EXPECT_GT(empty_cells, 100);
  EXPECT_GT(gaps, 50);  // maintenance stops, repairs and communication outages
}

}  // namespace
}  // namespace pdm::sim
