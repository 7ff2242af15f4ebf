#include "features/window_stats.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>

#include "features/window_kernels.h"

namespace pdm::features {
namespace {
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
// Sums are rebuilt from the samples after max(4 count, kRebuildAfter) removals: often enough that
// the shift stays near the window's values, rarely enough to cost O(1) amortised. The removals
// after which a window's sums are rebuilt: max(4 count, 64), capped so that it stays within what a
// 32-bit counter reaches. The remove_row kernels apply the same rule to a vector of sensors.
inline double RebuildAfter(double count) {
  return std::min(std::max(4 * count, window_kernels::kRebuildAfter), double{INT32_MAX});
}

// The mean of a window's sums; `inv_n` is 1 / n: the window_kernels' formula, for one sensor.
inline double MeanOf(double n, double inv_n, double kx, double sx) {
  return n > 0 ? kx + sx * inv_n : kNaN;
}
// Per-thread working memory (not per entity: a server keeps thousands of entities): a buffer of
// at least `doubles` doubles, and Emit's gather, for each output value its index in the
// statistics buffer, cached for the last pipeline and entity shape asked for.
double* Scratch(size_t doubles) {
  thread_local std::vector<double> buffer;
  if (buffer.size() < doubles) buffer.resize(doubles);
  return buffer.data();
}
struct EmitPlan {
  std::vector<spec::WindowStat> stats;  // by value: a new pipeline may reuse the old one's memory
  size_t windows = 0, sensors = 0, lanes = 0;
  uint32_t wanted = 0;
  std::vector<uint32_t> from;
};
thread_local EmitPlan thread_emit_plan;

constexpr uint32_t Bit(spec::WindowStat stat) { return uint32_t{1} << static_cast<int>(stat); }
uint32_t WantedBits(std::span<const spec::WindowStat> stats) {
  uint32_t wanted = 0;
  for (spec::WindowStat stat : stats) wanted |= Bit(stat);
  return wanted;
}
}  // namespace

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

EntityWindows::Needs EntityWindows::NeedsOf(std::span<const spec::WindowStat> stats) {
  Needs needs{false, false};
  for (spec::WindowStat stat : stats) {
    needs.ewma = needs.ewma || stat == spec::WindowStat::kEwma;
    needs.extremes = needs.extremes || stat == spec::WindowStat::kMin ||
                     stat == spec::WindowStat::kMax || stat == spec::WindowStat::kRange;
  }
  return needs;
}

EntityWindows::EntityWindows(std::span<const WindowDef> windows, size_t sensors, double time_unit,
                             Needs needs, bool compact_values)
    : defs_(windows),
      sensors_(sensors),
      lanes_((sensors + kLanes - 1) / kLanes * kLanes),
      begins_(defs_.size(), 0),
      sums_(defs_.size() * kFieldCount * lanes_, 0.0),
      cursors_(needs.extremes ? defs_.size() * 2 * sensors : 0, 0),
      extremes_(needs.extremes ? defs_.size() * kExtremeFields * lanes_ : 0, kNaN),
      ewma_(needs.ewma ? defs_.size() * sensors : 0),
      values_(lanes_, compact_values),
      queues_(needs.extremes ? 2 * sensors : 0),
      last_value_(lanes_, 0.0),
      origin_(lanes_, kNaN),
      inverse_time_unit_(1.0 / time_unit),
      needs_(needs) {}

// The vector loops are window_kernels' (baseline or AVX2, the same bits either way).
bool EntityWindows::RemoveRow(size_t w, const double* row, double time, double* leaving) {
  const window_kernels::RowInput in{row, time, origin_.data(), inverse_time_unit_, lanes_};
  return window_kernels::Active().remove_row(
      field(w, kCount), in, leaving != nullptr ? extreme(w, kMinField) : nullptr, leaving);
}

void EntityWindows::Rebuild(size_t w, size_t sensor, const RecordTimes& times, int64_t end) {
  field(w, kRemovals)[sensor] = 0;
  const auto slope_time = [&](int64_t p) {
    return (times.at(p) - origin_[sensor]) * inverse_time_unit_;
  };
  double mean_x = 0, mean_t = 0;
  for (int64_t p = begins_[w]; p < end; ++p) {
    const double x = values_.at(p, sensor);
    if (std::isnan(x)) continue;
    mean_x += x;
    mean_t += slope_time(p);
  }
  const double n = field(w, kCount)[sensor];
  const double kx = mean_x / n, kt = mean_t / n;
  double sx = 0, sxx = 0, st = 0, stt = 0, stx = 0;
  for (int64_t p = begins_[w]; p < end; ++p) {
    const double x = values_.at(p, sensor);
    if (std::isnan(x)) continue;
    const double dx = x - kx, dt = slope_time(p) - kt;
    sx += dx;
    sxx += dx * dx;
    st += dt;
    stt += dt * dt;
    stx += dt * dx;
  }
  field(w, kKx)[sensor] = kx;
  field(w, kKt)[sensor] = kt;
  field(w, kSx)[sensor] = sx;
  field(w, kSxx)[sensor] = sxx;
  field(w, kSt)[sensor] = st;
  field(w, kStt)[sensor] = stt;
  field(w, kStx)[sensor] = stx;
}

void EntityWindows::Update(const RecordTimes& times, int64_t record,
                           std::span<const int64_t> begins, std::span<const double> values) {
  const size_t n = sensors_;
  // This record's values, NaN where not finite (and in the padding lanes), and a decoded row of
  // compact values.
  double* current = Scratch(3 * lanes_);
  double* decoded = current + lanes_;
  double* leaving = decoded + lanes_;  // per sensor: whether a window's extreme may have left
  for (size_t s = 0; s < n; ++s) current[s] = std::isfinite(values[s]) ? values[s] : kNaN;
  std::fill(current + n, current + lanes_, kNaN);
  const double time = times.at(record);
  for (size_t s = 0; s < n; ++s) {
    if (std::isnan(origin_[s]) && !std::isnan(current[s])) origin_[s] = time;
  }
  // The rows are positions of records: a record without valid values is a row of NaN.
  if (values_.empty() && values_.end() < record) values_.StartAt(record);
  while (values_.end() < record) {
    std::fill_n(decoded, lanes_, kNaN);
    values_.push_back(decoded);
  }
  values_.push_back(current);
  int64_t keep_from = record;
  values_.WithRowReader([&](const auto& row_at) {
    for (size_t w = 0; w < defs_.size(); ++w) {
      int64_t& begin = begins_[w];
      if (begin < values_.begin()) begin = values_.begin();  // after StartAt
      const int64_t first = std::min(begins[w], record);
      if (begin < first && needs_.extremes) std::fill_n(leaving, lanes_, 0.0);
      const bool removing = begin < first;
      while (begin < first) {
        const int64_t position = begin++;
        if (RemoveRow(w, row_at(position, decoded), times.at(position),
                      needs_.extremes ? leaving : nullptr)) {
          const double* count = field(w, kCount);
          const double* removals = field(w, kRemovals);
          for (size_t s = 0; s < n; ++s) {
            if (removals[s] >= RebuildAfter(count[s])) Rebuild(w, s, times, record);
          }
        }
      }
      if (needs_.extremes && removing) {
        for (size_t s = 0; s < n; ++s) {
          if (std::bit_cast<uint64_t>(leaving[s]) == 0) continue;  // its extremes are still in
          const Ring<uint32_t>& min = min_queue(s);
          const Ring<uint32_t>& max = max_queue(s);
          int64_t& min_at = min_cursor(w, s);
          int64_t& max_at = max_cursor(w, s);
          const int64_t min_was = min_at, max_was = max_at;
          while (min_at < min.end() && Before(min.at(min_at), begin)) ++min_at;
          while (max_at < max.end() && Before(max.at(max_at), begin)) ++max_at;
          // The window's extreme left it: the next entry (if any) is the extreme now.
          if (min_at != min_was && min_at < min.end()) {
            extreme(w, kMinField)[s] = QueueValue(s, min.at(min_at));
          }
          if (max_at != max_was && max_at < max.end()) {
            extreme(w, kMaxField)[s] = QueueValue(s, max.at(max_at));
          }
        }
      }
      keep_from = std::min(keep_from, begin);
    }
  });
  // Queue entries are decoded relative to values_.begin(): drop them before the values.
  for (Ring<uint32_t>& queue : queues_) {
    while (!queue.empty() && Before(queue.front(), keep_from)) queue.pop_front();
  }
  values_.drop_before(keep_from);

  if (!defs_.empty()) {
    const window_kernels::RowInput in{current, time, origin_.data(), inverse_time_unit_, lanes_};
    window_kernels::Active().add_rows(sums_.data(), defs_.size(), in);
  }
  for (size_t s = 0; s < n; ++s) {
    const double x = current[s];
    if (std::isnan(x)) continue;
    if (needs_.extremes) {
      const auto entry = static_cast<uint32_t>(record);
      Ring<uint32_t>& min = min_queue(s);
      Ring<uint32_t>& max = max_queue(s);
      // The back of both queues is the sensor's last valid value.
      if (!min.empty() && last_value_[s] >= x) {
        min.pop_back();
        while (!min.empty() && QueueValue(s, min.back()) >= x) min.pop_back();
      }
      if (!max.empty() && last_value_[s] <= x) {
        max.pop_back();
        while (!max.empty() && QueueValue(s, max.back()) <= x) max.pop_back();
      }
      min.push_back(entry);
      max.push_back(entry);
      // Entries popped from the back were not below the new value: if a window's extreme was
      // among them, the new sample (in every window) is the extreme now.
      for (size_t w = 0; w < defs_.size(); ++w) {
        if (min_cursor(w, s) >= min.end() - 1) {
          min_cursor(w, s) = min.end() - 1;
          extreme(w, kMinField)[s] = x;
        }
        if (max_cursor(w, s) >= max.end() - 1) {
          max_cursor(w, s) = max.end() - 1;
          extreme(w, kMaxField)[s] = x;
        }
      }
    }
    last_value_[s] = x;
    if (needs_.ewma) {
      // Half-life = window length (time windows), span = window length (record windows), as
      // pandas ewm(halflife=W, times=t) and ewm(span=N) with adjust=True.
      for (size_t w = 0; w < defs_.size(); ++w) {
        const WindowDef& def = defs_[w];
        Ewma& ewma = ewma_[w * n + s];
        const double now = def.by_time ? time : static_cast<double>(record);
        if (ewma.started) {
          const double elapsed = now - ewma.time;
          const double decay = def.by_time ? std::exp2(-elapsed / def.length)
                                           : std::pow(1.0 - 2.0 / (def.length + 1.0), elapsed);
          ewma.num *= decay;
          ewma.den *= decay;
        }
        ewma.num += x;
        ewma.den += 1.0;
        ewma.time = now;
        ewma.started = true;
      }
    }
  }
}

void EntityWindows::Reset(size_t sensor) {
  values_.ClearSensor(sensor);
  for (size_t w = 0; w < defs_.size(); ++w) {
    for (int f = 0; f < kFieldCount; ++f) field(w, static_cast<Field>(f))[sensor] = 0;
    if (needs_.ewma) ewma_[w * sensors_ + sensor] = Ewma{};
  }
  if (needs_.extremes) {
    min_queue(sensor).clear();
    max_queue(sensor).clear();
    for (size_t w = 0; w < defs_.size(); ++w) {
      min_cursor(w, sensor) = min_queue(sensor).end();
      max_cursor(w, sensor) = max_queue(sensor).end();
    }
  }
  origin_[sensor] = kNaN;
}

double EntityWindows::Stat(size_t sensor, int w, spec::WindowStat stat, int baseline) const {
  std::vector<double> base_mean(lanes_), by_stat(spec::kWindowStatCount * lanes_);
  BaselineMeans(baseline, base_mean.data());
  WindowValues(static_cast<size_t>(w), 1, Bit(stat), base_mean.data(), by_stat.data(), 0);
  return by_stat[static_cast<size_t>(stat) * lanes_ + sensor];
}

void EntityWindows::BaselineMeans(int baseline, double* out) const {
  if (baseline < 0) {
    std::fill_n(out, lanes_, kNaN);
    return;
  }
  const auto w = static_cast<size_t>(baseline);
  const double* count = field(w, kCount);
  const double* kx = field(w, kKx);
  const double* sx = field(w, kSx);
  for (size_t s = 0; s < lanes_; ++s) out[s] = MeanOf(count[s], 1.0 / count[s], kx[s], sx[s]);
}

// Where each statistic of window_kernels::OutputStat lies in a window's block of by_stat.
constexpr uint8_t kOutputSlots[window_kernels::kOutputStats] = {
    static_cast<uint8_t>(spec::WindowStat::kCount), static_cast<uint8_t>(spec::WindowStat::kMean),
    static_cast<uint8_t>(spec::WindowStat::kDelta), static_cast<uint8_t>(spec::WindowStat::kLast),
    static_cast<uint8_t>(spec::WindowStat::kStd),   static_cast<uint8_t>(spec::WindowStat::kSlope),
    static_cast<uint8_t>(spec::WindowStat::kMin),   static_cast<uint8_t>(spec::WindowStat::kMax),
    static_cast<uint8_t>(spec::WindowStat::kRange)};

void EntityWindows::WindowValues(size_t first, size_t count, uint32_t wanted,
                                 const double* base_mean, double* by_stat,
                                 size_t window_stride) const {
  using spec::WindowStat;
  const bool want_extremes =
      (wanted & (Bit(WindowStat::kMin) | Bit(WindowStat::kMax) | Bit(WindowStat::kRange))) != 0;
  const bool extremes = want_extremes && needs_.extremes;
  window_kernels::Active().window_values(
      {field(first, kCount), extremes ? extreme(first, kMinField) : nullptr, count,
       last_value_.data(), base_mean, (wanted & Bit(WindowStat::kStd)) != 0,
       (wanted & Bit(WindowStat::kSlope)) != 0, lanes_, by_stat, window_stride, kOutputSlots});
  for (size_t i = 0; i < count; ++i) {
    const size_t w = first + i;
    const auto out = [&](WindowStat stat) {
      return by_stat + i * window_stride + static_cast<size_t>(stat) * lanes_;
    };
    if (want_extremes && !extremes) {
      std::fill_n(out(WindowStat::kMin), lanes_, kNaN);
      std::fill_n(out(WindowStat::kMax), lanes_, kNaN);
      std::fill_n(out(WindowStat::kRange), lanes_, kNaN);
    }
    if (wanted & Bit(WindowStat::kEwma)) {
      const size_t n = sensors_;
      double* ewma_out = out(WindowStat::kEwma);
      for (size_t s = 0; s < n; ++s) {
        const bool started = needs_.ewma && ewma_[w * n + s].started;
        ewma_out[s] = started ? ewma_[w * n + s].num / ewma_[w * n + s].den : kNaN;
      }
    }
  }
}

void EntityWindows::Emit(size_t windows, std::span<const spec::WindowStat> stats, int baseline,
                         double* out) const {
  const size_t window_stride = spec::kWindowStatCount * lanes_;
  double* base_mean = Scratch((1 + windows * spec::kWindowStatCount) * lanes_);
  double* by_stat = base_mean + lanes_;  // window after window, kWindowStatCount rows each
  EmitPlan& plan = thread_emit_plan;
  if (!std::equal(stats.begin(), stats.end(), plan.stats.begin(), plan.stats.end()) ||
      plan.windows != windows || plan.sensors != sensors_ || plan.lanes != lanes_) {
    // Where each output value lies in by_stat: computed once for a pipeline's statistics.
    plan.stats.assign(stats.begin(), stats.end());
    plan.windows = windows;
    plan.sensors = sensors_;
    plan.lanes = lanes_;
    plan.wanted = WantedBits(stats);
    plan.from.clear();
    for (size_t s = 0; s < sensors_; ++s) {
      for (size_t w = 0; w < windows; ++w) {
        for (spec::WindowStat stat : stats) {
          plan.from.push_back(
              static_cast<uint32_t>(w * window_stride + static_cast<size_t>(stat) * lanes_ + s));
        }
      }
    }
  }
  BaselineMeans(baseline, base_mean);
  WindowValues(0, windows, plan.wanted, base_mean, by_stat, window_stride);
  const uint32_t* from = plan.from.data();
  const size_t values = plan.from.size();
  for (size_t i = 0; i < values; ++i) out[i] = by_stat[from[i]];
}

void EntityWindows::Write(ByteWriter& out) const {
  out.Put<uint64_t>(sensors_);
  out.Put<uint64_t>(defs_.size());
  out.Put(needs_.ewma);
  out.Put(needs_.extremes);
  for (size_t s = 0; s < sensors_; ++s) {
    out.Put(origin_[s]);
    out.Put(last_value_[s]);
  }
  values_.Write(out, sensors_);
  for (const Ring<uint32_t>& queue : queues_) queue.Write(out);
  for (int64_t begin : begins_) out.Put(begin);
  for (double v : sums_) out.Put(v);
  for (int64_t cursor : cursors_) out.Put(cursor);
  for (const Ewma& ewma : ewma_) {
    for (double v : {ewma.num, ewma.den, ewma.time}) out.Put(v);
    out.Put(ewma.started);
  }
}

bool EntityWindows::Read(ByteReader& in) {
  uint64_t sensors = 0, windows = 0;
  Needs needs;
  if (!in.Get(&sensors) || sensors != sensors_ || !in.Get(&windows) || windows != defs_.size() ||
      !in.Get(&needs.ewma) || !in.Get(&needs.extremes) || needs.ewma != needs_.ewma ||
      needs.extremes != needs_.extremes) {
    return false;
  }
  for (size_t s = 0; s < sensors_; ++s) {
    if (!in.Get(&origin_[s]) || !in.Get(&last_value_[s])) return false;
  }
  if (!values_.Read(in, sensors_)) return false;
  for (Ring<uint32_t>& queue : queues_) {
    if (!queue.Read(in)) return false;
  }
  for (int64_t& begin : begins_) {
    if (!in.Get(&begin)) return false;
  }
  for (double& v : sums_) {
    if (!in.Get(&v)) return false;
  }
  for (int64_t& cursor : cursors_) {
    if (!in.Get(&cursor)) return false;
  }
  for (Ewma& ewma : ewma_) {
    for (double* v : {&ewma.num, &ewma.den, &ewma.time}) {
      if (!in.Get(v)) return false;
    }
    if (!in.Get(&ewma.started)) return false;
  }
  // Whatever the bytes say must describe a state Update could have reached, or the state is
  // corrupt: queue entries are increasing positions of valid values kept, their values strictly
  // monotonic, ending at the sensor's last valid value; windows begin among the records kept,
  // their counts match the valid values from there, and their extremes lie inside them.
  for (int64_t begin : begins_) {
    if (begin < values_.begin() || begin > values_.end()) return false;
  }
  for (size_t s = 0; s < sensors_; ++s) {
    int64_t last_valid = values_.begin() - 1;
    for (int64_t p = values_.begin(); p < values_.end(); ++p) {
      if (!std::isnan(values_.at(p, s))) last_valid = p;
    }
    if (needs_.extremes) {
      for (const Ring<uint32_t>* q : {&min_queue(s), &max_queue(s)}) {
        const bool increasing = q == &min_queue(s);
        int64_t previous = values_.begin() - 1;
        for (int64_t p = q->begin(); p < q->end(); ++p) {
          const int64_t position = PositionOf(q->at(p));
          if (position <= previous || position >= values_.end() ||
              std::isnan(values_.at(position, s)) ||
              (previous >= values_.begin() &&
               !(increasing ? values_.at(previous, s) < values_.at(position, s)
                            : values_.at(previous, s) > values_.at(position, s)))) {
            return false;
          }
          previous = position;
        }
        if (last_valid >= values_.begin() && (q->empty() || PositionOf(q->back()) != last_valid ||
                                              !(values_.at(last_valid, s) == last_value_[s]))) {
          return false;
        }
      }
    }
    for (size_t w = 0; w < defs_.size(); ++w) {
      int64_t valid = 0;
      for (int64_t p = begins_[w]; p < values_.end(); ++p) {
        valid += std::isnan(values_.at(p, s)) ? 0 : 1;
      }
      const double count = field(w, kCount)[s];
      const double removals = field(w, kRemovals)[s];
      if (count != static_cast<double>(valid) || !(removals >= 0 && removals <= INT32_MAX)) {
        return false;
      }
      if (needs_.extremes) {
        // A cursor is at the first entry inside its window (at the end when there is none).
        for (auto [queue, cursor] : {std::pair{&min_queue(s), min_cursor(w, s)},
                                     std::pair{&max_queue(s), max_cursor(w, s)}}) {
          if (count == 0 ? cursor != queue->end()
                         : cursor < queue->begin() || cursor >= queue->end() ||
                               PositionOf(queue->at(cursor)) < begins_[w] ||
                               (cursor > queue->begin() &&
                                PositionOf(queue->at(cursor - 1)) >= begins_[w])) {
            return false;
          }
        }
      }
      if (needs_.extremes && count > 0) {
        extreme(w, kMinField)[s] = QueueValue(s, min_queue(s).at(min_cursor(w, s)));
        extreme(w, kMaxField)[s] = QueueValue(s, max_queue(s).at(max_cursor(w, s)));
      }
    }
  }
  return true;
}

}  // namespace pdm::features
