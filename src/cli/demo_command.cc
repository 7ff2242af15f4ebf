#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>

#include "cli/commands.h"
#include "cli/replay.h"
#include "core/file.h"
#include "core/strings.h"
#include "serving/api.h"
#include "sim/simulator.h"
#include "validate/dataset_validation.h"

namespace pdm::cli {

bool ToSimulationOptions(const char* command, int machines, const std::string& duration,
                         const std::string& interval, uint64_t seed, const std::string& start,
                         int threads, sim::SimulationOptions* options);
void PrintSimulationSummary(const sim::SimulationSummary& summary, const std::string& out);
int RunValidation(const char* command, const std::string& spec_path,
                  const validate::DatasetValidateOptions& options, bool json);
int TrainForDemo(const std::string& spec, const std::string& out, const std::string& models,
                 int threads);

namespace {

struct DemoArgs {
  std::string out = "pdm-demo";
  int machines = 50;
  std::string duration = "180d";
  std::string interval = "1h";
  uint64_t seed = 7;
  std::string models;  // empty: all three
  int threads = 0;
  RegistryArgs registry;
  bool serve = false;
  int port = 8080;
  // With --serve: the last part of the simulated span is kept out of training and replayed
  // through the telemetry route, `speed` times faster than real time.
  std::string replay = "auto";  // auto: the last third of the span
  double speed = 3600;
};

// Posts the replay's steps to the telemetry route at `speed` times real time (data time between
// steps / speed), until done or stopped. Prints a line a simulated day.
void RunReplay(const std::vector<ReplayStep>& steps, double speed, serving::Api& api,
               const std::stop_token& stop) {
  const auto start = std::chrono::steady_clock::now();
  int64_t accepted = 0, refused = 0;
  double last_day = steps.empty() ? 0 : std::floor(steps.front().time / 86400);
  for (const ReplayStep& step : steps) {
    const auto due =
        start + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                    std::chrono::duration<double>((step.time - steps.front().time) / speed));
    while (!stop.stop_requested() && std::chrono::steady_clock::now() < due) {
      std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(
          due - std::chrono::steady_clock::now(), std::chrono::milliseconds(100)));
    }
    if (stop.stop_requested()) return;
    serving::HttpRequest request;
    request.method = "POST";
    request.target = request.path = "/api/v1/telemetry";
    request.content_type = "application/json";
    request.body = step.body;
    const serving::HttpResponse response = api.Handle(request);
    const nlohmann::json answer = nlohmann::json::parse(response.body, nullptr, false);
    if (answer.is_object()) {
      accepted += answer.value("accepted", int64_t{0});
      refused += answer.value("refused", int64_t{0});
    }
    if (const double day = std::floor(step.time / 86400); day != last_day) {
      last_day = day;
      fmt::print("replay: {} ({} readings accepted, {} refused)\n",
                 core::FormatTimestamp(static_cast<int64_t>(step.time)), accepted, refused);
      std::fflush(stdout);
    }
  }
  fmt::print("replay: done ({} readings accepted, {} refused)\n", accepted, refused);
  std::fflush(stdout);
}

// A request body for the printed curl example: every feature at its training median
// (model/reference.json), so the example scores a typical machine.
std::string WriteExampleRecord(const std::string& out) {
  auto text = core::ReadFileToString(out + "/train/model/reference.json", "reference");
  if (!text.ok()) return "";
  const nlohmann::json reference = nlohmann::json::parse(*text, nullptr, false);
  if (!reference.is_object()) return "";
  nlohmann::json record = nlohmann::json::object();
  for (const auto& f : reference.value("features", nlohmann::json::array())) {
    record[f.value("name", "")] = f.value("values", 0) > 0 ? f["median"] : nlohmann::json();
  }
  std::string path = out + "/example_record.json";
  if (!core::WriteStringToFile(path, nlohmann::json{{"features", record}}.dump(2) + "\n").ok()) {
    return "";
  }
  return path;
}

// The business case the demo's dashboard shows: the bottom-up example, whose detection then
// comes from the served model's measured errors. Written into the demo's folder so that the
// demo runs from any directory.
std::string RoiExampleFor(const std::string& out) {
  const std::string path = out + "/roi.yaml";
  const std::string text =
      "# The demo's business case (pdm roi's format, docs/roi.md); detection comes from the\n"
      "# served model's out-of-fold errors.\n"
      "currency: RUB\n"
      "horizon_years: 5\n"
      "discount_rate: 0.12\n"
      "ramp_up:\n"
      "  first_year_benefit_share: 0.5\n"
      "bottom_up:\n"
      "  fleet_size: 50\n"
      "  failures_per_machine_year: 1.2\n"
      "  cost_per_failure: 1500000\n"
      "  planned_repair_cost: 400000\n"
      "  downtime_hours_per_failure: 36\n"
      "  cost_per_downtime_hour: 120000\n"
      "  avoidable_downtime_share: 0.7\n"
      "  planned_maintenance_cost: 9000000\n"
      "  maintenance_saving_share: 0.15\n"
      "detection:\n"
      "  recall: 0.6\n"
      "  false_alarms_per_year: 100\n"
      "  false_alarm_cost: 30000\n"
      "  healthy_decisions_per_year: 18250\n"
      "costs:\n"
      "  one_time:\n"
      "    integration: 12000000\n"
      "  yearly:\n"
      "    operations: 3000000\n";
  return core::WriteStringToFile(path, text).ok() ? path : "";
}

