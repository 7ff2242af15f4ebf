// The feature state of one entity, fed one reading (or event) at a time: what the server keeps
// per machine. Memory is bounded by the windows. The batch builder runs this same state over a
// whole history, so batch and online features agree by construction; a property test checks it.
#ifndef PDM_FEATURES_ONLINE_STATE_H_
#define PDM_FEATURES_ONLINE_STATE_H_

#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "features/pipeline.h"
#include "features/window_stats.h"

namespace pdm::features {

// One reading of an entity. `numeric` follows layout().numeric (NaN = missing), `categorical`
// follows layout().categorical (-1 = missing). `time` is in the data's unit (epoch seconds or
// cycle number); NaN when the data has no time column.
struct Reading {
  double time = std::numeric_limits<double>::quiet_NaN();
  std::span<const double> numeric;
  std::span<const int32_t> categorical;
};

// Static attributes of an entity (the machines table), in layout().static_* order.
struct EntityStatic {
  std::vector<double> numeric;
  std::vector<int32_t> categorical;
};

class OnlineFeatureState {
 public:
  // `pipeline` must outlive the state and be fitted. `compact_values` keeps sensor values that
  // are short decimals in 4 bytes instead of 8 (exactly: ValueRows), for a server following many
  // machines, at some cost in speed; the features are bit-identical either way.
  explicit OnlineFeatureState(const FeaturePipeline* pipeline, EntityStatic statics = {},
                              bool compact_values = false);

  // Applies an event. Events must come in time order and after the last reading (an event at
  // the time of a reading belongs before it): a late event is refused and changes nothing.
  absl::Status AddEvent(const Event& event);

  // Adds a reading and writes pipeline.feature_count() values into `out` (NaN = undefined).
  // A reading not later than the previous one is refused (out of order or duplicate) and
  // changes nothing; so is one with the wrong number of inputs.
  absl::Status Update(const Reading& reading, std::span<double> out);

  int64_t records() const { return records_; }
  double last_time() const { return last_time_; }
  // Whether a reading at `t` is among those the windows still hold (a redelivered reading: the
  // telemetry path counts it as a duplicate, not as one out of order).
  bool HoldsRecordAt(double t) const;

  // A binary snapshot, restored by Deserialize against the same pipeline (its hash is checked).
  std::string Serialize() const;
  static absl::StatusOr<OnlineFeatureState> Deserialize(const FeaturePipeline* pipeline,
                                                        std::string_view bytes,
                                                        bool compact_values = false);

 private:
  struct ErrorEvent {
    double time;
    int32_t kind;
  };
  struct ErrorWindow {
    int64_t begin = 0;
    std::vector<int64_t> counts;  // total, then one per declared kind
  };

  const FeaturePipeline* pipeline_;
  EntityStatic statics_;
  RecordTimes times_;                   // the times of the records the sensors' windows still hold
  std::vector<int64_t> window_begins_;  // per window: its first record (all sensors share it)
  EntityWindows windows_;               // the windowed sensors
  Ring<ErrorEvent> errors_;
  std::vector<ErrorWindow> error_windows_;
  int64_t records_ = 0;
  double first_time_ = std::numeric_limits<double>::quiet_NaN();
  double last_time_ = -std::numeric_limits<double>::infinity();
  double last_event_time_ = -std::numeric_limits<double>::infinity();
  double last_maintenance_ = std::numeric_limits<double>::quiet_NaN();
  double last_failure_ = std::numeric_limits<double>::quiet_NaN();
  std::vector<double> last_maintenance_by_kind_;
  std::vector<double> windowed_values_;  // scratch: the windowed sensors' values of a reading
};

}  // namespace pdm::features

#endif  // PDM_FEATURES_ONLINE_STATE_H_
