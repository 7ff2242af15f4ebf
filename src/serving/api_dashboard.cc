// The routes the dashboard (web/) reads beside the API's others: its embedded files, the live
// event stream, the registry's versions and alias moves, a version's training report, and the
// business case of the served model.
#include <charconv>
#include <fstream>
#include <sstream>

#include "core/strings.h"
#include "core/time.h"
#include "econ/business_case.h"
#include "econ/report.h"
#include "econ/threshold.h"
#include "serving/api.h"
#include "serving/json_body.h"
#include "web/assets.h"

namespace pdm::serving {
namespace {

using json = nlohmann::json;

constexpr size_t kMaxReasonLength = 500;

// A JSON column of the store (metrics, params), parsed; null when it is empty or not JSON.
json ParsedOrNull(const std::string& text) {
  if (text.empty()) return nullptr;
  json parsed = json::parse(text, nullptr, /*allow_exceptions=*/false);
  return parsed.is_discarded() ? json(nullptr) : parsed;
}

std::optional<int64_t> ParseVersion(std::string_view text) {
  int64_t v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || v <= 0) return std::nullopt;
  return v;
}

}  // namespace

HttpResponse Api::Asset(std::string_view path) {
  const web::Asset* asset = web::FindAsset(path);
  if (asset == nullptr) return Error(404, core::StrCat("no file ", path.substr(0, 256)));
  HttpResponse r{200, std::string(asset->content_type), std::string(asset->bytes), {}, nullptr};
  // The files change only with the binary: a page revalidates on each load (cheap, local).
  r.headers.emplace_back("Cache-Control", "no-cache");
  return r;
}

HttpResponse Api::Stream(const HttpRequest& request) {
  if (events_->subscribers.load() >= static_cast<int64_t>(options_.max_streams)) {
    HttpResponse r = Error(503, core::StrCat("too many event streams open (", options_.max_streams,
                                             "): poll the routes instead"));
    r.headers.emplace_back("Retry-After", "10");
    return r;
  }
  // From the event after the client's last one (an EventSource's reconnection), else from now.
  int64_t after = events_->last_id();
  std::string_view cursor = request.last_event_id;
  if (auto q = QueryValue(request.query, "after")) cursor = *q;
  if (!cursor.empty()) {
    int64_t given = 0;
    const auto [end, ec] = std::from_chars(cursor.data(), cursor.data() + cursor.size(), given);
    if (ec == std::errc() && end == cursor.data() + cursor.size() && given >= 0) after = given;
  }
  // Model swaps are seen by polling the served model: whoever moved the alias (this server, the
  // CLI, another replica through the watcher), each subscriber hears of it once.
  auto seen = std::make_shared<std::string>();
  if (auto served = models_->current()) *seen = served->artifact_hash;
  ModelManager* models = models_;
  auto extra = [models, seen](std::string* out) {
    const std::shared_ptr<const ServedModel> served = models->current();
    if (!served || served->artifact_hash == *seen) return;
    *seen = served->artifact_hash;
    const json model = {{"name", served->name},
                        {"version", served->version},
                        {"alias", served->alias},
                        {"artifact_hash", served->artifact_hash}};
    core::StrAppend(out, "event: model\ndata: ",
                    model.dump(-1, ' ', false, json::error_handler_t::replace), "\n\n");
  };
  HttpResponse r{200, "text/event-stream", "", {}, nullptr};
  r.headers.emplace_back("Cache-Control", "no-cache");
  r.headers.emplace_back("X-Accel-Buffering", "no");
  r.stream = std::make_shared<EventStreamBody>(events_, after, std::move(extra));
  return r;
}

void Api::PublishAlert(const store::AlertRow& a) {
  if (options_.on_alert) options_.on_alert(a);
  if (events_->subscribers.load() == 0) return;
  json out = {{"id", a.id},
              {"machine", a.machine},
              {"kind", a.kind},
              {"failure_mode", a.failure_mode},
              {"severity", a.severity},
              {"state", a.state}};
  if (!a.resolution.empty()) out["resolution"] = a.resolution;
  events_->Publish("alert", out.dump(-1, ' ', false, json::error_handler_t::replace));
}

