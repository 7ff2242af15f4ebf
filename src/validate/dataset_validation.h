// Validation of every table a dataset spec names, and the summary users and scripts read.
#ifndef PDM_VALIDATE_DATASET_VALIDATION_H_
#define PDM_VALIDATE_DATASET_VALIDATION_H_

#include <filesystem>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "spec/dataset_spec.h"
#include "validate/validator.h"

namespace pdm::validate {

// Sums over all tables (RowCounts): rows_read == rows_accepted + rows_quarantined.
struct DatasetReport : RowCounts {
  std::string spec_name;
  std::filesystem::path spec_path;
  std::filesystem::path quarantine_dir;  // empty when no quarantine was written
  // Main data first, then test data, RUL file, event tables, machine table.
  std::vector<TableReport> tables;
  double seconds = 0;
};

struct DatasetValidateOptions {
  std::filesystem::path data_override;   // replaces the main data file (`--data`)
  std::filesystem::path quarantine_dir;  // empty: no quarantine files
  // Validate only the main data table (skips test, events and machines).
  bool main_table_only = false;
  // Threads checking rows (0: all cores); see ValidateOptions::threads.
  int threads = 0;
};

// Validates each table of the spec. Errors only for unusable input (a file missing or
// unreadable, a header that does not match the spec, a RUL file that does not match the test
// units); row-level problems are counted in the report.
absl::StatusOr<DatasetReport> ValidateDataset(const spec::DatasetSpec& spec,
                                              const DatasetValidateOptions& options);

// The RUL file of a test set as a table: one non-negative number per line, column "rul".
spec::TableSpec RulTable(const std::filesystem::path& path);

// The summary as one JSON object. Keys (a public contract): rows_read, rows_accepted,
// rows_quarantined, by_reason, values_flagged, flagged_by_reason, seconds, quarantine_dir, and
// files[] with the same counts per file plus role, path, bytes, entities, time_min, time_max,
// columns{name: {role, count, missing, min, max, mean}} and examples{reason: [...]}.
std::string ReportToJson(const DatasetReport& report, int indent = 2);

// The summary as text for a terminal.
std::string ReportToText(const DatasetReport& report);

}  // namespace pdm::validate

#endif  // PDM_VALIDATE_DATASET_VALIDATION_H_
