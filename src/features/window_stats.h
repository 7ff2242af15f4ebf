// Sliding statistics of an entity's sensors over several windows, updated one record at a time in
// O(1) amortised per window and sensor: sums of deviations from a moving shift (rebuilt from the
// samples now and then) for mean / std / slope, one monotonic queue pair for min / max, exponential
// sums for the EWMA. This is the only implementation of window statistics: the batch builder and
// the online state both drive it. See docs/features.md and docs/adr/0003.
#ifndef PDM_FEATURES_WINDOW_STATS_H_
#define PDM_FEATURES_WINDOW_STATS_H_

#include <cstdint>
#include <span>
#include <vector>

#include "features/byte_io.h"
#include "features/ring.h"
#include "features/value_rows.h"
#include "features/window_kernels.h"
#include "spec/dataset_spec.h"

namespace pdm::features {

// A window over time (the interval (t - length, t], length in the data's time unit) or over the
// last `length` records of the entity (the current one included).
struct WindowDef {
  bool by_time = true;
  double length = 0;
};

// Which statistics an EntityWindows keeps beyond count / mean / std / slope / last / delta
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

// The windows of an entity's sensors. The sensors share the entity's records, so their values
// are kept as one row per record (NaN where a sensor had no valid value), the windows' bounds
// once, and the sums of all sensors are laid out sensor by sensor per field, so that adding and
// removing a record updates every sensor's sums in one vectorised loop. See docs/adr/0010.
class EntityWindows {
 public:
  using Needs = WindowNeeds;
  // The per-sensor arrays are padded to a multiple of this many sensors, the smallest vector the
  // window kernels use (two doubles; the AVX2 kernels take four at a time, then a last pair).
  static constexpr size_t kLanes = 2;
  static Needs NeedsOf(std::span<const spec::WindowStat> stats);

  // `windows` are the windows whose statistics are wanted; they must outlive this object (the
  // entities share the pipeline's). `time_unit` converts the data's time to the slope's unit
  // (3600: per hour). `compact_values` keeps short decimal values in 4 bytes instead of 8
  // (ValueRows), for states kept for many entities at once, at some speed.
  EntityWindows(std::span<const WindowDef> windows, size_t sensors, double time_unit,
                Needs needs = {}, bool compact_values = false);

  size_t sensors() const { return sensors_; }
  // Moves every window to record `record` (samples before window w's first record `begins[w]`,
  // from AdvanceWindowBegins, leave it) and adds the record's values: values[s] of sensor s, not
  // finite = none. Called once for every record, in order (records 0, 1, 2, ...); `times` must
  // hold every record from first_needed() on.
  void Update(const RecordTimes& times, int64_t record, std::span<const int64_t> begins,
              std::span<const double> values);
  // Forgets every sample of `sensor` (a maintenance reset).
  void Reset(size_t sensor);
  // The oldest record any window still needs (the caller may drop older times).
  int64_t first_needed() const { return values_.begin(); }

  // The statistic of `sensor` in window `w` at the current record; NaN when it is undefined (no
  // samples, or fewer than two for std and slope). `baseline` is the window `delta` compares
  // with (-1: none).
  double Stat(size_t sensor, int w, spec::WindowStat stat, int baseline) const;
  // Stat for each of `stats` of windows 0 .. windows - 1 of every sensor: sensor after sensor,
  // window after window, sensors() x windows x stats.size() values.
  void Emit(size_t windows, std::span<const spec::WindowStat> stats, int baseline,
            double* out) const;

  void Write(ByteWriter& out) const;
  bool Read(ByteReader& in);

 private:
  // The per-sensor fields of a window's sums, each an array of lanes_ doubles. Sums are of
  // deviations from a shift (kx, kt) close to the window's values, so that variance and slope do
  // not lose digits to large offsets (timestamps, sensors reading 9000 +- 5). Counts are exact
  // in doubles. Sliding sums drift, so a sensor's are rebuilt exactly (two passes) after
  // max(4 count, 64) removals: O(1) amortised.
  using Field = window_kernels::Field;
  static constexpr Field kCount = window_kernels::kCount, kRemovals = window_kernels::kRemovals,
                         kKx = window_kernels::kKx, kKt = window_kernels::kKt,
                         kSx = window_kernels::kSx, kSxx = window_kernels::kSxx,
                         kSt = window_kernels::kSt, kStt = window_kernels::kStt,
                         kStx = window_kernels::kStx;
  static constexpr int kFieldCount = window_kernels::kFieldCount;
  // The exponential sums of one window and sensor; kept only when the EWMA is wanted.
  struct Ewma {
    double num = 0, den = 0;
    double time = 0;  // time (or record) of the last decay
    bool started = false;
  };