HttpResponse Api::ModelVersions(std::string_view name_view) {
  const std::string name(name_view.substr(0, 128));
  store::Store& store = models_->registry().store();
  auto versions = store.ListModelVersions(name);
  if (!versions.ok())
    return Error(503, core::StrCat("the registry: ", versions.status().message()));
  if (versions->empty()) return Error(404, core::StrCat("no model '", name, "' in the registry"));
  auto aliases = store.Aliases(name);
  if (!aliases.ok()) return Error(503, core::StrCat("the registry: ", aliases.status().message()));
  auto audit = store.AuditLog(name);
  if (!audit.ok()) return Error(503, core::StrCat("the registry: ", audit.status().message()));
  json list = json::array();
  for (const store::ModelVersion& v : *versions) {
    json held = json::array();
    for (const auto& [alias, version] : *aliases) {
      if (version == v.version) held.push_back(alias);
    }
    list.push_back({{"version", v.version},
                    {"created", WallTime(v.created_us)},
                    {"aliases", held},
                    {"artifact_hash", v.artifact_hash},
                    {"feature_spec_hash", v.feature_spec_hash},
                    {"dataset_fingerprint", v.dataset_fingerprint},
                    {"seed", v.seed},
                    {"metrics", ParsedOrNull(v.metrics_json)},
                    {"pdm_version", v.pdm_version},
                    {"git_commit", v.git_commit},
                    {"actor", v.actor},
                    {"description", v.description}});
  }
  json log = json::array();
  for (auto it = audit->rbegin(); it != audit->rend() && log.size() < 200; ++it) {  // newest first
    json e = {{"id", it->id},
              {"time", WallTime(it->time_us)},
              {"action", it->action},
              {"alias", it->alias},
              {"reason", it->reason},
              {"actor", it->actor},
              {"from_version", nullptr},
              {"to_version", nullptr}};
    if (it->from_version) e["from_version"] = *it->from_version;
    if (it->to_version) e["to_version"] = *it->to_version;
    log.push_back(std::move(e));
  }
  json served = nullptr;
  if (auto current = models_->current(); current && current->name == name) {
    served = {{"version", current->version}, {"alias", current->alias}};
  }
  json alias_map = json::object();
  for (const auto& [alias, version] : *aliases) alias_map[alias] = version;
  return Json(200, {{"name", name},
                    {"served", served},
                    {"aliases", alias_map},
                    {"versions", list},
                    {"audit", log}});
}

HttpResponse Api::MoveAlias(const HttpRequest& request, std::string_view name_view,
                            std::string_view alias_view) {
  if (auto refused = RequireToken(request, "alias moves")) return std::move(*refused);
  json body;
  if (auto refused = ParseJsonBody(request, &body)) {
    return Refuse(refused->status, refused->reason, refused->message);
  }
  json details = json::array();
  if (!body.is_object()) {
    details.push_back({{"field", ""}, {"reason", "expected an object"}, {"value", Shown(body)}});
    return Error(422, "invalid alias move", std::move(details));
  }
  const std::string name(name_view.substr(0, 128)), alias(alias_view.substr(0, 64));
  std::optional<int64_t> version;
  bool rollback = false;
  std::string reason = "moved through the API", actor = "api";
  for (const auto& item : body.items()) {
    const std::string& key = item.key();
    const json& value = item.value();
    if (key == "version" && value.is_number_integer() && value.get<int64_t>() > 0) {
      version = value.get<int64_t>();
    } else if (key == "rollback" && value.is_boolean()) {
      rollback = value.get<bool>();
    } else if ((key == "reason" || key == "by") && value.is_string() &&
               value.get<std::string>().size() <= kMaxReasonLength) {
      (key == "reason" ? reason : actor) = value.get<std::string>();
    } else if (key == "version" || key == "rollback" || key == "reason" || key == "by") {
      details.push_back({{"field", key},
                         {"reason", key == "version"    ? "expected a version number (1, 2, ...)"
                                    : key == "rollback" ? "expected true or false"
                                                        : "expected a string of at most 500 bytes"},
                         {"value", Shown(value)}});
    } else {
      details.push_back({{"field", key}, {"reason", "unknown field"}, {"value", Shown(value)}});
    }
  }
  if (rollback == version.has_value()) {
    details.push_back({{"field", "version"},
                       {"reason", "give either a version to promote or \"rollback\": true"}});
  }
  if (!details.empty()) return Error(422, "invalid alias move", std::move(details));
  registry::Registry& registry = models_->registry();
  auto moved = rollback ? registry.Rollback(name, alias, reason, actor)
                        : registry.Promote(name, *version, alias, reason, actor);
  if (!moved.ok()) {
    const int status = absl::IsNotFound(moved.status())             ? 404
                       : absl::IsFailedPrecondition(moved.status()) ? 409
                       : absl::IsInvalidArgument(moved.status())    ? 422
                                                                    : 503;
    return Error(status, std::string(moved.status().message()));
  }
  json out = {{"name", name}, {"alias", alias}, {"version", moved->to}};
  if (moved->from) out["from_version"] = *moved->from;
  // The served alias moved: swap now (the watcher would, later). A version that fails to load
  // leaves the current one serving, and the answer says so.
  if (name == models_->name() && alias == models_->alias()) {
    auto reloaded = models_->Reload();
    out["served_version"] = reloaded.ok() ? json((*reloaded)->version) : json(nullptr);
    if (!reloaded.ok()) out["reload_error"] = std::string(reloaded.status().message());
  }
  return Json(200, out);
}

