#include <cstdio>
#include <cstdlib>

#include "cli/commands.h"
#include "core/file.h"
#include "core/strings.h"
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
};

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
    fmt::print("== 1/4 simulate {} machines over {} every {} (seed {})\n", args->machines,
               args->duration, args->interval, args->seed);
    auto summary = sim::Simulate(options, data_dir);
    if (!summary.ok()) {
      fmt::print(stderr, "pdm demo: {}\n", summary.status().message());
      *exit_code = kExitBadInput;
      return;
    }
    PrintSimulationSummary(*summary, data_dir);
    fmt::print("\n== 2/4 validate {}\n", summary->spec_path.string());
    validate::DatasetValidateOptions validate_options;
    validate_options.quarantine_dir = args->out + "/quarantine";
    const int code = RunValidation("demo", summary->spec_path.string(), validate_options, false);
    // Quarantined rows are expected here: the simulator injects re-sent duplicates on purpose.
    *exit_code = code == kExitDataRefused ? kExitOk : code;
    if (*exit_code != kExitOk) return;
    fmt::print("\n== 3/4 train (failure within the spec's horizon; grouped by machine)\n");
    std::fflush(stdout);
    *exit_code = TrainForDemo(summary->spec_path.string(), args->out + "/train", args->models,
                              args->threads);
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
    *exit_code = Serve(serve);
  });
}

}  // namespace pdm::cli
