// `pdm telemetry export`: the Store's accumulated readings and events as the files of a dataset
// spec, with a spec beside them that reads them, so that training on what the plant sent is
// `pdm train --spec DIR/spec.yaml` (and `pdm pipeline run` with `data: store`).
#include <yaml-cpp/yaml.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "cli/commands.h"
#include "core/status.h"
#include "core/strings.h"
#include "core/time.h"
#include "fmt/format.h"
#include "io/csv_reader.h"
#include "spec/dataset_spec.h"

namespace pdm::cli {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

struct ExportArgs {
  RegistryArgs registry;
  std::string spec;
  std::string out;
  std::string since;
  std::string until;
  bool json_output = false;
};

int Fail(const absl::Status& status) {
  fmt::print(stderr, "pdm telemetry export: {}\n", status.message());
  return status.code() == absl::StatusCode::kInternal ? kExitInternal : kExitBadInput;
}

// A time bound as the store keeps it: microseconds of the data's time unit.
absl::StatusOr<int64_t> ParseBound(const std::string& text, spec::TimeType type, const char* flag,
                                   int64_t unset) {
  if (text.empty()) return unset;
  PDM_ASSIGN_OR_RETURN(const double seconds, ParseDataTime(text, type, flag));
  return static_cast<int64_t>(std::llround(seconds * 1e6));
}

// A stored time in the data's own form (what the validator reads back to the same value).
std::string FormatTime(int64_t time_us, spec::TimeType type) {
  if (type != spec::TimeType::kTimestamp) {
    return fmt::format("{}", static_cast<double>(time_us) / 1e6);
  }
  const int64_t seconds = time_us >= 0 ? time_us / 1'000'000 : -((-time_us + 999'999) / 1'000'000);
  const int64_t micros = time_us - seconds * 1'000'000;
  std::string text = core::FormatTimestamp(seconds);
  if (micros != 0) {
    std::string fraction = fmt::format(".{:06d}", micros);
    while (fraction.back() == '0') fraction.pop_back();
    text.insert(text.size() - 1, fraction);  // before the "Z"
  }
  return text;
}

// The columns of `table`'s file in file order: the spec's `columns` when the file has no header,
// else entity, time and the declared columns.
std::vector<std::string> FileColumns(const spec::TableSpec& table) {
  if (!table.format.header) return table.format.columns;
  std::vector<std::string> names;
  if (!table.entity_column.empty()) names.push_back(table.entity_column);
  if (!table.time_column.empty()) names.push_back(table.time_column);
  if (table.long_layout) {
    names.push_back(table.long_layout->sensor_column);
    names.push_back(table.long_layout->value_column);
    return names;
  }
  for (const spec::ColumnSpec& c : table.columns) names.push_back(c.name);
  return names;
}

// Writes records of `table`'s columns in its own format (delimiter, header or not).
class TableWriter {
 public:
  TableWriter(const spec::TableSpec& table, const fs::path& path)
      : columns_(FileColumns(table)),
        delimiter_(table.format.whitespace ? ' ' : table.format.delimiter),
        path_(path),
        out_(path, std::ios::binary | std::ios::trunc) {
    if (table.format.header) {
      for (size_t i = 0; i < columns_.size(); ++i) {
        if (i > 0) line_ += delimiter_;
        io::AppendCsvField(columns_[i], delimiter_, &line_);
      }
      out_ << line_ << '\n';
    }
  }
  bool ok() const { return out_.good(); }
  const std::vector<std::string>& columns() const { return columns_; }
  // One record: the cell of each column named in `cells`, empty (missing) for the others.
  void Write(const std::map<std::string, std::string>& cells) {
    line_.clear();
    for (size_t i = 0; i < columns_.size(); ++i) {
      if (i > 0) line_ += delimiter_;
      if (auto it = cells.find(columns_[i]); it != cells.end()) {
        io::AppendCsvField(it->second, delimiter_, &line_);
      }
    }
    line_ += '\n';
    out_ << line_;
  }
  absl::Status Close() {
    out_.close();
    if (!out_) return absl::InternalError(core::StrCat(path_.string(), ": cannot write"));
    return absl::OkStatus();
  }

 private:
  std::vector<std::string> columns_;
  char delimiter_;
  fs::path path_;
  std::ofstream out_;
  std::string line_;
};

// The spec's YAML with the exported files in place of the tables it names in `written` (by YAML
// path: data, events.failures, events.table, ...) and every other file made absolute.
absl::StatusOr<std::string> RelocatedSpec(const spec::DatasetSpec& spec,
                                          const std::map<std::string, std::string>& written) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(spec.spec_path.string());
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(core::StrCat(spec.spec_path.string(), ": ", e.what()));
  }
  auto node_at = [&](const std::string& yaml_path) {
    YAML::Node node = root;
    const std::vector<std::string> parts = absl::StrSplit(yaml_path, '.');
    for (const std::string& part : parts) node.reset(node[part]);
    return node;
  };
  for (const spec::TableSpec* table : spec.Tables()) {
    YAML::Node node = node_at(table->yaml_path);
    auto it = written.find(table->yaml_path);
    node["file"] = it != written.end() ? it->second : fs::absolute(table->path).string();
  }
  if (spec.test && !spec.test->rul_path.empty()) {
    root["test"]["rul_file"] = fs::absolute(spec.test->rul_path).string();
  }
  YAML::Emitter emitter;
  emitter << root;
  return core::StrCat("# Written by `pdm telemetry export` from ",
                      fs::absolute(spec.spec_path).string(),
                      ": the store's readings and events in its files.\n", emitter.c_str(), "\n");
}

int RunExport(const ExportArgs& args) {
  auto spec = spec::LoadDatasetSpec(args.spec);
  if (!spec.ok()) return Fail(spec.status());
  const spec::TableSpec& data = spec->data;
  if (spec->labels.source == spec::LabelSource::kColumn) {
    return Fail(absl::FailedPreconditionError(core::StrCat(
        args.spec, ": labels come from the column '", spec->labels.column,
        "', which the store does not keep (it keeps readings' numeric values and events); export "
        "for a spec whose labels come from events or run_to_failure")));
  }
  auto since = ParseBound(args.since, data.time_type, "--since", INT64_MIN);
  if (!since.ok()) return Fail(since.status());
  auto until = ParseBound(args.until, data.time_type, "--until", INT64_MAX);
  if (!until.ok()) return Fail(until.status());
  // Only the store is read: a server's --store needs no registry folder beside it.
  const registry::Location where =
      registry::ResolveLocation(args.registry.dir, args.registry.store);
  if (where.store_url.starts_with("sqlite://") &&
      !fs::exists(where.store_url.substr(std::string_view("sqlite://").size()))) {
    return Fail(absl::NotFoundError(core::StrCat(
        "no store at ", where.store_url, " (--registry, --store or $PDM_STORE chooses it)")));
  }
  auto opened = store::OpenStore(where.store_url);
  if (!opened.ok()) return Fail(opened.status());
  store::Store& store = **opened;

  std::error_code ec;
  fs::create_directories(args.out, ec);
  if (ec) return Fail(absl::InvalidArgumentError(core::StrCat(args.out, ": ", ec.message())));
  const fs::path out_dir = fs::absolute(args.out);
  std::map<std::string, std::string> written;  // YAML path -> file name (beside the spec)

  // The readings.
  auto machines = store.TelemetryMachines(*since, *until);
  if (!machines.ok()) return Fail(machines.status());
  if (data.entity_column.empty() && machines->size() > 1) {
    return Fail(absl::FailedPreconditionError(
        core::StrCat(args.spec, ": the spec has no entity column, and the store holds ",
                     machines->size(), " machines")));
  }
  const std::string data_name = core::StrCat("telemetry", data.path.extension().string());
  TableWriter data_out(data, out_dir / data_name);
  written["data"] = data_name;
  std::map<std::string, int64_t> values_by_column;
  int64_t records = 0, values = 0, duplicates = 0, not_declared = 0;
  for (const std::string& machine : *machines) {
    auto rows = store.MachineTelemetry(machine, *since, *until);
    if (!rows.ok()) return Fail(rows.status());
    std::map<std::string, std::string> cells;
    auto flush = [&](int64_t time_us) {
      if (cells.empty()) return;
      if (!data.entity_column.empty()) cells[data.entity_column] = machine;
      if (!data.time_column.empty()) cells[data.time_column] = FormatTime(time_us, data.time_type);
      data_out.Write(cells);
      ++records;
      cells.clear();
    };
    for (size_t i = 0; i < rows->size(); ++i) {
      const store::TelemetryRow& r = (*rows)[i];
      if (i > 0 && r.time_us != (*rows)[i - 1].time_us) flush((*rows)[i - 1].time_us);
      if (data.FindColumn(r.sensor) == nullptr) {
        ++not_declared;
        continue;
      }
      if (data.long_layout) {
        std::map<std::string, std::string> one = {
            {data.long_layout->sensor_column, r.sensor},
            {data.long_layout->value_column, fmt::format("{}", r.value)}};
        if (!data.entity_column.empty()) one[data.entity_column] = machine;
        if (!data.time_column.empty())
          one[data.time_column] = FormatTime(r.time_us, data.time_type);
        const bool repeated =
            i > 0 && r.time_us == (*rows)[i - 1].time_us && r.sensor == (*rows)[i - 1].sensor;
        if (repeated) {
          ++duplicates;
          continue;
        }
        data_out.Write(one);
        ++records;
        ++values;
        ++values_by_column[r.sensor];
        continue;
      }
      if (!cells.emplace(r.sensor, fmt::format("{}", r.value)).second) {
        ++duplicates;  // the same machine, time and sensor stored twice: the first is kept
        continue;
      }
      ++values;
      ++values_by_column[r.sensor];
    }
    if (!rows->empty()) flush(rows->back().time_us);
  }
  if (absl::Status s = data_out.Close(); !s.ok()) return Fail(s);
  json missing_columns = json::array();  // declared, never in the store: written empty
  for (const spec::ColumnSpec& c : data.columns) {
    const bool kept = spec::IsNumericRole(c.role) && c.role != spec::ColumnRole::kLabel;
    if (values_by_column.count(c.name) == 0 && (kept || c.role == spec::ColumnRole::kCategorical)) {
      missing_columns.push_back(c.name);
    }
  }

  // The events, in the spec's event files (or its one event table).
  auto events = store.ListEvents(*since, *until);
  if (!events.ok()) return Fail(events.status());
  struct EventTarget {
    const char* type;
    const std::optional<spec::TableSpec>* table;
  };
  const EventTarget targets[] = {
      {"failure", &spec->failures}, {"maintenance", &spec->maintenance}, {"error", &spec->errors}};
  std::map<std::string, std::unique_ptr<TableWriter>> event_files;  // by YAML path
  // One file per event table: the one event table's rows (`select`) share one.
  auto event_writer = [&](const spec::TableSpec& table) -> TableWriter& {
    std::unique_ptr<TableWriter>& writer = event_files[table.yaml_path];
    if (!writer) {
      const std::string name = core::StrCat(table.select ? std::string("events") : table.role,
                                            table.path.extension().string());
      writer = std::make_unique<TableWriter>(table, out_dir / name);
      written[table.yaml_path] = name;
    }
    return *writer;
  };
  json event_counts = json::object();
  int64_t events_not_in_spec = 0;
  for (const store::EventRow& e : *events) {
    const EventTarget* target = nullptr;
    for (const EventTarget& t : targets) {
      if (e.type == t.type && t.table->has_value()) target = &t;
    }
    if (target == nullptr) {
      ++events_not_in_spec;
      continue;
    }
    const spec::TableSpec& table = **target->table;
    TableWriter& writer = event_writer(table);
    std::map<std::string, std::string> cells;
    if (!table.entity_column.empty()) cells[table.entity_column] = e.machine;
    if (!table.time_column.empty())
      cells[table.time_column] = FormatTime(e.time_us, table.time_type);
    for (const spec::ColumnSpec& c : table.columns) {
      if (c.role == spec::ColumnRole::kEventKind && !e.kind.empty()) cells[c.name] = e.kind;
    }
    if (table.select) cells[table.select->column] = table.select->values.front();
    writer.Write(cells);
    event_counts[target->type] = event_counts.value(target->type, 0) + 1;
  }
  // An event table the store had no row for is still written (a header), so that the spec
  // reads the export alone and not the original's events.
  for (const EventTarget& t : targets) {
    if (!t.table->has_value()) continue;
    event_writer(**t.table);
  }
  for (auto& [path, writer] : event_files) {
    if (absl::Status s = writer->Close(); !s.ok()) return Fail(s);
  }
  auto yaml = RelocatedSpec(*spec, written);
  if (!yaml.ok()) return Fail(yaml.status());
  const fs::path spec_out = out_dir / "spec.yaml";
  {
    std::ofstream out(spec_out, std::ios::binary | std::ios::trunc);
    out << *yaml;
    if (!out) return Fail(absl::InternalError(core::StrCat(spec_out.string(), ": cannot write")));
  }

  json files = json::object();
  for (const auto& [path, name] : written) files[path] = (out_dir / name).string();
  const json summary = {{"spec", spec_out.string()},
                        {"files", files},
                        {"machines", machines->size()},
                        {"records", records},
                        {"values", values},
                        {"duplicates", duplicates},
                        {"sensors_not_in_spec", not_declared},
                        {"columns_not_in_store", missing_columns},
                        {"events", event_counts},
                        {"events_not_in_spec", events_not_in_spec}};
  if (args.json_output) {
    fmt::print("{}\n", summary.dump(2));
  } else {
    fmt::print("exported {} records ({} values) of {} machines and {} events to {}\n", records,
               values, machines->size(), events->size() - events_not_in_spec, out_dir.string());
    fmt::print("train on them: pdm train --spec {}\n", spec_out.string());
    if (duplicates > 0)
      fmt::print("{} values stored twice: the first of each was kept\n", duplicates);
    if (not_declared > 0 || events_not_in_spec > 0) {
      fmt::print("left out, not declared in the spec: {} values, {} events\n", not_declared,
                 events_not_in_spec);
    }
    if (!missing_columns.empty()) {
      fmt::print("declared columns the store has no value of (written empty): {}\n",
                 missing_columns.dump());
    }
  }
  return kExitOk;
}

}  // namespace

