// Drift thresholds calibrated on the training data itself (ADR 0014).
//
// PSI's fixed thresholds (0.1 and 0.25) assume the window holds independent draws. A window of
// telemetry does not: a 24h window of 20 hourly machines holds 480 rows but only about 20
// independent values of a 7-day rolling mean, so the PSI of such a feature against the whole
// training period is large without any change, and fixed thresholds flag most slow features on
// a stationary fleet (docs/monitoring.md measured 150 of 228). Instead the profile records, per
// column, the null distribution of the statistic the monitor computes: the PSI of every full
// window of the served window's length that slides over the training rows (stepped by one
// bucket, as the server's ring advances), against the profile itself, and the same for the
// window's newest quarter (the fast window: 6 of the 24 buckets, which a change fills first).
// The monitor's thresholds of that column are then set above what the stationary training
// period itself produced.
#ifndef PDM_MONITOR_CALIBRATION_H_
#define PDM_MONITOR_CALIBRATION_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "core/time.h"
#include "monitor/profile.h"

namespace pdm::monitor {

// The window length the server watches by default: 24 hours of data time for timestamped data,
// 10,000 rows otherwise. `pdm train` calibrates for it; `pdm serve` uses it unless
// --drift-window says otherwise.
core::Span DefaultDriftWindow(bool timed);
// The ring's granularity (DriftOptions::buckets), and the newest buckets that make the fast
// window.
inline constexpr int kDriftBuckets = 24;
inline constexpr int kFastBuckets = 6;
// Windows with fewer rows than this are not calibrated on (their PSI is noise of its own).
inline constexpr int64_t kMinCalibrationRows = 50;
// Below this many windows a column's null distribution is too thin to set thresholds from.
inline constexpr int64_t kMinCalibrationWindows = 20;

// Training rows as the calibration reads them.
struct CalibrationRows {
  size_t cols = 0;                  // features per row
  const float* x = nullptr;         // row-major values, `cols` per row (NaN: missing)
  std::span<const double> score;    // per row: the out-of-fold score (NaN: missing)
  std::span<const double> time;     // per row, data time in seconds; empty for row windows
  std::span<const uint32_t> order;  // the rows to use, in time order (row windows: table order)
  // Per row, data time since its entity's first row; with `warmup` (seconds per column:
  // features, then the score), a column skips the rows still within its warm-up. Empty: none.
  std::span<const double> since_start;
  std::span<const double> warmup;
  // Per row, its operating regime (-1: unknown) when the profile has regimes: each window is
  // then compared against the reference mixed in its own shares of the regimes, as the monitor
  // does (MixedReference). Empty: the pooled reference.
  std::span<const int> regime;
  // Per row, the values of the profile's level columns (level.h), row-major: row r's at
  // [r x levels, (r + 1) x levels). Empty: the level columns are not calibrated.
  std::span<const double> levels;
};

// Fills every column's `null_psi` and `null_shift` (features in order, the level columns, then
// the score) and the
// profile's `calibration_window` with the null distributions of the windowed PSI and |median
// shift| over `rows`. A time
// window is cut into kDriftBuckets buckets of data time, a row window into kDriftBuckets
// buckets of rows; each full window (kDriftBuckets buckets; for the fast window the newest
// kFastBuckets) ending at a bucket boundary with at least kMinCalibrationRows values of the
// column is one sample; a window counts as full from the first bucket with a value of the
// column (past its warm-up).
void CalibrateNullPsi(const CalibrationRows& rows, core::Span window, ReferenceProfile* profile);

// The thresholds a column's status follows, on one window's PSI or |median shift|.
struct ColumnThresholds {
  double warning = 0.1;
  double drift = 0.25;
  bool calibrated = false;
};

// `fixed_warning` and `fixed_drift` are floors: a null distribution with kMinCalibrationWindows
// samples gives warning = max(fixed_warning, margin x its 95th percentile) and drift =
// max(fixed_drift, margin x its maximum, warning); a thinner one the fixed thresholds.
ColumnThresholds ThresholdsFor(const NullPsi& null, double fixed_warning, double fixed_drift,
                               double margin);

}  // namespace pdm::monitor

#endif  // PDM_MONITOR_CALIBRATION_H_
