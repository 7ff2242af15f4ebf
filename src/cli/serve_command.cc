// `pdm serve`: the REST inference server over a registry alias (docs/serving.md).
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/str_split.h"
#include "alert/alert_policy.h"
#include "cli/commands.h"
#include "core/log.h"
#include "core/strings.h"
#include "core/time.h"
#include "econ/roi_config.h"
#include "ingest/source_config.h"
#include "notify/webhook_sender.h"
#include "serving/api.h"
#include "serving/http_server.h"
#include "serving/metrics.h"
#include "serving/model_manager.h"

namespace pdm::cli {
namespace {

// `pdm serve`'s messages go through core/log.h: "pdm serve: ..." lines, or JSON with --log-format
// json.
template <typename... Args>
void Fail(fmt::format_string<Args...> format, Args&&... args) {
  core::LogError(fmt::format(format, std::forward<Args>(args)...));
}
template <typename... Args>
void Info(fmt::format_string<Args...> format, Args&&... args) {
  core::LogInfo(fmt::format(format, std::forward<Args>(args)...));
}
bool JsonLogs() { return core::GetLogFormat() == core::LogFormat::kJson; }

// The settings that take one of a few words.
absl::Status CheckWordSettings(const ServeOptions& args) {
  if (auto format = core::ParseLogFormat(args.log_format); !format.ok()) return format.status();
  const struct {
    const char* flag;
    const std::string& value;
    std::string_view first, second;
  } words[] = {{"--access-log", args.access_log, "on", "off"},
               {"--alerts", args.alerts, "on", "off"},
               {"--drift-thresholds", args.drift_thresholds, "calibrated", "fixed"}};
  for (const auto& w : words) {
    if (w.value != w.first && w.value != w.second) {
      return absl::InvalidArgumentError(
          fmt::format("{} '{}': expected {} or {}", w.flag, w.value, w.first, w.second));
    }
  }
  return absl::OkStatus();
}

// Parses `text` into `value`; false when it is not a value of that type.
template <typename T>
bool ParseValue(const std::string& text, T* value) {
  if constexpr (std::is_same_v<T, std::string>) {
    *value = text;
    return true;
  } else if constexpr (std::is_same_v<T, bool>) {
    if (text == "1" || text == "true") {
      *value = true;
    } else if (text == "0" || text == "false") {
      *value = false;
    } else {
      return false;
    }
    return true;
  } else if constexpr (std::is_floating_point_v<T>) {
    char* end = nullptr;
    errno = 0;
    const double parsed = std::strtod(text.c_str(), &end);
    if (text.empty() || *end != '\0' || errno != 0 || !std::isfinite(parsed)) return false;
    *value = static_cast<T>(parsed);
    return true;
  } else {
    char* end = nullptr;
    errno = 0;
    const long long parsed = std::strtoll(text.c_str(), &end, 10);
    if (text.empty() || *end != '\0' || errno != 0 || parsed < 0) return false;
    *value = static_cast<T>(parsed);
    return true;
  }
}

// Applies server.yaml: every key sets its option unless the flag was given. Unknown keys and
// values of the wrong type are refused with the key's path.
absl::Status ApplyConfig(const std::string& path, ServeOptions* args, CLI::App* cmd) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(core::StrCat(path, ": ", e.what()));
  }
  if (root.IsNull()) return absl::OkStatus();
  if (!root.IsMap()) return absl::InvalidArgumentError(core::StrCat(path, ": expected a mapping"));
  absl::Status status;
  auto set = [&](const YAML::Node& node, const std::string& key_path, const char* flag,
                 auto* value) {
    if (flag != nullptr && cmd->count(flag) > 0) return;
    std::string text;
    if (node.IsSequence()) {  // a list (cors.origins): comma-joined
      for (const YAML::Node& item : node) {
        if (!item.IsScalar()) break;
        text += (text.empty() ? "" : ",") + item.as<std::string>();
      }
    } else if (node.IsScalar()) {
      text = node.as<std::string>();
    }
    if ((!node.IsScalar() && !node.IsSequence()) || !ParseValue(text, value)) {
      status = absl::InvalidArgumentError(
          core::StrCat(path, ": ", key_path, ": not a valid value ('", text, "')"));
    }
  };
  for (const auto& entry : root) {
    const std::string key = entry.first.as<std::string>();
    const YAML::Node& v = entry.second;
    if (key == "registry") {
      if (std::getenv("PDM_REGISTRY") == nullptr) set(v, key, "--registry", &args->registry.dir);
    } else if (key == "store") {
      if (std::getenv("PDM_STORE") == nullptr) set(v, key, "--store", &args->registry.store);
    } else if (key == "model") {
      set(v, key, "--model", &args->model);
    } else if (key == "alias") {
      set(v, key, "--alias", &args->alias);
    } else if (key == "address") {
      set(v, key, "--address", &args->address);
    } else if (key == "port") {
      set(v, key, "--port", &args->port);
    } else if (key == "threads") {
      set(v, key, "--threads", &args->threads);
    } else if (key == "max_batch") {
      set(v, key, "--max-batch", &args->max_batch);
    } else if (key == "body_limit") {
      set(v, key, "--body-limit", &args->body_limit);
    } else if (key == "grace_ms") {
      set(v, key, "--grace-ms", &args->grace_ms);
    } else if (key == "drain_ms") {
      set(v, key, "--drain-ms", &args->drain_ms);
    } else if (key == "watch_ms") {
      set(v, key, "--watch-ms", &args->watch_ms);
    } else if (key == "roi") {
      set(v, key, "--roi", &args->roi);
    } else if (key == "max_streams") {
      set(v, key, "--max-streams", &args->max_streams);
    } else if (key == "explain_all") {
      set(v, key, "--explain-all", &args->explain_all);
    } else if (key == "store_telemetry") {
      set(v, key, "--no-store-telemetry", &args->store_telemetry);
    } else if (key == "max_machines") {
      set(v, key, "--max-machines", &args->max_machines);
    } else if (key == "score_every") {
      set(v, key, "--score-every", &args->score_every);
    } else if (key == "allow_unknown_fields") {
      set(v, key, "--allow-unknown-fields", &args->allow_unknown_fields);
    } else if (key == "drift_window") {
      set(v, key, "--drift-window", &args->drift_window);
    } else if (key == "drift_every") {
      set(v, key, "--drift-every", &args->drift_every);
    } else if (key == "drift_consecutive") {
      set(v, key, "--drift-consecutive", &args->drift_consecutive);
    } else if (key == "drift_min_rows") {
      set(v, key, "--drift-min-rows", &args->drift_min_rows);
    } else if (key == "drift_sample_above") {
      set(v, key, "--drift-sample-above", &args->drift_sample_above);
    } else if (key == "drift_thresholds") {
      set(v, key, "--drift-thresholds", &args->drift_thresholds);
    } else if (key == "alerts") {
      set(v, key, "--alerts", &args->alerts);
    } else if (key == "alert_high") {
      set(v, key, "--alert-high", &args->alert_high);
    } else if (key == "alert_consecutive") {
      set(v, key, "--alert-consecutive", &args->alert_consecutive);
    } else if (key == "alert_m_of_k") {
      set(v, key, "--alert-m-of-k", &args->alert_m_of_k);
    } else if (key == "alert_cooldown") {
      set(v, key, "--alert-cooldown", &args->alert_cooldown);
    } else if (key == "webhooks") {
      set(v, key, "--webhook", &args->webhooks);
    } else if (key == "webhook_secret_file") {
      set(v, key, "--webhook-secret-file", &args->webhook_secret_file);
    } else if (key == "webhook_max_attempts") {
      set(v, key, "--webhook-max-attempts", &args->webhook_max_attempts);
    } else if (key == "webhook_backoff_ms") {
      set(v, key, "--webhook-backoff-ms", &args->webhook_backoff_ms);
    } else if (key == "webhook_timeout_ms") {
      set(v, key, "--webhook-timeout-ms", &args->webhook_timeout_ms);
    } else if (key == "log_format") {
      set(v, key, "--log-format", &args->log_format);
    } else if (key == "access_log") {
      set(v, key, "--access-log", &args->access_log);
    } else if (key == "token") {
      set(v, key, nullptr, &args->token);
    } else if (key == "sources") {
      if (absl::Status s = ingest::ParseSources(path, v, &args->sources); !s.ok()) return s;
    } else if (key == "sinks") {
      if (absl::Status s = sink::ParseSinks(path, v, &args->sinks); !s.ok()) return s;
    } else if (key == "cors" && v.IsMap()) {
      for (const auto& c : v) {
        const std::string sub = c.first.as<std::string>();
        const std::string sub_path = "cors." + sub;
        if (sub == "origins") {
          set(c.second, sub_path, "--cors-origins", &args->cors_origins);
        } else if (sub == "methods") {
          set(c.second, sub_path, "--cors-methods", &args->cors_methods);
        } else if (sub == "headers") {
          set(c.second, sub_path, "--cors-headers", &args->cors_headers);
        } else if (sub == "max_age") {
          set(c.second, sub_path, "--cors-max-age", &args->cors_max_age);
        } else {
          return absl::InvalidArgumentError(core::StrCat(
              path, ": ", sub_path, ": unknown key (origins, methods, headers, max_age)"));
        }
      }
    } else {
      return absl::InvalidArgumentError(core::StrCat(
          path, ": ", key, ": unknown key (see `pdm serve --help` and docs/serving.md)"));
    }
    if (!status.ok()) return status;
  }
  return absl::OkStatus();
}

