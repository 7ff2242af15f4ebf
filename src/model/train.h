// Cross-validated training of the ensemble: out-of-fold predictions of every member, combiner,
// calibration and threshold fitted on other folds' predictions only, then the final model on all
// rows. See docs/training.md and ADR 0004.
#ifndef PDM_MODEL_TRAIN_H_
#define PDM_MODEL_TRAIN_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/time.h"
#include "model/decision.h"
#include "model/ensemble.h"
#include "model/folds.h"
#include "model/learner.h"
#include "model/metrics.h"

namespace pdm::model {

// The labelled rows to learn from.
struct TrainingTable {
  DenseMatrix x;
  std::vector<std::string> feature_names;
  std::vector<double> target;    // label (0/1) or RUL, per row; finite
  std::vector<uint32_t> entity;  // per row (all 0 without an entity)
  std::vector<double> time;      // per row; empty without a time column
};

// Class weights of a classifier's fits. The default is none: on AI4I and on the simulated fleet
// unweighted members rank failures as well or better, and calibration and the chosen threshold
// account for the class balance (docs/training.md).
enum class ClassWeight { kBalanced, kSqrt, kNone };
absl::StatusOr<ClassWeight> ParseClassWeight(const std::string& name);
const char* ClassWeightName(ClassWeight weight);

struct TrainOptions {
  Task task = Task::kClassify;
  std::vector<LearnerKind> members = {LearnerKind::kRf, LearnerKind::kGbm, LearnerKind::kXgb};
  CvMode cv = CvMode::kAuto;
  int folds = 5;
  int search = 0;  // random-search candidates per member and fit (0: defaults)
  uint64_t seed = 42;
  int threads = 0;
  CalibrationKind calibration = CalibrationKind::kPlatt;
  ClassWeight class_weight = ClassWeight::kNone;
  std::optional<Costs> costs;
  double embargo = 0;             // time cv: the label horizon
  std::optional<double> horizon;  // RUL: also score "fails within horizon"
  // The drift window the reference profile's thresholds are calibrated for (`pdm serve
  // --drift-window` must then say the same); none: monitor::DefaultDriftWindow.
  std::optional<core::Span> drift_window;
  // kMode: the class names, "none" first (the target holds class indices).
  std::vector<std::string> classes;
  std::function<void(const std::string& line)> on_stage;
  std::function<void(const std::string& what, int round, int rounds)> on_round;
};

struct Scores {
  BinaryMetrics binary;                         // classification; mode: "any failure" (class > 0)
  std::optional<MulticlassMetrics> multiclass;  // mode
  RegressionMetrics regression;                 // RUL
  std::optional<BinaryMetrics> within_horizon;  // RUL with a horizon
};

struct FoldResult {
  int64_t train_rows = 0;
  int64_t test_rows = 0;
  Scores scores;
  double seconds = 0;
};

struct MemberSummary {
  LearnerKind kind = LearnerKind::kXgb;
  Scores oof;            // its own out-of-fold scores, decisions cross-fitted like the ensemble
  LearnerParams params;  // of the final model (after search)
  int rounds = 0;
  double seconds = 0;  // all its fits
};

struct TrainReport {
  CvMode cv = CvMode::kAuto;
  Scores ensemble;
  std::vector<MemberSummary> members;
  std::vector<FoldResult> folds;
  // Out-of-fold rows (every row a fold tested): target, ensemble score (probability, or the
  // predicted RUL), decision, fold.
  std::vector<double> oof_target, oof_score;
  std::vector<uint32_t> oof_row;  // the training table's row of each out-of-fold entry
  // The score the ranking metrics and curves use: the combined margin (for classification; see
  // ScoreDecisions), else the score.
  std::vector<double> oof_rank;
  std::vector<char> oof_alarm;
  std::vector<int> oof_fold;
  // Per out-of-fold row, each member's output (rows x members; binary and RUL tasks: the margin
  // or value the combiner gets; empty for the mode task), for stacking diagnostics.
  std::vector<double> oof_member_output;
  std::vector<double> importance;  // mean |contribution| per feature, final model
  std::vector<std::string> warnings;
  double seconds = 0;
};

struct TrainResult {
  Ensemble model;
  TrainReport report;
};

absl::StatusOr<TrainResult> Train(const TrainingTable& table, const TrainOptions& options);

// Scores the predictions of `rows` against `target`: classification with the predictions' own
// decisions (`threshold` is reported); RUL, and with a horizon "fails within the horizon".
Scores ScorePredictions(Task task, const std::vector<Prediction>& predictions,
                        const std::vector<double>& target, const std::vector<uint32_t>& rows,
                        double threshold, std::optional<double> horizon);

// Features that alone separate the labels almost perfectly (ROC-AUC or its complement >=
// `limit`; for RUL |correlation| >= `limit`), with the value: likely leaks.
std::vector<std::pair<std::string, double>> SeparatingFeatures(const TrainingTable& table,
                                                               Task task, double limit = 0.99);

}  // namespace pdm::model

#endif  // PDM_MODEL_TRAIN_H_
