#include "validate/validator.h"

#include <chrono>
#include <cmath>

#include "absl/container/flat_hash_map.h"
#include "core/numbers.h"
#include "core/status.h"
#include "core/strings.h"
#include "core/time.h"
#include "io/csv_reader.h"

namespace pdm::validate {
namespace {

using spec::ColumnRole;
using spec::Policy;

std::string_view Trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

bool IsNa(std::string_view text, const std::vector<std::string>& na_values) {
  if (text.empty()) return true;
  for (const std::string& na : na_values) {
    if (text == na) return true;
  }
  return false;
}

// Parses a numeric cell; NA texts (spec format.na_values) count as missing.
core::NumberParse ParseCell(std::string_view text, const std::vector<std::string>& na_values,
                            double* out) {
  const core::NumberParse result = core::ParseDouble(text, out);
  if (result == core::NumberParse::kNotANumber && IsNa(Trim(text), na_values)) {
    return core::NumberParse::kEmpty;
  }
  return result;
}

enum class PlanKind { kSkip, kEntity, kTime, kNumeric, kCategorical };

struct ColumnPlan {
  PlanKind kind = PlanKind::kSkip;
  int index = 0;  // into numeric or categorical arrays
  const spec::ColumnSpec* spec = nullptr;
  std::string name;
};

// Codes of a categorical column: declared values first; open columns learn values as they come.
struct CategoryCodes {
  bool open = false;
  absl::flat_hash_map<std::string, int32_t, core::StringHash, core::StringEq> codes;
};

struct PendingFlag {
  int column;
  std::string_view value;
  Reason reason;
};

Policy PolicyFor(const spec::ValidationPolicy& policy, Reason reason) {
  switch (reason) {
    case Reason::kMissingValue:
      return policy.missing_value;
    case Reason::kUnparseable:
      return policy.unparseable;
    case Reason::kNonFinite:
      return policy.non_finite;
    case Reason::kOutOfRange:
      return policy.out_of_range;
    case Reason::kUnknownCategory:
      return policy.unknown_category;
    default:
      return Policy::kReject;
  }
}

std::string FormatRange(const spec::ColumnSpec& column) {
  return core::StrCat("outside [", column.min, ", ", column.max, "]");
}

class TableRun {
 public:
  TableRun(const spec::TableSpec& table, const spec::ValidationPolicy& policy,
           const ValidateOptions& options, TableReport* report)
      : table_(table), policy_(policy), options_(options), report_(report) {}

  absl::Status Run() {
    const auto started = std::chrono::steady_clock::now();
    const std::filesystem::path path =
        options_.data_override.empty() ? table_.path : options_.data_override;
    report_->role = table_.role;
    report_->time_type = table_.time_type;
    report_->path = path;
    file_ = path.string();
    io::CsvReaderOptions reader_options;
    reader_options.format = table_.format;
    reader_options.buffer_bytes = options_.buffer_bytes;
    reader_options.max_record_bytes = options_.max_record_bytes;
    auto reader = io::CsvReader::Open(path, reader_options);
    if (!reader.ok()) return reader.status();

    io::CsvRecord record;
    std::vector<std::string> header;
    if (table_.format.header) {
      if (!(*reader)->Next(&record)) {
        PDM_RETURN_IF_ERROR((*reader)->status());
        return absl::InvalidArgumentError(core::StrCat(file_, ": empty file, expected a header"));
      }
      if (!record.error.empty()) {
        return absl::InvalidArgumentError(
            core::StrCat(file_, ":", record.line, ": malformed header: ", record.error));
      }
      for (std::string_view field : record.fields) header.emplace_back(Trim(field));
    } else {
      header = table_.format.columns;
    }
    PDM_RETURN_IF_ERROR(Plan(header));

    while ((*reader)->Next(&record)) ProcessRecord(record);
    PDM_RETURN_IF_ERROR((*reader)->status());

    report_->blank_lines = (*reader)->blank_lines();
    report_->bytes = (*reader)->bytes_read();
    for (size_t e = 0; e < accepted_per_entity_.size(); ++e) {
      if (accepted_per_entity_[e] > 0) ++report_->entities;
    }
    report_->seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    return absl::OkStatus();
  }

