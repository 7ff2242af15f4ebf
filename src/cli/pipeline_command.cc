// `pdm pipeline run` and `pdm runs`: scheduled retraining as recorded, resumable runs
// (docs/pipeline.md). Each step is one of pdm's own commands, run as a child process of this
// binary with its JSON output and its log kept as the step's artifacts, so the pipeline does
// exactly what a user running the commands by hand would.
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "cli/commands.h"
#include "core/file.h"
#include "core/hash.h"
#include "core/status.h"
#include "core/strings.h"
#include "core/time.h"
#include "features/dataset.h"
#include "notify/webhook_sender.h"
#include "spec/dataset_spec.h"

extern char** environ;

namespace pdm::cli {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// The steps of a run, in order.
constexpr const char* kSteps[] = {"validate", "train", "register", "promote", "notify"};

struct PipelineConfig {
  std::string path;  // the pipeline file
  std::string name;
  std::string spec;
  std::string data;  // optional override of the spec's main data file
  // data: {from: store}: the store's readings and events (pdm telemetry export), optionally
  // within [since, until).
  bool data_from_store = false;
  std::string store_since, store_until;
  std::string model;
  std::string alias = "production";
  double max_quarantined_share = 0.05;
  std::string models;
  int cv = 0;
  int threads = 0;
  int64_t seed = -1;
  std::string gate_metric;  // empty: promote without comparing
  std::string gate_data;    // the newest data, not trained on; empty: the spec's data
  bool gate_test = false;   // the spec's test set
  // The newest slice of the data itself, held out: a span ("7d") before the data's last time, or
  // a share of its time range ("0.2"). Training stops before it (pdm train --until); the gate
  // scores it (pdm models promote --since).
  std::string gate_newest;
  double gate_newest_share = 0;                      // set when gate_newest is a share
  int64_t gate_newest_seconds = 0;                   // set when gate_newest is a span
  spec::TimeType time_type = spec::TimeType::kNone;  // the spec's, set once it is read
  std::string promote = "auto";  // auto | manual (hold for approval: the `candidate` alias)
  std::vector<std::string> webhooks;
  std::string runs_dir;
  bool feedback_from_alerts = false;  // feedback: alerts (the store's resolved alerts as labels)
};

absl::Status ConfigError(const std::string& path, const std::string& key, const std::string& why) {
  return absl::InvalidArgumentError(core::StrCat(path, ": ", key, ": ", why));
}

// Strict: unknown keys and values of the wrong type are refused with their key path. Relative
// paths are resolved against the pipeline file's folder.
absl::StatusOr<PipelineConfig> LoadPipelineConfig(const std::string& path) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(core::StrCat(path, ": ", e.what()));
  }
  if (!root.IsMap()) return absl::InvalidArgumentError(core::StrCat(path, ": expected a mapping"));
  PipelineConfig c;
  c.path = path;
  const fs::path dir = fs::absolute(path).parent_path();
  auto resolve = [&](const std::string& p) {
    return p.empty() || fs::path(p).is_absolute() ? p : (dir / p).lexically_normal().string();
  };
  absl::Status status;
  auto scalar = [&](const YAML::Node& node, const std::string& key, auto* out) {
    if (!status.ok()) return;
    try {
      if (!node.IsScalar()) throw YAML::Exception(YAML::Mark::null_mark(), "not a scalar");
      *out = node.as<std::remove_pointer_t<decltype(out)>>();
    } catch (const YAML::Exception&) {
      status = ConfigError(path, key, "not a valid value");
    }
  };
  auto section = [&](const YAML::Node& node, const std::string& name,
                     const std::function<bool(const std::string&, const YAML::Node&)>& take) {
    if (!status.ok()) return;
    if (!node.IsMap()) {
      status = ConfigError(path, name, "expected a mapping");
      return;
    }
    for (const auto& entry : node) {
      const std::string key = entry.first.as<std::string>();
      if (!take(key, entry.second)) {
        status = ConfigError(path, core::StrCat(name, ".", key), "unknown key");
        return;
      }
    }
  };
  for (const auto& entry : root) {
    const std::string key = entry.first.as<std::string>();
    const YAML::Node& v = entry.second;
    if (key == "name") {
      scalar(v, key, &c.name);
    } else if (key == "spec") {
      scalar(v, key, &c.spec);
    } else if (key == "data" && v.IsMap()) {
      std::string from;
      section(v, key, [&](const std::string& k, const YAML::Node& n) {
        if (k == "from") {
          scalar(n, "data.from", &from);
        } else if (k == "since") {
          scalar(n, "data.since", &c.store_since);
        } else if (k == "until") {
          scalar(n, "data.until", &c.store_until);
        } else {
          return false;
        }
        return true;
      });
      if (status.ok() && from != "store") {
        status = ConfigError(path, "data.from",
                             core::StrCat("expected store, got '", from,
                                          "' (a file is named directly: data: file.csv)"));
      }
      c.data_from_store = true;
    } else if (key == "data") {
      scalar(v, key, &c.data);
    } else if (key == "model") {
      scalar(v, key, &c.model);
    } else if (key == "alias") {
      scalar(v, key, &c.alias);
    } else if (key == "runs_dir") {
      scalar(v, key, &c.runs_dir);
    } else if (key == "promote") {
      scalar(v, key, &c.promote);
    } else if (key == "feedback") {
      std::string source;
      scalar(v, key, &source);
      if (status.ok() && source != "alerts" && source != "none") {
        status =
            ConfigError(path, key, core::StrCat("expected alerts or none, got '", source, "'"));
      }
      c.feedback_from_alerts = source == "alerts";
    } else if (key == "validate") {
      section(v, key, [&](const std::string& k, const YAML::Node& n) {
        if (k != "max_quarantined_share") return false;
        scalar(n, "validate." + k, &c.max_quarantined_share);
        return true;
      });
    } else if (key == "train") {
      section(v, key, [&](const std::string& k, const YAML::Node& n) {
        if (k == "models") {
          scalar(n, "train.models", &c.models);
        } else if (k == "cv") {
          scalar(n, "train.cv", &c.cv);
        } else if (k == "threads") {
          scalar(n, "train.threads", &c.threads);
        } else if (k == "seed") {
          scalar(n, "train.seed", &c.seed);
        } else {
          return false;
        }
        return true;
      });
    } else if (key == "gate") {
      section(v, key, [&](const std::string& k, const YAML::Node& n) {
        if (k == "metric") {
          scalar(n, "gate.metric", &c.gate_metric);
        } else if (k == "data") {
          scalar(n, "gate.data", &c.gate_data);
        } else if (k == "test") {
          scalar(n, "gate.test", &c.gate_test);
        } else if (k == "newest") {
          scalar(n, "gate.newest", &c.gate_newest);
        } else {
          return false;
        }
        return true;
      });
    } else if (key == "notify") {
      section(v, key, [&](const std::string& k, const YAML::Node& n) {
        if (k != "webhooks") return false;
        if (!n.IsSequence()) {
          status = ConfigError(path, "notify.webhooks", "expected a list of URLs");
          return true;
        }
        for (const YAML::Node& url : n) {
          std::string text;
          scalar(url, "notify.webhooks", &text);
          c.webhooks.push_back(text);
        }
        return true;
      });
    } else {
      return ConfigError(path, key,
                         "unknown key (name, spec, data, model, alias, feedback, validate, train, "
                         "gate, promote, notify, runs_dir)");
    }
    if (!status.ok()) return status;
  }
  if (c.name.empty()) return ConfigError(path, "name", "required");
  if (c.name.find_first_of("/\\ \t\n") != std::string::npos) {
    return ConfigError(path, "name", "no spaces or slashes");
  }
  if (c.spec.empty()) return ConfigError(path, "spec", "required");
  if (c.promote != "auto" && c.promote != "manual") {
    return ConfigError(path, "promote",
                       core::StrCat("expected auto or manual, got '", c.promote, "'"));
  }
  if (!(c.max_quarantined_share >= 0 && c.max_quarantined_share <= 1)) {
    return ConfigError(path, "validate.max_quarantined_share", "expected 0 to 1");
  }
  if (static_cast<int>(c.gate_test) + static_cast<int>(!c.gate_data.empty()) +
          static_cast<int>(!c.gate_newest.empty()) >
      1) {
    return ConfigError(path, "gate", "data, test and newest exclude each other");
  }
  if (!c.gate_newest.empty()) {
    double share = 0;
    if (absl::SimpleAtod(c.gate_newest, &share)) {
      if (!(share > 0 && share < 1)) {
        return ConfigError(path, "gate.newest", "a share of the time range is above 0 and below 1");
      }
      c.gate_newest_share = share;
    } else {
      auto seconds = core::ParseDurationSeconds(c.gate_newest);
      if (!seconds.ok() || *seconds <= 0) {
        return ConfigError(path, "gate.newest",
                           core::StrCat("'", c.gate_newest,
                                        "': expected a span of data time (7d, 12h) or a share "
                                        "of the time range (0.2)"));
      }
      c.gate_newest_seconds = *seconds;
    }
    if (c.gate_metric.empty()) {
      return ConfigError(path, "gate.newest", "needs gate.metric (what the slice is scored on)");
    }
  }
  if (c.data_from_store && !c.data.empty()) {
    return ConfigError(path, "data", "a file or from: store, not both");
  }
  for (const std::string& url : c.webhooks) {
    if (!url.starts_with("http://") && !url.starts_with("https://")) {
      return ConfigError(path, "notify.webhooks", core::StrCat("'", url, "' is not http(s)"));
    }
  }
  c.spec = resolve(c.spec);
  c.data = resolve(c.data);
  c.gate_data = resolve(c.gate_data);
  c.runs_dir = c.runs_dir.empty() ? (dir / "runs").string() : resolve(c.runs_dir);
  return c;
}

