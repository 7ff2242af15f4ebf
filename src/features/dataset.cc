#include "features/dataset.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <tuple>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "core/hash.h"
#include "core/status.h"
#include "core/strings.h"

namespace pdm::features {
namespace {

// Appends accepted rows of the main table to per-entity histories.
class HistorySink : public validate::RowSink {
 public:
  explicit HistorySink(std::vector<EntityHistory>* out) : out_(out) {}
  void Accept(const validate::Row& row) override {
    if (row.entity >= out_->size()) out_->resize(row.entity + 1);
    EntityHistory& h = (*out_)[row.entity];
    h.time.push_back(row.time);
    h.numeric.insert(h.numeric.end(), row.numeric.begin(), row.numeric.end());
    h.categorical.insert(h.categorical.end(), row.categories.begin(), row.categories.end());
  }

 private:
  std::vector<EntityHistory>* out_;
};

struct RawEvent {
  uint32_t entity;
  double time;
  int32_t kind;
};

class EventSink : public validate::RowSink {
 public:
  explicit EventSink(bool kind_declared) : kind_declared_(kind_declared) {}
  void Accept(const validate::Row& row) override {
    const int32_t kind = kind_declared_ && !row.categories.empty() ? row.categories[0] : -1;
    events.push_back({row.entity, row.time, kind});
  }
  std::vector<RawEvent> events;

