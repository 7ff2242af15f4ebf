// The alert threshold that maximises expected yearly savings, from a model's out-of-fold scores.
#ifndef PDM_ECON_THRESHOLD_H_
#define PDM_ECON_THRESHOLD_H_

#include <cstdint>
#include <filesystem>
#include <vector>

#include "absl/status/statusor.h"

namespace pdm::econ {

struct ScoredLabel {
  double score = 0;  // higher = more likely to fail
  bool positive = false;
};

// What an alarm is worth and what it costs, per year.
struct ThresholdEconomics {
  double failures_per_year = 0;           // fleet failures a perfect detector would catch
  double value_per_detected_failure = 0;  // saving when a failure is warned in time
  double healthy_decisions_per_year = 0;  // scored decisions on machines that will not fail
  double cost_per_false_alarm = 0;
};

struct ThresholdPoint {
  double threshold = 0;  // alarm when score >= threshold
  double recall = 0;
  double false_positive_rate = 0;
  // recall * failures_per_year * value - fpr * healthy_decisions_per_year * cost
  double yearly_savings = 0;
};

struct ThresholdChoice {
  ThresholdPoint best;
  std::vector<ThresholdPoint> curve;  // evenly spaced thresholds over the score range
  int64_t positives = 0;
  int64_t negatives = 0;
};

// Sweeps every distinct score as a threshold (plus "never alarm") and returns the one with the
// highest expected yearly savings (ties: the higher threshold, fewer alarms), and a curve of
// `curve_points` points. Errors when there are no positives or no negatives.
absl::StatusOr<ThresholdChoice> CostOptimalThreshold(std::vector<ScoredLabel> scores,
                                                     const ThresholdEconomics& economics,
                                                     int curve_points = 101);

// Reads out-of-fold scores from a CSV file with a header holding `label` (0/1) and `score`
// columns. Errors name the file, the line and the column.
absl::StatusOr<std::vector<ScoredLabel>> ReadScores(const std::filesystem::path& path);

}  // namespace pdm::econ

#endif  // PDM_ECON_THRESHOLD_H_
