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
#include "features/ring.h"
#include "features/value_ring.h"
#include "spec/dataset_spec.h"

namespace pdm::features {

// A window over time (the interval (t - length, t], length in the data's time unit) or over the
// last `length` records of the entity (the current one included).
struct WindowDef {
  bool by_time = true;
  double length = 0;
};

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

  // `windows` are the windows whose statistics are wanted; they must outlive this object (the
  // sensors of an entity share the pipeline's). `time_unit` converts the data's time to the
  // slope's unit (3600: per hour). `compact_values` keeps short decimal values in 4 bytes
  // instead of 8 (ValueRing), for states kept for many entities at once, at some speed.
  SensorWindows(std::span<const WindowDef> windows, double time_unit, Needs needs = {},
                bool compact_values = false);

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
  // Stat for each of `stats` of windows 0 .. windows - 1, window after window: windows x
  // stats.size() values.
  void EmitWindows(size_t windows, std::span<const spec::WindowStat> stats, int baseline,
                   double* out) const;

  void Write(ByteWriter& out) const;
  bool Read(ByteReader& in);

 private:
  // Sums of deviations from a shift (kx, kt) close to the window's values, so that variance and
  // slope do not lose digits to large offsets (timestamps, sensors reading 9000 +- 5).
  // 88 bytes: a server keeps one per window, sensor and machine.
  struct Accumulator {
    int64_t begin = 0;  // absolute position of the window's first sample
    // Positions in min_queue_ / max_queue_ of the first entry inside this window: the window's
    // minimum and maximum. They only move forward, except to follow a pop from the back.
    int64_t min_cursor = 0, max_cursor = 0;
    int32_t count = 0;  // valid samples in the window (at most kMaxRingElements)
    // Removals since the sums were last recomputed from the samples: sliding sums drift, so
    // they are rebuilt exactly (two passes) after max(4 count, 64) removals: O(1) amortised.
    int32_t removals = 0;
    double kx = 0, kt = 0;
    double sx = 0, sxx = 0, st = 0, stt = 0, stx = 0;
  };
  // The exponential sums of one window; kept only when the EWMA is wanted.
  struct Ewma {
    double num = 0, den = 0;
    double time = 0;  // time (or record) of the last decay
    bool started = false;
  };
  // The slope's time axis: time in slope units since the first sample after the last reset.
  double SlopeTime(double time) const { return (time - origin_) * inverse_time_unit_; }
  // Removes the valid sample at acc.begin (value x, slope time t) and moves acc.begin past it;
  // `end`: one past the last record counted in the window's sums.
  void Remove(Accumulator& acc, double x, double t, const RecordTimes& times, int64_t end);
  void Rebuild(Accumulator& acc, const RecordTimes& times, int64_t end) const;
  void AddToWindow(size_t w, Accumulator& acc, double value, double time, int64_t record);
  // Every statistic of window `w` into by_stat[WindowStat] (those of the `wanted` bit set only;
  // the others are left as they are). `base_mean`: the baseline window's mean, for delta.
  void WindowValues(size_t w, uint32_t wanted, double base_mean, double* by_stat) const;
  double BaselineMean(int baseline) const;
  // The record position of a queue entry, which keeps only the position's low 32 bits: entries
  // lie within values_ (fewer than 2^31 records), so the distance from values_.begin() is exact.
  int64_t PositionOf(uint32_t entry) const {
    return values_.begin() + static_cast<uint32_t>(entry - static_cast<uint32_t>(values_.begin()));
  }
  double ValueOf(uint32_t entry) const { return values_.at(PositionOf(entry)); }
  double Min(const Accumulator& acc) const { return ValueOf(min_queue_.at(acc.min_cursor)); }
  double Max(const Accumulator& acc) const { return ValueOf(max_queue_.at(acc.max_cursor)); }

  std::span<const WindowDef> defs_;
  std::vector<Accumulator> acc_;
  std::vector<Ewma> ewma_;  // per window when needs_.ewma, else empty
  // By record: the sensor's value, NaN when the record had none (4 bytes a record while the
  // values are short decimals, else 8).
  ValueRing values_;
  double last_value_ = 0;  // the last valid value (the `last` statistic)
  // Monotonic queues over every valid value kept (values strictly increasing / decreasing), by
  // record position (low 32 bits, see PositionOf). Every window is a suffix of the records, so
  // one pair serves all windows: a window's minimum is the first queue entry at or after the
  // window's first sample (Accumulator::min_cursor).
  Ring<uint32_t> min_queue_, max_queue_;
  double inverse_time_unit_ = 1;
  Needs needs_;
  double origin_ = 0;
  bool has_origin_ = false;
};

}  // namespace pdm::features

#endif  // PDM_FEATURES_WINDOW_STATS_H_
