#include "monitor/batch_drift.h"

#include <gtest/gtest.h>

#include <random>

namespace pdm::monitor {
namespace {

// A profile of x ~ N(0, 1) and a clock, calibrated so that x's drift threshold is 0.25.
ReferenceProfile Profile() {
  std::mt19937_64 rng(1);
  std::normal_distribution<double> normal(0, 1);
  std::vector<double> x, age, score;
  for (int i = 0; i < 20000; ++i) {
    x.push_back(normal(rng));
    age.push_back(i);
    score.push_back(0.5 + 0.1 * normal(rng));
  }
  ReferenceProfile p;
  p.features = {BuildColumnProfile("x", x), BuildColumnProfile("age", age)};
  p.features[1].monitored = false;
  p.features[1].kind = "clock";
  p.features[0].kind = "current";
  p.score = BuildColumnProfile("probability", score);
  p.rows = 20000;
  return p;
}

struct Batch {
  std::vector<float> x;
  std::vector<double> score;
  size_t rows = 0;
};

Batch Make(double shift, int rows, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(0, 1);
  Batch b;
  for (int i = 0; i < rows; ++i) {
    b.x.push_back(static_cast<float>(shift + normal(rng)));
    b.x.push_back(static_cast<float>(50000 + i));  // a clock: always beyond its training range
    b.score.push_back(0.5 + 0.1 * normal(rng));
  }
  b.rows = static_cast<size_t>(rows);
  return b;
}

DriftReport Compare(const ReferenceProfile& p, const Batch& b) {
  BatchRows rows;
  rows.rows = b.rows;
  rows.cols = 2;
  rows.x = b.x.data();
  rows.score = b.score;
  return CompareWithProfile(p, rows, BatchDriftOptions{});
}

TEST(BatchDriftTest, ASampleOfTheTrainingDistributionIsOkAndAShiftDrifts) {
  const ReferenceProfile p = Profile();
  const DriftReport same = Compare(p, Make(0, 5000, 2));
  EXPECT_EQ(same.window_rows, 5000);
  EXPECT_EQ(same.features[0].status, DriftStatus::kOk);
  EXPECT_LT(same.features[0].psi, 0.02);
  EXPECT_EQ(same.features_in_drift, 0);
  EXPECT_EQ(same.features_monitored, 1) << "the clock is not monitored";
  EXPECT_FALSE(same.features[1].monitored);
  EXPECT_GT(same.features[1].psi, 5) << "its statistics are still reported";
  EXPECT_EQ(same.score.status, DriftStatus::kOk);

  const DriftReport shifted = Compare(p, Make(0.7, 5000, 3));
  EXPECT_EQ(shifted.features[0].status, DriftStatus::kDrift);
  EXPECT_GT(shifted.features[0].psi, 0.25);
  EXPECT_NEAR(shifted.features[0].wasserstein, 0.7, 0.05);
  EXPECT_GT(shifted.features[0].ks, 0.15);
  EXPECT_TRUE(shifted.dataset_drift) << "1 of 1 monitored features";
  EXPECT_FALSE(shifted.features[0].thresholds.calibrated) << "the profile is not calibrated";
}

TEST(BatchDriftTest, CalibratedThresholdsComeFromTheProfilesWindowNull) {
  ReferenceProfile p = Profile();
  p.calibration_window = core::Span{core::Span::Kind::kTime, 86400};
  p.features[0].null_psi.full = {100, 0.2, 0.4, 0.6};  // a slow feature: its windows vary a lot
  const DriftReport shifted = Compare(p, Make(0.7, 5000, 3));
  EXPECT_TRUE(shifted.features[0].thresholds.calibrated);
  EXPECT_DOUBLE_EQ(shifted.features[0].thresholds.drift, 1.2);  // 2 x its maximum
  EXPECT_DOUBLE_EQ(shifted.features[0].thresholds.warning, 0.8);
  EXPECT_NE(shifted.features[0].status, DriftStatus::kDrift);
  BatchRows rows;
  const Batch b = Make(0.7, 5000, 3);
  rows.rows = b.rows;
  rows.cols = 2;
  rows.x = b.x.data();
  BatchDriftOptions fixed;
  fixed.calibrated_thresholds = false;
  EXPECT_EQ(CompareWithProfile(p, rows, fixed).features[0].status, DriftStatus::kDrift);
}

TEST(BatchDriftTest, JsonAndHtmlNameEveryFeature) {
  const ReferenceProfile p = Profile();
  const DriftReport r = Compare(p, Make(0.7, 2000, 4));
  const nlohmann::json j = BatchDriftJson(r, p, BatchDriftOptions{});
  EXPECT_EQ(j["rows"], 2000);
  EXPECT_EQ(j["features"].size(), 2u);
  EXPECT_EQ(j["features"][0]["status"], "drift");
  EXPECT_EQ(j["features"][1]["status"], "not_monitored");
  EXPECT_EQ(j["features"][0]["histogram"]["current"].size(),
            j["features"][0]["histogram"]["reference"].size());
  EXPECT_FALSE(j.contains("window"));
  EXPECT_TRUE(j["score"]["statistics"]["psi"].is_number());
  const std::string html =
      BatchDriftHtml(r, p, {"runs/m/model", "new<&>.csv", "spec.yaml", 2000, 0}, {});
  EXPECT_NE(html.find("new&lt;&amp;&gt;.csv"), std::string::npos) << "escaped";
  EXPECT_NE(html.find("<svg"), std::string::npos);
  EXPECT_NE(html.find(">x (PSI"), std::string::npos);
  EXPECT_NE(html.find("1 of 1 monitored features in drift"), std::string::npos);
  EXPECT_EQ(html.find("<script"), std::string::npos);
}

// Two load regimes: x ~ N(0, 1) at the low load, N(4, 1) at the high one. A file that runs
// mostly at the high load is no drift when compared within the regimes; one whose low-load rows
// moved is, and the per-regime breakdown says which regime.
TEST(BatchDriftTest, RegimesMixTheReferenceAndTheBreakdownNamesTheRegimeThatMoved) {
  std::mt19937_64 rng(5);
  std::normal_distribution<double> normal(0, 1);
  std::vector<double> x, regime;
  for (int i = 0; i < 20000; ++i) {
    const int g = i % 2;
    x.push_back(4.0 * g + normal(rng));
    regime.push_back(g);
  }
  ReferenceProfile p;
  p.features = {BuildColumnProfile("x", x), BuildColumnProfile("regime", regime)};
  p.score = BuildColumnProfile("probability", std::vector<double>(20000, 0.1));
  p.rows = 20000;
  p.regime_feature = 1;
  p.regimes = 2;
  p.regime_names = {"load 25", "load <90>"};
  for (ColumnProfile* c : {&p.features[0], &p.features[1]}) {
    c->regime_counts.assign(2, std::vector<double>(c->bins(), 0));
    const std::vector<double>& values = c == &p.features[0] ? x : regime;
    for (size_t i = 0; i < values.size(); ++i) {
      c->regime_counts[static_cast<size_t>(regime[i])][c->BinOf(values[i])] += 1;
    }
  }
  auto batch = [&](double low_shift, int high_share_of_10) {
    std::vector<float> rows;
    for (int i = 0; i < 4000; ++i) {
      const int g = i % 10 < high_share_of_10 ? 1 : 0;
      rows.push_back(static_cast<float>(4.0 * g + (g == 0 ? low_shift : 0) + normal(rng)));
      rows.push_back(static_cast<float>(g));
    }
    return rows;
  };
  auto compare = [&](const std::vector<float>& rows, std::vector<RegimeDrift>* by_regime) {
    BatchRows b{rows.size() / 2, 2, rows.data(), {}, {}};
    *by_regime = CompareByRegime(p, b, BatchDriftOptions{});
    return CompareWithProfile(p, b, BatchDriftOptions{});
  };
  std::vector<RegimeDrift> by_regime;
  // 90% at the high load, nothing moved within a load: no drift (pooled, it would be).
  const std::vector<float> loaded = batch(0, 9);
  EXPECT_EQ(compare(loaded, &by_regime).features[0].status, DriftStatus::kOk);
  ReferenceProfile pooled = p;
  pooled.regime_feature.reset();
  BatchRows b{loaded.size() / 2, 2, loaded.data(), {}, {}};
  EXPECT_EQ(CompareWithProfile(pooled, b, BatchDriftOptions{}).features[0].status,
            DriftStatus::kDrift);
  ASSERT_EQ(by_regime.size(), 2u);
  EXPECT_EQ(by_regime[1].rows, 3600);
  EXPECT_EQ(by_regime[1].reference_rows, 10000);
  EXPECT_EQ(by_regime[0].report.features[0].status, DriftStatus::kOk);
  EXPECT_EQ(by_regime[1].report.features[0].status, DriftStatus::kOk);
  // The low load's x rose by a std: drift, found in regime 0 only, with the median shift up.
  const DriftReport moved = compare(batch(1.0, 5), &by_regime);
  EXPECT_EQ(moved.features[0].status, DriftStatus::kDrift);
  ASSERT_EQ(by_regime.size(), 2u);
  EXPECT_EQ(by_regime[0].report.features[0].status, DriftStatus::kDrift);
  EXPECT_GT(by_regime[0].report.features[0].median_shift, 0.25);
  EXPECT_EQ(by_regime[1].report.features[0].status, DriftStatus::kOk);
  const nlohmann::json j = BatchDriftJson(moved, p, BatchDriftOptions{}, by_regime);
  EXPECT_EQ(j["by_regime"][0]["features"][0]["status"], "drift");
  EXPECT_EQ(j["by_regime"][1]["rows"], 2000);
  const std::string html =
      BatchDriftHtml(moved, p, {"m", "d.csv", "s.yaml", 4000, 0}, {}, by_regime);
  EXPECT_NE(html.find("<h3>Regime 0 (load 25): 2000 rows"), std::string::npos);
  EXPECT_NE(html.find("(load &lt;90&gt;)"), std::string::npos) << "names are escaped";
  EXPECT_EQ(j["by_regime"][1]["name"], "load <90>");
  const auto back = ProfileFromJson(ProfileToJson(p), "reference.json");
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->regime_names, p.regime_names);
  EXPECT_EQ(back->features[0].regime_counts, p.features[0].regime_counts);
  EXPECT_EQ(back->regime_feature, p.regime_feature);
}

}  // namespace
}  // namespace pdm::monitor
