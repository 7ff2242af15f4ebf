// The shipped specs and the simulator's spec produce feature tables, and a sample of values
// matches a straightforward recomputation from the raw readings.
#include "features/dataset.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>

#include "features/batch_builder.h"
#include "sim/simulator.h"
#include "tests/testing/test_paths.h"

namespace pdm::features {
namespace {

namespace fs = std::filesystem;

struct Built {
  spec::DatasetSpec spec;
  std::unique_ptr<FeaturePipeline> pipeline;
  LoadedDataset data;
  FeatureTable table;
};

Built Build(const fs::path& spec_path, bool test_set = false) {
  Built b;
  auto spec = spec::LoadDatasetSpec(spec_path);
  EXPECT_TRUE(spec.ok()) << spec.status();
  b.spec = *spec;
  auto pipeline = FeaturePipeline::Create(b.spec);
  EXPECT_TRUE(pipeline.ok()) << pipeline.status();
  b.pipeline = std::make_unique<FeaturePipeline>(std::move(*pipeline));
  LoadOptions options;
  auto train = LoadDataset(b.spec, *b.pipeline, options);
  EXPECT_TRUE(train.ok()) << train.status();
  EXPECT_TRUE(FitPipeline(*train, b.pipeline.get()).ok());
  if (test_set) {
    options.test_set = true;
    auto test = LoadDataset(b.spec, *b.pipeline, options);
    EXPECT_TRUE(test.ok()) << test.status();
    b.data = std::move(*test);
  } else {
    b.data = std::move(*train);
  }
  const BatchFeatureBuilder builder(b.pipeline.get(), b.spec.labels, 2);
  auto table = BuildFeatureTable(builder, *b.pipeline, b.data);
  EXPECT_TRUE(table.ok()) << table.status();
  b.table = std::move(*table);
  return b;
}

size_t Column(const FeatureTable& table, const std::string& name) {
  const auto it = std::find(table.feature_names.begin(), table.feature_names.end(), name);
  EXPECT_NE(it, table.feature_names.end()) << name;
  return static_cast<size_t>(it - table.feature_names.begin());
}

double At(const FeatureTable& table, size_t row, const std::string& name) {
  return table.features[row * table.feature_names.size() + Column(table, name)];
}

fs::path SharedSpec(const char* name) { return testing::SourceDir() / "specs" / name; }

TEST(ShippedSpecFeaturesTest, Ai4iHasNoLeakingComponentsAndItsOwnLabel) {
  const Built b = Build(SharedSpec("ai4i2020.yaml"));
  EXPECT_EQ(b.table.rows(), 10000u);
  for (const char* leak : {"TWF", "HDF", "PWF", "OSF", "RNF", "Machine failure", "UDI"}) {
    EXPECT_EQ(std::count(b.table.feature_names.begin(), b.table.feature_names.end(), leak), 0)
        << leak;
  }
  EXPECT_EQ(b.table.counts.positive, 339);  // the dataset's 339 machine failures
  EXPECT_EQ(b.table.counts.negative, 9661);
  // Row 1: "1,M14860,M,298.1,308.6,1551,42.8,0,0,..." (Type M, one-hot).
  EXPECT_EQ(At(b.table, 0, "Air temperature [K]"), 298.1);
  EXPECT_EQ(At(b.table, 0, "Type=M"), 1);
  EXPECT_EQ(At(b.table, 0, "Type=L"), 0);
}

TEST(ShippedSpecFeaturesTest, CmapssTrainAndTestRulFollowTheConventions) {
  const Built train = Build(SharedSpec("cmapss-fd001.yaml"));
  EXPECT_EQ(train.table.rows(), 20631u);
  EXPECT_EQ(train.table.entity_names.size(), 100u);
  EXPECT_EQ(train.pipeline->regimes()->centres.size(), 1u);  // FD001: one flight condition
  // Unit 1 runs 192 cycles: RUL 191 at cycle 1 (clipped to 125), 0 at cycle 192.
  EXPECT_EQ(train.table.rul[0], 125);
  EXPECT_EQ(train.table.rul[191], 0);
  EXPECT_EQ(train.table.rul[150], 41);
  EXPECT_EQ(train.table.label[161], 1);  // cycle 162: 30 cycles left
  EXPECT_EQ(train.table.label[160], 0);
  EXPECT_EQ(train.table.counts.censored, 0);
  // A constant sensor normalises to exactly zero and has no trend.
  EXPECT_EQ(At(train.table, 10, "s1_mean_10r"), 0);
  EXPECT_EQ(At(train.table, 10, "s1_slope_60r"), 0);
  EXPECT_EQ(At(train.table, 10, "s1_ewma_30r"), 0);

  const Built test = Build(SharedSpec("cmapss-fd001.yaml"), /*test_set=*/true);
  EXPECT_EQ(test.table.entity_names.size(), 100u);
  std::ifstream rul(testing::DataDir() / "cmapss/RUL_FD001.txt");
  double first_rul = 0;
  rul >> first_rul;
  const size_t unit1_rows = test.data.entities[0].rows();
  EXPECT_EQ(test.table.rul[unit1_rows - 1], std::min(first_rul, 125.0));
  EXPECT_EQ(test.pipeline->hash(), train.pipeline->hash());  // fitted on training data both times
}

TEST(SimulatedFleetFeaturesTest, SampleMatchesDirectComputationFromReadings) {
  const fs::path dir = testing::TempDir("features_sim");
  sim::SimulationOptions options;
  options.machines = 6;
  options.duration_seconds = 120 * 86400;
  auto summary = sim::Simulate(options, dir);
  ASSERT_TRUE(summary.ok()) << summary.status();
  const Built b = Build(summary->spec_path);
  ASSERT_GT(b.table.rows(), 6u * 2000);
  const InputLayout& in = b.pipeline->layout();
  const size_t pressure = static_cast<size_t>(
      std::find(in.numeric.begin(), in.numeric.end(), "pressure") - in.numeric.begin());
  const size_t width = in.numeric.size();

  size_t row = 0;
  int checked = 0;
  for (size_t e = 0; e < b.data.entities.size(); ++e) {
    const EntityHistory& h = b.data.entities[e];
    for (size_t i = 0; i < h.rows(); ++i, ++row) {
      if (i % 97 != 13) continue;
      const double t = h.time[i];
      // pressure over (t - 24h, t] and (t - 7d, t], straight from the readings.
      double sum24 = 0, n24 = 0, lo7 = INFINITY, n7 = 0, sum7 = 0;
      for (size_t j = 0; j <= i; ++j) {
        const double x = h.numeric[j * width + pressure];
        if (std::isnan(x)) continue;
        if (h.time[j] > t - 86400) {
          sum24 += x;
          ++n24;
        }
        if (h.time[j] > t - 7 * 86400) {
          lo7 = std::min(lo7, x);
          sum7 += x;
          ++n7;
        }
      }
      double sum30 = 0, n30 = 0;
      for (size_t j = 0; j <= i; ++j) {
        const double x = h.numeric[j * width + pressure];
        if (!std::isnan(x) && h.time[j] > t - 30 * 86400) {
          sum30 += x;
          ++n30;
        }
      }
      EXPECT_NEAR(At(b.table, row, "pressure_mean_24h"), sum24 / n24, 1e-9);
      EXPECT_EQ(At(b.table, row, "pressure_count_24h"), n24);
      EXPECT_EQ(At(b.table, row, "pressure_min_7d"), lo7);
      EXPECT_NEAR(At(b.table, row, "pressure_delta_7d"), sum7 / n7 - sum30 / n30, 1e-9);
      // Error events in (t - 24h, t], and hours since the last maintenance at or before t.
      double errors = 0, last_maintenance = NAN;
      for (const Event& ev : h.events) {
        if (ev.time > t) break;
        if (ev.type == EventType::kError && ev.time > t - 86400) ++errors;
        if (ev.type == EventType::kMaintenance) last_maintenance = ev.time;
      }
      EXPECT_EQ(At(b.table, row, "errors_count_24h"), errors);
      const double since = At(b.table, row, "time_since_maintenance");
      if (std::isnan(last_maintenance)) {
        EXPECT_TRUE(std::isnan(since));
      } else {
        EXPECT_NEAR(since, (t - last_maintenance) / 3600, 1e-9);
      }
      EXPECT_NEAR(At(b.table, row, "age"), (t - h.time[0]) / 3600, 1e-9);
      ++checked;
    }
  }
  EXPECT_GT(checked, 100);
  EXPECT_EQ(b.table.counts.positive + b.table.counts.negative + b.table.counts.censored +
                b.table.counts.excluded,
            static_cast<int64_t>(b.table.rows()));
}

}  // namespace
}  // namespace pdm::features
