// RAII owners of XGBoost C API handles. Every C API error becomes an absl::Status that carries
// XGBGetLastError(); no handle outlives its owner and none is freed twice.
#ifndef PDM_MODEL_XGB_H_
#define PDM_MODEL_XGB_H_

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace pdm::model {

// Rows x columns of float32 values, row-major; NaN is a missing value.
struct DenseMatrix {
  size_t rows = 0;
  size_t cols = 0;
  std::vector<float> values;
  const float* row(size_t r) const { return values.data() + r * cols; }
  // The rows `indices`, in that order.
  DenseMatrix Select(const std::vector<uint32_t>& indices) const;
};

// Turns an XGBoost return code into a Status naming `what` and XGBGetLastError().
absl::Status XgbStatus(int rc, std::string_view what);

class DMatrix {
 public:
  // Copies `x` (NaN = missing) with optional labels and weights (one per row, or empty).
  static absl::StatusOr<DMatrix> Create(const DenseMatrix& x, const std::vector<float>& labels,
                                        const std::vector<float>& weights, int threads);
  DMatrix(DMatrix&& other) noexcept : handle_(std::exchange(other.handle_, nullptr)) {}
  DMatrix& operator=(DMatrix&& other) noexcept;
  DMatrix(const DMatrix&) = delete;
  DMatrix& operator=(const DMatrix&) = delete;
  ~DMatrix();
  void* handle() const { return handle_; }

 private:
  explicit DMatrix(void* handle) : handle_(handle) {}
  void* handle_ = nullptr;
};

// What XGBoosterPredictFromDMatrix returns.
enum class PredictKind { kValue = 0, kMargin = 1, kContributions = 2 };

class Booster {
 public:
  // A new booster whose cache holds `train` (and `evals`, if any).
  static absl::StatusOr<Booster> Create(const std::vector<const DMatrix*>& cache);
  // A booster read from XGBoost's JSON model format.
  static absl::StatusOr<Booster> FromJson(std::string_view json);
  Booster() = default;  // empty: holds no model until one is moved in
  Booster(Booster&& other) noexcept : handle_(std::exchange(other.handle_, nullptr)) {}
  Booster& operator=(Booster&& other) noexcept;
  Booster(const Booster&) = delete;
  Booster& operator=(const Booster&) = delete;
  ~Booster();

  absl::Status SetParam(const std::string& name, const std::string& value);
  absl::Status UpdateOneIter(int iteration, const DMatrix& train);
  // The value of the booster's eval_metric on `data` after `iteration` ("[0]\tname-rmse:1.5").
  absl::StatusOr<double> Evaluate(int iteration, const DMatrix& data, const std::string& name);
  // Predictions: rows (x members of a multi-output) for value and margin; rows x (cols + 1)
  // for contributions, the last column being the bias. `iteration_end` 0: all trees.
  absl::StatusOr<std::vector<float>> Predict(const DMatrix& data, PredictKind kind,
                                             int iteration_end = 0) const;
  // A new booster with the first `rounds` boosting rounds of this one.
  absl::StatusOr<Booster> Slice(int rounds) const;
  absl::StatusOr<int> BoostedRounds() const;
  // XGBoost's JSON model (no training-only state): byte-identical for identical models.
  absl::StatusOr<std::string> ToJson() const;

 private:
  explicit Booster(void* handle) : handle_(handle) {}
  void* handle_ = nullptr;
};

}  // namespace pdm::model

#endif  // PDM_MODEL_XGB_H_
