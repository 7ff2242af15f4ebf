// The pdm subcommands. Each Add*Command registers its flags on `app` and, when the command
// runs, stores its exit code in `*exit_code`. Composition only: the work lives in the modules.
#ifndef PDM_CLI_COMMANDS_H_
#define PDM_CLI_COMMANDS_H_

#include <functional>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>

#include "CLI/CLI.hpp"
#include "absl/status/statusor.h"
#include "core/time.h"
#include "ingest/source_config.h"
#include "nlohmann/json.hpp"
#include "registry/registry.h"
#include "sink/sink_config.h"
#include "spec/dataset_spec.h"

namespace pdm::serving {
class Api;
}  // namespace pdm::serving

namespace pdm::cli {

// Exit codes shared by every command (documented in docs/cli.md and in `pdm --help`).
enum ExitCode : int {
  kExitOk = 0,           // success; for validate: every row accepted
  kExitDataRefused = 1,  // ran, but refused or found problems: validate quarantined rows,
                         // models verify found damage, models promote --if-better refused
  kExitUsage = 2,        // bad command line
  kExitBadInput = 3,     // unusable input: missing/unreadable file, invalid spec, header mismatch
  kExitInternal = 4,     // an internal error (a bug): please report it
};

inline constexpr const char* kExitCodeHelp =
    "Exit codes: 0 success (validate: all rows accepted), 1 refused or problems found (validate:\n"
    "rows quarantined; models verify: damaged artifacts; models promote --if-better: not better),\n"
    "2 bad command line, 3 unusable input (missing file, invalid spec, header mismatch),\n"
    "4 internal error.";

void AddSimulateCommand(CLI::App& app, int* exit_code);
void AddValidateCommand(CLI::App& app, int* exit_code);
void AddFeaturesCommand(CLI::App& app, int* exit_code);
void AddDemoCommand(CLI::App& app, int* exit_code);
void AddRoiCommand(CLI::App& app, int* exit_code);
void AddTrainCommand(CLI::App& app, int* exit_code);
void AddEvaluateCommands(CLI::App& app, int* exit_code);
void AddModelsCommand(CLI::App& app, int* exit_code);
void AddServeCommand(CLI::App& app, int* exit_code);
void AddAlertsCommand(CLI::App& app, int* exit_code);
void AddPipelineCommands(CLI::App& app, int* exit_code);
void AddTelemetryCommand(CLI::App& app, int* exit_code);

// Where the registry lives and who acts: --registry, --store, --actor (with their PDM_*
// environment fallbacks, registry::ResolveLocation and ResolveActor).
struct RegistryArgs {
  std::string dir;
  std::string store;
  std::string actor;
};
void AddRegistryOptions(CLI::App* cmd, RegistryArgs* args);

// A drift window or period flag (`pdm serve`, `pdm train`): "auto" (unset), a span ("24h",
// "500r") or a plain row count; errors name `flag` and the text.
absl::StatusOr<std::optional<core::Span>> ParseDriftSpan(const std::string& text, const char* flag);
// A time of the data as a user writes it on the command line (--since, --until): an ISO 8601
// timestamp for timestamped data, else a number (cycles, epoch seconds); in the data's seconds.
// Errors name `flag` and the text.
absl::StatusOr<double> ParseDataTime(const std::string& text, spec::TimeType type,
                                     const char* flag);

// Opens the registry; `create` false refuses a missing one (read-only commands).
absl::StatusOr<std::unique_ptr<registry::Registry>> OpenRegistry(const RegistryArgs& args,
                                                                 bool create = true);

// Registers a model directory and returns the new version.
absl::StatusOr<store::ModelVersion> RegisterModel(const RegistryArgs& args,
                                                  const std::filesystem::path& model_dir,
                                                  const std::string& name,
                                                  const std::string& description,
                                                  const std::string& reason);

// What `pdm serve` (and `pdm demo --serve`) serves, and how.
struct ServeOptions {
  RegistryArgs registry;
  std::string model = "fleet";
  std::string alias = "production";
  std::string address = "127.0.0.1";
  int port = 8080;
  int threads = 0;
  size_t max_batch = 1000;
  size_t body_limit = size_t{4} * 1024 * 1024;
  int grace_ms = 10'000;
  int drain_ms = 0;      // on SIGTERM, how long readiness is false before the listener closes
  int watch_ms = 2'000;  // how often the alias is checked for a new version (0: never)
  size_t max_machines = 100'000;    // machines the telemetry route follows
  std::string log_format = "text";  // text | json (core/log.h)
  std::string access_log = "off";   // on | off: a log line per request
  bool check_config = false;        // check the settings and exit
  std::string score_every = "0";    // scoring throttle per machine: "1m", "10r"; "0": none
  bool store_telemetry = true;      // append accepted readings and scores to the store
  bool allow_unknown_fields = false;
  std::string token;         // the bearer token of mutating routes
  std::string cors_origins;  // comma-separated; empty: CORS off
  std::string cors_methods = "GET, POST, OPTIONS";
  std::string cors_headers = "Content-Type, Authorization";
  int cors_max_age = 600;
  std::string config;        // server.yaml
  std::string example_body;  // a JSON file for the printed curl example
  // Drift monitoring: "auto" (24h / 1m for timestamped data, else 10000r / 1000r), a span
  // ("24h", "10000r"), a row count, or "off" (window only).
  std::string drift_window = "auto";
  std::string drift_every = "auto";
  int drift_consecutive = 3;
  int drift_min_rows = 1000;
  int64_t drift_sample_above = 1000;
  // "calibrated": per-feature thresholds from the profile's null PSI where it was calibrated
  // for the window (the fixed ones are floors); "fixed": 0.1 / 0.25 for every feature.
  std::string drift_thresholds = "calibrated";
  // Maintenance alerts: "off" turns them off; "auto" high is halfway from the served threshold
  // to 1 (half the horizon for RUL); "auto" cooldown is 24h for timestamped data, else 50r.
  std::string alerts = "on";
  std::string alert_high = "auto";
  int alert_consecutive = 3;
  std::string alert_m_of_k = "5/10";
  std::string alert_cooldown = "auto";
  // Webhooks of the alert events: comma-separated URLs (server.yaml `webhooks`, a list, or
  // PDM_WEBHOOKS) and the repeatable --webhook. The HMAC secret comes from PDM_WEBHOOK_SECRET
  // or the file --webhook-secret-file names, never a flag.
  std::string webhooks;
  std::vector<std::string> webhook_flags;
  std::string webhook_secret_file;
  int webhook_max_attempts = 8;
  int webhook_backoff_ms = 1000;
  int webhook_timeout_ms = 10'000;
  // The business case of GET /api/v1/roi and the dashboard's page (pdm roi's config).
  std::string roi;
  // Ingestion sources (server.yaml `sources:`, docs/ingest.md), started with the server.
  ingest::SourcesConfig sources;
  // Export sinks (server.yaml `sinks:`): readings, risks and alerts written elsewhere.
  sink::SinksConfig sinks;
  size_t max_streams = 64;   // GET /api/v1/stream subscribers at a time
  bool explain_all = false;  // explain every machine's risk (memory: a feature vector each)
  // Run on its own thread once the server listens (pdm demo's replay); `stop` is requested when
  // the server shuts down, before it waits for requests in flight.
  std::function<void(serving::Api& api, const std::stop_token& stop)> background;
};
// Serves until SIGTERM/SIGINT; the exit code.
int Serve(const ServeOptions& options);

// `pdm evaluate`'s metrics JSON of a model directory on a spec's data (`data` overrides the main
// file; `since` scores only records at or after that data time; `test` scores the test set).
absl::StatusOr<nlohmann::json> EvaluateModel(const std::string& model_dir, const std::string& spec,
                                             const std::string& data, const std::string& since,
                                             bool test, int threads);

}  // namespace pdm::cli

#endif  // PDM_CLI_COMMANDS_H_
