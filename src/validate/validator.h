// Row-by-row validation of a table against its spec. Every row read is either accepted (and
// handed to a RowSink, typed) or quarantined with its file, line, column, value and reason:
// rows_read == rows_accepted + rows_quarantined, always.
#ifndef PDM_VALIDATE_VALIDATOR_H_
#define PDM_VALIDATE_VALIDATOR_H_

#include <array>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <limits>
#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "spec/dataset_spec.h"

namespace pdm::validate {

// Why a row was quarantined or a value flagged. Names (ReasonName) are a public contract: they
// appear in quarantine files and in `pdm validate --json` under by_reason.
enum class Reason {
  kMissingValue,     // missing_value: an empty / NA cell in a required column
  kUnparseable,      // unparseable: text where a number was expected
  kNonFinite,        // non_finite: nan or inf
  kOutOfRange,       // out_of_range: outside the spec's [min, max]
  kUnknownCategory,  // unknown_category: not among the declared values
  kColumnCount,      // column_count: more or fewer fields than the header
  kMalformedRecord,  // malformed_record: unterminated quote, text after a quote, too long
  kMissingEntity,    // missing_entity: no entity id
  kBadTime,          // bad_time: a time that does not parse, or is missing
  kDuplicateKey,     // duplicate_key: (entity, time) already seen
  kTimeBackwards,    // time_backwards: earlier than the entity's previous accepted record
};
inline constexpr int kReasonCount = 11;
const char* ReasonName(Reason reason);

// One accepted row, typed. Spans are valid only during RowSink::Accept.
struct Row {
  int64_t line = 0;
  // Index of the entity in TableReport::entity_names order of first appearance; 0 without entity.
  uint32_t entity = 0;
  // Epoch seconds, or the cycle number; NaN when the table has no time column.
  double time = std::numeric_limits<double>::quiet_NaN();
  // One value per numeric column (TableValidator::numeric_columns order); NaN = missing or flagged.
  std::span<const double> numeric;
  // One code per categorical/event-kind column: index into the declared values (or into the
  // values seen, for open columns); -1 = missing or flagged.
  std::span<const int32_t> categories;
};

class RowSink {
 public:
  virtual ~RowSink() = default;
  virtual void Accept(const Row& row) = 0;
};

// Where quarantined rows and flagged values go. Writes `quarantine.csv` (one line per rejected
// row) and `flagged.csv` (one line per flagged value) into a directory, with the columns
// file,line,column,value,reason,detail,record. Not thread-safe.
class QuarantineWriter {
 public:
  static absl::StatusOr<std::unique_ptr<QuarantineWriter>> Open(const std::filesystem::path& dir);
  void Quarantine(const std::string& file, int64_t line, std::string_view column,
                  std::string_view value, Reason reason, std::string_view detail,
                  std::string_view record);
  void Flag(const std::string& file, int64_t line, std::string_view column, std::string_view value,
            Reason reason, std::string_view detail);
  absl::Status Close();

 private:
  QuarantineWriter() = default;
  void Write(std::ofstream& out, std::string& buffer, const std::string& file, int64_t line,
             std::string_view column, std::string_view value, Reason reason,
             std::string_view detail, std::string_view record);
  std::filesystem::path dir_;
  std::ofstream quarantine_, flagged_;
  std::string quarantine_buffer_, flagged_buffer_;
};

struct ColumnStats {
  std::string name;
  spec::ColumnRole role = spec::ColumnRole::kSensor;
  int64_t count = 0;    // valid values in accepted rows
  int64_t missing = 0;  // missing or flagged values in accepted rows
  double min = std::numeric_limits<double>::infinity();
  double max = -std::numeric_limits<double>::infinity();
  double sum = 0;
};

// An example of a refusal, kept for the summary (the first few per reason).
struct IssueExample {
  int64_t line = 0;
  std::string column;
  std::string value;
  std::string detail;
};

// The accounting of rows and values: rows_read == rows_accepted + rows_quarantined.
struct RowCounts {
  int64_t rows_read = 0;
  int64_t rows_accepted = 0;
  int64_t rows_quarantined = 0;
  int64_t values_flagged = 0;
  std::array<int64_t, kReasonCount> rows_by_reason{};   // refused rows by their first reason
  std::array<int64_t, kReasonCount> flags_by_reason{};  // flagged values by reason

  void Add(const RowCounts& other);
};

struct TableReport : RowCounts {
  std::string role;
  std::filesystem::path path;
  spec::TimeType time_type = spec::TimeType::kNone;
  int64_t blank_lines = 0;
  // Rows of the file that belong to another table (spec::TableSpec::select): not read here.
  int64_t rows_of_other_tables = 0;
  // A long-format table: the readings its rows were pivoted into (the row counts are of the
  // file's rows: a reading quarantined quarantines every row it holds).
  int64_t readings = 0;
  int64_t bytes = 0;
  double seconds = 0;
  std::array<std::vector<IssueExample>, kReasonCount> examples;
  // Entities with at least one accepted row.
  int64_t entities = 0;
  std::vector<std::string> entity_names;
  double time_min = std::numeric_limits<double>::infinity();
  double time_max = -std::numeric_limits<double>::infinity();
  std::vector<ColumnStats> numeric;
};

struct ValidateOptions {
  // Reads this file instead of the table's own path (`--data`).
  std::filesystem::path data_override;
  QuarantineWriter* quarantine = nullptr;  // not owned; may be null
  RowSink* sink = nullptr;                 // not owned; may be null
  // Block size (bytes read at a time). Default 4 MiB.
  size_t buffer_bytes = size_t{4} << 20;
  // Threads checking blocks (0: all cores). The report, quarantine and sink order do not
  // depend on it. The sink is always called on the calling thread.
  int threads = 0;
  size_t max_record_bytes = size_t{1} << 20;
  // Examples kept per reason in the report.
  size_t max_examples = 3;
  // Set by the long-format pivot for the readings it validates: the file named in reports and
  // the quarantine, and per reading (data row r, 0-based) the line of its first long row and
  // how many long rows it holds (each counted as a row read, accepted or quarantined).
  std::string display_name;
  const std::vector<int64_t>* source_lines = nullptr;
  const std::vector<int64_t>* source_rows = nullptr;
};

// Validates one table. Returns an error only when the input is unusable: the file cannot be
// read, or its header does not match the spec (a declared column missing, an undeclared column
// present). Bad rows are not errors: they are counted and quarantined.
//
// A long-format table (spec::TableSpec::long_layout) is validated in two steps: each row's own
// rules (fields, entity, time, a declared sensor name, one value per entity, time and sensor)
// quarantine the row; the rows kept are pivoted into readings (one per entity and time, in time
// order per entity), which are then validated as rows of the wide layout would be (values,
// ranges, missing values and their policies), reported at the line of their first row.
absl::StatusOr<TableReport> ValidateTable(const spec::TableSpec& table,
                                          const spec::ValidationPolicy& policy,
                                          const ValidateOptions& options);

}  // namespace pdm::validate

#endif  // PDM_VALIDATE_VALIDATOR_H_
