#include "econ/business_case.h"

#include <algorithm>
#include <cmath>
#include <functional>

#include "core/status.h"
#include "core/strings.h"

namespace pdm::econ {
namespace {

double Sum(const std::vector<Line>& lines) {
  double total = 0;
  for (const auto& [name, amount] : lines) total += amount;
  return total;
}

absl::Status NonNegative(double value, const std::string& key) {
  if (!std::isfinite(value) || value < 0) {
    return absl::InvalidArgumentError(
        core::StrCat(key, ": must be a finite amount >= 0, got ", value));
  }
  return absl::OkStatus();
}

absl::Status Share(double value, const std::string& key) {
  if (!(value >= 0 && value <= 1)) {
    return absl::InvalidArgumentError(core::StrCat(key, ": must be in [0, 1], got ", value));
  }
  return absl::OkStatus();
}

// Yearly cost lines: the configured ones plus false alarms when they cost anything.
std::vector<Line> YearlyCostLines(const BusinessCaseInputs& inputs) {
  std::vector<Line> lines = inputs.yearly_costs;
  const double false_alarms =
      inputs.detection.false_alarms_per_year * inputs.detection.false_alarm_cost;
  if (false_alarms > 0) lines.emplace_back("false_alarms", false_alarms);
  return lines;
}

// The core figures without the sensitivity table.
BusinessCase Compute(const BusinessCaseInputs& inputs) {
  BusinessCase result;
  result.inputs = inputs;
  result.yearly_savings = YearlySavings(inputs);
  result.yearly_cost_lines = YearlyCostLines(inputs);
  const double benefits = Sum(result.yearly_savings);
  const double yearly_costs = Sum(result.yearly_cost_lines);
  const double one_time = Sum(inputs.one_time_costs);
  const int horizon = inputs.horizon_years;

  result.total_benefits = benefits * horizon;
  result.total_costs = one_time + yearly_costs * horizon;
  const double ramp_loss = benefits * (1 - inputs.first_year_benefit_share);
  result.roi_simple = result.total_costs > 0
                          ? (result.total_benefits - result.total_costs) / result.total_costs
                          : NAN;
  result.roi_ramp_up =
      result.total_costs > 0
          ? (result.total_benefits - ramp_loss - result.total_costs) / result.total_costs
          : NAN;

  std::vector<double> simple_flows = {-one_time}, ramp_flows = {-one_time},
                      discounted = {-one_time};
  double pv_benefits = 0, pv_costs = one_time;
  YearFlow year0;
  year0.year = 0;
  year0.costs = inputs.one_time_costs;
  year0.costs_total = one_time;
  year0.net = year0.cumulative = year0.discounted_net = year0.discounted_cumulative = -one_time;
  result.flows.push_back(year0);
  for (int year = 1; year <= horizon; ++year) {
    const double share = year == 1 ? inputs.first_year_benefit_share : 1.0;
    const double factor = std::pow(1 + inputs.discount_rate, -year);
    YearFlow flow;
    flow.year = year;
    for (const auto& [name, amount] : result.yearly_savings)
      flow.benefits.emplace_back(name, amount * share);
    flow.costs = result.yearly_cost_lines;
    flow.benefits_total = benefits * share;
    flow.costs_total = yearly_costs;
    flow.net = flow.benefits_total - flow.costs_total;
    flow.cumulative = result.flows.back().cumulative + flow.net;
    flow.discounted_net = flow.net * factor;
    flow.discounted_cumulative = result.flows.back().discounted_cumulative + flow.discounted_net;
    pv_benefits += flow.benefits_total * factor;
    pv_costs += yearly_costs * factor;
    simple_flows.push_back(benefits - yearly_costs);
    ramp_flows.push_back(flow.net);
    discounted.push_back(flow.discounted_net);
    result.flows.push_back(std::move(flow));
  }
  result.npv = NetPresentValue(ramp_flows, inputs.discount_rate);
  result.roi_discounted = pv_costs > 0 ? (pv_benefits - pv_costs) / pv_costs : NAN;
  result.irr = InternalRateOfReturn(ramp_flows);
  result.payback_years_simple = PaybackYears(simple_flows);
  result.payback_years_ramp_up = PaybackYears(ramp_flows);
  result.payback_years_discounted = PaybackYears(discounted);
  return result;
}

// The inputs a sensitivity row moves, each as a getter/setter pair on a copy of the inputs.
struct Knob {
  std::string name;
  std::function<double&(BusinessCaseInputs&)> value;
  bool is_share;
};

std::vector<Knob> Knobs(const BusinessCaseInputs& inputs) {
  std::vector<Knob> knobs;
  if (inputs.bottom_up) {
    auto add = [&](const char* name, double BottomUp::*field, bool share) {
      knobs.push_back(
          {core::StrCat("bottom_up.", name),
           [field](BusinessCaseInputs& in) -> double& { return (*in.bottom_up).*field; }, share});
    };
    add("failures_per_machine_year", &BottomUp::failures_per_machine_year, false);
    add("cost_per_failure", &BottomUp::cost_per_failure, false);
    add("downtime_hours_per_failure", &BottomUp::downtime_hours_per_failure, false);
    add("cost_per_downtime_hour", &BottomUp::cost_per_downtime_hour, false);
    add("avoidable_downtime_share", &BottomUp::avoidable_downtime_share, true);
    add("planned_maintenance_cost", &BottomUp::planned_maintenance_cost, false);
    add("maintenance_saving_share", &BottomUp::maintenance_saving_share, true);
    knobs.push_back({"detection.recall",
                     [](BusinessCaseInputs& in) -> double& { return in.detection.recall; }, true});
  } else {
    for (size_t i = 0; i < inputs.savings.size(); ++i) {
      knobs.push_back({core::StrCat("savings.", inputs.savings[i].first),
                       [i](BusinessCaseInputs& in) -> double& { return in.savings[i].second; },
                       false});
    }
  }
  if (inputs.detection.false_alarms_per_year > 0 && inputs.detection.false_alarm_cost > 0) {
    knobs.push_back(
        {"detection.false_alarms_per_year",
         [](BusinessCaseInputs& in) -> double& { return in.detection.false_alarms_per_year; },
         false});
  }
  for (size_t i = 0; i < inputs.one_time_costs.size(); ++i) {
    knobs.push_back({core::StrCat("costs.one_time.", inputs.one_time_costs[i].first),
                     [i](BusinessCaseInputs& in) -> double& { return in.one_time_costs[i].second; },
                     false});
  }
  for (size_t i = 0; i < inputs.yearly_costs.size(); ++i) {
    knobs.push_back({core::StrCat("costs.yearly.", inputs.yearly_costs[i].first),
                     [i](BusinessCaseInputs& in) -> double& { return in.yearly_costs[i].second; },
                     false});
  }
  return knobs;
}

}  // namespace

std::vector<Line> YearlySavings(const BusinessCaseInputs& inputs) {
  if (!inputs.bottom_up) return inputs.savings;
  const BottomUp& b = *inputs.bottom_up;
  const double detected = inputs.detection.recall * b.fleet_size * b.failures_per_machine_year;
  return {
      {"failures_prevented", detected * (b.cost_per_failure - b.planned_repair_cost)},
      {"downtime_reduced", detected * b.downtime_hours_per_failure * b.avoidable_downtime_share *
                               b.cost_per_downtime_hour},
      {"maintenance_optimised", b.planned_maintenance_cost * b.maintenance_saving_share},
  };
}

absl::Status ValidateInputs(const BusinessCaseInputs& in) {
  if (in.horizon_years < 1 || in.horizon_years > 100) {
    return absl::InvalidArgumentError(
        core::StrCat("horizon_years: must be between 1 and 100, got ", in.horizon_years));
  }
  if (!std::isfinite(in.discount_rate) || in.discount_rate < 0 || in.discount_rate > 10) {
    return absl::InvalidArgumentError(core::StrCat(
        "discount_rate: must be in [0, 10] (a yearly rate, 0.12 = 12%), got ", in.discount_rate));
  }
  PDM_RETURN_IF_ERROR(Share(in.first_year_benefit_share, "ramp_up.first_year_benefit_share"));
  PDM_RETURN_IF_ERROR(Share(in.detection.recall, "detection.recall"));
  PDM_RETURN_IF_ERROR(
      NonNegative(in.detection.false_alarms_per_year, "detection.false_alarms_per_year"));
  PDM_RETURN_IF_ERROR(NonNegative(in.detection.false_alarm_cost, "detection.false_alarm_cost"));
  for (const auto& [name, amount] : in.savings)
    PDM_RETURN_IF_ERROR(NonNegative(amount, "savings." + name));
  for (const auto& [name, amount] : in.one_time_costs) {
    PDM_RETURN_IF_ERROR(NonNegative(amount, "costs.one_time." + name));
  }
  for (const auto& [name, amount] : in.yearly_costs) {
    PDM_RETURN_IF_ERROR(NonNegative(amount, "costs.yearly." + name));
  }
  if (in.bottom_up) {
    const BottomUp& b = *in.bottom_up;
    const std::pair<const char*, double> amounts[] = {
        {"fleet_size", b.fleet_size},
        {"failures_per_machine_year", b.failures_per_machine_year},
        {"cost_per_failure", b.cost_per_failure},
        {"planned_repair_cost", b.planned_repair_cost},
        {"downtime_hours_per_failure", b.downtime_hours_per_failure},
        {"cost_per_downtime_hour", b.cost_per_downtime_hour},
        {"planned_maintenance_cost", b.planned_maintenance_cost}};
    for (const auto& [key, value] : amounts) {
      PDM_RETURN_IF_ERROR(NonNegative(value, core::StrCat("bottom_up.", key)));
    }
    PDM_RETURN_IF_ERROR(Share(b.avoidable_downtime_share, "bottom_up.avoidable_downtime_share"));
    PDM_RETURN_IF_ERROR(Share(b.maintenance_saving_share, "bottom_up.maintenance_saving_share"));
    if (b.planned_repair_cost > b.cost_per_failure) {
      return absl::InvalidArgumentError(
          "bottom_up.planned_repair_cost: exceeds cost_per_failure (catching a failure early "
          "would cost more than the failure)");
    }
  } else if (in.savings.empty()) {
    return absl::InvalidArgumentError("savings: give savings per category, or bottom_up inputs");
  }
  if (Sum(in.one_time_costs) + Sum(YearlyCostLines(in)) <= 0) {
    return absl::InvalidArgumentError(
        "costs: at least one cost must be above zero (ROI divides by costs)");
  }
  return absl::OkStatus();
}

absl::StatusOr<BusinessCase> ComputeBusinessCase(const BusinessCaseInputs& inputs) {
  PDM_RETURN_IF_ERROR(ValidateInputs(inputs));
  BusinessCase result = Compute(inputs);
  for (const Knob& knob : Knobs(inputs)) {
    SensitivityRow row;
    row.input = knob.name;
    BusinessCaseInputs copy = inputs;
    row.base_value = knob.value(copy);
    for (double factor : {0.8, 1.2}) {
      BusinessCaseInputs moved = inputs;
      double& value = knob.value(moved);
      value *= factor;
      if (knob.is_share) value = std::min(value, 1.0);
      const BusinessCase varied = Compute(moved);
      (factor < 1 ? row.roi_minus : row.roi_plus) = varied.roi_simple;
      (factor < 1 ? row.payback_minus : row.payback_plus) = varied.payback_years_simple;
    }
    result.sensitivity.push_back(std::move(row));
  }
  return result;
}

double NetPresentValue(const std::vector<double>& flows, double rate) {
  double npv = 0;
  for (size_t t = 0; t < flows.size(); ++t)
    npv += flows[t] / std::pow(1 + rate, static_cast<double>(t));
  return npv;
}

std::optional<double> InternalRateOfReturn(const std::vector<double>& flows) {
  int sign_changes = 0;
  double last_sign = 0;  // sign of the last non-zero flow
  for (double flow : flows) {
    if (flow == 0) continue;
    const double sign = flow > 0 ? 1 : -1;
    if (last_sign != 0 && sign != last_sign) ++sign_changes;
    last_sign = sign;
  }
  if (sign_changes != 1 && !(sign_changes > 1 && flows.front() < 0)) return std::nullopt;
  // NPV falls with the rate for an investment (negative first, positive later): bisect.
  double lo = -0.99, hi = 1.0;
  const double npv_lo = NetPresentValue(flows, lo);
  if (npv_lo == 0) return lo;
  while (NetPresentValue(flows, hi) * npv_lo > 0) {
    hi *= 2;
    if (hi > 1e9) return std::nullopt;
  }
  for (int i = 0; i < 200 && hi - lo > 1e-12 * std::max(1.0, std::fabs(hi)); ++i) {
    const double mid = 0.5 * (lo + hi);
    if (NetPresentValue(flows, mid) * npv_lo > 0) {
      lo = mid;
    } else {
      hi = mid;
    }
  }
  return 0.5 * (lo + hi);
}

std::optional<double> PaybackYears(const std::vector<double>& flows) {
  if (flows.empty()) return std::nullopt;
  double cumulative = flows[0];
  if (cumulative >= 0) return 0.0;
  for (size_t t = 1; t < flows.size(); ++t) {
    if (cumulative + flows[t] >= 0 && flows[t] > 0) {
      return static_cast<double>(t - 1) + (-cumulative) / flows[t];
    }
    cumulative += flows[t];
  }
  return std::nullopt;
}

}  // namespace pdm::econ
