// Streaming drift of a served model's inputs and score against its reference profile.
//
// The window of recent production rows is kept as a ring of `buckets` histograms (per column:
// counts and value sums per fine bin of the reference, missing counts; for the score also the
// sums a performance estimate needs), so memory does not depend on the row rate and an
// evaluation costs O(columns x bins), not a sort. A window of "24h" holds the rows whose data
// time falls in the last 24 buckets of an hour each (so between 23 and 24 hours of data); a
// window of "10000r" holds between 9,583 and 10,000 rows. Evaluations run every `every` of data
// time or rows, inside Observe, so a replay at any speed gives the same results as live data.
//
// Per column and evaluation: PSI and Jensen-Shannon distance on the coarse bins, KS statistic
// and Wasserstein distance (divided by the reference's standard deviation) on the fine bins
// (drift_stats.h states how far each binned estimate can be from the exact one), the missing
// share. The status of a column follows its PSI with hysteresis: it rises to a level after
// `consecutive` evaluations at or above the level's threshold, and falls back after
// `consecutive` evaluations below `exit_factor` times it. The thresholds are per column: the
// profile's calibrated ones when it was calibrated for this window (calibration.h), else the
// fixed ones of the options. A calibrated column is also watched on the window's newest quarter
// (the fast window, with its own calibrated thresholds), which a change fills four times
// sooner, and on the median shift of both windows (ColumnProfile::MedianShift: where the
// window's median lies in the reference distribution, which sees a change of level in a hundred
// values where PSI needs thousands), with thresholds calibrated the same way. The highest level of
// the four counts as the column's (DriftReport names which statistic set it). When the profile has
// operating regimes, every statistic compares the window against the reference mixed in the
// window's own shares of the regimes (profile.h MixedReference).
//
// Thread-safe: one lock; Observe takes it once per call, so callers pass whole batches.
#ifndef PDM_MONITOR_DRIFT_MONITOR_H_
#define PDM_MONITOR_DRIFT_MONITOR_H_

#include <cmath>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/time.h"
#include "monitor/calibration.h"
#include "monitor/level.h"
#include "monitor/profile.h"
#include "nlohmann/json.hpp"

