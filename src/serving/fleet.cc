#include "serving/fleet.h"

#include <chrono>
#include <cmath>

#include "core/strings.h"

namespace pdm::serving {

Fleet::Machine* Fleet::Find(const std::string& machine, bool create) {
  std::lock_guard lock(mu_);
  auto it = machines_.find(machine);
  if (it != machines_.end()) return it->second.get();
  if (!create || machines_.size() >= max_machines_) return nullptr;
  auto m = std::make_unique<Machine>();
  m->view.machine = machine;
  return machines_.emplace(machine, std::move(m)).first->second.get();
}

const Fleet::Machine* Fleet::Existing(const std::string& machine) const {
  std::lock_guard lock(mu_);
  auto it = machines_.find(machine);
  return it == machines_.end() ? nullptr : it->second.get();
}

void Fleet::Bind(Machine* m, const std::shared_ptr<const ServedModel>& model) {
  const features::FeaturePipeline& pipeline = *model->bundle.pipeline;
  if (m->state && m->pipeline_owner &&
      m->pipeline_owner->bundle.pipeline->hash() == pipeline.hash()) {
    return;  // same features: the state carries on (on the pipeline it was built with)
  }
  if (m->state) {
    ++m->view.state_resets;
    m->view.readings = 0;
    m->view.latest.reset();
    m->view.trend_size = 0;
    m->view.interval = 0;
    m->last_features.clear();
  }
  m->last_time = std::nan("");
  m->unscored = 0;
  m->pipeline_owner = model;
  m->state.emplace(&pipeline, m->statics, /*compact_values=*/true);  // memory per machine
  m->first_time = std::nan("");
}

absl::StatusOr<RiskPoint> Fleet::Apply(const MachineReading& reading,
                                       const std::shared_ptr<const ServedModel>& model,
                                       std::vector<float>* features_out) {
  Machine* m = Find(reading.machine, /*create=*/true);
  if (m == nullptr) {
    return absl::ResourceExhaustedError(core::StrCat("machine '", reading.machine,
                                                     "' is new and the server already follows ",
                                                     max_machines_, " machines (--max-machines)"));
  }
  std::lock_guard lock(m->mu);
  if (!m->state && reading.statics) m->statics = *reading.statics;
  Bind(m, model);
  // Scratch space per thread: the feature vector is not kept.
  thread_local std::vector<double> features;
  features.resize(model->bundle.pipeline->feature_count());
  const features::Reading in{reading.time, reading.numeric, reading.categorical};
  if (absl::Status s = m->state->Update(in, features); !s.ok()) {
    ++m->view.refused;
    return s;
  }
  const double previous_time = m->last_time;
  m->last_time = reading.time;
  ++m->view.readings;
  if (!std::isnan(previous_time)) m->view.interval = reading.time - previous_time;
  m->view.received_at =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  m->view.last_numeric = reading.numeric;
  m->view.last_categorical = reading.categorical;
  if (std::isnan(m->first_time)) m->first_time = reading.time;
  if (score_every_ && m->view.latest && m->view.latest->version == model->version) {
    const bool due = score_every_->is_time() ? reading.time - m->view.latest->time >=
                                                   static_cast<double>(score_every_->amount)
                                             : m->unscored + 1 >= score_every_->amount;
    if (!due) {
      ++m->unscored;
      RiskPoint point = *m->view.latest;
      point.time = reading.time;
      point.since_start = reading.time - m->first_time;
      point.scored = false;
      return point;
    }
  }
  m->unscored = 0;
  const model::Ensemble& ensemble = model->bundle.ensemble;
  model::DenseMatrix x;
  x.rows = 1;
  x.cols = features.size();
  x.values.resize(x.cols);
  for (size_t j = 0; j < x.cols; ++j) x.values[j] = static_cast<float>(features[j]);
  auto scored = ensemble.Predict(x, 1);
  if (!scored.ok()) return scored.status();
  const model::Prediction& p = (*scored)[0];
  if (features_out != nullptr) {
    features_out->insert(features_out->end(), x.values.begin(), x.values.end());
  }
  RiskPoint point{reading.time, ensemble.task != model::Task::kRul ? p.probability : p.margin,
                  p.alarm, model->version, reading.time - m->first_time};
  m->view.latest = point;
  m->view.AddToTrend(static_cast<float>(point.score));
  const bool at_risk = p.alarm || (ensemble.task != model::Task::kRul &&
                                   p.probability >= 0.5 * ensemble.combiner.threshold);
  if (explain_all_ || at_risk) {
    m->last_features.assign(x.values.begin(), x.values.end());
  } else {
    m->last_features = {};  // frees it
  }
  return point;
}

absl::Status Fleet::ApplyEvent(const std::string& machine, const features::Event& event,
                               const std::shared_ptr<const ServedModel>& model) {
  Machine* m = Find(machine, /*create=*/true);
  if (m == nullptr) {
    return absl::ResourceExhaustedError(core::StrCat("machine '", machine,
                                                     "' is new and the server already follows ",
                                                     max_machines_, " machines (--max-machines)"));
  }
  std::lock_guard lock(m->mu);
  Bind(m, model);
  absl::Status added = m->state->AddEvent(event);
  if (added.ok()) {
    if (m->view.events.size() >= kEventHistory) m->view.events.erase(m->view.events.begin());
    m->view.events.push_back({event.time, event.type, event.kind});
  }
  return added;
}

std::optional<Fleet::StateSnapshot> Fleet::Snapshot(const std::string& machine) const {
  const Machine* m = Existing(machine);
  if (m == nullptr) return std::nullopt;
  std::lock_guard lock(m->mu);
  if (!m->state || !m->pipeline_owner) return std::nullopt;
  return StateSnapshot{m->pipeline_owner->bundle.pipeline->hash(), m->state->last_time(),
                       m->state->Serialize()};
}

absl::StatusOr<bool> Fleet::Restore(const std::string& machine, const StateSnapshot& snapshot,
                                    const std::shared_ptr<const ServedModel>& model) {
  const features::FeaturePipeline& pipeline = *model->bundle.pipeline;
  if (snapshot.pipeline_hash != pipeline.hash()) return false;  // other features: start afresh
  Machine* m = Find(machine, /*create=*/true);
  if (m == nullptr) {
    return absl::ResourceExhaustedError(core::StrCat("machine '", machine,
                                                     "' is new and the server already follows ",
                                                     max_machines_, " machines (--max-machines)"));
  }
  std::lock_guard lock(m->mu);
  if (m->state && m->pipeline_owner &&
      m->pipeline_owner->bundle.pipeline->hash() == pipeline.hash() &&
      m->state->last_time() >= snapshot.last_time) {
    return false;  // this replica's own state is as new
  }
  auto restored =
      features::OnlineFeatureState::Deserialize(&pipeline, snapshot.bytes, /*compact_values=*/true);
  if (!restored.ok()) return restored.status();
  m->pipeline_owner = model;
  m->state.emplace(std::move(*restored));
  m->first_time = std::nan("");
  m->unscored = 0;
  return true;
}

std::pair<std::vector<float>, int64_t> Fleet::LastFeatures(const std::string& machine) const {
  const Machine* m = Existing(machine);
  if (m == nullptr) return {};
  std::lock_guard lock(m->mu);
  if (!m->view.latest) return {};
  return {m->last_features, m->view.latest->version};
}

std::optional<MachineView> Fleet::Get(const std::string& machine) const {
  const Machine* m = Existing(machine);
  if (m == nullptr) return std::nullopt;
  std::lock_guard lock(m->mu);
  MachineView view = m->view;
  view.statics = m->statics;
  return view;
}

std::vector<MachineSummary> Fleet::Summaries() const {
  std::vector<const Machine*> all;
  {
    std::lock_guard lock(mu_);
    all.reserve(machines_.size());
    for (const auto& [name, m] : machines_) all.push_back(m.get());
  }
  std::vector<MachineSummary> out(all.size());
  for (size_t i = 0; i < all.size(); ++i) {
    std::lock_guard lock(all[i]->mu);
    const MachineView& v = all[i]->view;
    out[i] = {v.machine,  v.readings,    v.latest,
              v.interval, v.received_at, all[i]->statics.categorical};
  }
  return out;
}

size_t Fleet::size() const {
  std::lock_guard lock(mu_);
  return machines_.size();
}

}  // namespace pdm::serving
