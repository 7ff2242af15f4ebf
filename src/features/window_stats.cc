#include "features/window_stats.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace pdm::features {
namespace {
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
}  // namespace

SensorWindows::SensorWindows(std::vector<WindowDef> windows, double time_unit)
    : defs_(std::move(windows)), acc_(defs_.size()), time_unit_(time_unit) {}

bool SensorWindows::InWindow(const WindowDef& def, const Sample& sample, double time,
                             int64_t record) const {
  return def.by_time
             ? sample.time > time - def.length
             : static_cast<double>(sample.record) > static_cast<double>(record) - def.length;
}

void SensorWindows::Remove(Accumulator& acc, const Sample& sample) {
  const int64_t position = acc.begin++;
  if (!acc.min_queue.empty() && acc.min_queue.front() == position) acc.min_queue.pop_front();
  if (!acc.max_queue.empty() && acc.max_queue.front() == position) acc.max_queue.pop_front();
  if (--acc.count == 0) {
    acc.mean_x = acc.m2_x = acc.mean_t = acc.m2_t = acc.c_tx = 0;
    return;
  }
  // The inverse of Welford's update (see Add).
  const double n = static_cast<double>(acc.count);
  const double dx = sample.value - acc.mean_x;
  const double dt = sample.slope_time - acc.mean_t;
  acc.mean_x -= dx / n;
  acc.mean_t -= dt / n;
  acc.m2_x -= dx * (sample.value - acc.mean_x);
  acc.m2_t -= dt * (sample.slope_time - acc.mean_t);
  acc.c_tx -= (sample.slope_time - acc.mean_t) * dx;
  if (++acc.removals >= acc.count) Rebuild(acc);
}

void SensorWindows::Rebuild(Accumulator& acc) const {
  acc.removals = 0;
  double mean_x = 0, mean_t = 0;
  for (int64_t p = acc.begin; p < samples_.end(); ++p) {
    mean_x += samples_.at(p).value;
    mean_t += samples_.at(p).slope_time;
  }
  const double n = static_cast<double>(acc.count);
  mean_x /= n;
  mean_t /= n;
  double m2_x = 0, m2_t = 0, c_tx = 0;
  for (int64_t p = acc.begin; p < samples_.end(); ++p) {
    const double dx = samples_.at(p).value - mean_x, dt = samples_.at(p).slope_time - mean_t;
    m2_x += dx * dx;
    m2_t += dt * dt;
    c_tx += dt * dx;
  }
  acc.mean_x = mean_x;
  acc.mean_t = mean_t;
  acc.m2_x = m2_x;
  acc.m2_t = m2_t;
  acc.c_tx = c_tx;
}

void SensorWindows::Advance(double time, int64_t record) {
  int64_t keep_from = samples_.end();
  for (size_t w = 0; w < defs_.size(); ++w) {
    Accumulator& acc = acc_[w];
    while (acc.begin < samples_.end() &&
           !InWindow(defs_[w], samples_.at(acc.begin), time, record)) {
      Remove(acc, samples_.at(acc.begin));
    }
    keep_from = std::min(keep_from, acc.begin);
  }
  samples_.drop_before(keep_from);
}

void SensorWindows::Add(double time, int64_t record, double value) {
  if (!has_origin_) {
    origin_ = time;
    has_origin_ = true;
  }
  const Sample sample{time, (time - origin_) / time_unit_, value, record};
  const int64_t position = samples_.end();
  samples_.push_back(sample);
  for (size_t w = 0; w < defs_.size(); ++w) {
    Accumulator& acc = acc_[w];
    ++acc.count;
    const double n = static_cast<double>(acc.count);
    const double dx = value - acc.mean_x;
    const double dt = sample.slope_time - acc.mean_t;
    acc.mean_x += dx / n;
    acc.mean_t += dt / n;
    acc.m2_x += dx * (value - acc.mean_x);
    acc.m2_t += dt * (sample.slope_time - acc.mean_t);
    acc.c_tx += dt * (value - acc.mean_x);
    while (!acc.min_queue.empty() && samples_.at(acc.min_queue.back()).value >= value) {
      acc.min_queue.pop_back();
    }
    acc.min_queue.push_back(position);
    while (!acc.max_queue.empty() && samples_.at(acc.max_queue.back()).value <= value) {
      acc.max_queue.pop_back();
    }
    acc.max_queue.push_back(position);

    // EWMA: half-life = window length (time windows), span = window length (record windows),
    // as pandas ewm(halflife=W, times=t) and ewm(span=N) with adjust=True.
    const WindowDef& def = defs_[w];
    const double now = def.by_time ? time : static_cast<double>(record);
    if (acc.ewma_started) {
      const double elapsed = now - acc.ewma_time;
      const double decay = def.by_time ? std::exp2(-elapsed / def.length)
                                       : std::pow(1.0 - 2.0 / (def.length + 1.0), elapsed);
      acc.ewma_num *= decay;
      acc.ewma_den *= decay;
    }
    acc.ewma_num += value;
    acc.ewma_den += 1.0;
    acc.ewma_time = now;
    acc.ewma_started = true;
  }
}

