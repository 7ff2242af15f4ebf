#include "econ/business_case.h"

#include <gtest/gtest.h>

#include <cmath>

namespace pdm::econ {
namespace {

BusinessCaseInputs HandCase() {
  BusinessCaseInputs in;
  in.savings = {{"a", 100}, {"b", 50}};
  in.one_time_costs = {{"build", 200}};
  in.yearly_costs = {{"run", 30}};
  in.horizon_years = 3;
  in.discount_rate = 0.1;
  in.first_year_benefit_share = 0.5;
  return in;
}

// Every figure against hand computation (see the comments for the arithmetic).
TEST(BusinessCaseTest, TopDownFiguresMatchHandComputation) {
  auto c = ComputeBusinessCase(HandCase());
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_DOUBLE_EQ(c->total_benefits, 450);  // 150 x 3
  EXPECT_DOUBLE_EQ(c->total_costs, 290);     // 200 + 30 x 3
  EXPECT_DOUBLE_EQ(c->roi_simple, 160.0 / 290);
  EXPECT_DOUBLE_EQ(c->roi_ramp_up, (450.0 - 75 - 290) / 290);  // year 1 earns half
  // Ramp-up flows: -200, 75 - 30, 120, 120.
  ASSERT_EQ(c->flows.size(), 4u);
  EXPECT_DOUBLE_EQ(c->flows[1].net, 45);
  EXPECT_DOUBLE_EQ(c->flows[3].cumulative, 85);
  const double npv = -200 + 45 / 1.1 + 120 / (1.1 * 1.1) + 120 / (1.1 * 1.1 * 1.1);
  EXPECT_NEAR(c->npv, npv, 1e-9);
  const double pv_benefits = 75 / 1.1 + 150 / 1.21 + 150 / 1.331;
  const double pv_costs = 200 + 30 / 1.1 + 30 / 1.21 + 30 / 1.331;
  EXPECT_NEAR(c->roi_discounted, (pv_benefits - pv_costs) / pv_costs, 1e-12);
  EXPECT_NEAR(c->flows[3].discounted_cumulative, npv, 1e-9);
  ASSERT_TRUE(c->payback_years_simple.has_value());
  EXPECT_NEAR(*c->payback_years_simple, 1 + 80.0 / 120, 1e-12);  // -200, +120 -> -80, +120
  ASSERT_TRUE(c->payback_years_ramp_up.has_value());
  EXPECT_NEAR(*c->payback_years_ramp_up, 2 + 35.0 / 120, 1e-12);  // -200, +45, +120 -> -35
  ASSERT_TRUE(c->irr.has_value());
  EXPECT_NEAR(NetPresentValue({-200, 45, 120, 120}, *c->irr), 0, 1e-7);
  EXPECT_GT(*c->irr, 0.1);  // NPV at 10% is positive
}

TEST(BusinessCaseTest, BottomUpSavingsAndFalseAlarmCostLine) {
  BusinessCaseInputs in;
  in.bottom_up = BottomUp{.fleet_size = 10,
                          .failures_per_machine_year = 2,
                          .cost_per_failure = 1000,
                          .planned_repair_cost = 200,
                          .downtime_hours_per_failure = 10,
                          .cost_per_downtime_hour = 50,
                          .avoidable_downtime_share = 0.6,
                          .planned_maintenance_cost = 5000,
                          .maintenance_saving_share = 0.2};
  in.detection.recall = 0.5;
  in.detection.false_alarms_per_year = 40;
  in.detection.false_alarm_cost = 25;
  in.one_time_costs = {{"build", 10000}};
  in.yearly_costs = {{"run", 2000}};
  in.horizon_years = 2;
  auto c = ComputeBusinessCase(in);
  ASSERT_TRUE(c.ok()) << c.status();
  // 20 failures a year, 10 caught.
  ASSERT_EQ(c->yearly_savings.size(), 3u);
  EXPECT_DOUBLE_EQ(c->yearly_savings[0].second, 10 * (1000 - 200));
  EXPECT_DOUBLE_EQ(c->yearly_savings[1].second, 10 * 10 * 0.6 * 50);
  EXPECT_DOUBLE_EQ(c->yearly_savings[2].second, 5000 * 0.2);
  ASSERT_EQ(c->yearly_cost_lines.size(), 2u);
  EXPECT_EQ(c->yearly_cost_lines[1].first, "false_alarms");
  EXPECT_DOUBLE_EQ(c->yearly_cost_lines[1].second, 40 * 25);
  // benefits 12000/y, costs 3000/y + 10000 once.
  EXPECT_DOUBLE_EQ(c->roi_simple, (24000.0 - 16000) / 16000);
  EXPECT_NEAR(*c->payback_years_simple, 10000.0 / 9000, 1e-12);
  // Sensitivity: recall -20% lowers ROI, cost per failure +20% raises it.
  bool saw_recall = false;
  for (const SensitivityRow& row : c->sensitivity) {
    if (row.input == "detection.recall") {
      saw_recall = true;
      EXPECT_DOUBLE_EQ(row.base_value, 0.5);
      // recall 0.4: 8 caught -> benefits 8 x 800 + 8 x 10 x 0.6 x 50 + 1000 = 9800/y
      EXPECT_NEAR(row.roi_minus, (2 * 9800.0 - 16000) / 16000, 1e-12);
      EXPECT_LT(row.roi_minus, c->roi_simple);
      EXPECT_GT(row.roi_plus, c->roi_simple);
    }
  }
  EXPECT_TRUE(saw_recall);
}

// The reference design's inputs (million RUB): 162.7 a year of savings against 15 once and
// 4.8 a year, over 5 years.
TEST(BusinessCaseTest, ReferenceExample) {
  BusinessCaseInputs in;
  in.currency = "million RUB";
  in.savings = {
      {"failures_prevented", 89.1}, {"downtime_reduced", 48.6}, {"maintenance_optimised", 25.0}};
  in.one_time_costs = {{"development", 15}};
  in.yearly_costs = {{"infrastructure", 2.4}, {"support", 1.8}, {"training", 0.6}};
  in.horizon_years = 5;
  auto c = ComputeBusinessCase(in);
  ASSERT_TRUE(c.ok());
  EXPECT_NEAR(c->total_benefits, 813.5, 1e-9);
  EXPECT_NEAR(c->total_costs, 39, 1e-9);
  EXPECT_NEAR(c->roi_simple, (813.5 - 39) / 39, 1e-12);      // 1985.9%, not the claimed 1,733%
  EXPECT_NEAR(*c->payback_years_simple, 15 / 157.9, 1e-12);  // 0.095 years, not 0.4
  // What the claimed figures would need (documented in docs/roi.md):
  in.first_year_benefit_share = 0.4;
  EXPECT_NEAR(ComputeBusinessCase(in)->roi_ramp_up, 17.356, 5e-4);  // 1,735.6% with 40% in year 1
  in.first_year_benefit_share = 1;
  in.discount_rate = 0.1117;
  EXPECT_NEAR(ComputeBusinessCase(in)->roi_discounted, 17.33, 5e-3);  // 1,733% discounted at 11.17%
  in.discount_rate = 0;
  in.first_year_benefit_share = (15 / 0.4 + 4.8) / 162.7;  // 26% of benefits in year 1
  EXPECT_NEAR(*ComputeBusinessCase(in)->payback_years_ramp_up, 0.4, 1e-9);
}

TEST(BusinessCaseTest, RefusesBadInputsNamingTheKey) {
  struct Case {
    std::function<void(BusinessCaseInputs&)> change;
    const char* key;
  };
  const Case cases[] = {
      {[](BusinessCaseInputs& in) { in.horizon_years = 0; }, "horizon_years"},
      {[](BusinessCaseInputs& in) { in.discount_rate = -0.1; }, "discount_rate"},
      {[](BusinessCaseInputs& in) { in.first_year_benefit_share = 1.5; },
       "ramp_up.first_year_benefit_share"},
      {[](BusinessCaseInputs& in) { in.savings[0].second = -5; }, "savings.a"},
      {[](BusinessCaseInputs& in) { in.one_time_costs[0].second = -1; }, "costs.one_time.build"},
      {[](BusinessCaseInputs& in) { in.yearly_costs[0].second = NAN; }, "costs.yearly.run"},
      {[](BusinessCaseInputs& in) { in.detection.recall = 1.2; }, "detection.recall"},
      {[](BusinessCaseInputs& in) { in.savings.clear(); }, "savings"},
      {[](BusinessCaseInputs& in) {
         in.one_time_costs[0].second = 0;
         in.yearly_costs[0].second = 0;
       },
       "costs"},
  };
  for (const Case& c : cases) {
    BusinessCaseInputs in = HandCase();
    c.change(in);
    auto result = ComputeBusinessCase(in);
    ASSERT_FALSE(result.ok()) << c.key;
    EXPECT_EQ(std::string(result.status().message()).rfind(c.key, 0), 0u) << result.status();
  }
}

TEST(CashFlowTest, PaybackIrrAndNpvEdgeCases) {
  EXPECT_FALSE(PaybackYears({-100, 10, 10}).has_value());  // never within the horizon
  EXPECT_DOUBLE_EQ(*PaybackYears({0, 10}), 0);
  EXPECT_DOUBLE_EQ(*PaybackYears({-100, -50, 300}), 1.5);     // -150 after year 1, +300 in year 2
  EXPECT_FALSE(InternalRateOfReturn({100, 10}).has_value());  // no sign change
  EXPECT_NEAR(*InternalRateOfReturn({-100, 110}), 0.10, 1e-9);
  EXPECT_NEAR(*InternalRateOfReturn({-100, 0, 121}), 0.10, 1e-9);
  EXPECT_NEAR(NetPresentValue({-100, 110}, 0.1), 0, 1e-12);
}

}  // namespace
}  // namespace pdm::econ
