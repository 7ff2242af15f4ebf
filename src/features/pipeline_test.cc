#include "features/pipeline.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "features/batch_builder.h"
#include "features/test_fixtures.h"

namespace pdm::features {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

bool Has(const std::vector<std::string>& names, const std::string& name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

TEST(FeatureSpecTest, RefusesWrongFeatureConfigNamingTheKey) {
  const std::string base = R"(
name: t
data: {file: d.csv}
entity: m
time: {column: ts, type: cycle}
sensors: [s1, s2]
settings: [a]
)";
  struct Case {
    std::string features;
    std::string error;
  } cases[] = {
      {"features: {windows: [24h]}", "features.windows[0]: '24h' is a span of time"},
      {"features: {windows: [5r, 5r]}", "features.windows[1]: window '5r' is listed twice"},
      {"features: {windows: [5r], stats: [mean, median]}",
       "features.stats[1]: unknown statistic 'median'"},
      {"features: {windows: [5r], sensors: [s9]}",
       "features.sensors[0]: 's9' is not a declared sensor"},
      {"features: {windows: [5r], stats: [delta]}",
       "features.stats: delta needs features.baseline"},
      {"features: {windows: [20r], baseline: 10r}",
       "features.baseline: the baseline must be longer"},
      {"features: {regimes: {settings: [s1]}}",
       "features.regimes.settings[0]: 's1' is not a declared setting"},
      {"features: {regimes: {settings: [a], max: 0}}", "features.regimes.max: expected 1 to 64"},
      {"features: {reset_on_maintenance: {x: [s1]}}",
       "features.reset_on_maintenance: needs events.maintenance"},
      {"features: {events: {windows: [24h]}}",
       "features.events.windows[0]: error-count windows need events.errors"},
      {"features: {window: [5r]}", "features.window: unknown key"},
      {"labels: {source: run_to_failure, horizon: 1h}", "labels.horizon: expected a number"},
      {"labels: {source: column, column: y, horizon: 30}",
       "labels.horizon: horizon, failure and rul_clip need"},
      {"features: {derived: [{name: p, product: [s1, s9]}]}",
       "features.derived[0].product[1]: 's9' is not a sensor, setting or attribute"},
      {"features: {derived: [{name: p, product: [s1]}]}",
       "features.derived[0].product: expected two column names"},
      {"features: {derived: [{name: p, product: [s1, s2], sum: [s1, s2]}]}",
       "features.derived[0]: needs exactly one of product, difference, ratio, sum"},
      {"features: {derived: [{name: s2, ratio: [s1, s2]}]}",
       "features.derived[0].name: 's2' is already a column"},
      {"features: {derived: [{name: p, power: [s1, s2]}]}",
       "features.derived[0].power: unknown key"},
      {"training: {cv: random}", "training.cv: expected one of auto, group, time"},
      {"training: {folds: 1}", "training.folds: expected 2 to 50"},
      {"training: {models: [rf, svm]}", "training.models[1]: expected rf, gbm or xgb"},
      {"training: {costs: {missed_failure: 10}}",
       "training.costs: needs both missed_failure and false_alarm"},
      {"training: {costs: {missed_failure: 10, false_alarm: -1}}",
       "training.costs: costs must be positive"},
      {"training: {seed: -3}", "training.seed: expected a non-negative integer"},
      {"training: {epochs: 3}", "training.epochs: unknown key"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<spec::DatasetSpec> spec =
        spec::ParseDatasetSpec(base + c.features + "\n", "/tmp/t.yaml");
    ASSERT_FALSE(spec.ok()) << c.features;
    EXPECT_NE(std::string(spec.status().message()).find(c.error), std::string::npos)
        << c.features << " -> " << spec.status().message();
  }
}

TEST(FeaturePipelineTest, DerivedFeaturesComeFromTheSameReading) {
  const std::string text = R"(
name: t
data: {file: d.csv}
entity: m
time: {column: ts, type: cycle}
sensors: [s1, s2]
features:
  derived:
    - {name: p, product: [s1, s2]}
    - {name: d, difference: [s1, s2]}
    - {name: r, ratio: [s1, s2]}
    - {name: total, sum: [s1, s2]}
)";
  auto spec = spec::ParseDatasetSpec(text, "/tmp/t.yaml");
  ASSERT_TRUE(spec.ok()) << spec.status();
  auto p = FeaturePipeline::Create(*spec);
  ASSERT_TRUE(p.ok()) << p.status();
  const auto& names = p->feature_names();
  const auto at = [&](const std::string& name) {
    return static_cast<size_t>(std::find(names.begin(), names.end(), name) - names.begin());
  };
  ASSERT_LT(at("total"), names.size());
  OnlineFeatureState state(&*p);
  std::vector<double> out(p->feature_count());
  const double values[] = {6, 3};
  ASSERT_TRUE(state.Update({1, values, {}}, out).ok());
  EXPECT_EQ(out[at("p")], 18);
  EXPECT_EQ(out[at("d")], 3);
  EXPECT_EQ(out[at("r")], 2);
  EXPECT_EQ(out[at("total")], 9);
  const double zero[] = {6, 0};
  ASSERT_TRUE(state.Update({2, zero, {}}, out).ok());
  EXPECT_TRUE(std::isnan(out[at("r")]));  // x / 0 is undefined, not infinite
  // The derived features are part of the pipeline's identity and survive a round trip.
  auto plain = spec::ParseDatasetSpec(text.substr(0, text.find("features:")), "/tmp/t.yaml");
  ASSERT_TRUE(plain.ok());
  EXPECT_NE(FeaturePipeline::Create(*plain)->hash(), p->hash());
  auto back = FeaturePipeline::FromJson(p->ToStoredJson());
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->hash(), p->hash());
  EXPECT_EQ(back->feature_names(), names);
}

