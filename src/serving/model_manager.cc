#include "serving/model_manager.h"

#include <cmath>
#include <limits>

#include "core/status.h"
#include "core/strings.h"

namespace pdm::serving {

ModelManager::ModelManager(registry::Registry* registry, std::string name, std::string alias,
                           ServerMetrics* metrics)
    : registry_(registry), name_(std::move(name)), alias_(std::move(alias)), metrics_(metrics) {
  if (metrics_ != nullptr) metrics_->SetModelState(name_, ModelState::kUnloaded);
}

ModelManager::~ModelManager() { StopWatching(); }

absl::StatusOr<std::shared_ptr<const ServedModel>> ModelManager::Reload() {
  std::lock_guard lock(reload_mu_);
  PDM_ASSIGN_OR_RETURN(const store::ModelVersion version, registry_->Resolve(name_, alias_));
  std::shared_ptr<const ServedModel> current = current_.load();
  if (current && current->version == version.version) return current;

  if (metrics_ != nullptr) metrics_->SetModelState(name_, ModelState::kLoading);
  auto loaded = Load(version);
  if (metrics_ != nullptr) {
    metrics_->CountReload(loaded.ok());
    metrics_->SetModelState(
        name_, loaded.ok() || current ? ModelState::kAvailable : ModelState::kUnloaded);
  }
  if (!loaded.ok()) return loaded.status();
  current_.store(*loaded);
  if (metrics_ != nullptr) metrics_->SetModel(name_, version.version);
  return loaded;
}

absl::StatusOr<std::shared_ptr<const ServedModel>> ModelManager::Load(
    const store::ModelVersion& version) {
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
  return std::shared_ptr<const ServedModel>(std::move(served));
}

void ModelManager::StartWatching(std::chrono::milliseconds interval,
                                 std::function<void(const std::string&)> log) {
  StopWatching();
  {
    std::lock_guard lock(watch_mu_);
    stop_watching_ = false;
  }
  watcher_ = std::thread([this, interval, log = std::move(log)] { Watch(interval, log); });
}

void ModelManager::StopWatching() {
  {
    std::lock_guard lock(watch_mu_);
    stop_watching_ = true;
  }
  watch_cv_.notify_all();
  if (watcher_.joinable()) watcher_.join();
}

void ModelManager::Watch(std::chrono::milliseconds interval,
                         const std::function<void(const std::string&)>& log) {
  int64_t failed_version = 0;  // the last version that failed to load, not retried
  std::string failed_resolve;  // the last error resolving the alias, reported once
  std::unique_lock lock(watch_mu_);
  while (!watch_cv_.wait_for(lock, interval, [this] { return stop_watching_; })) {
    lock.unlock();
    auto holder = registry_->Resolve(name_, alias_);
    if (!holder.ok()) {
      if (failed_resolve != holder.status().message()) {
        failed_resolve = std::string(holder.status().message());
        log(core::StrCat("cannot resolve ", name_, "@", alias_, ": ", failed_resolve,
                         " (still serving the current version)"));
      }
    } else {
      failed_resolve.clear();
      const std::shared_ptr<const ServedModel> current = current_.load();
      if ((!current || current->version != holder->version) && holder->version != failed_version) {
        auto loaded = Reload();
        if (loaded.ok()) {
          log(core::StrCat("now serving ", name_, " v", (*loaded)->version, " (", alias_,
                           " moved)"));
          failed_version = 0;
        } else {
          failed_version = holder->version;
          log(core::StrCat("not swapping to ", name_, " v", holder->version, ": ",
                           loaded.status().message(), " (still serving the current version)"));
        }
      }
    }
    lock.lock();
  }
}

}  // namespace pdm::serving
