#include "spec/dataset_spec.h"

#include <algorithm>
#include <cstdlib>
#include <set>

#include "absl/container/flat_hash_set.h"
#include "core/file.h"
#include "core/status.h"
#include "core/strings.h"
#include "fmt/ranges.h"
#include "yaml-cpp/yaml.h"

namespace pdm::spec {
namespace {

namespace fs = std::filesystem;

// Collects the first error with its key path; every reader below stops at the first error.
class SpecReader {
 public:
  explicit SpecReader(const fs::path& spec_path) : spec_path_(spec_path) {}

  bool ok() const { return error_.empty(); }
  absl::Status status() const {
    return ok() ? absl::OkStatus()
                : absl::InvalidArgumentError(core::StrCat(spec_path_.string(), ": ", error_));
  }

  void Fail(std::string_view path, std::string_view reason) {
    if (ok()) error_ = core::StrCat(path.empty() ? "(document)" : path, ": ", reason);
  }

  static std::string Join(std::string_view path, std::string_view key) {
    return path.empty() ? std::string(key) : core::StrCat(path, ".", key);
  }
  static std::string Index(std::string_view path, size_t i) {
    return core::StrCat(path, "[", i, "]");
  }

  // Refuses keys of a mapping that are not in `allowed`.
  void CheckKeys(const YAML::Node& node, std::string_view path,
                 std::initializer_list<std::string_view> allowed) {
    if (!ok()) return;
    if (!node.IsMap()) {
      Fail(path, "expected a mapping");
      return;
    }
    for (const auto& entry : node) {
      const std::string key = entry.first.as<std::string>();
      bool known = false;
      for (auto a : allowed) known = known || a == key;
      if (!known) {
        Fail(Join(path, key), core::StrCat("unknown key (allowed here: ",
                                           fmt::format("{}", fmt::join(allowed, ", ")), ")"));
        return;
      }
    }
  }

  std::string String(const YAML::Node& parent, std::string_view path, const char* key,
                     bool required, std::string fallback = "") {
    if (!ok()) return fallback;
    const YAML::Node node = parent[key];
    if (!node || node.IsNull()) {
      if (required) Fail(Join(path, key), "missing required key");
      return fallback;
    }
    if (!node.IsScalar()) {
      Fail(Join(path, key), "expected a string");
      return fallback;
    }
    return node.Scalar();
  }

  // An optional scalar of type T; `expected` says what in the error ("true or false").
  template <typename T>
  T Scalar(const YAML::Node& parent, std::string_view path, const char* key, T fallback,
           std::string_view expected) {
    if (!ok()) return fallback;
    const YAML::Node node = parent[key];
    if (!node || node.IsNull()) return fallback;
    T value = fallback;
    if (!node.IsScalar() || !YAML::convert<T>::decode(node, value)) {
      Fail(Join(path, key), core::StrCat("expected ", expected, ", got '", Describe(node), "'"));
    }
    return value;
  }
  bool Bool(const YAML::Node& parent, std::string_view path, const char* key, bool fallback) {
    return Scalar<bool>(parent, path, key, fallback, "true or false");
  }
  int Int(const YAML::Node& parent, std::string_view path, const char* key, int fallback) {
    return Scalar<int>(parent, path, key, fallback, "an integer");
  }

  std::vector<std::string> StringList(const YAML::Node& parent, std::string_view path,
                                      const char* key) {
    std::vector<std::string> out;
    if (!ok()) return out;
    const YAML::Node node = parent[key];
    if (!node || node.IsNull()) return out;
    if (!node.IsSequence()) {
      Fail(Join(path, key), "expected a list");
      return out;
    }
    for (size_t i = 0; i < node.size(); ++i) {
      if (!node[i].IsScalar()) {
        Fail(Index(Join(path, key), i), "expected a string");
        return out;
      }
      out.push_back(node[i].Scalar());
    }
    return out;
  }

  double Number(const YAML::Node& node, std::string_view path) {
    double value = 0;
    if (!node.IsScalar() || !YAML::convert<double>::decode(node, value)) {
      Fail(path, core::StrCat("expected a number, got '", Describe(node), "'"));
    }
    return value;
  }

  Policy ReadPolicy(const YAML::Node& parent, std::string_view path, const char* key,
                    Policy fallback) {
    const std::string text = String(parent, path, key, false, "");
    if (text.empty()) return fallback;
    if (text == "reject") return Policy::kReject;
    if (text == "flag") return Policy::kFlag;
    Fail(Join(path, key), core::StrCat("expected reject or flag, got '", text, "'"));
    return fallback;
  }

  fs::path ResolvePath(const std::string& written) const {
    fs::path path(ExpandEnvironment(written));
    if (path.is_relative()) path = spec_path_.parent_path() / path;
    return path.lexically_normal();
  }

 private:
  static std::string Describe(const YAML::Node& node) {
    return node.IsScalar() ? node.Scalar()
                           : std::string(node.IsSequence() ? "<list>" : "<mapping>");
  }

