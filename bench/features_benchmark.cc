// Micro-benchmarks (Google Benchmark) of the feature engine's hot path: one OnlineFeatureState
// fed hourly readings of 8 sensors, 3 time windows (3h, 24h, 7d) x 6 statistics = 144 features.
//   build/release/bench/features_benchmark
#include <benchmark/benchmark.h>

#include <cmath>
#include <random>

#include "bench/eight_sensor_spec.h"
#include "features/online_state.h"
#include "features/pipeline.h"
#include "features/window_kernels.h"
#include "spec/dataset_spec.h"

namespace {

using namespace pdm;  // NOLINT(google-build-using-namespace): benchmark brevity

void BM_OnlineUpdate(benchmark::State& state) {
  auto spec = spec::ParseDatasetSpec(kEightSensorSpec, "/tmp/bench.yaml");
  auto pipeline = features::FeaturePipeline::Create(*spec);
  if (!pipeline.ok()) {
    state.SkipWithError("pipeline");
    return;
  }
  // A year of hourly readings with noise, a few missing values.
  std::mt19937_64 rng(1);
  std::normal_distribution<double> noise(0, 1);
  const size_t n = 8760;
  std::vector<double> values(n * 8);
  for (double& v : values) v = 50 + noise(rng);
  for (size_t i = 0; i < values.size(); i += 501) values[i] = NAN;
  std::vector<double> out(pipeline->feature_count());
  int64_t updates = 0;
  for (auto _ : state) {
    features::OnlineFeatureState online(&*pipeline);
    for (size_t i = 0; i < n; ++i) {
      const features::Reading reading{1.7e9 + 3600.0 * static_cast<double>(i),
                                      std::span<const double>(values).subspan(i * 8, 8),
                                      {}};
      benchmark::DoNotOptimize(online.Update(reading, out));
    }
    benchmark::ClobberMemory();
    updates += static_cast<int64_t>(n);
  }
  state.counters["updates/s"] =
      benchmark::Counter(static_cast<double>(updates), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_OnlineUpdate)->Unit(benchmark::kMillisecond);

// The same with the x86-64 baseline's window kernels (two sensors per instruction) where the CPU
// would use AVX2: what the AVX2 kernels gain, in one binary (docs/adr/0011).
void BM_OnlineUpdateBaselineKernels(benchmark::State& state) {
  features::window_kernels::UseForTesting(&features::window_kernels::Baseline());
  BM_OnlineUpdate(state);
  features::window_kernels::UseForTesting(nullptr);
}
BENCHMARK(BM_OnlineUpdateBaselineKernels)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
