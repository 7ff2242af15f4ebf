#include <cstdio>
#include <optional>

#include "cli/commands.h"
#include "core/strings.h"
#include "econ/report.h"
#include "econ/roi_config.h"

namespace pdm::cli {
namespace {

struct RoiArgs {
  std::string config;
  std::string metrics;
  std::string scores;
  bool json = false;
};

int RunRoi(const RoiArgs& args) {
  auto fail = [](const absl::Status& status) {
    fmt::print(stderr, "pdm roi: {}\n", status.message());
    return kExitBadInput;
  };
  auto config = econ::LoadRoiConfig(args.config);
  if (!config.ok()) return fail(config.status());
  if (!args.metrics.empty()) {
    if (absl::Status status = econ::ApplyMetrics(args.metrics, &*config); !status.ok()) {
      return fail(status);
    }
  }
  auto business_case = econ::ComputeBusinessCase(config->inputs);
  if (!business_case.ok()) return fail(business_case.status());
  std::optional<econ::ThresholdChoice> threshold;
  if (!args.scores.empty()) {
    auto economics = econ::ThresholdEconomicsFor(*config);
    if (!economics.ok()) return fail(economics.status());
    auto scores = econ::ReadScores(args.scores);
    if (!scores.ok()) return fail(scores.status());
    auto choice = econ::CostOptimalThreshold(std::move(*scores), *economics);
    if (!choice.ok()) {
      return fail(
          absl::InvalidArgumentError(core::StrCat(args.scores, ": ", choice.status().message())));
    }
    threshold = std::move(*choice);
  }
  const std::string out = args.json ? econ::BusinessCaseToJson(*business_case, threshold)
                                    : econ::BusinessCaseToText(*business_case, threshold);
  std::fwrite(out.data(), 1, out.size(), stdout);
  return kExitOk;
}

}  // namespace

void AddRoiCommand(CLI::App& app, int* exit_code) {
  auto args = std::make_shared<RoiArgs>();
  CLI::App* cmd = app.add_subcommand(
      "roi",
      "The business case: yearly savings and costs, cash flows, ROI (simple, ramp-up, "
      "discounted), NPV, IRR, payback and sensitivity; with --scores the cost-optimal alert "
      "threshold. Inputs: docs/roi.md.");
  cmd->add_option("--config", args->config,
                  "Business-case config (YAML), e.g. specs/roi-example.yaml")
      ->required();
  cmd->add_option("--metrics", args->metrics,
                  "metrics.json from pdm train: recall and false alarms come from the model");
  cmd->add_option("--scores", args->scores,
                  "Out-of-fold scores (CSV with label and score columns) for the threshold sweep");
  cmd->add_flag("--json", args->json, "Print the case as one JSON object");
  cmd->footer(kExitCodeHelp);
  cmd->callback([args, exit_code] { *exit_code = RunRoi(*args); });
}

}  // namespace pdm::cli
