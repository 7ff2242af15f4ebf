#include "monitor/level.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "monitor/drift_monitor.h"

namespace pdm::monitor {
namespace {

constexpr double kHour = 3600;

// One reading of feature 1 (feature 0 is not tracked) through the tracker.
double Read(LevelTracker* t, uint32_t entity, double time, int regime, float value) {
  const float features[2] = {-1.0f, value};
  double out = 0;
  t->Next(entity, time, regime, features, &out);
  return out;
}

TEST(LevelTrackerTest, AReadingIsComparedWithItsMachinesEarlierLevelOnceEstablished) {
  LevelTracker t({1}, 0);
  for (int h = 0; h < 3; ++h) EXPECT_TRUE(std::isnan(Read(&t, 0, h * kHour, -1, 10))) << h;
  EXPECT_NEAR(Read(&t, 0, 3 * kHour, -1, 10), 0, 1e-5);  // three readings before: established
  for (int h = 4; h < 200; ++h) Read(&t, 0, h * kHour, -1, 10);
  EXPECT_NEAR(Read(&t, 0, 200 * kHour, -1, 12), 2, 1e-4);  // a step shows whole at once
  // Then the level follows the new value with the time constant: after one, most of the way.
  double last = 0;
  for (int h = 201; h <= 200 + 72; ++h) last = Read(&t, 0, h * kHour, -1, 12);
  EXPECT_GT(last, 2 * std::exp(-1.0) * 0.8);
  EXPECT_LT(last, 2 * std::exp(-1.0) * 1.2);
}

TEST(LevelTrackerTest, MachinesAndRegimesKeepTheirOwnLevels) {
  LevelTracker t({1}, 2);
  for (int h = 0; h < 10; ++h) {
    // Machine 0 alternates between a light regime at 10 and a heavy one at 20; machine 1 reads
    // 100 in an unknown regime.
    const double light = Read(&t, 0, h * kHour, h % 2, h % 2 == 0 ? 10 : 20);
    const double other = Read(&t, 1, h * kHour, -1, 100);
    if (h >= 6) {
      EXPECT_NEAR(light, 0, 1e-4) << h;
    }
    if (h >= 3) {
      EXPECT_NEAR(other, 0, 1e-4) << h;
    }
  }
  EXPECT_EQ(t.entities(), 2u);
  // Named entities get their own indexes.
  LevelTracker named({1}, 0);
  const float a[2] = {0, 1}, b[2] = {0, 50};
  double out = 0;
  for (int h = 0; h < 5; ++h) {
    named.Next("pump-1", h * kHour, -1, a, &out);
    named.Next("pump-2", h * kHour, -1, b, &out);
  }
  EXPECT_NEAR(out, 0, 1e-4);
  EXPECT_EQ(named.entities(), 2u);
}

TEST(LevelTrackerTest, MissingValuesLateRowsAndLongGapsAreNotFoldedIn) {
  LevelTracker t({1}, 0);
  for (int h = 0; h < 5; ++h) Read(&t, 0, h * kHour, -1, 10);
  EXPECT_TRUE(std::isnan(Read(&t, 0, 5 * kHour, -1, NAN)));
  EXPECT_TRUE(std::isnan(Read(&t, 0, NAN, -1, 10)));
  EXPECT_NEAR(Read(&t, 0, 6 * kHour, -1, 10), 0, 1e-6);  // the missing value moved nothing
  // A late row is compared with the level now, and leaves it as it was.
  EXPECT_NEAR(Read(&t, 0, 2 * kHour, -1, 30), 20, 1e-5);
  EXPECT_NEAR(Read(&t, 0, 7 * kHour, -1, 10), 0, 1e-5);
  // After a month without readings the old level weighs too little to compare with.
  EXPECT_TRUE(std::isnan(Read(&t, 0, 7 * kHour + 30 * 86400, -1, 10)));
}

// The drift monitor watches a level column like a feature: a recalibration of one sensor on
// every machine (+5%) is a small shift of the fleet's pooled distribution (machines' levels
// spread from 5 to 15) but many times the reading noise of each machine.
TEST(LevelTrackerTest, TheDriftMonitorFindsAFleetWideStepInTheLevelColumnFirst) {
  constexpr int kMachines = 20;
  std::mt19937_64 rng(3);
  std::uniform_real_distribution<double> uniform(5, 15);
  std::normal_distribution<double> noise(0, 0.05);
  std::vector<double> machine_level(kMachines);
  for (double& l : machine_level) l = uniform(rng);
  // Training: 60 days hourly. The feature, and its level column as the tracker computes it.
  std::vector<double> x, level;
  LevelTracker train({0}, 0);
  for (int h = 0; h < 60 * 24; ++h) {
    for (int m = 0; m < kMachines; ++m) {
      const float v = static_cast<float>(machine_level[m] + noise(rng));
      double out = 0;
      train.Next(static_cast<uint32_t>(m), h * kHour, -1, {&v, 1}, &out);
      x.push_back(v);
      level.push_back(out);
    }
  }
  ReferenceProfile p;
  p.features = {BuildColumnProfile("x", x)};
  p.levels = {BuildColumnProfile(LevelColumnName("x"), level)};
  p.level_features = {0};
  p.score = BuildColumnProfile("score", std::vector<double>(1000, 0.5));
  DriftOptions options;  // fixed thresholds: the profile is not calibrated
  options.min_rows = 200;
  DriftMonitor m(p, options);
  const std::vector<std::string> names = {"m0",  "m1",  "m2",  "m3",  "m4",  "m5",  "m6",
                                          "m7",  "m8",  "m9",  "m10", "m11", "m12", "m13",
                                          "m14", "m15", "m16", "m17", "m18", "m19"};
  auto hour = [&](int h, double gain) {
    std::vector<float> values(kMachines);
    std::vector<ObservedRow> rows(kMachines);
    for (int i = 0; i < kMachines; ++i) {
      values[i] = static_cast<float>((machine_level[i] + noise(rng)) * gain);
      rows[i] = {h * kHour, {&values[i], 1}, 0.5, NAN, names[i]};
    }
    m.Observe(rows);
    return m.Latest();
  };
  for (int h = 0; h < 3 * 24; ++h) hour(h, 1.0);
  auto report = m.Latest();
  ASSERT_EQ(report->features.size(), 2u);
  EXPECT_EQ(report->features[1].name, "x.level");
  EXPECT_EQ(report->features[0].status, DriftStatus::kOk);
  EXPECT_EQ(report->features[1].status, DriftStatus::kOk);
  EXPECT_GT(report->features[1].rows, 400);
  int found = -1, h = 0;
  for (; h < 12 && found < 0; ++h) {
    report = hour(3 * 24 + h, 1.05);
    if (report->features[1].status == DriftStatus::kDrift) found = h;
  }
  ASSERT_GE(found, 0) << "the level column never entered drift";
  EXPECT_LE(found, 5);
  EXPECT_EQ(report->features[0].status, DriftStatus::kOk) << "the pooled feature hides the step";
  // Rows without a machine count in no level column.
  const float v = 10;
  const int64_t before = m.EvaluateNow()->features[1].rows;
  const ObservedRow anonymous{(3 * 24 + h - 1) * kHour, {&v, 1}, 0.5};
  m.Observe({&anonymous, 1});
  EXPECT_EQ(m.EvaluateNow()->features[1].rows, before);
}

TEST(LevelTrackerTest, LevelColumnsRoundTripThroughTheProfileAndBadOnesAreRefusedByName) {
  ReferenceProfile p;
  p.features = {BuildColumnProfile("a", {1, 2, 3}), BuildColumnProfile("vibration", {4, 5, 6})};
  p.levels = {BuildColumnProfile(LevelColumnName("vibration"), {-0.1, 0, 0.1})};
  p.levels[0].kind = "level";
  p.level_features = {1};
  p.score = BuildColumnProfile("score", {0.1, 0.2});
  nlohmann::json j = ProfileToJson(p);
  auto back = ProfileFromJson(j, "reference.json");
  ASSERT_TRUE(back.ok()) << back.status();
  ASSERT_EQ(back->levels.size(), 1u);
  EXPECT_EQ(back->levels[0].name, "vibration.level");
  EXPECT_EQ(back->levels[0].kind, "level");
  EXPECT_EQ(back->level_features, std::vector<size_t>{1});
  EXPECT_EQ(back->columns(), 3u);
  EXPECT_EQ(&back->column(2), &back->levels[0]);
  // A level column of a feature the profile does not have.
  nlohmann::json bad = j;
  bad["levels"]["columns"][0]["feature"] = "pressure";
  auto refused = ProfileFromJson(bad, "reference.json");
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("reference.json: levels.columns[0].feature"),
            std::string::npos)
      << refused.status();
  // Another time constant: values computed another way than this pdm computes them.
  bad = j;
  bad["levels"]["time_constant"] = "1d";
  refused = ProfileFromJson(bad, "reference.json");
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("levels: expected {time_constant: '3d'"),
            std::string::npos)
      << refused.status();
  // Profiles written before level columns have none.
  j.erase("levels");
  back = ProfileFromJson(j, "reference.json");
  ASSERT_TRUE(back.ok());
  EXPECT_TRUE(back->levels.empty());
}

}  // namespace
}  // namespace pdm::monitor