// What identifies a run: the inputs' bytes and the settings that change what is trained.
json RunParams(const PipelineConfig& c, const std::string& model_name) {
  return {{"model", model_name},
          {"alias", c.alias},
          {"models", c.models},
          {"cv", c.cv},
          {"seed", c.seed},
          {"gate_metric", c.gate_metric},
          {"gate_data", c.gate_data},
          {"gate_test", c.gate_test},
          {"promote", c.promote},
          {"feedback", c.feedback_from_alerts ? "alerts" : "none"},
          {"gate_newest", c.gate_newest},
          {"data_from", c.data_from_store ? "store" : "files"},
          {"data_since", c.store_since},
          {"data_until", c.store_until}};
}

std::string IsoNow() {
  return core::FormatTimestamp(std::chrono::duration_cast<std::chrono::seconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

std::string SelfPath() {
  std::error_code ec;
  const fs::path self = fs::read_symlink("/proc/self/exe", ec);
  return ec ? std::string("pdm") : self.string();
}

struct ChildResult {
  int exit_code = -1;
  std::string out;  // stdout, whole
};

// Runs this binary with `args`; stdout goes to `<log_prefix>.out`, stderr to `<log_prefix>.log`.
absl::StatusOr<ChildResult> RunSelf(const std::vector<std::string>& args,
                                    const fs::path& log_prefix) {
  const std::string self = SelfPath();
  std::vector<std::string> words = {self};
  words.insert(words.end(), args.begin(), args.end());
  std::vector<char*> argv;
  argv.reserve(words.size() + 1);
  for (std::string& w : words) argv.push_back(w.data());
  argv.push_back(nullptr);
  const std::string out_path = log_prefix.string() + ".out";
  const std::string log_path = log_prefix.string() + ".log";
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, out_path.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, log_path.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0644);
  pid_t pid = 0;
  const int spawned = posix_spawn(&pid, self.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (spawned != 0) {
    return absl::InternalError(core::StrCat("cannot start ", self, ": ", std::strerror(spawned)));
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  ChildResult result;
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  auto out = core::ReadFileToString(out_path, "step output");
  if (out.ok()) result.out = std::move(*out);
  return result;
}

// The last lines of a step's log, for its error.
std::string LogTail(const fs::path& log_prefix) {
  auto log = core::ReadFileToString(log_prefix.string() + ".log", "step log");
  if (!log.ok()) return "";
  std::string text = std::move(*log);
  while (!text.empty() && text.back() == '\n') text.pop_back();
  const size_t from = text.size() > 600 ? text.rfind('\n', text.size() - 600) : std::string::npos;
  return from == std::string::npos ? text : text.substr(from + 1);
}

// The --registry and --store words that point a child command at the run's registry.
std::vector<std::string> LocationWords(const RegistryArgs& registry) {
  std::vector<std::string> words;
  if (!registry.dir.empty()) words.insert(words.end(), {"--registry", registry.dir});
  if (!registry.store.empty()) words.insert(words.end(), {"--store", registry.store});
  return words;
}

json* FindStep(json& record, std::string_view name) {
  for (json& step : record["steps"]) {
    if (step["name"] == name) return &step;
  }
  return nullptr;
}

class Runner {
 public:
  Runner(PipelineConfig config, RegistryArgs registry, store::Store* store, json record,
         std::string id)
      : c_(std::move(config)),
        registry_(std::move(registry)),
        store_(store),
        record_(std::move(record)),
        id_(std::move(id)),
        dir_(fs::path(c_.runs_dir) / id_) {}

  // Runs every step not yet succeeded; the exit code of the run.
  int Run() {
    std::error_code ec;
    fs::create_directories(dir_ / "steps", ec);
    if (ec) {
      fmt::print(stderr, "pdm pipeline: {}: {}\n", dir_.string(), ec.message());
      return kExitBadInput;
    }
    record_["state"] = "running";
    record_["run_dir"] = dir_.string();
    if (!Save()) return kExitInternal;
    for (const char* name : kSteps) {
      json& step = *FindStep(record_, name);
      if (step["state"] == "succeeded" || step["state"] == "skipped") {
        fmt::print("pipeline {}: {} already {} (kept)\n", id_, name,
                   step["state"].get<std::string>());
        continue;
      }
      step["state"] = "running";
      step["attempts"] = step.value("attempts", 0) + 1;
      step["started"] = IsoNow();
      step.erase("error");
      if (!Save()) return kExitInternal;
      const auto start = std::chrono::steady_clock::now();
      absl::Status s = RunStep(name, step);
      step["ended"] = IsoNow();
      step["seconds"] =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      if (!s.ok()) {
        step["state"] = "failed";
        step["error"] = std::string(s.message());
        record_["state"] = "failed";
        record_["failed_step"] = name;
        Save();
        fmt::print(stderr, "pdm pipeline: run {} failed at {}: {}\n", id_, name, s.message());
        fmt::print(stderr, "  fix the cause, then: pdm pipeline run --config {} --resume {}\n",
                   c_.path, id_);
        return kExitDataRefused;
      }
      if (step["state"] == "running") step["state"] = "succeeded";
      fmt::print("pipeline {}: {} {} ({:.1f} s)\n", id_, name, step["state"].get<std::string>(),
                 step["seconds"].get<double>());
      if (!Save()) return kExitInternal;
    }
    record_["state"] = "succeeded";
    record_.erase("failed_step");
    if (!Save()) return kExitInternal;
    const json& outcome = record_["outcome"];
    fmt::print("pipeline {}: succeeded: {} v{}: {}\n", id_, outcome.value("model", ""),
               outcome.value("version", int64_t{0}), outcome.value("decision", ""));
    return kExitOk;
  }

 private:
  bool Save() {
    const store::PipelineRunRow row{id_, c_.name, record_.value("state", "running"), record_.dump(),
                                    0,   0};
    if (absl::Status s = store_->PutPipelineRun(row); !s.ok()) {
      fmt::print(stderr, "pdm pipeline: recording run {}: {}\n", id_, s.message());
      return false;
    }
    return true;
  }

  std::vector<std::string> RegistryFlags() const {
    std::vector<std::string> flags = LocationWords(registry_);
    flags.insert(flags.end(), {"--actor", core::StrCat("pipeline:", c_.name)});
    return flags;
  }

  struct Answer {
    int exit_code = 0;
    std::string out;  // stdout, whole
    json parsed;      // stdout as JSON; null when it is not JSON
  };

  // Runs `args` as the step's command; an exit code not in `ok_codes` fails the step.
  absl::StatusOr<Answer> Command(const std::string& step, const std::vector<std::string>& args,
                                 std::initializer_list<int> ok_codes) {
    const fs::path prefix = dir_ / "steps" / step;
    PDM_ASSIGN_OR_RETURN(ChildResult r, RunSelf(args, prefix));
    bool ok = false;
    for (int code : ok_codes) ok = ok || code == r.exit_code;
    if (!ok) {
      return absl::FailedPreconditionError(
          core::StrCat("pdm ", args[0], " exited ", r.exit_code, ": ", LogTail(prefix)));
    }
    json parsed = json::parse(r.out, nullptr, false);
    return Answer{r.exit_code, std::move(r.out), parsed.is_discarded() ? json() : parsed};
  }

  absl::Status RunStep(std::string_view name, json& step) {
    step["artifacts"] = {{"stdout", (dir_ / "steps" / core::StrCat(name, ".out")).string()},
                         {"log", (dir_ / "steps" / core::StrCat(name, ".log")).string()}};
    if (name == "validate") return Validate(step);
    if (name == "train") return Train(step);
    if (name == "register") return Register(step);
    if (name == "promote") return Promote(step);
    return Notify(step);
  }

  absl::Status Validate(json& step) {
    std::vector<std::string> args = {"validate", "--spec",       c_.spec,
                                     "--json",   "--quarantine", (dir_ / "quarantine").string()};
    if (!c_.data.empty()) args.insert(args.end(), {"--data", c_.data});
    step["params"] = {{"max_quarantined_share", c_.max_quarantined_share}};
    PDM_ASSIGN_OR_RETURN(auto r, (Command("validate", args, {kExitOk, kExitDataRefused})));
    const json& v = r.parsed;
    if (!v.is_object()) return absl::InternalError("pdm validate gave no JSON");
    const double read = v.value("rows_read", 0.0);
    const double quarantined = v.value("rows_quarantined", 0.0);
    const double share = read > 0 ? quarantined / read : 0;
    step["metrics"] = {{"rows_read", v.value("rows_read", int64_t{0})},
                       {"rows_quarantined", v.value("rows_quarantined", int64_t{0})},
                       {"quarantined_share", share},
                       {"by_reason", v.value("by_reason", json::object())}};
    step["artifacts"]["quarantine"] = (dir_ / "quarantine").string();
    if (!c_.gate_newest.empty()) {
      PDM_ASSIGN_OR_RETURN(const std::string cut, NewestSliceStart(v));
      step["metrics"]["gate_since"] = cut;
    }
    if (share > c_.max_quarantined_share) {
      return absl::FailedPreconditionError(fmt::format(
          "{} of {} rows quarantined ({:.4f}), above validate.max_quarantined_share {} (the "
          "quarantine and its reasons: {})",
          quarantined, read, share, c_.max_quarantined_share, (dir_ / "quarantine").string()));
    }
    return absl::OkStatus();
  }

  // Where the newest slice begins (gate.newest), from the main data's time range as `pdm
  // validate` measured it, in the data's own form (ISO 8601 or a number).
  absl::StatusOr<std::string> NewestSliceStart(const json& validated) const {
    const json* main = nullptr;
    if (const auto files = validated.find("files"); files != validated.end()) {
      for (const json& f : *files) {
        if (f.value("role", "") == "data") main = &f;
      }
    }
    if (main == nullptr || !main->contains("time_min") || !main->contains("time_max")) {
      return absl::FailedPreconditionError(
          "gate.newest: pdm validate reported no time range of the data (does it have a time?)");
    }
    auto bound = [&](const json& value, const char* what) -> absl::StatusOr<double> {
      if (value.is_number()) return value.get<double>();
      if (!value.is_string()) {
        return absl::FailedPreconditionError(core::StrCat("gate.newest: no ", what, " time"));
      }
      return ParseDataTime(value.get<std::string>(), c_.time_type, what);
    };
    PDM_ASSIGN_OR_RETURN(const double first, bound((*main)["time_min"], "first"));
    PDM_ASSIGN_OR_RETURN(const double last, bound((*main)["time_max"], "last"));
    const double cut = c_.gate_newest_share > 0
                           ? last - c_.gate_newest_share * (last - first)
                           : last - static_cast<double>(c_.gate_newest_seconds);
    if (!(cut > first)) {
      return absl::FailedPreconditionError(core::StrCat(
          "gate.newest ", c_.gate_newest, ": the data's time range (",
          main->value("time_min", json()).dump(), " to ", main->value("time_max", json()).dump(),
          ") leaves nothing older to train on"));
    }
    if (c_.time_type == spec::TimeType::kTimestamp) {
      return core::FormatTimestamp(static_cast<int64_t>(std::floor(cut)));
    }
    return fmt::format("{}", cut);
  }

  std::string GateSince() {
    if (c_.gate_newest.empty()) return "";
    const json& metrics = (*FindStep(record_, "validate"))["metrics"];
    return metrics.value("gate_since", "");
  }

  absl::Status Train(json& step) {
    const fs::path out = dir_ / "train";
    std::vector<std::string> args = {
        "train",      "--spec", c_.spec,     "--out",
        out.string(), "--json", "--threads", std::to_string(c_.threads)};
    if (!c_.data.empty()) args.insert(args.end(), {"--data", c_.data});
    if (const std::string since = GateSince(); !since.empty()) {
      args.insert(args.end(), {"--until", since});
    }
    if (!c_.models.empty()) args.insert(args.end(), {"--models", c_.models});
    if (c_.cv > 0) args.insert(args.end(), {"--cv", std::to_string(c_.cv)});
    if (c_.seed >= 0) args.insert(args.end(), {"--seed", std::to_string(c_.seed)});
    if (c_.feedback_from_alerts) {
      args.insert(args.end(), {"--feedback", record_["inputs"]["feedback"].get<std::string>()});
    }
    step["params"] = {{"models", c_.models},
                      {"cv", c_.cv},
                      {"seed", c_.seed},
                      {"threads", c_.threads},
                      {"until", GateSince()}};
    PDM_ASSIGN_OR_RETURN(auto r, Command("train", args, {kExitOk}));
    const json& t = r.parsed;
    step["metrics"] = {{"ensemble", t.value("ensemble", json::object())},
                       {"rows_read", t.value("rows_read", int64_t{0})},
                       {"rows_quarantined", t.value("rows_quarantined", int64_t{0})}};
    step["artifacts"]["model"] = (out / "model").string();
    step["artifacts"]["metrics"] = (out / "metrics.json").string();
    step["artifacts"]["report"] = (out / "report.html").string();
    return absl::OkStatus();
  }

  absl::Status Register(json& step) {
    const std::string model = record_["params"]["model"];
    std::vector<std::string> args = {"models",
                                     "register",
                                     (dir_ / "train" / "model").string(),
                                     "--name",
                                     model,
                                     "--description",
                                     core::StrCat("pipeline ", c_.name, " run ", id_),
                                     "--json"};
    const auto flags = RegistryFlags();
    args.insert(args.end(), flags.begin(), flags.end());
    PDM_ASSIGN_OR_RETURN(auto r, Command("register", args, {kExitOk}));
    if (!r.parsed.contains("version"))
      return absl::InternalError("pdm models register: no version");
    step["metrics"] = {{"version", r.parsed["version"]}};
    record_["outcome"] = {{"model", model}, {"version", r.parsed["version"]}};
    return absl::OkStatus();
  }

  absl::Status Promote(json& step) {
    const std::string model = record_["params"]["model"];
    const std::string version = std::to_string(record_["outcome"]["version"].get<int64_t>());
    const std::string reason = core::StrCat("pipeline ", c_.name, " run ", id_);
    const bool manual = c_.promote == "manual";
    const std::string alias = manual ? "candidate" : c_.alias;
    std::vector<std::string> args = {"models",  "promote", model,      version,
                                     "--alias", alias,     "--reason", reason};
    if (!manual && !c_.gate_metric.empty()) {
      args.insert(args.end(),
                  {"--if-better", c_.gate_metric, "--threads", std::to_string(c_.threads)});
      if (!c_.gate_data.empty())
        args.insert(args.end(), {"--spec", c_.spec, "--data", c_.gate_data});
      if (c_.gate_test) args.insert(args.end(), {"--spec", c_.spec, "--test"});
      if (const std::string since = GateSince(); !since.empty()) {
        args.insert(args.end(), {"--spec", c_.spec, "--since", since});
        if (!c_.data.empty()) args.insert(args.end(), {"--data", c_.data});
      }
    }
    const auto flags = RegistryFlags();
    args.insert(args.end(), flags.begin(), flags.end());
    step["params"] = {{"alias", alias},
                      {"gate_metric", manual ? "" : c_.gate_metric},
                      {"since", manual ? "" : GateSince()}};
    PDM_ASSIGN_OR_RETURN(auto r, (Command("promote", args, {kExitOk, kExitDataRefused})));
    std::string decision;
    if (manual) {
      decision = core::StrCat("held for approval: alias candidate -> v", version, " (approve: pdm ",
                              "models promote ", model, " candidate --alias ", c_.alias, ")");
    } else if (r.exit_code == kExitOk) {
      decision = core::StrCat("promoted to ", c_.alias);
    } else {
      decision = core::StrCat("kept the champion: not better on ", c_.gate_metric);
    }
    step["metrics"] = {
        {"decision", decision}, {"promoted", !manual && r.exit_code == kExitOk}, {"detail", r.out}};
    record_["outcome"]["decision"] = decision;
    record_["outcome"]["promoted"] = !manual && r.exit_code == kExitOk;
    return absl::OkStatus();
  }

  absl::Status Notify(json& step) {
    if (c_.webhooks.empty()) {
      step["state"] = "skipped";
      return absl::OkStatus();
    }
    const json body = {{"event", "pipeline.succeeded"},
                       {"pipeline", c_.name},
                       {"run", id_},
                       {"outcome", record_["outcome"]},
                       {"metrics", (*FindStep(record_, "train"))["metrics"]}};
    const char* secret = std::getenv("PDM_WEBHOOK_SECRET");
    json delivered = json::array();
    for (const std::string& url : c_.webhooks) {
      const notify::PostResult r = notify::PostSignedJson(
          nullptr, url, body.dump(), "pipeline.succeeded", core::StrCat("pipeline-", id_),
          secret == nullptr ? "" : secret, std::chrono::seconds(10));
      if (!r.error.empty()) {
        step["metrics"] = {{"delivered", delivered}};
        return absl::UnavailableError(core::StrCat("webhook ", r.error));
      }
      delivered.push_back(notify::RedactedTarget(url));
    }
    step["metrics"] = {{"delivered", delivered}};
    return absl::OkStatus();
  }

  PipelineConfig c_;
  RegistryArgs registry_;
  store::Store* store_;
  json record_;
  std::string id_;
  fs::path dir_;
};

struct PipelineArgs {
  std::string config;
  std::string resume;
  RegistryArgs registry;
};

int RunPipeline(const PipelineArgs& args) {
  auto fail = [](const absl::Status& s) {
    fmt::print(stderr, "pdm pipeline: {}\n", s.message());
    return s.code() == absl::StatusCode::kInternal ? kExitInternal : kExitBadInput;
  };
  auto config = LoadPipelineConfig(args.config);
  if (!config.ok()) return fail(config.status());
  auto spec = spec::LoadDatasetSpec(config->spec);
  if (!spec.ok()) return fail(spec.status());
  config->time_type = spec->data.time_type;
  if (!config->gate_newest.empty() && spec->labels.source == spec::LabelSource::kRunToFailure) {
    return fail(absl::InvalidArgumentError(core::StrCat(
        config->path, ": gate.newest: ", config->spec,
        " is run-to-failure data, which cannot be cut by time (its histories' last readings are "
        "the failures); gate on a test set (gate.test) instead")));
  }
  // The inputs: the spec's bytes and every data file it reads (features::FingerprintInputs).
  auto spec_hash = core::Sha256File(config->spec);
  if (!spec_hash.ok()) return fail(spec_hash.status());
  // Opened (and made, the first time) before anything reads it.
  auto registry = OpenRegistry(args.registry, /*create=*/true);
  if (!registry.ok()) return fail(registry.status());
  // data: {from: store}: the store's readings and events, exported now (a resumed run reads
  // its own export again); the steps read the export's spec.
  fs::path export_dir;
  bool export_is_new = false;
  json export_summary;
  if (config->data_from_store) {
    const fs::path kept = fs::path(config->runs_dir) / args.resume / "export";
    if (!args.resume.empty() && fs::exists(kept / "spec.yaml")) {
      export_dir = kept;
    } else {
      std::error_code ec;
      fs::create_directories(config->runs_dir, ec);
      export_dir = fs::path(config->runs_dir) / core::StrCat(".export-", ::getpid());
      fs::remove_all(export_dir, ec);
      export_is_new = true;
      std::vector<std::string> export_args = {
          "telemetry", "export", "--spec", config->spec, "--out", export_dir.string(), "--json"};
      if (!config->store_since.empty()) {
        export_args.insert(export_args.end(), {"--since", config->store_since});
      }
      if (!config->store_until.empty()) {
        export_args.insert(export_args.end(), {"--until", config->store_until});
      }
      const std::vector<std::string> location = LocationWords(args.registry);
      export_args.insert(export_args.end(), location.begin(), location.end());
      const fs::path prefix = export_dir.string() + ".step";
      auto exported = RunSelf(export_args, prefix);
      if (!exported.ok()) return fail(exported.status());
      if (exported->exit_code != kExitOk) {
        const std::string why = LogTail(prefix);
        fs::remove_all(export_dir, ec);
        fs::remove(prefix.string() + ".out", ec);
        fs::remove(prefix.string() + ".log", ec);
        return fail(absl::FailedPreconditionError(
            core::StrCat("pdm telemetry export exited ", exported->exit_code, ": ", why)));
      }
      export_summary = json::parse(exported->out, nullptr, false);
      fs::remove(prefix.string() + ".out", ec);
      fs::remove(prefix.string() + ".log", ec);
    }
    spec = spec::LoadDatasetSpec(export_dir / "spec.yaml");
    if (!spec.ok()) return fail(spec.status());
  }
  auto inputs = features::FingerprintInputs(*spec, config->data);
  if (!inputs.ok()) return fail(inputs.status());
  json files = json::array();
  for (const features::InputFile& f : inputs->files) {
    files.push_back(
        {{"role", f.role}, {"path", f.path.string()}, {"bytes", f.bytes}, {"sha256", f.sha256}});
  }
  if (!config->gate_data.empty()) {
    auto gate_hash = core::Sha256File(config->gate_data);
    if (!gate_hash.ok()) return fail(gate_hash.status());
    files.push_back({{"role", "gate"}, {"path", config->gate_data}, {"sha256", *gate_hash}});
  }
  // The store's resolved alerts, exported now: their content is one of the run's inputs.
  std::string feedback_path;
  if (config->feedback_from_alerts) {
    std::error_code ec;
    fs::create_directories(config->runs_dir, ec);
    const fs::path prefix = fs::path(config->runs_dir) / core::StrCat(".feedback-", ::getpid());
    std::vector<std::string> export_args = LocationWords(args.registry);
    export_args.insert(export_args.begin(), {"alerts", "export"});
    auto exported = RunSelf(export_args, prefix);
    if (!exported.ok()) return fail(exported.status());
    if (exported->exit_code != kExitOk) {
      return fail(absl::FailedPreconditionError(
          core::StrCat("pdm alerts export exited ", exported->exit_code, ": ", LogTail(prefix))));
    }
    fs::remove(prefix.string() + ".log", ec);
    feedback_path = prefix.string() + ".out";
    files.push_back({{"role", "feedback"},
                     {"path", "pdm alerts export"},
                     {"bytes", exported->out.size()},
                     {"sha256", core::Sha256Hex(exported->out)}});
  }
  const std::string model_name = config->model.empty() ? spec->name : config->model;
  const json params = RunParams(*config, model_name);
  json input_record = {{"spec", config->spec},
                       {"spec_sha256", *spec_hash},
                       {"fingerprint", inputs->fingerprint},
                       {"files", files}};
  std::string identity =
      core::StrCat(config->name, "\n", *spec_hash, "\n", inputs->fingerprint, "\n", params.dump());
  for (const json& f : files) {
    if (f["role"] == "gate" || f["role"] == "feedback") {
      identity +=
          core::StrCat("\n", f["role"].get<std::string>(), " ", f["sha256"].get<std::string>());
    }
  }
  const std::string id = core::Sha256Hex(identity).substr(0, 16);
  std::string original_spec = config->spec;
  if (config->data_from_store) {
    const fs::path kept = fs::path(config->runs_dir) / id / "export";
    if (export_is_new) {
      // Kept in the run's folder, where the steps read it (also when resumed).
      std::error_code ec;
      fs::create_directories(kept.parent_path(), ec);
      fs::remove_all(kept, ec);
      fs::rename(export_dir, kept, ec);
      if (ec) return fail(absl::InternalError(core::StrCat(kept.string(), ": ", ec.message())));
      for (json& f : input_record["files"]) {
        std::string path = f.value("path", "");
        if (path.starts_with(export_dir.string())) {
          f["path"] = kept.string() + path.substr(export_dir.string().size());
        }
      }
    }
    original_spec = config->spec;
    config->spec = (kept / "spec.yaml").string();
    input_record["data_from"] = "store";
    input_record["export"] = export_summary.is_object() ? export_summary : json();
    input_record["export_spec"] = config->spec;
  }
  if (!feedback_path.empty()) {
    // Kept in the run's folder, where the train step reads it (also when resumed).
    const fs::path kept = fs::path(config->runs_dir) / id / "feedback.csv";
    std::error_code ec;
    fs::create_directories(kept.parent_path(), ec);
    fs::rename(feedback_path, kept, ec);
    if (ec) return fail(absl::InternalError(core::StrCat(kept.string(), ": ", ec.message())));
    input_record["feedback"] = kept.string();
  }

  store::Store& store = (*registry)->store();
  auto existing = store.GetPipelineRun(id);
  if (!existing.ok()) return fail(existing.status());
  json record;
  if (!args.resume.empty()) {
    auto resumed = store.GetPipelineRun(args.resume);
    if (!resumed.ok()) return fail(resumed.status());
    if (!resumed->has_value()) {
      return fail(absl::NotFoundError(core::StrCat("--resume ", args.resume, ": no such run")));
    }
    if (args.resume != id) {
      return fail(absl::FailedPreconditionError(core::StrCat(
          "--resume ", args.resume, ": the inputs or settings changed since that run (they now ",
          "make run ", id, "); start a new run without --resume")));
    }
    if ((*resumed)->state == "succeeded") {
      fmt::print("pipeline {}: already succeeded; nothing to resume\n", id);
      return kExitOk;
    }
    record = json::parse((*resumed)->record, nullptr, false);
    if (!record.is_object()) {
      return fail(absl::DataLossError(core::StrCat("run ", id, ": its record is not JSON")));
    }
    record["resumed"] = record.value("resumed", 0) + 1;
  } else if (existing->has_value()) {
    const std::string& state = (*existing)->state;
    if (state == "succeeded") {
      fmt::print(
          "pipeline {}: already succeeded with these inputs and settings; nothing to do (pdm "
          "runs show {})\n",
          id, id);
      return kExitOk;
    }
    return fail(absl::FailedPreconditionError(
        core::StrCat("run ", id, " of these inputs and settings is ", state,
                     "; continue it with --resume ", id, " (pdm runs show ", id, ")")));
  } else {
    record = {{"id", id},
              {"pipeline", config->name},
              {"config", config->path},
              {"created", IsoNow()},
              {"inputs", input_record},
              {"params", params},
              {"steps", json::array()}};
    for (const char* name : kSteps) {
      record["steps"].push_back({{"name", name}, {"state", "pending"}, {"attempts", 0}});
    }
  }
  fmt::print("pipeline {}: run {} of {}{} (inputs {})\n", config->name, id, original_spec,
             config->data_from_store ? " with the store's data" : "",
             inputs->fingerprint.substr(0, 12));
  Runner runner(*config, args.registry, &store, std::move(record), id);
  return runner.Run();
}

// `pdm runs`.
struct RunsArgs {
  std::string pipeline;
  std::string id;
  std::string other;
  int limit = 20;
  bool json_output = false;
  RegistryArgs registry;
};

absl::StatusOr<json> LoadRun(store::Store& store, const std::string& id) {
  PDM_ASSIGN_OR_RETURN(auto row, store.GetPipelineRun(id));
  if (!row.has_value()) return absl::NotFoundError(core::StrCat("no run ", id));
  json record = json::parse(row->record, nullptr, false);
  if (!record.is_object()) return absl::DataLossError(core::StrCat("run ", id, ": not JSON"));
  record["state"] = row->state;
  record["updated"] = core::FormatTimestamp(row->updated_us / 1'000'000);
  return record;
}

int RunsFail(const absl::Status& s) {
  fmt::print(stderr, "pdm runs: {}\n", s.message());
  return s.code() == absl::StatusCode::kNotFound ? kExitDataRefused : kExitBadInput;
}

int RunRunsList(const RunsArgs& args) {
  auto registry = OpenRegistry(args.registry, /*create=*/false);
  if (!registry.ok()) return RunsFail(registry.status());
  auto rows = (*registry)->store().ListPipelineRuns(args.pipeline, args.limit);
  if (!rows.ok()) return RunsFail(rows.status());
  json out = json::array();
  for (const store::PipelineRunRow& row : *rows) {
    const json record = json::parse(row.record, nullptr, false);
    const json outcome = record.is_object() ? record.value("outcome", json::object()) : json();
    out.push_back({{"id", row.id},
                   {"pipeline", row.pipeline},
                   {"state", row.state},
                   {"created", core::FormatTimestamp(row.created_us / 1'000'000)},
                   {"updated", core::FormatTimestamp(row.updated_us / 1'000'000)},
                   {"failed_step", record.is_object() ? record.value("failed_step", "") : ""},
                   {"outcome", outcome}});
  }
  if (args.json_output) {
    fmt::print("{}\n", out.dump(2));
    return kExitOk;
  }
  fmt::print("{:<16}  {:<20}  {:<9}  {:<20}  {}\n", "RUN", "PIPELINE", "STATE", "CREATED",
             "OUTCOME");
  for (const json& r : out) {
    const json& o = r["outcome"];
    std::string outcome = r["failed_step"].get<std::string>().empty()
                              ? ""
                              : core::StrCat("failed at ", r["failed_step"].get<std::string>());
    if (o.is_object() && o.contains("version")) {
      outcome = core::StrCat(o.value("model", ""), " v", o["version"].dump(), " ",
                             o.value("decision", ""), outcome.empty() ? "" : "; ", outcome);
    }
    fmt::print("{:<16}  {:<20}  {:<9}  {:<20}  {}\n", r["id"].get<std::string>(),
               r["pipeline"].get<std::string>(), r["state"].get<std::string>(),
               r["created"].get<std::string>(), outcome);
  }
  return kExitOk;
}

int RunRunsShow(const RunsArgs& args) {
  auto registry = OpenRegistry(args.registry, /*create=*/false);
  if (!registry.ok()) return RunsFail(registry.status());
  auto record = LoadRun((*registry)->store(), args.id);
  if (!record.ok()) return RunsFail(record.status());
  if (args.json_output) {
    fmt::print("{}\n", record->dump(2));
    return kExitOk;
  }
  const json& r = *record;
  fmt::print("run {} of {} ({}): {}\n", r.value("id", ""), r.value("pipeline", ""),
             r.value("config", ""), r.value("state", ""));
  fmt::print("inputs {}: spec {}\n", r["inputs"].value("fingerprint", "").substr(0, 16),
             r["inputs"].value("spec", ""));
  for (const json& f : r["inputs"]["files"]) {
    fmt::print("  {:<12} {}  {}\n", f.value("role", ""), f.value("sha256", "").substr(0, 12),
               f.value("path", ""));
  }
  fmt::print("params {}\n", r["params"].dump());
  for (const json& step : r["steps"]) {
    fmt::print("  {:<9} {:<9} attempts {}  {}\n", step.value("name", ""), step.value("state", ""),
               step.value("attempts", 0),
               step.contains("error") ? step["error"].get<std::string>()
                                      : (step.contains("metrics") ? step["metrics"].dump() : ""));
  }
  if (r.contains("outcome")) fmt::print("outcome {}\n", r["outcome"].dump());
  return kExitOk;
}

// Flattens `value` into "a.b.c" -> leaf for a side-by-side table.
void Flatten(const json& value, const std::string& prefix,
             std::map<std::string, std::string>* out) {
  if (value.is_object()) {
    for (const auto& [k, v] : value.items()) {
      Flatten(v, prefix.empty() ? k : core::StrCat(prefix, ".", k), out);
    }
  } else {
    (*out)[prefix] = value.is_string() ? value.get<std::string>() : value.dump();
  }
}

int RunRunsCompare(const RunsArgs& args) {
  auto registry = OpenRegistry(args.registry, /*create=*/false);
  if (!registry.ok()) return RunsFail(registry.status());
  std::map<std::string, std::string> sides[2];
  for (int i = 0; i < 2; ++i) {
    auto record = LoadRun((*registry)->store(), i == 0 ? args.id : args.other);
    if (!record.ok()) return RunsFail(record.status());
    json flat = {{"state", (*record)["state"]},
                 {"inputs", {{"fingerprint", (*record)["inputs"]["fingerprint"]}}},
                 {"params", (*record)["params"]},
                 {"outcome", record->value("outcome", json::object())}};
    for (const json& step : (*record)["steps"]) {
      if (step.contains("metrics"))
        flat["metrics"][step["name"].get<std::string>()] = step["metrics"];
    }
    flat["metrics"]["promote"].erase("detail");
    Flatten(flat, "", &sides[i]);
  }
  std::map<std::string, std::pair<std::string, std::string>> rows;
  for (const auto& [k, v] : sides[0]) rows[k].first = v;
  for (const auto& [k, v] : sides[1]) rows[k].second = v;
  if (args.json_output) {
    json out = json::object();
    for (const auto& [k, v] : rows) {
      out[k] = {{args.id, v.first}, {args.other, v.second}, {"differs", v.first != v.second}};
    }
    fmt::print("{}\n", out.dump(2));
    return kExitOk;
  }
  fmt::print("{:<44} {:<24} {:<24}\n", "", args.id, args.other);
  for (const auto& [k, v] : rows) {
    fmt::print("{} {:<42} {:<24} {:<24}\n", v.first == v.second ? ' ' : '*', k,
               v.first.substr(0, 24), v.second.substr(0, 24));
  }
  return kExitOk;
}

}  // namespace

void AddPipelineCommands(CLI::App& app, int* exit_code) {
  CLI::App* pipeline = app.add_subcommand(
      "pipeline",
      "Scheduled retraining: validate, train, register, gate and promote, notify, each step "
      "recorded as a run in the store (docs/pipeline.md)");
  pipeline->require_subcommand(1);
  auto args = std::make_shared<PipelineArgs>();
  CLI::App* run = pipeline->add_subcommand(
      "run",
      "Run a pipeline.yaml. The same inputs and settings make the same run: a succeeded one is "
      "not run again; a failed one continues with --resume RUN from the step that failed. "
      "Exit 0: succeeded (promoted or champion kept), 1: a step failed, 3: unusable config");
  run->add_option("--config", args->config, "The pipeline.yaml")->required();
  run->add_option("--resume", args->resume, "Continue this failed run from its failed step");
  AddRegistryOptions(run, &args->registry);
  run->callback([args, exit_code] { *exit_code = RunPipeline(*args); });
  CLI::App* check = pipeline->add_subcommand(
      "check", "Check a pipeline.yaml's keys and values without reading its data: exit 0 or 3");
  check->add_option("--config", args->config, "The pipeline.yaml")->required();
  check->callback([args, exit_code] {
    auto config = LoadPipelineConfig(args->config);
    if (!config.ok()) {
      fmt::print(stderr, "pdm pipeline: {}\n", config.status().message());
      *exit_code = kExitBadInput;
      return;
    }
    fmt::print("pdm pipeline: {}: ok (pipeline {}, spec {}, promote {}{})\n", args->config,
               config->name, config->spec, config->promote,
               config->gate_metric.empty() ? "" : core::StrCat(", gate ", config->gate_metric));
    *exit_code = kExitOk;
  });

  CLI::App* runs = app.add_subcommand(
      "runs", "The pipeline runs recorded in the store: list, show, compare (docs/pipeline.md)");
  runs->require_subcommand(1);
  auto runs_args = std::make_shared<RunsArgs>();
  CLI::App* list = runs->add_subcommand("list", "Runs, newest first");
  list->add_option("--pipeline", runs_args->pipeline, "Only this pipeline's runs");
  list->add_option("--limit", runs_args->limit, "At most this many")->check(CLI::Range(1, 100000));
  list->add_flag("--json", runs_args->json_output, "Print JSON");
  AddRegistryOptions(list, &runs_args->registry);
  list->callback([runs_args, exit_code] { *exit_code = RunRunsList(*runs_args); });
  CLI::App* show = runs->add_subcommand("show", "One run: inputs, params, every step's metrics");
  show->add_option("run", runs_args->id, "Run id")->required();
  show->add_flag("--json", runs_args->json_output, "Print the run's whole record");
  AddRegistryOptions(show, &runs_args->registry);
  show->callback([runs_args, exit_code] { *exit_code = RunRunsShow(*runs_args); });
  CLI::App* compare = runs->add_subcommand(
      "compare", "Two runs side by side: inputs, params, metrics, outcome (* marks a difference)");
  compare->add_option("run", runs_args->id, "Run id")->required();
  compare->add_option("other", runs_args->other, "The other run id")->required();
  compare->add_flag("--json", runs_args->json_output, "Print JSON");
  AddRegistryOptions(compare, &runs_args->registry);
  compare->callback([runs_args, exit_code] { *exit_code = RunRunsCompare(*runs_args); });
}

}  // namespace pdm::cli
