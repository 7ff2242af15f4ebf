// The dataset specification: everything pdm needs to know about a dataset's files, columns and
// labels, read from YAML so that no dataset is hard-coded in C++. See docs/dataset-spec.md.
#ifndef PDM_SPEC_DATASET_SPEC_H_
#define PDM_SPEC_DATASET_SPEC_H_

#include <cstdint>
#include <filesystem>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/time.h"

namespace pdm::spec {

// How a delimited text file is laid out.
struct CsvFormat {
  // Field separator. Ignored when `whitespace` is true.
  char delimiter = ',';
  // Fields separated by runs of spaces/tabs; leading and trailing blanks ignored (C-MAPSS).
  bool whitespace = false;
  // The first record names the columns. When false, `columns` gives the names.
  bool header = true;
  std::vector<std::string> columns;
  // Cell texts that mean "no value" (besides the empty cell, which always does).
  std::vector<std::string> na_values = {"NA", "N/A", "null", "NULL", "None"};
};

enum class ColumnRole {
  kEntity,          // the machine / unit a record belongs to
  kTime,            // timestamp or cycle number
  kSensor,          // a measured channel (numeric)
  kSetting,         // an operating-condition setting (numeric)
  kAttribute,       // a numeric per-record attribute that is neither sensor nor setting
  kCategorical,     // a value from a declared set
  kIdentifier,      // a record id: kept, never a feature
  kIgnored,         // present in the file, never read
  kLabel,           // the training target (0/1 or a number)
  kLabelComponent,  // part of the target (e.g. a failure-mode flag): never a feature
  kEventKind,       // the kind of an event (component, mode, error code)
};

const char* ColumnRoleName(ColumnRole role);
bool IsNumericRole(ColumnRole role);

enum class TimeType { kNone, kTimestamp, kCycle, kUnixSeconds };

// What the validator does with a value that breaks a rule.
enum class Policy {
  kReject,  // quarantine the whole row
  kFlag,    // keep the row, treat the value as missing, count the flag
};

// One column of a table, as the spec declares it.
struct ColumnSpec {
  std::string name;
  ColumnRole role = ColumnRole::kIgnored;
  std::string unit;
  std::string description;
  // Valid range for numeric columns (inclusive); infinite when not declared.
  double min = -std::numeric_limits<double>::infinity();
  double max = std::numeric_limits<double>::infinity();
  // Allowed values of a categorical / event-kind column; empty means any non-empty text.
  std::vector<std::string> categories;
  // Where in the YAML document the column was declared ("sensors[2]"), for error messages.
  std::string yaml_path;
};

// Per-rule policies. Row-level rules (column count, duplicate key, time order, missing key fields)
// always reject: a row without a valid key cannot be kept.
struct ValidationPolicy {
  Policy missing_value = Policy::kReject;
  Policy unparseable = Policy::kReject;
  Policy non_finite = Policy::kReject;
  Policy out_of_range = Policy::kReject;
  Policy unknown_category = Policy::kReject;
};

// One delimited file and its columns.
struct TableSpec {
  // "data", "test", "failures", "maintenance", "errors", "machines".
  std::string role;
  std::filesystem::path path;
  std::string yaml_path;  // "data", "events.failures", ...
  CsvFormat format;
  std::string entity_column;  // empty when the data has no entity
  std::string time_column;    // empty when the data has no time
  TimeType time_type = TimeType::kNone;
  // Every declared column except entity and time.
  std::vector<ColumnSpec> columns;
  // Checks (entity, time) uniqueness and time order within an entity.
  bool check_order = true;
  // Set when the file holds rows of several tables (one event table with a type column, read
  // as the failures, maintenance and errors tables): this table's rows are those whose
  // `column` (declared among the columns, kIgnored) is one of `values`. The others are left to
  // the other tables and not counted here, except when `refuse_others`: then a row whose type
  // is none of `all_values` is quarantined here (unknown_category), so that every row of the
  // file is accepted or quarantined by exactly one table.
  struct RowSelect {
    std::string column;
    std::vector<std::string> values;
    std::vector<std::string> all_values;
    bool refuse_others = false;
  };
  std::optional<RowSelect> select;
  // Long format (`machine, time, sensor, value`, as historians and InfluxDB export): each row
  // holds one value, named by `sensor_column`; the rows of one entity and time are pivoted into
  // one reading of the declared columns (validate/validator.h). The file's other columns must
  // be identifiers or ignored.
  struct LongLayout {
    std::string sensor_column;
    std::string value_column;
  };
  std::optional<LongLayout> long_layout;

