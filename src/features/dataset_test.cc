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

// The features of a simulated fleet of 6 machines over 120 days (it has failures to label).
Built SimulatedFleet(const char* name) {
  sim::SimulationOptions options;
  options.machines = 6;
  options.duration_seconds = 120 * 86400;
  auto summary = sim::Simulate(options, testing::TempDir(name));
  if (!summary.ok()) {
    ADD_FAILURE() << summary.status();
    return Built{};
  }
  return Build(summary->spec_path);
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

// A dataset cut at a time is what was known then: the kept rows' features are unchanged (they
// look only backwards), labels settled before the cut are unchanged, and labels that needed a
// failure after the cut are censored rather than negative or positive.
TEST(SimulatedFleetFeaturesTest, TruncateAtKeepsWhatWasKnownThen) {
  const Built full = SimulatedFleet("features_truncate");
  ASSERT_GT(full.table.counts.positive, 0);
  const double horizon = *full.spec.labels.horizon;
  const double cut = full.table.time[0] + 90 * 86400;

  LoadedDataset data = full.data;
  ASSERT_TRUE(TruncateAt(full.spec, cut, &data).ok());
  const BatchFeatureBuilder builder(full.pipeline.get(), full.spec.labels, 2);
  auto cut_table = BuildFeatureTable(builder, *full.pipeline, data);
  ASSERT_TRUE(cut_table.ok()) << cut_table.status();
  const FeatureTable& t = *cut_table;
  ASSERT_GT(t.rows(), 0u);
  size_t full_row = 0, settled = 0, censored_now = 0, failures_after = 0;
  for (const EntityHistory& h : data.entities) {
    for (double f : h.all_failures) EXPECT_LT(f, cut);
    for (const Event& e : h.events) EXPECT_LT(e.time, cut);
  }
  for (const EntityHistory& h : full.data.entities) {
    for (double f : h.all_failures) failures_after += f >= cut ? 1 : 0;
  }
  ASSERT_GT(failures_after, 0u) << "the simulation should fail a machine after day 90";
  const size_t width = t.feature_names.size();
  for (size_t r = 0; r < t.rows(); ++r) {
    EXPECT_LT(t.time[r], cut);
    while (full.table.entity_names[full.table.entity[full_row]] != t.entity_names[t.entity[r]] ||
           full.table.time[full_row] != t.time[r]) {
      ++full_row;
      ASSERT_LT(full_row, full.table.rows());
    }
    for (size_t f = 0; f < width; ++f) {
      const double a = full.table.features[full_row * width + f], b = t.features[r * width + f];
      ASSERT_TRUE(a == b || (std::isnan(a) && std::isnan(b))) << t.feature_names[f] << " row " << r;
    }
    const double before = full.table.label[full_row], after = t.label[r];
    if (t.time[r] + horizon < cut - 3600) {
      ASSERT_TRUE(before == after || (std::isnan(before) && std::isnan(after))) << "row " << r;
      ++settled;
    } else if (std::isnan(after) && !std::isnan(before)) {
      ++censored_now;
    }
  }
  EXPECT_GT(settled, 1000u);
  EXPECT_GT(censored_now, 0u);

  // Run-to-failure histories end at their failure: cutting them would invent failures.
  const Built cmapss = Build(SharedSpec("cmapss-fd001.yaml"));
  LoadedDataset rtf = cmapss.data;
  const absl::Status refused = TruncateAt(cmapss.spec, 100, &rtf);
  EXPECT_FALSE(refused.ok());
  EXPECT_NE(refused.message().find("run-to-failure"), std::string_view::npos);
}

TEST(SimulatedFleetFeaturesTest, SampleMatchesDirectComputationFromReadings) {
  const Built b = SimulatedFleet("features_sim");
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
