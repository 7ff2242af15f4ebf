// Cross-validation splits that do not leak: whole entities per fold, the past before the future,
// or class-stratified folds for data whose rows are independent.
#ifndef PDM_MODEL_FOLDS_H_
#define PDM_MODEL_FOLDS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace pdm::model {

enum class CvMode {
  kAuto,        // group with several entities; time with one entity and a time column; else
                // stratified (classification) or kfold (regression)
  kGroup,       // every entity's rows in one fold
  kTime,        // expanding window: train on blocks before the test block, with an embargo
  kStratified,  // each class dealt evenly over the folds
  kKFold,       // shuffled rows
};
absl::StatusOr<CvMode> ParseCvMode(const std::string& name);
const char* CvModeName(CvMode mode);

struct Fold {
  std::vector<uint32_t> train;  // row indices, ascending
  std::vector<uint32_t> test;
};

struct FoldInputs {
  std::vector<uint32_t> entity;  // per row; all equal when the data has no entity
  std::vector<double> time;      // per row; empty when the data has no time
  std::vector<double> label;     // per row: the class (classification) or the target
  bool classification = true;
  // kTime: training rows within `embargo` before a test block are left out, since their
  // labels look ahead into it (the label horizon).
  double embargo = 0;
};

// Resolves kAuto, then splits. Errors when a mode cannot apply (group with one entity, time
// without a time column, fewer rows or entities than folds, a class rarer than the folds).
absl::StatusOr<std::vector<Fold>> MakeFolds(CvMode mode, int k, const FoldInputs& inputs,
                                            uint64_t seed, CvMode* resolved = nullptr);

// A smaller split of `rows` for inner validation (early stopping, search): about `fraction` of
// them, chosen the same way as the outer folds (whole entities, the latest times, or stratified).
Fold InnerSplit(CvMode mode, const FoldInputs& inputs, const std::vector<uint32_t>& rows,
                double fraction, uint64_t seed);

}  // namespace pdm::model

#endif  // PDM_MODEL_FOLDS_H_
