#include "features/feedback.h"

#include <algorithm>
#include <cmath>
#include <unordered_map>

#include "core/numbers.h"
#include "core/strings.h"
#include "core/time.h"
#include "io/csv_reader.h"

namespace pdm::features {
namespace {

constexpr size_t kRefusalsShown = 20;

// A data time as the spec's time column has it: ISO 8601 or epoch seconds for timestamps, a
// number otherwise.
bool ParseDataTime(std::string_view text, spec::TimeType type, double* out) {
  if (type == spec::TimeType::kTimestamp) {
    core::EpochSeconds seconds = 0;
    if (core::ParseTimestamp(text, &seconds)) {
      *out = static_cast<double>(seconds);
      return true;
    }
  }
  return core::ParseDouble(text, out) == core::NumberParse::kOk;
}

}  // namespace

absl::StatusOr<FeedbackReport> ApplyFeedback(const std::filesystem::path& path,
                                             const spec::DatasetSpec& spec, LoadedDataset* data) {
  FeedbackReport report;
  report.path = path.string();
  io::CsvReaderOptions options;
  auto reader = io::CsvReader::Open(path, options);
  if (!reader.ok()) return reader.status();
  io::CsvRecord record;
  if (!(*reader)->Next(&record) || !record.error.empty()) {
    return absl::InvalidArgumentError(
        core::StrCat(path.string(), ": expected a header with machine_id, time, resolution"));
  }
  int machine_col = -1, time_col = -1, resolution_col = -1, mode_col = -1;
  for (size_t c = 0; c < record.fields.size(); ++c) {
    const std::string_view name = record.fields[c];
    if (name == "machine_id" || name == "machine") machine_col = static_cast<int>(c);
    if (name == "time" || name == "timestamp") time_col = static_cast<int>(c);
    if (name == "resolution") resolution_col = static_cast<int>(c);
    if (name == "failure_mode") mode_col = static_cast<int>(c);
  }
  if (machine_col < 0 || time_col < 0 || resolution_col < 0) {
    return absl::InvalidArgumentError(
        core::StrCat(path.string(), ":1: the header must name machine_id, time and resolution"));
  }
  std::unordered_map<std::string, size_t> entity_index;
  for (size_t i = 0; i < data->entities.size(); ++i) entity_index[data->entities[i].name] = i;
  const double horizon = spec.labels.horizon.value_or(0.0);
  const std::vector<std::string>& kinds = spec.failures && !spec.failures->columns.empty()
                                              ? spec.failures->columns[0].categories
                                              : std::vector<std::string>{};
  const bool labels_every_failure = spec.labels.failure_kind.empty();
  auto refuse = [&](int64_t line, const char* field, const std::string& reason) {
    ++report.refused;
    if (report.refusals.size() < kRefusalsShown) {
      report.refusals.push_back(core::StrCat(path.string(), ":", line, ": ", field, ": ", reason));
    }
  };
  const size_t needed =
      static_cast<size_t>(std::max({machine_col, time_col, resolution_col, mode_col})) + 1;
  std::vector<size_t> touched;
  while ((*reader)->Next(&record)) {
    ++report.rows;
    if (!record.error.empty()) {
      refuse(record.line, "record", record.error);
      continue;
    }
    if (record.fields.size() < needed) {
      refuse(record.line, "record",
             core::StrCat("expected ", needed, " fields, found ", record.fields.size()));
      continue;
    }
    const std::string machine(record.fields[static_cast<size_t>(machine_col)]);
    const std::string_view resolution = record.fields[static_cast<size_t>(resolution_col)];
    double time = 0;
    const auto entity = entity_index.find(machine);
    if (entity == entity_index.end()) {
      refuse(record.line, "machine_id", core::StrCat("'", machine, "' has no rows in the data"));
      continue;
    }
    if (!ParseDataTime(record.fields[static_cast<size_t>(time_col)], spec.data.time_type, &time)) {
      refuse(record.line, "time",
             core::StrCat("'", record.fields[static_cast<size_t>(time_col)],
                          "' is not a time of the data"));
      continue;
    }
    if (resolution == "no_fault_found") {
      ++report.false_alarms;
      continue;
    }
    if (resolution == "maintenance_done") {
      ++report.maintenance;
      continue;
    }
    if (resolution != "failure_confirmed") {
      refuse(record.line, "resolution",
             core::StrCat("'", resolution,
                          "': expected failure_confirmed, no_fault_found or maintenance_done"));
      continue;
    }
    EntityHistory& h = data->entities[entity->second];
    const bool known = std::any_of(h.all_failures.begin(), h.all_failures.end(),
                                   [&](double f) { return std::fabs(f - time) <= horizon; });
    if (known) {
      ++report.failures_known;
      continue;
    }
    int32_t kind = -1;
    if (mode_col >= 0) {
      const auto it =
          std::find(kinds.begin(), kinds.end(), record.fields[static_cast<size_t>(mode_col)]);
      if (it != kinds.end()) kind = static_cast<int32_t>(it - kinds.begin());
    }
    h.events.push_back({time, EventType::kFailure, kind});
    h.all_failures.push_back(time);
    if (labels_every_failure) {
      h.label_failures.push_back(time);
      h.label_failure_modes.push_back(kind);
    }
    touched.push_back(entity->second);
    ++report.failures_added;
  }
  if (!(*reader)->status().ok()) return (*reader)->status();
  // Keep each touched entity's events and failures in order, as LoadDataset left them.
  std::sort(touched.begin(), touched.end());
  touched.erase(std::unique(touched.begin(), touched.end()), touched.end());
  for (size_t i : touched) SortEntityEvents(&data->entities[i]);
  return report;
}

nlohmann::json FeedbackJson(const FeedbackReport& r) {
  return {{"path", r.path},
          {"rows", r.rows},
          {"failures_added", r.failures_added},
          {"failures_known", r.failures_known},
          {"false_alarms", r.false_alarms},
          {"maintenance", r.maintenance},
          {"refused", r.refused},
          {"refusals", r.refusals}};
}

}  // namespace pdm::features
