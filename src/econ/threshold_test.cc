#include "econ/threshold.h"

#include <gtest/gtest.h>

#include <random>

#include "tests/testing/test_paths.h"

namespace pdm::econ {
namespace {

TEST(CostOptimalThresholdTest, HandComputedExample) {
  std::vector<ScoredLabel> scores = {{0.9, true},  {0.8, true},  {0.7, false}, {0.6, true},
                                     {0.3, false}, {0.2, false}, {0.1, false}};
  ThresholdEconomics e{.failures_per_year = 10,
                       .value_per_detected_failure = 100,
                       .healthy_decisions_per_year = 1000,
                       .cost_per_false_alarm = 1};
  auto choice = CostOptimalThreshold(scores, e);
  ASSERT_TRUE(choice.ok()) << choice.status();
  // savings(t) = recall * 1000 - fpr * 1000: 0.9 -> 333, 0.8 -> 667, 0.7 -> 417, 0.6 -> 750,
  // 0.3 -> 500, 0.2 -> 250, 0.1 -> 0.
  EXPECT_DOUBLE_EQ(choice->best.threshold, 0.6);
  EXPECT_DOUBLE_EQ(choice->best.recall, 1);
  EXPECT_DOUBLE_EQ(choice->best.false_positive_rate, 0.25);
  EXPECT_DOUBLE_EQ(choice->best.yearly_savings, 750);
  EXPECT_EQ(choice->positives, 3);
  EXPECT_EQ(choice->negatives, 4);
  ASSERT_EQ(choice->curve.size(), 101u);
  EXPECT_DOUBLE_EQ(choice->curve[0].threshold, 0);
  EXPECT_DOUBLE_EQ(choice->curve[0].recall, 1);  // everything alarms at 0
  EXPECT_DOUBLE_EQ(choice->curve[0].false_positive_rate, 1);
  EXPECT_DOUBLE_EQ(choice->curve[60].recall, 1);  // threshold 0.6
  EXPECT_DOUBLE_EQ(choice->curve[61].recall, 2.0 / 3);
  EXPECT_DOUBLE_EQ(choice->curve[100].recall, 0);
}

TEST(CostOptimalThresholdTest, ExpensiveFalseAlarmsMeanNeverAlarm) {
  std::vector<ScoredLabel> scores = {{0.9, false}, {0.8, true}, {0.1, false}};
  ThresholdEconomics e{10, 1, 1e6, 1000};
  auto choice = CostOptimalThreshold(scores, e);
  ASSERT_TRUE(choice.ok());
  EXPECT_EQ(choice->best.yearly_savings, 0);
  EXPECT_GT(choice->best.threshold, 0.9);
}

TEST(CostOptimalThresholdTest, MatchesBruteForce) {
  std::mt19937 rng(3);
  std::uniform_real_distribution<double> u(0, 1);
  for (int trial = 0; trial < 50; ++trial) {
    std::vector<ScoredLabel> scores;
    for (int i = 0; i < 200; ++i) {
      const bool positive = u(rng) < 0.1;
      scores.push_back(
          {std::round((positive ? 0.3 + 0.7 * u(rng) : 0.6 * u(rng)) * 50) / 50, positive});
    }
    scores.push_back({0.99, true});
    scores.push_back({0.01, false});
    ThresholdEconomics e{20, 50 + 100 * u(rng), 5000, 1 + 5 * u(rng)};
    auto choice = CostOptimalThreshold(scores, e);
    ASSERT_TRUE(choice.ok());
    double best = 0;
    for (const ScoredLabel& candidate : scores) {
      double tp = 0, fp = 0, p = 0, n = 0;
      for (const ScoredLabel& s : scores) {
        (s.positive ? p : n) += 1;
        if (s.score >= candidate.score) (s.positive ? tp : fp) += 1;
      }
      best = std::max(best, tp / p * e.failures_per_year * e.value_per_detected_failure -
                                fp / n * e.healthy_decisions_per_year * e.cost_per_false_alarm);
    }
    EXPECT_NEAR(choice->best.yearly_savings, best, 1e-9);
  }
}

TEST(CostOptimalThresholdTest, NeedsBothClasses) {
  EXPECT_FALSE(CostOptimalThreshold({{0.5, true}}, {}).ok());
  EXPECT_FALSE(CostOptimalThreshold({{0.5, false}}, {}).ok());
}

TEST(ReadScoresTest, ReadsAndRefusesWithLineNumbers) {
  const auto dir = testing::TempDir("scores");
  testing::WriteFile(dir / "ok.csv", "entity,label,score\nm1,0,0.1\nm2,1,0.9\n");
  auto scores = ReadScores(dir / "ok.csv");
  ASSERT_TRUE(scores.ok()) << scores.status();
  ASSERT_EQ(scores->size(), 2u);
  EXPECT_TRUE((*scores)[1].positive);
  EXPECT_DOUBLE_EQ((*scores)[1].score, 0.9);
  testing::WriteFile(dir / "bad.csv", "label,score\n0,0.1\n2,0.5\n");
  auto bad = ReadScores(dir / "bad.csv");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("bad.csv:3: label: expected 0 or 1"), std::string::npos)
      << bad.status();
  testing::WriteFile(dir / "nan.csv", "label,score\n0,nan\n");
  EXPECT_FALSE(ReadScores(dir / "nan.csv").ok());
  testing::WriteFile(dir / "nohdr.csv", "a,b\n0,1\n");
  EXPECT_FALSE(ReadScores(dir / "nohdr.csv").ok());
}

}  // namespace
}  // namespace pdm::econ