 private:
  absl::Status Plan(const std::vector<std::string>& header) {
    absl::flat_hash_map<std::string, int> position;
    for (size_t i = 0; i < header.size(); ++i) {
      if (!position.emplace(header[i], static_cast<int>(i)).second) {
        return absl::InvalidArgumentError(
            core::StrCat(file_, ": column '", header[i], "' appears twice in the header"));
      }
    }
    plan_.assign(header.size(), ColumnPlan{});
    auto place = [&](const std::string& name, const std::string& yaml_path,
                     ColumnPlan column_plan) -> absl::Status {
      auto it = position.find(name);
      if (it == position.end()) {
        return absl::InvalidArgumentError(core::StrCat(
            table_.yaml_path, ".", yaml_path, ": unknown column '", name, "': not in the ",
            table_.format.header ? "header" : "columns", " of ", file_));
      }
      column_plan.name = name;
      if (column_plan.kind == PlanKind::kTime) time_index_ = static_cast<size_t>(it->second);
      plan_[static_cast<size_t>(it->second)] = std::move(column_plan);
      return absl::OkStatus();
    };
    if (!table_.entity_column.empty()) {
      PDM_RETURN_IF_ERROR(
          place(table_.entity_column, "entity", ColumnPlan{PlanKind::kEntity, 0, nullptr, ""}));
    }
    if (!table_.time_column.empty()) {
      PDM_RETURN_IF_ERROR(
          place(table_.time_column, "time", ColumnPlan{PlanKind::kTime, 0, nullptr, ""}));
    }
    for (const spec::ColumnSpec& column : table_.columns) {
      ColumnPlan column_plan{PlanKind::kSkip, 0, &column, ""};
      if (spec::IsNumericRole(column.role)) {
        column_plan.kind = PlanKind::kNumeric;
        column_plan.index = static_cast<int>(report_->numeric.size());
        report_->numeric.push_back(ColumnStats{column.name, column.role});
      } else if (column.role == ColumnRole::kCategorical || column.role == ColumnRole::kEventKind) {
        column_plan.kind = PlanKind::kCategorical;
        column_plan.index = static_cast<int>(categories_.size());
        CategoryCodes codes;
        codes.open = column.categories.empty();
        for (size_t v = 0; v < column.categories.size(); ++v) {
          codes.codes.emplace(column.categories[v], static_cast<int32_t>(v));
        }
        categories_.push_back(std::move(codes));
      }
      std::string_view yaml_path = column.yaml_path;
      if (yaml_path.rfind(table_.yaml_path + ".", 0) == 0) {
        yaml_path.remove_prefix(table_.yaml_path.size() + 1);
      }
      PDM_RETURN_IF_ERROR(place(column.name, std::string(yaml_path), column_plan));
    }
    for (size_t i = 0; i < header.size(); ++i) {
      const bool declared = plan_[i].kind != PlanKind::kSkip || plan_[i].spec != nullptr;
      if (!declared) {
        return absl::InvalidArgumentError(
            core::StrCat(file_, ": column '", header[i], "' is not declared in ", table_.yaml_path,
                         " of the spec (declare it, or list it under ignore)"));
      }
    }
    numeric_values_.assign(report_->numeric.size(), 0.0);
    category_values_.assign(categories_.size(), -1);
    return absl::OkStatus();
  }

  void Reject(const io::CsvRecord& record, Reason reason, std::string_view column,
              std::string_view value, const std::string& detail) {
    ++report_->rows_quarantined;
    const int r = static_cast<int>(reason);
    ++report_->rows_by_reason[r];
    if (report_->examples[r].size() < options_.max_examples) {
      report_->examples[r].push_back(
          IssueExample{record.line, std::string(column), std::string(value), detail});
    }
    if (options_.quarantine != nullptr) {
      options_.quarantine->Quarantine(file_, record.line, column, value, reason, detail,
                                      record.raw);
    }
  }