int RunServe(ServeOptions args, CLI::App* cmd) {
  core::SetLogProgram("pdm serve");
  if (args.config.empty()) {
    if (const char* config = std::getenv("PDM_CONFIG"); config != nullptr) args.config = config;
  }
  if (!args.config.empty()) {
    if (absl::Status s = ApplyConfig(args.config, &args, cmd); !s.ok()) {
      Fail("{}", s.message());
      return kExitBadInput;
    }
  }
  // Every flag not given on the command line comes from its PDM_* variable when set (over the
  // config file's value).
  bool env_ok = true;
  auto env = [&](const char* flag, const char* name, auto* value) {
    const char* text = std::getenv(name);
    if ((flag != nullptr && cmd->count(flag) > 0) || text == nullptr || *text == '\0') return;
    if (!ParseValue(std::string(text), value)) {
      Fail("${}: not a valid value ('{}')", name, text);
      env_ok = false;
    }
  };
  env("--model", "PDM_MODEL", &args.model);
  env("--alias", "PDM_ALIAS", &args.alias);
  env("--address", "PDM_ADDRESS", &args.address);
  env("--port", "PDM_PORT", &args.port);
  env("--threads", "PDM_THREADS", &args.threads);
  env("--max-batch", "PDM_MAX_BATCH", &args.max_batch);
  env("--body-limit", "PDM_BODY_LIMIT", &args.body_limit);
  env("--grace-ms", "PDM_GRACE_MS", &args.grace_ms);
  env("--drain-ms", "PDM_DRAIN_MS", &args.drain_ms);
  env("--watch-ms", "PDM_WATCH_MS", &args.watch_ms);
  env("--max-machines", "PDM_MAX_MACHINES", &args.max_machines);
  env("--score-every", "PDM_SCORE_EVERY", &args.score_every);
  env("--no-store-telemetry", "PDM_STORE_TELEMETRY", &args.store_telemetry);
  env("--allow-unknown-fields", "PDM_ALLOW_UNKNOWN_FIELDS", &args.allow_unknown_fields);
  env(nullptr, "PDM_SERVE_TOKEN", &args.token);
  env("--cors-origins", "PDM_CORS_ORIGINS", &args.cors_origins);
  env("--cors-methods", "PDM_CORS_METHODS", &args.cors_methods);
  env("--cors-headers", "PDM_CORS_HEADERS", &args.cors_headers);
  env("--cors-max-age", "PDM_CORS_MAX_AGE", &args.cors_max_age);
  env("--drift-window", "PDM_DRIFT_WINDOW", &args.drift_window);
  env("--drift-every", "PDM_DRIFT_EVERY", &args.drift_every);
  env("--drift-consecutive", "PDM_DRIFT_CONSECUTIVE", &args.drift_consecutive);
  env("--drift-min-rows", "PDM_DRIFT_MIN_ROWS", &args.drift_min_rows);
  env("--drift-sample-above", "PDM_DRIFT_SAMPLE_ABOVE", &args.drift_sample_above);
  env("--drift-thresholds", "PDM_DRIFT_THRESHOLDS", &args.drift_thresholds);
  env("--alerts", "PDM_ALERTS", &args.alerts);
  env("--alert-high", "PDM_ALERT_HIGH", &args.alert_high);
  env("--alert-consecutive", "PDM_ALERT_CONSECUTIVE", &args.alert_consecutive);
  env("--alert-m-of-k", "PDM_ALERT_M_OF_K", &args.alert_m_of_k);
  env("--alert-cooldown", "PDM_ALERT_COOLDOWN", &args.alert_cooldown);
  env("--webhook", "PDM_WEBHOOKS", &args.webhooks);
  env("--webhook-secret-file", "PDM_WEBHOOK_SECRET_FILE", &args.webhook_secret_file);
  env("--webhook-max-attempts", "PDM_WEBHOOK_MAX_ATTEMPTS", &args.webhook_max_attempts);
  env("--webhook-backoff-ms", "PDM_WEBHOOK_BACKOFF_MS", &args.webhook_backoff_ms);
  env("--webhook-timeout-ms", "PDM_WEBHOOK_TIMEOUT_MS", &args.webhook_timeout_ms);
  env("--roi", "PDM_ROI", &args.roi);
  env("--max-streams", "PDM_MAX_STREAMS", &args.max_streams);
  env("--explain-all", "PDM_EXPLAIN_ALL", &args.explain_all);
  env("--log-format", "PDM_LOG_FORMAT", &args.log_format);
  env("--access-log", "PDM_ACCESS_LOG", &args.access_log);
  if (!env_ok) return kExitBadInput;
  if (args.max_streams == 0 || args.max_streams > 10'000) {
    Fail("max_streams: expected 1 to 10000, got {}", args.max_streams);
    return kExitBadInput;
  }
  if (args.port > 65535 || args.threads > 256 || args.max_batch == 0) {
    Fail("port, threads or max_batch out of range");
    return kExitBadInput;
  }
  if (args.check_config) {
    // What can be checked without the registry, the model or the network.
    if (absl::Status s = CheckWordSettings(args); !s.ok()) {
      Fail("{}", s.message());
      return kExitBadInput;
    }
    const auto& in = args.sources;
    const auto& out = args.sinks;
    fmt::print("pdm serve: {}: ok ({} sources, {} sinks)\n",
               args.config.empty() ? "flags and environment" : args.config,
               in.mqtt.size() + in.modbus.size() + in.kafka.size(),
               out.influx.size() + out.redis.size() + out.kafka.size());
    return kExitOk;
  }
  return Serve(args);
}

