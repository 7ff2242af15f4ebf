// Micro-benchmarks of the ingestion hot path: number and timestamp parsing, record splitting, and
// whole-table validation of simulated telemetry (in the page cache).
#include <benchmark/benchmark.h>

#include <cstdio>
#include <filesystem>
#include <random>

#include "core/numbers.h"
#include "core/time.h"
#include "io/csv_reader.h"
#include "sim/simulator.h"
#include "spec/dataset_spec.h"
#include "validate/validator.h"

namespace pdm {
namespace {

void BM_ParseDouble(benchmark::State& state) {
  std::vector<std::string> cells;
  std::mt19937 rng(1);
  std::uniform_real_distribution<double> value(0, 3000);
  char buffer[32];
  for (int i = 0; i < 4096; ++i) {
    std::snprintf(buffer, sizeof(buffer), "%.2f", value(rng));
    cells.emplace_back(buffer);
  }
  size_t i = 0;
  for (auto _ : state) {
    double out;
    benchmark::DoNotOptimize(core::ParseDouble(cells[i++ & 4095], &out));
    benchmark::DoNotOptimize(out);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ParseDouble);

void BM_ParseTimestamp(benchmark::State& state) {
  std::vector<std::string> cells;
  for (int i = 0; i < 4096; ++i) cells.push_back(core::FormatTimestamp(1735689600 + i * 3600));
  size_t i = 0;
  for (auto _ : state) {
    double out;
    benchmark::DoNotOptimize(core::ParseTimestamp(cells[i++ & 4095], &out));
    benchmark::DoNotOptimize(out);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ParseTimestamp);

const std::filesystem::path& Fleet() {
  static const std::filesystem::path dir = [] {
    const auto path = std::filesystem::temp_directory_path() / "pdm_ingest_benchmark";
    sim::SimulationOptions options;
    options.machines = 50;
    options.duration_seconds = 365 * 86400;
    if (!sim::Simulate(options, path).ok()) std::abort();
    return path;
  }();
  return dir;
}

void BM_SplitRecords(benchmark::State& state) {
  io::CsvReaderOptions options;
  int64_t bytes = 0, records = 0;
  for (auto _ : state) {
    auto reader = io::CsvReader::Open(Fleet() / "telemetry.csv", options);
    io::CsvRecord record;
    while ((*reader)->Next(&record)) ++records;
    bytes += (*reader)->bytes_read();
  }
  state.SetBytesProcessed(bytes);
  state.SetItemsProcessed(records);
}
BENCHMARK(BM_SplitRecords)->Unit(benchmark::kMillisecond);

void BM_ValidateTable(benchmark::State& state) {
  auto spec = spec::LoadDatasetSpec(Fleet() / "spec.yaml");
  validate::ValidateOptions options;
  options.threads = static_cast<int>(state.range(0));
  int64_t bytes = 0, rows = 0;
  for (auto _ : state) {
    auto report = validate::ValidateTable(spec->data, spec->validation, options);
    bytes += report->bytes;
    rows += report->rows_read;
  }
  state.SetBytesProcessed(bytes);
  state.SetItemsProcessed(rows);
}
BENCHMARK(BM_ValidateTable)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace pdm

BENCHMARK_MAIN();