  uint32_t EntityIndex(std::string_view name) {
    if (have_last_entity_ && name == last_entity_name_) return last_entity_;
    auto it = entity_index_.find(name);
    uint32_t index;
    if (it == entity_index_.end()) {
      index = static_cast<uint32_t>(report_->entity_names.size());
      entity_index_.emplace(std::string(name), index);
      report_->entity_names.emplace_back(name);
      last_time_.push_back(-std::numeric_limits<double>::infinity());
      accepted_per_entity_.push_back(0);
    } else {
      index = it->second;
    }
    last_entity_name_.assign(name);
    last_entity_ = index;
    have_last_entity_ = true;
    return index;
  }

  // Checks one value; on failure either rejects the row (returns false) or records a flag.
  bool ValueFailed(const io::CsvRecord& record, int column, std::string_view value, Reason reason,
                   const std::string& detail) {
    if (PolicyFor(policy_, reason) == Policy::kReject) {
      Reject(record, reason, plan_[static_cast<size_t>(column)].name, value, detail);
      return false;
    }
    flags_.push_back(PendingFlag{column, value, reason});
    return true;
  }

  void ProcessRecord(const io::CsvRecord& record) {
    ++report_->rows_read;
    if (!record.error.empty()) {
      Reject(record, Reason::kMalformedRecord, "", "", record.error);
      return;
    }
    if (record.fields.size() != plan_.size()) {
      Reject(record, Reason::kColumnCount, "", std::to_string(record.fields.size()),
             core::StrCat("expected ", plan_.size(), " fields, found ", record.fields.size()));
      return;
    }
    flags_.clear();
    uint32_t entity = 0;
    bool has_entity = false;
    double time = std::numeric_limits<double>::quiet_NaN();
    const std::vector<std::string>& na_values = table_.format.na_values;
    for (size_t i = 0; i < plan_.size(); ++i) {
      const ColumnPlan& column = plan_[i];
      const std::string_view field = record.fields[i];
      switch (column.kind) {
        case PlanKind::kSkip:
          break;
        case PlanKind::kEntity: {
          const std::string_view name = Trim(field);
          if (IsNa(name, na_values)) {
            Reject(record, Reason::kMissingEntity, column.name, field, "no entity id");
            return;
          }
          entity = EntityIndex(name);
          has_entity = true;
          break;
        }
        case PlanKind::kTime: {
          if (!ParseTime(field, &time)) {
            const bool missing = IsNa(Trim(field), na_values);
            Reject(record, Reason::kBadTime, column.name, field,
                   missing ? "missing time" : TimeExpectation());
            return;
          }
          break;
        }
        case PlanKind::kNumeric: {
          double value = 0;
          const core::NumberParse outcome = ParseCell(field, na_values, &value);
          const int k = column.index;
          if (outcome == core::NumberParse::kOk) {
            if (value < column.spec->min || value > column.spec->max) {
              if (!ValueFailed(record, static_cast<int>(i), field, Reason::kOutOfRange,
                               FormatRange(*column.spec))) {
                return;
              }
              value = std::numeric_limits<double>::quiet_NaN();
            }
          } else {
            const Reason reason = outcome == core::NumberParse::kEmpty       ? Reason::kMissingValue
                                  : outcome == core::NumberParse::kNonFinite ? Reason::kNonFinite
                                                                             : Reason::kUnparseable;
            const char* detail = outcome == core::NumberParse::kEmpty       ? "no value"
                                 : outcome == core::NumberParse::kNonFinite ? "not a finite number"
                                                                            : "not a number";
            if (!ValueFailed(record, static_cast<int>(i), field, reason, detail)) return;
            value = std::numeric_limits<double>::quiet_NaN();
          }
          numeric_values_[static_cast<size_t>(k)] = value;
          break;
        }
        case PlanKind::kCategorical: {
          const std::string_view text = Trim(field);
          CategoryCodes& codes = categories_[static_cast<size_t>(column.index)];
          int32_t code = -1;
          if (IsNa(text, na_values)) {
            if (!ValueFailed(record, static_cast<int>(i), field, Reason::kMissingValue,
                             "no value")) {
              return;
            }
          } else if (auto it = codes.codes.find(text); it != codes.codes.end()) {
            code = it->second;
          } else if (codes.open) {
            code = static_cast<int32_t>(codes.codes.size());
            codes.codes.emplace(std::string(text), code);
          } else if (!ValueFailed(record, static_cast<int>(i), field, Reason::kUnknownCategory,
                                  "not a declared value")) {
            return;
          }
          category_values_[static_cast<size_t>(column.index)] = code;
          break;
        }
      }
    }
    if (table_.check_order && !table_.time_column.empty()) {
      double& last = has_entity ? last_time_[entity] : no_entity_last_time_;
      if (time == last) {
        Reject(record, Reason::kDuplicateKey, table_.time_column, record.fields[time_index_],
               has_entity ? "this entity already has a record at this time"
                          : "a record at this time already exists");
        return;
      }
      if (time < last) {
        Reject(record, Reason::kTimeBackwards, table_.time_column, record.fields[time_index_],
               "earlier than the previous accepted record");
        return;
      }
      last = time;
    }
    Accept(record, entity, time);
  }

