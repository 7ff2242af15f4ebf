// The reference profile of a model: how each feature and the score were distributed on the
// training rows, as the drift monitor compares production against (model/reference.json, written
// by `pdm train` and hashed with the model's artifacts).
//
// Per column: quantile bin edges from the training values (kFineBins quantiles, ties merged, so
// a column of few distinct values gets one bin per value and its bins are its category
// frequencies), the count and mean of the values in each bin, the missing count, and the mean,
// standard deviation, min and max. The drift statistics use these bins: KS and Wasserstein the
// fine ones, PSI and Jensen-Shannon the coarse ones (consecutive fine bins merged to about
// kCoarseBins of similar reference mass), which are also the histograms the API shows.
#ifndef PDM_MONITOR_PROFILE_H_
#define PDM_MONITOR_PROFILE_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/time.h"
#include "nlohmann/json.hpp"

namespace pdm::monitor {

inline constexpr int kFineBins = 100;
inline constexpr int kCoarseBins = 20;

// The null distribution of a column's windowed PSI on the training rows (calibration.h).
struct NullPsi {
  int64_t windows = 0;  // windows sampled; 0: not calibrated
  double median = 0, q95 = 0, max = 0;
};
// For the drift window and for its newest quarter (the fast window, which sees a change first).
struct NullPsiPair {
  NullPsi full, fast;
};

struct ColumnProfile {
  std::string name;
  // Upper edges e_0 < e_1 < ... of the bins: bin 0 is (-inf, e_0], bin k (e_{k-1}, e_k], the
  // last bin (e_{m-1}, +inf). So there are edges.size() + 1 bins.
  std::vector<double> edges;
  std::vector<double> counts;  // reference values per bin
  std::vector<double> means;   // mean of the reference values in each bin (0 when empty)
  int64_t values = 0;          // non-missing reference values
  int64_t missing = 0;
  double mean = 0, std = 0, min = 0, max = 0, median = 0;
  NullPsiPair null_psi;
  // The same for |median shift| (MedianShift below) in the same windows: a change of level shows
  // in the window's median long before it moves a 20-bin histogram of a few hundred values.
  NullPsiPair null_shift;
  // Rows left out as each entity's warm-up: its first `warmup` of data time, while the
  // column's window (or baseline) was still filling; production rows of a running fleet are
  // past it.
  std::optional<core::Span> warmup;
  int64_t warmup_rows = 0;
  // False for a column that grows with time by construction (age, time since maintenance):
  // its statistics are reported, but it never gets a drift status (it would always have one).
  bool monitored = true;
  std::string kind;    // what the feature is (features::FeatureKindName), when known
  std::string source;  // the input it is computed from (drift alerts group by it), when known
  // Per operating regime (ReferenceProfile::regimes), the reference values per fine bin; empty
  // when the profile has no regimes.
  std::vector<std::vector<double>> regime_counts;
  // Derived on build and load: the coarse bin of each fine bin, and the coarse histogram.
  std::vector<uint16_t> coarse_of;
  std::vector<double> coarse_counts;
  size_t bins() const { return edges.size() + 1; }
  size_t coarse_bins() const { return coarse_counts.size(); }
  // The bin a value falls in. REQUIRES: !isnan(value).
  size_t BinOf(double value) const;
  // Where a sample's median lies in the reference distribution, minus where the reference's own
  // does (so within [-0.5, 0.5]; 0 for a sample distributed as the reference), from the
  // sample's histogram over the fine bins: the reference's cumulative share at the sample's
  // median, interpolating within its bin as if both spread alike there. NaN for an empty
  // histogram. A robust change of level: a few machines of a fleet running away (as before a
  // failure) move the median little, a recalibrated sensor or a warmer hall moves it at once.
  double MedianShift(std::span<const double> counts) const {
    return MedianShift(counts, this->counts);
  }
  // Whether the reference's median lies in a fine bin that holds at most a tenth of the
  // reference: else the median shift measures the share of one value, not a level.
  bool SpreadAtMedian() const;
  // The same against another reference histogram over the fine bins (MixedReference).
  double MedianShift(std::span<const double> counts, std::span<const double> reference) const;
  double missing_share() const {
    return values + missing > 0
               ? static_cast<double>(missing) / static_cast<double>(values + missing)
               : 0;
  }
};

struct ReferenceProfile {
  std::vector<ColumnProfile> features;  // in the model's feature order
  ColumnProfile score;                  // "score": probability, or predicted RUL
  int64_t rows = 0;                     // training rows the profile was built from
  // The drift window the columns' null_psi was calibrated for; none: not calibrated.
  std::optional<core::Span> calibration_window;
  // Operating regimes (the spec's `features.regimes`): the feature holding each row's regime
  // index and how many there are; none: no regimes. Each column then has its reference per
  // regime, and a window is compared against the reference mixed in the window's own shares of
  // the regimes (MixedReference): a fleet moving between loads is not drift, while a change
  // within the loads is, and shows sooner once the load mix no longer hides it.
  std::optional<size_t> regime_feature;
  int regimes = 0;
  // Per regime, its centre in the settings' own units ("load_setpoint 25"), for reports; may be
  // empty (then regimes are shown by index).
  std::vector<std::string> regime_names;
  // Level columns (level.h): one per sensor's current value, each reading minus its machine's
  // recent level in its regime. `level_features` holds the feature index each is computed
  // from. Empty for untimed data and for profiles written before level columns.
  std::vector<ColumnProfile> levels;
  std::vector<size_t> level_features;

  // The drift monitor's columns in order: the features, then the level columns.
  size_t columns() const { return features.size() + levels.size(); }
  const ColumnProfile& column(size_t j) const {
    return j < features.size() ? features[j] : levels[j - features.size()];
  }
  // The regime of a row from its features: -1 when unknown (no regimes, missing, out of range).
  int RegimeOf(std::span<const float> features) const;
};

// The reference histogram over `column`'s fine bins for a window whose rows fall into the
// regimes as `rows_per_regime` says (one entry per regime, then one for rows of no known
// regime): each regime's histogram weighted by the window's share of it; the share of unknown
// rows, and of regimes the training rows never saw, takes the pooled histogram. Scaled to sum
// to `column.values`. Without regime counts, the pooled histogram.
void MixedReference(const ColumnProfile& column, std::span<const double> rows_per_regime,
                    std::vector<double>* out);

// The profile of one column from its values (NaN = missing); `values` is reordered.
ColumnProfile BuildColumnProfile(std::string name, std::vector<double> values);

// Derives coarse_of and coarse_counts from edges and counts.
void DeriveCoarseBins(ColumnProfile* column);

nlohmann::json ProfileToJson(const ReferenceProfile& profile);
// Reads what ProfileToJson wrote; `source` names the file in errors.
absl::StatusOr<ReferenceProfile> ProfileFromJson(const nlohmann::json& json,
                                                 const std::string& source);

}  // namespace pdm::monitor

#endif  // PDM_MONITOR_PROFILE_H_
