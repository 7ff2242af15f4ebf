// The live routes of the server: POST /api/v1/telemetry (raw readings and events of machines ->
// validated -> each machine's online feature state -> its current risk, stored through the
// Store) and GET /api/v1/machines[/{id}].
#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>

#include "absl/strings/str_join.h"
#include "core/memory.h"
#include "core/status.h"
#include "core/strings.h"
#include "core/time.h"
#include "serving/api.h"
#include "serving/fast_reader.h"
#include "serving/json_body.h"

namespace pdm::serving {
namespace {

using json = nlohmann::json;

constexpr int kHistoryLength = 100;  // risk points in a machine's view
// What the fast reader keeps between bodies on each thread: a parser's buffers for bodies of
// about 1 MiB, and the readings of 10,000 (a larger body's are freed before the next).
constexpr size_t kFastReaderKeepBytes = size_t{4} << 20;
constexpr size_t kFastReadingsKept = 10'000;

// The input field a refusal detail names ("readings[3].values.torque" -> "values.torque"), as
// the drift report's data quality counts it: one of the layout's inputs, "time", "machine",
// "values", "attributes" or "reading" (not an object); any other name (an unknown column) is
// "other", so what a client sends cannot grow the report or the metrics' label sets.
std::string RefusedInputField(const std::string& detail, const features::InputLayout& layout) {
  const size_t dot = detail.find("].");
  if (dot == std::string::npos) return "reading";
  std::string field = detail.substr(dot + 2);
  if (field == "time" || field == "machine" || field == "values" || field == "attributes") {
    return field;
  }
  auto named = [&](const std::string& prefix, const auto& names, auto name_of) {
    if (field.rfind(prefix, 0) != 0) return false;
    const std::string column = field.substr(prefix.size());
    return std::any_of(names.begin(), names.end(),
                       [&](const auto& n) { return name_of(n) == column; });
  };
  auto itself = [](const std::string& n) { return n; };
  auto categorical = [](const features::CategoricalInput& c) { return c.name; };
  if (named("values.", layout.numeric, itself) ||
      named("values.", layout.categorical, categorical) ||
      named("attributes.", layout.static_numeric, itself) ||
      named("attributes.", layout.static_categorical, categorical)) {
    return field;
  }
  return "other";
}

// The time of a reading or event in the data's unit: an ISO 8601 string or epoch seconds for
// timestamped data, a number for cycles; NaN when the data has no time.
bool ReadTime(const json& record, spec::TimeType type, double* time, std::string* reason) {
  if (type == spec::TimeType::kNone) {
    *time = std::nan("");
    return true;
  }
  auto it = record.find("time");
  if (it == record.end()) {
    *reason = "missing";
    return false;
  }
  if (it->is_number()) {
    *time = it->get<double>();
  } else if (it->is_string() && type == spec::TimeType::kTimestamp) {
    if (!core::ParseTimestamp(it->get<std::string>(), time)) {
      *reason = "not an ISO 8601 timestamp";
      return false;
    }
  } else {
    *reason = type == spec::TimeType::kTimestamp ? "expected an ISO 8601 timestamp or epoch seconds"
                                                 : "expected a cycle number";
    return false;
  }
  if (!std::isfinite(*time)) {
    *reason = "not finite";
    return false;
  }
  return true;
}

bool ReadMachine(const json& record, std::string* machine, json* details,
                 const std::string& prefix) {
  auto it = record.find("machine");
  if (it == record.end() || !it->is_string() || it->get_ref<const std::string&>().empty() ||
      it->get_ref<const std::string&>().size() > kMaxMachineIdLength) {
    details->push_back(
        {{"field", prefix + "machine"},
         {"reason", it == record.end() ? std::string("missing")
                                       : core::StrCat("expected a string of 1 to ",
                                                      kMaxMachineIdLength, " characters")},
         {"value", it == record.end() ? json(nullptr) : Shown(*it)}});
    return false;
  }
  *machine = it->get<std::string>();
  return true;
}

// Reads `values` (numbers by input name, strings for categoricals) into the reading; refused
// values go to `details`.
void ReadValues(const json& values, const features::InputLayout& layout, bool allow_unknown,
                const std::string& prefix, MachineReading* reading, json* details) {
  reading->numeric.assign(layout.numeric.size(), std::nan(""));
  reading->categorical.assign(layout.categorical.size(), -1);
  size_t known = 0;
  for (size_t i = 0; i < layout.numeric.size(); ++i) {
    auto it = values.find(layout.numeric[i]);
    if (it == values.end() || it->is_null()) continue;  // missing: the windows skip it
    ++known;
    const std::string field = prefix + layout.numeric[i];
    if (!it->is_number()) {
      details->push_back({{"field", field}, {"reason", "not a number"}, {"value", Shown(*it)}});
      continue;
    }
    const double v = it->get<double>();
    if (!std::isfinite(v)) {
      details->push_back({{"field", field}, {"reason", "not finite"}, {"value", Shown(*it)}});
    } else if (v < layout.numeric_min[i] || v > layout.numeric_max[i]) {
      details->push_back({{"field", field},
                          {"reason", core::StrCat("out of range [", layout.numeric_min[i], ", ",
                                                  layout.numeric_max[i], "]")},
                          {"value", Shown(*it)}});
    } else {
      reading->numeric[i] = v;
    }
  }
  for (size_t i = 0; i < layout.categorical.size(); ++i) {
    const features::CategoricalInput& c = layout.categorical[i];
    auto it = values.find(c.name);
    if (it == values.end() || it->is_null()) continue;
    ++known;
    const auto code = it->is_string()
                          ? std::find(c.values.begin(), c.values.end(), it->get<std::string>())
                          : c.values.end();
    if (code == c.values.end()) {
      details->push_back({{"field", prefix + c.name},
                          {"reason", core::StrCat("unknown category (one of ",
                                                  absl::StrJoin(c.values, ", "), ")")},
                          {"value", Shown(*it)}});
    } else {
      reading->categorical[i] = static_cast<int32_t>(code - c.values.begin());
    }
  }
  if (!allow_unknown && known < values.size()) {
    for (const auto& item : values.items()) {
      const std::string& key = item.key();
      const json& value = item.value();
      const bool numeric =
          std::find(layout.numeric.begin(), layout.numeric.end(), key) != layout.numeric.end();
      const bool categorical =
          std::any_of(layout.categorical.begin(), layout.categorical.end(),
                      [&](const features::CategoricalInput& c) { return c.name == key; });
      if (!numeric && !categorical) {
        details->push_back(
            {{"field", prefix + key}, {"reason", "unknown field"}, {"value", Shown(value)}});
      }
    }
  }
  if (known == 0 && details->empty()) {
    details->push_back(
        {{"field", prefix.substr(0, prefix.size() - 1)}, {"reason", "no known sensor value"}});
  }
}

// A machine's static attributes (first reading only): numbers and categories by name.
void ReadAttributes(const json& attributes, const features::InputLayout& layout,
                    const std::string& prefix, features::EntityStatic* statics, json* details) {
  statics->numeric.assign(layout.static_numeric.size(), std::nan(""));
  statics->categorical.assign(layout.static_categorical.size(), -1);
  for (const auto& item : attributes.items()) {
    const std::string& key = item.key();
    const json& value = item.value();
    const std::string field = prefix + key;
    auto n = std::find(layout.static_numeric.begin(), layout.static_numeric.end(), key);
    if (n != layout.static_numeric.end()) {
      if (!value.is_number() || !std::isfinite(value.get<double>())) {
        details->push_back({{"field", field}, {"reason", "not a number"}, {"value", Shown(value)}});
      } else {
        statics->numeric[static_cast<size_t>(n - layout.static_numeric.begin())] =
            value.get<double>();
      }
      continue;
    }
    auto c = std::find_if(layout.static_categorical.begin(), layout.static_categorical.end(),
                          [&](const features::CategoricalInput& ci) { return ci.name == key; });
    if (c == layout.static_categorical.end()) {
      details->push_back({{"field", field}, {"reason", "unknown field"}, {"value", Shown(value)}});
      continue;
    }
    const auto code = value.is_string()
                          ? std::find(c->values.begin(), c->values.end(), value.get<std::string>())
                          : c->values.end();
    if (code == c->values.end()) {
      details->push_back({{"field", field},
                          {"reason", core::StrCat("unknown category (one of ",
                                                  absl::StrJoin(c->values, ", "), ")")},
                          {"value", Shown(value)}});
    } else {
      statics->categorical[static_cast<size_t>(c - layout.static_categorical.begin())] =
          static_cast<int32_t>(code - c->values.begin());
    }
  }
}

// An event's type and declared kind.
bool ReadEvent(const json& record, const features::InputLayout& layout, features::Event* event,
               const std::string& prefix, json* details) {
  auto type = record.find("type");
  const std::vector<std::string>* kinds = nullptr;
  if (type != record.end() && *type == "maintenance" && layout.has_maintenance) {
    event->type = features::EventType::kMaintenance;
    kinds = &layout.maintenance_kinds;
  } else if (type != record.end() && *type == "failure" && layout.has_failures) {
    event->type = features::EventType::kFailure;
    kinds = &layout.failure_kinds;
  } else if (type != record.end() && *type == "error" && layout.has_errors) {
    event->type = features::EventType::kError;
    kinds = &layout.error_kinds;
  } else {
    std::vector<std::string> types;
    if (layout.has_maintenance) types.emplace_back("maintenance");
    if (layout.has_failures) types.emplace_back("failure");
    if (layout.has_errors) types.emplace_back("error");
    details->push_back(
        {{"field", prefix + "type"},
         {"reason", types.empty() ? std::string("the model uses no events")
                                  : core::StrCat("expected one of ", absl::StrJoin(types, ", "))},
         {"value", type == record.end() ? json(nullptr) : Shown(*type)}});
    return false;
  }
  event->kind = -1;
  if (auto kind = record.find("kind"); kind != record.end() && !kind->is_null()) {
    const auto at = kind->is_string()
                        ? std::find(kinds->begin(), kinds->end(), kind->get<std::string>())
                        : kinds->end();
    if (at == kinds->end() && !kinds->empty()) {
      details->push_back(
          {{"field", prefix + "kind"},
           {"reason", core::StrCat("unknown kind (one of ", absl::StrJoin(*kinds, ", "), ")")},
           {"value", Shown(*kind)}});
      return false;
    }
    if (at != kinds->end()) event->kind = static_cast<int32_t>(at - kinds->begin());
  }
  return true;
}

json PointJson(const RiskPoint& point, model::Task task, spec::TimeType time_type) {
  json out;
  if (time_type == spec::TimeType::kTimestamp) {
    out["time"] = core::FormatTimestamp(static_cast<int64_t>(std::floor(point.time)));
  } else if (time_type == spec::TimeType::kCycle) {
    out["time"] = point.time;
  }
  out[task != model::Task::kRul ? "probability" : "rul"] = point.score;
  out["alarm"] = point.alarm;
  out["decision"] = point.alarm ? "alarm" : "ok";
  out["version"] = point.version;
  return out;
}

// A machine's static attributes by name (categories as their names); missing ones are absent.
json AttributesJson(const features::EntityStatic& statics, const features::InputLayout& layout) {
  json out = json::object();
  for (size_t a = 0; a < statics.numeric.size() && a < layout.static_numeric.size(); ++a) {
    if (!std::isnan(statics.numeric[a])) out[layout.static_numeric[a]] = statics.numeric[a];
  }
  for (size_t a = 0; a < statics.categorical.size() && a < layout.static_categorical.size(); ++a) {
    const int32_t code = statics.categorical[a];
    const auto& values = layout.static_categorical[a].values;
    if (code >= 0 && static_cast<size_t>(code) < values.size()) {
      out[layout.static_categorical[a].name] = values[static_cast<size_t>(code)];
    }
  }
  return out;
}

int64_t TimeMicros(double time) {
  return std::isfinite(time) ? static_cast<int64_t>(std::llround(time * 1e6)) : 0;
}

// The reading's present numeric values as the store's telemetry rows.
void AppendTelemetryRows(const MachineReading& reading, const features::InputLayout& layout,
                         std::vector<store::TelemetryRow>* rows) {
  const int64_t time_us = TimeMicros(reading.time);
  for (size_t j = 0; j < layout.numeric.size(); ++j) {
    if (!std::isnan(reading.numeric[j])) {
      rows->push_back({reading.machine, time_us, layout.numeric[j], reading.numeric[j]});
    }
  }
}

// Reads reading `index` of a body (a JSON value) into the layout; what is refused goes to
// `details`, each naming its field ("readings[3].values.torque").
void ReadReadingJson(const json& record, size_t index, const features::InputLayout& layout,
                     bool allow_unknown, MachineReading* reading, json* details) {
  const std::string prefix = core::StrCat("readings[", index, "].");
  if (!record.is_object()) {
    details->push_back(
        {{"field", prefix.substr(0, prefix.size() - 1)}, {"reason", "expected an object"}});
    return;
  }
  std::string reason;
  ReadMachine(record, &reading->machine, details, prefix);
  if (!ReadTime(record, layout.time_type, &reading->time, &reason)) {
    details->push_back({{"field", prefix + "time"},
                        {"reason", reason},
                        {"value", Shown(record.value("time", json(nullptr)))}});
  }
  auto values = record.find("values");
  if (values == record.end() || !values->is_object()) {
    details->push_back({{"field", prefix + "values"},
                        {"reason", values == record.end() ? "missing" : "expected an object"}});
  } else {
    ReadValues(*values, layout, allow_unknown, prefix + "values.", reading, details);
  }
  if (auto attributes = record.find("attributes"); attributes != record.end()) {
    if (!attributes->is_object()) {
      details->push_back({{"field", prefix + "attributes"}, {"reason", "expected an object"}});
    } else {
      reading->statics.emplace();
      ReadAttributes(*attributes, layout, prefix + "attributes.", &*reading->statics, details);
    }
  }
}

}  // namespace

HttpResponse Api::Telemetry(const HttpRequest& request) {
  if (auto refused = CheckJsonContentType(request)) {
    return Refuse(refused->status, refused->reason, refused->message);
  }
  HttpResponse response = IngestTelemetryText(request.body, nullptr);
  // The request's parsed body is gone now; its pages sit between the machines' states. The
  // fast reader keeps the buffers of a body of ordinary size.
  ReleaseFastReaderMemory(kFastReaderKeepBytes);
  core::TrimFreedMemory(std::chrono::seconds(5));
  return response;
}

HttpResponse Api::IngestTelemetryText(std::string_view text, TelemetryCounts* counts) {
  const std::shared_ptr<const ServedModel> served = models_->current();
  if (served && served->bundle.pipeline) {
    thread_local std::vector<FastReading> fast;
    if (fast.size() > kFastReadingsKept) fast = {};  // a large body's readings: not kept
    if (ReadTelemetryFast(text, served->bundle.pipeline->layout(), options_.allow_unknown_fields,
                          options_.max_batch, &fast)) {
      static const json no_events = json::array();
      const features::InputLayout& layout = served->bundle.pipeline->layout();
      // The readings the fast reader handed on, as the full reader reads them.
      auto handed_on = [&](size_t i) {
        return json::parse(fast[i].full_reader_json, nullptr, /*allow_exceptions=*/false);
      };
      return IngestReadings(
          served, no_events, fast.size(),
          [&](size_t i, MachineReading* reading, json* details) {
            if (fast[i].full_reader_json.empty()) {
              std::swap(*reading, fast[i].reading);
            } else {
              ReadReadingJson(handed_on(i), i, layout, options_.allow_unknown_fields, reading,
                              details);
            }
          },
          [&](size_t i) {
            if (!fast[i].full_reader_json.empty()) {
              return Shown(handed_on(i).value("time", json(nullptr)));
            }
            return fast[i].time_text.empty() ? json(fast[i].reading.time)
                                             : Shown(json(std::string(fast[i].time_text)));
          },
          counts);
    }
  }
  // Not a body of valid readings only: the full reader says what is wrong with it.
  json body;
  if (auto refused = ParseJsonText(text, &body)) {
    return Refuse(refused->status, refused->reason, refused->message);
  }
  return IngestTelemetry(std::move(body), counts);
}

HttpResponse Api::Sources() {
  json sources = options_.sources ? options_.sources() : json::array();
  json sinks = options_.sinks ? options_.sinks() : json::array();
  return Json(200, {{"sources", std::move(sources)}, {"sinks", std::move(sinks)}});
}

absl::StatusOr<size_t> Api::SaveMachineStates(const std::vector<std::string>& machines,
                                              const std::string& owner) {
  std::vector<store::MachineStateRow> rows;
  for (const std::string& machine : machines) {
    std::optional<Fleet::StateSnapshot> snapshot = fleet_.Snapshot(machine);
    if (!snapshot) continue;
    rows.push_back({machine, std::move(snapshot->pipeline_hash), snapshot->last_time,
                    std::move(snapshot->bytes), owner, 0});
  }
  if (rows.empty()) return size_t{0};
  PDM_RETURN_IF_ERROR(models_->registry().store().PutMachineStates(rows));
  return rows.size();
}

absl::StatusOr<bool> Api::RestoreMachineState(const std::string& machine) {
  const std::shared_ptr<const ServedModel> served = models_->current();
  if (!served || !served->bundle.pipeline) return false;
  PDM_ASSIGN_OR_RETURN(std::optional<store::MachineStateRow> row,
                       models_->registry().store().GetMachineState(machine));
  if (!row) return false;
  return fleet_.Restore(machine, {row->pipeline_hash, row->last_time, std::move(row->state)},
                        served);
}

HttpResponse Api::IngestTelemetry(json body, TelemetryCounts* counts) {
  TelemetryCounts ignored;
  if (counts == nullptr) counts = &ignored;
  const std::shared_ptr<const ServedModel> served = models_->current();
  if (!served) return Error(503, "no model loaded");
  if (!served->bundle.pipeline) {
    return Error(409, core::StrCat(served->name, " v", served->version,
                                   " has no feature pipeline: it scores feature values only "
                                   "(POST /api/v1/predict)"));
  }
  const features::InputLayout& layout = served->bundle.pipeline->layout();
  const json empty = json::array();
  const json* readings = &empty;
  const json* events = &empty;
  if (body.is_array()) {
    readings = &body;
  } else if (body.is_object() && (body.contains("readings") || body.contains("events"))) {
    if (body.contains("readings")) readings = &body["readings"];
    if (body.contains("events")) events = &body["events"];
  } else if (body.is_object() && body.contains("machine")) {
    body = json::array({body});
    readings = &body;
  }
  if (!readings->is_array() || !events->is_array() || readings->size() + events->size() == 0) {
    return Refuse(422, "not_a_batch",
                  "expected {\"readings\": [{\"machine\", \"time\", \"values\": {...}}], "
                  "\"events\": [...]}, an array of readings, or one reading");
  }
  if (readings->size() + events->size() > options_.max_batch) {
    return Refuse(413, "batch_too_large",
                  core::StrCat(readings->size() + events->size(), " readings and events; at most ",
                               options_.max_batch));
  }
  auto read = [&](size_t i, MachineReading* reading, json* details) {
    ReadReadingJson((*readings)[i], i, layout, options_.allow_unknown_fields, reading, details);
  };
  auto shown_time = [&](size_t i) { return Shown((*readings)[i].value("time", json(nullptr))); };
  return IngestReadings(served, *events, readings->size(), read, shown_time, counts);
}

HttpResponse Api::IngestReadings(
    const std::shared_ptr<const ServedModel>& served, const json& events_list, size_t reading_count,
    const std::function<void(size_t, MachineReading*, json*)>& read_reading,
    const std::function<json(size_t)>& shown_time, TelemetryCounts* counts) {
  TelemetryCounts ignored;
  if (counts == nullptr) counts = &ignored;
  const features::InputLayout& layout = served->bundle.pipeline->layout();
  const json* events = &events_list;
  json errors = json::array();
  // Per refused reading, the input fields it was refused for (the drift report's data quality).
  std::vector<std::vector<std::string>> refused_fields;
  auto refuse = [&](const std::string& list, size_t index, const std::string& machine,
                    json details) {
    for (const json& d : details) metrics_->CountValidationError(d["reason"].get<std::string>());
    if (list == "readings") {
      std::vector<std::string> fields;
      for (const json& d : details) {
        std::string field = RefusedInputField(d.value("field", ""), layout);
        if (std::find(fields.begin(), fields.end(), field) == fields.end()) {
          fields.push_back(std::move(field));
        }
      }
      refused_fields.push_back(std::move(fields));
    }
    if (counts->first_error.empty() && !details.empty()) {
      const json& d = details[0];
      counts->first_error = core::StrCat(d.value("field", list), ": ", d.value("reason", ""));
    }
    json e = {{list == "events" ? "event" : "reading", index}, {"details", std::move(details)}};
    if (!machine.empty()) e["machine"] = machine;
    errors.push_back(std::move(e));
  };

  // Realised performance: failure events label the readings scored before them.
  std::string no_labels;
  const std::shared_ptr<monitor::RealisedPerformance> realised = RealisedFor(served, &no_labels);
  // Events first: an event at a reading's time belongs before it.
  size_t events_applied = 0;
  std::vector<store::EventRow> stored_events;  // the labels of a later `pdm telemetry export`
  for (size_t i = 0; i < events->size(); ++i) {
    const json& record = (*events)[i];
    const std::string prefix = core::StrCat("events[", i, "].");
    json details = json::array();
    std::string machine, reason;
    features::Event event;
    if (!record.is_object()) {
      details.push_back(
          {{"field", prefix.substr(0, prefix.size() - 1)}, {"reason", "expected an object"}});
    } else if (ReadMachine(record, &machine, &details, prefix)) {
      if (!ReadTime(record, layout.time_type, &event.time, &reason)) {
        details.push_back({{"field", prefix + "time"},
                           {"reason", reason},
                           {"value", Shown(record.value("time", json(nullptr)))}});
      } else if (ReadEvent(record, layout, &event, prefix, &details)) {
        if (absl::Status s = fleet_.ApplyEvent(machine, event, served); !s.ok()) {
          details.push_back({{"field", prefix + "time"},
                             {"reason", std::string(s.message())},
                             {"value", Shown(record["time"])}});
        } else {
          ++events_applied;
          if (options_.store_telemetry) {
            const auto kind = record.find("kind");
            stored_events.push_back(
                {machine, TimeMicros(event.time), record["type"].get<std::string>(),
                 kind != record.end() && kind->is_string() ? kind->get<std::string>() : ""});
          }
          CloseAlertsOnEvent(served, machine, event.type, event.time);
          if (realised && event.type == features::EventType::kFailure) {
            realised->Failure(machine, event.time);
          }
        }
      }
    }
    if (!details.empty()) refuse("events", i, machine, std::move(details));
  }

  std::vector<store::TelemetryRow> telemetry;
  std::vector<store::PredictionRow> predictions;
  json latest = json::object();  // machine -> its latest risk in this request
  const ServerMetrics::PredictionSeries series =
      metrics_->Predictions(served->name, served->version);
  size_t accepted = 0, unscored = 0;
  // The scored rows for the drift monitor, handed over once per request.
  std::string no_drift;
  const std::shared_ptr<monitor::DriftMonitor> drift = DriftFor(served, &no_drift);
  std::vector<float> drift_features;
  std::vector<double> drift_times, drift_scores, drift_since_start;
  std::vector<std::string> drift_machines;
  const bool timed = layout.time_type == spec::TimeType::kTimestamp;
  const std::shared_ptr<alert::AlertPolicy> alerts = AlertsFor(served);
  std::vector<PendingAlert> pending_alerts;
  for (size_t i = 0; i < reading_count; ++i) {
    const std::string prefix = core::StrCat("readings[", i, "].");
    json details = json::array();
    MachineReading reading;
    bool duplicate = false;
    read_reading(i, &reading, &details);
    if (details.empty()) {
      auto point = fleet_.Apply(reading, served, drift ? &drift_features : nullptr);
      if (!point.ok()) {
        const bool full = absl::IsResourceExhausted(point.status());
        duplicate = absl::IsAlreadyExists(point.status());
        if (duplicate) ++counts->duplicates;
        details.push_back({{"field", prefix + (full ? "machine" : "time")},
                           {"reason", std::string(point.status().message())},
                           {"value", full ? json(reading.machine) : shown_time(i)}});
      } else if (!point->scored) {
        // Throttled (--score-every): the features advanced; the values are kept, not scored.
        ++accepted;
        ++unscored;
        if (options_.store_telemetry || options_.on_ingested) {
          AppendTelemetryRows(reading, layout, &telemetry);
        }
      } else {
        ++accepted;
        if (drift) {
          drift_times.push_back(timed ? reading.time : std::nan(""));
          drift_scores.push_back(point->score);
          drift_since_start.push_back(timed ? point->since_start : std::nan(""));
          drift_machines.push_back(reading.machine);
        }
        series.Observe(point->alarm, served->bundle.ensemble.task != model::Task::kRul
                                         ? point->score
                                         : std::nan(""));
        latest[reading.machine] = PointJson(*point, served->bundle.ensemble.task, layout.time_type);
        if (realised) realised->Scored(reading.machine, reading.time, point->alarm);
        if (alerts) {
          alert::Decision decision =
              alerts->Observe(reading.machine, reading.time, point->score, point->alarm);
          if (decision.action != alert::Action::kNone) {
            pending_alerts.push_back(
                {reading.machine, TimeMicros(reading.time), point->score, std::move(decision)});
          }
        }
        if (options_.store_telemetry || options_.on_ingested) {
          AppendTelemetryRows(reading, layout, &telemetry);
          predictions.push_back({reading.machine, TimeMicros(reading.time), served->name,
                                 served->version, point->score, point->alarm});
        }
      }
    }
    if (!details.empty()) {
      refuse("readings", i, reading.machine, std::move(details));
      // A delivery repeated is not a data-quality problem of its field.
      if (duplicate) refused_fields.pop_back();
    }
  }
  metrics_->SetOnlineMachines(static_cast<int64_t>(fleet_.size()));
  metrics_->CountTelemetry(accepted, reading_count - accepted);
  if (drift && !drift_scores.empty()) {
    const size_t width = drift_features.size() / drift_scores.size();
    std::vector<monitor::ObservedRow> rows(drift_scores.size());
    for (size_t r = 0; r < rows.size(); ++r) {
      rows[r] = {drift_times[r], std::span<const float>(drift_features.data() + r * width, width),
                 drift_scores[r], drift_since_start[r], drift_machines[r]};
    }
    drift->Observe(rows);
  }
  if (drift && !refused_fields.empty()) drift->ObserveRefused(refused_fields);
  if (drift && (!drift_scores.empty() || !refused_fields.empty())) {
    const std::shared_ptr<const monitor::DriftReport> report = drift->Latest();
    WatchDrift(served, *report);
  }

  json out = {{"model", served->name},
              {"version", served->version},
              {"accepted", accepted},
              {"refused", reading_count - accepted},
              {"events_applied", events_applied},
              {"events_refused", events->size() - events_applied}};
  counts->accepted = accepted;
  counts->refused = reading_count - accepted;
  counts->events_applied = events_applied;
  counts->events_refused = events->size() - events_applied;
  counts->unscored = unscored;
  if (counts->duplicates > 0) out["duplicates"] = counts->duplicates;
  if (unscored > 0) out["unscored"] = unscored;
  if (options_.store_telemetry &&
      (!telemetry.empty() || !predictions.empty() || !stored_events.empty())) {
    // The state has advanced whatever the store says; a failed write is reported, not hidden.
    store::Store& store = models_->registry().store();
    absl::Status stored = store.AppendEvents(stored_events);
    if (stored.ok()) stored = store.AppendTelemetry(telemetry);
    if (stored.ok()) stored = store.AppendPredictions(predictions);
    out["stored"] = stored.ok();
    if (!stored.ok()) {
      metrics_->CountValidationError("store_failed");
      out["store_error"] = std::string(stored.message());
    }
  }
  if (options_.on_ingested && (!telemetry.empty() || !predictions.empty())) {
    options_.on_ingested(telemetry, predictions);
  }
  RaiseAlerts(served, pending_alerts);
  json machines = json::array();
  for (auto& [machine, point] : latest.items()) {
    point["machine"] = machine;
    machines.push_back(std::move(point));
  }
  // The dashboard's live view: the machines this request scored (a bounded sample of a large
  // batch; `count` says how many), only while someone listens.
  if (!machines.empty() && events_->subscribers.load() > 0) {
    constexpr size_t kMaxPerEvent = 500;
    json sample = json::array();
    for (size_t i = 0; i < machines.size() && i < kMaxPerEvent; ++i) sample.push_back(machines[i]);
    events_->Publish("risk", json({{"model", served->name},
                                   {"version", served->version},
                                   {"count", machines.size()},
                                   {"machines", std::move(sample)}})
                                 .dump());
  }
  out["machines"] = std::move(machines);
  if (!errors.empty()) out["errors"] = std::move(errors);
  if (accepted == 0 && events_applied == 0) {
    json details = json::array();
    for (const json& e : out["errors"]) {
      for (const json& d : e["details"]) details.push_back(d);
    }
    return Error(422, "nothing accepted", std::move(details));
  }
  return Json(200, out);
}

HttpResponse Api::Machines(const HttpRequest& request) {
  const std::shared_ptr<const ServedModel> served = models_->current();
  const model::Task task = served ? served->bundle.ensemble.task : model::Task::kClassify;
  const features::InputLayout* layout =
      served && served->bundle.pipeline ? &served->bundle.pipeline->layout() : nullptr;
  const spec::TimeType time_type = layout ? layout->time_type : spec::TimeType::kNone;
  json details = json::array();
  auto number = [&](std::string_view name, size_t fallback, size_t lo, size_t hi) {
    auto text = QueryValue(request.query, name);
    if (!text) return fallback;
    size_t parsed = 0;
    const auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), parsed);
    if (ec != std::errc() || end != text->data() + text->size() || parsed < lo || parsed > hi) {
      details.push_back({{"field", name},
                         {"reason", core::StrCat("expected an integer from ", lo, " to ", hi)},
                         {"value", std::string(text->substr(0, 32))}});
      return fallback;
    }
    return parsed;
  };
  const size_t limit = number("limit", 100, 1, 100'000);
  const size_t offset = number("offset", 0, 0, 100'000'000);
  auto one_of = [&](std::string_view name, std::string_view fallback,
                    std::initializer_list<std::string_view> allowed) -> std::string_view {
    auto text = QueryValue(request.query, name);
    if (!text) return fallback;
    for (std::string_view a : allowed) {
      if (*text == a) return a;
    }
    std::string expected = "expected one of";
    for (std::string_view a : allowed) core::StrAppend(&expected, " ", a);
    details.push_back(
        {{"field", name}, {"reason", expected}, {"value", std::string(text->substr(0, 32))}});
    return fallback;
  };
  const std::string_view sort = one_of("sort", "risk", {"risk", "machine", "age", "readings"});
  const std::string_view order = one_of("order", "", {"asc", "desc"});
  std::string_view state = one_of("state", "all", {"all", "alarm", "stale", "ok", "unscored"});
  if (QueryFlag(request.query, "alarm")) state = "alarm";
  const std::string search(QueryValue(request.query, "q").value_or("").substr(0, 128));
  // Filters on the machines' categorical attributes (?model=A, ?site=north), as declared.
  std::vector<std::pair<size_t, int32_t>> attribute_filters;  // (attribute, code)
  if (layout) {
    for (size_t a = 0; a < layout->static_categorical.size(); ++a) {
      const features::CategoricalInput& c = layout->static_categorical[a];
      auto wanted = QueryValue(request.query, c.name);
      if (!wanted || wanted->empty()) continue;
      auto code = std::find(c.values.begin(), c.values.end(), *wanted);
      if (code == c.values.end()) {
        details.push_back({{"field", c.name},
                           {"reason", core::StrCat("unknown category (one of ",
                                                   absl::StrJoin(c.values, ", "), ")")},
                           {"value", std::string(wanted->substr(0, 64))}});
        continue;
      }
      attribute_filters.emplace_back(a, static_cast<int32_t>(code - c.values.begin()));
    }
  }
  if (!details.empty()) return Error(422, "invalid query", std::move(details));

  const std::vector<MachineSummary> views = fleet_.Summaries();
  double newest = -INFINITY;
  for (const MachineSummary& v : views) {
    if (v.latest) newest = std::max(newest, v.latest->time);
  }
  const double now =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  // Late: it missed three of its own reporting intervals, behind the fleet's newest data or
  // (timestamped data) behind the wall clock, which also sees a whole fleet gone quiet.
  auto age_of = [&](const MachineSummary& v) { return v.latest ? newest - v.latest->time : 0.0; };
  auto stale = [&](const MachineSummary& v) {
    if (!v.latest || v.interval <= 0) return false;
    const double late = 3 * v.interval;
    return age_of(v) > late ||
           (time_type == spec::TimeType::kTimestamp && now - v.received_at > late);
  };
  size_t alarms = 0, stale_count = 0;
  json facets = json::object();
  std::vector<std::vector<int64_t>> facet_counts;
  if (layout) {
    for (const features::CategoricalInput& c : layout->static_categorical) {
      facet_counts.emplace_back(c.values.size(), 0);
    }
  }
  std::vector<const MachineSummary*> matched;
  matched.reserve(views.size());
  for (const MachineSummary& v : views) {
    const bool alarm = v.latest && v.latest->alarm;
    const bool late = stale(v);
    alarms += alarm ? 1 : 0;
    stale_count += late ? 1 : 0;
    for (size_t a = 0; a < facet_counts.size() && a < v.categorical.size(); ++a) {
      const int32_t code = v.categorical[a];
      if (code >= 0 && static_cast<size_t>(code) < facet_counts[a].size()) {
        ++facet_counts[a][static_cast<size_t>(code)];
      }
    }
    if (state == "alarm" && !alarm) continue;
    if (state == "stale" && !late) continue;
    if (state == "ok" && (!v.latest || alarm || late)) continue;
    if (state == "unscored" && v.latest) continue;
    if (!search.empty() && v.machine.find(search) == std::string::npos) continue;
    const bool attributes_match =
        std::all_of(attribute_filters.begin(), attribute_filters.end(), [&](const auto& f) {
          return f.first < v.categorical.size() && v.categorical[f.first] == f.second;
        });
    if (!attributes_match) continue;
    matched.push_back(&v);
  }
  // Riskiest first by default: highest probability, or lowest remaining life. Ages and reading
  // counts default to the largest first, names to A-Z. Unscored machines always come last.
  const bool descending = !order.empty()   ? order == "desc"
                          : sort == "risk" ? task != model::Task::kRul
                                           : sort != "machine";
  auto key = [&](const MachineSummary& v) {
    if (sort == "age") return age_of(v);
    if (sort == "readings") return static_cast<double>(v.readings);
    return v.latest ? v.latest->score : 0.0;
  };
  auto before = [&](const MachineSummary* a, const MachineSummary* b) {
    if (a->latest.has_value() != b->latest.has_value()) return a->latest.has_value();
    if (sort != "machine") {
      const double ka = key(*a), kb = key(*b);
      if (ka != kb) return descending ? ka > kb : ka < kb;
      return a->machine < b->machine;
    }
    return descending ? a->machine > b->machine : a->machine < b->machine;
  };
  const size_t page_end = std::min(matched.size(), offset + limit);
  if (offset < matched.size()) {
    std::partial_sort(matched.begin(), matched.begin() + static_cast<std::ptrdiff_t>(page_end),
                      matched.end(), before);
  }
  // The page's rows in full (their trends and attributes), as of now.
  json list = json::array();
  for (size_t i = offset; i < page_end; ++i) {
    const std::optional<MachineView> v = fleet_.Get(matched[i]->machine);
    if (!v) continue;
    json m = v->latest ? PointJson(*v->latest, task, time_type) : json::object();
    m["machine"] = v->machine;
    m["readings"] = v->readings;
    m["refused"] = v->refused;
    if (layout) m["attributes"] = AttributesJson(v->statics, *layout);
    m["trend"] = v->trend();
    if (v->latest) m["age"] = std::max(0.0, newest - v->latest->time);
    m["stale"] = stale(*matched[i]);
    list.push_back(std::move(m));
  }
  if (layout) {
    for (size_t a = 0; a < facet_counts.size(); ++a) {
      json counts = json::object();
      for (size_t c = 0; c < facet_counts[a].size(); ++c) {
        counts[layout->static_categorical[a].values[c]] = facet_counts[a][c];
      }
      facets[layout->static_categorical[a].name] = std::move(counts);
    }
  }
  json out = {{"machines", list},
              {"count", views.size()},
              {"matched", matched.size()},
              {"offset", offset},
              {"limit", limit},
              {"alarms", alarms},
              {"stale", stale_count},
              {"facets", facets},
              {"score", task != model::Task::kRul ? "probability" : "rul"}};
  if (std::isfinite(newest)) {
    out["newest"] = time_type == spec::TimeType::kTimestamp
                        ? json(core::FormatTimestamp(static_cast<int64_t>(std::floor(newest))))
                        : json(newest);
  }
  if (served && task != model::Task::kRul) {
    out["threshold"] = served->bundle.ensemble.combiner.threshold;
  }
  return Json(200, out);
}

