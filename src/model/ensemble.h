// A trained ensemble: members' outputs combined in log-odds (classification) or value (RUL)
// space with fitted weights, then calibrated and thresholded. Stored as a model directory.
#ifndef PDM_MODEL_ENSEMBLE_H_
#define PDM_MODEL_ENSEMBLE_H_

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "model/decision.h"
#include "model/flat_trees.h"
#include "model/learner.h"
#include "model/xgb.h"

namespace pdm::model {

struct Member {
  LearnerKind kind = LearnerKind::kXgb;
  LearnerParams params;
  int rounds = 0;
  Booster booster;
  // A classifier member's output is its margin standardised by the mean (`offset`) and standard
  // deviation (`scale`) of its margins on its own training rows. Fits of one learner differ in
  // scale (boosting rounds chosen by early stopping, forests of another depth): standardised,
  // the combiner and calibration fitted on out-of-fold outputs of the folds' fits transfer to
  // another fold's fit and to the final model (ADR 0012). RUL and mode members keep 0 and 1.
  double offset = 0;
  double scale = 1;
  double Output(double raw) const { return (raw - offset) / scale; }
  // The same trees for fast prediction (model/flat_trees.h); set by Ensemble::Load. Prediction
  // uses them when every member has them, else XGBoost.
  std::shared_ptr<const FlatTrees> flat;
};

// How member outputs become a decision. Classification: margin = intercept + sum_m weight_m *
// member_margin_m, probability = calibration(margin), alarm when probability >= threshold.
// RUL: value = intercept + sum_m weight_m * member_value_m; "fails within the horizon" when
// value <= horizon. Failure mode: class log-probabilities = log-softmax(sum_m weight_m *
// log-softmax(member_margins_m)) (weights on the simplex), the mode the most probable class;
// probability = 1 - P(class 0), the alarm when it is >= threshold.
struct Combiner {
  std::vector<double> weights;
  double intercept = 0;
  Calibration calibration;
  double threshold = 0.5;
  double Combine(const double* member_outputs) const;
};

struct Prediction {
  double margin = 0;  // classification and mode: log-odds of a failure; RUL: the predicted value
  double probability = 0;  // classification and mode: of a failure within the horizon
  bool alarm = false;
  int mode = 0;                          // mode task: the most probable class (0: no failure)
  std::vector<double> mode_probability;  // mode task: per class, summing to 1
};

struct Explanation {
  size_t features = 0;
  // rows x (features + 1): each feature's contribution to the combined margin (or value), then
  // the bias; a row sums to Prediction::margin. Mode task: to the predicted class's combined
  // raw margin, sum_m weight_m * member_margin_m[mode] (before normalisation).
  std::vector<double> contributions;
};

class Ensemble {
 public:
  Task task = Task::kClassify;
  std::vector<std::string> feature_names;
  std::vector<Member> members;
  Combiner combiner;
  // Each member's own combiner (fitted the same way, on its out-of-fold outputs alone), so that
  // evaluation can score every member with its own calibration and threshold.
  std::vector<Combiner> member_combiners;
  std::optional<double> horizon;  // RUL: the "fails within" horizon, in the target's unit
  // Mode task: the class names, "none" (no failure within the horizon) first.
  std::vector<std::string> classes;
  // Outputs per member and row: the classes of the mode task, else 1.
  size_t width() const { return task == Task::kMode ? classes.size() : 1; }

  // rows x members x width(): margins (classification, mode) or values (RUL). Through the flat
  // trees when every
  // member has them (`threads` > 1 splits large inputs by rows), else through XGBoost.
  // `weighted_only`: members the combiner weighs 0 are not run (their outputs are left 0); not
  // for the mode task, whose combination uses every member.
  absl::StatusOr<std::vector<double>> MemberOutputs(const DenseMatrix& x, int threads,
                                                    bool weighted_only = false) const;
  // Runs only the members the combination uses (a member stacked to weight 0 costs nothing).
  absl::StatusOr<std::vector<Prediction>> Predict(const DenseMatrix& x, int threads) const;
  absl::StatusOr<Explanation> Explain(const DenseMatrix& x, int threads) const;

  // Writes model.json and one XGBoost JSON file per member into `dir` (created).
  // `extra` is merged into model.json (feature spec hash, training facts).
  absl::Status Save(const std::filesystem::path& dir, const std::string& extra_json) const;
  static absl::StatusOr<Ensemble> Load(const std::filesystem::path& dir);
};

// Applies a combiner to member outputs (rows x members x `classes`; `classes` is 1 except for
// the mode task).
std::vector<Prediction> ApplyCombiner(Task task, const Combiner& combiner,
                                      const std::vector<double>& outputs, size_t members,
                                      std::optional<double> horizon, size_t classes = 1);

// log(sum_i exp(x_i)) of `n` values, without overflow; -inf for none.
double LogSumExp(const double* x, size_t n);

// Mode task: the combined class log-probabilities (log-softmax) of one row's member outputs
// (members x classes) into `out` (classes).
void CombineModes(const Combiner& combiner, const double* member_outputs, size_t members,
                  size_t classes, double* out);

}  // namespace pdm::model

#endif  // PDM_MODEL_ENSEMBLE_H_
