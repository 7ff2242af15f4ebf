// The vector loops of EntityWindows (adding and removing a record, computing a window's
// statistics), compiled once per instruction set: the x86-64 baseline (SSE2, two sensors per
// instruction) and, on x86-64, AVX2 (four), chosen once per process by what the CPU supports.
// Every kernel computes, lane by lane, exactly what the scalar formulas would (no FMA), so the
// choice never changes a feature's bits. Internal to the features module; see docs/adr/0011.
#ifndef PDM_FEATURES_WINDOW_KERNELS_H_
#define PDM_FEATURES_WINDOW_KERNELS_H_

#include <cstddef>
#include <cstdint>

namespace pdm::features::window_kernels {

// A window's sums: kFieldCount arrays of `lanes` doubles, one entry per sensor, field after
// field; the windows of an entity follow each other (EntityWindows::sums_). Sums are of
// deviations from a shift (kx, kt) close to the window's values; see EntityWindows.
enum Field { kCount, kRemovals, kKx, kKt, kSx, kSxx, kSt, kStt, kStx, kFieldCount };
// A window's minimum and maximum per sensor (EntityWindows::extremes_): two arrays of `lanes`.
enum ExtremeField { kMinField, kMaxField, kExtremeFields };

// One record's values (`row`, NaN = none) at `time`, for remove_row and add_rows.
struct RowInput {
  const double* row;
  double time;
  const double* origin;  // per sensor: the slope's time origin
  double inverse_time_unit;
  size_t lanes;  // a multiple of 2: sensors rounded up, the padding lanes NaN
};

// The statistics of `windows` consecutive windows from their sums, for every sensor.
struct ValuesInput {
  const double* sums;      // the first window's sums
  const double* extremes;  // the first window's extremes; null: min / max / range not wanted
  size_t windows;
  const double* last_value;
  const double* base_mean;  // the baseline window's mean, for delta
  bool want_std, want_slope;
  size_t lanes;
  // Window w's statistic k goes to by_stat[w * window_stride + slot[k] * lanes + s], k in the
  // order of OutputStat.
  double* by_stat;
  size_t window_stride;
  const uint8_t* slot;
};
enum OutputStat {
  kOutCount,
  kOutMean,
  kOutDelta,
  kOutLast,
  kOutStd,
  kOutSlope,
  kOutMin,
  kOutMax,
  kOutRange,
  kOutputStats
};

struct Kernels {
  const char* name;
  // Removes a record from one window's sums; true when a sensor is due for a rebuild
  // (RebuildAfter). With `leaving`, ORs in an all-ones mask for each sensor whose value equals
  // the window's cached minimum or maximum (`extremes`, that window's).
  bool (*remove_row)(double* sums, const RowInput& in, const double* extremes, double* leaving);
  // Adds a record to the sums of `windows` consecutive windows.
  void (*add_rows)(double* sums, size_t windows, const RowInput& in);
  void (*window_values)(const ValuesInput& in);
};

// The sums are rebuilt after max(4 count, kRebuildAfter) removals, capped at INT32_MAX.
inline constexpr double kRebuildAfter = 64;

// The kernels of this build for the x86-64 baseline (or the generic vector fallback elsewhere).
const Kernels& Baseline();
// The AVX2 kernels; null when not built (not x86-64) or when the CPU lacks AVX2.
const Kernels* Avx2();
// The kernels in use: Avx2() when there are some, else Baseline(). UseForTesting swaps them
// (null: back to the default) so that tests can run both on one machine.
const Kernels& Active();
void UseForTesting(const Kernels* kernels);

}  // namespace pdm::features::window_kernels

#endif  // PDM_FEATURES_WINDOW_KERNELS_H_
