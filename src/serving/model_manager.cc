#include "serving/model_manager.h"

#include <cmath>
#include <limits>

#include "core/status.h"
#include "core/strings.h"

namespace pdm::serving {

absl::StatusOr<std::shared_ptr<const ServedModel>> ModelManager::Reload() {
  std::lock_guard lock(reload_mu_);
  PDM_ASSIGN_OR_RETURN(const store::ModelVersion version, registry_->Resolve(name_, alias_));
  std::shared_ptr<const ServedModel> current = current_.load();
  if (current && current->version == version.version) return current;

  auto served = std::make_shared<ServedModel>();
  served->name = name_;
  served->version = version.version;
  served->alias = alias_;
  served->artifact_hash = version.artifact_hash;
  // LoadBundle refuses a pipeline whose hash differs from the one the model was trained with.
  auto bundle = model::LoadBundle(registry_->ArtifactDir(version));
  if (!bundle.ok()) {
    return absl::FailedPreconditionError(
        core::StrCat(name_, " v", version.version, ": cannot load: ", bundle.status().message()));
  }
  served->bundle = std::move(*bundle);
  const model::Ensemble& ensemble = served->bundle.ensemble;
  for (size_t i = 0; i < ensemble.feature_names.size(); ++i) {
    served->feature_index.emplace(ensemble.feature_names[i], i);
  }
  // The spec's declared ranges, for input validation (a spec that no longer parses leaves none).
  const auto spec = spec::LoadDatasetSpec(registry_->ArtifactDir(version) / "spec.yaml");
  if (spec.ok()) {
    for (const spec::ColumnSpec& column : spec->data.columns) {
      if (served->feature_index.contains(column.name) &&
          (std::isfinite(column.min) || std::isfinite(column.max))) {
        served->ranges.emplace(column.name, std::make_pair(column.min, column.max));
      }
    }
  }
  // Smoke prediction: a row of missing values must give a finite score.
  model::DenseMatrix row;
  row.rows = 1;
  row.cols = ensemble.feature_names.size();
  row.values.assign(row.cols, std::numeric_limits<float>::quiet_NaN());
  auto smoke = ensemble.Predict(row, 1);
  if (!smoke.ok() || !std::isfinite((*smoke)[0].margin)) {
    return absl::FailedPreconditionError(core::StrCat(
        name_, " v", version.version, ": smoke prediction failed",
        smoke.ok() ? std::string(" (not finite)") : core::StrCat(": ", smoke.status().message())));
  }
  std::shared_ptr<const ServedModel> ready = std::move(served);
  current_.store(ready);
  return ready;
}

}  // namespace pdm::serving
