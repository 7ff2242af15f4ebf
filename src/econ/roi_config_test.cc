#include "econ/roi_config.h"

#include <gtest/gtest.h>

#include "tests/testing/test_paths.h"

namespace pdm::econ {
namespace {

constexpr char kBase[] = R"(
currency: kRUB
horizon_years: 3
discount_rate: 0.1
savings: {a: 100}
costs: {one_time: {build: 200}, yearly: {run: 30}}
)";

TEST(RoiConfigTest, ShippedExamplesLoadAndCompute) {
  for (const char* name : {"specs/roi-example.yaml", "specs/roi-bottom-up-example.yaml"}) {
    auto config = LoadRoiConfig(testing::SourceDir() / name);
    ASSERT_TRUE(config.ok()) << config.status();
    auto c = ComputeBusinessCase(config->inputs);
    ASSERT_TRUE(c.ok()) << c.status();
    EXPECT_GT(c->roi_simple, 0) << name;
  }
  auto reference = LoadRoiConfig(testing::SourceDir() / "specs/roi-example.yaml");
  EXPECT_EQ(reference->inputs.currency, "million RUB");
  EXPECT_EQ(reference->inputs.savings.size(), 3u);
  EXPECT_DOUBLE_EQ(reference->inputs.first_year_benefit_share, 0.5);
}

TEST(RoiConfigTest, RefusesBadConfigsNamingTheKey) {
  struct Case {
    std::string yaml;
    const char* expected;
  };
  const Case cases[] = {
      {"horizon_years: 3\ndiscount_rate: 0.1\nsavings: {a: 1}\n", "costs: missing required key"},
      {"discount_rate: 0.1\nsavings: {a: 1}\ncosts: {yearly: {r: 1}}\n",
       "horizon_years: missing required key"},
      {"horizon_years: 0\ndiscount_rate: 0.1\nsavings: {a: 1}\ncosts: {yearly: {r: 1}}\n",
       "horizon_years: must be at least 1"},
      {"horizon_years: 2.5\ndiscount_rate: 0.1\nsavings: {a: 1}\ncosts: {yearly: {r: 1}}\n",
       "horizon_years: must be a whole number"},
      {"horizon_years: 3\ndiscount_rate: -1\nsavings: {a: 1}\ncosts: {yearly: {r: 1}}\n",
       "discount_rate: must be in"},
      {"horizon_years: 3\ndiscount_rate: 0.1\nsavings: {a: -1}\ncosts: {yearly: {r: 1}}\n",
       "savings.a: must be"},
      {"horizon_years: 3\ndiscount_rate: 0.1\nsavings: {a: x}\ncosts: {yearly: {r: 1}}\n",
       "savings.a: expected a number, got 'x'"},
      {"horizon_years: 3\ndiscount_rate: 0.1\nsavings: {a: 1}\ncosts: {yearly: {r: -2}}\n",
       "costs.yearly.r: must be"},
      {"horizon_years: 3\ndiscount_rate: 0.1\nsavings: {a: 1}\ncosts: {yearly: {r: 1}}\nramp_up: "
       "{first_year_benefit_share: 2}\n",
       "ramp_up.first_year_benefit_share: must be in [0, 1]"},
      {"horizon_years: 3\ndiscount_rate: 0.1\ncosts: {yearly: {r: 1}}\n", "savings: missing"},
      {"horizon_years: 3\ndiscount_rate: 0.1\nsavings: {a: 1}\nbottom_up: {}\ncosts: {yearly: {r: "
       "1}}\n",
       "give either savings (top-down) or bottom_up"},
      {"horizon_years: 3\ndiscount_rate: 0.1\nbottom_up: {fleet_size: 1}\ndetection: {recall: "
       "0.5}\ncosts: {yearly: {r: 1}}\n",
       "bottom_up.failures_per_machine_year: missing required key"},
      {"horizon_years: 3\ndiscount_rate: 0.1\nsavings: {a: 1}\ncosts: {yearly: {r: 1}}\nextra: 1\n",
       "extra: unknown key"},
      {"horizon_years: 3\ndiscount_rate: 0.1\nsavings: {a: 1}\ncosts: {yearly: {r: 1}}\ndetection: "
       "{recall: 1.5}\n",
       "detection.recall: must be in [0, 1]"},
      {"horizon_years: [3\n", "invalid YAML"},
  };
  for (const Case& c : cases) {
    auto config = ParseRoiConfig(c.yaml, "roi.yaml");
    ASSERT_FALSE(config.ok()) << c.yaml;
    EXPECT_NE(config.status().message().find(c.expected), std::string::npos)
        << c.yaml << "\n-> " << config.status().message();
    EXPECT_EQ(std::string(config.status().message()).rfind("roi.yaml", 0), 0u) << config.status();
  }
}

TEST(RoiConfigTest, MetricsFileSetsRecallAndFalseAlarms) {
  const auto dir = testing::TempDir("metrics");
  auto config = ParseRoiConfig(
      std::string(kBase) + "detection: {healthy_decisions_per_year: 1000, false_alarm_cost: 2}\n",
      dir / "roi.yaml");
  ASSERT_TRUE(config.ok()) << config.status();
  testing::WriteFile(dir / "metrics.json",
                     R"({"ensemble": {"recall": 0.8, "confusion_matrix": [[900, 100], [20, 80]]},
                         "members": {}, "folds": []})");
  ASSERT_TRUE(ApplyMetrics(dir / "metrics.json", &*config).ok());
  EXPECT_DOUBLE_EQ(config->inputs.detection.recall, 0.8);
  EXPECT_DOUBLE_EQ(config->inputs.detection.false_alarms_per_year, 100.0);  // 10% of 1000
  EXPECT_EQ(config->inputs.detection.source, (dir / "metrics.json").string());

  testing::WriteFile(dir / "bad.json", R"({"ensemble": {"confusion_matrix": [[1, 2]]}})");
  auto bad = ApplyMetrics(dir / "bad.json", &*config);
  EXPECT_NE(bad.message().find("ensemble.confusion_matrix"), std::string::npos) << bad;
  EXPECT_FALSE(ApplyMetrics(dir / "missing.json", &*config).ok());

  auto no_decisions = ParseRoiConfig(kBase, dir / "roi.yaml");
  auto status = ApplyMetrics(dir / "metrics.json", &*no_decisions);
  EXPECT_NE(status.message().find("detection.healthy_decisions_per_year"), std::string::npos)
      << status;
}

TEST(RoiConfigTest, ThresholdEconomicsFromBottomUpOrGiven) {
  auto config = LoadRoiConfig(testing::SourceDir() / "specs/roi-bottom-up-example.yaml");
  ASSERT_TRUE(config.ok());
  auto e = ThresholdEconomicsFor(*config);
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_DOUBLE_EQ(e->failures_per_year, 300);
  EXPECT_DOUBLE_EQ(e->value_per_detected_failure, 900 - 300 + 36 * 0.7 * 40);
  EXPECT_DOUBLE_EQ(e->cost_per_false_alarm, 20);
  EXPECT_DOUBLE_EQ(e->healthy_decisions_per_year, 73000);
  auto top_down = ParseRoiConfig(kBase, "roi.yaml");
  auto missing = ThresholdEconomicsFor(*top_down);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("threshold.failures_per_year"), std::string::npos);
}

}  // namespace
}  // namespace pdm::econ
