#include "sim/simulator.h"

#include <gtest/gtest.h>

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
