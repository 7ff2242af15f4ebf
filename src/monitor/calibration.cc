#include "monitor/calibration.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>

#include "monitor/drift_stats.h"

namespace pdm::monitor {

core::Span DefaultDriftWindow(bool timed) {
  return timed ? core::Span{core::Span::Kind::kTime, 86400}
               : core::Span{core::Span::Kind::kRecords, 10000};
}

namespace {

// The value at quantile q of `sorted` (the lower of the two neighbours, as the profile's edges).
double Quantile(const std::vector<double>& sorted, double q) {
  return sorted[static_cast<size_t>(q * static_cast<double>(sorted.size() - 1))];
}

// The null distributions of one column's windowed PSI (full and fast window), given each used
// row's bucket index (ascending) and the column's value of the k-th used row through
// `value_of`.
template <typename ValueOf>
NullPsiPair NullOf(const ColumnProfile& column, const std::vector<int64_t>& bucket_of,
                   ValueOf value_of) {
  NullPsiPair out;
  if (column.values == 0 || bucket_of.empty()) return out;
  const size_t bins = column.coarse_bins();
  // Histograms of consecutive distinct buckets; keys may skip (no data in a bucket).
  std::vector<int64_t> keys;
  std::vector<double> histograms;  // keys.size() x bins
  std::vector<double> totals;
  std::optional<int64_t> first_key;  // the first bucket with a value
  for (size_t k = 0; k < bucket_of.size(); ++k) {
    if (keys.empty() || keys.back() != bucket_of[k]) {
      keys.push_back(bucket_of[k]);
      histograms.resize(histograms.size() + bins, 0.0);
      totals.push_back(0);
    }
    const double v = value_of(k);
    if (std::isnan(v)) continue;
    if (!first_key) first_key = bucket_of[k];
    histograms[(keys.size() - 1) * bins + column.coarse_of[column.BinOf(v)]] += 1;
    totals.back() += 1;
  }
  if (!first_key) return out;
  for (const auto& [span, into] :
       {std::pair<int64_t, NullPsi*>{kDriftBuckets, &out.full}, {kFastBuckets, &out.fast}}) {
    std::vector<double> window(bins, 0.0), psi;
    double rows = 0;
    size_t first = 0;  // oldest bucket in the window
    for (size_t i = 0; i < keys.size(); ++i) {
      for (size_t b = 0; b < bins; ++b) window[b] += histograms[i * bins + b];
      rows += totals[i];
      while (keys[first] <= keys[i] - span) {
        for (size_t b = 0; b < bins; ++b) window[b] -= histograms[first * bins + b];
        rows -= totals[first];
        ++first;
      }
      // Only full windows: the data began at least a window before this bucket's end.
      if (keys[i] - *first_key + 1 < span) continue;
      if (rows < static_cast<double>(kMinCalibrationRows)) continue;
      psi.push_back(Psi(column.coarse_counts, window));
    }
    if (psi.empty()) continue;
    std::sort(psi.begin(), psi.end());
    into->windows = static_cast<int64_t>(psi.size());
    into->median = Quantile(psi, 0.5);
    into->q95 = Quantile(psi, 0.95);
    into->max = psi.back();
  }
  return out;
}

}  // namespace

void CalibrateNullPsi(const CalibrationRows& rows, core::Span window, ReferenceProfile* profile) {
  const bool timed = window.is_time() && !rows.time.empty();
  if (window.is_time() && !timed) return;  // a time window needs timed rows
  std::vector<int64_t> bucket_of(rows.order.size());
  if (timed) {
    const double width = static_cast<double>(window.amount) / kDriftBuckets;
    for (size_t k = 0; k < rows.order.size(); ++k) {
      bucket_of[k] = static_cast<int64_t>(std::floor(rows.time[rows.order[k]] / width));
    }
  } else {
    const int64_t per_bucket =
        std::max<int64_t>(1, (window.amount + kDriftBuckets - 1) / kDriftBuckets);
    for (size_t k = 0; k < rows.order.size(); ++k) {
      bucket_of[k] = static_cast<int64_t>(k) / per_bucket;
    }
  }
  constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
  // Whether the k-th used row is past column c's warm-up.
  auto warm = [&](size_t k, size_t c) {
    return rows.since_start.empty() || c >= rows.warmup.size() ||
           rows.since_start[rows.order[k]] >= rows.warmup[c];
  };
  for (size_t j = 0; j < profile->features.size() && j < rows.cols; ++j) {
    profile->features[j].null_psi = NullOf(profile->features[j], bucket_of, [&](size_t k) {
      return warm(k, j)
                 ? static_cast<double>(rows.x[static_cast<size_t>(rows.order[k]) * rows.cols + j])
                 : kNaN;
    });
  }
  if (!rows.score.empty()) {
    const size_t c = profile->features.size();
    profile->score.null_psi = NullOf(profile->score, bucket_of, [&](size_t k) {
      return warm(k, c) ? rows.score[rows.order[k]] : kNaN;
    });
  }
  profile->calibration_window = window;
}

ColumnThresholds ThresholdsFor(const NullPsi& null, double fixed_warning, double fixed_drift,
                               double margin) {
  ColumnThresholds t{fixed_warning, fixed_drift, false};
  if (null.windows < kMinCalibrationWindows) return t;
  t.calibrated = true;
  t.warning = std::max(fixed_warning, margin * null.q95);
  t.drift = std::max({fixed_drift, margin * null.max, t.warning});
  return t;
}

}  // namespace pdm::monitor