  double* field(size_t w, Field f) { return &sums_[(w * kFieldCount + f) * lanes_]; }
  const double* field(size_t w, Field f) const { return &sums_[(w * kFieldCount + f) * lanes_]; }
  // Removes a record (its values `row`, its time `time`) from window w's sums; true when a
  // sensor's sums are due for a rebuild (max(4 count, 64) removals since the last). With
  // `leaving` (lanes_ masks), marks the sensors whose record equals the window's cached minimum
  // or maximum: only their cursors can have to move.
  bool RemoveRow(size_t w, const double* row, double time, double* leaving);
  // Recomputes `sensor`'s sums of window w from the records [begins_[w], end).
  void Rebuild(size_t w, size_t sensor, const RecordTimes& times, int64_t end);
  // Every statistic of windows [first, first + count) for every sensor into
  // by_stat[(w - first) * window_stride + WindowStat * lanes_ + s] (those of the `wanted` bits
  // only; the others are left as they are). `base_mean`: the baseline window's mean per sensor,
  // for delta.
  void WindowValues(size_t first, size_t count, uint32_t wanted, const double* base_mean,
                    double* by_stat, size_t window_stride) const;
  void BaselineMeans(int baseline, double* out) const;
  // Whether queue entry `entry` (low 32 bits of a position) lies before record `position`; both
  // lie within values_, fewer than 2^31 records apart.
  static bool Before(uint32_t entry, int64_t position) {
    return static_cast<int32_t>(entry - static_cast<uint32_t>(position)) < 0;
  }
  // The record position of a queue entry, which keeps only the position's low 32 bits: entries
  // lie within values_ (fewer than 2^31 records), so the distance from values_.begin() is exact.
  int64_t PositionOf(uint32_t entry) const {
    return values_.begin() + static_cast<uint32_t>(entry - static_cast<uint32_t>(values_.begin()));
  }
  double QueueValue(size_t sensor, uint32_t entry) const {
    return values_.at(PositionOf(entry), sensor);
  }
  Ring<uint32_t>& min_queue(size_t s) { return queues_[2 * s]; }
  Ring<uint32_t>& max_queue(size_t s) { return queues_[2 * s + 1]; }
  const Ring<uint32_t>& min_queue(size_t s) const { return queues_[2 * s]; }
  const Ring<uint32_t>& max_queue(size_t s) const { return queues_[2 * s + 1]; }
  // Positions in a sensor's min / max queue of the first entry inside window w: the window's
  // minimum and maximum. They only move forward, except to follow a pop from the back.
  int64_t& min_cursor(size_t w, size_t s) { return cursors_[(2 * w) * sensors_ + s]; }
  int64_t& max_cursor(size_t w, size_t s) { return cursors_[(2 * w + 1) * sensors_ + s]; }
  int64_t min_cursor(size_t w, size_t s) const { return cursors_[(2 * w) * sensors_ + s]; }
  int64_t max_cursor(size_t w, size_t s) const { return cursors_[(2 * w + 1) * sensors_ + s]; }
  // Window w's minimum (kMinField) or maximum of each sensor: the value at its cursor, kept so that
  // emitting the statistics reads no queue (meaningful only while the window has samples).
  using ExtremeField = window_kernels::ExtremeField;
  static constexpr ExtremeField kMinField = window_kernels::kMinField,
                                kMaxField = window_kernels::kMaxField;
  static constexpr int kExtremeFields = window_kernels::kExtremeFields;
  double* extreme(size_t w, ExtremeField f) {
    return &extremes_[(kExtremeFields * w + f) * lanes_];
  }
  const double* extreme(size_t w, ExtremeField f) const {
    return &extremes_[(kExtremeFields * w + f) * lanes_];
  }

  std::span<const WindowDef> defs_;
  size_t sensors_;
  // sensors_ rounded up to whole vectors: the per-sensor arrays (and value rows) have this many
  // entries, the padding lanes NaN / unused, so that the vector loops need no scalar tail.
  size_t lanes_;
  std::vector<int64_t> begins_;   // per window: its first record
  std::vector<double> sums_;      // windows x kFieldCount x lanes_
  std::vector<int64_t> cursors_;  // windows x {min, max} x sensors, when needs_.extremes
  std::vector<double> extremes_;  // windows x kExtremeFields x lanes_, when needs_.extremes
  std::vector<Ewma> ewma_;        // windows x sensors, when needs_.ewma
  // By record, one row of the sensors' values (NaN where a record had none).
  ValueRows values_;
  // Per sensor, two monotonic queues over every valid value kept (values strictly increasing /
  // decreasing), by record position (low 32 bits, see PositionOf). Every window is a suffix of
  // the records, so one pair serves all windows. Empty unless needs_.extremes.
  std::vector<Ring<uint32_t>> queues_;
  // Per sensor: the last valid value (the `last` statistic) and the origin of the slope's time
  // axis (the time of the first sample after the last reset; NaN: none yet).
  std::vector<double> last_value_, origin_;
  double inverse_time_unit_ = 1;
  Needs needs_;
};

}  // namespace pdm::features

#endif  // PDM_FEATURES_WINDOW_STATS_H_
