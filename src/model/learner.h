// The three ensemble members on XGBoost: a random forest (rf), classic gradient boosting (gbm)
// and regularised histogram boosting with early stopping (xgb). See docs/training.md.
#ifndef PDM_MODEL_LEARNER_H_
#define PDM_MODEL_LEARNER_H_

#include <cstdint>
#include <functional>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "model/xgb.h"

namespace pdm::model {

// kClassify: failure within the horizon (0/1). kRul: remaining useful life. kMode: the failure
// mode of a failure within the horizon, class 0 being "no failure" (multi:softprob).
enum class Task { kClassify, kRul, kMode };
const char* TaskName(Task task);
absl::StatusOr<Task> ParseTask(const std::string& name);

enum class LearnerKind { kRf, kGbm, kXgb };
absl::StatusOr<LearnerKind> ParseLearnerKind(const std::string& name);
const char* LearnerName(LearnerKind kind);

struct LearnerParams {
  std::map<std::string, std::string> xgb;  // XGBoost parameters (without objective, seed, threads)
  int rounds = 100;                        // boosting rounds (the most, with early stopping)
  int early_stopping = 0;                  // rounds without improvement before stopping; 0: off
};
// gbm grows trees with exact greedy splits up to this many cells (rows x features) of training
// data, and with 1024-bin histograms beyond: exact costs 165 s per 100-round fit on 211k x 228
// cells here, the histogram method a few seconds, with splits that differ by under 0.1% of
// a feature's range.
inline constexpr size_t kExactSplitCells = 5'000'000;

// The defaults, and one random draw from the member's search space, for `rows` x `features`.
LearnerParams DefaultParams(LearnerKind kind, size_t rows, size_t features);
LearnerParams SampleParams(LearnerKind kind, size_t rows, size_t features, std::mt19937_64& rng);

// Everything a fit reads; rows are chosen by index so that folds share one matrix.
struct LearningData {
  const DenseMatrix* x = nullptr;
  std::vector<float> target;  // class (0/1) or value, per row
  std::vector<float> weight;  // per row (class weights); empty: 1
};

struct FitOptions {
  Task task = Task::kClassify;
  int classes = 0;  // kMode: the number of classes (modes + 1)
  uint64_t seed = 0;
  int threads = 0;
  std::function<void(int round, int rounds)> on_round;  // progress; may be empty
};

struct FittedLearner {
  Booster booster;
  int rounds = 0;              // rounds kept (after early stopping)
  double validation_loss = 0;  // logloss or rmse on `valid` (NaN when there was none)
};

// Fits on `train` rows; with early stopping, stops on `valid` rows and keeps the best rounds.
// `valid` also gives validation_loss (search compares candidates by it).
absl::StatusOr<FittedLearner> FitLearner(const LearnerParams& params, const LearningData& data,
                                         const std::vector<uint32_t>& train,
                                         const std::vector<uint32_t>& valid,
                                         const FitOptions& options);

// The learning rows of `rows` as a DMatrix (labels and weights attached).
absl::StatusOr<DMatrix> MakeDMatrix(const LearningData& data, const std::vector<uint32_t>& rows,
                                    int threads);

}  // namespace pdm::model

#endif  // PDM_MODEL_LEARNER_H_
