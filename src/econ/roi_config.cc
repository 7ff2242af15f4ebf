#include "econ/roi_config.h"

#include <cmath>

#include "core/file.h"
#include "core/status.h"
#include "core/strings.h"
#include "fmt/ranges.h"
#include "yaml-cpp/yaml.h"

namespace pdm::econ {
namespace {

namespace fs = std::filesystem;

class ConfigReader {
 public:
  explicit ConfigReader(fs::path path) : path_(std::move(path)) {}
  const fs::path& path() const { return path_; }

  absl::Status Error(const std::string& key, const std::string& reason) const {
    return absl::InvalidArgumentError(core::StrCat(path_.string(), ": ", key, ": ", reason));
  }

  absl::Status CheckKeys(const YAML::Node& node, const std::string& path,
                         std::initializer_list<std::string_view> allowed) const {
    if (!node.IsMap()) return Error(path.empty() ? "(document)" : path, "expected a mapping");
    for (const auto& entry : node) {
      const std::string key = entry.first.as<std::string>();
      if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
        return Error(path.empty() ? key : core::StrCat(path, ".", key),
                     fmt::format("unknown key (allowed here: {})", fmt::join(allowed, ", ")));
      }
    }
    return absl::OkStatus();
  }

  absl::StatusOr<double> Number(const YAML::Node& node, const std::string& key) const {
    double value = 0;
    if (!node || node.IsNull()) return Error(key, "missing required key");
    if (!node.IsScalar() || !YAML::convert<double>::decode(node, value) || !std::isfinite(value)) {
      return Error(key, core::StrCat("expected a number, got '",
                                     node.IsScalar() ? node.Scalar() : "<structure>", "'"));
    }
    return value;
  }

  absl::StatusOr<std::optional<double>> OptionalNumber(const YAML::Node& parent, const char* key,
                                                       const std::string& path) const {
    const YAML::Node node = parent[key];
    if (!node) return std::optional<double>();
    PDM_ASSIGN_OR_RETURN(double value, Number(node, path));
    return std::optional<double>(value);
  }

  absl::StatusOr<std::vector<Line>> Lines(const YAML::Node& node, const std::string& key) const {
    std::vector<Line> lines;
    if (!node || node.IsNull()) return lines;
    if (!node.IsMap()) return Error(key, "expected a mapping of category: amount");
    for (const auto& entry : node) {
      const std::string name = entry.first.as<std::string>();
      PDM_ASSIGN_OR_RETURN(double amount, Number(entry.second, core::StrCat(key, ".", name)));
      lines.emplace_back(name, amount);
    }
    return lines;
  }

