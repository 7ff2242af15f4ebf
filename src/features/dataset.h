// Loading a dataset for feature building: every table of the spec is validated (rows counted,
// refusals quarantined), then grouped per entity with its events and static attributes.
#ifndef PDM_FEATURES_DATASET_H_
#define PDM_FEATURES_DATASET_H_

#include <filesystem>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "features/online_state.h"
#include "features/pipeline.h"
#include "spec/dataset_spec.h"
#include "validate/dataset_validation.h"

namespace pdm::features {

// The history of one entity, in time order.
struct EntityHistory {
  std::string name;
  std::vector<double> time;
  std::vector<double> numeric;       // rows x layout().numeric.size(), row-major
  std::vector<int32_t> categorical;  // rows x layout().categorical.size()
  std::vector<Event> events;         // sorted by (time, type, kind)
  EntityStatic statics;
  // For labels: failures that count for the label (sorted), every failure, and repairs
  // (maintenance times), and where the observed history ends (the last reading).
  std::vector<double> label_failures, all_failures, repairs;
  // The failure mode of each of label_failures (index into FailureModes(spec); -1: unknown).
  std::vector<int32_t> label_failure_modes;
  // Run to failure: the last reading is the failure. Test sets: last reading + true RUL.
  double end_time = 0;
  size_t rows() const { return time.size(); }
};

struct LoadedDataset {
  std::vector<EntityHistory> entities;
  validate::DatasetReport report;  // the accounting of every table read
  int64_t rows = 0;
  int64_t events_without_entity = 0;  // events of machines that have no readings
};

struct LoadOptions {
  std::filesystem::path data_override;   // `--data`
  std::filesystem::path quarantine_dir;  // empty: no quarantine files
  bool test_set = false;                 // load the spec's test table (with its RUL file)
  int threads = 0;
};

// The files a training run reads (the main data or its override, events, machines; not the test
// set), each with its size and SHA-256, and the dataset fingerprint: a SHA-256 over the roles and
// content hashes, so the same bytes give the same fingerprint wherever the files are.
struct InputFile {
  std::string role;
  std::filesystem::path path;
  uintmax_t bytes = 0;
  std::string sha256;
};
struct DatasetFingerprint {
  std::string fingerprint;
  std::vector<InputFile> files;
};
// `feedback`: the alert resolutions joined as labels (features/feedback.h), when given.
absl::StatusOr<DatasetFingerprint> FingerprintInputs(const spec::DatasetSpec& spec,
                                                     const std::filesystem::path& data_override,
                                                     const std::filesystem::path& feedback = {});

// Reads and validates the tables and groups them per entity. Errors only for unusable input
// (see validate::ValidateDataset).
absl::StatusOr<LoadedDataset> LoadDataset(const spec::DatasetSpec& spec,
                                          const FeaturePipeline& pipeline,
                                          const LoadOptions& options);

// Puts an entity's events, failures and repairs in time order (label failures with their modes),
// as LoadDataset leaves them; for whoever adds events afterwards (features/feedback.h).
void SortEntityEvents(EntityHistory* history);

// The failure modes a spec declares, for the failure-mode task: the label's components
// (source: column, e.g. AI4I's TWF .. RNF), or the kinds of the failures table (source: events,
// when every failure counts). Empty: the spec has no modes.
std::vector<std::string> FailureModes(const spec::DatasetSpec& spec);

// The dataset as it was known at `until` (data time, exclusive): readings and events at or after
// it are dropped, entities left without readings are removed, and each history's observed end is
// its last reading before `until`, so labels whose horizon reaches past it are censored (as at
// the end of any history). For training on older data while a newest slice is held out
// (`pdm train --until`). Refused for run-to-failure labels, whose last reading is the failure.
absl::Status TruncateAt(const spec::DatasetSpec& spec, double until, LoadedDataset* data);

// Fits the pipeline's fitted parts (operating regimes) on a loaded dataset.
absl::Status FitPipeline(const LoadedDataset& data, FeaturePipeline* pipeline);

}  // namespace pdm::features

#endif  // PDM_FEATURES_DATASET_H_