TEST(FeaturePipelineTest, NamesFollowSensorStatWindow) {
  absl::StatusOr<FeaturePipeline> p = FeaturePipeline::Create(testing::FleetSpec());
  ASSERT_TRUE(p.ok()) << p.status();
  const auto& names = p->feature_names();
  for (const char* name : {"temp",
                           "vib",
                           "load",
                           "mode=idle",
                           "mode=run",
                           "rated_kw",
                           "model=A",
                           "model=B",
                           "regime",
                           "temp_mean_3h",
                           "vib_std_24h",
                           "vib_slope_5r",
                           "temp_delta_3h",
                           "temp_ewma_24h",
                           "vib_count_5r",
                           "errors_count_24h",
                           "errors_E1_count_24h",
                           "errors_E2_count_24h",
                           "age",
                           "time_since_maintenance",
                           "time_since_maintenance_bearing",
                           "time_since_failure"}) {
    EXPECT_TRUE(Has(names, name)) << name;
  }
  // 3 raw + 2 one-hot + 1 static + 2 static one-hot + regime + 2 sensors x 3 windows x 10 stats
  // + 3 error counts + age + 3 maintenance + 1 failure.
  EXPECT_EQ(names.size(), 3u + 2 + 1 + 2 + 1 + 60 + 3 + 1 + 3 + 1);
}

