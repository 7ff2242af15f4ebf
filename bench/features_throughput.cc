// Feature throughput on a real dataset, for bench/features_vs_pandas.sh: loads and validates the
// data (not timed), then times the batch builder (all threads) and the online state (one
// thread, one reading at a time) computing 8 sensors x 3 windows x 6 statistics. Prints JSON
// with rows/s, updates/s and per-feature sums that the pandas side checks against.
//   features_throughput SPEC.yaml [THREADS]
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "core/json_writer.h"
#include "core/strings.h"
#include "features/batch_builder.h"
#include "features/dataset.h"
#include "features/online_state.h"
#include "features/pipeline.h"
#include "spec/dataset_spec.h"

namespace {

using pdm::features::BatchFeatureBuilder;
using pdm::features::FeatureBlock;
using pdm::features::FeaturePipeline;

double Seconds(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

int Run(const char* spec_path, int threads) {
  auto spec = pdm::spec::LoadDatasetSpec(spec_path);
  if (!spec.ok()) {
    fmt::print(stderr, "{}\n", spec.status().message());
    return 1;
  }
  // Telemetry only, the benchmark's feature set: 8 sensors x {3h, 24h, 7d} x 6 statistics.
  spec->failures.reset();
  spec->maintenance.reset();
  spec->errors.reset();
  spec->machines.reset();
  spec->labels = {};
  pdm::spec::FeatureSpec& f = spec->features;
  f = pdm::spec::FeatureSpec{};
  f.window_names = {"3h", "24h", "7d"};
  f.windows = {{pdm::core::Span::Kind::kTime, 3 * 3600},
               {pdm::core::Span::Kind::kTime, 24 * 3600},
               {pdm::core::Span::Kind::kTime, 7 * 86400}};
  using pdm::spec::WindowStat;
  f.stats = {WindowStat::kMean, WindowStat::kStd,   WindowStat::kMin,
             WindowStat::kMax,  WindowStat::kCount, WindowStat::kSlope};
  f.raw = false;
  f.time_since = false;
  auto pipeline = FeaturePipeline::Create(*spec);
  if (!pipeline.ok()) {
    fmt::print(stderr, "{}\n", pipeline.status().message());
    return 1;
  }
  const auto load_start = std::chrono::steady_clock::now();
  pdm::features::LoadOptions options;
  auto data = pdm::features::LoadDataset(*spec, *pipeline, options);
  if (!data.ok()) {
    fmt::print(stderr, "{}\n", data.status().message());
    return 1;
  }
  const double load_seconds = Seconds(load_start);
  const size_t width = pipeline->feature_count();

  // Batch: every entity, all threads; the consumer only touches the output.
  const BatchFeatureBuilder builder(&*pipeline, spec->labels, threads);
  double touched = 0;
  auto start = std::chrono::steady_clock::now();
  auto status = builder.Build(*data, [&](const FeatureBlock& block) {
    touched += block.features.empty() ? 0 : block.features.back();
    return absl::OkStatus();
  });
  const double batch_seconds = Seconds(start);
  if (!status.ok()) {
    fmt::print(stderr, "{}\n", status.message());
    return 1;
  }

  // Online: one thread, one reading at a time, entity after entity; plain value rings, then
  // compact ones (the server's: see ValueRows). Both must give the same last vectors.
  std::vector<double> out(width);
  const size_t nw = pipeline->layout().numeric.size();
  auto online = [&](bool compact, double* seconds, double* checksum) {
    *checksum = 0;
    const auto begin = std::chrono::steady_clock::now();
    for (const pdm::features::EntityHistory& h : data->entities) {
      pdm::features::OnlineFeatureState state(&*pipeline, h.statics, compact);
      for (size_t i = 0; i < h.rows(); ++i) {
        const pdm::features::Reading reading{
            h.time[i], std::span<const double>(h.numeric).subspan(i * nw, nw), {}};
        if (!state.Update(reading, out).ok()) return false;
      }
      for (double x : out) *checksum += std::isfinite(x) ? x : 0;
    }
    *seconds = Seconds(begin);
    return true;
  };
  double online_seconds = 0, compact_seconds = 0, plain_sum = 0, compact_sum = 0;
  if (!online(false, &online_seconds, &plain_sum) ||
      !online(true, &compact_seconds, &compact_sum)) {
    return 1;
  }
  if (plain_sum != compact_sum) {
    fmt::print(stderr, "compact value rings changed the features: {} vs {}\n", plain_sum,
               compact_sum);
    return 1;
  }
  touched += plain_sum;

  // Per-feature sums over defined values (not timed), for the cross-check with pandas.
  std::vector<double> sums(width, 0);
  std::vector<int64_t> counts(width, 0);
  status = builder.Build(*data, [&](const FeatureBlock& block) {
    for (size_t r = 0; r < block.rows(); ++r) {
      for (size_t c = 0; c < width; ++c) {
        const double x = block.features[r * width + c];
        if (std::isfinite(x)) {
          sums[c] += x;
          ++counts[c];
        }
      }
    }
    return absl::OkStatus();
  });
  if (!status.ok()) return 1;

  pdm::core::JsonWriter json(0);
  json.BeginObject();
  json.Key("rows").Int(data->rows);
  json.Key("entities").Int(static_cast<int64_t>(data->entities.size()));
  json.Key("features").Int(static_cast<int64_t>(width));
  json.Key("threads").Int(threads);
  json.Key("load_seconds").Number(load_seconds);
  json.Key("batch_seconds").Number(batch_seconds);
  json.Key("batch_rows_per_s").Number(static_cast<double>(data->rows) / batch_seconds);
  json.Key("online_seconds").Number(online_seconds);
  json.Key("online_updates_per_s").Number(static_cast<double>(data->rows) / online_seconds);
  json.Key("online_compact_seconds").Number(compact_seconds);
  json.Key("online_compact_updates_per_s")
      .Number(static_cast<double>(data->rows) / compact_seconds);
  json.Key("touched").Number(touched);
  json.Key("sums").BeginObject();
  for (size_t c = 0; c < width; ++c) {
    json.Key(pipeline->feature_names()[c]).BeginArray().Number(sums[c]).Int(counts[c]).EndArray();
  }
  json.EndObject();
  json.EndObject();
  fmt::print("{}\n", json.str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    fmt::print(stderr, "usage: features_throughput SPEC.yaml [THREADS]\n");
    return 2;
  }
  return Run(argv[1], argc > 2 ? std::atoi(argv[2]) : 0);
}
