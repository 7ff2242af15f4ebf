#include "model/metrics.h"

#include <cmath>

#include "gtest/gtest.h"

namespace pdm::model {
namespace {

TEST(MetricsTest, RocAucCountsTiesHalf) {
  // scikit-learn: roc_auc_score([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == 0.75
  EXPECT_DOUBLE_EQ(RocAuc({0.1, 0.4, 0.35, 0.8}, {0, 0, 1, 1}), 0.75);
  // All tied: 0.5.
  EXPECT_DOUBLE_EQ(RocAuc({0.3, 0.3, 0.3, 0.3}, {0, 1, 0, 1}), 0.5);
  EXPECT_TRUE(std::isnan(RocAuc({0.1, 0.2}, {1, 1})));
}

TEST(MetricsTest, DecisionsRankByTheRankingScoreWhenGiven) {
  const std::vector<double> probability = {0.9, 0.8, 0.2, 0.1}, label = {0, 0, 1, 1};
  const std::vector<char> alarm = {1, 1, 0, 0};
  EXPECT_EQ(ScoreDecisions(probability, label, alarm, 0.5).roc_auc, 0);
  const std::vector<double> margin = {-2, -1, 1, 2};
  const BinaryMetrics m = ScoreDecisions(probability, label, alarm, 0.5, &margin);
  EXPECT_EQ(m.roc_auc, 1);
  EXPECT_EQ(m.pr_auc, 1);
  EXPECT_EQ(m.tp, 0);  // the decisions are the alarms given, whatever the ranking
  EXPECT_GT(m.brier, 0.5);
}

TEST(MetricsTest, AveragePrecisionMatchesScikitLearn) {
  // average_precision_score([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == 0.8333...
  EXPECT_NEAR(AveragePrecision({0.1, 0.4, 0.35, 0.8}, {0, 0, 1, 1}), 0.8333333333333333, 1e-12);
}

TEST(MetricsTest, ConfusionAndRates) {
  const std::vector<double> p = {0.9, 0.8, 0.3, 0.6, 0.1, 0.2};
  const std::vector<double> y = {1, 1, 1, 0, 0, 0};
  const BinaryMetrics m = ScoreBinary(p, y, 0.5);
  EXPECT_EQ(m.tp, 2);
  EXPECT_EQ(m.fn, 1);
  EXPECT_EQ(m.fp, 1);
  EXPECT_EQ(m.tn, 2);
  EXPECT_DOUBLE_EQ(m.precision, 2.0 / 3);
  EXPECT_DOUBLE_EQ(m.recall, 2.0 / 3);
  EXPECT_DOUBLE_EQ(m.f1, 2.0 / 3);
  EXPECT_DOUBLE_EQ(m.accuracy, 4.0 / 6);
  EXPECT_DOUBLE_EQ(m.balanced_accuracy, 2.0 / 3);
  const double brier = (0.01 + 0.04 + 0.49 + 0.36 + 0.01 + 0.04) / 6;
  EXPECT_NEAR(m.brier, brier, 1e-15);
  // Nothing predicted positive: precision 0 (scikit-learn zero_division=0), not NaN.
  EXPECT_EQ(ScoreBinary(p, y, 2.0).precision, 0);
}

TEST(MetricsTest, CurvesEndAtTheCorners) {
  const std::vector<double> p = {0.9, 0.8, 0.3, 0.6, 0.1, 0.2};
  const std::vector<double> y = {1, 1, 1, 0, 0, 0};
  const auto roc = RocCurve(p, y);
  EXPECT_EQ(roc.front().x, 0);
  EXPECT_EQ(roc.back().x, 1);
  EXPECT_EQ(roc.back().y, 1);
  const auto pr = PrCurve(p, y);
  EXPECT_EQ(pr.back().x, 1);
  EXPECT_DOUBLE_EQ(pr.back().y, 0.5);
  std::vector<double> many(1000), labels(1000);
  for (int i = 0; i < 1000; ++i) {
    many[i] = i;
    labels[i] = i % 3 == 0;
  }
  EXPECT_LE(RocCurve(many, labels, 50).size(), 50u);
}

TEST(MetricsTest, RegressionAndNasaScore) {
  const RegressionMetrics m = ScoreRegression({10, 20, 35}, {12, 20, 30});
  EXPECT_NEAR(m.rmse, std::sqrt((4.0 + 0 + 25) / 3), 1e-12);
  EXPECT_NEAR(m.mae, 7.0 / 3, 1e-12);
  // Early by 2: exp(2/13) - 1; late by 5: exp(5/10) - 1.
  EXPECT_NEAR(m.nasa_score, std::exp(2.0 / 13) - 1 + std::exp(0.5) - 1, 1e-12);
}

}  // namespace
}  // namespace pdm::model