// The facts the drift monitor's profile reads: one per feature, its kind and warm-up.
TEST(FeaturePipelineTest, FactsNameEachFeaturesKindAndWarmUp) {
  absl::StatusOr<FeaturePipeline> p = FeaturePipeline::Create(testing::FleetSpec());
  ASSERT_TRUE(p.ok()) << p.status();
  const auto& names = p->feature_names();
  const auto& facts = p->feature_facts();
  ASSERT_EQ(facts.size(), names.size());
  auto of = [&](const std::string& name) {
    const auto it = std::find(names.begin(), names.end(), name);
    EXPECT_NE(it, names.end()) << name;
    return facts[static_cast<size_t>(it - names.begin())];
  };
  using Kind = FeatureFacts::Kind;
  const core::Span h3{core::Span::Kind::kTime, 3 * 3600}, d1{core::Span::Kind::kTime, 86400},
      d7{core::Span::Kind::kTime, 7 * 86400};
  for (const char* name : {"temp", "mode=run", "rated_kw", "model=B", "regime"}) {
    EXPECT_EQ(of(name).kind, Kind::kCurrent) << name;
    EXPECT_FALSE(of(name).warmup) << name;
  }
  EXPECT_EQ(of("temp_mean_3h").kind, Kind::kWindow);
  EXPECT_EQ(of("temp_mean_3h").warmup, h3);
  EXPECT_EQ(of("vib_std_24h").warmup, d1);
  EXPECT_EQ(of("vib_slope_5r").kind, Kind::kWindow);
  EXPECT_FALSE(of("vib_slope_5r").warmup) << "a row window has no warm-up in data time";
  EXPECT_EQ(of("temp_delta_3h").warmup, d7) << "delta compares with the 7d baseline";
  EXPECT_EQ(of("errors_E2_count_24h").kind, Kind::kEventCount);
  EXPECT_EQ(of("errors_count_24h").warmup, d1);
  for (const char* name : {"age", "time_since_maintenance_bearing", "time_since_failure"}) {
    EXPECT_EQ(of(name).kind, Kind::kClock) << name;
  }
  EXPECT_STREQ(FeatureKindName(Kind::kClock), "clock");
  EXPECT_EQ(of("vib_std_24h").source, "vib");
  EXPECT_EQ(of("temp").source, "temp");
  EXPECT_EQ(of("model=B").source, "model");
  EXPECT_EQ(of("errors_E2_count_24h").source, "errors");
  EXPECT_EQ(of("age").source, "age");
}

TEST(FeaturePipelineTest, JsonRoundTripKeepsHashAndRefusesTampering) {
  const spec::DatasetSpec spec = testing::FleetSpec();
  absl::StatusOr<FeaturePipeline> p = FeaturePipeline::Create(spec);
  ASSERT_TRUE(p.ok());
  ASSERT_TRUE(FitPipeline(testing::RandomFleet(3, 2, 300), &*p).ok());
  EXPECT_EQ(p->hash().size(), 64u);
  const std::string stored = p->ToStoredJson();
  absl::StatusOr<FeaturePipeline> back = FeaturePipeline::FromJson(stored);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->hash(), p->hash());
  EXPECT_EQ(back->feature_names(), p->feature_names());
  EXPECT_EQ(back->regimes()->centres, p->regimes()->centres);

  // Changing the content without the hash is detected.
  std::string tampered = stored;
  const size_t at = tampered.find("\"24h\"");
  ASSERT_NE(at, std::string::npos);
  tampered.replace(at, 5, "\"48h\"");
  EXPECT_FALSE(FeaturePipeline::FromJson(tampered).ok());
  EXPECT_FALSE(FeaturePipeline::FromJson("{not json").ok());
  EXPECT_FALSE(FeaturePipeline::FromJson("{}").ok());

  // A different configuration has a different hash; the same one the same hash.
  spec::DatasetSpec other = spec;
  other.features.windows.pop_back();
  other.features.window_names.pop_back();
  absl::StatusOr<FeaturePipeline> q = FeaturePipeline::Create(other);
  absl::StatusOr<FeaturePipeline> r = FeaturePipeline::Create(spec);
  ASSERT_TRUE(q.ok() && r.ok());
  EXPECT_NE(q->hash(), r->hash());
  absl::StatusOr<FeaturePipeline> r2 = FeaturePipeline::Create(spec);
  EXPECT_EQ(r->hash(), r2->hash());
}

