// Level columns: each reading of a sensor against its own machine's recent level in the same
// operating regime (ADR 0018).
//
// A fleet's distribution of a sensor is wide: machines differ (an imbalanced rotor vibrates
// more), so a recalibrated sensor that reads 20% high on every machine moves the pooled
// distribution by a fraction of its spread, and the windowed statistics need a day of data to
// tell it from noise. Against each machine's own past the same change is several times the
// reading noise from the first reading after it. A level column holds, per reading, its value
// minus the exponentially weighted mean of the machine's earlier readings of that sensor in the
// same regime (time constant kLevelTimeConstant of data time), in the sensor's units; the drift
// monitor watches it like any feature, against a reference built the same way from the training
// rows. A lasting change shows in a level column for about one time constant, until the
// machines' levels have followed it; the features themselves show it for as long as it lasts,
// when it is large enough for the pooled distribution.
#ifndef PDM_MONITOR_LEVEL_H_
#define PDM_MONITOR_LEVEL_H_

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace pdm::monitor {

// 72 hours: long against the six hours a step change takes to fill the fast window (so the
// level still holds most of the change when it is judged), short against the weeks over which
// wear moves a machine's level.
inline constexpr double kLevelTimeConstant = 72 * 3600.0;
// A machine's level in a regime is used once its readings weigh this much (each weighs 1 when
// read and decays with the time constant): about three recent readings.
inline constexpr double kLevelMinWeight = 2.5;

// The running levels of a set of feature columns, per entity and regime.
class LevelTracker {
 public:
  // `columns`: the feature indexes tracked; `regimes`: how many operating regimes (0: none).
  LevelTracker(std::vector<size_t> columns, int regimes);

  // Writes the level value of each tracked column for one row into `out` (columns().size()
  // values; NaN where the value is missing or the machine's level is not yet established),
  // then folds the row into the entity's levels. Rows of one entity are expected in time
  // order; a row older than its entity's newest is compared but not folded in.
  // REQUIRES: features holds every tracked column.
  void Next(uint32_t entity, double time, int regime, std::span<const float> features, double* out);
  // The same with an entity named by its id (the serving path).
  void Next(std::string_view entity, double time, int regime, std::span<const float> features,
            double* out);

  const std::vector<size_t>& columns() const { return columns_; }
  size_t entities() const { return entities_; }

 private:
  struct Level {
    float sum = 0;        // exponentially weighted sum of the readings
    float weight = 0;     // and of their weights (1 each when read)
    int32_t seconds = 0;  // data time of the newest reading folded in, from epoch_
  };
  const std::vector<size_t> columns_;
  const size_t slots_;         // per column: one per regime, then one for an unknown regime
  std::vector<Level> levels_;  // entity x column x slot
  size_t entities_ = 0;
  double epoch_ = 0;
  bool has_epoch_ = false;
  // Looked up by string_view without a copy (heterogeneous lookup).
  struct IdHash {
    using is_transparent = void;
    size_t operator()(std::string_view id) const { return std::hash<std::string_view>{}(id); }
  };
  std::unordered_map<std::string, uint32_t, IdHash, std::equal_to<>> ids_;
};

// The level column of a sensor's feature: "<feature>.level".
std::string LevelColumnName(std::string_view feature);

}  // namespace pdm::monitor

#endif  // PDM_MONITOR_LEVEL_H_
