// A flat, cache-friendly evaluator of one XGBoost tree ensemble (gbtree, numerical splits),
// built from the booster's own JSON model: the same trees, walked without XGBoost's per-call
// overhead (a DMatrix, a JSON configuration, thread dispatch), which dominates single-row
// prediction. XGBoost stays the trainer and the reference: tests check that the margins equal
// XGBoost's within 1e-6 on every test row, for every learner kind and both tasks.
//
// Arithmetic follows XGBoost's CPU predictor: features as float, "go left" when value < split
// condition, missing (NaN) goes the node's default way, the margin accumulated in float from the
// base margin, tree by tree in model order.
#ifndef PDM_MODEL_FLAT_TREES_H_
#define PDM_MODEL_FLAT_TREES_H_

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace pdm::model {

class FlatTrees {
 public:
  // Refuses what it cannot evaluate exactly (categorical splits, multi-output trees, dart,
  // objectives other than binary:logistic and reg:squarederror) so callers fall back to XGBoost.
  static absl::StatusOr<FlatTrees> FromXgboostJson(std::string_view json);

  // The margin of one row of `features()` floats (NaN = missing): log-odds for binary:logistic,
  // the predicted value for reg:squarederror.
  float Margin(const float* row) const;
  // Margins of `rows` rows (row-major, `features()` apart) into `out`.
  void Margins(const float* rows, size_t count, float* out) const;

  size_t trees() const { return roots_.size(); }
  size_t nodes() const { return nodes_.size(); }
  size_t features() const { return features_; }

 private:
  // Children of a split are adjacent (right = left + 1), nodes of a tree contiguous, trees
  // in model order. A leaf has left < 0 and holds its value.
  struct Node {
    int32_t left;
    uint32_t feature;  // bit 31: missing values go left
    float value;       // split condition, or leaf value
  };
  static constexpr uint32_t kDefaultLeft = 1u << 31;

  std::vector<Node> nodes_;
  std::vector<uint32_t> roots_;
  size_t features_ = 0;
  float base_margin_ = 0;
};

}  // namespace pdm::model

#endif  // PDM_MODEL_FLAT_TREES_H_