void SensorWindows::Reset() {
  samples_.clear();
  for (Accumulator& acc : acc_) {
    acc = Accumulator{};
    acc.begin = samples_.end();
  }
  has_origin_ = false;
}

double SensorWindows::Stat(int w, spec::WindowStat stat, int baseline) const {
  const Accumulator& acc = acc_[static_cast<size_t>(w)];
  using spec::WindowStat;
  switch (stat) {
    case WindowStat::kCount:
      return static_cast<double>(acc.count);
    case WindowStat::kEwma:
      return acc.ewma_started ? acc.ewma_num / acc.ewma_den : kNaN;
    default:
      break;
  }
  if (acc.count == 0) return kNaN;
  switch (stat) {
    case WindowStat::kMean:
      return acc.mean_x;
    case WindowStat::kStd:
      return acc.count < 2
                 ? kNaN
                 : std::sqrt(std::max(acc.m2_x, 0.0) / static_cast<double>(acc.count - 1));
    case WindowStat::kMin:
      return samples_.at(acc.min_queue.front()).value;
    case WindowStat::kMax:
      return samples_.at(acc.max_queue.front()).value;
    case WindowStat::kRange:
      return samples_.at(acc.max_queue.front()).value - samples_.at(acc.min_queue.front()).value;
    case WindowStat::kLast:
      return samples_.back().value;
    case WindowStat::kSlope:
      return acc.count < 2 || !(acc.m2_t > 0) ? kNaN : acc.c_tx / acc.m2_t;
    case WindowStat::kDelta: {
      if (baseline < 0) return kNaN;
      const Accumulator& base = acc_[static_cast<size_t>(baseline)];
      return base.count == 0 ? kNaN : acc.mean_x - base.mean_x;
    }
    default:
      return kNaN;
  }
}

void SensorWindows::Write(ByteWriter& out) const {
  out.Put<uint64_t>(defs_.size());
  out.Put(origin_);
  out.Put(has_origin_);
  samples_.Write(out);
  for (const Accumulator& acc : acc_) {
    out.Put(acc.begin);
    out.Put(acc.count);
    for (double v : {acc.mean_x, acc.m2_x, acc.mean_t, acc.m2_t, acc.c_tx, acc.ewma_num,
                     acc.ewma_den, acc.ewma_time}) {
      out.Put(v);
    }
    out.Put(acc.ewma_started);
    out.Put(acc.removals);
    acc.min_queue.Write(out);
    acc.max_queue.Write(out);
  }
}

bool SensorWindows::Read(ByteReader& in) {
  uint64_t windows = 0;
  if (!in.Get(&windows) || windows != defs_.size() || !in.Get(&origin_) || !in.Get(&has_origin_) ||
      !samples_.Read(in)) {
    return false;
  }
  for (Accumulator& acc : acc_) {
    if (!in.Get(&acc.begin) || !in.Get(&acc.count)) return false;
    for (double* v : {&acc.mean_x, &acc.m2_x, &acc.mean_t, &acc.m2_t, &acc.c_tx, &acc.ewma_num,
                      &acc.ewma_den, &acc.ewma_time}) {
      if (!in.Get(v)) return false;
    }
    if (!in.Get(&acc.ewma_started) || !in.Get(&acc.removals) || !acc.min_queue.Read(in) ||
        !acc.max_queue.Read(in)) {
      return false;
    }
    // Positions must point into the samples kept, or the state is corrupt.
    if (acc.begin < samples_.begin() || acc.begin > samples_.end() ||
        acc.count != samples_.end() - acc.begin) {
      return false;
    }
    for (const Ring<int64_t>* q : {&acc.min_queue, &acc.max_queue}) {
      for (int64_t p = q->begin(); p < q->end(); ++p) {
        if (q->at(p) < acc.begin || q->at(p) >= samples_.end()) return false;
      }
    }
    if ((acc.count > 0) != !acc.min_queue.empty() || (acc.count > 0) != !acc.max_queue.empty()) {
      return false;
    }
  }
  return true;
}

}  // namespace pdm::features
