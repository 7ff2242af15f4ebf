#include "alert/alert_policy.h"

#include <cmath>

#include "gtest/gtest.h"

namespace pdm::alert {
namespace {

AlertRules Rules() {
  AlertRules r;
  r.high = 0.9;
  r.consecutive = 3;
  r.m = 3;
  r.k = 5;
  r.cooldown = {core::Span::Kind::kTime, 100};
  return r;
}

// The served threshold is 0.5: a score >= 0.5 is an alarm.
Decision Feed(AlertPolicy& p, const std::string& machine, double time, double score) {
  return p.Observe(machine, time, score, score >= 0.5);
}

TEST(AlertPolicyTest, ConsecutiveAlarmsOpenAWarning) {
  AlertPolicy p(Rules());
  EXPECT_EQ(Feed(p, "M", 1, 0.6).action, Action::kNone);
  EXPECT_EQ(Feed(p, "M", 2, 0.6).action, Action::kNone);
  const Decision d = Feed(p, "M", 3, 0.6);
  EXPECT_EQ(d.action, Action::kOpen);
  EXPECT_EQ(d.severity, "warning");
  EXPECT_NE(d.reason.find("3 consecutive"), std::string::npos) << d.reason;
  // Machines are independent.
  EXPECT_EQ(Feed(p, "other", 3, 0.6).action, Action::kNone);
}

TEST(AlertPolicyTest, MOfKCatchesAFlickeringRisk) {
  AlertPolicy p(Rules());
  EXPECT_EQ(Feed(p, "M", 1, 0.6).action, Action::kNone);
  EXPECT_EQ(Feed(p, "M", 2, 0.1).action, Action::kNone);
  EXPECT_EQ(Feed(p, "M", 3, 0.6).action, Action::kNone);
  EXPECT_EQ(Feed(p, "M", 4, 0.1).action, Action::kNone);
  const Decision d = Feed(p, "M", 5, 0.6);
  EXPECT_EQ(d.action, Action::kOpen);
  EXPECT_NE(d.reason.find("3 of the last 5"), std::string::npos) << d.reason;
}

TEST(AlertPolicyTest, OldAlarmsLeaveTheLastK) {
  AlertPolicy p(Rules());
  Feed(p, "M", 1, 0.6);
  Feed(p, "M", 2, 0.6);
  for (int t = 3; t < 8; ++t) EXPECT_EQ(Feed(p, "M", t, 0.1).action, Action::kNone);
  EXPECT_EQ(Feed(p, "M", 8, 0.6).action, Action::kNone) << "the two old alarms left the window";
}

TEST(AlertPolicyTest, OneHighReadingOpensACriticalAlert) {
  AlertPolicy p(Rules());
  const Decision d = Feed(p, "M", 1, 0.95);
  EXPECT_EQ(d.action, Action::kOpen);
  EXPECT_EQ(d.severity, "critical");
}

TEST(AlertPolicyTest, AnActiveAlertHoldsNewOnesAndEscalatesOnce) {
  AlertPolicy p(Rules());
  for (int t = 1; t <= 3; ++t) Feed(p, "M", t, 0.6);
  p.SetActive("M", 7, "warning");
  EXPECT_EQ(p.ActiveAlert("M"), 7);
  for (int t = 4; t <= 10; ++t) EXPECT_EQ(Feed(p, "M", t, 0.6).action, Action::kNone);
  const Decision up = Feed(p, "M", 11, 0.95);
  EXPECT_EQ(up.action, Action::kEscalate);
  EXPECT_EQ(up.alert_id, 7);
  p.SetActive("M", 7, "critical");
  EXPECT_EQ(Feed(p, "M", 12, 0.99).action, Action::kNone);
}

TEST(AlertPolicyTest, CooldownInDataTimeAfterAResolution) {
  AlertPolicy p(Rules());
  for (int t = 1; t <= 3; ++t) Feed(p, "M", t, 0.6);
  p.SetActive("M", 1, "warning");
  p.Resolved("M");  // at data time 3: quiet until 103
  EXPECT_EQ(p.ActiveAlert("M"), 0);
  for (int t = 4; t <= 102; ++t) {
    ASSERT_EQ(Feed(p, "M", t, 0.95).action, Action::kNone) << "t = " << t;
  }
  EXPECT_EQ(Feed(p, "M", 103, 0.95).action, Action::kOpen);
}

TEST(AlertPolicyTest, MaintenanceClearsTheHistoryAndCoolsDown) {
  AlertRules rules = Rules();
  rules.cooldown = {core::Span::Kind::kRecords, 2};
  AlertPolicy p(rules);
  Feed(p, "M", NAN, 0.6);
  Feed(p, "M", NAN, 0.6);
  p.Maintained("M", NAN);
  EXPECT_EQ(Feed(p, "M", NAN, 0.6).action, Action::kNone);  // cooling: 1 of 2
  EXPECT_EQ(Feed(p, "M", NAN, 0.6).action, Action::kNone);  // cooling: 2 of 2
  EXPECT_EQ(Feed(p, "M", NAN, 0.6).action, Action::kOpen)
      << "three alarms since the maintenance: the two before it do not count, these do";
}

TEST(AlertPolicyTest, RulLowerIsRiskier) {
  AlertRules rules = Rules();
  rules.lower_is_riskier = true;
  rules.high = 10;
  AlertPolicy p(rules);
  EXPECT_EQ(p.Observe("E", 1, 40, true).action, Action::kNone);
  const Decision d = p.Observe("E", 2, 8, true);
  EXPECT_EQ(d.action, Action::kOpen);
  EXPECT_EQ(d.severity, "critical");
}

TEST(AlertPolicyTest, RulesThatCannotWorkAreRefused) {
  AlertRules r = Rules();
  EXPECT_TRUE(ValidateRules(r).ok());
  r.k = 65;
  EXPECT_FALSE(ValidateRules(r).ok());
  r = Rules();
  r.m = 6;
  EXPECT_NE(ValidateRules(r).message().find("M = 6"), std::string::npos);
  r = Rules();
  r.consecutive = 0;
  EXPECT_FALSE(ValidateRules(r).ok());
  r = Rules();
  r.high = NAN;
  EXPECT_FALSE(ValidateRules(r).ok());
  r = Rules();
  r.k = 64;
  r.m = 64;
  AlertPolicy full(r);
  for (int t = 1; t < 64; ++t) full.Observe("M", t, 0.6, false);
  EXPECT_EQ(full.Observe("M", 64, 0.6, true).action, Action::kNone);
}

}  // namespace
}  // namespace pdm::alert
