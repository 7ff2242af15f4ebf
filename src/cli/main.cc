// The pdm binary: parses the command line and dispatches to a subcommand.
#include <cstdio>
#include <exception>

#include "CLI/CLI.hpp"
#include "cli/commands.h"

#ifndef PDM_VERSION
#define PDM_VERSION "0.0.0"
#endif

int main(int argc, char** argv) {
  CLI::App app{
      "pdm: predictive maintenance for industrial equipment, from sensor to maintenance "
      "decision."};
  app.set_version_flag("--version", PDM_VERSION);
  app.require_subcommand(1);
  app.footer(pdm::cli::kExitCodeHelp);
  int exit_code = pdm::cli::kExitOk;
  pdm::cli::AddSimulateCommand(app, &exit_code);
  pdm::cli::AddValidateCommand(app, &exit_code);
  pdm::cli::AddFeaturesCommand(app, &exit_code);
  pdm::cli::AddDemoCommand(app, &exit_code);
  pdm::cli::AddTrainCommand(app, &exit_code);
  pdm::cli::AddEvaluateCommands(app, &exit_code);
  pdm::cli::AddModelsCommand(app, &exit_code);
  pdm::cli::AddServeCommand(app, &exit_code);
  pdm::cli::AddAlertsCommand(app, &exit_code);
  pdm::cli::AddRoiCommand(app, &exit_code);
  pdm::cli::AddPipelineCommands(app, &exit_code);
  pdm::cli::AddTelemetryCommand(app, &exit_code);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return pdm::cli::kExitUsage;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "pdm: internal error: %s\n", e.what());
    return pdm::cli::kExitInternal;
  }
  return exit_code;
}
