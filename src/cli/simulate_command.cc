#include <cstdio>
#include <limits>

#include "cli/commands.h"
#include "cli/replay.h"
#include "core/strings.h"
#include "core/time.h"
#include "sim/simulator.h"

namespace pdm::cli {
namespace {

struct SimulateArgs {
  int machines = 20;
  std::string duration = "30d";
  std::string interval = "1h";
  uint64_t seed = 1;
  std::string start = "2025-01-01T00:00:00Z";
  std::string out;
  int threads = 0;
  std::vector<std::string> drifts;
  double seasonal_amplitude = 8;
  // --publish: the fleet sent live once simulated (replay.h PublishOptions).
  PublishOptions publish;
  std::string publish_from;  // ISO 8601: only readings and events at or after it
};

}  // namespace

// Parses the simulate flags into options, or prints why not. Shared with the demo command.
bool ToSimulationOptions(const char* command, int machines, const std::string& duration,
                         const std::string& interval, uint64_t seed, const std::string& start,
                         int threads, sim::SimulationOptions* options) {
  auto duration_seconds = core::ParseDurationSeconds(duration);
  auto interval_seconds = core::ParseDurationSeconds(interval);
  double start_epoch = 0;
  if (!duration_seconds.ok() || !interval_seconds.ok()) {
    fmt::print(stderr, "pdm {}: {}\n", command,
               !duration_seconds.ok()
                   ? "--duration: " + std::string(duration_seconds.status().message())
                   : "--interval: " + std::string(interval_seconds.status().message()));
    return false;
  }
  if (!core::ParseTimestamp(start, &start_epoch)) {
    fmt::print(stderr, "pdm {}: --start: '{}' is not an ISO 8601 timestamp\n", command, start);
    return false;
  }
  options->machines = machines;
  options->duration_seconds = *duration_seconds;
  options->interval_seconds = *interval_seconds;
  options->seed = seed;
  options->start_epoch_seconds = static_cast<int64_t>(start_epoch);
  options->threads = threads;
  return true;
}

void PrintSimulationSummary(const sim::SimulationSummary& summary, const std::string& out) {
  fmt::print("simulated {} readings, {} failures (", summary.readings, summary.failures);
  for (int m = 0; m < sim::kFailureModeCount; ++m) {
    fmt::print("{}{} {}", m == 0 ? "" : ", ",
               sim::FailureModeName(static_cast<sim::FailureMode>(m)),
               summary.failures_by_mode[static_cast<size_t>(m)]);
  }
  fmt::print("), {} maintenance actions, {} error events\n", summary.maintenance, summary.errors);
  fmt::print("wrote {:.1f} MB to {}/ (spec: {})\n", static_cast<double>(summary.bytes) / 1e6, out,
             summary.spec_path.string());
}

void AddSimulateCommand(CLI::App& app, int* exit_code) {
  auto args = std::make_shared<SimulateArgs>();
  CLI::App* cmd = app.add_subcommand(
      "simulate",
      "Simulate a fleet: telemetry, failures, maintenance, errors, machine metadata and a ready "
      "spec.yaml, all CSV. The same arguments and seed give the same bytes.");
  cmd->add_option("--machines", args->machines, "Number of machines")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000000));
  cmd->add_option("--duration", args->duration, "Simulated span, e.g. 30d, 12h, 1w")
      ->capture_default_str();
  cmd->add_option("--interval", args->interval, "Reading period, e.g. 1h, 10m, 30s")
      ->capture_default_str();
  cmd->add_option("--seed", args->seed, "Random seed")->capture_default_str();
  cmd->add_option("--start", args->start, "Time of the first reading (ISO 8601, UTC)")
      ->capture_default_str();
  cmd->add_option("--threads", args->threads,
                  "Worker threads (0: all cores); never changes the output")
      ->capture_default_str()
      ->check(CLI::Range(0, 256));
  cmd->add_option("--drift", args->drifts,
                  "Inject a change, repeatable: TARGET:CHANGE@START[:MACHINES], e.g. "
                  "vibration_rms:+20%@75d (a recalibrated sensor on every machine), "
                  "ambient:+5@60d:25% (a warmer ambient on a quarter of the fleet), "
                  "pressure:-0.3@30d:M0001,M0002 (added, in the sensor's unit)");
  cmd->add_option("--seasonal-amplitude", args->seasonal_amplitude,
                  "Yearly swing of the ambient temperature, degC (0: no season)")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 50.0));
  cmd->add_option("--out", args->out, "Output directory (created if needed)")->required();
  cmd->add_option("--publish", args->publish.url,
                  "Then send the fleet live, in time order: mqtt://host:port (to --topic, QoS 1), "
                  "kafka://host:port (records keyed by machine) or http://host:port (POST "
                  "/api/v1/telemetry); docs/ingest.md");
  cmd->add_option("--topic", args->publish.topic,
                  "MQTT topic ({machine} makes one message per machine and time); Kafka topic "
                  "(default telemetry)")
      ->capture_default_str();
  cmd->add_option("--speed", args->publish.speed,
                  "Data seconds sent per wall second (3600: an hour a second); 0: as fast as "
                  "acknowledged")
      ->capture_default_str();
  cmd->add_option("--publish-from", args->publish_from,
                  "Send only what happens at or after this time (ISO 8601)");
  cmd->footer(kExitCodeHelp);
  cmd->callback([args, exit_code] {
    sim::SimulationOptions options;
    if (!ToSimulationOptions("simulate", args->machines, args->duration, args->interval, args->seed,
                             args->start, args->threads, &options)) {
      *exit_code = kExitUsage;
      return;
    }
    options.seasonal_amplitude = args->seasonal_amplitude;
    for (const std::string& text : args->drifts) {
      auto change = sim::ParseDriftChange(text);
      if (!change.ok()) {
        fmt::print(stderr, "pdm simulate: {}\n", change.status().message());
        *exit_code = kExitUsage;
        return;
      }
      options.drifts.push_back(std::move(*change));
    }
    auto summary = sim::Simulate(options, args->out);
    if (!summary.ok()) {
      fmt::print(stderr, "pdm simulate: {}\n", summary.status().message());
      *exit_code = summary.status().code() == absl::StatusCode::kInvalidArgument ? kExitUsage
                                                                                 : kExitBadInput;
      return;
    }
    PrintSimulationSummary(*summary, args->out);
    if (!args->publish.url.empty()) {
      double from = -std::numeric_limits<double>::infinity();
      if (!args->publish_from.empty() && !core::ParseTimestamp(args->publish_from, &from)) {
        fmt::print(stderr, "pdm simulate: --publish-from: '{}' is not an ISO 8601 timestamp\n",
                   args->publish_from);
        *exit_code = kExitUsage;
        return;
      }
      auto steps = LoadReplay(args->out, from);
      auto published = steps.ok() ? PublishReplay(*steps, args->publish) : steps.status();
      if (!published.ok()) {
        fmt::print(stderr, "pdm simulate: {}\n", published.status().message());
        *exit_code = absl::IsInvalidArgument(published.status()) ? kExitUsage : kExitBadInput;
        return;
      }
      fmt::print(
          "published {} readings in {} messages ({} times) to {} in {:.2f} s ({:.0f} "
          "readings/s)\n",
          published->readings, published->messages, published->steps, args->publish.url,
          published->seconds,
          published->seconds > 0 ? static_cast<double>(published->readings) / published->seconds
                                 : 0.0);
    }
    *exit_code = kExitOk;
  });
}

}  // namespace pdm::cli
