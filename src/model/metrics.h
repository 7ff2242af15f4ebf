// Model quality measures, computed the way scikit-learn computes them so that numbers compare.
#ifndef PDM_MODEL_METRICS_H_
#define PDM_MODEL_METRICS_H_

#include <cstddef>
#include <cstdint>
#include <vector>

namespace pdm::model {

struct BinaryMetrics {
  int64_t rows = 0;
  int64_t positives = 0;
  double accuracy = 0;
  double balanced_accuracy = 0;
  double precision = 0;  // 0 when nothing is predicted positive (scikit-learn zero_division=0)
  double recall = 0;
  double f1 = 0;
  double roc_auc = 0;  // NaN with one class only
  double pr_auc = 0;   // average precision (step-wise area), as average_precision_score
  double brier = 0;
  double threshold = 0;  // alarm when probability >= threshold
  int64_t tn = 0, fp = 0, fn = 0, tp = 0;
};

// `probability` in [0, 1] (ranks the rows for the areas); `label` 0 or 1.
BinaryMetrics ScoreBinary(const std::vector<double>& probability, const std::vector<double>& label,
                          double threshold);
// The same with the decisions given per row (thresholds chosen per fold); `threshold` is only
// reported. `ranking`, when given, is the score the areas rank the rows by instead of the
// probability: out-of-fold rows whose probabilities come from per-fold calibrations are ranked
// by their combined margin, which no per-fold map has shifted (see train.cc).
BinaryMetrics ScoreDecisions(const std::vector<double>& probability,
                             const std::vector<double>& label, const std::vector<char>& alarm,
                             double threshold, const std::vector<double>* ranking = nullptr);

// Area under the ROC curve with ties counted half (Mann-Whitney). NaN with one class only.
double RocAuc(const std::vector<double>& score, const std::vector<double>& label);
// scikit-learn's average_precision_score.
double AveragePrecision(const std::vector<double>& score, const std::vector<double>& label);

struct CurvePoint {
  double x = 0, y = 0, threshold = 0;
};
// ROC (x = false-positive rate, y = recall) and precision-recall (x = recall, y = precision)
// curves at every distinct score, thinned to at most `max_points` for plotting.
std::vector<CurvePoint> RocCurve(const std::vector<double>& score, const std::vector<double>& label,
                                 size_t max_points = 200);
std::vector<CurvePoint> PrCurve(const std::vector<double>& score, const std::vector<double>& label,
                                size_t max_points = 200);

struct RegressionMetrics {
  int64_t rows = 0;
  double rmse = 0;
  double mae = 0;
  // PHM08 asymmetric score: sum of exp(-d/13) - 1 for early (d < 0) and exp(d/10) - 1 for
  // late predictions, d = predicted - true.
  double nasa_score = 0;
  double r2 = 0;
};
// The failure-mode task: K classes (0 = no failure within the horizon), as scikit-learn's
// accuracy_score, balanced_accuracy_score, f1_score(average="macro") and log_loss compute them.
struct ClassMetrics {
  int64_t support = 0;  // rows of the class
  double precision = 0, recall = 0, f1 = 0;
};
struct MulticlassMetrics {
  int64_t rows = 0;
  double accuracy = 0;
  double balanced_accuracy = 0;  // mean recall over the classes present
  double macro_f1 = 0;           // mean F1 over the classes present or predicted
  double log_loss = 0;           // probabilities clipped to [1e-15, 1 - 1e-15]
  std::vector<ClassMetrics> classes;
  // confusion[true][predicted], K x K.
  std::vector<std::vector<int64_t>> confusion;
};
// `probability`: rows x `classes` (each row sums to 1); `label`: the class per row; the
// prediction is each row's `predicted` class.
MulticlassMetrics ScoreMulticlass(const std::vector<double>& probability, size_t classes,
                                  const std::vector<double>& label,
                                  const std::vector<int>& predicted);

RegressionMetrics ScoreRegression(const std::vector<double>& predicted,
                                  const std::vector<double>& truth);

}  // namespace pdm::model

#endif  // PDM_MODEL_METRICS_H_