 private:
  bool kind_declared_;
};

class StaticSink : public validate::RowSink {
 public:
  void Accept(const validate::Row& row) override {
    rows.push_back({row.entity, EntityStatic{{row.numeric.begin(), row.numeric.end()},
                                             {row.categories.begin(), row.categories.end()}}});
  }
  std::vector<std::pair<uint32_t, EntityStatic>> rows;
};

class ValuesSink : public validate::RowSink {
 public:
  void Accept(const validate::Row& row) override { values.push_back(row.numeric[0]); }
  std::vector<double> values;
};

bool KindDeclared(const spec::TableSpec& table) {
  return !table.columns.empty() && table.columns[0].role == spec::ColumnRole::kEventKind &&
         !table.columns[0].categories.empty();
}

}  // namespace

absl::StatusOr<DatasetFingerprint> FingerprintInputs(const spec::DatasetSpec& spec,
                                                     const std::filesystem::path& data_override,
                                                     const std::filesystem::path& feedback) {
  DatasetFingerprint out;
  std::string listing;
  std::vector<std::pair<std::string, std::filesystem::path>> inputs;
  for (const spec::TableSpec* table : spec.Tables()) {
    if (table->role == "test") continue;
    inputs.emplace_back(
        table->role, table == &spec.data && !data_override.empty() ? data_override : table->path);
  }
  if (!feedback.empty()) inputs.emplace_back("feedback", feedback);
  for (const auto& [role, path] : inputs) {
    InputFile file;
    file.role = role;
    file.path = path;
    std::error_code error;
    file.bytes = std::filesystem::file_size(file.path, error);
    PDM_ASSIGN_OR_RETURN(file.sha256, core::Sha256File(file.path));
    listing += core::StrCat(file.role, '\0', file.sha256, '\n');
    out.files.push_back(std::move(file));
  }
  out.fingerprint = core::Sha256Hex(listing);
  return out;
}

void SortEntityEvents(EntityHistory* history) {
  EntityHistory& h = *history;
  std::sort(h.events.begin(), h.events.end(), [](const Event& a, const Event& b) {
    if (a.time != b.time) return a.time < b.time;
    if (a.type != b.type) return a.type < b.type;
    return a.kind < b.kind;
  });
  for (auto* times : {&h.all_failures, &h.repairs}) std::sort(times->begin(), times->end());
  // Label failures keep their modes: sorted as pairs, by time (then mode).
  std::vector<std::pair<double, int32_t>> labelled(h.label_failures.size());
  for (size_t i = 0; i < labelled.size(); ++i) {
    labelled[i] = {h.label_failures[i], h.label_failure_modes[i]};
  }
  std::sort(labelled.begin(), labelled.end());
  for (size_t i = 0; i < labelled.size(); ++i) {
    std::tie(h.label_failures[i], h.label_failure_modes[i]) = labelled[i];
  }
}

absl::StatusOr<LoadedDataset> LoadDataset(const spec::DatasetSpec& spec,
                                          const FeaturePipeline& pipeline,
                                          const LoadOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  LoadedDataset data;
  validate::DatasetReport& report = data.report;
  report.spec_name = spec.name;
  report.spec_path = spec.spec_path;
  std::unique_ptr<validate::QuarantineWriter> quarantine;
  if (!options.quarantine_dir.empty()) {
    PDM_ASSIGN_OR_RETURN(quarantine, validate::QuarantineWriter::Open(options.quarantine_dir));
    report.quarantine_dir = options.quarantine_dir;
  }
  // Validates one table into `sink` and returns the index of its report in report.tables.
  auto validate_table = [&](const spec::TableSpec& table, validate::RowSink* sink,
                            const std::filesystem::path& override_path) -> absl::StatusOr<size_t> {
    validate::ValidateOptions vo;
    vo.data_override = override_path;
    vo.quarantine = quarantine.get();
    vo.sink = sink;
    vo.threads = options.threads;
    PDM_ASSIGN_OR_RETURN(validate::TableReport table_report,
                         validate::ValidateTable(table, spec.validation, vo));
    report.Add(table_report);
    report.tables.push_back(std::move(table_report));
    return report.tables.size() - 1;
  };

  // The readings.
  if (options.test_set && !spec.test) {
    return absl::InvalidArgumentError(
        core::StrCat(spec.spec_path.string(), ": the spec has no test set"));
  }
  const spec::TableSpec& main_table = options.test_set ? spec.test->table : spec.data;
  HistorySink history(&data.entities);
  PDM_ASSIGN_OR_RETURN(
      const size_t main_index,
      validate_table(main_table, &history, options.test_set ? "" : options.data_override));
  // Valid until the next table is validated (report.tables grows).
  const validate::TableReport* main_report = &report.tables[main_index];
  const size_t numeric_width = pipeline.layout().numeric.size();
  if (!main_report->numeric.empty() && main_report->numeric.size() != numeric_width) {
    return absl::InternalError("data table and feature pipeline disagree on the numeric inputs");
  }
  data.entities.resize(main_table.entity_column.empty() ? std::min<size_t>(data.entities.size(), 1)
                                                        : main_report->entity_names.size());
  absl::flat_hash_map<std::string, uint32_t> entity_index;
  for (size_t e = 0; e < data.entities.size(); ++e) {
    EntityHistory& h = data.entities[e];
    if (!main_table.entity_column.empty()) h.name = main_report->entity_names[e];
    entity_index.emplace(h.name, static_cast<uint32_t>(e));
    h.end_time = h.time.empty() ? 0 : h.time.back();
    h.statics.numeric.assign(pipeline.layout().static_numeric.size(),
                             std::numeric_limits<double>::quiet_NaN());
    h.statics.categorical.assign(pipeline.layout().static_categorical.size(), -1);
    data.rows += static_cast<int64_t>(h.rows());
  }

  // Events and machines, matched to the readings by entity name.
  auto add_events = [&](const std::optional<spec::TableSpec>& table,
                        EventType type) -> absl::Status {
    if (!table) return absl::OkStatus();
    EventSink sink(KindDeclared(*table));
    PDM_ASSIGN_OR_RETURN(const size_t index, validate_table(*table, &sink, ""));
    const validate::TableReport* r = &report.tables[index];
    int32_t label_kind = -1;
    if (type == EventType::kFailure && !spec.labels.failure_kind.empty() && KindDeclared(*table)) {
      const auto& kinds = table->columns[0].categories;
      label_kind = static_cast<int32_t>(
          std::find(kinds.begin(), kinds.end(), spec.labels.failure_kind) - kinds.begin());
    }
    for (const RawEvent& raw : sink.events) {
      const std::string name = table->entity_column.empty() ? "" : r->entity_names[raw.entity];
      const auto it = entity_index.find(name);
      if (it == entity_index.end()) {
        ++data.events_without_entity;
        continue;
      }
      EntityHistory& h = data.entities[it->second];
      h.events.push_back({raw.time, type, raw.kind});
      if (type == EventType::kFailure) {
        h.all_failures.push_back(raw.time);
        if (spec.labels.failure_kind.empty() || raw.kind == label_kind) {
          h.label_failures.push_back(raw.time);
          h.label_failure_modes.push_back(KindDeclared(*table) ? raw.kind : -1);
        }
      } else if (type == EventType::kMaintenance) {
        h.repairs.push_back(raw.time);
      }
    }
    return absl::OkStatus();
  };
  PDM_RETURN_IF_ERROR(add_events(spec.maintenance, EventType::kMaintenance));
  PDM_RETURN_IF_ERROR(add_events(spec.failures, EventType::kFailure));
  PDM_RETURN_IF_ERROR(add_events(spec.errors, EventType::kError));
  if (spec.machines) {
    StaticSink sink;
    PDM_ASSIGN_OR_RETURN(const size_t index, validate_table(*spec.machines, &sink, ""));
    const validate::TableReport* r = &report.tables[index];
    for (auto& [entity, statics] : sink.rows) {
      const auto it = entity_index.find(r->entity_names[entity]);
      if (it != entity_index.end()) data.entities[it->second].statics = std::move(statics);
    }
  }
  for (EntityHistory& h : data.entities) SortEntityEvents(&h);

  // Failures that the data implies rather than records.
  if (options.test_set) {
    if (!spec.test->rul_path.empty()) {
      ValuesSink sink;
      const spec::TableSpec rul_table = validate::RulTable(spec.test->rul_path);
      PDM_ASSIGN_OR_RETURN(const size_t index, validate_table(rul_table, &sink, ""));
      const validate::TableReport* r = &report.tables[index];
      if (sink.values.size() != data.entities.size() || r->rows_quarantined > 0) {
        return absl::InvalidArgumentError(core::StrCat(
            spec.test->rul_path.string(), ": holds ", sink.values.size(), " valid RUL values but ",
            main_table.path.string(), " has ", data.entities.size(), " units"));
      }
      for (size_t e = 0; e < data.entities.size(); ++e) {
        EntityHistory& h = data.entities[e];
        const double failure = h.end_time + sink.values[e];
        h.all_failures = h.label_failures = {failure};
        h.label_failure_modes = {-1};
      }
    }
  } else if (spec.labels.source == spec::LabelSource::kRunToFailure) {
    for (EntityHistory& h : data.entities) {
      h.all_failures = h.label_failures = {h.end_time};
      h.label_failure_modes = {-1};
    }
  }
  if (quarantine) PDM_RETURN_IF_ERROR(quarantine->Close());
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return data;
}

absl::Status TruncateAt(const spec::DatasetSpec& spec, double until, LoadedDataset* data) {
  if (spec.labels.source == spec::LabelSource::kRunToFailure) {
    return absl::InvalidArgumentError(
        "cannot cut a run-to-failure dataset at a time: its histories' last readings are the "
        "failures (hold out whole entities, or a test set, instead)");
  }
  std::vector<EntityHistory> kept;
  kept.reserve(data->entities.size());
  data->rows = 0;
  for (EntityHistory& h : data->entities) {
    const size_t rows =
        static_cast<size_t>(std::lower_bound(h.time.begin(), h.time.end(), until) - h.time.begin());
    if (rows == 0) continue;
    const size_t numeric_width = h.numeric.size() / h.rows();
    const size_t categorical_width = h.categorical.size() / h.rows();
    h.time.resize(rows);
    h.numeric.resize(rows * numeric_width);
    h.categorical.resize(rows * categorical_width);
    std::erase_if(h.events, [&](const Event& e) { return e.time >= until; });
    std::erase_if(h.all_failures, [&](double t) { return t >= until; });
    std::erase_if(h.repairs, [&](double t) { return t >= until; });
    size_t failures = 0;
    while (failures < h.label_failures.size() && h.label_failures[failures] < until) ++failures;
    h.label_failures.resize(failures);
    h.label_failure_modes.resize(std::min(failures, h.label_failure_modes.size()));
    h.end_time = h.time.back();
    data->rows += static_cast<int64_t>(rows);
    kept.push_back(std::move(h));
  }
  data->entities = std::move(kept);
  return absl::OkStatus();
}

std::vector<std::string> FailureModes(const spec::DatasetSpec& spec) {
  if (spec.labels.source == spec::LabelSource::kColumn) return spec.labels.components;
  if (spec.labels.source == spec::LabelSource::kEvents && spec.failures &&
      spec.labels.failure_kind.empty() && KindDeclared(*spec.failures)) {
    return spec.failures->columns[0].categories;
  }
  return {};
}

absl::Status FitPipeline(const LoadedDataset& data, FeaturePipeline* pipeline) {
  if (!pipeline->needs_fit()) return absl::OkStatus();
  std::vector<double> numeric;
  numeric.reserve(static_cast<size_t>(data.rows) * pipeline->layout().numeric.size());
  for (const EntityHistory& h : data.entities)
    numeric.insert(numeric.end(), h.numeric.begin(), h.numeric.end());
  return pipeline->Fit(numeric, data.rows);
}

}  // namespace pdm::features