TEST(FeaturePipelineTest, RegimesFindDistinctConditionsAndMergeNoise) {
  spec::DatasetSpec spec = testing::FleetSpec();
  spec.features.regimes->max_regimes = 6;
  absl::StatusOr<FeaturePipeline> p = FeaturePipeline::Create(spec);
  ASSERT_TRUE(p.ok());
  // The fleet runs at two loads (40 and 80, with noise of 1): six k-means centres merge to two.
  const LoadedDataset data = testing::RandomFleet(5, 3, 400);
  ASSERT_TRUE(FitPipeline(data, &*p).ok());
  const RegimeModel& m = *p->regimes();
  ASSERT_EQ(m.centres.size(), 2u);
  const double lo = m.centres[0][0] * m.scale[0] + m.offset[0];
  const double hi = m.centres[1][0] * m.scale[0] + m.offset[0];
  EXPECT_NEAR(lo, 40.5, 0.2);
  EXPECT_NEAR(hi, 80.5, 0.2);
  const double at_40[] = {0, 0, 40.2};
  const double at_80[] = {0, 0, 81};
  const double missing[] = {0, 0, kNaN};
  EXPECT_EQ(m.Assign(at_40), 0);
  EXPECT_EQ(m.Assign(at_80), 1);
  EXPECT_EQ(m.Assign(missing), -1);
  // Deterministic: the same data gives the same fit and hash.
  absl::StatusOr<FeaturePipeline> again = FeaturePipeline::Create(spec);
  ASSERT_TRUE(FitPipeline(data, &*again).ok());
  EXPECT_EQ(again->hash(), p->hash());
}

// A hand-made history: hourly readings, a failure and its repair.
EntityHistory History(int hours) {
  EntityHistory h;
  for (int i = 0; i < hours; ++i) {
    h.time.push_back(3600.0 * i);
    h.numeric.insert(h.numeric.end(), {1, 2, 3});
  }
  h.end_time = h.time.back();
  return h;
}

TEST(LabelsTest, FailureModeOfTheFailureWithinTheHorizon) {
  EntityHistory h = History(100);
  h.all_failures = h.label_failures = {3600.0 * 30.5, 3600.0 * 60.5, 3600.0 * 80.5};
  h.label_failure_modes = {2, 0, -1};  // the third failure's mode is not known
  h.repairs = {3600.0 * 40, 3600.0 * 70, 3600.0 * 90};
  spec::LabelSpec labels;
  labels.source = spec::LabelSource::kEvents;
  labels.horizon = 10 * 3600.0;
  FeatureBlock block;
  ComputeLabels(h, labels, -1, /*has_repairs=*/true, 3600, &block);
  EXPECT_EQ(block.mode[20], 0);  // no failure within 10 h
  EXPECT_EQ(block.mode[21], 3);  // the failure at 30.5 h, mode 2: class 3
  EXPECT_EQ(block.mode[30], 3);
  EXPECT_TRUE(std::isnan(block.mode[35]));  // failed, not yet repaired
  EXPECT_EQ(block.mode[51], 1);             // the failure at 60.5 h, mode 0
  EXPECT_EQ(block.label[71], 1);
  EXPECT_TRUE(std::isnan(block.mode[71]));   // positive, but the mode is unknown
  EXPECT_EQ(block.counts.mode_unknown, 10);  // 71 .. 80
  for (size_t i = 0; i < block.rows(); ++i) {
    if (std::isnan(block.label[i])) {
      EXPECT_TRUE(std::isnan(block.mode[i])) << i;
    } else if (block.label[i] == 0) {
      EXPECT_EQ(block.mode[i], 0) << i;
    }
  }
}

