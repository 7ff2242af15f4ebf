#include "validate/dataset_validation.h"

#include <chrono>
#include <cmath>
#include <optional>

#include "core/json_writer.h"
#include "core/status.h"
#include "core/strings.h"
#include "core/time.h"

namespace pdm::validate {

spec::TableSpec RulTable(const std::filesystem::path& path) {
  spec::TableSpec table;
  table.role = "test_rul";
  table.yaml_path = "test.rul_file";
  table.path = path;
  table.format.whitespace = true;
  table.format.header = false;
  table.format.columns = {"rul"};
  table.check_order = false;
  spec::ColumnSpec rul;
  rul.name = "rul";
  rul.role = spec::ColumnRole::kLabel;
  rul.min = 0;
  rul.yaml_path = "test.rul_file";
  table.columns.push_back(rul);
  return table;
}

namespace {

void ReasonCounts(core::JsonWriter& json, const char* key,
                  const std::array<int64_t, kReasonCount>& counts) {
  json.Key(key).BeginObject();
  for (int r = 0; r < kReasonCount; ++r) {
    if (counts[r] > 0) json.Key(ReasonName(static_cast<Reason>(r))).Int(counts[r]);
  }
  json.EndObject();
}

void WriteCounts(core::JsonWriter& json, const RowCounts& counts) {
  json.Key("rows_read").Int(counts.rows_read);
  json.Key("rows_accepted").Int(counts.rows_accepted);
  json.Key("rows_quarantined").Int(counts.rows_quarantined);
  ReasonCounts(json, "by_reason", counts.rows_by_reason);
  json.Key("values_flagged").Int(counts.values_flagged);
  ReasonCounts(json, "flagged_by_reason", counts.flags_by_reason);
}

void TimeValue(core::JsonWriter& json, double value, spec::TimeType type) {
  if (!std::isfinite(value)) {
    json.Null();
  } else if (type == spec::TimeType::kTimestamp) {
    json.String(core::FormatTimestamp(static_cast<int64_t>(std::floor(value))));
  } else {
    json.Number(value);
  }
}

}  // namespace

absl::StatusOr<DatasetReport> ValidateDataset(const spec::DatasetSpec& spec,
                                              const DatasetValidateOptions& options) {
  const auto started = std::chrono::steady_clock::now();
  DatasetReport report;
  report.spec_name = spec.name;
  report.spec_path = spec.spec_path;
  std::unique_ptr<QuarantineWriter> quarantine;
  if (!options.quarantine_dir.empty()) {
    PDM_ASSIGN_OR_RETURN(quarantine, QuarantineWriter::Open(options.quarantine_dir));
    report.quarantine_dir = options.quarantine_dir;
  }
  std::vector<const spec::TableSpec*> tables =
      options.main_table_only ? std::vector<const spec::TableSpec*>{&spec.data} : spec.Tables();
  std::optional<spec::TableSpec> rul_table;
  if (!options.main_table_only && spec.test && !spec.test->rul_path.empty()) {
    rul_table = RulTable(spec.test->rul_path);
    tables.push_back(&*rul_table);
  }
  for (const spec::TableSpec* table : tables) {
    ValidateOptions table_options;
    table_options.quarantine = quarantine.get();
    table_options.threads = options.threads;
    if (table == &spec.data) table_options.data_override = options.data_override;
    PDM_ASSIGN_OR_RETURN(TableReport table_report,
                         ValidateTable(*table, spec.validation, table_options));
    report.Add(table_report);
    report.tables.push_back(std::move(table_report));
  }
  // A RUL file must hold one value per test unit.
  const TableReport* test = nullptr;
  const TableReport* rul = nullptr;
  for (const TableReport& table : report.tables) {
    if (table.role == "test") test = &table;
    if (table.role == "test_rul") rul = &table;
  }
  if (test != nullptr && rul != nullptr && rul->rows_accepted != test->entities) {
    return absl::InvalidArgumentError(core::StrCat(
        rul->path.string(), ": holds ", rul->rows_accepted, " valid RUL values but ",
        test->path.string(), " has ", test->entities, " units; they must match one to one"));
  }
  if (quarantine != nullptr) PDM_RETURN_IF_ERROR(quarantine->Close());
  report.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return report;
}

std::string ReportToJson(const DatasetReport& report, int indent) {
  core::JsonWriter json(indent);
  json.BeginObject();
  json.Key("spec").String(report.spec_name);
  json.Key("spec_path").String(report.spec_path.string());
  WriteCounts(json, report);
  json.Key("seconds").Number(report.seconds);
  json.Key("quarantine_dir");
  if (report.quarantine_dir.empty()) {
    json.Null();
  } else {
    json.String(report.quarantine_dir.string());
  }
  json.Key("files").BeginArray();
  for (const TableReport& table : report.tables) {
    json.BeginObject();
    json.Key("role").String(table.role);
    json.Key("path").String(table.path.string());
    WriteCounts(json, table);
    json.Key("blank_lines").Int(table.blank_lines);
    if (table.rows_of_other_tables > 0) {
      json.Key("rows_of_other_tables").Int(table.rows_of_other_tables);
    }
    if (table.readings > 0) json.Key("readings").Int(table.readings);
    json.Key("bytes").Int(table.bytes);
    json.Key("seconds").Number(table.seconds);
    json.Key("entities").Int(table.entities);
    json.Key("time_min");
    TimeValue(json, table.time_min, table.time_type);
    json.Key("time_max");
    TimeValue(json, table.time_max, table.time_type);
    json.Key("columns").BeginObject();
    for (const ColumnStats& column : table.numeric) {
      json.Key(column.name).BeginObject();
      json.Key("role").String(spec::ColumnRoleName(column.role));
      json.Key("count").Int(column.count);
      json.Key("missing").Int(column.missing);
      json.Key("min").Number(column.count > 0 ? column.min : NAN);
      json.Key("max").Number(column.count > 0 ? column.max : NAN);
      json.Key("mean").Number(column.count > 0 ? column.sum / static_cast<double>(column.count)
                                               : NAN);
      json.EndObject();
    }
    json.EndObject();
    json.Key("examples").BeginObject();
    for (int r = 0; r < kReasonCount; ++r) {
      if (table.examples[r].empty()) continue;
      json.Key(ReasonName(static_cast<Reason>(r))).BeginArray();
      for (const IssueExample& example : table.examples[r]) {
        json.BeginObject();
        json.Key("line").Int(example.line);
        json.Key("column").String(example.column);
        json.Key("value").String(example.value);
        json.Key("detail").String(example.detail);
        json.EndObject();
      }
      json.EndArray();
    }
    json.EndObject();
    json.EndObject();
  }
  json.EndArray();
  json.EndObject();
  std::string out = json.Take();
  out.push_back('\n');
  return out;
}

std::string ReportToText(const DatasetReport& report) {
  std::string out;
  core::StrAppend(&out, "spec ", report.spec_name, " (", report.spec_path.string(), ")\n");
  for (const TableReport& table : report.tables) {
    const double mb = static_cast<double>(table.bytes) / 1e6;
    out += fmt::format("\n{} {}\n  rows read {}  accepted {}  quarantined {}  values flagged {}\n",
                       table.role, table.path.string(), table.rows_read, table.rows_accepted,
                       table.rows_quarantined, table.values_flagged);
    if (table.rows_of_other_tables > 0) {
      out += fmt::format("  rows of the other event types {}\n", table.rows_of_other_tables);
    }
    if (table.readings > 0) {
      out += fmt::format("  long format: the rows were pivoted into {} readings\n", table.readings);
    }
    out += fmt::format("  {:.1f} MB in {:.2f} s ({:.0f} MB/s)", mb, table.seconds,
                       table.seconds > 0 ? mb / table.seconds : 0.0);
    if (table.entities > 0) out += fmt::format("  entities {}", table.entities);
    if (std::isfinite(table.time_min)) {
      if (table.time_type == spec::TimeType::kTimestamp) {
        out += fmt::format("  time {} .. {}",
                           core::FormatTimestamp(static_cast<int64_t>(table.time_min)),
                           core::FormatTimestamp(static_cast<int64_t>(table.time_max)));
      } else {
        out += fmt::format("  time {} .. {}", table.time_min, table.time_max);
      }
    }
    out.push_back('\n');
    for (int r = 0; r < kReasonCount; ++r) {
      const auto reason = static_cast<Reason>(r);
      if (table.rows_by_reason[r] > 0) {
        out += fmt::format("  quarantined {:>8}  {}", table.rows_by_reason[r], ReasonName(reason));
        if (!table.examples[r].empty()) {
          const IssueExample& e = table.examples[r].front();
          out += fmt::format("  (e.g. line {}{}{}: {})", e.line, e.column.empty() ? "" : ", ",
                             e.column, e.detail);
        }
        out.push_back('\n');
      }
      if (table.flags_by_reason[r] > 0) {
        out +=
            fmt::format("  flagged     {:>8}  {}\n", table.flags_by_reason[r], ReasonName(reason));
      }
    }
    if (!table.numeric.empty() && (table.role == "data" || table.role == "test")) {
      out += fmt::format("  {:<28} {:>10} {:>8} {:>12} {:>12} {:>12}\n", "column", "count",
                         "missing", "min", "mean", "max");
      for (const ColumnStats& c : table.numeric) {
        if (c.count == 0) {
          out += fmt::format("  {:<28} {:>10} {:>8}\n", c.name, c.count, c.missing);
          continue;
        }
        out += fmt::format("  {:<28} {:>10} {:>8} {:>12.4g} {:>12.4g} {:>12.4g}\n", c.name, c.count,
                           c.missing, c.min, c.sum / static_cast<double>(c.count), c.max);
      }
    }
  }
  out += fmt::format(
      "\ntotal: rows read {}  accepted {}  quarantined {}  values flagged {}  ({:.2f} s)\n",
      report.rows_read, report.rows_accepted, report.rows_quarantined, report.values_flagged,
      report.seconds);
  if (!report.quarantine_dir.empty()) {
    out += fmt::format("quarantine: {}/quarantine.csv, flagged values: {}/flagged.csv\n",
                       report.quarantine_dir.string(), report.quarantine_dir.string());
  }
  return out;
}

}  // namespace pdm::validate