// Registers the demo's model and, on a registry without one, makes it the production model.
int RegisterDemoModel(const DemoArgs& args) {
  RegistryArgs where = args.registry;
  const char* env_registry = std::getenv("PDM_REGISTRY");
  if (where.dir.empty() && (env_registry == nullptr || *env_registry == '\0')) {
    where.dir = args.out + "/registry";
  }
  auto reg = OpenRegistry(where);
  if (!reg.ok()) {
    fmt::print(stderr, "pdm demo: {}\n", reg.status().message());
    return kExitBadInput;
  }
  auto version = (*reg)->Register({args.out + "/train/model", "fleet", "pdm demo", "pdm demo",
                                   registry::ResolveActor(where.actor)});
  if (!version.ok()) {
    fmt::print(stderr, "pdm demo: {}\n", version.status().message());
    return kExitBadInput;
  }
  fmt::print("registered fleet version {} in {} (artifacts {})\n", version->version,
             (*reg)->location().dir.string(), version->artifact_hash.substr(0, 12));
  auto aliases = (*reg)->store().Aliases("fleet");
  if (aliases.ok() && !aliases->contains("production")) {
    auto promoted =
        (*reg)->Promote("fleet", version->version, "production", "first model of the demo registry",
                        registry::ResolveActor(where.actor));
    if (promoted.ok()) fmt::print("fleet: production -> v{}\n", version->version);
  } else if (aliases.ok()) {
    fmt::print(
        "production stays at v{}; to promote if better: pdm models promote fleet {} "
        "--alias production --if-better roc_auc --registry {}\n",
        aliases->at("production"), version->version, where.dir);
  }
  return kExitOk;
}

}  // namespace

