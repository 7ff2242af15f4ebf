// pdm alerts export: the resolved risk alerts of the Store as the feedback table `pdm train
// --feedback` joins as labels (features/feedback.h).
#include <fstream>
#include <iostream>
#include <map>

#include "cli/commands.h"
#include "core/strings.h"
#include "core/time.h"
#include "fmt/format.h"
#include "io/csv_reader.h"
#include "spec/dataset_spec.h"

namespace pdm::cli {
namespace {

struct AlertsArgs {
  RegistryArgs registry;
  std::string out;
  std::string machine;
  std::string model;
};

int Fail(const absl::Status& status) {
  fmt::print(stderr, "pdm alerts: {}\n", status.message());
  return status.code() == absl::StatusCode::kInternal ? kExitInternal : kExitBadInput;
}

// Each alert's data time as its model's data has it: ISO 8601 for timestamps, else a number.
class TimeFormatter {
 public:
  explicit TimeFormatter(registry::Registry* reg) : reg_(reg) {}
  std::string Format(const store::AlertRow& a) {
    const double seconds = static_cast<double>(a.time_us) / 1e6;
    if (Timestamped(a.model, a.version)) {
      return core::FormatTimestamp(static_cast<int64_t>(std::floor(seconds)));
    }
    return fmt::format("{}", seconds);
  }

 private:
  bool Timestamped(const std::string& model, int64_t version) {
    const auto key = std::make_pair(model, version);
    auto it = known_.find(key);
    if (it != known_.end()) return it->second;
    bool timestamped = false;
    auto v = reg_->store().GetModelVersion(model, version);
    if (v.ok() && v->has_value()) {
      auto spec = spec::ParseDatasetSpec((*v)->spec_yaml, "spec.yaml");
      timestamped = spec.ok() && spec->data.time_type == spec::TimeType::kTimestamp;
    }
    return known_[key] = timestamped;
  }
  registry::Registry* reg_;
  std::map<std::pair<std::string, int64_t>, bool> known_;
};

int RunExport(const AlertsArgs& args) {
  auto reg = OpenRegistry(args.registry, /*create=*/false);
  if (!reg.ok()) return Fail(reg.status());
  store::AlertFilter filter;
  filter.state = "resolved";
  filter.kind = "failure_risk";
  filter.machine = args.machine;
  filter.limit = 500;
  std::vector<store::AlertRow> alerts;
  for (;;) {  // newest first, in pages
    auto page = (*reg)->store().ListAlerts(filter);
    if (!page.ok()) return Fail(page.status());
    for (store::AlertRow& a : *page) {
      const bool labelled =
          std::find(std::begin(store::kResolutions), std::end(store::kResolutions), a.resolution) !=
          std::end(store::kResolutions);
      if (labelled && (args.model.empty() || a.model == args.model)) alerts.push_back(a);
    }
    if (page->size() < static_cast<size_t>(filter.limit)) break;
    filter.before_id = page->back().id;
  }
  std::reverse(alerts.begin(), alerts.end());  // oldest first
  TimeFormatter times(reg->get());
  std::string text =
      "alert_id,machine_id,time,resolution,failure_mode,model,version,resolved_by,resolved_at\n";
  for (const store::AlertRow& a : alerts) {
    std::string line;
    for (const std::string& field :
         {std::to_string(a.id), a.machine, times.Format(a), a.resolution, a.failure_mode, a.model,
          std::to_string(a.version), a.resolved_by,
          a.resolved_us ? core::FormatTimestamp(*a.resolved_us / 1'000'000) : std::string()}) {
      if (!line.empty()) line += ',';
      io::AppendCsvField(field, ',', &line);
    }
    text += line + "\n";
  }
  if (args.out.empty() || args.out == "-") {
    std::cout << text;
  } else {
    std::ofstream out(args.out);
    out << text;
    if (!out) return Fail(absl::InvalidArgumentError(core::StrCat(args.out, ": cannot write")));
    fmt::print(stderr, "pdm alerts: {} resolved risk alerts written to {}\n", alerts.size(),
               args.out);
  }
  return kExitOk;
}

}  // namespace

void AddAlertsCommand(CLI::App& app, int* exit_code) {
  CLI::App* alerts = app.add_subcommand("alerts", "Maintenance alerts in the Store");
  alerts->require_subcommand(1);
  auto args = std::make_shared<AlertsArgs>();
  CLI::App* exp = alerts->add_subcommand(
      "export",
      "Resolved risk alerts as CSV (alert_id, machine_id, time, resolution, failure_mode, model, "
      "version, resolved_by, resolved_at), oldest first: the feedback `pdm train --feedback` "
      "joins as labels");
  AddRegistryOptions(exp, &args->registry);
  exp->add_option("--out", args->out, "Write here (default: standard output)");
  exp->add_option("--machine", args->machine, "Only this machine's alerts");
  exp->add_option("--model", args->model, "Only alerts of this model's versions");
  exp->footer(kExitCodeHelp);
  exp->callback([args, exit_code] { *exit_code = RunExport(*args); });
}

}  // namespace pdm::cli