  void Accept(const io::CsvRecord& record, uint32_t entity, double time) {
    ++report_->rows_accepted;
    if (!accepted_per_entity_.empty()) ++accepted_per_entity_[entity];
    if (!std::isnan(time)) {
      report_->time_min = std::min(report_->time_min, time);
      report_->time_max = std::max(report_->time_max, time);
    }
    for (const PendingFlag& flag : flags_) {
      ++report_->values_flagged;
      ++report_->flags_by_reason[static_cast<int>(flag.reason)];
      if (options_.quarantine != nullptr) {
        const ColumnPlan& column = plan_[static_cast<size_t>(flag.column)];
        options_.quarantine->Flag(file_, record.line, column.name, flag.value, flag.reason,
                                  column.spec != nullptr && flag.reason == Reason::kOutOfRange
                                      ? FormatRange(*column.spec)
                                      : "");
      }
    }
    for (size_t k = 0; k < numeric_values_.size(); ++k) {
      const double value = numeric_values_[k];
      ColumnStats& stats = report_->numeric[k];
      if (std::isnan(value)) {
        ++stats.missing;
        continue;
      }
      ++stats.count;
      stats.sum += value;
      stats.min = std::min(stats.min, value);
      stats.max = std::max(stats.max, value);
    }
    if (options_.sink != nullptr) {
      Row row;
      row.line = record.line;
      row.entity = entity;
      row.time = time;
      row.numeric = numeric_values_;
      row.categories = category_values_;
      options_.sink->Accept(row);
    }
  }

  bool ParseTime(std::string_view text, double* out) const {
    text = Trim(text);
    switch (table_.time_type) {
      case spec::TimeType::kTimestamp:
        return core::ParseTimestamp(text, out);
      case spec::TimeType::kCycle:
      case spec::TimeType::kUnixSeconds:
        return core::ParseDouble(text, out) == core::NumberParse::kOk;
      case spec::TimeType::kNone:
        return false;
    }
    return false;
  }

  std::string TimeExpectation() const {
    switch (table_.time_type) {
      case spec::TimeType::kTimestamp:
        return "not an ISO 8601 timestamp";
      case spec::TimeType::kCycle:
        return "not a cycle number";
      case spec::TimeType::kUnixSeconds:
        return "not a number of seconds since 1970";
      case spec::TimeType::kNone:
        break;
    }
    return "not a time";
  }

