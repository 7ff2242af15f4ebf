// The pdm subcommands. Each Add*Command registers its flags on `app` and, when the command
// runs, stores its exit code in `*exit_code`. Composition only: the work lives in the modules.
#ifndef PDM_CLI_COMMANDS_H_
#define PDM_CLI_COMMANDS_H_

#include "CLI/CLI.hpp"

namespace pdm::cli {

// Exit codes shared by every command (documented in docs/cli.md and in `pdm --help`).
enum ExitCode : int {
  kExitOk = 0,           // success; for validate: every row accepted
  kExitDataRefused = 1,  // validate: some rows were quarantined
  kExitUsage = 2,        // bad command line
  kExitBadInput = 3,     // unusable input: missing/unreadable file, invalid spec, header mismatch
  kExitInternal = 4,     // an internal error (a bug): please report it
};

inline constexpr const char* kExitCodeHelp =
    "Exit codes: 0 success (validate: all rows accepted), 1 rows quarantined (validate),\n"
    "2 bad command line, 3 unusable input (missing file, invalid spec, header mismatch),\n"
    "4 internal error.";

void AddSimulateCommand(CLI::App& app, int* exit_code);
void AddValidateCommand(CLI::App& app, int* exit_code);
void AddFeaturesCommand(CLI::App& app, int* exit_code);
void AddDemoCommand(CLI::App& app, int* exit_code);
void AddRoiCommand(CLI::App& app, int* exit_code);
void AddTrainCommand(CLI::App& app, int* exit_code);
void AddEvaluateCommands(CLI::App& app, int* exit_code);

}  // namespace pdm::cli

#endif  // PDM_CLI_COMMANDS_H_
