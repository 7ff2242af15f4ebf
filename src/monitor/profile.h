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
  // Derived on build and load: the coarse bin of each fine bin, and the coarse histogram.
  std::vector<uint16_t> coarse_of;
  std::vector<double> coarse_counts;

  size_t bins() const { return edges.size() + 1; }
  size_t coarse_bins() const { return coarse_counts.size(); }
  // The bin a value falls in. REQUIRES: !isnan(value).
  size_t BinOf(double value) const;
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
};

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
