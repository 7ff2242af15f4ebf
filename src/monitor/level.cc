#include "monitor/level.h"

#include <cmath>
#include <limits>

namespace pdm::monitor {

LevelTracker::LevelTracker(std::vector<size_t> columns, int regimes)
    : columns_(std::move(columns)), slots_(static_cast<size_t>(regimes > 0 ? regimes : 0) + 1) {}

void LevelTracker::Next(std::string_view entity, double time, int regime,
                        std::span<const float> features, double* out) {
  auto it = ids_.find(entity);
  if (it == ids_.end()) {
    it = ids_.emplace(std::string(entity), static_cast<uint32_t>(ids_.size())).first;
  }
  Next(it->second, time, regime, features, out);
}

void LevelTracker::Next(uint32_t entity, double time, int regime, std::span<const float> features,
                        double* out) {
  constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
  const size_t per_entity = columns_.size() * slots_;
  if (entity >= entities_) {
    entities_ = static_cast<size_t>(entity) + 1;
    levels_.resize(entities_ * per_entity);
  }
  if (std::isnan(time)) {
    for (size_t k = 0; k < columns_.size(); ++k) out[k] = kNaN;
    return;
  }
  if (!has_epoch_) {
    epoch_ = time;
    has_epoch_ = true;
  }
  // Seconds from the epoch fit 32 bits for 68 years of data either side.
  const auto seconds = static_cast<int32_t>(std::lround(time - epoch_));
  const size_t slot = regime >= 0 && static_cast<size_t>(regime) + 1 < slots_
                          ? static_cast<size_t>(regime)
                          : slots_ - 1;
  Level* levels = levels_.data() + static_cast<size_t>(entity) * per_entity;
  // The sensors of a machine mostly last read at the same time: one exp for all of them.
  int32_t decayed_for = 0;
  double decay_of_gap = 1.0;
  for (size_t k = 0; k < columns_.size(); ++k) {
    const double value = features[columns_[k]];
    Level& level = levels[k * slots_ + slot];
    // How much the level's readings weigh now (a late row: as of the newest).
    const int32_t gap = seconds - level.seconds;
    if (gap > 0 && gap != decayed_for) {
      decayed_for = gap;
      decay_of_gap = std::exp(-static_cast<double>(gap) / kLevelTimeConstant);
    }
    const double decay = gap > 0 ? decay_of_gap : 1.0;
    out[k] = decay * level.weight >= kLevelMinWeight && !std::isnan(value)
                 ? value - static_cast<double>(level.sum) / static_cast<double>(level.weight)
                 : kNaN;
    if (std::isnan(value)) continue;
    if (level.weight == 0) {
      level = {static_cast<float>(value), 1.0f, seconds};
      continue;
    }
    if (seconds < level.seconds) continue;  // late: compared, not folded in
    level.sum = static_cast<float>(decay * level.sum + value);
    level.weight = static_cast<float>(decay * level.weight + 1);
    level.seconds = seconds;
  }
}

std::string LevelColumnName(std::string_view feature) { return std::string(feature) + ".level"; }

}  // namespace pdm::monitor
