#include "monitor/calibration.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>
#include <tuple>

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

// A column's null distributions of the windowed PSI and |median shift|.
struct NullPair {
  NullPsiPair psi, shift;
};

// Fills `into` from the samples (reordered).
void Summarise(std::vector<double>* samples, NullPsi* into) {
  if (samples->empty()) return;
  std::sort(samples->begin(), samples->end());
  into->windows = static_cast<int64_t>(samples->size());
  into->median = Quantile(*samples, 0.5);
  into->q95 = Quantile(*samples, 0.95);
  into->max = samples->back();
}

// The null distributions of one column's windowed PSI and |median shift| (full and fast
// window), given each used row's bucket index (ascending) and the column's value of the k-th
// used row through `value_of`. `regime_of` holds the k-th used row's regime (-1: unknown), or is
// empty; `regimes` counts them.
template <typename ValueOf>
NullPair NullOf(const ColumnProfile& column, const std::vector<int64_t>& bucket_of,
                const std::vector<int>& regime_of, int regimes, ValueOf value_of) {
  NullPair out;
  if (column.values == 0 || bucket_of.empty()) return out;
  const size_t bins = column.coarse_bins();
  // Histograms of consecutive distinct buckets; keys may skip (no data in a bucket).
  std::vector<int64_t> keys;
  std::vector<double> histograms;  // keys.size() x bins
  std::vector<double> totals;
  std::vector<double> fine;  // keys.size() x fine bins, for the median
  const size_t fine_bins = column.bins();
  // keys.size() x (regimes + 1): rows per regime, then of no known regime (every used row, as
  // the monitor counts them, whether or not it has a value of this column).
  const bool by_regime = !column.regime_counts.empty() && !regime_of.empty();
  const size_t slots = static_cast<size_t>(regimes) + 1;
  std::vector<double> regime_rows;
  std::optional<int64_t> first_key;  // the first bucket with a value
  for (size_t k = 0; k < bucket_of.size(); ++k) {
    if (keys.empty() || keys.back() != bucket_of[k]) {
      keys.push_back(bucket_of[k]);
      histograms.resize(histograms.size() + bins, 0.0);
      totals.push_back(0);
      fine.resize(fine.size() + fine_bins, 0.0);
      if (by_regime) regime_rows.resize(regime_rows.size() + slots, 0.0);
    }
    if (by_regime) {
      const int g = regime_of[k];
      regime_rows[(keys.size() - 1) * slots + (g >= 0 ? static_cast<size_t>(g) : slots - 1)] += 1;
    }
    const double v = value_of(k);
    if (std::isnan(v)) continue;
    if (!first_key) first_key = bucket_of[k];
    const size_t bin = column.BinOf(v);
    histograms[(keys.size() - 1) * bins + column.coarse_of[bin]] += 1;
    fine[(keys.size() - 1) * fine_bins + bin] += 1;
    totals.back() += 1;
  }
  if (!first_key) return out;
  for (const auto& [span, psi_into, shift_into] :
       {std::tuple<int64_t, NullPsi*, NullPsi*>{kDriftBuckets, &out.psi.full, &out.shift.full},
        {kFastBuckets, &out.psi.fast, &out.shift.fast}}) {
    std::vector<double> window(bins, 0.0), window_fine(fine_bins, 0.0), psi, shift;
    std::vector<double> window_regimes(slots, 0.0), reference_fine, reference_coarse(bins);
    double rows = 0;
    size_t first = 0;  // oldest bucket in the window
    for (size_t i = 0; i < keys.size(); ++i) {
      for (size_t b = 0; b < bins; ++b) window[b] += histograms[i * bins + b];
      for (size_t b = 0; b < fine_bins; ++b) window_fine[b] += fine[i * fine_bins + b];
      if (by_regime) {
        for (size_t g = 0; g < slots; ++g) window_regimes[g] += regime_rows[i * slots + g];
      }
      rows += totals[i];
      while (keys[first] <= keys[i] - span) {
        for (size_t b = 0; b < bins; ++b) window[b] -= histograms[first * bins + b];
        for (size_t b = 0; b < fine_bins; ++b) window_fine[b] -= fine[first * fine_bins + b];
        if (by_regime) {
          for (size_t g = 0; g < slots; ++g) window_regimes[g] -= regime_rows[first * slots + g];
        }
        rows -= totals[first];
        ++first;
      }
      // Only full windows: the data began at least a window before this bucket's end.
      if (keys[i] - *first_key + 1 < span) continue;
      if (rows < static_cast<double>(kMinCalibrationRows)) continue;
      if (by_regime) {
        MixedReference(column, window_regimes, &reference_fine);
        std::fill(reference_coarse.begin(), reference_coarse.end(), 0.0);
        for (size_t b = 0; b < fine_bins; ++b) {
          reference_coarse[column.coarse_of[b]] += reference_fine[b];
        }
        psi.push_back(Psi(reference_coarse, window));
      } else {
        psi.push_back(Psi(column.coarse_counts, window));
      }
      const double s = by_regime ? column.MedianShift(window_fine, reference_fine)
                                 : column.MedianShift(window_fine);
      if (std::isfinite(s)) shift.push_back(std::abs(s));
    }
    Summarise(&psi, psi_into);
    Summarise(&shift, shift_into);
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
  std::vector<int> regime_of;
  if (!rows.regime.empty() && profile->regimes > 0) {
    regime_of.resize(rows.order.size());
    for (size_t k = 0; k < rows.order.size(); ++k) {
      const int g = rows.regime[rows.order[k]];
      regime_of[k] = g < profile->regimes ? g : -1;
    }
  }
  for (size_t j = 0; j < profile->features.size() && j < rows.cols; ++j) {
    ColumnProfile& column = profile->features[j];
    const NullPair null = NullOf(column, bucket_of, regime_of, profile->regimes, [&](size_t k) {
      return warm(k, j)
                 ? static_cast<double>(rows.x[static_cast<size_t>(rows.order[k]) * rows.cols + j])
                 : kNaN;
    });
    column.null_psi = null.psi;
    column.null_shift = null.shift;
  }
  const size_t levels = profile->levels.size();
  if (levels > 0 && rows.levels.size() >= levels) {
    for (size_t l = 0; l < levels; ++l) {
      ColumnProfile& column = profile->levels[l];
      const NullPair null = NullOf(column, bucket_of, regime_of, profile->regimes, [&](size_t k) {
        return rows.levels[static_cast<size_t>(rows.order[k]) * levels + l];
      });
      column.null_psi = null.psi;
      column.null_shift = null.shift;
    }
  }
  if (!rows.score.empty()) {
    const size_t c = profile->features.size();
    const NullPair null =
        NullOf(profile->score, bucket_of, regime_of, profile->regimes,
               [&](size_t k) { return warm(k, c) ? rows.score[rows.order[k]] : kNaN; });
    profile->score.null_psi = null.psi;
    profile->score.null_shift = null.shift;
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
