// Alert resolutions as labels for training (`pdm train --feedback FILE`; `pdm alerts export`
// writes the file from the Store).
//
// The file is CSV with a header naming at least `machine_id`, `time` and `resolution` (any
// order; other columns, such as the export's `alert_id` or `resolved_by`, are ignored; an
// optional `failure_mode`). Each row is one resolved risk alert of a machine at the data time
// of the reading that opened it:
//   - `failure_confirmed`: a failure of the machine at that time, unless the failures table
//     already records one within the label horizon of it (then it is that failure); the rows
//     within the horizon before it become positives, as for any failure;
//   - `no_fault_found`: a false alarm. It needs no event: the rows before it are negatives by the
//     horizon rule as long as no failure follows, so training on the period teaches the next
//     model the alarm was false. Counted;
//   - `maintenance_done`: the maintenance table records maintenance; counted only.
// A row that cannot be used (unknown machine, malformed time, unknown resolution) is refused
// with its line and reason; the run goes on.
#ifndef PDM_FEATURES_FEEDBACK_H_
#define PDM_FEATURES_FEEDBACK_H_

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "features/dataset.h"
#include "nlohmann/json.hpp"
#include "spec/dataset_spec.h"

namespace pdm::features {

struct FeedbackReport {
  std::string path;
  int64_t rows = 0;
  int64_t failures_added = 0;  // failure_confirmed with no recorded failure near it
  int64_t failures_known = 0;  // failure_confirmed matching a recorded failure
  int64_t false_alarms = 0;    // no_fault_found
  int64_t maintenance = 0;     // maintenance_done
  int64_t refused = 0;
  std::vector<std::string> refusals;  // the first 20: "<file>:<line>: <field>: <reason>"
};

// Joins the resolutions in `path` to `data` (its entities' failures and events). Errors only for
// an unreadable file or a header without the required columns.
absl::StatusOr<FeedbackReport> ApplyFeedback(const std::filesystem::path& path,
                                             const spec::DatasetSpec& spec, LoadedDataset* data);

nlohmann::json FeedbackJson(const FeedbackReport& report);

}  // namespace pdm::features

#endif  // PDM_FEATURES_FEEDBACK_H_
