#include "monitor/calibration.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>

#include "monitor/drift_monitor.h"

namespace pdm::monitor {
namespace {

constexpr double kHour = 3600;
constexpr int kMachines = 20;

// Hourly training rows of kMachines machines over `days`: feature 0 is independent noise,
// feature 1 a slow one (each machine's level wanders as a random walk with a week-long memory,
// as a 7-day rolling mean does), the score is noise. Rows are machine-major, as a feature table.
struct Training {
  std::vector<float> x;  // rows x 2
  std::vector<double> time, score;
  std::vector<uint32_t> order;  // by time
  size_t rows = 0;
};

Training MakeTraining(int days, uint64_t seed) {
  Training t;
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(0, 1);
  for (int m = 0; m < kMachines; ++m) {
    double level = normal(rng);
    for (int h = 0; h < days * 24; ++h) {
      level = level * (1 - 1.0 / 168) + normal(rng) * std::sqrt(2.0 / 168);
      t.x.push_back(static_cast<float>(normal(rng)));
      t.x.push_back(static_cast<float>(level));
      t.time.push_back(1.7e9 + h * kHour);
      t.score.push_back(0.1 * std::fabs(normal(rng)));
    }
  }
  t.rows = t.time.size();
  for (size_t r = 0; r < t.rows; ++r) t.order.push_back(static_cast<uint32_t>(r));
  std::stable_sort(t.order.begin(), t.order.end(),
                   [&](uint32_t a, uint32_t b) { return t.time[a] < t.time[b]; });
  return t;
}

ReferenceProfile ProfileOf(const Training& t) {
  ReferenceProfile p;
  for (size_t j = 0; j < 2; ++j) {
    std::vector<double> values;
    for (size_t r = 0; r < t.rows; ++r) values.push_back(t.x[r * 2 + j]);
    p.features.push_back(BuildColumnProfile(j == 0 ? "noise" : "slow", values));
  }
  p.score = BuildColumnProfile("probability", t.score);
  p.rows = static_cast<int64_t>(t.rows);
  CalibrationRows rows;
  rows.cols = 2;
  rows.x = t.x.data();
  rows.score = t.score;
  rows.time = t.time;
  rows.order = t.order;
  CalibrateNullPsi(rows, DefaultDriftWindow(true), &p);
  return p;
}

TEST(CalibrationTest, NullPsiIsSmallForNoiseAndLargeForASlowFeature) {
  const Training t = MakeTraining(60, 1);
  const ReferenceProfile p = ProfileOf(t);
  ASSERT_TRUE(p.calibration_window);
  EXPECT_EQ(*p.calibration_window, DefaultDriftWindow(true));
  const NullPsi& noise = p.features[0].null_psi.full;
  const NullPsi& slow = p.features[1].null_psi.full;
  // Hourly windows ending at each hour from the first full day on.
  EXPECT_EQ(noise.windows, 60 * 24 - 23);
  EXPECT_EQ(p.score.null_psi.full.windows, noise.windows);
  // The fast window (6 of the 24 hourly buckets): more windows, noisier (120 rows, not 480).
  const NullPsi& noise_fast = p.features[0].null_psi.fast;
  EXPECT_EQ(noise_fast.windows, 60 * 24 - 5);
  EXPECT_GT(noise_fast.median, 2 * noise.median);
  // 480 independent rows in 20 bins: PSI about 19 / 480 = 0.04.
  EXPECT_GT(noise.median, 0.02);
  EXPECT_LT(noise.median, 0.07);
  EXPECT_LT(noise.max, 0.2);
  // 20 machines' wandering levels: far beyond the fixed thresholds, with no change at all.
  EXPECT_GT(slow.median, 0.25);
  EXPECT_GT(slow.max, 2 * slow.median);
  EXPECT_LE(slow.median, slow.q95);
  EXPECT_LE(slow.q95, slow.max);

  const ColumnThresholds a = ThresholdsFor(noise, 0.1, 0.25, 1.5);
  EXPECT_TRUE(a.calibrated);
  EXPECT_DOUBLE_EQ(a.warning, std::max(0.1, 1.5 * noise.q95));
  EXPECT_DOUBLE_EQ(a.drift, 0.25) << "the fixed threshold is a floor";
  const ColumnThresholds b = ThresholdsFor(slow, 0.1, 0.25, 1.5);
  EXPECT_DOUBLE_EQ(b.drift, 1.5 * slow.max);
  EXPECT_DOUBLE_EQ(b.warning, 1.5 * slow.q95);
  // Too few windows: the fixed thresholds.
  NullPsi thin = slow;
  thin.windows = kMinCalibrationWindows - 1;
  const ColumnThresholds c = ThresholdsFor(thin, 0.1, 0.25, 1.5);
  EXPECT_FALSE(c.calibrated);
  EXPECT_DOUBLE_EQ(c.drift, 0.25);
  EXPECT_DOUBLE_EQ(c.warning, 0.1);
}

TEST(CalibrationTest, RowWindowsAndShortDataCalibrateWhatTheyCan) {
  const Training t = MakeTraining(3, 2);  // 1,440 rows: a 10,000-row window never fills
  ReferenceProfile p = ProfileOf(t);
  CalibrationRows rows;
  rows.cols = 2;
  rows.x = t.x.data();
  rows.score = t.score;
  rows.order = t.order;
  CalibrateNullPsi(rows, DefaultDriftWindow(false), &p);
  EXPECT_EQ(p.features[0].null_psi.full.windows, 0);
  CalibrateNullPsi(rows, {core::Span::Kind::kRecords, 2400}, &p);  // 100-row buckets
  EXPECT_EQ(p.features[0].null_psi.full.windows, 0);               // 15 buckets: never 24
  EXPECT_EQ(p.features[0].null_psi.fast.windows, 15 - 5);
  CalibrateNullPsi(rows, {core::Span::Kind::kRecords, 480}, &p);  // 20-row buckets
  EXPECT_EQ(p.features[0].null_psi.full.windows, 1440 / 20 - 23);
  EXPECT_EQ(p.features[0].null_psi.fast.windows, 1440 / 20 - 5);
  EXPECT_EQ(*p.calibration_window, (core::Span{core::Span::Kind::kRecords, 480}));
}

TEST(CalibrationTest, NullPsiSurvivesTheProfileFileAndBadOnesAreRefused) {
  const ReferenceProfile p = ProfileOf(MakeTraining(10, 3));
  auto j = ProfileToJson(p);
  auto back = ProfileFromJson(j, "reference.json");
  ASSERT_TRUE(back.ok()) << back.status();
  ASSERT_TRUE(back->calibration_window);
  EXPECT_EQ(*back->calibration_window, *p.calibration_window);
  EXPECT_EQ(back->features[1].null_psi.full.windows, p.features[1].null_psi.full.windows);
  EXPECT_DOUBLE_EQ(back->features[1].null_psi.full.max, p.features[1].null_psi.full.max);
  EXPECT_DOUBLE_EQ(back->features[1].null_psi.fast.median, p.features[1].null_psi.fast.median);
  EXPECT_DOUBLE_EQ(back->score.null_psi.full.q95, p.score.null_psi.full.q95);
  // A profile of an older pdm has neither: it loads, uncalibrated.
  j.erase("calibration");
  for (auto& f : j["features"]) f.erase("null_psi");
  auto old = ProfileFromJson(j, "reference.json");
  ASSERT_TRUE(old.ok());
  EXPECT_FALSE(old->calibration_window);
  EXPECT_EQ(old->features[0].null_psi.full.windows, 0);
  auto bad = ProfileToJson(p);
  bad["features"][1]["null_psi"]["window"]["q95"] = 1e9;  // above its max
  auto refused = ProfileFromJson(bad, "reference.json");
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("features[1] (slow)"), std::string::npos)
      << refused.status();
  bad = ProfileToJson(p);
  bad["calibration"]["window"] = "soon";
  EXPECT_FALSE(ProfileFromJson(bad, "reference.json").ok());
}

// Served data from the same process as the training data: with fixed thresholds the slow
// feature "drifts" on most days; with calibrated ones nothing does. A real 1-std shift of the
// noisy feature is caught either way.
TEST(CalibrationTest, CalibratedThresholdsSilenceTheSlowFeatureAndKeepRealShifts) {
  const ReferenceProfile p = ProfileOf(MakeTraining(60, 4));
  const Training served = MakeTraining(30, 5);  // another stretch of the same process
  auto replay = [&](bool calibrated, double shift_from_day, int* drift_evaluations_slow,
                    double* first_noise_drift, float shift = 1.0f, std::string* trigger = nullptr) {
    DriftOptions o;
    o.every = {core::Span::Kind::kTime, 3600};
    o.min_rows = 200;
    o.calibrated_thresholds = calibrated;
    DriftMonitor m(p, o);
    *drift_evaluations_slow = 0;
    *first_noise_drift = NAN;
    std::vector<float> row(2);
    for (uint32_t r : served.order) {
      row[0] = served.x[r * 2];
      row[1] = served.x[r * 2 + 1];
      const double day = (served.time[r] - 1.7e9) / 86400;
      if (day >= shift_from_day) row[0] += shift;
      const ObservedRow observed{served.time[r], row, served.score[r]};
      const int64_t before = m.Latest()->evaluations;
      m.Observe({&observed, 1});
      const auto report = m.Latest();
      if (report->evaluations == before) continue;
      if (report->features[1].status == DriftStatus::kDrift) ++*drift_evaluations_slow;
      if (std::isnan(*first_noise_drift) && report->features[0].status == DriftStatus::kDrift) {
        *first_noise_drift = day;
        if (trigger != nullptr) *trigger = report->features[0].trigger;
      }
    }
  };
  int fixed_slow = 0, calibrated_slow = 0;
  double fixed_noise = 0, calibrated_noise = 0;
  replay(false, 1e9, &fixed_slow, &fixed_noise);
  replay(true, 1e9, &calibrated_slow, &calibrated_noise);
  EXPECT_GT(fixed_slow, 24 * 5) << "fixed thresholds: the slow feature in drift for days";
  EXPECT_EQ(calibrated_slow, 0);
  EXPECT_TRUE(std::isnan(fixed_noise));
  EXPECT_TRUE(std::isnan(calibrated_noise));
  replay(true, 20, &calibrated_slow, &calibrated_noise);
  EXPECT_GE(calibrated_noise, 20);
  EXPECT_LT(calibrated_noise, 20.5) << "a 1-std shift is caught within 12 hours";
  // The drift report names the statistic that found it: one of the fast window's, which a
  // change fills first.
  std::string trigger;
  replay(true, 20, &calibrated_slow, &calibrated_noise, 1.0f, &trigger);
  EXPECT_EQ(trigger.rfind("fast_window.", 0), 0u) << trigger;
}

TEST(CalibrationTest, NullMedianShiftIsCalibratedAndRoundTrips) {
  const ReferenceProfile p = ProfileOf(MakeTraining(60, 4));
  for (const ColumnProfile& c : p.features) {
    EXPECT_GE(c.null_shift.full.windows, kMinCalibrationWindows) << c.name;
    EXPECT_GE(c.null_shift.fast.windows, c.null_shift.full.windows) << c.name;
    // The fast window (6 hours) is noisier than the whole one; both far below 1 std for noise.
    EXPECT_GT(c.null_shift.fast.q95, c.null_shift.full.q95 * 0.99) << c.name;
  }
  EXPECT_LT(p.features[0].null_shift.full.max, 0.15) << "480 draws of noise: a median near 0.5";
  EXPECT_GT(p.features[1].null_shift.full.max, 0.2) << "the slow feature's level wanders";
  auto back = ProfileFromJson(ProfileToJson(p), "reference.json");
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->features[1].null_shift.fast.q95, p.features[1].null_shift.fast.q95);
  nlohmann::json broken = ProfileToJson(p);
  broken["features"][0]["null_median_shift"]["window"]["max"] = -1;
  EXPECT_FALSE(ProfileFromJson(broken, "reference.json").ok());
}

}  // namespace
}  // namespace pdm::monitor