std::vector<std::string> SplitList(const std::string& text) {
  std::vector<std::string> items;
  for (absl::string_view item : absl::StrSplit(text, ',', absl::SkipWhitespace())) {
    items.emplace_back(absl::StripAsciiWhitespace(item));
  }
  return items;
}

}  // namespace

absl::StatusOr<std::optional<core::Span>> ParseDriftSpan(const std::string& text,
                                                         const char* flag) {
  if (text == "auto") return std::nullopt;
  if (!text.empty() && text.find_first_not_of("0123456789") == std::string::npos) {
    return core::ParseSpan(text + "r");
  }
  auto span = core::ParseSpan(text);
  if (!span.ok()) {
    return absl::InvalidArgumentError(core::StrCat(
        flag, " '", text, "': ", span.status().message(), " (or 'auto', or a row count",
        flag == std::string_view("--drift-window") ? ", or 'off' in pdm serve)" : ")"));
  }
  return *span;
}

namespace {

// Written by OnShutdownSignal (the signal's number), read by Serve.
int shutdown_pipe[2] = {-1, -1};
void OnShutdownSignal(int signal) {
  const auto byte = static_cast<unsigned char>(signal);
  [[maybe_unused]] const ssize_t written = ::write(shutdown_pipe[1], &byte, 1);
}

}  // namespace

