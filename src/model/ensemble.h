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
  // The same trees for fast prediction (model/flat_trees.h); set by Ensemble::Load. Prediction
  // uses them when every member has them, else XGBoost.
  std::shared_ptr<const FlatTrees> flat;
};

// How member outputs become a decision. Classification: margin = intercept + sum_m weight_m *
// member_margin_m, probability = calibration(margin), alarm when probability >= threshold.
// RUL: value = intercept + sum_m weight_m * member_value_m; "fails within the horizon" when
// value <= horizon.
struct Combiner {
  std::vector<double> weights;
  double intercept = 0;
  Calibration calibration;
  double threshold = 0.5;
  double Combine(const double* member_outputs) const;
};

struct Prediction {
  double margin = 0;       // classification: combined log-odds; RUL: the predicted value
  double probability = 0;  // classification only
  bool alarm = false;
};

struct Explanation {
  size_t features = 0;
  // rows x (features + 1): each feature's contribution to the combined margin (or value), then
  // the bias; a row sums to Prediction::margin.
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

  // rows x members: margins (classification) or values (RUL). Through the flat trees when every
  // member has them (`threads` > 1 splits large inputs by rows), else through XGBoost.
  absl::StatusOr<std::vector<double>> MemberOutputs(const DenseMatrix& x, int threads) const;
  absl::StatusOr<std::vector<Prediction>> Predict(const DenseMatrix& x, int threads) const;
  absl::StatusOr<Explanation> Explain(const DenseMatrix& x, int threads) const;

  // Writes model.json and one XGBoost JSON file per member into `dir` (created).
  // `extra` is merged into model.json (feature spec hash, training facts).
  absl::Status Save(const std::filesystem::path& dir, const std::string& extra_json) const;
  static absl::StatusOr<Ensemble> Load(const std::filesystem::path& dir);
};

// Applies a combiner to member outputs (rows x members).
std::vector<Prediction> ApplyCombiner(Task task, const Combiner& combiner,
                                      const std::vector<double>& outputs, size_t members,
                                      std::optional<double> horizon);

}  // namespace pdm::model

#endif  // PDM_MODEL_ENSEMBLE_H_
