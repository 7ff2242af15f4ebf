// The batch drift report (`pdm monitor`): a whole file of new data against a model's reference
// profile, the same statistics and thresholds as the streaming monitor (drift_monitor.h), as
// JSON and as one self-contained HTML page (inline SVG and CSS, no script, no network).
#ifndef PDM_MONITOR_BATCH_DRIFT_H_
#define PDM_MONITOR_BATCH_DRIFT_H_

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "monitor/drift_monitor.h"
#include "monitor/profile.h"
#include "nlohmann/json.hpp"

namespace pdm::monitor {

// New rows as the comparison reads them.
struct BatchRows {
  size_t rows = 0;
  size_t cols = 0;                // features per row, in the profile's order
  const float* x = nullptr;       // row-major (NaN: missing)
  std::span<const double> score;  // per row; empty: the score is not compared
  // Per row, data time since its entity's first row (empty: none); a column leaves out the rows
  // still within its profile's warm-up, as the profile did.
  std::span<const double> since_start;
};

struct BatchDriftOptions {
  double warning_psi = 0.1, drift_psi = 0.25;  // fixed thresholds, and floors of calibrated ones
  bool calibrated_thresholds = true;           // the profile's window thresholds, when it has them
  double calibration_margin = 2.0;
  double dataset_drift_share = 0.5;
};

// Compares every column of `rows` with the profile. Statuses have no hysteresis (one look).
// REQUIRES: rows.cols == profile.features.size().
DriftReport CompareWithProfile(const ReferenceProfile& profile, const BatchRows& rows,
                               const BatchDriftOptions& options);

// One operating regime's rows against that regime's own reference (profiles with regimes): which
// features moved within which condition. Statuses as CompareWithProfile's (the columns' window
// thresholds).
struct RegimeDrift {
  int regime = 0;
  std::string name;            // the profile's regime name (its settings), or empty
  int64_t rows = 0;            // of the batch
  int64_t reference_rows = 0;  // training rows of the regime (the largest column's)
  DriftReport report;
};
// Empty when the profile has no regimes; a regime without rows in the batch is left out.
std::vector<RegimeDrift> CompareByRegime(const ReferenceProfile& profile, const BatchRows& rows,
                                         const BatchDriftOptions& options);

nlohmann::json BatchDriftJson(const DriftReport& report, const ReferenceProfile& profile,
                              const BatchDriftOptions& options,
                              const std::vector<RegimeDrift>& regimes = {});

// What the page says about where the numbers come from.
struct BatchDriftSource {
  std::string model;  // the model directory
  std::string data;   // the file compared
  std::string spec;
  int64_t rows_read = 0, rows_quarantined = 0;
};
std::string BatchDriftHtml(const DriftReport& report, const ReferenceProfile& profile,
                           const BatchDriftSource& source, const BatchDriftOptions& options,
                           const std::vector<RegimeDrift>& regimes = {});

}  // namespace pdm::monitor

#endif  // PDM_MONITOR_BATCH_DRIFT_H_
