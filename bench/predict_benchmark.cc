// Tree-ensemble prediction: XGBoost's C API against the flat evaluator of the same trees
// (model/flat_trees.h), for one row (the server's single-record path) and for 10,000-row batches,
// one thread each, per member kind with its default parameters on 22 features (the reference
// design's feature count); xgb boosts a fixed 100 rounds here.
//   build/release/bench/predict_benchmark
#include <benchmark/benchmark.h>

#include <map>
#include <memory>
#include <random>

#include "model/flat_trees.h"
#include "model/learner.h"

namespace {

using pdm::model::DenseMatrix;
using pdm::model::LearnerKind;

constexpr size_t kFeatures = 22;

struct Fixture {
  DenseMatrix x;
  pdm::model::Booster booster;
  pdm::model::FlatTrees flat;
};

DenseMatrix Rows(size_t rows, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal;
  DenseMatrix x;
  x.rows = rows;
  x.cols = kFeatures;
  for (size_t i = 0; i < rows * kFeatures; ++i) x.values.push_back(normal(rng));
  return x;
}

const Fixture& Get(LearnerKind kind) {
  static std::map<LearnerKind, std::unique_ptr<Fixture>> fixtures;
  auto& slot = fixtures[kind];
  if (slot) return *slot;
  slot = std::make_unique<Fixture>();
  const DenseMatrix train = Rows(20'000, 1);
  pdm::model::LearningData data;
  data.x = &train;
  for (size_t r = 0; r < train.rows; ++r) {
    const float* row = train.row(r);
    data.target.push_back(row[0] * row[1] + row[2] - row[3] * row[3] > 0.5f ? 1.0f : 0.0f);
  }
  std::vector<uint32_t> all(train.rows);
  for (uint32_t r = 0; r < train.rows; ++r) all[r] = r;
  pdm::model::LearnerParams params = pdm::model::DefaultParams(kind, train.rows, kFeatures);
  if (kind == LearnerKind::kXgb) {
    params.early_stopping = 0;
    params.rounds = 100;
  }
  pdm::model::FitOptions options;
  options.threads = 1;
  auto fitted = pdm::model::FitLearner(params, data, all, {}, options);
  if (!fitted.ok()) std::abort();
  slot->booster = std::move(fitted->booster);
  auto flat = pdm::model::FlatTrees::FromXgboostJson(*slot->booster.ToJson());
  if (!flat.ok()) std::abort();
  slot->flat = std::move(*flat);
  slot->x = Rows(10'000, 2);
  return *slot;
}

LearnerKind Kind(const benchmark::State& state) { return static_cast<LearnerKind>(state.range(0)); }

void BM_XgboostOneRow(benchmark::State& state) {
  const Fixture& f = Get(Kind(state));
  DenseMatrix one;
  one.rows = 1;
  one.cols = kFeatures;
  one.values.assign(f.x.values.begin(), f.x.values.begin() + kFeatures);
  for (auto _ : state) {
    auto matrix = pdm::model::DMatrix::Create(one, {}, {}, 1);
    auto margin = f.booster.Predict(*matrix, pdm::model::PredictKind::kMargin);
    benchmark::DoNotOptimize(margin);
  }
  state.SetLabel(pdm::model::LearnerName(Kind(state)));
}

void BM_FlatOneRow(benchmark::State& state) {
  const Fixture& f = Get(Kind(state));
  size_t r = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(f.flat.Margin(f.x.row(r)));
    r = (r + 1) % f.x.rows;
  }
  state.SetLabel(pdm::model::LearnerName(Kind(state)));
}

void BM_XgboostBatch(benchmark::State& state) {
  const Fixture& f = Get(Kind(state));
  for (auto _ : state) {
    auto matrix = pdm::model::DMatrix::Create(f.x, {}, {}, 1);
    auto margin = f.booster.Predict(*matrix, pdm::model::PredictKind::kMargin);
    benchmark::DoNotOptimize(margin);
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(f.x.rows));
  state.SetLabel(pdm::model::LearnerName(Kind(state)));
}

void BM_FlatBatch(benchmark::State& state) {
  const Fixture& f = Get(Kind(state));
  std::vector<float> out(f.x.rows);
  for (auto _ : state) {
    f.flat.Margins(f.x.values.data(), f.x.rows, out.data());
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(f.x.rows));
  state.SetLabel(pdm::model::LearnerName(Kind(state)));
}

void Kinds(benchmark::internal::Benchmark* b) {
  for (LearnerKind kind : {LearnerKind::kRf, LearnerKind::kGbm, LearnerKind::kXgb}) {
    b->Arg(static_cast<int>(kind));
  }
}

BENCHMARK(BM_XgboostOneRow)->Apply(Kinds)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_FlatOneRow)->Apply(Kinds)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_XgboostBatch)->Apply(Kinds)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_FlatBatch)->Apply(Kinds)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