absl::StatusOr<double> ParseDataTime(const std::string& text, spec::TimeType type,
                                     const char* flag) {
  double seconds = 0;
  if (type == spec::TimeType::kTimestamp) {
    if (!core::ParseTimestamp(text, &seconds)) {
      return absl::InvalidArgumentError(
          core::StrCat(flag, " '", text, "': expected an ISO 8601 timestamp"));
    }
  } else if (!absl::SimpleAtod(text, &seconds) || !std::isfinite(seconds)) {
    return absl::InvalidArgumentError(core::StrCat(flag, " '", text, "': expected a number"));
  }
  return seconds;
}

void AddTelemetryCommand(CLI::App& app, int* exit_code) {
  CLI::App* telemetry = app.add_subcommand(
      "telemetry", "The readings and events the server stored (--store-telemetry)");
  telemetry->require_subcommand(1);
  auto args = std::make_shared<ExportArgs>();
  CLI::App* exp = telemetry->add_subcommand(
      "export",
      "Write the store's readings and events as the files of a dataset spec, with a spec.yaml "
      "beside them that reads them (train on it: pdm train --spec OUT/spec.yaml)");
  AddRegistryOptions(exp, &args->registry);
  exp->add_option("--spec", args->spec, "The dataset spec the served model was trained with")
      ->required();
  exp->add_option("--out", args->out, "The folder to write (created)")->required();
  exp->add_option("--since", args->since,
                  "Only data at or after this time (ISO 8601, or a number for cycle data)");
  exp->add_option("--until", args->until, "Only data before this time");
  exp->add_flag("--json", args->json_output, "Print the summary as JSON");
  exp->footer(kExitCodeHelp);
  exp->callback([args, exit_code] { *exit_code = RunExport(*args); });
}

}  // namespace pdm::cli
