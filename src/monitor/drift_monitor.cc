#include "monitor/drift_monitor.h"

#include <algorithm>

#include "monitor/drift_stats.h"

namespace pdm::monitor {

using json = nlohmann::json;

const char* DriftStatusName(DriftStatus status) {
  switch (status) {
    case DriftStatus::kOk:
      return "ok";
    case DriftStatus::kWarning:
      return "warning";
    case DriftStatus::kDrift:
      return "drift";
  }
  return "ok";
}

DriftMonitor::DriftMonitor(ReferenceProfile profile, const DriftOptions& options)
    : profile_(std::move(profile)), options_(options) {
  for (const ColumnProfile& c : profile_.features) columns_.push_back(&c);
  for (const ColumnProfile& c : profile_.levels) columns_.push_back(&c);
  columns_.push_back(&profile_.score);
  if (!profile_.levels.empty()) {
    levels_.emplace(profile_.level_features, profile_.regimes);
    level_values_.resize(profile_.levels.size());
  }
  for (const ColumnProfile* c : columns_) {
    offsets_.push_back(total_bins_);
    total_bins_ += c->bins();
    warmup_.push_back(c->warmup && c->warmup->is_time() ? static_cast<double>(c->warmup->amount)
                                                        : 0.0);
  }
  const int buckets = std::max(1, options_.buckets);
  if (options_.window.is_time()) {
    bucket_seconds_ = static_cast<double>(options_.window.amount) / buckets;
  } else {
    bucket_rows_ = std::max<int64_t>(1, (options_.window.amount + buckets - 1) / buckets);
  }
  const bool calibrated = options_.calibrated_thresholds && options_.buckets == kDriftBuckets &&
                          profile_.calibration_window == options_.window;
  for (const ColumnProfile* c : columns_) {
    const ColumnThresholds fixed{options_.warning_psi, options_.drift_psi, false};
    if (!calibrated) {
      thresholds_.push_back(fixed);
      fast_thresholds_.emplace_back();
      shift_thresholds_.emplace_back();
      fast_shift_thresholds_.emplace_back();
      continue;
    }
    thresholds_.push_back(ThresholdsFor(c->null_psi.full, options_.warning_psi, options_.drift_psi,
                                        options_.calibration_margin));
    auto calibrated_only = [&](const NullPsi& null, double warning, double drift) {
      const ColumnThresholds t = ThresholdsFor(null, warning, drift, options_.calibration_margin);
      return t.calibrated ? std::optional(t) : std::nullopt;
    };
    fast_thresholds_.push_back(
        calibrated_only(c->null_psi.fast, options_.warning_psi, options_.drift_psi));
    // The median moves with the level only where values are spread: a column whose median
    // value alone holds a tenth of the reference (a count that is nearly always full, a
    // flag) is watched by PSI only.
    if (!c->SpreadAtMedian()) {
      shift_thresholds_.emplace_back();
      fast_shift_thresholds_.emplace_back();
      watch_fast_ = watch_fast_ || fast_thresholds_.back();
      continue;
    }
    shift_thresholds_.push_back(calibrated_only(c->null_shift.full, options_.warning_median_shift,
                                                options_.drift_median_shift));
    fast_shift_thresholds_.push_back(calibrated_only(
        c->null_shift.fast, options_.warning_median_shift, options_.drift_median_shift));
    watch_fast_ = watch_fast_ || fast_thresholds_.back() || fast_shift_thresholds_.back();
  }
  status_.assign(columns_.size(), DriftStatus::kOk);
  candidate_.assign(columns_.size(), DriftStatus::kOk);
  run_.assign(columns_.size(), 0);
  closed_ = NewBucket(0);
  auto empty = std::make_shared<DriftReport>();
  latest_ = std::move(empty);
}

DriftMonitor::Bucket DriftMonitor::NewBucket(int64_t key) const {
  Bucket b;
  b.key = key;
  b.counts.assign(total_bins_, 0);
  b.sums.assign(total_bins_, 0);
  b.missing.assign(columns_.size(), 0);
  if (profile_.regime_feature) b.regime_rows.assign(static_cast<size_t>(profile_.regimes) + 1, 0);
  return b;
}

void DriftMonitor::Accumulate(Bucket* into, const Bucket& from, int sign) {
  into->rows += sign * from.rows;
  into->sampled += sign * from.sampled;
  for (size_t k = 0; k < from.counts.size(); ++k) {
    into->counts[k] += sign * from.counts[k];
    into->sums[k] += sign * from.sums[k];
  }
  for (size_t c = 0; c < from.missing.size(); ++c) into->missing[c] += sign * from.missing[c];
  for (size_t g = 0; g < from.regime_rows.size(); ++g) {
    into->regime_rows[g] += sign * from.regime_rows[g];
  }
  into->scored += sign * from.scored;
  into->refused += sign * from.refused;
  for (const auto& [field, n] : from.refused_fields) {
    int64_t& total = into->refused_fields[field];
    total += sign * n;
    if (total == 0) into->refused_fields.erase(field);
  }
  into->alarms += sign * from.alarms;
  into->p_alarms += sign * from.p_alarms;
  into->p_rest += sign * from.p_rest;
}

DriftMonitor::Bucket* DriftMonitor::BucketFor(double time) {
  const size_t keep = static_cast<size_t>(std::max(1, options_.buckets));
  if (bucket_seconds_ > 0) {
    if (std::isnan(time)) return nullptr;  // a time window needs timed rows
    const auto key = static_cast<int64_t>(std::floor(time / bucket_seconds_));
    if (buckets_.empty() || key > buckets_.back().key) {
      FlushPending();
      if (!buckets_.empty()) Accumulate(&closed_, buckets_.back(), +1);
      buckets_.push_back(NewBucket(key));
      while (buckets_.front().key <= key - static_cast<int64_t>(keep)) {
        Accumulate(&closed_, buckets_.front(), -1);
        buckets_.pop_front();
      }
      return &buckets_.back();
    }
    for (auto it = buckets_.rbegin(); it != buckets_.rend(); ++it) {
      if (it->key == key) return &*it;
      if (it->key < key) break;  // its bucket is gone or was never made: not windowed
    }
    if (key > buckets_.back().key - static_cast<int64_t>(keep)) {
      // Within the window but between existing buckets: make it in order.
      FlushPending();  // inserting moves the buckets
      auto at = std::find_if(buckets_.begin(), buckets_.end(),
                             [key](const Bucket& b) { return b.key > key; });
      return &*buckets_.insert(at, NewBucket(key));
    }
    return nullptr;
  }
  if (buckets_.empty() || buckets_.back().rows >= bucket_rows_) {
    FlushPending();
    if (!buckets_.empty()) Accumulate(&closed_, buckets_.back(), +1);
    buckets_.push_back(NewBucket(buckets_.empty() ? 0 : buckets_.back().key + 1));
    while (buckets_.size() > keep) {
      Accumulate(&closed_, buckets_.front(), -1);
      buckets_.pop_front();
    }
  }
  return &buckets_.back();
}

void DriftMonitor::Count(Bucket* bucket, size_t column, double value, double weight) {
  if (std::isnan(value)) {
    bucket->missing[column] += weight;
    return;
  }
  const size_t bin = offsets_[column] + columns_[column]->BinOf(value);
  bucket->counts[bin] += weight;
  bucket->sums[bin] += weight * value;
}

double DriftMonitor::Sample(Bucket* bucket) {
  const int64_t cap = options_.sample_above;
  if (cap <= 0) return 1;
  while (bucket->rows > cap * static_cast<int64_t>(bucket->stride) && bucket->stride < (1u << 30)) {
    bucket->stride *= 2;
  }
  if (bucket->stride == 1) return 1;
  // SplitMix64 of a sequence number: rows are sampled alike whatever the machines' order.
  uint64_t z = (sample_sequence_ += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  z ^= z >> 31;
  return (z & (bucket->stride - 1)) == 0 ? static_cast<double>(bucket->stride) : 0;
}

void DriftMonitor::ObserveLocked(const ObservedRow& row) {
  ++rows_seen_;
  const int regime = profile_.RegimeOf(row.features);
  // Every row moves its machine's levels, whether or not it is windowed or sampled.
  const bool leveled = levels_ && !row.entity.empty();
  if (leveled) levels_->Next(row.entity, row.time, regime, row.features, level_values_.data());
  Bucket* bucket = BucketFor(row.time);
  if (bucket == nullptr) {
    ++late_rows_;
    return;
  }
  // A late row may land in a closed bucket: the closed sum takes it too.
  Bucket* also = bucket == &buckets_.back() ? nullptr : &closed_;
  for (Bucket* b : {bucket, also}) {
    if (b == nullptr) continue;
    ++b->rows;
    if (!b->regime_rows.empty()) {
      ++b->regime_rows[regime >= 0 ? static_cast<size_t>(regime) : b->regime_rows.size() - 1];
    }
    if (options_.probability_threshold && !std::isnan(row.score)) {
      b->scored += 1;
      if (row.score >= *options_.probability_threshold) {
        b->alarms += 1;
        b->p_alarms += row.score;
      } else {
        b->p_rest += row.score;
      }
    }
  }
  const double weight = Sample(bucket);
  if (weight == 0) return;
  if (bucket != pending_bucket_ || also != pending_also_) FlushPending();
  pending_bucket_ = bucket;
  pending_also_ = also;
  pending_rows_.emplace_back(&row, weight);
  if (levels_) {
    if (leveled) {
      pending_levels_.insert(pending_levels_.end(), level_values_.begin(), level_values_.end());
    } else {
      // Not counted in any level column (FlushPending skips rows without a machine).
      pending_levels_.resize(pending_levels_.size() + level_values_.size(), 0.0);
    }
  }
  ++bucket->sampled;
  if (also != nullptr) ++also->sampled;
}

void DriftMonitor::FlushPending() {
  if (pending_rows_.empty()) return;
  // Column by column over the pending rows: a column's edges and bins stay in cache for all of
  // them (row by row, every reading touched a few hundred kilobytes of edges and bins).
  const size_t n = profile_.features.size();
  for (Bucket* b : {pending_bucket_, pending_also_}) {
    if (b == nullptr) continue;
    for (size_t j = 0; j < n; ++j) {
      const double warmup = warmup_[j];
      for (const auto& [row, weight] : pending_rows_) {
        if (j < row->features.size() && !(row->since_start < warmup)) {
          Count(b, j, row->features[j], weight);
        }
      }
    }
    const size_t levels = profile_.levels.size();
    for (size_t l = 0; l < levels; ++l) {
      for (size_t i = 0; i < pending_rows_.size(); ++i) {
        const auto& [row, weight] = pending_rows_[i];
        if (!row->entity.empty()) Count(b, n + l, pending_levels_[i * levels + l], weight);
      }
    }
    const size_t score = n + levels;
    for (const auto& [row, weight] : pending_rows_) {
      if (!(row->since_start < warmup_[score])) Count(b, score, row->score, weight);
    }
  }
  pending_rows_.clear();
  pending_levels_.clear();
}

void DriftMonitor::Observe(std::span<const ObservedRow> rows) {
  std::lock_guard lock(mu_);
  for (const ObservedRow& row : rows) {
    ObserveLocked(row);
    ++rows_since_evaluation_;
    if (!std::isnan(row.time) && (std::isnan(last_time_) || row.time > last_time_)) {
      last_time_ = row.time;
    }
    bool due = false;
    if (options_.every.is_time()) {
      if (std::isnan(next_evaluation_time_) && !std::isnan(last_time_)) {
        next_evaluation_time_ = last_time_ + static_cast<double>(options_.every.amount);
      }
      due = !std::isnan(last_time_) && last_time_ >= next_evaluation_time_;
    } else {
      due = rows_since_evaluation_ >= options_.every.amount;
    }
    if (due) EvaluateLocked();
  }
  FlushPending();  // the rows are the caller's: nothing pending outlives the call
}

void DriftMonitor::ObserveRefused(std::span<const std::vector<std::string>> fields) {
  std::lock_guard lock(mu_);
  if (buckets_.empty()) return;
  Bucket& newest = buckets_.back();
  for (const std::vector<std::string>& reading : fields) {
    ++newest.refused;
    for (const std::string& field : reading) ++newest.refused_fields[field];
  }
}

std::shared_ptr<const DriftReport> DriftMonitor::Latest() const {
  std::lock_guard lock(mu_);
  return latest_;
}

std::shared_ptr<const DriftReport> DriftMonitor::EvaluateNow() {
  std::lock_guard lock(mu_);
  return EvaluateLocked();
}

namespace {

double Threshold(const ColumnThresholds& t, DriftStatus level) {
  return level == DriftStatus::kDrift ? t.drift : t.warning;
}

DriftStatus LevelOf(const ColumnThresholds& t, double psi) {
  if (psi >= t.drift) return DriftStatus::kDrift;
  if (psi >= t.warning) return DriftStatus::kWarning;
  return DriftStatus::kOk;
}

}  // namespace

std::shared_ptr<const DriftReport> DriftMonitor::EvaluateLocked() {
  FlushPending();
  rows_since_evaluation_ = 0;
  if (options_.every.is_time() && !std::isnan(last_time_)) {
    next_evaluation_time_ = last_time_ + static_cast<double>(options_.every.amount);
  }
  // The window's totals: the closed buckets' sum and the open one.
  std::vector<double> counts = closed_.counts;
  std::vector<double> sums = closed_.sums;
  std::vector<double> missing = closed_.missing;
  std::vector<double> regimes(closed_.regime_rows.begin(), closed_.regime_rows.end());
  auto report = std::make_shared<DriftReport>();
  report->window_rows = closed_.rows;
  report->sampled_rows = closed_.sampled;
  double scored = closed_.scored, alarms = closed_.alarms, p_alarms = closed_.p_alarms,
         p_rest = closed_.p_rest;
  if (!buckets_.empty()) {
    const Bucket& b = buckets_.back();
    report->window_rows += b.rows;
    report->sampled_rows += b.sampled;
    for (size_t k = 0; k < total_bins_; ++k) {
      counts[k] += b.counts[k];
      sums[k] += b.sums[k];
    }
    for (size_t c = 0; c < columns_.size(); ++c) missing[c] += b.missing[c];
    for (size_t g = 0; g < regimes.size(); ++g) regimes[g] += static_cast<double>(b.regime_rows[g]);
    scored += b.scored;
    alarms += b.alarms;
    p_alarms += b.p_alarms;
    p_rest += b.p_rest;
  }
  // The fast window: the newest kFastBuckets buckets of the ring (the open one included).
  std::vector<double> fast_counts, fast_regimes(regimes.size(), 0.0);
  int64_t fast_window_rows = 0;
  if (watch_fast_) {
    fast_counts.assign(total_bins_, 0.0);
    const int64_t newest = buckets_.empty() ? 0 : buckets_.back().key;
    for (auto it = buckets_.rbegin(); it != buckets_.rend(); ++it) {
      if (bucket_seconds_ > 0 ? it->key <= newest - kFastBuckets
                              : it - buckets_.rbegin() >= kFastBuckets) {
        break;
      }
      fast_window_rows += it->rows;
      for (size_t k = 0; k < total_bins_; ++k) fast_counts[k] += it->counts[k];
      for (size_t g = 0; g < fast_regimes.size(); ++g) {
        fast_regimes[g] += static_cast<double>(it->regime_rows[g]);
      }
    }
  }
  report->evaluations = ++evaluations_;
  report->evaluated_at = last_time_;
  report->rows_seen = rows_seen_;
  report->late_rows = late_rows_;
  report->warming_up = report->window_rows < options_.min_rows;
  // Data quality: refusals of the closed buckets and the open one.
  std::map<std::string, int64_t> refused = closed_.refused_fields;
  report->refused_readings = closed_.refused;
  if (!buckets_.empty()) {
    report->refused_readings += buckets_.back().refused;
    for (const auto& [field, n] : buckets_.back().refused_fields) refused[field] += n;
  }
  const double offered = static_cast<double>(report->window_rows + report->refused_readings);
  for (const auto& [field, n] : refused) {
    FieldRefusals f{field, n, offered > 0 ? static_cast<double>(n) / offered : 0, DriftStatus::kOk};
    if (f.share >= options_.drift_refusal_share) {
      f.status = DriftStatus::kDrift;
    } else if (f.share >= options_.warning_refusal_share) {
      f.status = DriftStatus::kWarning;
    }
    report->refusals.push_back(std::move(f));
  }
  std::stable_sort(
      report->refusals.begin(), report->refusals.end(),
      [](const FieldRefusals& a, const FieldRefusals& b) { return a.refused > b.refused; });
  report->regime_rows.assign(regimes.begin(), regimes.end());

  // The reference of a column for a window's regime shares, on the fine and the coarse bins:
  // the profile's own histograms when it has no regimes.
  std::vector<double> mixed_fine, mixed_coarse;
  std::span<const double> reference_fine, reference_coarse;
  auto mix = [&](const ColumnProfile& ref, const std::vector<double>& shares) {
    if (ref.regime_counts.empty()) {
      reference_fine = ref.counts;
      reference_coarse = ref.coarse_counts;
      return;
    }
    MixedReference(ref, shares, &mixed_fine);
    mixed_coarse.assign(ref.coarse_bins(), 0.0);
    for (size_t b = 0; b < ref.bins(); ++b) mixed_coarse[ref.coarse_of[b]] += mixed_fine[b];
    reference_fine = mixed_fine;
    reference_coarse = mixed_coarse;
  };
  std::vector<double> means, current_coarse;
  for (size_t c = 0; c < columns_.size(); ++c) {
    const ColumnProfile& ref = *columns_[c];
    const std::span<const double> fine(counts.data() + offsets_[c], ref.bins());
    ColumnDrift d;
    d.name = ref.name;
    means.assign(ref.bins(), 0);
    current_coarse.assign(ref.coarse_bins(), 0);
    for (size_t b = 0; b < ref.bins(); ++b) {
      d.rows += static_cast<int64_t>(fine[b]);
      if (fine[b] > 0) means[b] = sums[offsets_[c] + b] / fine[b];
      current_coarse[ref.coarse_of[b]] += fine[b];
    }
    const double all = static_cast<double>(d.rows) + missing[c];
    d.missing_share = all > 0 ? missing[c] / all : 0;
    d.reference_missing_share = ref.missing_share();
    mix(ref, regimes);
    if (d.rows > 0 && ref.values > 0) {
      d.psi = Psi(reference_coarse, current_coarse);
      d.jensen_shannon = JensenShannonDistance(reference_coarse, current_coarse);
      d.ks = BinnedKs(reference_fine, fine);
      const double w = BinnedWasserstein(reference_fine, ref.means, fine, means);
      d.wasserstein = ref.std > 0 ? w / ref.std : w;
    }
    d.current = current_coarse;
    if (!ref.regime_counts.empty()) d.reference = mixed_coarse;  // else the profile's own
    d.median_shift = ref.MedianShift(fine, reference_fine);
    d.thresholds = thresholds_[c];
    d.median_shift_thresholds = shift_thresholds_[c];
    // Each watched statistic with its thresholds: the column's level is the highest of theirs,
    // and a raised level holds while any of them stays at or above exit_factor x its threshold.
    struct Watched {
      const char* name;
      double value;
      const ColumnThresholds* limits;
    };
    std::vector<Watched> watched = {{"psi", d.psi, &d.thresholds}};
    if (d.median_shift_thresholds && std::isfinite(d.median_shift)) {
      watched.push_back({"median_shift", std::abs(d.median_shift), &*d.median_shift_thresholds});
    }
    const bool fast_watched = fast_thresholds_[c] || fast_shift_thresholds_[c];
    if (fast_watched && fast_window_rows > 0) {
      std::fill(current_coarse.begin(), current_coarse.end(), 0.0);
      for (size_t b = 0; b < ref.bins(); ++b) {
        d.fast_rows += static_cast<int64_t>(fast_counts[offsets_[c] + b]);
        current_coarse[ref.coarse_of[b]] += fast_counts[offsets_[c] + b];
      }
      // The fast window is judged once it holds a quarter of the values the window needs.
      if (d.fast_rows * 4 >= options_.min_rows && ref.values > 0) {
        mix(ref, fast_regimes);
        if (fast_thresholds_[c]) {
          d.fast_psi = Psi(reference_coarse, current_coarse);
          d.fast_thresholds = *fast_thresholds_[c];
          watched.push_back({"fast_window.psi", *d.fast_psi, &d.fast_thresholds});
        }
        const double shift =
            ref.MedianShift({fast_counts.data() + offsets_[c], ref.bins()}, reference_fine);
        if (std::isfinite(shift)) {
          d.fast_median_shift = shift;
          d.fast_median_shift_thresholds = fast_shift_thresholds_[c];
          if (d.fast_median_shift_thresholds) {
            watched.push_back(
                {"fast_window.median_shift", std::abs(shift), &*d.fast_median_shift_thresholds});
          }
        }
      }
    }
    const DriftStatus now = status_[c];
    DriftStatus level = DriftStatus::kOk;
    bool holds =
        false;  // a statistic still at or above exit_factor x the current level's threshold
    for (const Watched& w : watched) {
      const DriftStatus l = LevelOf(*w.limits, w.value);
      if (l > level) {
        level = l;
        d.trigger = w.name;
      }
      if (now != DriftStatus::kOk) {
        holds = holds || w.value >= options_.exit_factor * Threshold(*w.limits, now);
      }
    }
    d.monitored = ref.monitored;
    // Hysteresis on PSI, once the window holds min_rows rows and min_rows values of the column
    // (past its warm-up; a machine new to the server fills its windows first).
    if (!report->warming_up && d.monitored && d.rows >= options_.min_rows) {
      DriftStatus target = level;
      if (target < now && holds) target = now;
      if (target != now && target == candidate_[c]) {
        ++run_[c];
      } else {
        candidate_[c] = target;
        run_[c] = target != now ? 1 : 0;
      }
      if (target != now && run_[c] >= options_.consecutive) {
        status_[c] = target;
        run_[c] = 0;
      }
    }
    d.status = status_[c];
    if (c + 1 < columns_.size()) {
      if (d.monitored) ++report->features_monitored;
      if (d.status == DriftStatus::kDrift) ++report->features_in_drift;
      if (d.status == DriftStatus::kWarning) ++report->features_in_warning;
      report->features.push_back(std::move(d));
    } else {
      report->score = std::move(d);
    }
  }
  if (report->features_monitored > 0) {
    report->drifted_share = static_cast<double>(report->features_in_drift) /
                            static_cast<double>(report->features_monitored);
  }
  report->dataset_drift =
      !report->warming_up && report->drifted_share >= options_.dataset_drift_share;
  if (options_.probability_threshold) {
    PerformanceEstimate p;
    p.rows = static_cast<int64_t>(scored);
    if (scored > 0) {
      const double tp = p_alarms, fp = alarms - p_alarms, fn = p_rest;
      p.alarm_rate = alarms / scored;
      p.expected_positive_rate = (p_alarms + p_rest) / scored;
      if (tp + fp > 0) p.precision = tp / (tp + fp);
      if (tp + fn > 0) p.recall = tp / (tp + fn);
      if (2 * tp + fp + fn > 0) p.f1 = 2 * tp / (2 * tp + fp + fn);
    }
    report->performance = p;
  }
  latest_ = report;
  return report;
}

namespace {

json Number(double v) { return std::isfinite(v) ? json(v) : json(nullptr); }

json ThresholdsJson(const ColumnThresholds& t) {
  return {{"warning", Number(t.warning)},
          {"drift", Number(t.drift)},
          {"source", t.calibrated ? "calibrated" : "fixed"}};
}

json ColumnJson(const ColumnDrift& d, const ColumnProfile& ref, bool histograms) {
  json out = {{"name", d.name},
              {"status", d.monitored ? DriftStatusName(d.status) : "not_monitored"},
              {"kind", ref.kind.empty() ? json(nullptr) : json(ref.kind)},
              {"source", ref.source.empty() ? json(nullptr) : json(ref.source)},
              {"rows", d.rows},
              {"statistics",
               {{"psi", Number(d.psi)},
                {"ks", Number(d.ks)},
                {"jensen_shannon", Number(d.jensen_shannon)},
                {"wasserstein", Number(d.wasserstein)},
                {"median_shift", Number(d.median_shift)}}},
              {"missing_share", Number(d.missing_share)},
              {"reference_missing_share", Number(d.reference_missing_share)},
              {"thresholds", ThresholdsJson(d.thresholds)},
              {"trigger", d.trigger.empty() ? json(nullptr) : json(d.trigger)}};
  if (d.median_shift_thresholds) {
    out["median_shift_thresholds"] = ThresholdsJson(*d.median_shift_thresholds);
  }
  if (d.fast_psi || d.fast_median_shift) {
    json fast = {{"rows", d.fast_rows}};
    if (d.fast_psi) {
      fast["psi"] = Number(*d.fast_psi);
      fast["thresholds"] = ThresholdsJson(d.fast_thresholds);
    }
    if (d.fast_median_shift) fast["median_shift"] = Number(*d.fast_median_shift);
    if (d.fast_median_shift_thresholds) {
      fast["median_shift_thresholds"] = ThresholdsJson(*d.fast_median_shift_thresholds);
    }
    out["fast_window"] = std::move(fast);
  }
  if (histograms) {
    // The coarse bins' upper edges (the last bin is open above the reference's maximum).
    json edges = json::array();
    for (size_t b = 0; b + 1 < ref.bins(); ++b) {
      if (ref.coarse_of[b] != ref.coarse_of[b + 1]) edges.push_back(ref.edges[b]);
    }
    out["histogram"] = {{"upper_edges", std::move(edges)},
                        {"reference", d.reference.empty() ? ref.coarse_counts : d.reference},
                        {"current", d.current}};
  }
  return out;
}

}  // namespace

json DriftReportJson(const DriftReport& report, const ReferenceProfile& profile,
                     const DriftOptions& options, bool histograms) {
  json features = json::array();
  for (size_t j = 0; j < report.features.size() && j < profile.columns(); ++j) {
    features.push_back(ColumnJson(report.features[j], profile.column(j), histograms));
  }
  json out = {{"evaluations", report.evaluations},
              {"window",
               {{"span", core::FormatSpan(options.window)},
                {"rows", report.window_rows},
                {"sampled_rows", report.sampled_rows},
                {"sample_above", options.sample_above},
                {"buckets", options.buckets}}},
              {"every", core::FormatSpan(options.every)},
              {"rows_seen", report.rows_seen},
              {"late_rows", report.late_rows},
              {"warming_up", report.warming_up},
              {"min_rows", options.min_rows},
              {"thresholds",
               {{"statistic", "psi"},
                {"warning", options.warning_psi},
                {"drift", options.drift_psi},
                // Per column in features[].thresholds: calibrated ones are at least these.
                {"calibrated", options.calibrated_thresholds},
                {"calibrated_for", profile.calibration_window
                                       ? json(core::FormatSpan(*profile.calibration_window))
                                       : json(nullptr)},
                {"calibration_margin", options.calibration_margin},
                {"median_shift",
                 {{"warning", options.warning_median_shift},
                  {"drift", options.drift_median_shift},
                  {"unit", "reference quantile"}}},
                {"fast_window_buckets", kFastBuckets},
                {"exit_factor", options.exit_factor},
                {"consecutive", options.consecutive},
                {"dataset_drift_share", options.dataset_drift_share}}},
              {"dataset_drift", report.dataset_drift},
              {"features_in_drift", report.features_in_drift},
              {"features_in_warning", report.features_in_warning},
              {"features_monitored", report.features_monitored},
              {"drifted_share", report.drifted_share},
              {"features", std::move(features)}};
  if (std::isfinite(report.evaluated_at)) out["evaluated_at"] = report.evaluated_at;
  if (report.evaluations > 0) out["score"] = ColumnJson(report.score, profile.score, histograms);
  json fields = json::array();
  for (const FieldRefusals& f : report.refusals) {
    fields.push_back({{"field", f.field},
                      {"refused", f.refused},
                      {"share", f.share},
                      {"status", DriftStatusName(f.status)}});
  }
  const int64_t offered = report.window_rows + report.refused_readings;
  out["data_quality"] = {
      {"readings", offered},
      {"refused", report.refused_readings},
      {"refusal_share",
       offered > 0 ? static_cast<double>(report.refused_readings) / static_cast<double>(offered)
                   : 0.0},
      {"thresholds",
       {{"warning", options.warning_refusal_share}, {"drift", options.drift_refusal_share}}},
      {"fields", std::move(fields)}};
  if (profile.regime_feature) {
    json rows = json::array();
    for (size_t g = 0; g + 1 < report.regime_rows.size(); ++g)
      rows.push_back(report.regime_rows[g]);
    out["regimes"] = {{"feature", profile.features[*profile.regime_feature].name},
                      {"names", profile.regime_names},
                      {"window_rows", std::move(rows)},
                      {"unknown_rows", report.regime_rows.empty() ? 0 : report.regime_rows.back()}};
  }
  return out;
}

}  // namespace pdm::monitor