namespace {

// A source's body through the telemetry path, counted. A refusal of the whole body (a 4xx
// before any reading was looked at) refuses each of its readings and events.
ingest::IngestOutcome IngestThroughApi(serving::Api* api, nlohmann::json body) {
  const auto size_of = [&](const char* key) {
    return body.contains(key) && body[key].is_array() ? body[key].size() : size_t{0};
  };
  const size_t readings = size_of("readings"), events = size_of("events");
  serving::TelemetryCounts counts;
  const serving::HttpResponse r = api->IngestTelemetry(std::move(body), &counts);
  ingest::IngestOutcome o{r.status,          counts.accepted,       counts.refused,
                          counts.duplicates, counts.events_applied, counts.events_refused,
                          counts.first_error};
  if (r.status >= 400 &&
      counts.accepted + counts.refused + counts.events_applied + counts.events_refused == 0) {
    o.refused = readings;
    o.events_refused = events;
    const nlohmann::json answer = nlohmann::json::parse(r.body, nullptr, false);
    o.error = answer.is_object() ? answer.value("error", r.body) : r.body;
  }
  return o;
}

}  // namespace

int Serve(const ServeOptions& args) {
  core::SetLogProgram("pdm serve");
  auto log_format = core::ParseLogFormat(args.log_format);
  if (!log_format.ok()) {
    Fail("{}", log_format.status().message());
    return kExitBadInput;
  }
  core::SetLogFormat(*log_format);
  if (absl::Status s = CheckWordSettings(args); !s.ok()) {
    Fail("{}", s.message());
    return kExitBadInput;
  }
  // SIGTERM / SIGINT end the server gracefully. A handler (not a blocked mask and sigwait) so
  // that whichever thread the signal lands on hands it over: threads started before this point
  // (XGBoost's OpenMP pool, from training in `pdm demo --serve` or from loading a model) do not
  // block it, and would otherwise take the default action and kill the process.
  if (::pipe2(shutdown_pipe, O_CLOEXEC) != 0) {
    Fail("cannot create the shutdown pipe: {}", std::strerror(errno));
    return kExitInternal;
  }
  struct sigaction on_signal = {};
  on_signal.sa_handler = OnShutdownSignal;
  sigemptyset(&on_signal.sa_mask);
  on_signal.sa_flags = SA_RESTART;
  sigaction(SIGTERM, &on_signal, nullptr);
  sigaction(SIGINT, &on_signal, nullptr);
  auto registry = OpenRegistry(args.registry, /*create=*/false);
  if (!registry.ok()) {
    Fail("{}", registry.status().message());
    return kExitBadInput;
  }
  serving::ServerMetrics metrics;
  serving::ModelManager models(registry->get(), args.model, args.alias, &metrics);
  auto loaded = models.Reload();
  if (!loaded.ok()) {
    Fail("{}", loaded.status().message());
    return kExitBadInput;
  }
  serving::ApiOptions api_options;
  api_options.max_batch = args.max_batch;
  api_options.allow_unknown_fields = args.allow_unknown_fields;
  api_options.token = args.token;
  api_options.cors.origins = SplitList(args.cors_origins);
  api_options.cors.methods = args.cors_methods;
  api_options.cors.headers = args.cors_headers;
  api_options.cors.max_age_seconds = args.cors_max_age;
  api_options.max_machines = args.max_machines;
  if (args.score_every != "0" && args.score_every != "off") {
    auto every =
        core::ParseSpan(args.score_every.find_first_not_of("0123456789") == std::string::npos
                            ? args.score_every + "r"
                            : args.score_every);
    const bool timed = (*loaded)->bundle.pipeline &&
                       (*loaded)->bundle.pipeline->layout().time_type == spec::TimeType::kTimestamp;
    if (!every.ok() || (every->is_time() && !timed)) {
      Fail(
          "--score-every '{}': {} (a span of data time such as '1m', a reading "
          "count such as '10r', or 0 for every reading)",
          args.score_every,
          every.ok() ? core::StrCat((*loaded)->name, " v", (*loaded)->version,
                                    " has no timestamps: give a reading count")
                     : std::string(every.status().message()));
      return kExitBadInput;
    }
    api_options.score_every = *every;
  }
  api_options.store_telemetry = args.store_telemetry;
  api_options.drift.enabled = args.drift_window != "off";
  if (api_options.drift.enabled) {
    auto window = ParseDriftSpan(args.drift_window, "--drift-window");
    auto every = ParseDriftSpan(args.drift_every, "--drift-every");
    for (const auto* parsed : {&window, &every}) {
      if (!parsed->ok()) {
        Fail("{}", parsed->status().message());
        return kExitBadInput;
      }
    }
    api_options.drift.window = *window;
    api_options.drift.every = *every;
    const bool timed = (*loaded)->bundle.pipeline &&
                       (*loaded)->bundle.pipeline->layout().time_type == spec::TimeType::kTimestamp;
    if (!timed && ((*window && (*window)->is_time()) || (*every && (*every)->is_time()))) {
      Fail(
          "--drift-window/--drift-every: {} v{} has no timestamps; give row "
          "counts ('10000r')",
          (*loaded)->name, (*loaded)->version);
      return kExitBadInput;
    }
    api_options.drift.thresholds.consecutive = args.drift_consecutive;
    api_options.drift.thresholds.min_rows = args.drift_min_rows;
    api_options.drift.thresholds.sample_above = args.drift_sample_above;
    api_options.drift.thresholds.calibrated_thresholds = args.drift_thresholds == "calibrated";
    if (!(*loaded)->bundle.reference) {
      Info("no drift monitoring: {}", (*loaded)->bundle.reference_error);
    }
  }
  api_options.alerts.enabled = args.alerts == "on";
  if (api_options.alerts.enabled) {
    alert::AlertRules& rules = api_options.alerts.rules;
    rules.consecutive = args.alert_consecutive;
    const size_t slash = args.alert_m_of_k.find('/');
    if (slash == std::string::npos || !ParseValue(args.alert_m_of_k.substr(0, slash), &rules.m) ||
        !ParseValue(args.alert_m_of_k.substr(slash + 1), &rules.k)) {
      Fail("--alert-m-of-k '{}': expected M/K, e.g. 5/10", args.alert_m_of_k);
      return kExitBadInput;
    }
    if (args.alert_high != "auto") {
      double high = 0;
      if (!ParseValue(args.alert_high, &high)) {
        Fail("--alert-high '{}': expected a number or auto", args.alert_high);
        return kExitBadInput;
      }
      api_options.alerts.high = high;
      rules.high = high;
    }
    if (absl::Status s = alert::ValidateRules(rules); !s.ok()) {
      Fail("{}", s.message());
      return kExitBadInput;
    }
    if (args.alert_cooldown != "auto") {
      auto cooldown = ParseDriftSpan(args.alert_cooldown, "--alert-cooldown");
      if (!cooldown.ok()) {
        Fail("{}", cooldown.status().message());
        return kExitBadInput;
      }
      api_options.alerts.cooldown = *cooldown;
    }
  }
  // Webhooks: the sender reads the outbox the Api writes; made after the Api (it builds the
  // bodies), woken by it through `sender`.
  std::unique_ptr<notify::WebhookSender> sender;
  notify::WebhookOptions webhooks;
  if (api_options.alerts.enabled) {
    webhooks.targets = SplitList(args.webhooks);
    for (const std::string& flag : args.webhook_flags) {
      for (std::string& url : SplitList(flag)) webhooks.targets.push_back(std::move(url));
    }
    if (const char* secret = std::getenv("PDM_WEBHOOK_SECRET"); secret != nullptr) {
      webhooks.secret = secret;
    } else if (!args.webhook_secret_file.empty()) {
      std::ifstream in(args.webhook_secret_file, std::ios::binary);
      std::stringstream text;
      text << in.rdbuf();
      if (!in) {
        Fail("--webhook-secret-file {}: cannot read it", args.webhook_secret_file);
        return kExitBadInput;
      }
      webhooks.secret = std::string(absl::StripTrailingAsciiWhitespace(text.str()));
    }
    webhooks.max_attempts = args.webhook_max_attempts;
    webhooks.backoff = std::chrono::milliseconds(args.webhook_backoff_ms);
    webhooks.max_backoff = std::max(webhooks.backoff, std::chrono::milliseconds(600'000));
    webhooks.timeout = std::chrono::milliseconds(args.webhook_timeout_ms);
    if (absl::Status s = notify::ValidateWebhookOptions(webhooks); !s.ok()) {
      Fail("{}", s.message());
      return kExitBadInput;
    }
    api_options.alerts.webhooks = webhooks.targets;
    api_options.alerts.wake_notifier = [&sender] {
      if (sender) sender->Wake();
    };
  }
  api_options.max_streams = args.max_streams;
  api_options.access_log = args.access_log == "on";
  api_options.explain_all = args.explain_all;
  if (!args.roi.empty()) {
    auto roi = econ::LoadRoiConfig(args.roi);
    if (!roi.ok()) {
      Fail("--roi: {}", roi.status().message());
      return kExitBadInput;
    }
    api_options.roi = std::move(*roi);
    api_options.roi_source = args.roi;
  }
  // Export sinks: fed by the telemetry path and the alerts, reported through the Api.
  std::vector<std::unique_ptr<sink::Sink>> sinks = sink::MakeSinks(args.sinks);
  if (!sinks.empty()) {
    api_options.sinks = [&sinks] {
      nlohmann::json out = nlohmann::json::array();
      for (const auto& s : sinks) out.push_back(s->Status());
      return out;
    };
    api_options.on_ingested = [&sinks](std::span<const store::TelemetryRow> readings,
                                       std::span<const store::PredictionRow> risks) {
      for (const auto& s : sinks) s->Add(readings, risks);
    };
    api_options.on_alert = [&sinks](const store::AlertRow& alert) {
      for (const auto& s : sinks) s->Alert(alert);
    };
    for (const auto& s : sinks) {
      s->Start();
      if (JsonLogs()) {
        core::LogInfo("sink started", {{"sink", s->name()}, {"describe", s->Describe()}});
      } else {
        fmt::print("  sink {}: {}\n", s->name(), s->Describe());
      }
    }
  }
  // Ingestion sources: made after the Api they feed, reported through it.
  std::vector<std::unique_ptr<ingest::Source>> sources;
  if (!args.sources.empty()) {
    api_options.sources = [&sources] {
      nlohmann::json out = nlohmann::json::array();
      for (const auto& source : sources) out.push_back(source->Status());
      return out;
    };
  }
  serving::Api api(&models, &metrics, api_options);
  // Kafka hands machines over between replicas through the Store, each replica named by its
  // host and process.
  char host[256] = {};
  ::gethostname(host, sizeof(host) - 1);
  const std::string replica = core::StrCat(host, "/", ::getpid());
  const ingest::StateHandoff handoff{
      [&api, replica](const std::vector<std::string>& machines) -> size_t {
        auto saved = api.SaveMachineStates(machines, replica);
        if (!saved.ok()) {
          Fail("saving machine states: {}", saved.status().message());
          return 0;
        }
        return *saved;
      },
      [&api](const std::string& machine) {
        auto restored = api.RestoreMachineState(machine);
        if (!restored.ok()) {
          Fail("restoring {}'s state: {}", machine, restored.status().message());
          return false;
        }
        return *restored;
      }};
  sources = ingest::MakeSources(
      args.sources, [&api](nlohmann::json body) { return IngestThroughApi(&api, std::move(body)); },
      handoff);
  if (!webhooks.targets.empty()) {
    sender = std::make_unique<notify::WebhookSender>(
        &(*registry)->store(), webhooks,
        [&api](const store::NotificationRow& row) { return api.NotificationBody(row); },
        [&metrics](std::string_view result) { metrics.CountNotification(result); });
    sender->Start();
    std::vector<std::string> shown;
    for (const std::string& t : webhooks.targets) shown.push_back(notify::RedactedTarget(t));
    Info("alert webhooks: {} ({})", fmt::join(shown, ", "),
         webhooks.secret.empty() ? "unsigned: set PDM_WEBHOOK_SECRET to sign them" : "signed");
  }

  serving::HttpServerOptions options;
  options.address = args.address;
  options.port = static_cast<uint16_t>(args.port);
  options.threads = args.threads;
  options.body_limit = args.body_limit;
  auto server = serving::HttpServer::Create(
      options, [&api](const serving::HttpRequest& r) { return api.Handle(r); });
  if (!server.ok()) {
    Fail("{}", server.status().message());
    return kExitBadInput;
  }
  (*server)->Start();
  if (args.watch_ms > 0) {
    models.StartWatching(std::chrono::milliseconds(args.watch_ms),
                         [](const std::string& line) { core::LogInfo(line); });
  }
  const std::string base = core::StrCat("http://", args.address, ":", (*server)->port());
  if (JsonLogs()) {
    core::LogInfo("serving", {{"model", (*loaded)->name},
                              {"version", (*loaded)->version},
                              {"alias", args.alias},
                              {"url", base},
                              {"dashboard", core::StrCat(base, "/")},
                              {"reload", args.token.empty() ? "disabled: no token" : "enabled"},
                              {"access_log", args.access_log}});
  } else {
    fmt::print("dashboard: {}/\n", base);
    fmt::print("serving {} v{} ({}) on {}\n", (*loaded)->name, (*loaded)->version, args.alias,
               base);
    if (!args.example_body.empty()) {
      fmt::print(
          "  curl -s -X POST -H 'Content-Type: application/json' --data @{} {}/api/v1/predict\n",
          args.example_body, base);
    } else {
      fmt::print(
          "  curl -s -X POST -H 'Content-Type: application/json' {}/api/v1/predict -d "
          "'{{\"features\": {{...}}}}'\n",
          base);
    }
    fmt::print("  {}/readyz  {}/metrics  {}/openapi.json  {}/api/v1/models (feature names)\n", base,
               base, base, base);
    if (args.token.empty()) {
      fmt::print("  (no token set: reload is disabled; set PDM_SERVE_TOKEN to enable it)\n");
    }
  }
  std::fflush(stdout);

  for (const auto& source : sources) {
    source->Start();
    if (JsonLogs()) {
      core::LogInfo("source started",
                    {{"source", source->name()}, {"describe", source->Describe()}});
    } else {
      fmt::print("  source {}: {}\n", source->name(), source->Describe());
    }
  }
  std::fflush(stdout);
  std::jthread background;
  if (args.background) {
    background =
        std::jthread([&api, &args](const std::stop_token& stop) { args.background(api, stop); });
  }
  unsigned char signal_number = 0;
  while (::read(shutdown_pipe[0], &signal_number, 1) != 1 && errno == EINTR) {
  }
  const int received = signal_number;
  if (background.joinable()) {
    background.request_stop();
    background.join();
  }
  // The sources stop first: no reading arrives once the server drains.
  for (const auto& source : sources) source->Stop();
  api.StartDraining();
  Info("signal {}: not ready; draining {} ms, then finishing requests in flight (up to {} ms)",
       received, args.drain_ms, args.grace_ms);
  if (args.drain_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(args.drain_ms));
  models.StopWatching();
  (*server)->Shutdown(std::chrono::milliseconds(args.grace_ms));
  // Undelivered notifications stay in the outbox for the next start (or another replica).
  if (sender) sender->Stop();
  // The sinks write what the last requests queued (one attempt), then stop.
  for (const auto& s : sinks) s->Stop();
  return kExitOk;
}

void AddServeCommand(CLI::App& app, int* exit_code) {
  auto args = std::make_shared<ServeOptions>();
  CLI::App* cmd = app.add_subcommand(
      "serve",
      "Serve a registered model over REST and the Open Inference Protocol v2: predictions, "
      "probes, metrics, model listing and reload. Settings come from the flags, then PDM_* "
      "variables (PDM_MODEL, PDM_ALIAS, PDM_PORT, PDM_CORS_ORIGINS, ...), then --config "
      "server.yaml (keys as the flags, with underscores: max_batch, cors.origins, ...). The reload "
      "token comes from PDM_SERVE_TOKEN or the config's `token`, never a flag.");
  AddRegistryOptions(cmd, &args->registry);
  cmd->add_option("--config", args->config, "A server.yaml (default: $PDM_CONFIG)");
  cmd->add_option("--model", args->model, "Registered model name")->capture_default_str();
  cmd->add_option("--alias", args->alias, "Alias whose version is served")->capture_default_str();
  cmd->add_option("--address", args->address, "Listen address")->capture_default_str();
  cmd->add_option("--port", args->port, "Port (0: any free port)")
      ->capture_default_str()
      ->check(CLI::Range(0, 65535));
  cmd->add_option("--threads", args->threads, "Worker threads (0: cores)")
      ->check(CLI::Range(0, 256));
  cmd->add_option("--max-batch", args->max_batch, "Most records in one batch request")
      ->capture_default_str()
      ->check(CLI::Range(1, 1'000'000));
  cmd->add_option("--body-limit", args->body_limit, "Largest request body, bytes")
      ->capture_default_str();
  cmd->add_option("--grace-ms", args->grace_ms, "On SIGTERM, how long requests in flight may take")
      ->capture_default_str();
  cmd->add_option("--drain-ms", args->drain_ms,
                  "On SIGTERM, how long /readyz answers 503 before the listener closes (let a "
                  "load balancer notice)")
      ->capture_default_str();
  cmd->add_option("--watch-ms", args->watch_ms,
                  "How often the alias is checked; a moved alias hot-swaps the model (0: never)")
      ->capture_default_str();
  cmd->add_option("--max-machines", args->max_machines,
                  "Most machines the telemetry route follows (a new one beyond: 422)")
      ->capture_default_str()
      ->check(CLI::Range(1, 10'000'000));
  cmd->add_option("--score-every", args->score_every,
                  "Score a machine's telemetry at most once per this much data time ('1m') or "
                  "every this many readings ('10r'); every reading still updates its features "
                  "and is stored. 0: score every reading")
      ->capture_default_str();
  cmd->add_flag_callback(
      "--no-store-telemetry", [args] { args->store_telemetry = false; },
      "Keep telemetry in the machines' state only: do not append readings and scores to the "
      "store (machine views then have no history)");
  cmd->add_flag("--check-config", args->check_config,
                "Check the settings (flags, PDM_* variables, --config with its sources and sinks) "
                "and exit: 0 when they are usable, 3 naming the first that is not. The model, "
                "registry and network are not touched");
  cmd->add_option("--log-format", args->log_format,
                  "text: 'pdm serve: ...' lines; json: one JSON object a line (time, level, msg, "
                  "and for requests: request_id, route, status, latency_ms, model, version)")
      ->capture_default_str();
  cmd->add_option("--access-log", args->access_log,
                  "on: one log line per request (probes and scrapes only when they fail)")
      ->capture_default_str();
  cmd->add_flag("--allow-unknown-fields", args->allow_unknown_fields,
                "Ignore record fields that are not model features (default: 422)");
  cmd->add_option("--cors-origins", args->cors_origins,
                  "Comma-separated origins allowed by CORS ('*': any; default: CORS off)");
  cmd->add_option("--cors-methods", args->cors_methods, "CORS allowed methods")
      ->capture_default_str();
  cmd->add_option("--cors-headers", args->cors_headers, "CORS allowed headers")
      ->capture_default_str();
  cmd->add_option("--cors-max-age", args->cors_max_age, "CORS preflight cache, seconds")
      ->capture_default_str();
  cmd->add_option("--drift-window", args->drift_window,
                  "Drift window of recent telemetry: a span of data time ('24h'), rows ('10000r' "
                  "or 10000), 'auto' (24h for timestamped data, else 10000r) or 'off'")
      ->capture_default_str();
  cmd->add_option("--drift-every", args->drift_every,
                  "How often drift is evaluated, in data time ('1m') or rows ('1000r'); 'auto': "
                  "1m for timestamped data, else 1000r")
      ->capture_default_str();
  cmd->add_option("--drift-consecutive", args->drift_consecutive,
                  "Evaluations in a row before a feature's drift status changes")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000));
  cmd->add_option("--drift-min-rows", args->drift_min_rows,
                  "Rows the drift window needs before statuses change")
      ->capture_default_str()
      ->check(CLI::Range(1, 100'000'000));
  cmd->add_option("--drift-sample-above", args->drift_sample_above,
                  "Rows an hour of the drift window counts in full before it samples them "
                  "(each sampled row then stands for as many as it was sampled from); 0: never")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{0}, int64_t{1'000'000'000}));
  cmd->add_option("--drift-thresholds", args->drift_thresholds,
                  "PSI thresholds per feature: 'calibrated' (above the training period's own "
                  "windowed PSI, for the window the model was calibrated for; 0.1 and 0.25 are "
                  "floors) or 'fixed' (0.1 and 0.25 for every feature)")
      ->capture_default_str();
  cmd->add_option("--alerts", args->alerts, "Maintenance alerts from the live risk: on or off")
      ->capture_default_str();
  cmd->add_option("--alert-high", args->alert_high,
                  "One reading this risky opens a critical alert (a probability, or a RUL); "
                  "'auto': halfway from the served threshold to 1, or half the horizon")
      ->capture_default_str();
  cmd->add_option("--alert-consecutive", args->alert_consecutive,
                  "Alarms in a row that open a warning alert")
      ->capture_default_str()
      ->check(CLI::Range(1, 64));
  cmd->add_option("--alert-m-of-k", args->alert_m_of_k,
                  "M alarms among a machine's last K readings open a warning alert (K <= 64)")
      ->capture_default_str();
  cmd->add_option("--alert-cooldown", args->alert_cooldown,
                  "Quiet time after an acknowledgement, a resolution or a maintenance event, in "
                  "data time ('24h') or readings ('50r'); 'auto': 24h, or 50r without timestamps")
      ->capture_default_str();
  cmd->add_option("--roi", args->roi,
                  "A business-case config (pdm roi's, e.g. specs/roi-bottom-up-example.yaml) for "
                  "GET /api/v1/roi and the dashboard, with the served model's measured errors");
  cmd->add_option("--max-streams", args->max_streams,
                  "Live event streams (GET /api/v1/stream, the dashboard) open at a time; more "
                  "are answered 503 and poll instead")
      ->capture_default_str()
      ->check(CLI::Range(size_t{1}, size_t{10'000}));
  cmd->add_flag("--explain-all", args->explain_all,
                "Keep every machine's latest features, so that the dashboard explains any "
                "machine's risk (a feature vector a machine); default: machines at risk only");
  cmd->add_option("--webhook", args->webhook_flags,
                  "A URL POSTed every alert event (JSON, signed with HMAC-SHA256 when "
                  "PDM_WEBHOOK_SECRET is set, an Idempotency-Key, retried); repeatable");
  cmd->add_option("--webhook-secret-file", args->webhook_secret_file,
                  "A file holding the HMAC secret of the webhooks (PDM_WEBHOOK_SECRET wins)");
  cmd->add_option("--webhook-max-attempts", args->webhook_max_attempts,
                  "Attempts of one notification before it is dead (GET "
                  "/api/v1/notifications?state=dead)")
      ->capture_default_str()
      ->check(CLI::Range(1, 100));
  cmd->add_option("--webhook-backoff-ms", args->webhook_backoff_ms,
                  "Delay after the first failed attempt; doubled each failure up to 10 min, "
                  "with jitter")
      ->capture_default_str()
      ->check(CLI::Range(1, 600'000));
  cmd->add_option("--webhook-timeout-ms", args->webhook_timeout_ms, "Timeout of one POST")
      ->capture_default_str()
      ->check(CLI::Range(1, 120'000));
  cmd->footer(kExitCodeHelp);
  cmd->callback([args, exit_code, cmd] { *exit_code = RunServe(*args, cmd); });
}

}  // namespace pdm::cli