HttpResponse Api::VersionReport(std::string_view name_view, std::string_view version_text) {
  const std::optional<int64_t> version = ParseVersion(version_text);
  if (!version) {
    return Error(422, "invalid version",
                 json::array({{{"field", "version"},
                               {"reason", "expected a version number (1, 2, ...)"},
                               {"value", std::string(version_text.substr(0, 32))}}}));
  }
  const std::string name(name_view.substr(0, 128));
  auto found = models_->registry().store().GetModelVersion(name, *version);
  if (!found.ok()) return Error(503, core::StrCat("the registry: ", found.status().message()));
  if (!found->has_value()) {
    return Error(404, core::StrCat("no version ", *version, " of '", name, "'"));
  }
  const std::filesystem::path path = models_->registry().ReportPath(**found);
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return Error(404, core::StrCat(name, " v", *version,
                                   " has no training report (registered before reports were "
                                   "kept, or from a run without one)"));
  }
  std::ostringstream text;
  text << in.rdbuf();
  HttpResponse r{200, "text/html; charset=utf-8", text.str(), {}, nullptr};
  // One self-contained page: inline styles and SVG, no script.
  r.headers.emplace_back("Content-Security-Policy",
                         "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
                         "base-uri 'none'; form-action 'none'; frame-ancestors 'none'");
  return r;
}

HttpResponse Api::Roi() {
  if (!options_.roi) {
    return Error(404,
                 "no business case configured: start pdm serve with --roi FILE (e.g. "
                 "specs/roi-example.yaml); its detection then comes from the served model");
  }
  const std::shared_ptr<const ServedModel> served = models_->current();
  if (!served) return Error(503, "no model loaded");
  econ::RoiConfig config = *options_.roi;
  json detection_from = "config";
  if (config.healthy_decisions_per_year <= 0) {
    detection_from =
        "the config (set detection.healthy_decisions_per_year to use the model's measured errors)";
  } else if (served->bundle.ensemble.task != model::Task::kRul) {
    auto version = models_->registry().store().GetModelVersion(served->name, served->version);
    if (version.ok() && version->has_value() && !(*version)->metrics_json.empty()) {
      const std::string where = core::StrCat(served->name, " v", served->version, " metrics");
      absl::Status applied = econ::ApplyMetricsText((*version)->metrics_json, where, &config);
      if (!applied.ok()) return Error(409, std::string(applied.message()));
      detection_from = where;
    }
  }
  auto business_case = econ::ComputeBusinessCase(config.inputs);
  if (!business_case.ok()) return Error(409, std::string(business_case.status().message()));
  // The cost-optimal threshold over the version's out-of-fold scores, when they were registered.
  std::optional<econ::ThresholdChoice> threshold;
  std::string threshold_reason;
  auto version = models_->registry().Resolve(served->name, std::to_string(served->version));
  const std::filesystem::path scores_path =
      version.ok() ? models_->registry().OofScoresPath(*version) : std::filesystem::path();
  if (served->bundle.ensemble.task != model::Task::kClassify) {
    threshold_reason = "a threshold sweep needs a binary classifier";
  } else if (scores_path.empty() || !std::filesystem::exists(scores_path)) {
    threshold_reason = "the served version was registered without its out-of-fold scores";
  } else {
    auto economics = econ::ThresholdEconomicsFor(config);
    auto scores = econ::ReadScores(scores_path);
    if (economics.ok() && scores.ok()) {
      auto choice = econ::CostOptimalThreshold(std::move(*scores), *economics);
      if (choice.ok()) {
        threshold = std::move(*choice);
      } else {
        threshold_reason = std::string(choice.status().message());
      }
    } else {
      threshold_reason =
          std::string(!economics.ok() ? economics.status().message() : scores.status().message());
    }
  }
  json out = json::parse(econ::BusinessCaseToJson(*business_case, threshold));
  if (!threshold) out["threshold_reason"] = threshold_reason;
  out["served_threshold"] = served->bundle.ensemble.task == model::Task::kRul
                                ? json(nullptr)
                                : json(served->bundle.ensemble.combiner.threshold);
  out["model"] = {{"name", served->name}, {"version", served->version}};
  out["config"] = std::filesystem::path(options_.roi_source).filename().string();  // no server path
  out["detection_from"] = detection_from;
  return Json(200, out);
}

}  // namespace pdm::serving