TEST(LabelsTest, FailureModeFromLabelComponentColumns) {
  // Inputs: the label, then two components (modes 0 and 1).
  EntityHistory h;
  const double rows[][3] = {{0, 0, 0}, {1, 0, 1}, {1, 1, 1}, {1, 0, 0}, {0, 1, 0}, {NAN, 0, 0}};
  for (const auto& row : rows) {
    h.time.push_back(static_cast<double>(h.time.size()));
    h.numeric.insert(h.numeric.end(), row, row + 3);
  }
  spec::LabelSpec labels;
  labels.source = spec::LabelSource::kColumn;
  FeatureBlock block;
  const int components[] = {1, 2};
  ComputeLabels(h, labels, 0, /*has_repairs=*/false, 1, &block, components);
  EXPECT_EQ(block.mode[0], 0);
  EXPECT_EQ(block.mode[1], 2);             // the second component
  EXPECT_EQ(block.mode[2], 1);             // both set: the first declared wins
  EXPECT_TRUE(std::isnan(block.mode[3]));  // a failure with no component set
  EXPECT_EQ(block.mode[4], 0);             // a component set without the label: no failure
  EXPECT_TRUE(std::isnan(block.mode[5]));  // no label
  EXPECT_EQ(block.counts.mode_unknown, 1);
}

TEST(LabelsTest, HorizonCensoringExclusionAndRul) {
  EntityHistory h = History(100);
  h.all_failures = h.label_failures = {3600.0 * 30.5};
  h.repairs = {3600.0 * 40};
  spec::LabelSpec labels;
  labels.source = spec::LabelSource::kEvents;
  labels.horizon = 10 * 3600.0;
  labels.rul_clip = 50 * 3600.0;
  FeatureBlock block;
  ComputeLabels(h, labels, -1, /*has_repairs=*/true, 3600, &block);
  EXPECT_EQ(block.label[20], 0);  // failure 10.5 h ahead: beyond the 10 h horizon
  EXPECT_EQ(block.label[21], 1);  // 9.5 h ahead
  EXPECT_EQ(block.label[30], 1);
  EXPECT_DOUBLE_EQ(block.rul[21], 9.5);
  for (int i = 31; i < 40; ++i) {  // failed, not yet repaired
    EXPECT_TRUE(std::isnan(block.label[i])) << i;
    EXPECT_TRUE(std::isnan(block.rul[i])) << i;
  }
  EXPECT_EQ(block.label[40], 0);             // repaired at 40 h; history goes on to 99 h
  EXPECT_EQ(block.label[89], 0);             // 89 + 10 = 99: the horizon is still observed
  EXPECT_TRUE(std::isnan(block.label[90]));  // the horizon reaches past the history: censored
  EXPECT_DOUBLE_EQ(block.rul[40], 50);       // no later failure, 59 h observed: at least the clip
  EXPECT_TRUE(std::isnan(block.rul[60]));    // 39 h observed: less than the clip, unknown
  EXPECT_DOUBLE_EQ(block.rul[0], 30.5);
  EXPECT_EQ(block.counts.excluded, 9);
  EXPECT_EQ(block.counts.positive, 10);
  EXPECT_EQ(block.counts.censored, 10);
  EXPECT_EQ(
      block.counts.positive + block.counts.negative + block.counts.censored + block.counts.excluded,
      100);
}

TEST(LabelsTest, RunToFailureClipsRulAndLabelsEveryRecord) {
  EntityHistory h = History(200);
  for (double& t : h.time) t = t / 3600 + 1;  // cycles 1..200
  h.end_time = 200;
  h.all_failures = h.label_failures = {200};
  spec::LabelSpec labels;
  labels.source = spec::LabelSource::kRunToFailure;
  labels.horizon = 30;
  labels.rul_clip = 125;
  FeatureBlock block;
  ComputeLabels(h, labels, -1, false, 1, &block);
  EXPECT_EQ(block.rul[0], 125);   // 199 cycles left, clipped
  EXPECT_EQ(block.rul[150], 49);  // cycle 151
  EXPECT_EQ(block.rul[199], 0);
  EXPECT_EQ(block.label[169], 1);  // cycle 170: 30 cycles left
  EXPECT_EQ(block.label[168], 0);
  EXPECT_EQ(block.counts.censored, 0);
  EXPECT_EQ(block.counts.positive, 31);
}

}  // namespace
}  // namespace pdm::features
