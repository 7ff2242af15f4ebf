#include "validate/validator.h"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <deque>
#include <fstream>
#include <mutex>
#include <thread>

#include "absl/cleanup/cleanup.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_join.h"
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

bool ParseTableTime(spec::TimeType type, std::string_view text, double* out,
                    core::DateCache* date_cache) {
  text = Trim(text);
  switch (type) {
    case spec::TimeType::kTimestamp:
      return core::ParseTimestamp(text, out, date_cache);
    case spec::TimeType::kCycle:
    case spec::TimeType::kUnixSeconds:
      return core::ParseDouble(text, out) == core::NumberParse::kOk;
    case spec::TimeType::kNone:
      return false;
  }
  return false;
}

std::string TimeExpectationOf(spec::TimeType type) {
  switch (type) {
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

// The header of a table's file (its first record, or the format's `columns`): the names, and
// where the records start in the first block.
absl::StatusOr<std::vector<std::string>> ReadHeader(const io::CsvReaderOptions& options,
                                                    const spec::TableSpec& table,
                                                    const std::string& file, bool has_data,
                                                    const io::CsvBlock& block, size_t* offset,
                                                    int64_t* next_line, int64_t* blank_lines) {
  if (!table.format.header) return table.format.columns;
  io::CsvRecord record;
  io::CsvRecordParser parser(options, block);
  if (!has_data || !parser.Next(&record)) {
    return absl::InvalidArgumentError(core::StrCat(file, ": empty file, expected a header"));
  }
  if (!record.error.empty()) {
    return absl::InvalidArgumentError(
        core::StrCat(file, ":", record.line, ": malformed header: ", record.error));
  }
  std::vector<std::string> header;
  for (std::string_view field : record.fields) header.emplace_back(Trim(field));
  *offset = parser.offset();
  *next_line = parser.next_line();
  *blank_lines += parser.blank_lines();
  return header;
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

// Why a worker refused a row (rare, so kept apart from RowCheck).
struct Refusal {
  Reason reason = Reason::kMissingValue;
  std::string_view column;  // the refused column's name, empty for row-level reasons
  std::string_view value;
  std::string detail;
};

// What a worker learns about one record without consulting any cross-row state. Kept small:
// one is written and read per row.
struct RowCheck {
  int64_t line = 0;
  std::string_view raw;
  std::string_view entity;
  std::string_view time_text;  // the time cell as written, for duplicate / order refusals
  double time = std::numeric_limits<double>::quiet_NaN();
  int32_t refusal = -1;  // index into BlockCheck::refusals, -1 when the row passed
  bool skipped = false;  // a row of another table of the file (TableSpec::select)
  int64_t weight = 1;    // the rows it counts as (a pivoted reading: its long rows)
  uint32_t flags_begin = 0, flags_end = 0;
};

// One block of records, checked. Owns the text that the views in `rows` point into.
struct BlockCheck {
  io::CsvBlock block;
  size_t offset = 0;              // where the records start in block.data (after a header)
  std::deque<std::string> owned;  // copies of fields of quoted records
  std::vector<RowCheck> rows;
  std::vector<Refusal> refusals;
  std::vector<double> numeric;  // rows x numeric columns
  std::vector<int32_t> codes;   // rows x categorical columns; kOpenCode for open columns
  std::vector<std::string_view> open_texts;  // rows x categorical columns (open columns only)
  std::vector<PendingFlag> flags;
  int64_t blank_lines = 0;
  // Line breaks in the block. Row lines are relative (the block starts at line 1) until
  // CommitBlock adds the lines of the blocks before it.
  int64_t lines = 0;

  // Empties the block but keeps every buffer's capacity, so a recycled block costs no page faults.
  void Clear() {
    block.data.clear();
    block.oversized_line = false;
    offset = 0;
    owned.clear();
    rows.clear();
    refusals.clear();
    numeric.clear();
    codes.clear();
    open_texts.clear();
    flags.clear();
    blank_lines = 0;
    lines = 0;
  }
};

constexpr int32_t kOpenCode = -2;

// Validates one table. Value-level rules run in CheckBlock, which reads only immutable state
// and so runs on worker threads; cross-row rules (entities, time order, duplicates), counting,
// quarantine and the sink run in CommitBlock, in file order, on the calling thread.
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
    file_ = options_.display_name.empty() ? path.string() : options_.display_name;
    reader_options_.format = table_.format;
    reader_options_.buffer_bytes = options_.buffer_bytes;
    reader_options_.max_record_bytes = options_.max_record_bytes;
    PDM_ASSIGN_OR_RETURN(std::unique_ptr<io::CsvBlockReader> reader,
                         io::CsvBlockReader::Open(path, reader_options_));

    auto first = std::make_unique<BlockCheck>();
    const bool has_data = reader->Next(&first->block);
    PDM_RETURN_IF_ERROR(reader->status());
    int64_t first_line = 1;
    PDM_ASSIGN_OR_RETURN(const std::vector<std::string> header,
                         ReadHeader(reader_options_, table_, file_, has_data, first->block,
                                    &first->offset, &first_line, &report_->blank_lines));
    PDM_RETURN_IF_ERROR(Plan(header));

    const int threads = options_.threads > 0
                            ? options_.threads
                            : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    if (has_data) {
      // Committed blocks are recycled: their buffers keep their capacity.
      std::vector<std::unique_ptr<BlockCheck>> spare;
      auto next_block = [&]() -> std::unique_ptr<BlockCheck> {
        std::unique_ptr<BlockCheck> block;
        if (spare.empty()) {
          block = std::make_unique<BlockCheck>();
        } else {
          block = std::move(spare.back());
          spare.pop_back();
          block->Clear();
        }
        if (!reader->Next(&block->block)) return nullptr;
        return block;
      };
      auto commit = [&](std::unique_ptr<BlockCheck> block) {
        CommitBlock(*block);
        spare.push_back(std::move(block));
      };
      if (threads <= 1) {
        for (auto block = std::move(first); block != nullptr; block = next_block()) {
          CheckBlock(block.get());
          commit(std::move(block));
        }
      } else {
        CheckInParallel(threads, std::move(first), next_block, commit);
      }
    }
    PDM_RETURN_IF_ERROR(reader->status());

    report_->bytes = reader->bytes_read();
    for (int64_t accepted : accepted_per_entity_) report_->entities += accepted > 0;
    report_->seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    return absl::OkStatus();
  }

 private:
  // Checks blocks on `threads` threads and commits them in file order on the calling thread.
  // threads - 1 helpers take blocks from a queue; the calling thread reads blocks ahead (at most
  // 2 x threads in flight), commits the oldest as soon as it is checked, and otherwise checks a
  // queued block itself, so no core idles while the calling thread reads or commits.
  template <typename NextBlock, typename Commit>
  void CheckInParallel(int threads, std::unique_ptr<BlockCheck> first, NextBlock& next_block,
                       Commit& commit) {
    struct Slot {
      std::unique_ptr<BlockCheck> block;
      bool checked = false;
    };
    std::mutex mu;
    std::condition_variable queued_cv, checked_cv;
    std::deque<std::unique_ptr<Slot>> in_flight;  // file order; pushed and popped by this thread
    std::deque<Slot*> queued;                     // not yet taken by any thread
    bool stop = false;
    auto check = [&](Slot* slot) {
      CheckBlock(slot->block.get());
      std::lock_guard lock(mu);
      slot->checked = true;
      checked_cv.notify_one();
    };
    std::vector<std::jthread> helpers;
    // Runs before the helpers are joined, on every way out (an exception included): helpers
    // finish the blocks still queued and return.
    absl::Cleanup stop_helpers = [&] {
      {
        std::lock_guard lock(mu);
        stop = true;
      }
      queued_cv.notify_all();
    };
    for (int t = 1; t < threads; ++t) {
      helpers.emplace_back([&] {
        for (;;) {
          Slot* slot;
          {
            std::unique_lock lock(mu);
            queued_cv.wait(lock, [&] { return stop || !queued.empty(); });
            if (queued.empty()) return;
            slot = queued.front();
            queued.pop_front();
          }
          check(slot);
        }
      });
    }
    const size_t max_in_flight = 2 * static_cast<size_t>(threads);
    std::unique_ptr<BlockCheck> block = std::move(first);
    bool more = true;
    for (;;) {
      while (more && in_flight.size() < max_in_flight) {
        if (block == nullptr) block = next_block();
        if (block == nullptr) {
          more = false;
          break;
        }
        auto slot = std::make_unique<Slot>();
        slot->block = std::move(block);
        std::lock_guard lock(mu);
        queued.push_back(slot.get());
        in_flight.push_back(std::move(slot));
        queued_cv.notify_one();
      }
      if (in_flight.empty()) break;
      std::unique_lock lock(mu);
      Slot* front = in_flight.front().get();
      if (front->checked) {
        lock.unlock();
        commit(std::move(front->block));
        in_flight.pop_front();
      } else if (!queued.empty()) {
        Slot* slot = queued.front();
        queued.pop_front();
        lock.unlock();
        check(slot);
      } else {
        checked_cv.wait(lock, [&] { return front->checked; });
      }
    }
  }

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
    n_numeric_ = report_->numeric.size();
    n_categorical_ = categories_.size();
    if (table_.select) {
      select_column_ = static_cast<int>(position.at(table_.select->column));
    }
    return absl::OkStatus();
  }

  // ---- worker side: REQUIRES only immutable state of this object (plan_, categories_ codes).

  // A view that survives the next record: copied when the record's fields live in scratch.
  static std::string_view Keep(BlockCheck* out, const io::CsvRecord& record,
                               std::string_view text) {
    if (!record.fields_in_scratch) return text;
    return out->owned.emplace_back(text);
  }

  static void RejectRow(BlockCheck* out, const io::CsvRecord& record, RowCheck* row, Reason reason,
                        std::string_view column, std::string_view value, std::string detail) {
    row->refusal = static_cast<int32_t>(out->refusals.size());
    out->refusals.push_back(Refusal{reason, column, Keep(out, record, value), std::move(detail)});
  }

  // A value broke a rule: rejects the row (returns false) or records a flag, per the policy.
  bool ValueFailed(BlockCheck* out, const io::CsvRecord& record, RowCheck* row, size_t column,
                   std::string_view value, Reason reason, std::string detail) const {
    if (PolicyFor(policy_, reason) == Policy::kReject) {
      RejectRow(out, record, row, reason, plan_[column].name, value, std::move(detail));
      return false;
    }
    out->flags.push_back(PendingFlag{static_cast<int>(column), Keep(out, record, value), reason});
    return true;
  }

  void CheckBlock(BlockCheck* out) const {
    const size_t n_numeric = n_numeric_;
    const size_t n_categorical = n_categorical_;
    io::CsvRecordParser parser(reader_options_, out->block, out->offset);
    core::DateCache date_cache;
    io::CsvRecord record;
    const std::vector<std::string>& na_values = table_.format.na_values;
    while (parser.Next(&record)) {
      RowCheck& row = out->rows.emplace_back();
      row.line = record.line;
      row.raw = record.raw;
      row.flags_begin = static_cast<uint32_t>(out->flags.size());
      out->numeric.resize(out->numeric.size() + n_numeric);
      out->codes.resize(out->codes.size() + n_categorical, -1);
      out->open_texts.resize(out->open_texts.size() + n_categorical);
      double* numeric = out->numeric.data() + out->numeric.size() - n_numeric;
      int32_t* codes = out->codes.data() + out->codes.size() - n_categorical;
      std::string_view* open_texts =
          out->open_texts.data() + out->open_texts.size() - n_categorical;
      CheckRecord(out, record, &row, numeric, codes, open_texts, na_values, &date_cache);
      row.flags_end = static_cast<uint32_t>(out->flags.size());
      if (row.refusal >= 0) {
        // A rejected row keeps no flags.
        out->flags.resize(row.flags_begin);
        row.flags_end = row.flags_begin;
      }
    }
    out->blank_lines = parser.blank_lines();
    out->lines = parser.next_line() - out->block.first_line;
  }

  void CheckRecord(BlockCheck* out, const io::CsvRecord& record, RowCheck* row, double* numeric,
                   int32_t* codes, std::string_view* open_texts,
                   const std::vector<std::string>& na_values, core::DateCache* date_cache) const {
    if (!record.error.empty()) {
      RejectRow(out, record, row, Reason::kMalformedRecord, "", "", record.error);
      return;
    }
    if (record.fields.size() != plan_.size()) {
      RejectRow(out, record, row, Reason::kColumnCount, "", "",
                core::StrCat("expected ", plan_.size(), " fields, found ", record.fields.size()));
      out->refusals.back().value = out->owned.emplace_back(std::to_string(record.fields.size()));
      return;
    }
    if (select_column_ >= 0) {
      // A row of another table of the same file is not this table's: not read here.
      const std::string_view type = Trim(record.fields[static_cast<size_t>(select_column_)]);
      const spec::TableSpec::RowSelect& select = *table_.select;
      const auto has = [&](const std::vector<std::string>& values) {
        return std::find(values.begin(), values.end(), type) != values.end();
      };
      if (!has(select.values)) {
        if (!select.refuse_others || has(select.all_values)) {
          row->skipped = true;
          return;
        }
        RejectRow(out, record, row, Reason::kUnknownCategory, select.column,
                  record.fields[static_cast<size_t>(select_column_)],
                  core::StrCat("not an event type of the spec (",
                               absl::StrJoin(select.all_values, ", "), ")"));
        return;
      }
    }
    for (size_t i = 0; i < plan_.size(); ++i) {
      const ColumnPlan& column = plan_[i];
      const std::string_view field = record.fields[i];
      switch (column.kind) {
        case PlanKind::kSkip:
          break;
        case PlanKind::kEntity: {
          const std::string_view name = Trim(field);
          if (IsNa(name, na_values)) {
            RejectRow(out, record, row, Reason::kMissingEntity, column.name, field, "no entity id");
            return;
          }
          row->entity = Keep(out, record, name);
          break;
        }
        case PlanKind::kTime: {
          row->time_text = Keep(out, record, field);
          if (!ParseTime(field, &row->time, date_cache)) {
            const bool missing = IsNa(Trim(field), na_values);
            RejectRow(out, record, row, Reason::kBadTime, column.name, field,
                      missing ? "missing time" : TimeExpectation());
            return;
          }
          break;
        }
        case PlanKind::kNumeric: {
          double value = 0;
          const core::NumberParse outcome = ParseCell(field, na_values, &value);
          if (outcome == core::NumberParse::kOk) {
            if (value < column.spec->min || value > column.spec->max) {
              if (!ValueFailed(out, record, row, i, field, Reason::kOutOfRange,
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
            if (!ValueFailed(out, record, row, i, field, reason, detail)) return;
            value = std::numeric_limits<double>::quiet_NaN();
          }
          numeric[column.index] = value;
          break;
        }
        case PlanKind::kCategorical: {
          const std::string_view text = Trim(field);
          const CategoryCodes& codes_of_column = categories_[static_cast<size_t>(column.index)];
          int32_t code = -1;
          if (IsNa(text, na_values)) {
            if (!ValueFailed(out, record, row, i, field, Reason::kMissingValue, "no value")) {
              return;
            }
          } else if (codes_of_column.open) {
            code = kOpenCode;
            open_texts[column.index] = Keep(out, record, text);
          } else if (auto it = codes_of_column.codes.find(text);
                     it != codes_of_column.codes.end()) {
            code = it->second;
          } else if (!ValueFailed(out, record, row, i, field, Reason::kUnknownCategory,
                                  "not a declared value")) {
            return;
          }
          codes[column.index] = code;
          break;
        }
      }
    }
  }

  // ---- commit side: file order, calling thread.

  void CommitBlock(BlockCheck& block) {
    report_->blank_lines += block.blank_lines;
    for (RowCheck& row : block.rows) {
      row.line += lines_before_block_;
      if (options_.source_lines != nullptr) {
        // A pivoted reading: reported at its first long row, counted as the rows it holds.
        const auto r = static_cast<size_t>(row.line - 2);
        if (r < options_.source_lines->size()) {
          row.weight = (*options_.source_rows)[r];
          row.line = (*options_.source_lines)[r];
        }
      }
    }
    lines_before_block_ += block.lines;
    const size_t n_numeric = n_numeric_;
    const size_t n_categorical = n_categorical_;
    for (size_t r = 0; r < block.rows.size(); ++r) {
      const RowCheck& row = block.rows[r];
      if (row.skipped) {
        ++report_->rows_of_other_tables;
        continue;
      }
      report_->rows_read += row.weight;
      if (row.refusal >= 0) {
        const Refusal& refusal = block.refusals[static_cast<size_t>(row.refusal)];
        Reject(row, refusal.reason, refusal.column, refusal.value, refusal.detail);
        continue;
      }
      uint32_t entity = 0;
      const bool has_entity = !table_.entity_column.empty();
      if (has_entity) entity = EntityIndex(row.entity);
      int32_t* codes = block.codes.data() + r * n_categorical;
      for (size_t c = 0; c < n_categorical; ++c) {
        if (codes[c] != kOpenCode) continue;
        CategoryCodes& open = categories_[c];
        auto [it, inserted] =
            open.codes.try_emplace(std::string(block.open_texts[r * n_categorical + c]),
                                   static_cast<int32_t>(open.codes.size()));
        codes[c] = it->second;
      }
      if (table_.check_order && !table_.time_column.empty()) {
        double& last = has_entity ? last_time_[entity] : no_entity_last_time_;
        if (row.time == last) {
          Reject(row, Reason::kDuplicateKey, table_.time_column, row.time_text,
                 has_entity ? "this entity already has a record at this time"
                            : "a record at this time already exists");
          continue;
        }
        if (row.time < last) {
          Reject(row, Reason::kTimeBackwards, table_.time_column, row.time_text,
                 "earlier than the previous accepted record");
          continue;
        }
        last = row.time;
      }
      Accept(block, r, entity,
             std::span<const double>(block.numeric.data() + r * n_numeric, n_numeric),
             std::span<const int32_t>(codes, n_categorical));
    }
  }

  void Reject(const RowCheck& row, Reason reason, std::string_view column, std::string_view value,
              const std::string& detail) {
    report_->rows_quarantined += row.weight;
    const int r = static_cast<int>(reason);
    report_->rows_by_reason[r] += row.weight;
    if (report_->examples[r].size() < options_.max_examples) {
      report_->examples[r].push_back(
          IssueExample{row.line, std::string(column), std::string(value), detail});
    }
    if (options_.quarantine != nullptr) {
      options_.quarantine->Quarantine(file_, row.line, column, value, reason, detail, row.raw);
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

  void Accept(const BlockCheck& block, size_t r, uint32_t entity, std::span<const double> numeric,
              std::span<const int32_t> codes) {
    const RowCheck& row = block.rows[r];
    report_->rows_accepted += row.weight;
    if (!accepted_per_entity_.empty()) ++accepted_per_entity_[entity];
    if (!std::isnan(row.time)) {
      report_->time_min = std::min(report_->time_min, row.time);
      report_->time_max = std::max(report_->time_max, row.time);
    }
    for (uint32_t f = row.flags_begin; f < row.flags_end; ++f) {
      const PendingFlag& flag = block.flags[f];
      ++report_->values_flagged;
      ++report_->flags_by_reason[static_cast<int>(flag.reason)];
      if (options_.quarantine != nullptr) {
        const ColumnPlan& column = plan_[static_cast<size_t>(flag.column)];
        options_.quarantine->Flag(file_, row.line, column.name, flag.value, flag.reason,
                                  column.spec != nullptr && flag.reason == Reason::kOutOfRange
                                      ? FormatRange(*column.spec)
                                      : "");
      }
    }
    for (size_t k = 0; k < numeric.size(); ++k) {
      const double value = numeric[k];
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
      Row out;
      out.line = row.line;
      out.entity = entity;
      out.time = row.time;
      out.numeric = numeric;
      out.categories = codes;
      options_.sink->Accept(out);
    }
  }

  bool ParseTime(std::string_view text, double* out, core::DateCache* date_cache) const {
    return ParseTableTime(table_.time_type, text, out, date_cache);
  }
  std::string TimeExpectation() const { return TimeExpectationOf(table_.time_type); }

  const spec::TableSpec& table_;
  const spec::ValidationPolicy& policy_;
  const ValidateOptions& options_;
  TableReport* report_;
  io::CsvReaderOptions reader_options_;
  std::string file_;
  // Fixed once Plan() returns; read by workers.
  std::vector<ColumnPlan> plan_;
  size_t n_numeric_ = 0;
  size_t n_categorical_ = 0;
  int select_column_ = -1;  // the column of table_.select, when set
  // Declared codes are fixed after Plan(); open columns learn codes in CommitBlock only.
  std::vector<CategoryCodes> categories_;
  // Commit-side state.
  int64_t lines_before_block_ = 0;
  absl::flat_hash_map<std::string, uint32_t, core::StringHash, core::StringEq> entity_index_;
  std::string last_entity_name_;
  uint32_t last_entity_ = 0;
  bool have_last_entity_ = false;
  std::vector<double> last_time_;
  std::vector<int64_t> accepted_per_entity_;
  double no_entity_last_time_ = -std::numeric_limits<double>::infinity();
};

// The long-format pivot (ValidateTable's contract in validator.h).
absl::StatusOr<TableReport> ValidateLongTable(const spec::TableSpec& table,
                                              const spec::ValidationPolicy& policy,
                                              const ValidateOptions& options) {
  const auto started = std::chrono::steady_clock::now();
  const spec::TableSpec::LongLayout& layout = *table.long_layout;
  const std::filesystem::path path =
      options.data_override.empty() ? table.path : options.data_override;
  const std::string file = path.string();
  io::CsvReaderOptions reader_options;
  reader_options.format = table.format;
  reader_options.buffer_bytes = options.buffer_bytes;
  reader_options.max_record_bytes = options.max_record_bytes;
  PDM_ASSIGN_OR_RETURN(std::unique_ptr<io::CsvBlockReader> reader,
                       io::CsvBlockReader::Open(path, reader_options));
  TableReport long_report;  // the long rows' own refusals
  io::CsvBlock block;
  bool has_data = reader->Next(&block);
  PDM_RETURN_IF_ERROR(reader->status());
  size_t offset = 0;
  int64_t line = 1;
  PDM_ASSIGN_OR_RETURN(const std::vector<std::string> header,
                       ReadHeader(reader_options, table, file, has_data, block, &offset, &line,
                                  &long_report.blank_lines));

  // The file's columns: entity, time, sensor name and value, and identifiers or ignored ones.
  // The declared sensors, settings, attributes, categoricals and labels are the names.
  auto position = [&](const std::string& name, std::string_view key) -> absl::StatusOr<int> {
    const auto it = std::find(header.begin(), header.end(), name);
    if (it == header.end()) {
      return absl::InvalidArgumentError(
          core::StrCat(table.yaml_path, key, ": unknown column '", name, "': not in the ",
                       table.format.header ? "header" : "columns", " of ", file));
    }
    return static_cast<int>(it - header.begin());
  };
  int entity_at = -1;
  if (!table.entity_column.empty()) {
    PDM_ASSIGN_OR_RETURN(entity_at, position(table.entity_column, " (entity)"));
  }
  PDM_ASSIGN_OR_RETURN(const int time_at, position(table.time_column, " (time)"));
  PDM_ASSIGN_OR_RETURN(const int sensor_at, position(layout.sensor_column, ".long.sensor"));
  PDM_ASSIGN_OR_RETURN(const int value_at, position(layout.value_column, ".long.value"));
  spec::TableSpec wide = table;
  wide.long_layout.reset();
  wide.format = spec::CsvFormat{};
  wide.format.na_values = table.format.na_values;
  wide.columns.clear();
  absl::flat_hash_map<std::string, size_t, core::StringHash, core::StringEq> pivot_index;
  for (const spec::ColumnSpec& column : table.columns) {
    if (column.role == ColumnRole::kIdentifier || column.role == ColumnRole::kIgnored) {
      PDM_RETURN_IF_ERROR(position(column.name, "." + column.yaml_path).status());
      continue;
    }
    pivot_index.emplace(column.name, wide.columns.size());
    wide.columns.push_back(column);
  }
  for (size_t i = 0; i < header.size(); ++i) {
    const int at = static_cast<int>(i);
    const bool declared =
        at == entity_at || at == time_at || at == sensor_at || at == value_at ||
        (table.FindColumn(header[i]) != nullptr && !pivot_index.contains(header[i]));
    if (!declared) {
      return absl::InvalidArgumentError(
          core::StrCat(file, ": column '", header[i], "' is not declared in ", table.yaml_path,
                       " of the spec (a long file has entity, time, ", layout.sensor_column,
                       " and ", layout.value_column, "; list others under identifiers or ignore)"));
    }
  }

  auto refuse = [&](const io::CsvRecord& record, Reason reason, std::string_view column,
                    std::string_view value, const std::string& detail) {
    ++long_report.rows_read;
    ++long_report.rows_quarantined;
    const int r = static_cast<int>(reason);
    ++long_report.rows_by_reason[r];
    if (long_report.examples[r].size() < options.max_examples) {
      long_report.examples[r].push_back(
          IssueExample{record.line, std::string(column), std::string(value), detail});
    }
    if (options.quarantine != nullptr) {
      options.quarantine->Quarantine(file, record.line, column, value, reason, detail, record.raw);
    }
  };
  struct Reading {
    std::string entity, time_text;
    double time = 0;
    int64_t first_line = 0, rows = 0;
    std::vector<std::string> cells;
    std::vector<bool> set;
  };
  std::vector<Reading> readings;
  absl::flat_hash_map<std::pair<std::string, double>, size_t> reading_of;
  core::DateCache date_cache;
  const std::vector<std::string>& na_values = table.format.na_values;
  while (has_data) {
    block.first_line = line;
    io::CsvRecordParser parser(reader_options, block, offset);
    io::CsvRecord record;
    while (parser.Next(&record)) {
      if (!record.error.empty()) {
        refuse(record, Reason::kMalformedRecord, "", "", record.error);
        continue;
      }
      if (record.fields.size() != header.size()) {
        refuse(record, Reason::kColumnCount, "", std::to_string(record.fields.size()),
               core::StrCat("expected ", header.size(), " fields, found ", record.fields.size()));
        continue;
      }
      std::string_view entity;
      if (entity_at >= 0) {
        entity = Trim(record.fields[static_cast<size_t>(entity_at)]);
        if (IsNa(entity, na_values)) {
          refuse(record, Reason::kMissingEntity, table.entity_column, entity, "no entity id");
          continue;
        }
      }
      const std::string_view time_text = record.fields[static_cast<size_t>(time_at)];
      double time = 0;
      if (!ParseTableTime(table.time_type, time_text, &time, &date_cache)) {
        refuse(
            record, Reason::kBadTime, table.time_column, time_text,
            IsNa(Trim(time_text), na_values) ? "missing time" : TimeExpectationOf(table.time_type));
        continue;
      }
      const std::string_view name = Trim(record.fields[static_cast<size_t>(sensor_at)]);
      const auto column = pivot_index.find(name);
      if (column == pivot_index.end()) {
        refuse(record, Reason::kUnknownCategory, layout.sensor_column, name,
               "not a sensor, setting, attribute, categorical or label of the spec");
        continue;
      }
      auto [it, inserted] = reading_of.try_emplace({std::string(entity), time}, readings.size());
      if (inserted) {
        Reading& added = readings.emplace_back();
        added.entity = std::string(entity);
        added.time_text = std::string(Trim(time_text));
        added.time = time;
        added.first_line = record.line;
        added.cells.resize(wide.columns.size());
        added.set.resize(wide.columns.size());
      }
      Reading& reading = readings[it->second];
      if (reading.set[column->second]) {
        refuse(record, Reason::kDuplicateKey, layout.sensor_column, name,
               core::StrCat(entity_at >= 0 ? "this entity" : "the data",
                            " already has a value of this sensor at this time"));
        continue;
      }
      reading.set[column->second] = true;
      reading.cells[column->second] = std::string(record.fields[static_cast<size_t>(value_at)]);
      ++reading.rows;
    }
    long_report.blank_lines += parser.blank_lines();
    line = parser.next_line();
    offset = 0;
    has_data = reader->Next(&block);
  }
  PDM_RETURN_IF_ERROR(reader->status());

  // The readings, in time order per entity, as a wide file.
  std::vector<size_t> order(readings.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    if (readings[a].entity != readings[b].entity) return readings[a].entity < readings[b].entity;
    return readings[a].time < readings[b].time;
  });
  static std::atomic<int64_t> pivots{0};
  const std::filesystem::path pivoted =
      std::filesystem::temp_directory_path() /
      core::StrCat("pdm-pivot-", ::getpid(), "-", pivots.fetch_add(1), ".csv");
  absl::Cleanup remove_pivoted = [&pivoted] {
    std::error_code ignored;
    std::filesystem::remove(pivoted, ignored);
  };
  std::vector<int64_t> source_lines, source_rows;
  source_lines.reserve(order.size());
  source_rows.reserve(order.size());
  {
    std::ofstream out(pivoted, std::ios::binary);
    std::string text;
    if (entity_at >= 0) text += table.entity_column + ",";
    text += table.time_column;
    for (const spec::ColumnSpec& column : wide.columns) {
      text.push_back(',');
      io::AppendCsvField(column.name, ',', &text);
    }
    text.push_back('\n');
    for (size_t i : order) {
      const Reading& reading = readings[i];
      if (entity_at >= 0) {
        io::AppendCsvField(reading.entity, ',', &text);
        text.push_back(',');
      }
      io::AppendCsvField(reading.time_text, ',', &text);
      for (const std::string& cell : reading.cells) {
        text.push_back(',');
        io::AppendCsvField(cell, ',', &text);
      }
      text.push_back('\n');
      source_lines.push_back(reading.first_line);
      source_rows.push_back(reading.rows);
      if (text.size() > (size_t{1} << 20)) {
        out << text;
        text.clear();
      }
    }
    out << text;
    if (!out.flush()) {
      return absl::InternalError(
          core::StrCat("cannot write the readings pivoted from ", file, " to ", pivoted.string()));
    }
  }
  wide.path = pivoted;
  ValidateOptions wide_options = options;
  wide_options.data_override.clear();
  wide_options.display_name = file;
  wide_options.source_lines = &source_lines;
  wide_options.source_rows = &source_rows;
  TableReport report;
  TableRun run(wide, policy, wide_options, &report);
  PDM_RETURN_IF_ERROR(run.Run());
  report.path = path;
  report.readings = static_cast<int64_t>(readings.size());
  report.Add(long_report);
  report.blank_lines = long_report.blank_lines;
  report.bytes = reader->bytes_read();
  for (int r = 0; r < kReasonCount; ++r) {
    auto& examples = report.examples[static_cast<size_t>(r)];
    for (const IssueExample& e : long_report.examples[static_cast<size_t>(r)]) {
      if (examples.size() < options.max_examples) examples.push_back(e);
    }
  }
  report.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return report;
}

}  // namespace

void RowCounts::Add(const RowCounts& other) {
  rows_read += other.rows_read;
  rows_accepted += other.rows_accepted;
  rows_quarantined += other.rows_quarantined;
  values_flagged += other.values_flagged;
  for (int r = 0; r < kReasonCount; ++r) {
    rows_by_reason[r] += other.rows_by_reason[r];
    flags_by_reason[r] += other.flags_by_reason[r];
  }
}

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
  if (table.long_layout) return ValidateLongTable(table, policy, options);
  TableReport report;
  TableRun run(table, policy, options, &report);
  absl::Status status = run.Run();
  if (!status.ok()) return status;
  return report;
}

}  // namespace pdm::validate