  fs::path spec_path_;
  std::string error_;
};

void ReadFormat(SpecReader& r, const YAML::Node& parent, std::string_view path, CsvFormat* format) {
  const YAML::Node node = parent["format"];
  if (!node) return;
  const std::string fpath = SpecReader::Join(path, "format");
  r.CheckKeys(node, fpath, {"delimiter", "header", "columns", "na_values"});
  const std::string delimiter = r.String(node, fpath, "delimiter", false, ",");
  if (delimiter == "whitespace") {
    format->whitespace = true;
  } else if (delimiter == "\\t" || delimiter == "tab") {
    format->delimiter = '\t';
  } else if (delimiter.size() == 1 && delimiter != "\"" && delimiter != "\n" && delimiter != "\r") {
    format->delimiter = delimiter[0];
  } else if (r.ok()) {
    r.Fail(SpecReader::Join(fpath, "delimiter"),
           core::StrCat("expected one character, 'tab' or 'whitespace', got '", delimiter, "'"));
  }
  format->header = r.Bool(node, fpath, "header", true);
  format->columns = r.StringList(node, fpath, "columns");
  if (node["na_values"]) format->na_values = r.StringList(node, fpath, "na_values");
  if (!r.ok()) return;
  if (!format->header && format->columns.empty()) {
    r.Fail(SpecReader::Join(fpath, "columns"), "required when header is false");
  } else if (format->header && !format->columns.empty()) {
    r.Fail(SpecReader::Join(fpath, "columns"),
           "only allowed with header: false (a header already names the columns)");
  }
}

void ReadNumericColumns(SpecReader& r, const YAML::Node& parent, std::string_view path,
                        const char* key, ColumnRole role, std::vector<ColumnSpec>* out) {
  const YAML::Node node = parent[key];
  if (!r.ok() || !node || node.IsNull()) return;
  const std::string list_path = SpecReader::Join(path, key);
  if (!node.IsSequence()) {
    r.Fail(list_path, "expected a list of columns");
    return;
  }
  for (size_t i = 0; i < node.size() && r.ok(); ++i) {
    const std::string cpath = SpecReader::Index(list_path, i);
    ColumnSpec column;
    column.role = role;
    column.yaml_path = cpath;
    if (node[i].IsScalar()) {
      column.name = node[i].Scalar();
    } else {
      r.CheckKeys(node[i], cpath, {"name", "unit", "description", "range", "min", "max"});
      column.name = r.String(node[i], cpath, "name", true);
      column.unit = r.String(node[i], cpath, "unit", false);
      column.description = r.String(node[i], cpath, "description", false);
      if (const YAML::Node range = node[i]["range"]; range) {
        const std::string rpath = SpecReader::Join(cpath, "range");
        if (!range.IsSequence() || range.size() != 2) {
          r.Fail(rpath, "expected [min, max]");
          return;
        }
        column.min = r.Number(range[0], SpecReader::Index(rpath, 0));
        column.max = r.Number(range[1], SpecReader::Index(rpath, 1));
      }
      if (const YAML::Node min = node[i]["min"]; min) {
        column.min = r.Number(min, SpecReader::Join(cpath, "min"));
      }
      if (const YAML::Node max = node[i]["max"]; max) {
        column.max = r.Number(max, SpecReader::Join(cpath, "max"));
      }
      if (r.ok() && !(column.min <= column.max)) {
        r.Fail(SpecReader::Join(cpath, "range"), "min must not exceed max");
      }
    }
    if (r.ok() && column.name.empty()) r.Fail(SpecReader::Join(cpath, "name"), "must not be empty");
    out->push_back(std::move(column));
  }
}

void ReadCategoricals(SpecReader& r, const YAML::Node& parent, std::string_view path,
                      std::vector<ColumnSpec>* out) {
  const YAML::Node node = parent["categoricals"];
  if (!r.ok() || !node || node.IsNull()) return;
  const std::string list_path = SpecReader::Join(path, "categoricals");
  if (!node.IsSequence()) {
    r.Fail(list_path, "expected a list of columns");
    return;
  }
  for (size_t i = 0; i < node.size() && r.ok(); ++i) {
    const std::string cpath = SpecReader::Index(list_path, i);
    ColumnSpec column;
    column.role = ColumnRole::kCategorical;
    column.yaml_path = cpath;
    r.CheckKeys(node[i], cpath, {"name", "values", "description"});
    column.name = r.String(node[i], cpath, "name", true);
    column.description = r.String(node[i], cpath, "description", false);
    column.categories = r.StringList(node[i], cpath, "values");
    if (r.ok() && column.categories.empty()) {
      r.Fail(SpecReader::Join(cpath, "values"), "a categorical column needs its list of values");
    }
    out->push_back(std::move(column));
  }
}

void ReadNamedColumns(SpecReader& r, const YAML::Node& parent, std::string_view path,
                      const char* key, ColumnRole role, std::vector<ColumnSpec>* out) {
  const std::vector<std::string> names = r.StringList(parent, path, key);
  for (size_t i = 0; i < names.size(); ++i) {
    ColumnSpec column;
    column.name = names[i];
    column.role = role;
    column.yaml_path = SpecReader::Index(SpecReader::Join(path, key), i);
    out->push_back(std::move(column));
  }
}

TimeType ParseTimeType(SpecReader& r, std::string_view path, const std::string& text) {
  if (text == "timestamp") return TimeType::kTimestamp;
  if (text == "cycle") return TimeType::kCycle;
  if (text == "unix_seconds") return TimeType::kUnixSeconds;
  r.Fail(path, core::StrCat("expected timestamp, cycle or unix_seconds, got '", text, "'"));
  return TimeType::kNone;
}

// Refuses a column declared twice, or declared as entity/time and again elsewhere.
void CheckUnique(SpecReader& r, const TableSpec& table) {
  absl::flat_hash_set<std::string> seen;
  if (!table.entity_column.empty()) seen.insert(table.entity_column);
  if (!table.time_column.empty() && !seen.insert(table.time_column).second) {
    r.Fail(table.yaml_path,
           core::StrCat("column '", table.time_column, "' is both entity and time"));
  }
  for (const ColumnSpec& column : table.columns) {
    if (!seen.insert(column.name).second) {
      r.Fail(column.yaml_path,
             core::StrCat("column '", column.name, "' is declared more than once"));
      return;
    }
  }
}

// An event table: entity, time, a kind column and optional extra columns.
std::optional<TableSpec> ReadEventTable(SpecReader& r, const YAML::Node& node,
                                        std::string_view path, std::string role,
                                        TimeType default_time_type) {
  if (!r.ok() || !node || node.IsNull()) return std::nullopt;
  r.CheckKeys(node, path,
              {"file", "format", "entity", "time", "time_type", "kind", "kinds", "categoricals",
               "attributes", "identifiers", "ignore"});
  TableSpec table;
  table.role = std::move(role);
  table.yaml_path = std::string(path);
  table.check_order = false;
  table.path = r.ResolvePath(r.String(node, path, "file", true));
  ReadFormat(r, node, path, &table.format);
  table.entity_column = r.String(node, path, "entity", false);
  table.time_column = r.String(node, path, "time", true);
  const std::string time_type = r.String(node, path, "time_type", false);
  table.time_type = time_type.empty()
                        ? default_time_type
                        : ParseTimeType(r, SpecReader::Join(path, "time_type"), time_type);
  if (r.ok() && table.time_type == TimeType::kNone) {
    r.Fail(SpecReader::Join(path, "time_type"), "required when the data has no time column");
  }
  const std::string kind = r.String(node, path, "kind", false);
  if (!kind.empty()) {
    ColumnSpec column;
    column.name = kind;
    column.role = ColumnRole::kEventKind;
    column.categories = r.StringList(node, path, "kinds");
    column.yaml_path = SpecReader::Join(path, "kind");
    table.columns.push_back(std::move(column));
  }
  ReadCategoricals(r, node, path, &table.columns);
  ReadNumericColumns(r, node, path, "attributes", ColumnRole::kAttribute, &table.columns);
  ReadNamedColumns(r, node, path, "identifiers", ColumnRole::kIdentifier, &table.columns);
  ReadNamedColumns(r, node, path, "ignore", ColumnRole::kIgnored, &table.columns);
  CheckUnique(r, table);
  return table;
}

// events.table: one file of every event type (a CMMS export: ts, asset, kind, mode), read as
// the failures, maintenance and errors tables, each selecting its rows by the type column.
void ReadCombinedEventTable(SpecReader& r, const YAML::Node& node, TimeType default_time_type,
                            DatasetSpec* spec) {
  constexpr std::string_view kPath = "events.table";
  if (!r.ok() || !node || node.IsNull()) return;
  r.CheckKeys(node, kPath,
              {"file", "format", "entity", "time", "time_type", "type", "types", "kind", "kinds",
               "categoricals", "attributes", "identifiers", "ignore"});
  const std::string type_column = r.String(node, kPath, "type", true);
  // The type values of each table: `types` maps failure / maintenance / error to the texts
  // that mean it (default: the names themselves).
  struct Part {
    const char* type;
    const char* role;
    std::optional<TableSpec>* table;
  };
  const Part parts[] = {{"failure", "failures", &spec->failures},
                        {"maintenance", "maintenance", &spec->maintenance},
                        {"error", "errors", &spec->errors}};
  std::vector<std::vector<std::string>> values(3);
  const YAML::Node types = node["types"];
  if (types && !types.IsNull()) {
    r.CheckKeys(types, SpecReader::Join(kPath, "types"), {"failure", "maintenance", "error"});
    for (size_t p = 0; p < 3; ++p) {
      values[p] = r.StringList(types, SpecReader::Join(kPath, "types"), parts[p].type);
    }
  } else {
    for (size_t p = 0; p < 3; ++p) values[p] = {parts[p].type};
  }
  std::vector<std::string> all_values;
  for (const auto& v : values) all_values.insert(all_values.end(), v.begin(), v.end());
  if (r.ok() && all_values.empty()) {
    r.Fail(SpecReader::Join(kPath, "types"), "names no type value");
  }
  std::vector<std::string> seen;
  for (const std::string& v : all_values) {
    if (r.ok() && std::find(seen.begin(), seen.end(), v) != seen.end()) {
      r.Fail(SpecReader::Join(kPath, "types"), core::StrCat("'", v, "' is listed twice"));
    }
    seen.push_back(v);
  }
  // `kinds`: one list for every type, or a list per type.
  const YAML::Node kinds = node["kinds"];
  const bool kinds_per_type = kinds && kinds.IsMap();
  if (kinds_per_type) {
    r.CheckKeys(kinds, SpecReader::Join(kPath, "kinds"), {"failure", "maintenance", "error"});
  }
  YAML::Node per_part = YAML::Clone(node);
  per_part.remove("type");
  per_part.remove("types");
  per_part.remove("kinds");
  bool first = true;
  for (size_t p = 0; p < 3 && r.ok(); ++p) {
    if (values[p].empty()) continue;
    std::optional<TableSpec> table =
        ReadEventTable(r, per_part, kPath, parts[p].role, default_time_type);
    if (!table) continue;
    if (!table->columns.empty() && table->columns[0].role == ColumnRole::kEventKind) {
      table->columns[0].categories =
          kinds_per_type ? r.StringList(kinds, SpecReader::Join(kPath, "kinds"), parts[p].type)
                         : r.StringList(node, kPath, "kinds");
      table->columns[0].yaml_path = SpecReader::Join(kPath, "kind");
    }
    ColumnSpec type;
    type.name = type_column;
    type.role = ColumnRole::kIgnored;
    type.yaml_path = SpecReader::Join(kPath, "type");
    table->columns.push_back(std::move(type));
    CheckUnique(r, *table);
    table->select = TableSpec::RowSelect{type_column, values[p], all_values, first};
    first = false;
    *parts[p].table = std::move(table);
  }
}

// An amount of time in the data's unit: a span text ("48h", "30d") for timestamp data, a plain
// number of cycles for cycle data.
std::optional<double> ReadTimeAmount(SpecReader& r, const YAML::Node& parent, std::string_view path,
                                     const char* key, TimeType time_type) {
  const YAML::Node node = parent[key];
  if (!r.ok() || !node || node.IsNull()) return std::nullopt;
  const std::string kpath = SpecReader::Join(path, key);
  if (!node.IsScalar()) {
    r.Fail(kpath, "expected a duration");
    return std::nullopt;
  }
  if (time_type == TimeType::kCycle) {
    const double cycles = r.Number(node, kpath);
    if (r.ok() && !(cycles > 0)) r.Fail(kpath, "expected a positive number of cycles");
    return cycles;
  }
  if (time_type == TimeType::kNone) {
    r.Fail(kpath, "needs a time column in the data");
    return std::nullopt;
  }
  absl::StatusOr<int64_t> seconds = core::ParseDurationSeconds(node.Scalar());
  if (!seconds.ok()) {
    r.Fail(kpath, std::string(seconds.status().message()));
    return std::nullopt;
  }
  return static_cast<double>(*seconds);
}

std::vector<core::Span> ReadSpans(SpecReader& r, const YAML::Node& parent, std::string_view path,
                                  const char* key, std::vector<std::string>* names) {
  std::vector<core::Span> spans;
  const std::vector<std::string> texts = r.StringList(parent, path, key);
  *names = texts;
  for (size_t i = 0; i < texts.size() && r.ok(); ++i) {
    absl::StatusOr<core::Span> span = core::ParseSpan(texts[i]);
    if (!span.ok()) {
      r.Fail(SpecReader::Index(SpecReader::Join(path, key), i),
             std::string(span.status().message()));
    } else if (std::find(spans.begin(), spans.end(), *span) != spans.end()) {
      r.Fail(SpecReader::Index(SpecReader::Join(path, key), i),
             core::StrCat("window '", texts[i], "' is listed twice"));
    } else {
      spans.push_back(*span);
    }
  }
  return spans;
}

// A window over time needs timestamps; a window over records needs a time column to order by.
void CheckSpanFits(SpecReader& r, std::string_view path, const core::Span& span,
                   std::string_view written, TimeType time_type) {
  if (!r.ok()) return;
  if (time_type == TimeType::kNone) {
    r.Fail(path, "windows need a time column in the data");
  } else if (span.is_time() && time_type == TimeType::kCycle) {
    r.Fail(path, core::StrCat("'", written,
                              "' is a span of time, but the data's time is a cycle number: "
                              "use a count of records/cycles such as '20r'"));
  }
}

std::vector<std::string> ColumnsWithRole(const TableSpec& table, ColumnRole role) {
  std::vector<std::string> names;
  for (const ColumnSpec& column : table.columns) {
    if (column.role == role) names.push_back(column.name);
  }
  return names;
}

void ReadFeatures(SpecReader& r, const YAML::Node& node, DatasetSpec* spec) {
  if (!r.ok() || !node || node.IsNull()) return;
  constexpr std::string_view kPath = "features";
  r.CheckKeys(node, kPath,
              {"windows", "stats", "sensors", "baseline", "raw", "events", "categoricals",
               "regimes", "reset_on_maintenance", "derived"});
  FeatureSpec& f = spec->features;
  const TimeType time_type = spec->data.time_type;
  f.windows = ReadSpans(r, node, kPath, "windows", &f.window_names);
  for (size_t i = 0; i < f.windows.size(); ++i) {
    CheckSpanFits(r, core::StrCat("features.windows[", i, "]"), f.windows[i], f.window_names[i],
                  time_type);
  }
  if (node["stats"]) {
    f.stats.clear();
    const std::vector<std::string> names = r.StringList(node, kPath, "stats");
    for (size_t i = 0; i < names.size() && r.ok(); ++i) {
      bool known = false;
      for (int s = 0; s < kWindowStatCount; ++s) {
        const auto stat = static_cast<WindowStat>(s);
        if (names[i] == WindowStatName(stat)) {
          known = true;
          if (std::find(f.stats.begin(), f.stats.end(), stat) == f.stats.end()) {
            f.stats.push_back(stat);
          }
        }
      }
      if (!known) {
        r.Fail(core::StrCat("features.stats[", i, "]"),
               core::StrCat("unknown statistic '", names[i],
                            "' (known: mean, std, min, max, last, slope, ewma, range, delta, "
                            "count)"));
      }
    }
  }
  const std::vector<std::string> sensors = ColumnsWithRole(spec->data, ColumnRole::kSensor);
  f.sensors = r.StringList(node, kPath, "sensors");
  for (size_t i = 0; i < f.sensors.size() && r.ok(); ++i) {
    if (std::find(sensors.begin(), sensors.end(), f.sensors[i]) == sensors.end()) {
      r.Fail(core::StrCat("features.sensors[", i, "]"),
             core::StrCat("'", f.sensors[i], "' is not a declared sensor"));
    }
  }
  if (const YAML::Node baseline = node["baseline"]; r.ok() && baseline) {
    absl::StatusOr<core::Span> span = core::ParseSpan(baseline.IsScalar() ? baseline.Scalar() : "");
    if (!span.ok()) {
      r.Fail("features.baseline", std::string(span.status().message()));
    } else {
      f.baseline = *span;
      f.baseline_name = baseline.Scalar();
      CheckSpanFits(r, "features.baseline", *span, f.baseline_name, time_type);
      for (const core::Span& window : f.windows) {
        if (r.ok() && window.kind == span->kind && window.amount >= span->amount) {
          r.Fail(
              "features.baseline",
              core::StrCat("the baseline must be longer than every window of its kind ('",
                           FormatSpan(*span), "' is not longer than '", FormatSpan(window), "')"));
        }
      }
    }
  }
  const bool wants_delta =
      std::find(f.stats.begin(), f.stats.end(), WindowStat::kDelta) != f.stats.end();
  if (r.ok() && wants_delta && !f.baseline) {
    r.Fail("features.stats", "delta needs features.baseline (the longer window it compares to)");
  }
  f.raw = r.Bool(node, kPath, "raw", true);
  if (const YAML::Node events = node["events"]; r.ok() && events) {
    r.CheckKeys(events, "features.events", {"windows", "time_since"});
    f.event_windows = ReadSpans(r, events, "features.events", "windows", &f.event_window_names);
    for (size_t i = 0; i < f.event_windows.size() && r.ok(); ++i) {
      const std::string epath = core::StrCat("features.events.windows[", i, "]");
      if (!spec->errors) {
        r.Fail(epath, "error-count windows need events.errors");
      } else if (!f.event_windows[i].is_time() || time_type == TimeType::kCycle ||
                 time_type == TimeType::kNone) {
        r.Fail(epath, "error-count windows are spans of time and need timestamps");
      }
    }
    f.time_since = r.Bool(events, "features.events", "time_since", true);
  }
  const std::string encoding = r.String(node, kPath, "categoricals", false, "onehot");
  if (encoding == "codes") {
    f.categoricals = CategoricalEncoding::kCodes;
  } else if (encoding != "onehot" && r.ok()) {
    r.Fail("features.categoricals", core::StrCat("expected onehot or codes, got '", encoding, "'"));
  }
  if (const YAML::Node regimes = node["regimes"]; r.ok() && regimes) {
    constexpr std::string_view kRegimePath = "features.regimes";
    r.CheckKeys(regimes, kRegimePath, {"settings", "max", "min_separation", "normalize"});
    RegimeSpec regime;
    regime.settings = r.StringList(regimes, kRegimePath, "settings");
    const std::vector<std::string> settings = ColumnsWithRole(spec->data, ColumnRole::kSetting);
    if (r.ok() && regime.settings.empty()) r.Fail("features.regimes.settings", "must not be empty");
    for (size_t i = 0; i < regime.settings.size() && r.ok(); ++i) {
      if (std::find(settings.begin(), settings.end(), regime.settings[i]) == settings.end()) {
        r.Fail(core::StrCat("features.regimes.settings[", i, "]"),
               core::StrCat("'", regime.settings[i], "' is not a declared setting"));
      }
    }
    regime.max_regimes = r.Int(regimes, kRegimePath, "max", regime.max_regimes);
    if (r.ok() && (regime.max_regimes < 1 || regime.max_regimes > 64)) {
      r.Fail("features.regimes.max", "expected 1 to 64");
    }
    regime.min_separation =
        r.Scalar<double>(regimes, kRegimePath, "min_separation", regime.min_separation, "a number");
    if (r.ok() && !(regime.min_separation >= 0 && regime.min_separation < 1)) {
      r.Fail("features.regimes.min_separation", "expected a number in [0, 1)");
    }
    regime.normalize = r.Bool(regimes, kRegimePath, "normalize", true);
    f.regimes = std::move(regime);
  }
  if (const YAML::Node resets = node["reset_on_maintenance"]; r.ok() && resets) {
    constexpr std::string_view kResetPath = "features.reset_on_maintenance";
    if (!spec->maintenance) {
      r.Fail(kResetPath, "needs events.maintenance");
      return;
    }
    if (!resets.IsMap()) {
      r.Fail(kResetPath, "expected a mapping of component to sensors");
      return;
    }
    std::vector<std::string> components;
    for (const ColumnSpec& column : spec->maintenance->columns) {
      if (column.role == ColumnRole::kEventKind) components = column.categories;
    }
    for (const auto& entry : resets) {
      FeatureSpec::Reset reset;
      reset.component = entry.first.as<std::string>();
      const std::string cpath = SpecReader::Join(kResetPath, reset.component);
      if (reset.component != "*" && !components.empty() &&
          std::find(components.begin(), components.end(), reset.component) == components.end()) {
        r.Fail(cpath, "not a component declared in events.maintenance.kinds (or '*' for any)");
        return;
      }
      reset.sensors = r.StringList(resets, kResetPath, reset.component.c_str());
      for (size_t i = 0; i < reset.sensors.size() && r.ok(); ++i) {
        if (std::find(sensors.begin(), sensors.end(), reset.sensors[i]) == sensors.end()) {
          r.Fail(SpecReader::Index(cpath, i),
                 core::StrCat("'", reset.sensors[i], "' is not a declared sensor"));
        }
      }
      f.reset_on_maintenance.push_back(std::move(reset));
    }
  }
  if (const YAML::Node derived = node["derived"]; r.ok() && derived) {
    constexpr std::string_view kDerivedPath = "features.derived";
    if (!derived.IsSequence()) {
      r.Fail(kDerivedPath, "expected a list of {name, product|difference|ratio|sum: [a, b]}");
      return;
    }
    std::set<std::string> numeric;
    for (const ColumnSpec& column : spec->data.columns) {
      if (column.role == ColumnRole::kSensor || column.role == ColumnRole::kSetting ||
          column.role == ColumnRole::kAttribute) {
        numeric.insert(column.name);
      }
    }
    std::set<std::string> names;
    for (size_t i = 0; i < derived.size() && r.ok(); ++i) {
      const std::string dpath = SpecReader::Index(kDerivedPath, i);
      r.CheckKeys(derived[i], dpath, {"name", "product", "difference", "ratio", "sum"});
      FeatureSpec::Derived d;
      d.name = r.String(derived[i], dpath, "name", true);
      int ops = 0;
      for (const auto op : {FeatureSpec::DerivedOp::kProduct, FeatureSpec::DerivedOp::kDifference,
                            FeatureSpec::DerivedOp::kRatio, FeatureSpec::DerivedOp::kSum}) {
        const char* key = DerivedOpName(op);
        if (!r.ok() || !derived[i][key]) continue;
        ++ops;
        d.op = op;
        const std::vector<std::string> of = r.StringList(derived[i], dpath, key);
        if (r.ok() && of.size() != 2) {
          r.Fail(SpecReader::Join(dpath, key), "expected two column names [a, b]");
        }
        for (size_t k = 0; r.ok() && k < of.size(); ++k) {
          if (!numeric.count(of[k])) {
            r.Fail(SpecReader::Index(SpecReader::Join(dpath, key), k),
                   core::StrCat("'", of[k], "' is not a sensor, setting or attribute"));
          }
        }
        if (r.ok()) {
          d.a = of[0];
          d.b = of[1];
        }
      }
      if (r.ok() && ops != 1) {
        r.Fail(dpath, "needs exactly one of product, difference, ratio, sum");
      }
      if (r.ok() && (!names.insert(d.name).second || spec->data.FindColumn(d.name) != nullptr)) {
        r.Fail(SpecReader::Join(dpath, "name"),
               core::StrCat("'", d.name, "' is already a column or derived feature"));
      }
      f.derived.push_back(std::move(d));
    }
  }
}

}  // namespace

const char* DerivedOpName(FeatureSpec::DerivedOp op) {
  switch (op) {
    case FeatureSpec::DerivedOp::kDifference:
      return "difference";
    case FeatureSpec::DerivedOp::kRatio:
      return "ratio";
    case FeatureSpec::DerivedOp::kSum:
      return "sum";
    case FeatureSpec::DerivedOp::kProduct:
      break;
  }
  return "product";
}

const char* WindowStatName(WindowStat stat) {
  switch (stat) {
    case WindowStat::kMean:
      return "mean";
    case WindowStat::kStd:
      return "std";
    case WindowStat::kMin:
      return "min";
    case WindowStat::kMax:
      return "max";
    case WindowStat::kLast:
      return "last";
    case WindowStat::kSlope:
      return "slope";
    case WindowStat::kEwma:
      return "ewma";
    case WindowStat::kRange:
      return "range";
    case WindowStat::kDelta:
      return "delta";
    case WindowStat::kCount:
      return "count";
  }
  return "unknown";
}

const char* ColumnRoleName(ColumnRole role) {
  switch (role) {
    case ColumnRole::kEntity:
      return "entity";
    case ColumnRole::kTime:
      return "time";
    case ColumnRole::kSensor:
      return "sensor";
    case ColumnRole::kSetting:
      return "setting";
    case ColumnRole::kAttribute:
      return "attribute";
    case ColumnRole::kCategorical:
      return "categorical";
    case ColumnRole::kIdentifier:
      return "identifier";
    case ColumnRole::kIgnored:
      return "ignored";
    case ColumnRole::kLabel:
      return "label";
    case ColumnRole::kLabelComponent:
      return "label_component";
    case ColumnRole::kEventKind:
      return "event_kind";
  }
  return "unknown";
}

bool IsNumericRole(ColumnRole role) {
  return role == ColumnRole::kSensor || role == ColumnRole::kSetting ||
         role == ColumnRole::kAttribute || role == ColumnRole::kLabel ||
         role == ColumnRole::kLabelComponent;
}

const ColumnSpec* TableSpec::FindColumn(std::string_view name) const {
  for (const ColumnSpec& column : columns) {
    if (column.name == name) return &column;
  }
  return nullptr;
}

std::vector<const TableSpec*> DatasetSpec::Tables() const {
  std::vector<const TableSpec*> tables = {&data};
  if (test) tables.push_back(&test->table);
  for (const auto* table : {&failures, &maintenance, &errors, &machines}) {
    if (table->has_value()) tables.push_back(&table->value());
  }
  return tables;
}

std::string ExpandEnvironment(std::string_view text) {
  std::string out;
  size_t i = 0;
  while (i < text.size()) {
    if (text[i] == '$' && i + 1 < text.size() && text[i + 1] == '{') {
      const size_t close = text.find('}', i + 2);
      if (close != std::string_view::npos) {
        std::string_view inner = text.substr(i + 2, close - i - 2);
        std::string_view fallback;
        if (const size_t sep = inner.find(":-"); sep != std::string_view::npos) {
          fallback = inner.substr(sep + 2);
          inner = inner.substr(0, sep);
        }
        const char* value = std::getenv(std::string(inner).c_str());
        out.append(value != nullptr && *value != '\0' ? std::string_view(value) : fallback);
        i = close + 1;
        continue;
      }
    }
    out.push_back(text[i++]);
  }
  return out;
}

void ReadTraining(SpecReader& r, const YAML::Node& node, DatasetSpec* spec) {
  if (!r.ok() || !node) return;
  constexpr std::string_view kPath = "training";
  r.CheckKeys(
      node, kPath,
      {"task", "cv", "folds", "models", "search", "calibration", "class_weight", "costs", "seed"});
  TrainingSpec& t = spec->training;
  auto one_of = [&](const char* key, std::initializer_list<std::string_view> allowed) {
    std::string value = r.String(node, kPath, key, false);
    if (!r.ok() || value.empty()) return value;
    if (std::find(allowed.begin(), allowed.end(), value) == allowed.end()) {
      r.Fail(SpecReader::Join(kPath, key),
             core::StrCat("expected one of ", fmt::format("{}", fmt::join(allowed, ", ")),
                          ", got '", value, "'"));
    }
    return value;
  };
  t.task = one_of("task", {"classify", "rul", "mode"});
  t.cv = one_of("cv", {"auto", "group", "time", "stratified", "kfold"});
  t.calibration = one_of("calibration", {"platt", "isotonic", "none"});
  t.class_weight = one_of("class_weight", {"balanced", "sqrt", "none"});
  t.folds = r.Int(node, kPath, "folds", t.folds);
  if (r.ok() && (t.folds < 2 || t.folds > 50)) r.Fail("training.folds", "expected 2 to 50");
  t.search = r.Int(node, kPath, "search", t.search);
  if (r.ok() && (t.search < 0 || t.search > 10000)) {
    r.Fail("training.search", "expected 0 to 10000");
  }
  t.models = r.StringList(node, kPath, "models");
  for (size_t i = 0; r.ok() && i < t.models.size(); ++i) {
    if (t.models[i] != "rf" && t.models[i] != "gbm" && t.models[i] != "xgb") {
      r.Fail(SpecReader::Index("training.models", i),
             core::StrCat("expected rf, gbm or xgb, got '", t.models[i], "'"));
    }
  }
  if (const YAML::Node seed = node["seed"]; r.ok() && seed) {
    const int64_t value = r.Scalar<int64_t>(node, kPath, "seed", -1, "a non-negative integer");
    if (r.ok() && value < 0) r.Fail("training.seed", "expected a non-negative integer");
    if (r.ok()) t.seed = static_cast<uint64_t>(value);
  }
  if (const YAML::Node costs = node["costs"]; r.ok() && costs) {
    r.CheckKeys(costs, "training.costs", {"missed_failure", "false_alarm"});
    if (r.ok() && (!costs["missed_failure"] || !costs["false_alarm"])) {
      r.Fail("training.costs", "needs both missed_failure and false_alarm");
    }
    if (r.ok()) {
      t.cost_missed_failure = r.Number(costs["missed_failure"], "training.costs.missed_failure");
      t.cost_false_alarm = r.Number(costs["false_alarm"], "training.costs.false_alarm");
    }
    if (r.ok() && !(*t.cost_missed_failure > 0 && *t.cost_false_alarm > 0)) {
      r.Fail("training.costs", "costs must be positive");
    }
  }
}

absl::StatusOr<DatasetSpec> ParseDatasetSpec(std::string_view yaml_text,
                                             const fs::path& spec_path) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml_text));
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(core::StrCat(spec_path.string(), ":", e.mark.line + 1, ":",
                                                   e.mark.column + 1, ": invalid YAML: ", e.msg));
  }
  SpecReader r(spec_path);
  DatasetSpec spec;
  spec.spec_path = spec_path;
  try {
    r.CheckKeys(root, "",
                {"version", "name", "description", "data", "entity", "time", "sensors", "settings",
                 "attributes", "categoricals", "identifiers", "ignore", "labels", "events",
                 "machines", "test", "validation", "features", "training"});
    spec.version = r.Int(root, "", "version", 1);
    if (r.ok() && spec.version != 1) {
      r.Fail("version", core::StrCat("this pdm reads spec version 1, not ", spec.version));
    }
    spec.name = r.String(root, "", "name", true);
    spec.description = r.String(root, "", "description", false);

    // The main data table.
    TableSpec& data = spec.data;
    data.role = "data";
    data.yaml_path = "data";
    const YAML::Node data_node = root["data"];
    if (r.ok() && !data_node) r.Fail("data", "missing required key");
    r.CheckKeys(data_node, "data", {"file", "format", "long"});
    data.path = r.ResolvePath(r.String(data_node, "data", "file", true));
    ReadFormat(r, data_node, "data", &data.format);
    if (const YAML::Node long_node = data_node["long"]; r.ok() && long_node) {
      r.CheckKeys(long_node, "data.long", {"sensor", "value"});
      data.long_layout = TableSpec::LongLayout{r.String(long_node, "data.long", "sensor", true),
                                               r.String(long_node, "data.long", "value", true)};
      if (r.ok() && !root["time"]) {
        r.Fail("data.long", "needs time: the rows of a reading share an entity and a time");
      }
    }
    data.entity_column = r.String(root, "", "entity", false);
    if (const YAML::Node time = root["time"]; r.ok() && time) {
      r.CheckKeys(time, "time", {"column", "type"});
      data.time_column = r.String(time, "time", "column", true);
      data.time_type = ParseTimeType(r, "time.type", r.String(time, "time", "type", true));
    }
    ReadNumericColumns(r, root, "", "sensors", ColumnRole::kSensor, &data.columns);
    ReadNumericColumns(r, root, "", "settings", ColumnRole::kSetting, &data.columns);
    ReadNumericColumns(r, root, "", "attributes", ColumnRole::kAttribute, &data.columns);
    ReadCategoricals(r, root, "", &data.columns);
    ReadNamedColumns(r, root, "", "identifiers", ColumnRole::kIdentifier, &data.columns);
    ReadNamedColumns(r, root, "", "ignore", ColumnRole::kIgnored, &data.columns);

    // Labels.
    if (const YAML::Node labels = root["labels"]; r.ok() && labels) {
      r.CheckKeys(labels, "labels",
                  {"source", "column", "components", "range", "horizon", "failure", "rul_clip"});
      const std::string source = r.String(labels, "labels", "source", true);
      if (source == "column") {
        spec.labels.source = LabelSource::kColumn;
        ColumnSpec label;
        label.role = ColumnRole::kLabel;
        label.name = r.String(labels, "labels", "column", true);
        label.yaml_path = "labels.column";
        if (const YAML::Node range = labels["range"]; r.ok() && range) {
          if (!range.IsSequence() || range.size() != 2) {
            r.Fail("labels.range", "expected [min, max]");
          } else {
            label.min = r.Number(range[0], "labels.range[0]");
            label.max = r.Number(range[1], "labels.range[1]");
          }
        } else {
          label.min = 0;
          label.max = 1;
        }
        spec.labels.column = label.name;
        data.columns.push_back(std::move(label));
        spec.labels.components = r.StringList(labels, "labels", "components");
        for (size_t i = 0; i < spec.labels.components.size(); ++i) {
          ColumnSpec component;
          component.role = ColumnRole::kLabelComponent;
          component.name = spec.labels.components[i];
          component.min = 0;
          component.max = 1;
          component.yaml_path = core::StrCat("labels.components[", i, "]");
          data.columns.push_back(std::move(component));
        }
      } else if (source == "events") {
        spec.labels.source = LabelSource::kEvents;
      } else if (source == "run_to_failure") {
        spec.labels.source = LabelSource::kRunToFailure;
      } else if (source == "none") {
        spec.labels.source = LabelSource::kNone;
      } else if (r.ok()) {
        r.Fail("labels.source",
               core::StrCat("expected column, events, run_to_failure or none, got '", source, "'"));
      }
      if (r.ok() && spec.labels.source != LabelSource::kColumn &&
          (labels["column"] || labels["components"])) {
        r.Fail("labels.column", "only allowed with source: column");
      }
    }
    CheckUnique(r, data);

    // Event tables.
    if (const YAML::Node events = root["events"]; r.ok() && events && events["table"]) {
      r.CheckKeys(events, "events", {"table"});
      ReadCombinedEventTable(r, events["table"], data.time_type, &spec);
    } else if (r.ok() && events) {
      r.CheckKeys(events, "events", {"failures", "maintenance", "errors", "table"});
      spec.failures =
          ReadEventTable(r, events["failures"], "events.failures", "failures", data.time_type);
      spec.maintenance = ReadEventTable(r, events["maintenance"], "events.maintenance",
                                        "maintenance", data.time_type);
      spec.errors = ReadEventTable(r, events["errors"], "events.errors", "errors", data.time_type);
    }
    if (const YAML::Node machines = root["machines"]; r.ok() && machines) {
      r.CheckKeys(
          machines, "machines",
          {"file", "format", "entity", "categoricals", "attributes", "identifiers", "ignore"});
      TableSpec table;
      table.role = "machines";
      table.yaml_path = "machines";
      table.check_order = false;
      table.path = r.ResolvePath(r.String(machines, "machines", "file", true));
      ReadFormat(r, machines, "machines", &table.format);
      table.entity_column = r.String(machines, "machines", "entity", true);
      ReadCategoricals(r, machines, "machines", &table.columns);
      ReadNumericColumns(r, machines, "machines", "attributes", ColumnRole::kAttribute,
                         &table.columns);
      ReadNamedColumns(r, machines, "machines", "identifiers", ColumnRole::kIdentifier,
                       &table.columns);
      ReadNamedColumns(r, machines, "machines", "ignore", ColumnRole::kIgnored, &table.columns);
      CheckUnique(r, table);
      spec.machines = std::move(table);
    }
    if (const YAML::Node test = root["test"]; r.ok() && test) {
      r.CheckKeys(test, "test", {"file", "rul_file"});
      TestSetSpec test_set;
      test_set.table = data;
      test_set.table.role = "test";
      test_set.table.yaml_path = "test";
      test_set.table.path = r.ResolvePath(r.String(test, "test", "file", true));
      const std::string rul = r.String(test, "test", "rul_file", false);
      if (!rul.empty()) test_set.rul_path = r.ResolvePath(rul);
      spec.test = std::move(test_set);
    }

    // Label options of event-based labels.
    if (const YAML::Node labels = root["labels"]; r.ok() && labels) {
      const bool from_events = spec.labels.source == LabelSource::kEvents ||
                               spec.labels.source == LabelSource::kRunToFailure;
      if (!from_events && (labels["horizon"] || labels["failure"] || labels["rul_clip"])) {
        r.Fail("labels.horizon",
               "horizon, failure and rul_clip need source: events or run_to_failure");
      }
      spec.labels.horizon = ReadTimeAmount(r, labels, "labels", "horizon", data.time_type);
      spec.labels.rul_clip = ReadTimeAmount(r, labels, "labels", "rul_clip", data.time_type);
      spec.labels.failure_kind = r.String(labels, "labels", "failure", false);
      if (r.ok() && !spec.labels.failure_kind.empty()) {
        std::vector<std::string> kinds;
        if (spec.failures) {
          for (const ColumnSpec& column : spec.failures->columns) {
            if (column.role == ColumnRole::kEventKind) kinds = column.categories;
          }
        }
        if (spec.labels.source != LabelSource::kEvents) {
          r.Fail("labels.failure", "needs source: events (failures with a kind)");
        } else if (!kinds.empty() &&
                   std::find(kinds.begin(), kinds.end(), spec.labels.failure_kind) == kinds.end()) {
          r.Fail("labels.failure", core::StrCat("'", spec.labels.failure_kind,
                                                "' is not among events.failures.kinds"));
        }
      }
    }
    ReadFeatures(r, root["features"], &spec);
    ReadTraining(r, root["training"], &spec);

    // Cross-checks.
    if (r.ok() && spec.labels.source == LabelSource::kEvents && !spec.failures) {
      r.Fail("labels.source", "source: events needs events.failures");
    }
    if (r.ok() && spec.labels.source == LabelSource::kRunToFailure &&
        (data.entity_column.empty() || data.time_column.empty())) {
      r.Fail("labels.source", "source: run_to_failure needs an entity and a time column");
    }
    if (r.ok() && !data.entity_column.empty() && spec.failures &&
        spec.failures->entity_column.empty()) {
      r.Fail("events.failures.entity", "required when the data has an entity column");
    }
    if (r.ok() && !data.format.header) {
      // Without a header the spec's own column list must name every declared column.
      std::set<std::string> given(data.format.columns.begin(), data.format.columns.end());
      auto check = [&](const std::string& name, const std::string& path) {
        if (r.ok() && !name.empty() && !given.count(name)) {
          r.Fail(path, core::StrCat("unknown column '", name, "' (not in data.format.columns)"));
        }
      };
      check(data.entity_column, "entity");
      check(data.time_column, "time.column");
      for (const ColumnSpec& column : data.columns) check(column.name, column.yaml_path);
    }

    if (const YAML::Node v = root["validation"]; r.ok() && v) {
      r.CheckKeys(
          v, "validation",
          {"missing_value", "unparseable", "non_finite", "out_of_range", "unknown_category"});
      ValidationPolicy& p = spec.validation;
      p.missing_value = r.ReadPolicy(v, "validation", "missing_value", p.missing_value);
      p.unparseable = r.ReadPolicy(v, "validation", "unparseable", p.unparseable);
      p.non_finite = r.ReadPolicy(v, "validation", "non_finite", p.non_finite);
      p.out_of_range = r.ReadPolicy(v, "validation", "out_of_range", p.out_of_range);
      p.unknown_category = r.ReadPolicy(v, "validation", "unknown_category", p.unknown_category);
    }
  } catch (const YAML::Exception& e) {
    r.Fail("", core::StrCat("invalid YAML structure: ", e.msg));
  }
  if (!r.ok()) return r.status();
  return spec;
}

absl::StatusOr<DatasetSpec> LoadDatasetSpec(const fs::path& path) {
  PDM_ASSIGN_OR_RETURN(const std::string text, core::ReadFileToString(path, "spec file"));
  std::error_code ec;
  const fs::path absolute = fs::absolute(path, ec);
  return ParseDatasetSpec(text, ec ? path : absolute.lexically_normal());
}

}  // namespace pdm::spec