 private:
  fs::path path_;
};

std::string ConfigPathPrefix(const ConfigReader& r) { return r.path().string() + ": "; }

absl::Status Read(const YAML::Node& root, const ConfigReader& r, RoiConfig* config) {
  PDM_RETURN_IF_ERROR(r.CheckKeys(root, "",
                                  {"currency", "horizon_years", "discount_rate", "ramp_up",
                                   "savings", "bottom_up", "detection", "costs", "threshold"}));
  BusinessCaseInputs& in = config->inputs;
  if (root["currency"]) in.currency = root["currency"].as<std::string>();
  PDM_ASSIGN_OR_RETURN(double horizon, r.Number(root["horizon_years"], "horizon_years"));
  if (horizon != std::floor(horizon))
    return r.Error("horizon_years", "must be a whole number of years");
  if (horizon < 1)
    return r.Error("horizon_years", core::StrCat("must be at least 1, got ", horizon));
  in.horizon_years = static_cast<int>(std::min(horizon, 1000.0));
  PDM_ASSIGN_OR_RETURN(in.discount_rate, r.Number(root["discount_rate"], "discount_rate"));
  if (const YAML::Node ramp = root["ramp_up"]; ramp) {
    PDM_RETURN_IF_ERROR(r.CheckKeys(ramp, "ramp_up", {"first_year_benefit_share"}));
    PDM_ASSIGN_OR_RETURN(in.first_year_benefit_share, r.Number(ramp["first_year_benefit_share"],
                                                               "ramp_up.first_year_benefit_share"));
  }
  const YAML::Node savings = root["savings"], bottom_up = root["bottom_up"];
  if (savings && bottom_up)
    return r.Error("savings", "give either savings (top-down) or bottom_up, not both");
  if (!savings && !bottom_up)
    return r.Error("savings", "missing: give savings (top-down) or bottom_up");
  if (savings) {
    PDM_ASSIGN_OR_RETURN(in.savings, r.Lines(savings, "savings"));
    if (in.savings.empty()) return r.Error("savings", "needs at least one category");
  } else {
    PDM_RETURN_IF_ERROR(r.CheckKeys(
        bottom_up, "bottom_up",
        {"fleet_size", "failures_per_machine_year", "cost_per_failure", "planned_repair_cost",
         "downtime_hours_per_failure", "cost_per_downtime_hour", "avoidable_downtime_share",
         "planned_maintenance_cost", "maintenance_saving_share"}));
    BottomUp b;
    const std::pair<const char*, double*> required[] = {
        {"fleet_size", &b.fleet_size},
        {"failures_per_machine_year", &b.failures_per_machine_year},
        {"cost_per_failure", &b.cost_per_failure},
        {"downtime_hours_per_failure", &b.downtime_hours_per_failure},
        {"cost_per_downtime_hour", &b.cost_per_downtime_hour},
        {"avoidable_downtime_share", &b.avoidable_downtime_share},
        {"planned_maintenance_cost", &b.planned_maintenance_cost},
        {"maintenance_saving_share", &b.maintenance_saving_share}};
    for (const auto& [key, field] : required) {
      PDM_ASSIGN_OR_RETURN(*field, r.Number(bottom_up[key], core::StrCat("bottom_up.", key)));
    }
    PDM_ASSIGN_OR_RETURN(auto planned, r.OptionalNumber(bottom_up, "planned_repair_cost",
                                                        "bottom_up.planned_repair_cost"));
    b.planned_repair_cost = planned.value_or(0);
    in.bottom_up = b;
  }
  if (const YAML::Node detection = root["detection"]; detection) {
    PDM_RETURN_IF_ERROR(r.CheckKeys(
        detection, "detection",
        {"recall", "false_alarms_per_year", "false_alarm_cost", "healthy_decisions_per_year"}));
    PDM_ASSIGN_OR_RETURN(auto recall, r.OptionalNumber(detection, "recall", "detection.recall"));
    PDM_ASSIGN_OR_RETURN(auto alarms, r.OptionalNumber(detection, "false_alarms_per_year",
                                                       "detection.false_alarms_per_year"));
    PDM_ASSIGN_OR_RETURN(
        auto cost, r.OptionalNumber(detection, "false_alarm_cost", "detection.false_alarm_cost"));
    PDM_ASSIGN_OR_RETURN(auto decisions, r.OptionalNumber(detection, "healthy_decisions_per_year",
                                                          "detection.healthy_decisions_per_year"));
    in.detection.recall = recall.value_or(1);
    in.detection.false_alarms_per_year = alarms.value_or(0);
    in.detection.false_alarm_cost = cost.value_or(0);
    config->healthy_decisions_per_year = decisions.value_or(0);
    if (config->healthy_decisions_per_year < 0) {
      return r.Error("detection.healthy_decisions_per_year", "must be >= 0");
    }
  } else if (in.bottom_up) {
    return r.Error("detection", "missing: bottom-up savings need detection.recall (or --metrics)");
  }
  const YAML::Node costs = root["costs"];
  if (!costs) return r.Error("costs", "missing required key");
  PDM_RETURN_IF_ERROR(r.CheckKeys(costs, "costs", {"one_time", "yearly"}));
  PDM_ASSIGN_OR_RETURN(in.one_time_costs, r.Lines(costs["one_time"], "costs.one_time"));
  PDM_ASSIGN_OR_RETURN(in.yearly_costs, r.Lines(costs["yearly"], "costs.yearly"));
  if (const YAML::Node threshold = root["threshold"]; threshold) {
    PDM_RETURN_IF_ERROR(
        r.CheckKeys(threshold, "threshold",
                    {"failures_per_year", "value_per_detected_failure", "cost_per_false_alarm"}));
    PDM_ASSIGN_OR_RETURN(
        config->failures_per_year,
        r.OptionalNumber(threshold, "failures_per_year", "threshold.failures_per_year"));
    PDM_ASSIGN_OR_RETURN(config->value_per_detected_failure,
                         r.OptionalNumber(threshold, "value_per_detected_failure",
                                          "threshold.value_per_detected_failure"));
    PDM_ASSIGN_OR_RETURN(
        config->cost_per_false_alarm,
        r.OptionalNumber(threshold, "cost_per_false_alarm", "threshold.cost_per_false_alarm"));
  }
  for (const auto& [key, value] :
       {std::pair{"threshold.failures_per_year", config->failures_per_year},
        std::pair{"threshold.value_per_detected_failure", config->value_per_detected_failure},
        std::pair{"threshold.cost_per_false_alarm", config->cost_per_false_alarm}}) {
    if (value && *value < 0) return r.Error(key, core::StrCat("must be >= 0, got ", *value));
  }
  const absl::Status valid = ValidateInputs(in);
  if (!valid.ok()) {
    return absl::InvalidArgumentError(core::StrCat(ConfigPathPrefix(r), valid.message()));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<RoiConfig> ParseRoiConfig(std::string_view yaml, const fs::path& path) {
  ConfigReader reader(path);
  RoiConfig config;
  try {
    const YAML::Node root = YAML::Load(std::string(yaml));
    PDM_RETURN_IF_ERROR(Read(root, reader, &config));
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(core::StrCat(path.string(), ":", e.mark.line + 1, ":",
                                                   e.mark.column + 1, ": invalid YAML: ", e.msg));
  }
  return config;
}

absl::StatusOr<RoiConfig> LoadRoiConfig(const fs::path& path) {
  PDM_ASSIGN_OR_RETURN(const std::string text, core::ReadFileToString(path, "config file"));
  return ParseRoiConfig(text, path);
}

absl::Status ApplyMetrics(const fs::path& metrics_path, RoiConfig* config) {
  PDM_ASSIGN_OR_RETURN(const std::string text,
                       core::ReadFileToString(metrics_path, "metrics file"));
  return ApplyMetricsText(text, metrics_path.string(), config);
}

absl::Status ApplyMetricsText(std::string_view text, const std::string& where, RoiConfig* config) {
  try {
    // JSON is YAML: yaml-cpp reads metrics.json without another dependency.
    const YAML::Node root = YAML::Load(std::string(text));
    const YAML::Node ensemble = root["ensemble"];
    if (!ensemble || !ensemble.IsMap()) {
      return absl::InvalidArgumentError(
          core::StrCat(where, ": ensemble: missing (is this a pdm train metrics.json?)"));
    }
    const YAML::Node matrix = ensemble["confusion_matrix"];
    if (!matrix || !matrix.IsSequence() || matrix.size() != 2 || !matrix[0].IsSequence() ||
        matrix[0].size() != 2 || !matrix[1].IsSequence() || matrix[1].size() != 2) {
      return absl::InvalidArgumentError(
          core::StrCat(where, ": ensemble.confusion_matrix: expected [[tn, fp], [fn, tp]]"));
    }
    const double tn = matrix[0][0].as<double>(), fp = matrix[0][1].as<double>();
    const double fn = matrix[1][0].as<double>(), tp = matrix[1][1].as<double>();
    if (tn < 0 || fp < 0 || fn < 0 || tp < 0 || tp + fn <= 0 || tn + fp <= 0) {
      return absl::InvalidArgumentError(core::StrCat(
          where,
          ": ensemble.confusion_matrix: needs non-negative counts with both classes present"));
    }
    if (config->healthy_decisions_per_year <= 0) {
      return absl::InvalidArgumentError(core::StrCat(
          "detection.healthy_decisions_per_year: required with --metrics (turns the model's false "
          "positive rate into false alarms per year)"));
    }
    Detection& d = config->inputs.detection;
    d.recall = tp / (tp + fn);
    d.false_alarms_per_year = fp / (fp + tn) * config->healthy_decisions_per_year;
    d.source = where;
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(core::StrCat(where, ": invalid JSON: ", e.msg));
  }
  return ValidateInputs(config->inputs);
}

absl::StatusOr<ThresholdEconomics> ThresholdEconomicsFor(const RoiConfig& config) {
  const BusinessCaseInputs& in = config.inputs;
  ThresholdEconomics e;
  e.healthy_decisions_per_year = config.healthy_decisions_per_year;
  e.cost_per_false_alarm = config.cost_per_false_alarm.value_or(in.detection.false_alarm_cost);
  if (in.bottom_up) {
    const BottomUp& b = *in.bottom_up;
    e.failures_per_year = b.fleet_size * b.failures_per_machine_year;
    e.value_per_detected_failure = config.value_per_detected_failure.value_or(
        b.cost_per_failure - b.planned_repair_cost +
        b.downtime_hours_per_failure * b.avoidable_downtime_share * b.cost_per_downtime_hour);
  } else {
    // Top-down savings do not say how many failures there are or what one is worth.
    if (!config.failures_per_year || !config.value_per_detected_failure) {
      return absl::InvalidArgumentError(core::StrCat(
          "threshold.",
          !config.failures_per_year ? "failures_per_year" : "value_per_detected_failure",
          ": required with --scores when savings are top-down (or give bottom_up inputs)"));
    }
    e.failures_per_year = *config.failures_per_year;
    e.value_per_detected_failure = *config.value_per_detected_failure;
  }
  if (e.healthy_decisions_per_year <= 0) {
    return absl::InvalidArgumentError(
        "detection.healthy_decisions_per_year: required with --scores (how many scored decisions "
        "per year concern machines that will not fail)");
  }
  return e;
}

}  // namespace pdm::econ
