#include "features/window_stats.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>

namespace pdm::features {
namespace {
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
// Sums are rebuilt from the samples after max(4 count, kRebuildAfter) removals: often enough that
// the shift stays near the window's values, rarely enough to cost O(1) amortised.
constexpr int32_t kRebuildAfter = 64;

// 1 / n for the sample counts of common windows, correctly rounded (the compiler divides, as the
// machine would): the statistics multiply instead of dividing, per window and reading.
constexpr int32_t kInverseTableSize = 2048;
constexpr auto kInverse = [] {
  std::array<double, kInverseTableSize> table{};
  table[0] = std::numeric_limits<double>::infinity();
  for (int32_t n = 1; n < kInverseTableSize; ++n) table[static_cast<size_t>(n)] = 1.0 / n;
  return table;
}();
inline double InverseOf(int32_t n) {
  return n >= 0 && n < kInverseTableSize ? kInverse[static_cast<size_t>(n)] : 1.0 / n;
}

// The formulas of the statistics. `inv_n` is 1 / n and `inv_n1` 1 / (n - 1) (InverseOf).
inline double MeanOf(double n, double inv_n, double kx, double sx) {
  return n > 0 ? kx + sx * inv_n : kNaN;
}
inline double StdOf(double n, double inv_n, double inv_n1, double sx, double sxx) {
  return n >= 2 ? std::sqrt(std::max(sxx - sx * sx * inv_n, 0.0) * inv_n1) : kNaN;
}
inline double SlopeOf(double n, double inv_n, double sx, double st, double stt, double stx) {
  const double var_t = stt - st * st * inv_n;
  return n >= 2 && var_t > 0 ? (stx - st * sx * inv_n) / var_t : kNaN;
}
constexpr uint32_t Bit(spec::WindowStat stat) { return uint32_t{1} << static_cast<int>(stat); }
uint32_t WantedBits(std::span<const spec::WindowStat> stats) {
  uint32_t wanted = 0;
  for (spec::WindowStat stat : stats) wanted |= Bit(stat);
  return wanted;
}
}  // namespace

SensorWindows::Needs SensorWindows::NeedsOf(std::span<const spec::WindowStat> stats) {
  Needs needs{false, false};
  for (spec::WindowStat stat : stats) {
    needs.ewma = needs.ewma || stat == spec::WindowStat::kEwma;
    needs.extremes = needs.extremes || stat == spec::WindowStat::kMin ||
                     stat == spec::WindowStat::kMax || stat == spec::WindowStat::kRange;
  }
  return needs;
}

SensorWindows::SensorWindows(std::span<const WindowDef> windows, double time_unit, Needs needs,
                             bool compact_values)
    : defs_(windows),
      acc_(defs_.size()),
      ewma_(needs.ewma ? defs_.size() : 0),
      values_(compact_values),
      inverse_time_unit_(1.0 / time_unit),
      needs_(needs) {}

void SensorWindows::Remove(Accumulator& acc, double x, double t, const RecordTimes& times,
                           int64_t end) {
  ++acc.begin;
  if (--acc.count == 0) {
    acc.sx = acc.sxx = acc.st = acc.stt = acc.stx = 0;
    acc.removals = 0;
    return;
  }
  const double dx = x - acc.kx;
  const double dt = t - acc.kt;
  acc.sx -= dx;
  acc.sxx -= dx * dx;
  acc.st -= dt;
  acc.stt -= dt * dt;
  acc.stx -= dt * dx;
  // In 64 bits: 4 count passes int32 for windows of more than 2^29 samples, and the threshold is
  // capped so that the 32-bit removal counter always reaches it.
  const int64_t rebuild_after =
      std::min<int64_t>(std::max<int64_t>(4 * int64_t{acc.count}, kRebuildAfter),
                        std::numeric_limits<int32_t>::max());
  if (++acc.removals >= rebuild_after) Rebuild(acc, times, end);
}

void SensorWindows::Rebuild(Accumulator& acc, const RecordTimes& times, int64_t end) const {
  acc.removals = 0;
  double mean_x = 0, mean_t = 0;
  for (int64_t p = acc.begin; p < end; ++p) {
    const double x = values_.at(p);
    if (std::isnan(x)) continue;
    mean_x += x;
    mean_t += SlopeTime(times.at(p));
  }
  const double n = static_cast<double>(acc.count);
  acc.kx = mean_x / n;
  acc.kt = mean_t / n;
  acc.sx = acc.sxx = acc.st = acc.stt = acc.stx = 0;
  for (int64_t p = acc.begin; p < end; ++p) {
    const double x = values_.at(p);
    if (std::isnan(x)) continue;
    const double dx = x - acc.kx, dt = SlopeTime(times.at(p)) - acc.kt;
    acc.sx += dx;
    acc.sxx += dx * dx;
    acc.st += dt;
    acc.stt += dt * dt;
    acc.stx += dt * dx;
  }
}

void AdvanceWindowBegins(std::span<const WindowDef> defs, const RecordTimes& times, int64_t record,
                         std::span<int64_t> begins) {
  const double time = times.at(record);
  for (size_t w = 0; w < defs.size(); ++w) {
    const WindowDef& def = defs[w];
    int64_t& begin = begins[w];
    if (def.by_time) {
      while (begin < record && !(times.at(begin) > time - def.length)) ++begin;
    } else {
      while (begin < record &&
             !(static_cast<double>(begin) > static_cast<double>(record) - def.length)) {
        ++begin;
      }
    }
  }
}

void SensorWindows::Advance(const RecordTimes& times, int64_t record,
                            std::span<const int64_t> begins) {
  // The slot of this record (positions are records; skipped records are slots without a value).
  if (values_.empty() && values_.end() < record) values_.StartAt(record);
  while (values_.end() <= record) values_.push_missing();
  const int64_t end = values_.end();
  const int64_t values_begin = values_.begin();
  int64_t keep_from = end - 1;
  values_.WithReader([&](const auto& value_at) {
    for (size_t w = 0; w < defs_.size(); ++w) {
      Accumulator& acc = acc_[w];
      if (acc.begin < values_begin) acc.begin = values_begin;  // after StartAt
      const int64_t first = std::min(begins[w], end - 1);
      while (acc.begin < first) {
        const double x = value_at(acc.begin);
        if (std::isnan(x)) {
          ++acc.begin;
        } else {
          Remove(acc, x, SlopeTime(times.at(acc.begin)), times, end);
        }
      }
      if (needs_.extremes) {
        while (acc.min_cursor < min_queue_.end() &&
               PositionOf(min_queue_.at(acc.min_cursor)) < acc.begin) {
          ++acc.min_cursor;
        }
        while (acc.max_cursor < max_queue_.end() &&
               PositionOf(max_queue_.at(acc.max_cursor)) < acc.begin) {
          ++acc.max_cursor;
        }
      }
      keep_from = std::min(keep_from, acc.begin);
    }
  });
  // Queue entries are decoded relative to values_.begin(): drop them before the values.
  while (!min_queue_.empty() && PositionOf(min_queue_.front()) < keep_from) min_queue_.pop_front();
  while (!max_queue_.empty() && PositionOf(max_queue_.front()) < keep_from) max_queue_.pop_front();
  values_.drop_before(keep_from);
}

void SensorWindows::Add(const RecordTimes& times, int64_t record, double value) {
  const double time = times.at(record);
  if (!has_origin_) {
    origin_ = time;
    has_origin_ = true;
  }
  values_.set(record, value);
  last_value_ = value;
  if (needs_.extremes) {
    const auto entry = static_cast<uint32_t>(record);
    values_.WithReader([&](const auto& value_at) {
      while (!min_queue_.empty() && value_at(PositionOf(min_queue_.back())) >= value) {
        min_queue_.pop_back();
      }
      while (!max_queue_.empty() && value_at(PositionOf(max_queue_.back())) <= value) {
        max_queue_.pop_back();
      }
    });
    min_queue_.push_back(entry);
    max_queue_.push_back(entry);
  }
  for (size_t w = 0; w < defs_.size(); ++w) AddToWindow(w, acc_[w], value, time, record);
}

void SensorWindows::AddToWindow(size_t w, Accumulator& acc, double value, double time,
                                int64_t record) {
  const double slope_time = SlopeTime(time);
  if (needs_.extremes) {
    // Entries popped from the back were not below the new value: if the window's extreme was
    // among them, the new sample (in every window) is the extreme now.
    acc.min_cursor = std::min(acc.min_cursor, min_queue_.end() - 1);
    acc.max_cursor = std::min(acc.max_cursor, max_queue_.end() - 1);
  }
  if (acc.count++ == 0) {
    acc.kx = value;
    acc.kt = slope_time;
  }
  const double dx = value - acc.kx;
  const double dt = slope_time - acc.kt;
  acc.sx += dx;
  acc.sxx += dx * dx;
  acc.st += dt;
  acc.stt += dt * dt;
  acc.stx += dt * dx;
  if (needs_.ewma) {
    // Half-life = window length (time windows), span = window length (record windows), as
    // pandas ewm(halflife=W, times=t) and ewm(span=N) with adjust=True.
    const WindowDef& def = defs_[w];
    Ewma& ewma = ewma_[w];
    const double now = def.by_time ? time : static_cast<double>(record);
    if (ewma.started) {
      const double elapsed = now - ewma.time;
      const double decay = def.by_time ? std::exp2(-elapsed / def.length)
                                       : std::pow(1.0 - 2.0 / (def.length + 1.0), elapsed);
      ewma.num *= decay;
      ewma.den *= decay;
    }
    ewma.num += value;
    ewma.den += 1.0;
    ewma.time = now;
    ewma.started = true;
  }
}

void SensorWindows::Reset() {
  values_.clear();
  min_queue_.clear();
  max_queue_.clear();
  for (Ewma& ewma : ewma_) ewma = Ewma{};
  for (Accumulator& acc : acc_) {
    acc = Accumulator{};
    acc.begin = values_.end();
    acc.min_cursor = min_queue_.end();
    acc.max_cursor = max_queue_.end();
  }
  has_origin_ = false;
}

double SensorWindows::Stat(int w, spec::WindowStat stat, int baseline) const {
  double by_stat[spec::kWindowStatCount];
  WindowValues(static_cast<size_t>(w), Bit(stat), BaselineMean(baseline), by_stat);
  return by_stat[static_cast<int>(stat)];
}

double SensorWindows::BaselineMean(int baseline) const {
  if (baseline < 0) return kNaN;
  const Accumulator& base = acc_[static_cast<size_t>(baseline)];
  return MeanOf(static_cast<double>(base.count), InverseOf(base.count), base.kx, base.sx);
}

void SensorWindows::WindowValues(size_t w, uint32_t wanted, double base_mean,
                                 double* by_stat) const {
  using spec::WindowStat;
  const Accumulator& acc = acc_[w];
  const double n = static_cast<double>(acc.count);
  const double inv_n = InverseOf(acc.count);
  const bool any = acc.count > 0;
  by_stat[static_cast<int>(WindowStat::kCount)] = n;
  const double mean = MeanOf(n, inv_n, acc.kx, acc.sx);
  by_stat[static_cast<int>(WindowStat::kMean)] = mean;
  by_stat[static_cast<int>(WindowStat::kDelta)] = mean - base_mean;
  by_stat[static_cast<int>(WindowStat::kLast)] = any ? last_value_ : kNaN;
  if (wanted & Bit(WindowStat::kStd)) {
    by_stat[static_cast<int>(WindowStat::kStd)] =
        StdOf(n, inv_n, InverseOf(acc.count - 1), acc.sx, acc.sxx);
  }
  if (wanted & Bit(WindowStat::kSlope)) {
    by_stat[static_cast<int>(WindowStat::kSlope)] =
        SlopeOf(n, inv_n, acc.sx, acc.st, acc.stt, acc.stx);
  }
  if (wanted & (Bit(WindowStat::kMin) | Bit(WindowStat::kMax) | Bit(WindowStat::kRange))) {
    const double min = any && needs_.extremes ? Min(acc) : kNaN;
    const double max = any && needs_.extremes ? Max(acc) : kNaN;
    by_stat[static_cast<int>(WindowStat::kMin)] = min;
    by_stat[static_cast<int>(WindowStat::kMax)] = max;
    by_stat[static_cast<int>(WindowStat::kRange)] = max - min;
  }
  if (wanted & Bit(WindowStat::kEwma)) {
    const bool started = needs_.ewma && ewma_[w].started;
    by_stat[static_cast<int>(WindowStat::kEwma)] = started ? ewma_[w].num / ewma_[w].den : kNaN;
  }
}

void SensorWindows::EmitWindows(size_t windows, std::span<const spec::WindowStat> stats,
                                int baseline, double* out) const {
  const uint32_t wanted = WantedBits(stats);
  const double base_mean = BaselineMean(baseline);
  double by_stat[spec::kWindowStatCount];
  for (size_t w = 0; w < windows; ++w) {
    WindowValues(w, wanted, base_mean, by_stat);
    for (spec::WindowStat stat : stats) *out++ = by_stat[static_cast<int>(stat)];
  }
}

void SensorWindows::Write(ByteWriter& out) const {
  out.Put<uint64_t>(defs_.size());
  out.Put(needs_.ewma);
  out.Put(needs_.extremes);
  out.Put(origin_);
  out.Put(has_origin_);
  out.Put(last_value_);
  values_.Write(out);
  min_queue_.Write(out);
  max_queue_.Write(out);
  for (const Accumulator& acc : acc_) {
    out.Put(acc.begin);
    out.Put(acc.min_cursor);
    out.Put(acc.max_cursor);
    out.Put(acc.count);
    out.Put(acc.removals);
    for (double v : {acc.kx, acc.kt, acc.sx, acc.sxx, acc.st, acc.stt, acc.stx}) out.Put(v);
  }
  for (const Ewma& ewma : ewma_) {
    for (double v : {ewma.num, ewma.den, ewma.time}) out.Put(v);
    out.Put(ewma.started);
  }
}

bool SensorWindows::Read(ByteReader& in) {
  uint64_t windows = 0;
  Needs needs;
  if (!in.Get(&windows) || windows != defs_.size() || !in.Get(&needs.ewma) ||
      !in.Get(&needs.extremes) || needs.ewma != needs_.ewma || needs.extremes != needs_.extremes ||
      !in.Get(&origin_) || !in.Get(&has_origin_) || !in.Get(&last_value_) || !values_.Read(in) ||
      !min_queue_.Read(in) || !max_queue_.Read(in)) {
    return false;
  }
  // Queue entries must be increasing positions of valid values kept, their values strictly
  // monotonic, ending at the last valid value, or the state is corrupt.
  int64_t last_valid = values_.begin() - 1;
  for (int64_t p = values_.begin(); p < values_.end(); ++p) {
    if (!std::isnan(values_.at(p))) last_valid = p;
  }
  for (const Ring<uint32_t>* q : {&min_queue_, &max_queue_}) {
    const bool increasing = q == &min_queue_;
    int64_t previous = values_.begin() - 1;
    for (int64_t p = q->begin(); p < q->end(); ++p) {
      const int64_t position = PositionOf(q->at(p));
      if (position <= previous || position >= values_.end() || std::isnan(values_.at(position)) ||
          (previous >= values_.begin() &&
           !(increasing ? values_.at(previous) < values_.at(position)
                        : values_.at(previous) > values_.at(position)))) {
        return false;
      }
      previous = position;
    }
    if (needs_.extremes && last_valid >= values_.begin() &&
        (q->empty() || PositionOf(q->back()) != last_valid)) {
      return false;
    }
  }
  for (Accumulator& acc : acc_) {
    if (!in.Get(&acc.begin) || !in.Get(&acc.min_cursor) || !in.Get(&acc.max_cursor) ||
        !in.Get(&acc.count) || !in.Get(&acc.removals)) {
      return false;
    }
    for (double* v : {&acc.kx, &acc.kt, &acc.sx, &acc.sxx, &acc.st, &acc.stt, &acc.stx}) {
      if (!in.Get(v)) return false;
    }
    if (needs_.extremes && acc.count > 0 &&
        (acc.min_cursor < min_queue_.begin() || acc.min_cursor >= min_queue_.end() ||
         acc.max_cursor < max_queue_.begin() || acc.max_cursor >= max_queue_.end() ||
         PositionOf(min_queue_.at(acc.min_cursor)) < acc.begin ||
         PositionOf(max_queue_.at(acc.max_cursor)) < acc.begin)) {
      return false;
    }
    // Positions must point into the values kept and the count match them, or the state is
    // corrupt.
    if (acc.begin < values_.begin() || acc.begin > values_.end() || acc.removals < 0) {
      return false;
    }
    int64_t valid = 0;
    for (int64_t p = acc.begin; p < values_.end(); ++p) valid += std::isnan(values_.at(p)) ? 0 : 1;
    if (acc.count != valid) return false;
  }
  for (Ewma& ewma : ewma_) {
    for (double* v : {&ewma.num, &ewma.den, &ewma.time}) {
      if (!in.Get(v)) return false;
    }
    if (!in.Get(&ewma.started)) return false;
  }
  return true;
}

}  // namespace pdm::features
