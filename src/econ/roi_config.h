// Reading the business-case config (roi.yaml) and the model's metrics.json. See docs/roi.md.
#ifndef PDM_ECON_ROI_CONFIG_H_
#define PDM_ECON_ROI_CONFIG_H_

#include <filesystem>
#include <optional>

#include "absl/status/statusor.h"
#include "econ/business_case.h"
#include "econ/threshold.h"

namespace pdm::econ {

struct RoiConfig {
  BusinessCaseInputs inputs;
  // detection.healthy_decisions_per_year: scored decisions per year on machines that will not
  // fail; turns a false-positive rate into false alarms per year. 0 when not given.
  double healthy_decisions_per_year = 0;
  // threshold.failures_per_year / value_per_detected_failure / cost_per_false_alarm, when given
  // (bottom-up inputs supply defaults for the first two, detection.false_alarm_cost the third).
  std::optional<double> failures_per_year;
  std::optional<double> value_per_detected_failure;
  std::optional<double> cost_per_false_alarm;
};

// Reads and checks roi.yaml. Errors name the file, the key and the reason.
absl::StatusOr<RoiConfig> LoadRoiConfig(const std::filesystem::path& path);
absl::StatusOr<RoiConfig> ParseRoiConfig(std::string_view yaml, const std::filesystem::path& path);

// Takes recall and the false-positive rate from a metrics.json written by `pdm train`
// (ensemble.recall, ensemble.confusion_matrix [[tn, fp], [fn, tp]]) into config->inputs.detection.
// REQUIRES: config->healthy_decisions_per_year > 0 (else an error naming that key).
absl::Status ApplyMetrics(const std::filesystem::path& metrics_path, RoiConfig* config);
// The same from the metrics' text (a registered version's); `where` names it in errors.
absl::Status ApplyMetricsText(std::string_view text, const std::string& where, RoiConfig* config);

// The economics of the threshold sweep: given values, or derived from the bottom-up inputs.
absl::StatusOr<ThresholdEconomics> ThresholdEconomicsFor(const RoiConfig& config);

}  // namespace pdm::econ

#endif  // PDM_ECON_ROI_CONFIG_H_
