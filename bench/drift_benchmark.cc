// The drift monitor's costs (monitor/drift_monitor.h), Release build:
//   build/release/bench/drift_benchmark
// BM_DriftEvaluate: one evaluation of 228 features and the score over a full window of 10,000
// rows (the target: under 50 ms); BM_DriftEvaluateCalibrated the same with calibrated
// thresholds, so that the fast window (the newest quarter) is evaluated too;
// BM_DriftEvaluateRegimes with three operating regimes and the median shift. BM_DriftObserve: the
// per-row bookkeeping the telemetry route adds, in requests of 20 rows; BM_DriftObserveLevels
// the same with a level column per sensor.
#include <benchmark/benchmark.h>

#include <random>
#include <string>
#include <vector>

#include "monitor/drift_monitor.h"
#include "monitor/level.h"

namespace {

constexpr size_t kFeatures = 228;

pdm::monitor::ReferenceProfile Profile() {
  std::mt19937_64 rng(1);
  std::normal_distribution<double> normal(0, 1);
  pdm::monitor::ReferenceProfile profile;
  std::vector<double> values(20000);
  for (size_t j = 0; j < kFeatures; ++j) {
    for (double& v : values) v = normal(rng) * static_cast<double>(j + 1);
    std::string name = "f";  // (not "f" + ...: GCC 12 warns falsely on that, -Wrestrict)
    name += std::to_string(j);
    profile.features.push_back(pdm::monitor::BuildColumnProfile(name, values));
  }
  for (double& v : values) v = std::abs(normal(rng)) / 4;
  profile.score = pdm::monitor::BuildColumnProfile("probability", values);
  return profile;
}

std::vector<float> Rows(size_t rows, double shift) {
  std::mt19937_64 rng(2);
  std::normal_distribution<double> normal(0, 1);
  std::vector<float> x(rows * kFeatures);
  for (size_t r = 0; r < rows; ++r) {
    for (size_t j = 0; j < kFeatures; ++j) {
      x[r * kFeatures + j] = static_cast<float>((normal(rng) + shift) * static_cast<double>(j + 1));
    }
  }
  return x;
}

pdm::monitor::DriftOptions Options() {
  pdm::monitor::DriftOptions o;
  o.window = {pdm::core::Span::Kind::kRecords, 10000};
  o.every = {pdm::core::Span::Kind::kRecords, 1'000'000'000};  // evaluations by hand only
  o.probability_threshold = 0.5;
  return o;
}

void Feed(pdm::monitor::DriftMonitor* m, const std::vector<float>& x, size_t rows) {
  std::vector<pdm::monitor::ObservedRow> batch;
  for (size_t r = 0; r < rows; ++r) {
    batch.push_back({NAN, std::span<const float>(x.data() + r * kFeatures, kFeatures), 0.1});
  }
  m->Observe(batch);
}

void BM_DriftEvaluate(benchmark::State& state) {
  pdm::monitor::DriftMonitor m(Profile(), Options());
  const std::vector<float> x = Rows(10000, 0.1);
  Feed(&m, x, 10000);
  for (auto _ : state) benchmark::DoNotOptimize(m.EvaluateNow());
  state.counters["window_rows"] = static_cast<double>(m.Latest()->window_rows);
  state.counters["features"] = kFeatures;
}
BENCHMARK(BM_DriftEvaluate)->Unit(benchmark::kMillisecond);

void BM_DriftEvaluateCalibrated(benchmark::State& state) {
  pdm::monitor::ReferenceProfile profile = Profile();
  profile.calibration_window = Options().window;
  for (pdm::monitor::ColumnProfile& c : profile.features) {
    c.null_psi.full = {100, 0.02, 0.04, 0.05};
    c.null_psi.fast = {100, 0.08, 0.15, 0.2};
  }
  pdm::monitor::DriftMonitor m(profile, Options());
  const std::vector<float> x = Rows(10000, 0.1);
  Feed(&m, x, 10000);
  for (auto _ : state) benchmark::DoNotOptimize(m.EvaluateNow());
  state.counters["fast_psi"] = m.Latest()->features[0].fast_psi.value_or(-1);
}
BENCHMARK(BM_DriftEvaluateCalibrated)->Unit(benchmark::kMillisecond);

// As BM_DriftEvaluateCalibrated, with three operating regimes (the last feature holds the
// regime): every column's reference is mixed in the window's regime shares, twice (the window
// and the fast window), and the median shift is watched too.
void BM_DriftEvaluateRegimes(benchmark::State& state) {
  constexpr int kRegimes = 3;
  pdm::monitor::ReferenceProfile profile = Profile();
  profile.calibration_window = Options().window;
  profile.regime_feature = kFeatures - 1;
  profile.regimes = kRegimes;
  std::vector<float> x = Rows(10000, 0.1);
  for (size_t r = 0; r < 10000; ++r) x[r * kFeatures + kFeatures - 1] = static_cast<float>(r % 3);
  for (pdm::monitor::ColumnProfile& c : profile.features) {
    c.null_psi.full = {100, 0.02, 0.04, 0.05};
    c.null_psi.fast = {100, 0.08, 0.15, 0.2};
    c.null_shift.full = {100, 0.01, 0.02, 0.03};
    c.null_shift.fast = {100, 0.02, 0.04, 0.06};
    // Each regime a third of the reference, shaped alike.
    c.regime_counts.assign(kRegimes, c.counts);
  }
  pdm::monitor::DriftMonitor m(profile, Options());
  Feed(&m, x, 10000);
  for (auto _ : state) benchmark::DoNotOptimize(m.EvaluateNow());
  state.counters["regime_rows_0"] = static_cast<double>(m.Latest()->regime_rows.at(0));
}
BENCHMARK(BM_DriftEvaluateRegimes)->Unit(benchmark::kMillisecond);

void BM_DriftObserve(benchmark::State& state) {
  pdm::monitor::DriftMonitor m(Profile(), Options());
  const std::vector<float> x = Rows(1000, 0.1);
  std::vector<pdm::monitor::ObservedRow> batch;
  size_t next = 0;
  for (auto _ : state) {
    batch.clear();
    for (int r = 0; r < 20; ++r, next = (next + 1) % 1000) {
      batch.push_back({NAN, std::span<const float>(x.data() + next * kFeatures, kFeatures), 0.1});
    }
    m.Observe(batch);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * 20);
}
BENCHMARK(BM_DriftObserve)->Unit(benchmark::kMicrosecond);

// As BM_DriftObserve, with level columns (monitor/level.h) for the first seven features, as the
// simulated fleet's profile has one per sensor: each row also moves its machine's levels (one
// of 1,000 machines, timed rows an hour apart per machine).
void BM_DriftObserveLevels(benchmark::State& state) {
  constexpr size_t kLevels = 7;
  constexpr int kMachines = 1000;
  pdm::monitor::ReferenceProfile profile = Profile();
  for (size_t j = 0; j < kLevels; ++j) {
    pdm::monitor::ColumnProfile level = profile.features[j];
    level.name = pdm::monitor::LevelColumnName(level.name);
    profile.levels.push_back(std::move(level));
    profile.level_features.push_back(j);
  }
  pdm::monitor::DriftOptions o = Options();
  o.window = {pdm::core::Span::Kind::kTime, 86400};
  pdm::monitor::DriftMonitor m(profile, o);
  const std::vector<float> x = Rows(1000, 0.1);
  std::vector<std::string> machines;
  for (int i = 0; i < kMachines; ++i) machines.push_back("machine-" + std::to_string(i));
  std::vector<pdm::monitor::ObservedRow> batch;
  size_t next = 0;
  double time = 1.7e9;
  for (auto _ : state) {
    batch.clear();
    for (int r = 0; r < 20; ++r, next = (next + 1) % 1000) {
      if (next == 0) time += 3600;
      batch.push_back({time, std::span<const float>(x.data() + next * kFeatures, kFeatures), 0.1,
                       NAN, machines[next]});
    }
    m.Observe(batch);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * 20);
}
BENCHMARK(BM_DriftObserveLevels)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
