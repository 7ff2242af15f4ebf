// The model directory `pdm train` writes and every consumer (evaluate, predict, the registry,
// the server) reads: the ensemble, the fitted feature pipeline, the spec it was trained from and
// reference statistics of the training features and scores (for drift detection).
//
//   model/model.json      members, combiner, calibration, threshold, feature names, spec hash
//   model/{rf,gbm,xgb}.json   XGBoost JSON models
//   model/pipeline.json   the fitted feature pipeline with its hash
//   model/reference.json  the reference profile: training feature and out-of-fold score
//                         distributions (monitor/profile.h), for drift detection
//   model/spec.yaml       a copy of the dataset spec
#ifndef PDM_MODEL_BUNDLE_H_
#define PDM_MODEL_BUNDLE_H_

#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "features/batch_builder.h"
#include "features/pipeline.h"
#include "model/ensemble.h"
#include "model/train.h"
#include "monitor/profile.h"
#include "nlohmann/json.hpp"
#include "spec/dataset_spec.h"

namespace pdm::model {

// The task from a flag ("classify", "rul", "mode" or empty), else the spec's training.task, else
// classification when the spec's labels give classes, else RUL. "mode" needs failure modes.
absl::StatusOr<Task> ResolveTask(const std::string& flag, const spec::DatasetSpec& spec);

// The rows of `table` with a known target (label, or RUL), as float features; times only when
// the data has a time column (`has_time`). `source_rows` receives the table row of each.
// The target column of `task`: label, rul or mode.
const std::vector<double>& TargetOf(const features::FeatureTable& table, Task task);

// The mode task's classes: "none", then features::FailureModes(spec).
std::vector<std::string> ModeClasses(const spec::DatasetSpec& spec);

absl::StatusOr<TrainingTable> TrainingRows(const features::FeatureTable& table, Task task,
                                           bool has_time,
                                           std::vector<uint32_t>* source_rows = nullptr);

// The rows `rows` of `table` as float features with their targets (NaN where unknown); times only
// when the data has a time column.
TrainingTable SelectRows(const features::FeatureTable& table, Task task, bool has_time,
                         const std::vector<uint32_t>& rows);

// Per row of `rows`, its time minus the earliest time among `rows` of its entity: how far into
// the entity's history it is (the drift profile's and `pdm monitor`'s warm-ups).
std::vector<double> TimeSinceEntityStart(std::span<const double> time,
                                         std::span<const uint32_t> entity,
                                         std::span<const uint32_t> rows);

struct Bundle {
  Ensemble ensemble;
  std::optional<features::FeaturePipeline> pipeline;
  std::filesystem::path spec_path;  // where the spec was when the model was trained
  std::string feature_spec_hash;
  nlohmann::json manifest;
  // The reference profile; empty with the reason when the model has none that this pdm reads.
  std::optional<monitor::ReferenceProfile> reference;
  std::string reference_error;
};

struct TrainingFacts {
  const spec::DatasetSpec* spec = nullptr;
  const features::FeaturePipeline* pipeline = nullptr;
  const TrainOptions* options = nullptr;
  const TrainReport* report = nullptr;
  const TrainingTable* table = nullptr;
};
absl::Status SaveBundle(const std::filesystem::path& dir, const Ensemble& ensemble,
                        const TrainingFacts& facts);
absl::StatusOr<Bundle> LoadBundle(const std::filesystem::path& dir);

// Scores of a model on labelled rows: the ensemble with its combiner, each member with its own.
struct Evaluation {
  Scores ensemble;
  std::vector<Scores> members;
  std::vector<Prediction> predictions;  // the ensemble's, per row
};
absl::StatusOr<Evaluation> Evaluate(const Ensemble& ensemble, const TrainingTable& table,
                                    int threads);

// Metrics in the shape of metrics.json: classification, RUL or failure-mode keys
// (docs/training.md); `classes` names the mode task's classes.
nlohmann::json ScoresJson(Task task, const Scores& scores,
                          const std::vector<std::string>& classes = {});
nlohmann::json MetricsJson(const TrainingFacts& facts, const Ensemble& ensemble);

}  // namespace pdm::model

#endif  // PDM_MODEL_BUNDLE_H_
