// Batched telemetry inserts into both Store backends, rows/s (items_per_second), through the
// real schema (indexes included) and the real durability settings (SQLite WAL + synchronous=FULL,
// PostgreSQL defaults: fsync on, synchronous_commit on). bench/store_bench.sh starts a PostgreSQL
// 15 on loopback and runs this; alone, the PostgreSQL cases need PDM_BENCH_POSTGRES_URL.
//   build/release/bench/store_benchmark --benchmark_filter=Sqlite
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "store/store.h"

namespace {

constexpr int kMachines = 100;
constexpr const char* kSensors[] = {"vibration", "temperature", "pressure", "current",
                                    "rpm",       "oil_temp",    "flow",     "acoustic"};

// `rows` readings of 100 machines x 8 sensors, one second apart, starting at `*clock`.
std::vector<pdm::store::TelemetryRow> Batch(size_t rows, int64_t* clock) {
  std::vector<pdm::store::TelemetryRow> batch;
  batch.reserve(rows);
  while (batch.size() < rows) {
    for (int m = 0; m < kMachines && batch.size() < rows; ++m) {
      for (const char* sensor : kSensors) {
        if (batch.size() == rows) break;
        batch.push_back({"M-" + std::to_string(m), *clock, sensor,
                         20.0 + 0.001 * static_cast<double>(*clock % 1000) + m});
      }
    }
    *clock += 1'000'000;
  }
  return batch;
}

void Run(benchmark::State& state, const std::string& url) {
  auto store = pdm::store::OpenStore(url);
  if (!store.ok()) {
    state.SkipWithError(std::string(store.status().message()).c_str());
    return;
  }
  int64_t clock = 1'700'000'000'000'000;
  const size_t rows = static_cast<size_t>(state.range(0));
  for (auto _ : state) {
    state.PauseTiming();
    const auto batch = Batch(rows, &clock);
    state.ResumeTiming();
    const auto status = (*store)->AppendTelemetry(batch);
    if (!status.ok()) {
      state.SkipWithError(std::string(status.message()).c_str());
      return;
    }
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(rows));
}

void BM_AppendTelemetrySqlite(benchmark::State& state) {
  const auto dir =
      std::filesystem::temp_directory_path() / ("pdm_store_bench_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  Run(state, pdm::store::SqliteUrl((dir / "bench.db").string()));
  std::filesystem::remove_all(dir);
}

void BM_AppendTelemetryPostgres(benchmark::State& state) {
  const char* url = std::getenv("PDM_BENCH_POSTGRES_URL");
  if (url == nullptr || *url == '\0') {
    state.SkipWithError("PDM_BENCH_POSTGRES_URL is not set (bench/store_bench.sh sets it)");
    return;
  }
  Run(state, url);
}

BENCHMARK(BM_AppendTelemetrySqlite)
    ->Arg(1'000)
    ->Arg(10'000)
    ->Arg(100'000)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_AppendTelemetryPostgres)
    ->Arg(1'000)
    ->Arg(10'000)
    ->Arg(100'000)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
