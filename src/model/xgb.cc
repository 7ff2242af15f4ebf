#include "model/xgb.h"

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

#include "core/strings.h"
#include "xgboost/c_api.h"

namespace pdm::model {

DenseMatrix DenseMatrix::Select(const std::vector<uint32_t>& indices) const {
  DenseMatrix out;
  out.rows = indices.size();
  out.cols = cols;
  out.values.resize(out.rows * cols);
  for (size_t i = 0; i < indices.size(); ++i) {
    std::memcpy(out.values.data() + i * cols, row(indices[i]), cols * sizeof(float));
  }
  return out;
}

absl::Status XgbStatus(int rc, std::string_view what) {
  if (rc == 0) return absl::OkStatus();
  return absl::InternalError(core::StrCat("XGBoost ", what, ": ", XGBGetLastError()));
}

DMatrix& DMatrix::operator=(DMatrix&& other) noexcept {
  if (this != &other) {
    if (handle_ != nullptr) XGDMatrixFree(handle_);
    handle_ = std::exchange(other.handle_, nullptr);
  }
  return *this;
}

DMatrix::~DMatrix() {
  if (handle_ != nullptr) XGDMatrixFree(handle_);
}

absl::StatusOr<DMatrix> DMatrix::Create(const DenseMatrix& x, const std::vector<float>& labels,
                                        const std::vector<float>& weights, int threads) {
  if (x.rows == 0 || x.cols == 0) {
    return absl::InvalidArgumentError("no rows or no features to learn from");
  }
  DMatrixHandle handle = nullptr;
  absl::Status status = XgbStatus(
      XGDMatrixCreateFromMat_omp(x.values.data(), x.rows, x.cols,
                                 std::numeric_limits<float>::quiet_NaN(), &handle, threads),
      "creating a DMatrix");
  if (!status.ok()) return status;
  DMatrix matrix(handle);
  if (!labels.empty()) {
    status = XgbStatus(XGDMatrixSetFloatInfo(handle, "label", labels.data(), labels.size()),
                       "setting labels");
    if (!status.ok()) return status;
  }
  if (!weights.empty()) {
    status = XgbStatus(XGDMatrixSetFloatInfo(handle, "weight", weights.data(), weights.size()),
                       "setting weights");
    if (!status.ok()) return status;
  }
  return matrix;
}

Booster& Booster::operator=(Booster&& other) noexcept {
  if (this != &other) {
    if (handle_ != nullptr) XGBoosterFree(handle_);
    handle_ = std::exchange(other.handle_, nullptr);
  }
  return *this;
}

Booster::~Booster() {
  if (handle_ != nullptr) XGBoosterFree(handle_);
}

absl::StatusOr<Booster> Booster::Create(const std::vector<const DMatrix*>& cache) {
  std::vector<DMatrixHandle> handles;
  handles.reserve(cache.size());
  for (const DMatrix* m : cache) handles.push_back(m->handle());
  BoosterHandle handle = nullptr;
  absl::Status status =
      XgbStatus(XGBoosterCreate(handles.data(), handles.size(), &handle), "creating a booster");
  if (!status.ok()) return status;
  return Booster(handle);
}

absl::StatusOr<Booster> Booster::FromJson(std::string_view json) {
  BoosterHandle handle = nullptr;
  absl::Status status = XgbStatus(XGBoosterCreate(nullptr, 0, &handle), "creating a booster");
  if (!status.ok()) return status;
  Booster booster(handle);
  status =
      XgbStatus(XGBoosterLoadModelFromBuffer(handle, json.data(), json.size()), "reading a model");
  if (!status.ok()) return status;
  return booster;
}

absl::Status Booster::SetParam(const std::string& name, const std::string& value) {
  return XgbStatus(XGBoosterSetParam(handle_, name.c_str(), value.c_str()),
                   core::StrCat("parameter ", name, "=", value));
}

absl::Status Booster::UpdateOneIter(int iteration, const DMatrix& train) {
  return XgbStatus(XGBoosterUpdateOneIter(handle_, iteration, train.handle()),
                   core::StrCat("boosting round ", iteration));
}

absl::StatusOr<double> Booster::Evaluate(int iteration, const DMatrix& data,
                                         const std::string& name) {
  DMatrixHandle handles[] = {data.handle()};
  const char* names[] = {name.c_str()};
  const char* out = nullptr;
  absl::Status status =
      XgbStatus(XGBoosterEvalOneIter(handle_, iteration, handles, names, 1, &out), "evaluating");
  if (!status.ok()) return status;
  // "[12]\tvalid-logloss:0.123": the number after the last ':'.
  const char* colon = std::strrchr(out, ':');
  if (colon == nullptr) return absl::InternalError(core::StrCat("XGBoost eval output: ", out));
  return std::strtod(colon + 1, nullptr);
}

absl::StatusOr<std::vector<float>> Booster::Predict(const DMatrix& data, PredictKind kind,
                                                    int iteration_end) const {
  const std::string config =
      core::StrCat(R"({"type": )", static_cast<int>(kind),
                   R"(, "training": false, "iteration_begin": 0, "iteration_end": )", iteration_end,
                   R"(, "strict_shape": false})");
  const bst_ulong* shape = nullptr;
  bst_ulong dims = 0;
  const float* result = nullptr;
  absl::Status status = XgbStatus(
      XGBoosterPredictFromDMatrix(handle_, data.handle(), config.c_str(), &shape, &dims, &result),
      "predicting");
  if (!status.ok()) return status;
  size_t count = 1;
  for (bst_ulong d = 0; d < dims; ++d) count *= shape[d];
  return std::vector<float>(result, result + count);
}

absl::StatusOr<Booster> Booster::Slice(int rounds) const {
  BoosterHandle out = nullptr;
  absl::Status status = XgbStatus(XGBoosterSlice(handle_, 0, rounds, 1, &out), "slicing");
  if (!status.ok()) return status;
  return Booster(out);
}

absl::StatusOr<int> Booster::BoostedRounds() const {
  int rounds = 0;
  absl::Status status = XgbStatus(XGBoosterBoostedRounds(handle_, &rounds), "counting rounds");
  if (!status.ok()) return status;
  return rounds;
}

absl::StatusOr<std::string> Booster::ToJson() const {
  bst_ulong length = 0;
  const char* bytes = nullptr;
  absl::Status status = XgbStatus(
      XGBoosterSaveModelToBuffer(handle_, R"({"format": "json"})", &length, &bytes), "saving");
  if (!status.ok()) return status;
  return std::string(bytes, length);
}

}  // namespace pdm::model
