#include <cstdio>

#include "cli/commands.h"
#include "core/strings.h"
#include "spec/dataset_spec.h"
#include "validate/dataset_validation.h"

namespace pdm::cli {
namespace {

struct ValidateArgs {
  std::string spec;
  std::string data;
  std::string quarantine;
  bool json = false;
  bool main_only = false;
  int threads = 0;
};

}  // namespace

// Validates a dataset and prints the summary; returns the exit code. Shared with the demo.
int RunValidation(const char* command, const std::string& spec_path,
                  const validate::DatasetValidateOptions& options, bool json) {
  auto spec = spec::LoadDatasetSpec(spec_path);
  if (!spec.ok()) {
    fmt::print(stderr, "pdm {}: {}\n", command, spec.status().message());
    return kExitBadInput;
  }
  auto report = validate::ValidateDataset(*spec, options);
  if (!report.ok()) {
    fmt::print(stderr, "pdm {}: {}\n", command, report.status().message());
    return kExitBadInput;
  }
  const std::string text = json ? validate::ReportToJson(*report) : validate::ReportToText(*report);
  std::fwrite(text.data(), 1, text.size(), stdout);
  return report->rows_quarantined > 0 ? kExitDataRefused : kExitOk;
}

void AddValidateCommand(CLI::App& app, int* exit_code) {
  auto args = std::make_shared<ValidateArgs>();
  CLI::App* cmd = app.add_subcommand(
      "validate",
      "Check every row of a dataset against its spec. Each row is accepted or quarantined with "
      "file, line, column, value and reason; rows_read = rows_accepted + rows_quarantined.");
  cmd->add_option("--spec", args->spec, "Dataset spec (YAML)")->required();
  cmd->add_option("--data", args->data, "Read this file instead of the spec's main data file");
  cmd->add_option("--quarantine", args->quarantine,
                  "Write quarantine.csv (refused rows) and flagged.csv (flagged values) here");
  cmd->add_flag("--json", args->json, "Print the summary as one JSON object");
  cmd->add_flag("--main-only", args->main_only,
                "Validate only the main data file (not test, event or machine files)");
  cmd->add_option("--threads", args->threads,
                  "Threads checking rows (0: all cores); never changes the result")
      ->capture_default_str()
      ->check(CLI::Range(0, 256));
  cmd->footer(kExitCodeHelp);
  cmd->callback([args, exit_code] {
    validate::DatasetValidateOptions options;
    options.threads = args->threads;
    options.data_override = args->data;
    options.quarantine_dir = args->quarantine;
    options.main_table_only = args->main_only;
    *exit_code = RunValidation("validate", args->spec, options, args->json);
  });
}

}  // namespace pdm::cli
