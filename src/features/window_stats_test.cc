#include "features/window_stats.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>

#include "features/window_kernels.h"

namespace pdm::features {
namespace {

using spec::WindowStat;
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

struct Point {
  double time;
  int64_t record;
  double value;  // NaN = missing
};

// The straightforward definition: every statistic recomputed from scratch over the window.
double Reference(const std::vector<Point>& history, size_t i, const WindowDef& def, WindowStat stat,
                 double time_unit, const WindowDef& baseline) {
  auto in_window = [&](const Point& p, const WindowDef& d) {
    return d.by_time
               ? p.time > history[i].time - d.length
               : static_cast<double>(p.record) > static_cast<double>(history[i].record) - d.length;
  };
  std::vector<Point> w;
  for (size_t j = 0; j <= i; ++j) {
    if (!std::isnan(history[j].value) && in_window(history[j], def)) w.push_back(history[j]);
  }
  const double n = static_cast<double>(w.size());
  if (stat == WindowStat::kCount) return n;
  if (stat == WindowStat::kEwma) {
    double num = 0, den = 0;
    for (size_t j = 0; j <= i; ++j) {
      if (std::isnan(history[j].value)) continue;
      const double weight =
          def.by_time ? std::exp2(-(history[i].time - history[j].time) / def.length)
                      : std::pow(1 - 2 / (def.length + 1),
                                 static_cast<double>(history[i].record - history[j].record));
      num += weight * history[j].value;
      den += weight;
    }
    return den > 0 ? num / den : kNaN;
  }
  if (w.empty()) return kNaN;
  double mean = 0, tmean = 0;
  for (const Point& p : w) {
    mean += p.value / n;
    tmean += p.time / time_unit / n;
  }
  double lo = w[0].value, hi = w[0].value;
  for (const Point& p : w) {
    lo = std::min(lo, p.value);
    hi = std::max(hi, p.value);
  }
  switch (stat) {
    case WindowStat::kMean:
      return mean;
    case WindowStat::kStd: {
      if (w.size() < 2) return kNaN;
      double ss = 0;
      for (const Point& p : w) ss += (p.value - mean) * (p.value - mean);
      return std::sqrt(ss / (n - 1));
    }
    case WindowStat::kMin:
      return lo;
    case WindowStat::kMax:
      return hi;
    case WindowStat::kRange:
      return hi - lo;
    case WindowStat::kLast:
      return w.back().value;
    case WindowStat::kSlope: {
      if (w.size() < 2) return kNaN;
      double stt = 0, stx = 0;
      for (const Point& p : w) {
        stt += (p.time / time_unit - tmean) * (p.time / time_unit - tmean);
        stx += (p.time / time_unit - tmean) * (p.value - mean);
      }
      return stx / stt;
    }
    case WindowStat::kDelta: {
      double bmean = 0, bn = 0;
      for (size_t j = 0; j <= i; ++j) {
        if (!std::isnan(history[j].value) && in_window(history[j], baseline)) {
          bmean += history[j].value;
          ++bn;
        }
      }
      return mean - bmean / bn;
    }
    default:
      return kNaN;
  }
}

void ExpectClose(double expected, double actual, const std::string& what) {
  if (std::isnan(expected)) {
    EXPECT_TRUE(std::isnan(actual)) << what << ": expected NaN, got " << actual;
    return;
  }
  const double tolerance = 1e-9 * std::max(1.0, std::abs(expected));
  EXPECT_NEAR(actual, expected, tolerance) << what;
}

std::vector<Point> RandomHistory(uint64_t seed, size_t n) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> unit(0, 1);
  std::vector<Point> history;
  double t = 1.7e9;  // epoch seconds: large offsets are where naive sums lose precision
  double level = 9000;
  for (size_t i = 0; i < n; ++i) {
    // Irregular sampling: mostly hourly, sometimes bursts, sometimes gaps of up to 3 days.
    const double u = unit(rng);
    t += u < 0.05 ? 60 : (u < 0.95 ? 3600 : 86400 * (1 + 2 * unit(rng)));
    level += (unit(rng) - 0.5) * 2;
    double value = level + (unit(rng) - 0.5) * 10;
    if (unit(rng) < 0.1) value = kNaN;                // missing / refused value
    if (unit(rng) < 0.05) value = std::round(level);  // ties for min/max queues
    history.push_back({t, static_cast<int64_t>(i), value});
  }
  return history;
}

// Drives sensors of one entity the way OnlineFeatureState does: one time ring and one set of
// window bounds shared by the sensors.
struct Entity {
  explicit Entity(std::vector<WindowDef> window_defs)
      : defs(std::move(window_defs)), begins(defs.size(), 0) {}
  // Record `record` at `time`: the shared times and bounds move to it.
  void Next(double time, int64_t record) {
    times.push_back(time);
    AdvanceWindowBegins(defs, times, record, begins);
  }
  std::vector<WindowDef> defs;
  RecordTimes times;
  std::vector<int64_t> begins;
};

// Feeds record `record` (its time already in e) with one sensor's value to `windows`.
void Feed(EntityWindows& windows, const Entity& e, int64_t record, double value) {
  windows.Update(e.times, record, e.begins, std::span<const double>(&value, 1));
}

TEST(EntityWindowsTest, MatchesStraightforwardComputationOnIrregularHistory) {
  const std::vector<WindowDef> defs = {
      {true, 3 * 3600.0}, {true, 24 * 3600.0}, {false, 5}, {false, 20}, {true, 7 * 86400.0}};
  const int baseline = 4;
  const std::vector<Point> history = RandomHistory(7, 1500);
  EntityWindows windows(defs, 1, 3600);
  Entity e(defs);
  for (size_t i = 0; i < history.size(); ++i) {
    const Point& p = history[i];
    e.Next(p.time, p.record);
    windows.Update(e.times, p.record, e.begins, std::span<const double>(&p.value, 1));
    if (i % 7 != 0 && i + 1 != history.size()) continue;  // check a sample of records
    for (size_t w = 0; w < defs.size(); ++w) {
      for (int s = 0; s < spec::kWindowStatCount; ++s) {
        const auto stat = static_cast<WindowStat>(s);
        const double expected = Reference(history, i, defs[w], stat, 3600, defs[baseline]);
        ExpectClose(expected, windows.Stat(0, static_cast<int>(w), stat, baseline),
                    std::string("record ") + std::to_string(i) + " window " + std::to_string(w) +
                        " " + spec::WindowStatName(stat));
      }
    }
  }
}

TEST(EntityWindowsTest, SensorsOfOneEntityStayIndependent) {
  // Three sensors (an odd count: one vector lane is padding) with their own missing values, and
  // a maintenance reset of sensor 1 alone: each must match its own straightforward computation.
  const std::vector<WindowDef> defs = {{true, 6 * 3600.0}, {false, 12}, {true, 3 * 86400.0}};
  const int baseline = 2;
  const size_t sensors = 3, reset_at = 700;
  std::vector<std::vector<Point>> history;
  for (size_t s = 0; s < sensors; ++s) history.push_back(RandomHistory(20 + s, 1200));
  for (size_t s = 1; s < sensors; ++s) {
    for (size_t i = 0; i < history[s].size(); ++i) {
      history[s][i].time = history[0][i].time;  // one entity: the records are shared
    }
  }
  EntityWindows windows(defs, sensors, 3600);
  Entity e(defs);
  std::vector<double> row(sensors);
  for (size_t i = 0; i < history[0].size(); ++i) {
    if (i == reset_at) windows.Reset(1);
    e.Next(history[0][i].time, static_cast<int64_t>(i));
    for (size_t s = 0; s < sensors; ++s) row[s] = history[s][i].value;
    windows.Update(e.times, static_cast<int64_t>(i), e.begins, row);
    if (i % 11 != 0) continue;
    for (size_t s = 0; s < sensors; ++s) {
      // The reset sensor's reference knows nothing from before the reset.
      std::vector<Point> seen = history[s];
      if (s == 1 && i >= reset_at) {
        for (size_t j = 0; j < reset_at; ++j) seen[j].value = kNaN;
      }
      for (size_t w = 0; w < defs.size(); ++w) {
        for (int k = 0; k < spec::kWindowStatCount; ++k) {
          const auto stat = static_cast<WindowStat>(k);
          ExpectClose(Reference(seen, i, defs[w], stat, 3600, defs[baseline]),
                      windows.Stat(s, static_cast<int>(w), stat, baseline),
                      "record " + std::to_string(i) + " sensor " + std::to_string(s) + " window " +
                          std::to_string(w) + " " + spec::WindowStatName(stat));
        }
      }
    }
  }
}

TEST(EntityWindowsTest, EmptyWindowGivesNaNAndZeroCount) {
  Entity e({{true, 3600.0}});
  EntityWindows windows(e.defs, 1, 3600);
  e.Next(0, 0);
  Feed(windows, e, 0, 5);
  e.Next(7200, 1);
  Feed(windows, e, 1, kNaN);  // the only sample left the window; nothing new
  EXPECT_EQ(windows.Stat(0, 0, WindowStat::kCount, -1), 0);
  EXPECT_TRUE(std::isnan(windows.Stat(0, 0, WindowStat::kMean, -1)));
  EXPECT_TRUE(std::isnan(windows.Stat(0, 0, WindowStat::kMin, -1)));
  EXPECT_TRUE(std::isnan(windows.Stat(0, 0, WindowStat::kLast, -1)));
  // The EWMA is not windowed: it keeps the decayed past.
  EXPECT_EQ(windows.Stat(0, 0, WindowStat::kEwma, -1), 5);
}

TEST(EntityWindowsTest, WindowIsHalfOpenLikePandas) {
  // pandas rolling('1h') at t covers (t - 1h, t]: a sample exactly 1h old is out.
  Entity e({{true, 3600.0}});
  EntityWindows windows(e.defs, 1, 3600);
  e.Next(0, 0);
  Feed(windows, e, 0, 1);
  e.Next(3600, 1);
  Feed(windows, e, 1, 3);
  EXPECT_EQ(windows.Stat(0, 0, WindowStat::kCount, -1), 1);
  EXPECT_EQ(windows.Stat(0, 0, WindowStat::kMean, -1), 3);
  e.Next(3601, 2);
  Feed(windows, e, 2, 5);
  EXPECT_EQ(windows.Stat(0, 0, WindowStat::kCount, -1), 2);
  EXPECT_EQ(windows.Stat(0, 0, WindowStat::kMean, -1), 4);
  EXPECT_DOUBLE_EQ(windows.Stat(0, 0, WindowStat::kStd, -1), std::sqrt(2.0));  // ddof = 1
}

TEST(EntityWindowsTest, ResetForgetsEverything) {
  Entity e({{false, 10}});
  EntityWindows windows(e.defs, 1, 1);
  for (int i = 0; i < 5; ++i) {
    e.Next(i, i);
    Feed(windows, e, i, 100 + i);
  }
  windows.Reset(0);
  e.Next(5, 5);
  Feed(windows, e, 5, 1);
  EXPECT_EQ(windows.Stat(0, 0, WindowStat::kCount, -1), 1);
  EXPECT_EQ(windows.Stat(0, 0, WindowStat::kMax, -1), 1);
  EXPECT_EQ(windows.Stat(0, 0, WindowStat::kEwma, -1), 1);
}

TEST(EntityWindowsTest, SnapshotRestoresExactState) {
  const std::vector<WindowDef> defs = {{true, 6 * 3600.0}, {false, 12}};
  const std::vector<Point> history = RandomHistory(11, 400);
  EntityWindows a(defs, 1, 3600);
  EntityWindows b(defs, 1, 3600);
  Entity e(defs);  // one entity's records, shared by both
  for (size_t i = 0; i < history.size(); ++i) {
    const Point& p = history[i];
    if (i == 200) {
      ByteWriter out;
      a.Write(out);
      const std::string bytes = out.Take();
      ByteReader in(bytes);
      ASSERT_TRUE(b.Read(in));
      EXPECT_TRUE(in.at_end());
      // A truncated snapshot is refused.
      EntityWindows c(defs, 1, 3600);
      ByteReader cut(std::string_view(bytes).substr(0, bytes.size() / 2));
      EXPECT_FALSE(c.Read(cut));
    }
    e.Next(p.time, p.record);
    for (EntityWindows* w : {&a, &b}) {
      w->Update(e.times, p.record, e.begins, std::span<const double>(&p.value, 1));
    }
    if (i < 200) continue;
    for (int w = 0; w < 2; ++w) {
      for (int s = 0; s < spec::kWindowStatCount; ++s) {
        const double x = a.Stat(0, w, static_cast<WindowStat>(s), -1);
        const double y = b.Stat(0, w, static_cast<WindowStat>(s), -1);
        if (std::isnan(x)) {
          EXPECT_TRUE(std::isnan(y));
        } else {
          EXPECT_EQ(x, y);
        }
      }
    }
  }
}

// Every statistic of every window and sensor at every record of a history of `sensors` sensors
// (each with its own missing values; sensor 0 reset halfway), computed with `kernels`.
std::vector<double> EmitEveryRecord(const window_kernels::Kernels& kernels, size_t sensors) {
  window_kernels::UseForTesting(&kernels);
  const std::vector<WindowDef> defs = {{true, 6 * 3600.0}, {false, 12}, {true, 3 * 86400.0}};
  std::vector<WindowStat> stats;
  for (int k = 0; k < spec::kWindowStatCount; ++k) stats.push_back(static_cast<WindowStat>(k));
  std::vector<std::vector<Point>> history;
  for (size_t s = 0; s < sensors; ++s) history.push_back(RandomHistory(40 + s, 900));
  EntityWindows windows(defs, sensors, 3600);
  Entity e(defs);
  std::vector<double> row(sensors), out(sensors * defs.size() * stats.size()), all;
  for (size_t i = 0; i < history[0].size(); ++i) {
    if (i == 450) windows.Reset(0);
    e.Next(history[0][i].time, static_cast<int64_t>(i));
    for (size_t s = 0; s < sensors; ++s) row[s] = history[s][i].value;
    windows.Update(e.times, static_cast<int64_t>(i), e.begins, row);
    windows.Emit(defs.size(), stats, /*baseline=*/2, out.data());
    all.insert(all.end(), out.begin(), out.end());
  }
  window_kernels::UseForTesting(nullptr);
  return all;
}

TEST(WindowKernelsTest, EveryInstructionSetGivesTheSameBits) {
  // Sensor counts around the vector widths: a padding lane, a pair after the AVX2 quadruples.
  const window_kernels::Kernels* avx2 = window_kernels::Avx2();
  if (avx2 == nullptr) GTEST_SKIP() << "no AVX2 kernels on this machine or build";
  for (size_t sensors : {1, 2, 3, 4, 5, 6, 8, 9}) {
    const std::vector<double> baseline = EmitEveryRecord(window_kernels::Baseline(), sensors);
    const std::vector<double> wide = EmitEveryRecord(*avx2, sensors);
    ASSERT_EQ(baseline.size(), wide.size());
    size_t differing = 0;
    for (size_t i = 0; i < baseline.size(); ++i) {
      differing += std::memcmp(&baseline[i], &wide[i], sizeof(double)) != 0 ? 1 : 0;
    }
    EXPECT_EQ(differing, 0u) << sensors << " sensors: values whose bits differ";
    // The history exercises what the kernels compute: not everything is NaN.
    EXPECT_GT(std::count_if(wide.begin(), wide.end(), [](double v) { return !std::isnan(v); }),
              static_cast<std::ptrdiff_t>(wide.size() / 2));
  }
}

TEST(WindowKernelsTest, TheWidestSupportedKernelsAreInUse) {
  const window_kernels::Kernels* avx2 = window_kernels::Avx2();
  EXPECT_STREQ(window_kernels::Active().name, avx2 != nullptr ? "avx2" : "baseline");
  window_kernels::UseForTesting(&window_kernels::Baseline());
  EXPECT_STREQ(window_kernels::Active().name, "baseline");
  window_kernels::UseForTesting(nullptr);
#if defined(__x86_64__)
  if (__builtin_cpu_supports("avx2")) {
    EXPECT_NE(avx2, nullptr);
  }
#endif
}

}  // namespace
}  // namespace pdm::features