namespace pdm::monitor {

enum class DriftStatus { kOk = 0, kWarning = 1, kDrift = 2 };
const char* DriftStatusName(DriftStatus status);

struct DriftOptions {
  // The window: data time (seconds; needs timestamped rows) or a row count. Default 24h.
  core::Span window{core::Span::Kind::kTime, 86400};
  // How often to evaluate: data time or rows. Default 1 min.
  core::Span every{core::Span::Kind::kTime, 60};
  int buckets = 24;  // the window's granularity
  // A bucket counts every row into its histograms up to this many, then a sample: the sampling
  // stride doubles each time the rows offered reach this many times it, and each sampled row
  // counts as `stride` rows (an unbiased estimate of the bucket's histograms). So a bucket holds
  // about sample_above x (1 + log2(rate / sample_above) / 2) sampled rows at any rate, and the
  // bookkeeping of a loaded server tends to a hash and a few counters per row. Row counts, the
  // regime shares and the performance estimate's sums count every row. 0: never sample. With
  // 1,000, a 24-bucket window samples at least 24,000 rows: PSI's sampling noise (about
  // bins / rows) stays under 0.001, and the fast window's under 0.004.
  int64_t sample_above = 1000;
  // No status changes while the window holds fewer rows: with 20 bins, PSI's expected value on
  // two samples of one distribution is about 19 / rows, 0.02 at 1,000 rows (well below 0.1).
  int64_t min_rows = 1000;
  // PSI thresholds, the credit-scoring convention: below 0.1 stable, 0.1-0.25 a moderate shift,
  // above 0.25 a significant one.
  double warning_psi = 0.1;
  double drift_psi = 0.25;
  // Floors of the calibrated thresholds on |median shift| (in reference quantiles): a median
  // moved by a tenth of the reference distribution is the smallest change of level worth an
  // alert. The median shift sets a status only when calibrated.
  double warning_median_shift = 0.05;
  double drift_median_shift = 0.1;
  // Per-column thresholds from the profile's null distribution (calibration.h) when it was
  // calibrated for this window; the two above are then floors. Off: the two above for every
  // column.
  bool calibrated_thresholds = true;
  // Calibrated thresholds sit this far above the training period's own windowed PSI
  // (warning: x its 95th percentile, drift: x its maximum). ADR 0014 says why 2.
  double calibration_margin = 2.0;
  double exit_factor = 0.8;  // a level is left below exit_factor x its threshold
  int consecutive = 3;       // evaluations in a row before a status changes
  // Dataset drift when at least this share of the features is in drift (Evidently's default).
  double dataset_drift_share = 0.5;
  // Data quality: a field's share of the window's readings refused for it (the telemetry route
  // refuses a reading whose value is malformed; out-of-range values it flags as missing, which
  // the features' missing shares show). 1% refused is a warning, 5% drift: refused readings are
  // lost to the model, and a plant's gateways rarely send malformed values unless one broke.
  double warning_refusal_share = 0.01;
  double drift_refusal_share = 0.05;
  // The served decision threshold on the score, for the performance estimate; none for RUL.
  std::optional<double> probability_threshold;
};

// The statistics of one column in one evaluation.
struct ColumnDrift {
  std::string name;
  double psi = 0, ks = 0, jensen_shannon = 0, wasserstein = 0;  // wasserstein in reference stds
  double missing_share = 0, reference_missing_share = 0;
  int64_t rows = 0;  // non-missing values in the window
  DriftStatus status = DriftStatus::kOk;
  bool monitored = true;        // false: a clock (profile.h); status stays ok and is shown as such
  ColumnThresholds thresholds;  // on psi
  // The window's newest quarter (a change fills it first), watched when the profile was
  // calibrated for this window: its PSI, non-missing values and thresholds.
  std::optional<double> fast_psi;
  int64_t fast_rows = 0;
  ColumnThresholds fast_thresholds;
  // The median shift (signed, in reference quantiles) of the window and of the fast window, and
  // their thresholds on its absolute value when calibrated (else only shown).
  double median_shift = NAN;
  std::optional<double> fast_median_shift;
  std::optional<ColumnThresholds> median_shift_thresholds, fast_median_shift_thresholds;
  // The statistic whose level is the highest of this evaluation ("psi", "median_shift",
  // "fast_window.psi", "fast_window.median_shift"); empty when all are below their warning.
  std::string trigger;
  std::vector<double> current;  // coarse histogram of the window (counts)
  // The reference it was compared against, mixed by regime; empty: the profile's own.
  std::vector<double> reference;
};

// CBPE-style expectation of the served decisions' quality on the window, assuming calibrated
// probabilities: expected TP = sum of p over alarms, FP = sum of 1 - p over alarms, FN = sum
// of p over the rest.
struct PerformanceEstimate {
  int64_t rows = 0;
  double alarm_rate = 0;
  double expected_positive_rate = 0;  // mean probability
  double precision = NAN, recall = NAN, f1 = NAN;
};

// The readings refused for one field in the window.
struct FieldRefusals {
  std::string field;  // as the telemetry route names it: "time", "values.<column>", ...
  int64_t refused = 0;
  double share = 0;  // of the window's readings, accepted and refused
  DriftStatus status = DriftStatus::kOk;
};

struct DriftReport {
  int64_t evaluations = 0;
  double evaluated_at = NAN;  // data time of the evaluation (NaN for untimed rows)
  int64_t window_rows = 0;
  int64_t sampled_rows = 0;  // of window_rows, those counted into the histograms
  int64_t rows_seen = 0;
  int64_t late_rows = 0;   // older than the window when they arrived: not windowed
  bool warming_up = true;  // fewer than min_rows in the window: statuses held
  std::vector<ColumnDrift> features;
  ColumnDrift score;
  int64_t features_in_drift = 0;
  int64_t features_in_warning = 0;
  int64_t features_monitored = 0;
  double drifted_share = 0;  // of the monitored features
  bool dataset_drift = false;
  std::optional<PerformanceEstimate> performance;
  // The window's rows per operating regime, then of no known regime (profiles with regimes):
  // the shares the reference was mixed in.
  std::vector<int64_t> regime_rows;
  // Data quality: readings refused in the window, in all and per field (most refused first).
  int64_t refused_readings = 0;
  std::vector<FieldRefusals> refusals;
};

// One production row: the model's feature vector, its score, the data time (NaN: untimed), the
// data time since its machine's feature state began (NaN: unknown), and the machine. A column
// leaves out the rows still within its profile's warm-up (profile.h), as the profile did.
struct ObservedRow {
  double time = NAN;
  std::span<const float> features;
  double score = NAN;
  double since_start = NAN;
  // The machine, for the level columns (level.h); empty: unknown, and the row counts in no
  // level column.
  std::string_view entity = {};
};

class DriftMonitor {
 public:
  DriftMonitor(ReferenceProfile profile, const DriftOptions& options);

