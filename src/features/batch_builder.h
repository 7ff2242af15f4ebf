// Features and labels for whole datasets: each entity's history runs through an
// OnlineFeatureState (the one implementation of every feature), entities in parallel.
#ifndef PDM_FEATURES_BATCH_BUILDER_H_
#define PDM_FEATURES_BATCH_BUILDER_H_

#include <cstdint>
#include <filesystem>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "features/dataset.h"
#include "features/pipeline.h"
#include "spec/dataset_spec.h"

namespace pdm::features {

// How the labels of a dataset came out.
struct LabelCounts {
  int64_t positive = 0;
  int64_t negative = 0;
  int64_t censored = 0;  // horizon reaches past the observed history: no label
  int64_t excluded = 0;  // between a failure and its repair: no label, no RUL
  int64_t rul_known = 0;
  // Positive labels whose failure mode is not known (an events failure without a kind, a label
  // column set with no component set): no failure-mode label.
  int64_t mode_unknown = 0;
  void Add(const LabelCounts& other);
};

// One entity's rows of output.
struct FeatureBlock {
  uint32_t entity = 0;
  std::vector<double> time;
  std::vector<double> features;  // rows x feature_count, row-major
  std::vector<double> label;     // 1, 0, or NaN (no label)
  std::vector<double> rul;       // in time_unit() (hours or cycles); NaN when unknown
  // The failure-mode class: 0 when the label is 0, k when the label's failure has mode k - 1 of
  // FailureModes(spec) (source column: the first component set, in the declared order); NaN
  // without a label or a known mode.
  std::vector<double> mode;
  LabelCounts counts;
  size_t rows() const { return time.size(); }
};

// Labels of one entity's rows (see docs/features.md): `label` and `rul` get one value per row.
// `label_input` is the index of the label column among the numeric inputs (source: column), and
// `mode_inputs` those of its components.
void ComputeLabels(const EntityHistory& history, const spec::LabelSpec& labels, int label_input,
                   bool has_repairs, double time_unit, FeatureBlock* block,
                   std::span<const int> mode_inputs = {});

class BatchFeatureBuilder {
 public:
  // `pipeline` must be fitted and outlive the builder. `threads` 0: all cores.
  BatchFeatureBuilder(const FeaturePipeline* pipeline, spec::LabelSpec labels, int threads = 0);

  // Computes one entity's block.
  absl::Status BuildEntity(const LoadedDataset& data, uint32_t entity, FeatureBlock* block) const;

  // Calls `consume` once per entity, in entity order, on the calling thread; entities are
  // computed in parallel a few at a time, so memory stays bounded by a few entities' output.
  absl::Status Build(const LoadedDataset& data,
                     const std::function<absl::Status(const FeatureBlock&)>& consume) const;

 private:
  const FeaturePipeline* pipeline_;
  spec::LabelSpec labels_;
  int label_input_ = -1;
  std::vector<int> mode_inputs_;  // the label components' numeric inputs, in declared order
  int threads_;
};

// A whole feature table in memory (training reads this).
struct FeatureTable {
  std::vector<std::string> feature_names;
  std::vector<std::string> entity_names;
  std::vector<uint32_t> entity;
  std::vector<double> time;
  std::vector<double> features;  // rows x feature_names.size()
  std::vector<double> label, rul, mode;
  LabelCounts counts;
  size_t rows() const { return time.size(); }
};
absl::StatusOr<FeatureTable> BuildFeatureTable(const BatchFeatureBuilder& builder,
                                               const FeaturePipeline& pipeline,
                                               const LoadedDataset& data);

struct CsvSummary {
  int64_t rows = 0;
  int64_t bytes = 0;
  LabelCounts counts;
};
// Writes `entity,time,<features>,label,rul` (entity and time under the spec's column names,
// omitted when the data has none; empty cells for undefined values) to `path`.
absl::StatusOr<CsvSummary> WriteFeaturesCsv(const BatchFeatureBuilder& builder,
                                            const FeaturePipeline& pipeline,
                                            const spec::DatasetSpec& spec,
                                            const LoadedDataset& data,
                                            const std::filesystem::path& path);

}  // namespace pdm::features

#endif  // PDM_FEATURES_BATCH_BUILDER_H_
