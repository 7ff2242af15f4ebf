// The model the server scores with: a registry version (an alias's holder) loaded into memory,
// swapped atomically for a new one. Requests take a shared_ptr to the current model and keep
// scoring on it even when a swap happens meanwhile.
#ifndef PDM_SERVING_MODEL_MANAGER_H_
#define PDM_SERVING_MODEL_MANAGER_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "model/bundle.h"
#include "registry/registry.h"
#include "serving/metrics.h"

namespace pdm::serving {

struct ServedModel {
  std::string name;
  int64_t version = 0;
  std::string alias;
  std::string artifact_hash;
  model::Bundle bundle;
  std::map<std::string, size_t, std::less<>> feature_index;  // feature name -> column
  // Valid ranges of the features that are sensor columns with a declared range in the spec.
  std::map<std::string, std::pair<double, double>, std::less<>> ranges;
};

class ModelManager {
 public:
  // `metrics` may be null; otherwise it must outlive the manager.
  ModelManager(registry::Registry* registry, std::string name, std::string alias,
               ServerMetrics* metrics = nullptr);
  ~ModelManager();
  ModelManager(const ModelManager&) = delete;
  ModelManager& operator=(const ModelManager&) = delete;

  // Resolves the alias, loads that version and checks it (the feature pipeline's hash equals
  // the one it was trained with; a smoke prediction is finite), then makes it current. A model
  // already current is not reloaded. On any failure the current model stays.
  absl::StatusOr<std::shared_ptr<const ServedModel>> Reload();

  // Starts a background thread that checks the alias every `interval` and, when it has moved,
  // loads and swaps in its new holder (through Reload). A version that fails to load is reported
  // once through `log` and not retried until the alias moves again.
  void StartWatching(std::chrono::milliseconds interval,
                     std::function<void(const std::string&)> log);
  void StopWatching();

  std::shared_ptr<const ServedModel> current() const { return current_.load(); }
  const std::string& name() const { return name_; }
  const std::string& alias() const { return alias_; }
  registry::Registry& registry() { return *registry_; }

 private:
  absl::StatusOr<std::shared_ptr<const ServedModel>> Load(const store::ModelVersion& version);
  void Watch(std::chrono::milliseconds interval,
             const std::function<void(const std::string&)>& log);

  registry::Registry* registry_;
  std::string name_;
  std::string alias_;
  ServerMetrics* metrics_;
  std::mutex reload_mu_;  // one reload at a time
  std::atomic<std::shared_ptr<const ServedModel>> current_;

  std::mutex watch_mu_;
  std::condition_variable watch_cv_;
  bool stop_watching_ = false;
  std::thread watcher_;
};

}  // namespace pdm::serving

#endif  // PDM_SERVING_MODEL_MANAGER_H_