  // Adds rows to the window, in arrival order; evaluates when `every` has passed.
  // REQUIRES: each row has as many features as the profile.
  void Observe(std::span<const ObservedRow> rows);
  // Readings the telemetry route refused, each with the fields it was refused for (a reading
  // refused for two fields counts for both). They count into the window's newest bucket: a
  // refused reading's own time may be what was malformed. Refused before the first accepted
  // row, they are counted in no window.
  void ObserveRefused(std::span<const std::vector<std::string>> fields);
  // The latest evaluation (an empty report before the first).
  std::shared_ptr<const DriftReport> Latest() const;
  // Evaluates now (advancing the hysteresis like a scheduled evaluation).
  std::shared_ptr<const DriftReport> EvaluateNow();

  const ReferenceProfile& profile() const { return profile_; }
  const DriftOptions& options() const { return options_; }

 private:
  struct Bucket {
    int64_t key = 0;  // time mode: floor(time / width); row mode: a sequence number
    int64_t rows = 0;
    int64_t sampled = 0;  // rows counted into the histograms
    uint32_t stride = 1;  // the sampling stride now (a power of 2; DriftOptions::sample_above)
    // Per fine bin of every column (features, then the score): rows, each weighted by the
    // stride it was sampled at, and their values' sums likewise.
    std::vector<double> counts;
    std::vector<double> sums;
    std::vector<double> missing;       // per column, weighted
    std::vector<int64_t> regime_rows;  // per regime, then no known regime (profiles with regimes)
    // Score sums for the performance estimate.
    double scored = 0, alarms = 0, p_alarms = 0, p_rest = 0;
    int64_t refused = 0;                            // readings refused
    std::map<std::string, int64_t> refused_fields;  // per field
  };
  // Adds `sign` x `from` to `into` (rows, counts, sums, missing, score sums).
  static void Accumulate(Bucket* into, const Bucket& from, int sign);
  // Takes a row's bucket, row count and score sums now; its column counts are deferred to
  // FlushPending, which runs before the buckets change, before an evaluation and at the end of
  // Observe.
  void ObserveLocked(const ObservedRow& row);
  void FlushPending();
  Bucket* BucketFor(double time);
  Bucket NewBucket(int64_t key) const;
  std::shared_ptr<const DriftReport> EvaluateLocked();
  void Count(Bucket* bucket, size_t column, double value, double weight);
  // Whether `bucket` counts its next row into the histograms, and at which weight (0: not).
  // REQUIRES: bucket->rows counts that row already.
  double Sample(Bucket* bucket);

  const ReferenceProfile profile_;
  const DriftOptions options_;
  std::vector<const ColumnProfile*> columns_;  // features, level columns, then the score
  // The machines' levels of the profile's level columns (none without them), and the level
  // values of the pending rows (levels per row, NaN where unknown).
  std::optional<LevelTracker> levels_;
  std::vector<double> level_values_, pending_levels_;
  std::vector<size_t> offsets_;  // first fine bin of each column
  std::vector<double> warmup_;   // seconds per column (0: none)
  size_t total_bins_ = 0;
  double bucket_seconds_ = 0;  // time mode
  int64_t bucket_rows_ = 0;    // row mode

  mutable std::mutex mu_;
  std::deque<Bucket> buckets_;  // oldest first
  // The sum of every bucket but the newest, kept as buckets open and leave, so an evaluation
  // adds one bucket to it instead of summing the ring.
  Bucket closed_;
  // Rows whose column counts are deferred, all into the same bucket(s), with their weights.
  std::vector<std::pair<const ObservedRow*, double>> pending_rows_;
  uint64_t sample_sequence_ = 0;  // hashed to decide sampling
  Bucket* pending_bucket_ = nullptr;
  Bucket* pending_also_ = nullptr;
  int64_t rows_seen_ = 0, late_rows_ = 0;
  int64_t rows_since_evaluation_ = 0;
  double last_time_ = NAN, next_evaluation_time_ = NAN;
  int64_t evaluations_ = 0;
  // Hysteresis per column: the current status, the candidate level and its run length.
  // Per column: thresholds of the window and of the fast window (none: not watched).
  std::vector<ColumnThresholds> thresholds_;
  std::vector<std::optional<ColumnThresholds>> fast_thresholds_;
  // Per column, on |median shift| (none: calibration too thin or off; shown, not watched).
  std::vector<std::optional<ColumnThresholds>> shift_thresholds_, fast_shift_thresholds_;
  bool watch_fast_ = false;  // some column has fast-window thresholds
  std::vector<DriftStatus> status_;
  std::vector<DriftStatus> candidate_;
  std::vector<int> run_;
  std::shared_ptr<const DriftReport> latest_;
};

// The report as the API serves it (GET /api/v1/drift); `histograms` adds each column's reference
// and current coarse histograms with their edges.
nlohmann::json DriftReportJson(const DriftReport& report, const ReferenceProfile& profile,
                               const DriftOptions& options, bool histograms);

}  // namespace pdm::monitor

#endif  // PDM_MONITOR_DRIFT_MONITOR_H_