HttpResponse Api::Machine(std::string_view id) {
  const std::string machine(id);
  std::optional<MachineView> view = fleet_.Get(machine);
  if (!view) {
    return Error(404, core::StrCat("machine '", id.substr(0, kMaxMachineIdLength),
                                   "' has sent no reading to this server"));
  }
  const std::shared_ptr<const ServedModel> served = models_->current();
  const model::Task task = served ? served->bundle.ensemble.task : model::Task::kClassify;
  const spec::TimeType time_type = served && served->bundle.pipeline
                                       ? served->bundle.pipeline->layout().time_type
                                       : spec::TimeType::kNone;
  json out = view->latest ? PointJson(*view->latest, task, time_type) : json::object();
  out["machine"] = view->machine;
  out["readings"] = view->readings;
  out["refused"] = view->refused;
  out["state_resets"] = view->state_resets;
  if (served && served->bundle.pipeline) {
    const features::InputLayout& layout = served->bundle.pipeline->layout();
    json last = json::object();
    for (size_t j = 0; j < view->last_numeric.size() && j < layout.numeric.size(); ++j) {
      last[layout.numeric[j]] =
          std::isnan(view->last_numeric[j]) ? json(nullptr) : json(view->last_numeric[j]);
    }
    for (size_t j = 0; j < view->last_categorical.size() && j < layout.categorical.size(); ++j) {
      const int32_t code = view->last_categorical[j];
      last[layout.categorical[j].name] =
          code < 0 ? json(nullptr) : json(layout.categorical[j].values[static_cast<size_t>(code)]);
    }
    out["last_readings"] = std::move(last);
    out["attributes"] = AttributesJson(view->statics, layout);
    json events = json::array();
    for (const MachineEvent& e : view->events) {
      const std::vector<std::string>& kinds =
          e.type == features::EventType::kFailure       ? layout.failure_kinds
          : e.type == features::EventType::kMaintenance ? layout.maintenance_kinds
                                                        : layout.error_kinds;
      json event = {{"type", e.type == features::EventType::kFailure       ? "failure"
                             : e.type == features::EventType::kMaintenance ? "maintenance"
                                                                           : "error"}};
      event["time"] = time_type == spec::TimeType::kTimestamp
                          ? json(core::FormatTimestamp(static_cast<int64_t>(std::floor(e.time))))
                          : json(e.time);
      if (e.kind >= 0 && static_cast<size_t>(e.kind) < kinds.size()) {
        event["kind"] = kinds[static_cast<size_t>(e.kind)];
      }
      events.push_back(std::move(event));
    }
    out["events"] = std::move(events);
  }
  out["trend"] = view->trend();
  if (view->interval > 0) out["interval"] = view->interval;
  if (task != model::Task::kRul && served) {
    out["threshold"] = served->bundle.ensemble.combiner.threshold;
  }
  // What drives the current risk: TreeSHAP of the latest scored reading, when the model that
  // scored it is still the served one.
  if (served) {
    auto [features, version] = fleet_.LastFeatures(machine);
    const model::Ensemble& ensemble = served->bundle.ensemble;
    if (!features.empty() && version == served->version &&
        features.size() == ensemble.feature_names.size()) {
      model::DenseMatrix x;
      x.rows = 1;
      x.cols = features.size();
      x.values = features;
      auto explained = ensemble.Explain(x, 1);
      if (explained.ok() && explained->contributions.size() > x.cols) {
        const auto& c = explained->contributions;
        std::vector<size_t> order(x.cols);
        for (size_t j = 0; j < x.cols; ++j) order[j] = j;
        const size_t top = std::min<size_t>(10, x.cols);
        std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(top),
                          order.end(),
                          [&](size_t a, size_t b) { return std::fabs(c[a]) > std::fabs(c[b]); });
        json list = json::array();
        for (size_t k = 0; k < top; ++k) {
          const float value = features[order[k]];
          list.push_back({{"feature", ensemble.feature_names[order[k]]},
                          {"value", std::isnan(value) ? json(nullptr) : json(value)},
                          {"contribution", c[order[k]]}});
        }
        out["contributions"] = {{"top", list}, {"bias", c[x.cols]}, {"unit", "margin"}};
      }
    }
    // Each sensor's window statistics at its latest reading (the features computed from it).
    if (!features.empty() && served->bundle.pipeline &&
        features.size() == served->bundle.pipeline->feature_facts().size()) {
      const auto& facts = served->bundle.pipeline->feature_facts();
      json windows = json::object();
      for (size_t j = 0; j < facts.size(); ++j) {
        if (facts[j].kind != features::FeatureFacts::Kind::kWindow) continue;
        windows[facts[j].source][ensemble.feature_names[j]] =
            std::isnan(features[j]) ? json(nullptr) : json(features[j]);
      }
      out["windows"] = std::move(windows);
    }
  }
  // The recent history is the Store's: every scored reading was appended there.
  if (options_.store_telemetry) {
    if (served && served->bundle.pipeline) {
      const size_t sensors = served->bundle.pipeline->layout().numeric.size();
      auto rows = models_->registry().store().RecentTelemetry(
          machine, static_cast<int>(kHistoryLength * std::max<size_t>(1, sensors)));
      if (rows.ok()) {
        json by_sensor = json::object();
        for (auto it = rows->rbegin(); it != rows->rend(); ++it) {  // oldest first
          const double t = static_cast<double>(it->time_us) / 1e6;
          by_sensor[it->sensor].push_back(
              {time_type == spec::TimeType::kTimestamp
                   ? json(core::FormatTimestamp(static_cast<int64_t>(std::floor(t))))
                   : json(t),
               it->value});
        }
        out["sensors"] = std::move(by_sensor);
      }
    }
    auto stored = models_->registry().store().RecentPredictions(machine, kHistoryLength);
    if (stored.ok()) {
      json history = json::array();
      for (auto it = stored->rbegin(); it != stored->rend(); ++it) {  // oldest first
        const RiskPoint p{static_cast<double>(it->time_us) / 1e6, it->score, it->alarm,
                          it->version};
        history.push_back(PointJson(p, task, time_type));
      }
      out["history"] = std::move(history);
    } else {
      out["history_error"] = std::string(stored.status().message());
    }
  }
  return Json(200, out);
}

}  // namespace pdm::serving
