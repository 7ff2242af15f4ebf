// Sliding statistics of one sensor over several windows, updated one sample at a time in O(1)
// amortised per window: Welford sums with removal for mean / std / slope, monotonic queues for
// min / max, exponential sums for the EWMA. This is the only implementation of window
// statistics: the batch builder and the online state both drive it. See docs/features.md.
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
template <typename T>
class Ring {
 public:
  int64_t begin() const { return begin_; }
  int64_t end() const { return end_; }
  bool empty() const { return begin_ == end_; }
  int64_t size() const { return end_ - begin_; }
  const T& at(int64_t position) const { return data_[static_cast<size_t>(position) & mask_]; }
  const T& front() const { return at(begin_); }
  const T& back() const { return at(end_ - 1); }
  void push_back(const T& value) {
    if (static_cast<size_t>(size()) == data_.size()) Grow();
    data_[static_cast<size_t>(end_) & mask_] = value;
    ++end_;
  }
  void pop_front() { ++begin_; }
  void pop_back() { --end_; }
  // Drops every element before `position`.
  void drop_before(int64_t position) {
    if (position > begin_) begin_ = position;
  }
  void clear() { begin_ = end_; }
  void Write(ByteWriter& out) const;
  bool Read(ByteReader& in);

 private:
  void Grow();
  std::vector<T> data_;
  size_t mask_ = 0;
  int64_t begin_ = 0, end_ = 0;
};

inline constexpr uint64_t kMaxRingElements = uint64_t{1} << 32;

template <typename T>
void Ring<T>::Grow() {
  const size_t capacity = data_.empty() ? 8 : data_.size() * 2;
  std::vector<T> grown(capacity);
  for (int64_t p = begin_; p < end_; ++p) {
    grown[static_cast<size_t>(p) & (capacity - 1)] = at(p);
  }
  data_ = std::move(grown);
  mask_ = capacity - 1;
}

template <typename T>
void Ring<T>::Write(ByteWriter& out) const {
  out.Put(begin_);
  out.Put(end_);
  for (int64_t p = begin_; p < end_; ++p) out.Put(at(p));
}

template <typename T>
bool Ring<T>::Read(ByteReader& in) {
  int64_t begin = 0, end = 0;
  if (!in.Get(&begin) || !in.Get(&end) || begin < 0 || end < begin ||
      static_cast<uint64_t>(end - begin) > kMaxRingElements) {
    return false;
  }
  data_.clear();
  mask_ = 0;
  begin_ = end_ = begin;
  for (int64_t p = begin; p < end; ++p) {
    T value{};
    if (!in.Get(&value)) return false;
    push_back(value);
  }
  return true;
}

class SensorWindows {
 public:
  // `windows` are the windows whose statistics are wanted; `ewma_windows[i]` says whether window i
  // also keeps an EWMA. `time_unit` converts the data's time to the slope's unit (3600: per hour).
  SensorWindows(std::vector<WindowDef> windows, double time_unit);

  // Moves every window to the record `record` at time `time`: samples that left a window are
  // removed. Times and records must not decrease.
  void Advance(double time, int64_t record);
  // Adds a valid sample of the current record (after Advance).
  void Add(double time, int64_t record, double value);
  // Forgets every sample (a maintenance reset).
  void Reset();

  // The statistic of window `w` at the current record; NaN when it is undefined (no samples, or
  // fewer than two for std and slope).
  double Stat(int w, spec::WindowStat stat, int baseline) const;

  void Write(ByteWriter& out) const;
  bool Read(ByteReader& in);

 private:
  struct Sample {
    double time;        // the data's time
    double slope_time;  // time in slope units relative to the first sample since the last reset
    double value;
    int64_t record;
  };
  struct Accumulator {
    int64_t begin = 0;  // absolute position of the window's first sample
    int64_t count = 0;
    double mean_x = 0, m2_x = 0, mean_t = 0, m2_t = 0, c_tx = 0;
    Ring<int64_t> min_queue, max_queue;  // sample positions, values increasing / decreasing
    double ewma_num = 0, ewma_den = 0, ewma_time = 0;  // ewma_time: time or record of last decay
    bool ewma_started = false;
    // Removals since the sums were last recomputed from the samples: sliding sums drift, so
    // they are rebuilt exactly (two passes) once removals reach the count: O(1) amortised.
    int64_t removals = 0;
  };
  bool InWindow(const WindowDef& def, const Sample& sample, double time, int64_t record) const;
  void Remove(Accumulator& acc, const Sample& sample);
  void Rebuild(Accumulator& acc) const;

  std::vector<WindowDef> defs_;
  std::vector<Accumulator> acc_;
  Ring<Sample> samples_;
  double time_unit_ = 1;
  double origin_ = 0;
  bool has_origin_ = false;
};

}  // namespace pdm::features

#endif  // PDM_FEATURES_WINDOW_STATS_H_
