// Sliding statistics of one sensor over several windows, updated one sample at a time in O(1)
// amortised per window: sums of deviations from a moving shift (rebuilt from the samples now and
// then) for mean / std / slope, one monotonic queue pair for min / max, exponential sums for the
// EWMA. This is the only implementation of window statistics: the batch builder and the online
// state both drive it. See docs/features.md and docs/adr/0003.
#ifndef PDM_FEATURES_WINDOW_STATS_H_
#define PDM_FEATURES_WINDOW_STATS_H_

#include <cstdint>
#include <span>
#include <vector>

#include "features/byte_io.h"
#include "spec/dataset_spec.h"

namespace pdm::features {

// A window over time (the interval (t - length, t], length in the data's time unit) or over the
// last `length` records of the entity (the current one included).
struct WindowDef {
  bool by_time = true;
  double length = 0;
};

// A growable ring of values addressed by absolute position (positions only increase).
// kCompact rings grow by an eighth when full: the per-record rings of states kept for many
// machines at once, where slack costs more than the compare-and-subtract of the wrap-around.
// Other rings (the small monotonic queues) double to a power of two and index with a mask.
template <typename T, bool kCompact = false>
class Ring {
 public:
  int64_t begin() const { return begin_; }
  int64_t end() const { return end_; }
  bool empty() const { return begin_ == end_; }
  int64_t size() const { return end_ - begin_; }
  size_t capacity() const { return capacity_; }
  const T& at(int64_t position) const { return data_[Index(position)]; }
  T& at(int64_t position) { return data_[Index(position)]; }
  const T& front() const { return at(begin_); }
  const T& back() const { return at(end_ - 1); }
  void push_back(const T& value) {
    if (static_cast<size_t>(size()) == capacity_) Grow();
    ++end_;
    at(end_ - 1) = value;
  }
  void pop_front() {
    ++begin_;
    if constexpr (kCompact) {
      if (++head_ == capacity_) head_ = 0;
    }
  }
  void pop_back() { --end_; }
  // Drops every element before `position` (at most end()).
  void drop_before(int64_t position) {
    if (position <= begin_) return;
    if constexpr (kCompact) {
      size_t step = static_cast<size_t>(position - begin_);
      if (step >= capacity_) step = capacity_ == 0 ? 0 : step % capacity_;  // rare
      head_ += step;
      if (head_ >= capacity_) head_ -= capacity_;
    }
    begin_ = position;
  }
  void clear() { drop_before(end_); }
  // Starts an empty ring at `position` (positions before it are never used).
  void StartAt(int64_t position) {
    data_.clear();
    capacity_ = 0;
    head_ = 0;
    begin_ = end_ = position;
  }
  void Write(ByteWriter& out) const;
  bool Read(ByteReader& in);