void AddDemoCommand(CLI::App& app, int* exit_code) {
  auto args = std::make_shared<DemoArgs>();
  CLI::App* cmd = app.add_subcommand(
      "demo",
      "The end-to-end demo: simulate a fleet, validate it with quarantine, train the ensemble "
      "with cross-validation, print its metrics and the path of its report, and register the "
      "model (production on a fresh registry; default registry: <out>/registry).");
  cmd->add_option("--out", args->out, "Working directory for the demo's files")
      ->capture_default_str();
  cmd->add_option("--machines", args->machines, "Fleet size")
      ->capture_default_str()
      ->check(CLI::Range(1, 100000));
  cmd->add_option("--duration", args->duration, "Simulated span")->capture_default_str();
  cmd->add_option("--interval", args->interval, "Reading period")->capture_default_str();
  cmd->add_option("--seed", args->seed, "Random seed")->capture_default_str();
  cmd->add_option("--models", args->models, "Ensemble members (default rf,gbm,xgb)");
  cmd->add_option("--threads", args->threads, "Threads (0: all cores)")->check(CLI::Range(0, 256));
  AddRegistryOptions(cmd, &args->registry);
  cmd->get_option("--registry")->description("Registry directory (default: <out>/registry)");
  cmd->add_flag("--serve", args->serve,
                "Then serve the production model over REST until SIGTERM/SIGINT (Ctrl-C)");
  cmd->add_option("--replay", args->replay,
                  "With --serve: the last part of the span kept out of training and replayed "
                  "live through the telemetry route: a span such as 20d, auto (the last third), "
                  "or off")
      ->capture_default_str();
  cmd->add_option("--speed", args->speed,
                  "With --serve: how much faster than real time the replay runs (3600: a "
                  "simulated hour a second)")
      ->capture_default_str()
      ->check(CLI::Range(1.0, 1e9));
  cmd->add_option("--port", args->port, "With --serve: the port")
      ->capture_default_str()
      ->check(CLI::Range(0, 65535));
  cmd->footer(kExitCodeHelp);
  cmd->callback([args, exit_code] {
    sim::SimulationOptions options;
    if (!ToSimulationOptions("demo", args->machines, args->duration, args->interval, args->seed,
                             "2025-01-01T00:00:00Z", args->threads, &options)) {
      *exit_code = kExitUsage;
      return;
    }
    const std::string data_dir = args->out + "/fleet";
    core::Span replay_span{core::Span::Kind::kTime, 0};
    if (args->serve && args->replay == "auto") {
      replay_span.amount = options.duration_seconds / 3 / 3600 * 3600;
    } else if (args->serve && args->replay != "0" && args->replay != "off") {
      auto parsed = core::ParseSpan(args->replay);
      if (!parsed.ok() || parsed->kind != core::Span::Kind::kTime) {
        fmt::print(stderr, "pdm demo: --replay '{}': expected a span of time such as 60d, or off\n",
                   args->replay);
        *exit_code = kExitUsage;
        return;
      }
      replay_span = *parsed;
    }
    fmt::print("== 1/4 simulate {} machines over {} every {} (seed {})\n", args->machines,
               args->duration, args->interval, args->seed);
    auto summary = sim::Simulate(options, data_dir);
    if (!summary.ok()) {
      fmt::print(stderr, "pdm demo: {}\n", summary.status().message());
      *exit_code = kExitBadInput;
      return;
    }
    PrintSimulationSummary(*summary, data_dir);
    // Replayed: train on the span before the replay (a copy of the fleet's files cut there).
    std::string spec_path = summary->spec_path.string();
    double replay_from = 0;
    if (replay_span.amount > 0) {
      const auto start = static_cast<double>(options.start_epoch_seconds);
      const double end = start + static_cast<double>(options.duration_seconds);
      replay_from = end - static_cast<double>(replay_span.amount);
      if (replay_from <= start) {
        fmt::print(stderr, "pdm demo: --replay {} is not shorter than --duration {}\n",
                   args->replay, args->duration);
        *exit_code = kExitUsage;
        return;
      }
      const std::string train_dir = args->out + "/fleet-train";
      if (absl::Status s = SplitFleet(data_dir, replay_from, train_dir); !s.ok()) {
        fmt::print(stderr, "pdm demo: {}\n", s.message());
        *exit_code = kExitBadInput;
        return;
      }
      spec_path = train_dir + "/" + summary->spec_path.filename().string();
      fmt::print("training on the fleet before {}; the rest is replayed live once serving\n",
                 core::FormatTimestamp(static_cast<int64_t>(replay_from)));
    }
    fmt::print("\n== 2/4 validate {}\n", spec_path);
    validate::DatasetValidateOptions validate_options;
    validate_options.quarantine_dir = args->out + "/quarantine";
    const int code = RunValidation("demo", spec_path, validate_options, false);
    // Quarantined rows are expected here: the simulator injects re-sent duplicates on purpose.
    *exit_code = code == kExitDataRefused ? kExitOk : code;
    if (*exit_code != kExitOk) return;
    fmt::print("\n== 3/4 train (failure within the spec's horizon; grouped by machine)\n");
    std::fflush(stdout);
    *exit_code = TrainForDemo(spec_path, args->out + "/train", args->models, args->threads);
    if (*exit_code != kExitOk) return;
    fmt::print("\n== 4/4 register\n");
    *exit_code = RegisterDemoModel(*args);
    if (*exit_code != kExitOk) return;
    if (!args->serve) {
      fmt::print(
          "\ndemo done. Open {}/train/report.html; next: pdm models list --registry {}/registry, "
          "pdm serve --registry {}/registry\n",
          args->out, args->out, args->out);
      return;
    }
    fmt::print("\n== serve (report: {}/train/report.html; Ctrl-C stops)\n", args->out);
    ServeOptions serve;
    serve.registry = args->registry;
    if (serve.registry.dir.empty()) serve.registry.dir = args->out + "/registry";
    serve.port = args->port;
    serve.threads = args->threads;
    serve.example_body = WriteExampleRecord(args->out);
    if (const char* token = std::getenv("PDM_SERVE_TOKEN"); token != nullptr) serve.token = token;
    if (serve.token.empty()) {
      fmt::print(
          "(no PDM_SERVE_TOKEN: the dashboard can look but not acknowledge alerts or promote "
          "models; set it to enable them)\n");
    }
    serve.roi = RoiExampleFor(args->out);
    if (replay_span.amount > 0) {
      auto steps = LoadReplay(data_dir, replay_from);
      if (!steps.ok()) {
        fmt::print(stderr, "pdm demo: {}\n", steps.status().message());
        *exit_code = kExitBadInput;
        return;
      }
      fmt::print("replaying the last {} of the fleet ({} steps) at {}x real time once serving\n",
                 core::FormatSpan(replay_span), steps->size(), args->speed);
      auto shared = std::make_shared<std::vector<ReplayStep>>(std::move(*steps));
      const double speed = args->speed;
      serve.background = [shared, speed](serving::Api& api, const std::stop_token& stop) {
        RunReplay(*shared, speed, api, stop);
      };
    }
    *exit_code = Serve(serve);
  });
}

}  // namespace pdm::cli
