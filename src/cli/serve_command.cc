// `pdm serve`: the REST inference server over a registry alias (docs/serving.md).
#include <signal.h>

#include <chrono>
#include <cstdlib>
#include <thread>

#include "cli/commands.h"
#include "core/strings.h"
#include "serving/api.h"
#include "serving/http_server.h"
#include "serving/model_manager.h"

namespace pdm::cli {
namespace {

// A flag's value, else the environment variable's.
template <typename T>
void FromEnv(const char* name, T* value) {
  const char* text = std::getenv(name);
  if (text == nullptr || *text == '\0') return;
  if constexpr (std::is_same_v<T, std::string>) {
    *value = text;
  } else if constexpr (std::is_same_v<T, bool>) {
    *value = std::string(text) == "1" || std::string(text) == "true";
  } else {
    *value = static_cast<T>(std::strtoll(text, nullptr, 10));
  }
}

int RunServe(ServeOptions args, CLI::App* cmd) {
  // Every flag not given on the command line comes from its PDM_* variable when set.
  auto env = [&](const char* flag, const char* name, auto* value) {
    if (cmd->count(flag) == 0) FromEnv(name, value);
  };
  env("--model", "PDM_MODEL", &args.model);
  env("--alias", "PDM_ALIAS", &args.alias);
  env("--address", "PDM_ADDRESS", &args.address);
  env("--port", "PDM_PORT", &args.port);
  env("--threads", "PDM_THREADS", &args.threads);
  env("--max-batch", "PDM_MAX_BATCH", &args.max_batch);
  env("--body-limit", "PDM_BODY_LIMIT", &args.body_limit);
  env("--allow-unknown-fields", "PDM_ALLOW_UNKNOWN_FIELDS", &args.allow_unknown_fields);
  return Serve(args);
}

}  // namespace

int Serve(const ServeOptions& args) {
  const char* token = std::getenv("PDM_SERVE_TOKEN");

  auto registry = OpenRegistry(args.registry, /*create=*/false);
  if (!registry.ok()) {
    fmt::print(stderr, "pdm serve: {}\n", registry.status().message());
    return kExitBadInput;
  }
  serving::ModelManager models(registry->get(), args.model, args.alias);
  auto loaded = models.Reload();
  if (!loaded.ok()) {
    fmt::print(stderr, "pdm serve: {}\n", loaded.status().message());
    return kExitBadInput;
  }
  serving::ApiOptions api_options;
  api_options.max_batch = args.max_batch;
  api_options.allow_unknown_fields = args.allow_unknown_fields;
  if (token != nullptr) api_options.token = token;
  serving::Api api(&models, api_options);

  // SIGTERM / SIGINT end the server gracefully: blocked here, waited for below.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  serving::HttpServerOptions options;
  options.address = args.address;
  options.port = static_cast<uint16_t>(args.port);
  options.threads = args.threads;
  options.body_limit = args.body_limit;
  auto server = serving::HttpServer::Create(
      options, [&api](const serving::HttpRequest& r) { return api.Handle(r); });
  if (!server.ok()) {
    fmt::print(stderr, "pdm serve: {}\n", server.status().message());
    return kExitBadInput;
  }
  (*server)->Start();
  const std::string base = core::StrCat("http://", args.address, ":", (*server)->port());
  fmt::print("serving {} v{} ({}) on {}\n", (*loaded)->name, (*loaded)->version, args.alias, base);
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
  fmt::print("  {}/readyz  {}/api/v1/models (feature names)\n", base, base);
  std::fflush(stdout);

  int received = 0;
  sigwait(&signals, &received);
  fmt::print("pdm serve: signal {}: finishing requests in flight (up to {} ms)\n", received,
             args.grace_ms);
  std::fflush(stdout);
  (*server)->Shutdown(std::chrono::milliseconds(args.grace_ms));
  return kExitOk;
}

void AddServeCommand(CLI::App& app, int* exit_code) {
  auto args = std::make_shared<ServeOptions>();
  CLI::App* cmd = app.add_subcommand(
      "serve",
      "Serve a registered model over REST: predictions, probes, model listing and reload. Every "
      "flag falls back to its PDM_* variable (PDM_MODEL, PDM_ALIAS, PDM_PORT, ...); the reload "
      "token comes from PDM_SERVE_TOKEN only.");
  AddRegistryOptions(cmd, &args->registry);
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
  cmd->add_flag("--allow-unknown-fields", args->allow_unknown_fields,
                "Ignore record fields that are not model features (default: 422)");
  cmd->footer(kExitCodeHelp);
  cmd->callback([args, exit_code, cmd] { *exit_code = RunServe(*args, cmd); });
}

}  // namespace pdm::cli
