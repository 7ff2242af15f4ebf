#include "monitor/drift_monitor.h"

#include <gtest/gtest.h>

#include <random>

namespace pdm::monitor {
namespace {

// A profile of two features (x ~ N(0, 1), a 0/1 flag at 10%) and a score ~ U(0, 0.2).
ReferenceProfile TwoFeatureProfile() {
  std::mt19937_64 rng(1);
  std::normal_distribution<double> normal(0, 1);
  std::uniform_real_distribution<double> uniform(0, 1);
  std::vector<double> x, flag, score;
  for (int i = 0; i < 20000; ++i) {
    x.push_back(normal(rng));
    flag.push_back(uniform(rng) < 0.1 ? 1 : 0);
    score.push_back(0.2 * uniform(rng));
  }
  ReferenceProfile p;
  p.features = {BuildColumnProfile("x", x), BuildColumnProfile("flag", flag)};
  p.score = BuildColumnProfile("score", score);
  p.rows = 20000;
  return p;
}

// Feeds `rows` rows one hour-of-data-time apart / `per_hour` to the monitor, x shifted by
// `shift` stds; returns the time after the last.
double Feed(DriftMonitor* m, std::mt19937_64* rng, double start, int rows, int per_hour,
            double shift, double missing = 0) {
  std::normal_distribution<double> normal(0, 1);
  std::uniform_real_distribution<double> uniform(0, 1);
  std::vector<float> values(2);
  double t = start;
  for (int i = 0; i < rows; ++i) {
    values[0] = uniform(*rng) < missing ? NAN : static_cast<float>(shift + normal(*rng));
    values[1] = uniform(*rng) < 0.1 ? 1.0f : 0.0f;
    const ObservedRow row{t, values, 0.2 * uniform(*rng)};
    m->Observe({&row, 1});
    t += 3600.0 / per_hour;
  }
  return t;
}

TEST(DriftMonitorTest, StationaryDataStaysOkAndAShiftEntersDriftAfterKEvaluations) {
  DriftOptions options;  // 24h window, evaluated every minute of data time
  options.every = {core::Span::Kind::kTime, 3600};
  options.probability_threshold = 0.15;
  DriftMonitor m(TwoFeatureProfile(), options);
  std::mt19937_64 rng(2);
  double t = Feed(&m, &rng, 1.7e9, 24 * 200, 200, 0);  // a day of stationary data
  auto report = m.Latest();
  ASSERT_GE(report->evaluations, 20);
  EXPECT_FALSE(report->warming_up);
  EXPECT_EQ(report->features[0].status, DriftStatus::kOk);
  EXPECT_EQ(report->features[1].status, DriftStatus::kOk);
  EXPECT_LT(report->features[0].psi, 0.05);
  EXPECT_LT(report->features[0].ks, 0.05);
  EXPECT_FALSE(report->dataset_drift);
  EXPECT_NEAR(report->window_rows, 24 * 200, 200);

  // A one-std shift of x: its PSI passes 0.25 within hours; the status follows after three
  // evaluations above it, the flag stays ok.
  int evaluations_before = static_cast<int>(report->evaluations);
  int drift_seen_at = -1;
  for (int hour = 0; hour < 24 && drift_seen_at < 0; ++hour) {
    t = Feed(&m, &rng, t, 200, 200, 1.0);
    if (m.Latest()->features[0].status == DriftStatus::kDrift) drift_seen_at = hour;
  }
  ASSERT_GE(drift_seen_at, 0);
  report = m.Latest();
  EXPECT_GE(report->evaluations - evaluations_before, options.consecutive);
  EXPECT_EQ(report->features[1].status, DriftStatus::kOk);
  EXPECT_GT(report->features[0].wasserstein, 0.1);
  EXPECT_EQ(report->features_in_drift, 1);
  EXPECT_DOUBLE_EQ(report->drifted_share, 0.5);
  EXPECT_TRUE(report->dataset_drift);  // half the features drifted: the default share

  // Back to the reference: the shifted hours leave the 24h window and the status returns.
  for (int hour = 0; hour < 30; ++hour) t = Feed(&m, &rng, t, 200, 200, 0);
  EXPECT_EQ(m.Latest()->features[0].status, DriftStatus::kOk);
}

TEST(DriftMonitorTest, HysteresisNeedsConsecutiveEvaluations) {
  DriftOptions options;
  options.window = {core::Span::Kind::kRecords, 2000};
  options.every = {core::Span::Kind::kRecords, 2000};
  options.min_rows = 1000;
  DriftMonitor m(TwoFeatureProfile(), options);
  std::mt19937_64 rng(3);
  Feed(&m, &rng, NAN, 2000, 1, 1.5);  // one window of shifted data: one evaluation above
  EXPECT_GT(m.Latest()->features[0].psi, 0.25);
  EXPECT_EQ(m.Latest()->features[0].status, DriftStatus::kOk);
  Feed(&m, &rng, NAN, 2000, 1, 0);  // back below: the run is broken
  Feed(&m, &rng, NAN, 4000, 1, 1.5);
  EXPECT_EQ(m.Latest()->features[0].status, DriftStatus::kOk);
  Feed(&m, &rng, NAN, 2000, 1, 1.5);  // the third in a row
  EXPECT_EQ(m.Latest()->features[0].status, DriftStatus::kDrift);
  EXPECT_EQ(m.Latest()->evaluations, 5);
}

TEST(DriftMonitorTest, WarmingUpHoldsStatusesAndMissingSharesAreReported) {
  DriftOptions options;
  options.window = {core::Span::Kind::kRecords, 10000};
  options.every = {core::Span::Kind::kRecords, 100};
  options.min_rows = 1000;
  options.consecutive = 1;
  DriftMonitor m(TwoFeatureProfile(), options);
  std::mt19937_64 rng(4);
  Feed(&m, &rng, NAN, 900, 1, 3.0, /*missing=*/0.25);
  auto report = m.Latest();
  EXPECT_TRUE(report->warming_up);
  EXPECT_EQ(report->features[0].status, DriftStatus::kOk);  // held while warming up
  EXPECT_GT(report->features[0].psi, 1.0);
  EXPECT_NEAR(report->features[0].missing_share, 0.25, 0.05);
  EXPECT_DOUBLE_EQ(report->features[0].reference_missing_share, 0);
  Feed(&m, &rng, NAN, 200, 1, 3.0);
  EXPECT_FALSE(m.Latest()->warming_up);
  // 1,100 rows but only about 875 values of x: its own status is still held.
  EXPECT_LT(m.Latest()->features[0].rows, 1000);
  EXPECT_EQ(m.Latest()->features[0].status, DriftStatus::kOk);
  Feed(&m, &rng, NAN, 200, 1, 3.0);
  EXPECT_GE(m.Latest()->features[0].rows, 1000);
  EXPECT_EQ(m.Latest()->features[0].status, DriftStatus::kDrift);
}

// A column with a warm-up leaves out the rows of machines still within it; one without takes
// every row.
TEST(DriftMonitorTest, RowsWithinAColumnsWarmUpAreLeftOut) {
  ReferenceProfile profile = TwoFeatureProfile();
  profile.features[0].warmup = core::Span{core::Span::Kind::kTime, 7 * 86400};
  DriftOptions options;
  options.every = {core::Span::Kind::kTime, 3600};
  options.min_rows = 10;
  DriftMonitor m(profile, options);
  std::vector<float> values = {5.0f, 1.0f};
  for (int i = 0; i < 100; ++i) {
    // Half the rows from machines 2 days into their history, half 10 days.
    const ObservedRow row{1.7e9 + i * 60.0, values, 0.1, i % 2 == 0 ? 2 * 86400.0 : 10 * 86400.0};
    m.Observe({&row, 1});
  }
  const auto report = m.EvaluateNow();
  EXPECT_EQ(report->window_rows, 100);
  EXPECT_EQ(report->features[0].rows, 50);
  EXPECT_EQ(report->features[1].rows, 100);
  EXPECT_EQ(report->score.rows, 100);  // the score's profile has no warm-up here
}

TEST(DriftMonitorTest, TimeWindowDropsOldBucketsAndCountsLateRows) {
  DriftOptions options;
  options.window = {core::Span::Kind::kTime, 24 * 3600};
  options.every = {core::Span::Kind::kTime, 3600};
  DriftMonitor m(TwoFeatureProfile(), options);
  std::mt19937_64 rng(5);
  double t = Feed(&m, &rng, 0, 48 * 10, 10, 0);  // two days, 10 rows an hour
  auto report = m.EvaluateNow();
  EXPECT_LE(report->window_rows, 24 * 10);
  EXPECT_GE(report->window_rows, 23 * 10);
  Feed(&m, &rng, t - 30 * 3600, 5, 10, 0);  // 30 hours late: outside the window
  report = m.EvaluateNow();
  EXPECT_EQ(report->late_rows, 5);
  EXPECT_EQ(report->rows_seen, 48 * 10 + 5);
  Feed(&m, &rng, t - 2 * 3600, 5, 10, 0);  // 2 hours late: within it
  EXPECT_EQ(m.EvaluateNow()->window_rows, report->window_rows + 5);
}

// The window's running sums (buckets added when they close, subtracted when they leave) give
// what a monitor that saw only the window's rows computes.
TEST(DriftMonitorTest, BucketsAboveTheirSampleCapEstimateTheWindowFromASample) {
  DriftOptions exact_options;
  exact_options.every = {core::Span::Kind::kTime, 86400 * 10};  // evaluations by hand only
  exact_options.sample_above = 0;
  DriftOptions sampled_options = exact_options;
  sampled_options.sample_above = 500;
  DriftMonitor exact(TwoFeatureProfile(), exact_options);
  DriftMonitor sampled(TwoFeatureProfile(), sampled_options);
  DriftMonitor again(TwoFeatureProfile(), sampled_options);
  // Three hours of 10,000 rows each, x shifted by a std from the second hour on.
  std::mt19937_64 rng(21);
  std::normal_distribution<double> normal(0, 1);
  std::uniform_real_distribution<double> uniform(0, 1);
  std::vector<std::vector<float>> values;
  std::vector<ObservedRow> rows;
  for (int i = 0; i < 30'000; ++i) {
    const double shift = i >= 10'000 ? 1.0 : 0;
    values.push_back({uniform(rng) < 0.02 ? NAN : static_cast<float>(normal(rng) + shift),
                      uniform(rng) < 0.1 ? 1.0f : 0.0f});
  }
  for (int i = 0; i < 30'000; ++i) rows.push_back({1.7e9 + i * 0.36, values[i], 0.1});
  for (size_t at = 0; at < rows.size(); at += 200) {  // requests of 200 rows
    const auto batch = std::span<const ObservedRow>(rows).subspan(at, 200);
    exact.Observe(batch);
    sampled.Observe(batch);
    again.Observe(batch);
  }
  const auto e = exact.EvaluateNow();
  const auto s = sampled.EvaluateNow();
  EXPECT_EQ(e->window_rows, 30'000);
  EXPECT_EQ(s->window_rows, 30'000) << "every row is counted as a row";
  EXPECT_EQ(e->sampled_rows, 30'000);
  // Each hour: 500 in full, then 250 at each stride 2, 4, 8, 16 (10,000 rows): about 1,500.
  EXPECT_GT(s->sampled_rows, 3 * 1'200);
  EXPECT_LT(s->sampled_rows, 3 * 1'900);
  for (size_t j = 0; j < 2; ++j) {
    const ColumnDrift& a = e->features[j];
    const ColumnDrift& b = s->features[j];
    EXPECT_NEAR(static_cast<double>(b.rows), static_cast<double>(a.rows), 0.05 * a.rows) << j;
    EXPECT_NEAR(b.psi, a.psi, 0.03) << j;
    EXPECT_NEAR(b.ks, a.ks, 0.03) << j;
    EXPECT_NEAR(b.median_shift, a.median_shift, 0.03) << j;
    EXPECT_NEAR(b.missing_share, a.missing_share, 0.01) << j;
  }
  EXPECT_GT(s->features[0].psi, 0.2) << "the shift shows through the sample";
  // Deterministic: the same rows give the same sample.
  const auto t = again.EvaluateNow();
  EXPECT_EQ(t->sampled_rows, s->sampled_rows);
  EXPECT_EQ(t->features[0].psi, s->features[0].psi);
}

TEST(DriftMonitorTest, RefusedReadingsAreSharesOfTheWindowPerField) {
  DriftOptions options;
  options.every = {core::Span::Kind::kTime, 86400 * 10};  // evaluations by hand only
  DriftMonitor m(TwoFeatureProfile(), options);
  m.ObserveRefused(std::vector<std::vector<std::string>>{{"time"}});  // before any row: no window
  std::mt19937_64 rng(3);
  // Hour 0: 100 rows, 4 refusals for values.x (one also for time); hour 30: 100 rows, 1 refusal.
  Feed(&m, &rng, 1.7e9, 100, 100, 0);
  m.ObserveRefused(std::vector<std::vector<std::string>>{
      {"values.x"}, {"values.x", "time"}, {"values.x"}, {"values.x"}});
  auto r = m.EvaluateNow();
  EXPECT_EQ(r->refused_readings, 4);
  ASSERT_EQ(r->refusals.size(), 2u);
  EXPECT_EQ(r->refusals[0].field, "values.x");
  EXPECT_EQ(r->refusals[0].refused, 4);
  EXPECT_NEAR(r->refusals[0].share, 4.0 / 104, 1e-12);
  EXPECT_EQ(r->refusals[0].status, DriftStatus::kWarning);
  EXPECT_EQ(r->refusals[1].field, "time");
  EXPECT_EQ(r->refusals[1].status, DriftStatus::kOk);
  m.ObserveRefused(std::vector<std::vector<std::string>>(4, {"values.x"}));
  EXPECT_EQ(m.EvaluateNow()->refusals[0].status, DriftStatus::kDrift) << "8 of 108";
  // A day later the hour has left the window, and its refusals with it.
  Feed(&m, &rng, 1.7e9 + 30 * 3600, 100, 100, 0);
  m.ObserveRefused(std::vector<std::vector<std::string>>{{"machine"}});
  r = m.EvaluateNow();
  EXPECT_EQ(r->refused_readings, 1);
  ASSERT_EQ(r->refusals.size(), 1u);
  EXPECT_EQ(r->refusals[0].field, "machine");
  const nlohmann::json j = DriftReportJson(*r, m.profile(), m.options(), false);
  EXPECT_EQ(j["data_quality"]["refused"], 1);
  EXPECT_EQ(j["data_quality"]["readings"], 101);
  EXPECT_EQ(j["data_quality"]["fields"][0]["field"], "machine");
  EXPECT_EQ(j["data_quality"]["fields"][0]["status"], "ok");
}

TEST(DriftMonitorTest, RunningSumsEqualARecountOfTheWindow) {
  DriftOptions options;
  options.window = {core::Span::Kind::kRecords, 2400};
  options.every = {core::Span::Kind::kRecords, 1'000'000};
  DriftMonitor rolling(TwoFeatureProfile(), options);
  std::mt19937_64 rng(9);
  std::normal_distribution<double> normal(0, 1);
  std::vector<std::vector<float>> values;
  std::vector<ObservedRow> rows;
  for (int i = 0; i < 10'050; ++i) {
    values.push_back({static_cast<float>(normal(rng) + i / 5000.0), i % 7 == 0 ? 1.0f : 0.0f});
  }
  for (int i = 0; i < 10'050; ++i) rows.push_back({NAN, values[i], 0.01 * (i % 20)});
  rolling.Observe(rows);
  const auto a = rolling.EvaluateNow();
  ASSERT_GT(a->window_rows, 2000);
  DriftOptions fresh_options = options;
  fresh_options.buckets = 1;
  fresh_options.sample_above = 0;  // one bucket of the whole window, counted in full
  fresh_options.window = {core::Span::Kind::kRecords, a->window_rows};
  DriftMonitor fresh(TwoFeatureProfile(), fresh_options);
  fresh.Observe(std::span<const ObservedRow>(rows).last(static_cast<size_t>(a->window_rows)));
  const auto b = fresh.EvaluateNow();
  ASSERT_EQ(b->window_rows, a->window_rows);
  for (size_t j = 0; j < 2; ++j) {
    EXPECT_NEAR(a->features[j].psi, b->features[j].psi, 1e-12) << j;
    EXPECT_NEAR(a->features[j].ks, b->features[j].ks, 1e-12) << j;
    EXPECT_NEAR(a->features[j].wasserstein, b->features[j].wasserstein, 1e-9) << j;
  }
  EXPECT_NEAR(a->score.psi, b->score.psi, 1e-12);
}

TEST(DriftMonitorTest, PerformanceEstimateFollowsCalibratedProbabilities) {
  DriftOptions options;
  options.window = {core::Span::Kind::kRecords, 1000};
  options.every = {core::Span::Kind::kRecords, 1000};
  options.probability_threshold = 0.5;
  DriftMonitor m(TwoFeatureProfile(), options);
  // Scores 0.9 (alarms) and 0.1 (no alarm), 100 and 900 of them: expected TP = 90, FP = 10,
  // FN = 90, so precision 0.9, recall 0.5, F1 = 180 / 280.
  std::vector<float> values = {0, 0};
  std::vector<ObservedRow> rows;
  for (int i = 0; i < 1000; ++i) rows.push_back({NAN, values, i < 100 ? 0.9 : 0.1});
  m.Observe(rows);
  const auto& p = m.Latest()->performance;
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->rows, 1000);
  EXPECT_NEAR(p->alarm_rate, 0.1, 1e-12);
  EXPECT_NEAR(p->precision, 0.9, 1e-12);
  EXPECT_NEAR(p->recall, 0.5, 1e-12);
  EXPECT_NEAR(p->f1, 180.0 / 280.0, 1e-12);
  EXPECT_NEAR(p->expected_positive_rate, 0.18, 1e-12);
  const auto json = DriftReportJson(*m.Latest(), m.profile(), m.options(), true);
  EXPECT_EQ(json["features"][0]["histogram"]["reference"].size(),
            m.profile().features[0].coarse_bins());
  EXPECT_EQ(json["window"]["span"], "1000r");
}

}  // namespace
}  // namespace pdm::monitor