 private:
  size_t Index(int64_t position) const {
    if constexpr (kCompact) {
      size_t i = head_ + static_cast<size_t>(position - begin_);
      if (i >= capacity_) i -= capacity_;
      return i;
    } else {
      return static_cast<size_t>(position) & (capacity_ - 1);
    }
  }
  void Grow();
  std::vector<T> data_;
  size_t capacity_ = 0;  // data_.size(), kept apart so that indexing needs no division
  size_t head_ = 0;      // kCompact: index in data_ of position begin_
  int64_t begin_ = 0, end_ = 0;
};

inline constexpr uint64_t kMaxRingElements = uint64_t{1} << 32;

template <typename T, bool kCompact>
void Ring<T, kCompact>::Grow() {
  const size_t n = static_cast<size_t>(size());
  const size_t capacity =
      kCompact ? std::max<size_t>(8, n + n / 8 + 1) : (capacity_ == 0 ? 8 : 2 * capacity_);
  std::vector<T> grown(capacity);
  for (int64_t p = begin_; p < end_; ++p) {
    const size_t i =
        kCompact ? static_cast<size_t>(p - begin_) : static_cast<size_t>(p) & (capacity - 1);
    grown[i] = at(p);
  }
  data_ = std::move(grown);
  capacity_ = capacity;
  head_ = 0;
}

template <typename T, bool kCompact>
void Ring<T, kCompact>::Write(ByteWriter& out) const {
  out.Put(begin_);
  out.Put(end_);
  for (int64_t p = begin_; p < end_; ++p) out.Put(at(p));
}

template <typename T, bool kCompact>
bool Ring<T, kCompact>::Read(ByteReader& in) {
  int64_t begin = 0, end = 0;
  if (!in.Get(&begin) || !in.Get(&end) || begin < 0 || end < begin ||
      static_cast<uint64_t>(end - begin) > kMaxRingElements) {
    return false;
  }
  StartAt(begin);
  for (int64_t p = begin; p < end; ++p) {
    T value{};
    if (!in.Get(&value)) return false;
    push_back(value);
  }
  return true;
}

// Which statistics a SensorWindows keeps beyond count / mean / std / slope / last / delta
// (always kept): the EWMA and the extremes (min, max, range) cost extra per sample.
struct WindowNeeds {
  bool ewma = true;
  bool extremes = true;
};

// The times of an entity's records, shared by all its sensors: position r holds the time of
// record r (NaN when the data has no time).
using RecordTimes = Ring<double, /*kCompact=*/true>;

// Moves `begins` (per window of `defs`, the first record inside it) to record `record`, whose
// time is times.at(record). The windows of an entity's sensors share their bounds (the records
// are the same), so they are found once per record, not once per sensor.
void AdvanceWindowBegins(std::span<const WindowDef> defs, const RecordTimes& times, int64_t record,
                         std::span<int64_t> begins);

// The windows of one sensor. Its values are kept by record position (NaN where the record had no
// valid value), so the sensors of an entity share one RecordTimes instead of each keeping the
// times of its samples: 8 bytes per record and sensor.
class SensorWindows {
 public:
  using Needs = WindowNeeds;
  static Needs NeedsOf(std::span<const spec::WindowStat> stats);
  Needs needs() const { return needs_; }

  // `windows` are the windows whose statistics are wanted. `time_unit` converts the data's time
  // to the slope's unit (3600: per hour).
  SensorWindows(std::vector<WindowDef> windows, double time_unit, Needs needs = {});

  // Moves every window to record `record`: samples before window w's first record
  // `begins[w]` (AdvanceWindowBegins) are removed. Called once for every record, in order
  // (records 0, 1, 2, ...); `times` must hold every record from first_needed() on.
  void Advance(const RecordTimes& times, int64_t record, std::span<const int64_t> begins);
  // Adds the valid value of the current record (after Advance).
  void Add(const RecordTimes& times, int64_t record, double value);
  // Forgets every sample (a maintenance reset).
  void Reset();
  // The oldest record any window still needs (the caller may drop older times).
  int64_t first_needed() const { return values_.begin(); }

  // The statistic of window `w` at the current record; NaN when it is undefined (no samples, or
  // fewer than two for std and slope). `baseline` is the window `delta` compares with (-1: none).
  double Stat(int w, spec::WindowStat stat, int baseline) const;
  // Stat for each of `stats` into out[0..stats.size()).
  void Emit(int w, std::span<const spec::WindowStat> stats, int baseline, double* out) const;

  // The raw sums of window `w`, for callers that compute statistics of many windows at once
  // (see WindowStatsBatch): column `k` of each array receives this window's values.
  struct RawColumns {
    double *n, *kx, *sx, *sxx, *st, *stt, *stx, *min, *max, *last, *ewma;
  };
  void Raw(int w, const RawColumns& out, size_t k) const;

  void Write(ByteWriter& out) const;
  bool Read(ByteReader& in);

