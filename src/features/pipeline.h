// The feature pipeline: which inputs a reading carries, which features come out (names in
// order), and the parameters fitted at training time (operating regimes). Built from a dataset
// spec, fitted on training data, stored with every model as JSON, and identified by a content
// hash. The batch builder and the online state both compute features through it.
#ifndef PDM_FEATURES_PIPELINE_H_
#define PDM_FEATURES_PIPELINE_H_

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "features/window_stats.h"
#include "spec/dataset_spec.h"

namespace pdm::features {

// A categorical input and its declared values (codes index `values`).
struct CategoricalInput {
  std::string name;
  std::vector<std::string> values;
};

// What the pipeline reads. Numeric and categorical inputs are in the validator's order (the
// spec's declaration order), so a validated Row maps onto a Reading without reordering.
struct InputLayout {
  spec::TimeType time_type = spec::TimeType::kNone;
  bool has_entity = false;
  std::vector<std::string> numeric;              // every numeric column of the data table
  std::vector<spec::ColumnRole> numeric_roles;   // sensor, setting, attribute, label, ...
  std::vector<double> numeric_min, numeric_max;  // declared valid ranges (infinite: none)
  std::vector<CategoricalInput> categorical;     // categorical columns of the data table
  // Static per-entity attributes (the machines table).
  std::vector<std::string> static_numeric;
  std::vector<CategoricalInput> static_categorical;
  // Declared event kinds; empty when the table is absent or its kinds are open.
  bool has_failures = false, has_maintenance = false, has_errors = false;
  std::vector<std::string> failure_kinds, maintenance_kinds, error_kinds;
};

// Operating regimes fitted at training time: k-means centres over scaled settings.
struct RegimeModel {
  std::vector<int> setting_inputs;           // indexes into InputLayout::numeric
  std::vector<double> offset, scale;         // scaled = (x - offset) / scale
  std::vector<std::vector<double>> centres;  // per regime, scaled settings
  // Per regime, per windowed sensor: mean and standard deviation (normalisation).
  std::vector<std::vector<double>> mean, stddev;
  std::vector<int64_t> support;  // training records per regime

  // The regime of a reading's numeric inputs; -1 when a setting is missing.
  int Assign(std::span<const double> numeric) const;
};

enum class EventType : uint8_t { kMaintenance = 0, kFailure = 1, kError = 2 };

// An event of one entity. `kind` indexes the table's declared kinds; -1 when unknown/undeclared.
struct Event {
  double time = 0;
  EventType type = EventType::kError;
  int32_t kind = -1;
};

// What one output feature is, for those who watch it (the drift monitor's reference profile).
struct FeatureFacts {
  enum class Kind {
    kCurrent,     // a current value: raw input, derived, categorical, static attribute, regime
    kWindow,      // a statistic of a sensor over a window
    kEventCount,  // error events over a window
    kClock,       // grows with time by construction: age, time since maintenance or failure
  };
  Kind kind = Kind::kCurrent;
  // Data time after an entity's first reading before the feature is in steady state (its
  // window; for `delta`, its window or the baseline, whichever is longer). None: at once, or
  // a row window.
  std::optional<core::Span> warmup;
  // The input it is computed from: a sensor, setting or attribute name for current values and
  // windows, "errors" for event counts, the feature's own name otherwise.
  std::string source;
};
const char* FeatureKindName(FeatureFacts::Kind kind);

class FeaturePipeline {
 public:
  // Builds the (unfitted) pipeline of a spec. Errors name the spec key.
  static absl::StatusOr<FeaturePipeline> Create(const spec::DatasetSpec& spec);
  // Restores a pipeline written by ToJson; refuses one whose hash does not match its content.
  static absl::StatusOr<FeaturePipeline> FromJson(std::string_view json);

  // Fits the regime model on training rows: `numeric` is row-major, layout().numeric.size()
  // values per row. Deterministic. A no-op when the spec declares no regimes.
  absl::Status Fit(std::span<const double> numeric, int64_t rows);
  bool needs_fit() const { return features_.regimes.has_value(); }
  bool fitted() const { return !needs_fit() || regimes_.has_value(); }

  const InputLayout& layout() const { return layout_; }
  const spec::FeatureSpec& spec() const { return features_; }
  const std::optional<RegimeModel>& regimes() const { return regimes_; }
  const std::vector<std::string>& feature_names() const { return names_; }
  size_t feature_count() const { return names_.size(); }
  // One per feature name, in the same order.
  const std::vector<FeatureFacts>& feature_facts() const { return facts_; }

  // Canonical JSON of everything that determines the features (inputs, configuration, fitted
  // regimes, names), and its SHA-256 in hex: the feature-spec hash every model records.
  std::string ToJson() const;
  const std::string& hash() const { return hash_; }
  // ToJson plus the hash: what a model stores and FromJson reads back.
  std::string ToStoredJson() const;

  // Output unit of durations (ages, time since, slopes): hours for timestamps, else the time
  // column's own unit.
  double time_unit() const;

  // Internal layout used by OnlineFeatureState.
  struct WindowedSensor {
    int input = 0;  // index into layout().numeric
    bool reset_on_any = false;
    std::vector<int> reset_components;  // maintenance kinds that reset it
  };
  const std::vector<WindowedSensor>& windowed() const { return windowed_; }
  const std::vector<WindowDef>& window_defs() const { return window_defs_; }
  int baseline_window() const { return baseline_window_; }  // -1 without baseline
  const std::vector<int>& raw_inputs() const { return raw_inputs_; }
  struct DerivedInput {
    spec::FeatureSpec::DerivedOp op;
    int a = 0, b = 0;  // indices into layout().numeric
  };
  const std::vector<DerivedInput>& derived() const { return derived_; }

 private:
  absl::Status Finish();  // names, hash

  InputLayout layout_;
  spec::FeatureSpec features_;
  std::optional<RegimeModel> regimes_;
  std::vector<WindowedSensor> windowed_;
  std::vector<WindowDef> window_defs_;  // features_.windows, then the baseline if separate
  int baseline_window_ = -1;
  std::vector<int> raw_inputs_;
  std::vector<DerivedInput> derived_;
  std::vector<std::string> names_;
  std::vector<FeatureFacts> facts_;
  std::string hash_;
};

}  // namespace pdm::features

#endif  // PDM_FEATURES_PIPELINE_H_
