// The machines a server follows live: per machine, the online feature state of the served
// model's pipeline, the latest reading and risk (their history is in the Store). Readings arrive
// through POST /api/v1/telemetry; GET /api/v1/machines reads this.
//
// Thread-safe: the machine map has one lock, each machine its own, so readings of different
// machines are applied in parallel and those of one machine in arrival order.
#ifndef PDM_SERVING_FLEET_H_
#define PDM_SERVING_FLEET_H_

#include <array>
#include <cmath>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "absl/status/statusor.h"
#include "core/time.h"
#include "features/online_state.h"
#include "serving/model_manager.h"

namespace pdm::serving {

// One scored reading of a machine.
struct RiskPoint {
  double time = 0;   // the data's time unit (epoch seconds or cycles)
  double score = 0;  // failure probability, or remaining useful life
  bool alarm = false;
  int64_t version = 0;
  // Data time since the machine's feature state began (its first reading to this server, or
  // the last state reset): rolling windows are still filling while it is shorter than them.
  double since_start = 0;
  // False when scoring was throttled (Fleet's score_every): the reading advanced the machine's
  // features, and score, alarm and version are those of its latest scored reading.
  bool scored = true;
};

// One validated reading, in the pipeline's input layout.
struct MachineReading {
  std::string machine;
  double time = 0;
  std::vector<double> numeric;                    // layout().numeric order; NaN = missing
  std::vector<int32_t> categorical;               // layout().categorical order; -1 = missing
  std::optional<features::EntityStatic> statics;  // used when the machine is first seen
};

// One event applied to a machine's state (for its timeline).
struct MachineEvent {
  double time = 0;
  features::EventType type = features::EventType::kError;
  int32_t kind = -1;  // index into the spec's event kinds; -1: none
};

struct MachineView {
  std::string machine;
  int64_t readings = 0;  // accepted since the server started (or the last state reset)
  int64_t refused = 0;
  int64_t state_resets = 0;  // the served pipeline changed and the history started over
  std::optional<RiskPoint> latest;
  std::vector<double> last_numeric;
  std::vector<int32_t> last_categorical;
  features::EntityStatic statics;  // the attributes it was first seen with (filled on copy-out)
  // The latest scores (the fleet page's sparkline), in a ring kept inline: no allocation per
  // machine. trend() lists them oldest first.
  std::array<float, 32> trend_ring{};
  uint8_t trend_size = 0, trend_next = 0;
  std::vector<float> trend() const {
    std::vector<float> out(trend_size);
    const size_t start = (trend_next + trend_ring.size() - trend_size) % trend_ring.size();
    for (size_t i = 0; i < trend_size; ++i) out[i] = trend_ring[(start + i) % trend_ring.size()];
    return out;
  }
  void AddToTrend(float score) {
    trend_ring[trend_next] = score;
    trend_next = static_cast<uint8_t>((trend_next + 1) % trend_ring.size());
    if (trend_size < trend_ring.size()) ++trend_size;
  }
  // Data time between its last two readings (0 before the second): how often it reports, which
  // tells when it is late.
  double interval = 0;
  // Wall-clock time (Unix seconds) of its last accepted reading.
  double received_at = 0;
  // The latest events applied, oldest first (at most kEventHistory).
  std::vector<MachineEvent> events;
};

// What the fleet listing sorts and filters on: a MachineView without its vectors but the
// categorical attributes (cheap to copy for 100,000 machines).
struct MachineSummary {
  std::string machine;
  int64_t readings = 0;
  std::optional<RiskPoint> latest;
  double interval = 0;
  double received_at = 0;
  std::vector<int32_t> categorical;  // statics.categorical
};

inline constexpr size_t kEventHistory = 10;

class Fleet {
 public:
  // `explain_all`: keep every machine's latest feature vector (for the TreeSHAP explanation of
  // its current risk); otherwise only those of machines at risk (in alarm, or a probability at
  // least half the served threshold), so that a large, mostly healthy fleet does not pay a
  // feature vector a machine (about 4 bytes a feature).
  //
  // `score_every`: a machine's reading is scored only when its latest scored reading is at least
  // this much data time ("1m") or this many readings ("10r") before it; every reading still
  // advances its features. Unset: every reading is scored.
  explicit Fleet(size_t max_machines, bool explain_all = false,
                 std::optional<core::Span> score_every = std::nullopt)
      : max_machines_(max_machines), explain_all_(explain_all), score_every_(score_every) {}

  // Applies one reading with `model` (the model current when the request began): the machine's
  // state advances and the reading is scored. A reading out of time order, for a machine beyond
  // max_machines, or that the state refuses leaves everything unchanged and is an error. A
  // throttled reading (score_every) is not scored: the point says so.
  // When `features` is given, the scored feature vector is appended to it.
  absl::StatusOr<RiskPoint> Apply(const MachineReading& reading,
                                  const std::shared_ptr<const ServedModel>& model,
                                  std::vector<float>* features = nullptr);
  // Applies an event (maintenance, failure, error) to a known machine's state.
  absl::Status ApplyEvent(const std::string& machine, const features::Event& event,
                          const std::shared_ptr<const ServedModel>& model);

  // A machine's online state in bytes, to hand the machine to another replica (the Kafka
  // source's rebalance): nullopt when the machine is unknown or has no state.
  struct StateSnapshot {
    std::string pipeline_hash;  // the feature pipeline it was built with
    double last_time = 0;       // of its last reading
    std::string bytes;          // OnlineFeatureState::Serialize
  };
  std::optional<StateSnapshot> Snapshot(const std::string& machine) const;
  // Takes `snapshot` as the machine's state when the machine has no state here or an older one
  // (its last reading before the snapshot's), and `model`'s pipeline built it. Whether it did;
  // an error when the bytes are not a state of that pipeline.
  absl::StatusOr<bool> Restore(const std::string& machine, const StateSnapshot& snapshot,
                               const std::shared_ptr<const ServedModel>& model);

  std::optional<MachineView> Get(const std::string& machine) const;
  // The feature vector of the machine's latest scored reading, and the model version that
  // scored it; empty when it has none or it was not kept (see the constructor).
  std::pair<std::vector<float>, int64_t> LastFeatures(const std::string& machine) const;
  std::vector<MachineSummary> Summaries() const;
  size_t size() const;

 private:
  struct Machine {
    mutable std::mutex mu;
    // The model whose pipeline `state` runs on (kept alive while the state uses it).
    std::shared_ptr<const ServedModel> pipeline_owner;
    std::optional<features::OnlineFeatureState> state;
    features::EntityStatic statics;
    double first_time = std::nan("");  // of the state's first reading
    double last_time = std::nan("");   // of its latest accepted reading
    int64_t unscored = 0;              // accepted readings since the latest scored one
    MachineView view;
    std::vector<float> last_features;  // of view.latest
  };
  // The machine, created when absent (nullptr beyond max_machines_).
  Machine* Find(const std::string& machine, bool create);
  // The machine, or nullptr when it is not followed. Machines are never removed, so the
  // pointer stays valid.
  const Machine* Existing(const std::string& machine) const;
  // Makes the state run on `model`'s pipeline: kept when the pipeline's hash is unchanged,
  // started over otherwise.
  static void Bind(Machine* m, const std::shared_ptr<const ServedModel>& model);

  const size_t max_machines_;
  const bool explain_all_;
  const std::optional<core::Span> score_every_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, std::unique_ptr<Machine>> machines_;
};

}  // namespace pdm::serving

#endif  // PDM_SERVING_FLEET_H_