 private:
  // Sums of deviations from a shift (kx, kt) close to the window's values, so that variance and
  // slope do not lose digits to large offsets (timestamps, sensors reading 9000 +- 5).
  struct Accumulator {
    int64_t begin = 0;  // absolute position of the window's first sample
    int64_t count = 0;
    double kx = 0, kt = 0;
    double sx = 0, sxx = 0, st = 0, stt = 0, stx = 0;
    // Positions in min_queue_ / max_queue_ of the first entry inside this window: the window's
    // minimum and maximum. They only move forward, except to follow a pop from the back.
    int64_t min_cursor = 0, max_cursor = 0;
    double ewma_num = 0, ewma_den = 0, ewma_time = 0;  // ewma_time: time or record of last decay
    bool ewma_started = false;
    // Removals since the sums were last recomputed from the samples: sliding sums drift, so
    // they are rebuilt exactly (two passes) after max(4 count, 64) removals: O(1) amortised.
    int64_t removals = 0;
  };
  // The slope's time axis: time in slope units since the first sample after the last reset.
  double SlopeTime(double time) const { return (time - origin_) * inverse_time_unit_; }
  // Removes the valid sample at acc.begin (value x, slope time t) and moves acc.begin past it;
  // `end`: one past the last record counted in the window's sums.
  void Remove(Accumulator& acc, double x, double t, const RecordTimes& times, int64_t end);
  void Rebuild(Accumulator& acc, const RecordTimes& times, int64_t end) const;
  void AddToWindow(size_t w, Accumulator& acc, double value, double time, int64_t record);
  double Min(const Accumulator& acc) const { return min_queue_.at(acc.min_cursor).value; }
  double Max(const Accumulator& acc) const { return max_queue_.at(acc.max_cursor).value; }

  std::vector<WindowDef> defs_;
  std::vector<Accumulator> acc_;
  Ring<double, /*kCompact=*/true>
      values_;             // by record: the sensor's value, NaN when the record had none
  double last_value_ = 0;  // the last valid value (the `last` statistic)
  // Monotonic queues over every valid value kept (values increasing / decreasing), by record
  // position. Every window is a suffix of the records, so one pair serves all windows: a window's
  // minimum is the first queue entry at or after the window's first sample
  // (Accumulator::min_cursor). Entries carry the value too, so a comparison needs no second
  // (dependent) load.
  struct QueueEntry {
    int64_t position;
    double value;
  };
  Ring<QueueEntry> min_queue_, max_queue_;
  double inverse_time_unit_ = 1;
  Needs needs_;
  double origin_ = 0;
  bool has_origin_ = false;
};

// Statistics of many windows computed together: raw sums are gathered into columns, then each
// statistic is computed for all windows in one branch-free loop the compiler vectorises. Gives
// exactly what SensorWindows::Stat gives (the same formulas).
class WindowStatsBatch {
 public:
  // Sizes the columns for `sensors` sensors of `windows` windows each (a no-op when they already
  // are); `baseline` is the window delta compares with (-1: none).
  void Prepare(size_t sensors, size_t windows, int baseline, WindowNeeds needs);
  SensorWindows::RawColumns columns();
  // Computes every statistic wanted from the gathered sums.
  void Compute(std::span<const spec::WindowStat> stats);
  // The values of `stat`, one per window: column(stat)[index(sensor, window)].
  const double* column(spec::WindowStat stat) const {
    switch (stat) {
      case spec::WindowStat::kCount:
        return n_.data();
      case spec::WindowStat::kMin:
        return min_.data();
      case spec::WindowStat::kMax:
        return max_.data();
      case spec::WindowStat::kLast:
        return last_.data();
      case spec::WindowStat::kEwma:
        return ewma_.data();
      default:
        return stat_[static_cast<size_t>(stat)].data();
    }
  }
  size_t index(size_t sensor, size_t window) const { return sensor * windows_ + window; }

 private:
  size_t sensors_ = 0, windows_ = 0;
  int baseline_ = -1;
  WindowNeeds needs_;
  std::vector<double> n_, kx_, sx_, sxx_, st_, stt_, stx_, min_, max_, last_, ewma_;
  std::vector<double> stat_[spec::kWindowStatCount];
};

}  // namespace pdm::features

#endif  // PDM_FEATURES_WINDOW_STATS_H_