  const ColumnSpec* FindColumn(std::string_view name) const;
};

enum class LabelSource {
  kNone,          // no labels (unsupervised use, or labels come later)
  kColumn,        // a column of the data table
  kEvents,        // the failure events table
  kRunToFailure,  // each entity fails at its last record
};

// Amounts of time below are in the data's time unit: seconds for timestamp / unix_seconds data,
// cycles for cycle data.
struct LabelSpec {
  LabelSource source = LabelSource::kNone;
  std::string column;                   // kColumn
  std::vector<std::string> components;  // kColumn: columns that make up the label
  // kEvents / kRunToFailure: a record is positive when a failure happens in [t, t + horizon].
  std::optional<double> horizon;
  // Only failures of this kind (component or mode) count; empty: any failure.
  std::string failure_kind;
  // Remaining useful life is clipped at this value (C-MAPSS convention: 125 cycles).
  std::optional<double> rul_clip;
};

// Statistics of a sensor over a window. Names (WindowStatName) appear in feature names.
enum class WindowStat { kMean, kStd, kMin, kMax, kLast, kSlope, kEwma, kRange, kDelta, kCount };
inline constexpr int kWindowStatCount = 10;
const char* WindowStatName(WindowStat stat);

enum class CategoricalEncoding { kOneHot, kCodes };

// Operating regimes: conditions found by clustering setting columns at training time.
struct RegimeSpec {
  std::vector<std::string> settings;  // setting columns that define the operating condition
  int max_regimes = 8;                // k of the k-means fit
  // Fitted centres closer than this, in units of each setting's range, merge into one regime.
  double min_separation = 0.05;
  bool normalize = true;  // z-score each sensor per regime before the windows
};

// Which features to compute (`features:` in the spec). See docs/features.md.
struct FeatureSpec {
  std::vector<core::Span> windows;  // all of one kind is not required: "24h" and "20r" can mix
  // The windows as written ("24h", not "1d"): feature names use them.
  std::vector<std::string> window_names;
  std::vector<WindowStat> stats = {WindowStat::kMean, WindowStat::kStd,   WindowStat::kMin,
                                   WindowStat::kMax,  WindowStat::kSlope, WindowStat::kCount};
  std::vector<std::string> sensors;  // empty: every sensor
  std::optional<core::Span> baseline;
  std::string baseline_name;
  bool raw = true;                        // current values of sensors, settings and attributes
  std::vector<core::Span> event_windows;  // error-event counts (time spans)
  std::vector<std::string> event_window_names;
  bool time_since = true;  // time since maintenance / failure, and age
  CategoricalEncoding categoricals = CategoricalEncoding::kOneHot;
  std::optional<RegimeSpec> regimes;
  // A maintenance of `component` ("*": any) restarts the windows of `sensors`.
  struct Reset {
    std::string component;
    std::vector<std::string> sensors;
  };
  std::vector<Reset> reset_on_maintenance;
  // Current-value features computed from two numeric inputs of the same reading (physics the
  // engineer knows: power = torque x speed, a temperature difference, wear x load).
  enum class DerivedOp { kProduct, kDifference, kRatio, kSum };
  struct Derived {
    std::string name;
    DerivedOp op = DerivedOp::kProduct;
    std::string a, b;  // the value is a op b
  };
  std::vector<Derived> derived;
};
const char* DerivedOpName(FeatureSpec::DerivedOp op);

// Held-out data whose entities are cut before failure, with the true RUL at each entity's last
// record in a separate one-number-per-line file (C-MAPSS).
struct TestSetSpec {
  TableSpec table;
  std::filesystem::path rul_path;
};

// How `pdm train` learns from this dataset (`training:` in the spec); command-line flags override.
// Strings are checked when the spec is read; the model module interprets them.
struct TrainingSpec {
  std::string task;  // classify | rul; empty: classify when labels allow
  std::string cv;    // auto | group | time | stratified | kfold
  int folds = 5;
  std::vector<std::string> models;  // rf, gbm, xgb; empty: all three
  int search = 0;                   // random-search budget per member (0: defaults only)
  std::string calibration;          // platt | isotonic | none; empty: platt
  std::string class_weight;         // none | balanced | sqrt; empty: none
  // Costs of a missed failure and of a false alarm: the threshold minimises expected cost.
  std::optional<double> cost_missed_failure;
  std::optional<double> cost_false_alarm;
  std::optional<uint64_t> seed;
};

struct DatasetSpec {
  int version = 1;
  std::string name;
  std::string description;
  std::filesystem::path spec_path;
  TableSpec data;
  LabelSpec labels;
  ValidationPolicy validation;
  FeatureSpec features;
  std::optional<TestSetSpec> test;
  std::optional<TableSpec> failures;
  std::optional<TableSpec> maintenance;
  std::optional<TableSpec> errors;
  std::optional<TableSpec> machines;  // static per-entity attributes
  TrainingSpec training;

  // Every table the spec names, main data first.
  std::vector<const TableSpec*> Tables() const;
};

// Reads and checks a spec. Errors name the file, the key path and the reason, e.g.
// "specs/x.yaml: sensors[2].range: expected [min, max] with min <= max".
absl::StatusOr<DatasetSpec> LoadDatasetSpec(const std::filesystem::path& path);
absl::StatusOr<DatasetSpec> ParseDatasetSpec(std::string_view yaml_text,
                                             const std::filesystem::path& spec_path);

// Expands ${VAR} and ${VAR:-default} from the environment in a path written in a spec.
std::string ExpandEnvironment(std::string_view text);

}  // namespace pdm::spec

#endif  // PDM_SPEC_DATASET_SPEC_H_