  const spec::TableSpec& table_;
  const spec::ValidationPolicy& policy_;
  const ValidateOptions& options_;
  TableReport* report_;
  std::string file_;
  std::vector<ColumnPlan> plan_;
  size_t time_index_ = 0;
  std::vector<CategoryCodes> categories_;
  std::vector<double> numeric_values_;
  std::vector<int32_t> category_values_;
  std::vector<PendingFlag> flags_;
  absl::flat_hash_map<std::string, uint32_t, core::StringHash, core::StringEq> entity_index_;
  std::string last_entity_name_;
  uint32_t last_entity_ = 0;
  bool have_last_entity_ = false;
  std::vector<double> last_time_;
  std::vector<int64_t> accepted_per_entity_;
  double no_entity_last_time_ = -std::numeric_limits<double>::infinity();
};

}  // namespace

const char* ReasonName(Reason reason) {
  switch (reason) {
    case Reason::kMissingValue:
      return "missing_value";
    case Reason::kUnparseable:
      return "unparseable";
    case Reason::kNonFinite:
      return "non_finite";
    case Reason::kOutOfRange:
      return "out_of_range";
    case Reason::kUnknownCategory:
      return "unknown_category";
    case Reason::kColumnCount:
      return "column_count";
    case Reason::kMalformedRecord:
      return "malformed_record";
    case Reason::kMissingEntity:
      return "missing_entity";
    case Reason::kBadTime:
      return "bad_time";
    case Reason::kDuplicateKey:
      return "duplicate_key";
    case Reason::kTimeBackwards:
      return "time_backwards";
  }
  return "unknown";
}

absl::StatusOr<std::unique_ptr<QuarantineWriter>> QuarantineWriter::Open(
    const std::filesystem::path& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    return absl::PermissionDeniedError(
        core::StrCat(dir.string(), ": cannot create quarantine directory: ", ec.message()));
  }
  std::unique_ptr<QuarantineWriter> writer(new QuarantineWriter());
  writer->dir_ = dir;
  static constexpr char kHeader[] = "file,line,column,value,reason,detail,record\n";
  writer->quarantine_.open(dir / "quarantine.csv", std::ios::binary | std::ios::trunc);
  writer->flagged_.open(dir / "flagged.csv", std::ios::binary | std::ios::trunc);
  if (!writer->quarantine_ || !writer->flagged_) {
    return absl::PermissionDeniedError(
        core::StrCat(dir.string(), ": cannot write quarantine files"));
  }
  writer->quarantine_ << kHeader;
  writer->flagged_ << kHeader;
  return writer;
}

void QuarantineWriter::Write(std::ofstream& out, std::string& buffer, const std::string& file,
                             int64_t line, std::string_view column, std::string_view value,
                             Reason reason, std::string_view detail, std::string_view record) {
  io::AppendCsvField(file, ',', &buffer);
  core::StrAppend(&buffer, ",", line, ",");
  io::AppendCsvField(column, ',', &buffer);
  buffer.push_back(',');
  io::AppendCsvField(value, ',', &buffer);
  core::StrAppend(&buffer, ",", ReasonName(reason), ",");
  io::AppendCsvField(detail, ',', &buffer);
  buffer.push_back(',');
  io::AppendCsvField(record, ',', &buffer);
  buffer.push_back('\n');
  if (buffer.size() > (size_t{1} << 20)) {
    out.write(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    buffer.clear();
  }
}

void QuarantineWriter::Quarantine(const std::string& file, int64_t line, std::string_view column,
                                  std::string_view value, Reason reason, std::string_view detail,
                                  std::string_view record) {
  Write(quarantine_, quarantine_buffer_, file, line, column, value, reason, detail, record);
}

void QuarantineWriter::Flag(const std::string& file, int64_t line, std::string_view column,
                            std::string_view value, Reason reason, std::string_view detail) {
  Write(flagged_, flagged_buffer_, file, line, column, value, reason, detail, "");
}

absl::Status QuarantineWriter::Close() {
  quarantine_.write(quarantine_buffer_.data(),
                    static_cast<std::streamsize>(quarantine_buffer_.size()));
  flagged_.write(flagged_buffer_.data(), static_cast<std::streamsize>(flagged_buffer_.size()));
  quarantine_buffer_.clear();
  flagged_buffer_.clear();
  quarantine_.close();
  flagged_.close();
  if (quarantine_.fail() || flagged_.fail()) {
    return absl::DataLossError(core::StrCat(dir_.string(), ": writing quarantine files failed"));
  }
  return absl::OkStatus();
}

absl::StatusOr<TableReport> ValidateTable(const spec::TableSpec& table,
                                          const spec::ValidationPolicy& policy,
                                          const ValidateOptions& options) {
  TableReport report;
  TableRun run(table, policy, options, &report);
  absl::Status status = run.Run();
  if (!status.ok()) return status;
  return report;
}

}  // namespace pdm::validate
