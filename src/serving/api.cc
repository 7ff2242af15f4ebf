#include "serving/api.h"

#include <openssl/crypto.h>

#include <algorithm>
#include <cfloat>
#include <cmath>

#include "core/strings.h"
#include "nlohmann/json.hpp"

namespace pdm::serving {
namespace {

using json = nlohmann::json;

constexpr int kMaxJsonDepth = 32;

HttpResponse Json(int status, const json& body) {
  return HttpResponse{status, "application/json", body.dump(), {}};
}

HttpResponse Error(int status, const std::string& message, json details = json::array()) {
  json body = {{"error", message}};
  if (!details.empty()) body["details"] = std::move(details);
  return Json(status, body);
}

// Deeper nesting than any valid request is refused before parsing.
bool NestedTooDeep(std::string_view body) {
  int depth = 0;
  bool in_string = false, escaped = false;
  for (char c : body) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') in_string = true;
    if (c == '{' || c == '[') {
      if (++depth > kMaxJsonDepth) return true;
    } else if (c == '}' || c == ']') {
      --depth;
    }
  }
  return false;
}

// A JSON value as it appeared, shortened, for error details.
json Shown(const json& value) {
  std::string text = value.dump(-1, ' ', false, json::error_handler_t::replace);
  if (text.size() > 64) text = text.substr(0, 61) + "...";
  return text;
}

// The feature row of one record, or the reasons it has none.
bool ReadRecord(const json& record, const ServedModel& model, bool allow_unknown, float* row,
                json* details) {
  if (!record.is_object()) {
    details->push_back({{"field", ""},
                        {"reason", "expected an object of feature: number"},
                        {"value", Shown(record)}});
    return false;
  }
  const json* features = &record;
  if (auto it = record.find("features"); it != record.end() && it->is_object()) {
    features = &*it;
  }
  const auto& names = model.bundle.ensemble.feature_names;
  for (size_t i = 0; i < names.size(); ++i) {
    auto it = features->find(names[i]);
    if (it == features->end()) {
      details->push_back({{"field", names[i]}, {"reason", "missing"}});
      continue;
    }
    if (it->is_null()) {  // an explicit null: a missing value, which the trees route
      row[i] = std::nanf("");
      continue;
    }
    if (!it->is_number()) {
      details->push_back({{"field", names[i]}, {"reason", "not a number"}, {"value", Shown(*it)}});
      continue;
    }
    const double v = it->get<double>();
    if (!std::isfinite(v)) {
      details->push_back({{"field", names[i]}, {"reason", "not finite"}, {"value", Shown(*it)}});
    } else if (std::fabs(v) > FLT_MAX) {
      details->push_back({{"field", names[i]},
                          {"reason", "out of range (beyond float32)"},
                          {"value", Shown(*it)}});
    } else if (auto range = model.ranges.find(names[i]);
               range != model.ranges.end() &&
               (v < range->second.first || v > range->second.second)) {
      details->push_back({{"field", names[i]},
                          {"reason", core::StrCat("out of range [", range->second.first, ", ",
                                                  range->second.second, "]")},
                          {"value", Shown(*it)}});
    } else {
      row[i] = static_cast<float>(v);
    }
  }
  if (!allow_unknown) {
    for (const auto& [key, value] : features->items()) {
      if (!model.feature_index.contains(key)) {
        details->push_back({{"field", key}, {"reason", "unknown field"}, {"value", Shown(value)}});
      }
    }
  }
  return details->empty();
}

json ResultJson(const ServedModel& model, const model::Prediction& p) {
  const model::Ensemble& e = model.bundle.ensemble;
  if (e.task == model::Task::kClassify) {
    return {{"probability", p.probability},
            {"alarm", p.alarm},
            {"decision", p.alarm ? "alarm" : "ok"},
            {"threshold", e.combiner.threshold}};
  }
  json out = {{"rul", p.margin}, {"alarm", p.alarm}, {"decision", p.alarm ? "alarm" : "ok"}};
  if (e.horizon) out["horizon"] = *e.horizon;
  return out;
}

// Whether the query string has `name=true` (or `name=1`) among its &-separated parameters.
bool QueryFlag(std::string_view query, std::string_view name) {
  while (!query.empty()) {
    const size_t amp = query.find('&');
    const std::string_view param = query.substr(0, amp);
    if (param == core::StrCat(name, "=true") || param == core::StrCat(name, "=1")) return true;
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return false;
}

bool TokenMatches(const std::string& authorization, const std::string& token) {
  constexpr std::string_view kBearer = "Bearer ";
  if (token.empty() || !authorization.starts_with(kBearer)) return false;
  const std::string_view given = std::string_view(authorization).substr(kBearer.size());
  // Constant time in the token's content (the length is not secret).
  return given.size() == token.size() &&
         CRYPTO_memcmp(given.data(), token.data(), token.size()) == 0;
}

}  // namespace

HttpResponse Api::Handle(const HttpRequest& request) {
  const std::string& path = request.path;
  auto only = [&](const char* method) -> std::optional<HttpResponse> {
    if (request.method == method) return std::nullopt;
    HttpResponse r = Error(405, core::StrCat(request.method, " ", path, ": method not allowed"));
    r.headers.emplace_back("Allow", method);
    return r;
  };
  if (path == "/livez" || path == "/v2/health/live") {
    if (auto r = only("GET")) return *r;
    return Json(200, {{"live", true}});
  }
  if (path == "/readyz" || path == "/v2/health/ready") {
    if (auto r = only("GET")) return *r;
    const bool loaded = models_->current() != nullptr;
    const bool store = models_->registry().store().SchemaVersion().ok();
    return Json(loaded && store ? 200 : 503,
                {{"ready", loaded && store}, {"model_loaded", loaded}, {"store_reachable", store}});
  }
  if (path == "/api/v1/predict" || path == "/api/v1/predict/batch") {
    if (auto r = only("POST")) return *r;
    return Predict(request, path.ends_with("/batch"));
  }
  if (path == "/api/v1/models") {
    if (auto r = only("GET")) return *r;
    return Models();
  }
  constexpr std::string_view kModels = "/api/v1/models/";
  if (path.starts_with(kModels) && path.ends_with("/reload")) {
    if (auto r = only("POST")) return *r;
    return Reload(request, path.substr(kModels.size(), path.size() - kModels.size() - 7));
  }
  return Error(404, core::StrCat("no route ", path));
}

HttpResponse Api::Predict(const HttpRequest& request, bool batch) {
  if (!request.content_type.starts_with("application/json")) {
    return Error(415, core::StrCat("Content-Type must be application/json, not '",
                                   request.content_type.substr(0, 64), "'"));
  }
  if (NestedTooDeep(request.body)) {
    return Error(400, core::StrCat("JSON nested deeper than ", kMaxJsonDepth, " levels"));
  }
  const json body = json::parse(request.body, nullptr, /*allow_exceptions=*/false);
  if (body.is_discarded()) return Error(400, "malformed JSON (or not UTF-8)");
  const std::shared_ptr<const ServedModel> served = models_->current();
  if (!served) return Error(503, "no model loaded");
  const model::Ensemble& ensemble = served->bundle.ensemble;

  std::vector<const json*> records;
  if (batch) {
    const json* list = &body;
    if (body.is_object() && body.contains("instances")) list = &body["instances"];
    if (!list->is_array()) {
      return Error(422, "expected a JSON array of records, or {\"instances\": [...]}");
    }
    if (list->empty()) return Error(422, "the batch is empty");
    if (list->size() > options_.max_batch) {
      return Error(
          413, core::StrCat("batch of ", list->size(), " records; at most ", options_.max_batch));
    }
    for (const json& r : *list) records.push_back(&r);
  } else {
    records.push_back(&body);
  }

  const size_t width = ensemble.feature_names.size();
  model::DenseMatrix x;
  x.cols = width;
  std::vector<json> errors(records.size());
  std::vector<size_t> valid;
  std::vector<float> row(width);
  for (size_t i = 0; i < records.size(); ++i) {
    json details = json::array();
    std::fill(row.begin(), row.end(), 0.0f);
    if (ReadRecord(*records[i], *served, options_.allow_unknown_fields, row.data(), &details)) {
      x.values.insert(x.values.end(), row.begin(), row.end());
      valid.push_back(i);
    } else {
      errors[i] = std::move(details);
    }
  }
  x.rows = valid.size();
  if (!batch && valid.empty()) return Error(422, "invalid record", errors[0]);

  std::vector<model::Prediction> predictions;
  if (x.rows > 0) {
    auto scored = ensemble.Predict(x, 1);
    if (!scored.ok()) return Error(500, "scoring failed");
    predictions = std::move(*scored);
  }
  json head = {{"model", served->name}, {"version", served->version}};
  if (!batch) {
    json out = ResultJson(*served, predictions[0]);
    out.update(head);
    if (QueryFlag(request.query, "explain")) {
      auto explained = ensemble.Explain(x, 1);
      if (explained.ok()) {
        std::vector<size_t> order(width);
        for (size_t j = 0; j < width; ++j) order[j] = j;
        const auto& c = explained->contributions;
        std::sort(order.begin(), order.end(),
                  [&](size_t a, size_t b) { return std::fabs(c[a]) > std::fabs(c[b]); });
        json top = json::array();
        for (size_t k = 0; k < std::min<size_t>(5, width); ++k) {
          top.push_back(
              {{"feature", ensemble.feature_names[order[k]]}, {"contribution", c[order[k]]}});
        }
        out["explanation"] = {{"top", top}, {"bias", c[width]}};
      }
    }
    return Json(200, out);
  }
  json results = json::array();
  size_t next = 0;
  for (size_t i = 0; i < records.size(); ++i) {
    if (next < valid.size() && valid[next] == i) {
      json r = ResultJson(*served, predictions[next++]);
      r["index"] = i;
      results.push_back(std::move(r));
    } else {
      results.push_back({{"index", i}, {"error", "invalid record"}, {"details", errors[i]}});
    }
  }
  head["results"] = std::move(results);
  head["scored"] = valid.size();
  head["refused"] = records.size() - valid.size();
  return Json(200, head);
}

HttpResponse Api::Models() {
  json list = json::array();
  if (auto served = models_->current()) {
    const model::Ensemble& e = served->bundle.ensemble;
    json members = json::array();
    for (const auto& m : e.members) members.push_back(model::LearnerName(m.kind));
    list.push_back({{"name", served->name},
                    {"version", served->version},
                    {"alias", served->alias},
                    {"artifact_hash", served->artifact_hash},
                    {"task", model::TaskName(e.task)},
                    {"members", members},
                    {"features", e.feature_names}});
  }
  return Json(200, {{"models", list}});
}

HttpResponse Api::Reload(const HttpRequest& request, const std::string& name) {
  if (options_.token.empty()) {
    return Error(403, "reload is disabled: no token is configured (PDM_SERVE_TOKEN)");
  }
  if (!TokenMatches(request.authorization, options_.token)) {
    HttpResponse r = Error(401, "a valid bearer token is required");
    r.headers.emplace_back("WWW-Authenticate", "Bearer");
    return r;
  }
  if (name != models_->name()) return Error(404, core::StrCat("model '", name, "' is not served"));
  auto reloaded = models_->Reload();
  if (!reloaded.ok()) return Error(409, std::string(reloaded.status().message()));
  return Json(200, {{"name", (*reloaded)->name}, {"version", (*reloaded)->version}});
}

}  // namespace pdm::serving
