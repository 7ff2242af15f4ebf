// From margins to decisions: logistic stacking, probability calibration (Platt, isotonic) and
// the alarm threshold (maximum F1, or minimum expected cost).
#ifndef PDM_MODEL_DECISION_H_
#define PDM_MODEL_DECISION_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json_fwd.hpp"

namespace pdm::model {

// Logistic regression p = sigmoid(intercept + sum_j coef_j x_j) fitted by Newton's method with a
// tiny ridge for stability. With `non_negative`, coefficients that come out negative are fixed
// at 0 and the rest refitted (an active-set method: fine for the few columns it gets).
struct LogisticFit {
  std::vector<double> coef;
  double intercept = 0;
};
// `x` is rows x cols row-major; `target` in [0, 1].
LogisticFit FitLogistic(const std::vector<double>& x, size_t cols,
                        const std::vector<double>& target, bool non_negative);

enum class CalibrationKind { kNone, kPlatt, kIsotonic };
absl::StatusOr<CalibrationKind> ParseCalibrationKind(const std::string& name);
const char* CalibrationKindName(CalibrationKind kind);

// Maps a margin (log-odds) to a probability.
struct Calibration {
  CalibrationKind kind = CalibrationKind::kNone;
  double a = 1, b = 0;                // Platt: sigmoid(a * margin + b)
  std::vector<double> knots, values;  // isotonic: piecewise linear, flat outside the knots
  double Apply(double margin) const;
  nlohmann::json ToJson() const;
  static absl::StatusOr<Calibration> FromJson(const nlohmann::json& json);
};
// Platt scaling with Platt's smoothed targets; isotonic by pool-adjacent-violators.
Calibration FitCalibration(CalibrationKind kind, const std::vector<double>& margin,
                           const std::vector<double>& label);

// Expected-cost threshold when both costs are given, else maximum F1.
struct Costs {
  double missed_failure = 0;
  double false_alarm = 0;
};
// The threshold t (alarm when p >= t) that maximises F1 or minimises
// missed_failure * FN + false_alarm * FP over the scored rows; ties go to the higher threshold.
// The result lies halfway between two neighbouring distinct probabilities, so that it does not
// sit on a training score.
double ChooseThreshold(const std::vector<double>& probability, const std::vector<double>& label,
                       const std::optional<Costs>& costs);

}  // namespace pdm::model

#endif  // PDM_MODEL_DECISION_H_
