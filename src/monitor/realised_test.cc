#include "monitor/realised.h"

#include <gtest/gtest.h>

namespace pdm::monitor {
namespace {

constexpr double kHour = 3600;

TEST(RealisedPerformanceTest, FailuresLabelTheirHorizonAndTimeLabelsTheRest) {
  RealisedPerformance r(48 * kHour);
  // Machine A: hourly readings from hour 0, alarms from hour 90; fails at hour 100.
  for (int h = 0; h < 100; ++h) r.Scored("A", h * kHour, h >= 90);
  r.Failure("A", 100 * kHour);
  // Machine B: never fails; alarms at hours 10 and 11 (false alarms), read until hour 100.
  for (int h = 0; h <= 100; ++h) r.Scored("B", h * kHour, h == 10 || h == 11);
  const RealisedCounts c = r.Counts();
  // A: hours 52..99 are within 48 h of the failure (positives): 10 alarms, 38 silent; hours
  // 0..51 passed their horizon before it (negatives), all silent.
  EXPECT_EQ(c.tp, 10);
  EXPECT_EQ(c.fn, 38);
  // B: readings up to hour 51 have passed their horizon by hour 100 (t + 48 < 100).
  EXPECT_EQ(c.fp, 2);
  EXPECT_EQ(c.tn, 52 + 52 - 2);
  EXPECT_EQ(c.pending, 101 - 52);  // B's hours 52..100 wait
  EXPECT_EQ(c.failures, 1);
  EXPECT_DOUBLE_EQ(c.precision, 10.0 / 12);
  EXPECT_DOUBLE_EQ(c.recall, 10.0 / 48);
  EXPECT_DOUBLE_EQ(c.f1, 20.0 / (20 + 2 + 38));
  const nlohmann::json j = RealisedJson(c, 48 * kHour);
  EXPECT_EQ(j["labelled"], c.tp + c.fp + c.fn + c.tn);
  EXPECT_EQ(j["confusion_matrix"][1][1], 10);
}

TEST(RealisedPerformanceTest, LateFailureReportsAndBoundedMemory) {
  RealisedPerformance r(10, /*max_pending=*/5);
  for (int t = 0; t < 8; ++t) r.Scored("A", t, t >= 6);
  EXPECT_EQ(r.Counts().dropped, 3);  // only the newest 5 wait
  EXPECT_EQ(r.Counts().pending, 5);
  r.Failure("A", 6.5);  // readings 3..6 labelled positive; 7 waits for the next
  RealisedCounts c = r.Counts();
  EXPECT_EQ(c.tp, 1);
  EXPECT_EQ(c.fn, 3);
  EXPECT_EQ(c.pending, 1);
  r.Failure("unknown", 1);  // a machine never scored: counted, nothing labelled
  EXPECT_EQ(r.Counts().failures, 2);
  EXPECT_EQ(r.Counts().labelled(), 4);
  EXPECT_TRUE(std::isnan(RealisedPerformance(10).Counts().precision));
}

TEST(RealisedPerformanceTest, AnAlertResolvedAsAFailureLabelsUpToTheLatestReading) {
  RealisedPerformance r(48 * kHour);
  for (int h = 0; h < 60; ++h) r.Scored("A", h * kHour, h >= 55);
  r.ConfirmedFailure("A");  // at hour 59, its latest reading
  RealisedCounts c = r.Counts();
  EXPECT_EQ(c.failures, 1);
  EXPECT_EQ(c.confirmed_by_alerts, 1);
  EXPECT_EQ(c.tp, 5);                // hours 55..59
  EXPECT_EQ(c.fn, 59 - 11 - 5 + 1);  // hours 11..54 are within 48 h of hour 59
  EXPECT_EQ(c.pending, 0);
  r.ConfirmedFailure("A");  // again, with nothing waiting: counted only
  r.ConfirmedFailure("never-scored");
  c = r.Counts();
  EXPECT_EQ(c.failures, 3);
  EXPECT_EQ(c.confirmed_by_alerts, 3);
  EXPECT_EQ(c.labelled(), 60);
  EXPECT_EQ(RealisedJson(c, 48 * kHour)["failures_confirmed_by_alerts"], 3);
}

}  // namespace
}  // namespace pdm::monitor
