// The business case of a predictive-maintenance deployment: yearly savings and costs, net cash
// flows, ROI (simple, with ramp-up, discounted), NPV, IRR, payback, and a sensitivity table,
// computed from inputs that can come from the model's own measured errors. See docs/roi.md.
#ifndef PDM_ECON_BUSINESS_CASE_H_
#define PDM_ECON_BUSINESS_CASE_H_

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace pdm::econ {

// A named amount in the config's currency.
using Line = std::pair<std::string, double>;

// Savings computed from the fleet's failure economics and the model's detection performance.
struct BottomUp {
  double fleet_size = 0;                  // machines
  double failures_per_machine_year = 0;   // without the system
  double cost_per_failure = 0;            // repair and parts of an unplanned failure
  double planned_repair_cost = 0;         // cost of the planned fix of a failure caught in time
  double downtime_hours_per_failure = 0;  // unplanned downtime per failure, hours
  double cost_per_downtime_hour = 0;
  double avoidable_downtime_share = 0;  // [0, 1]: downtime avoided when warned in time
  double planned_maintenance_cost = 0;  // per year, whole fleet
  double maintenance_saving_share = 0;  // [0, 1]: saved by condition-based scheduling
};

// How well the model catches failures, and how often it raises a false alarm.
struct Detection {
  double recall = 1;                 // [0, 1]: share of failures warned in time
  double false_alarms_per_year = 0;  // whole fleet
  double false_alarm_cost = 0;       // one false alarm (an inspection)
  std::string source = "config";     // "config", or the metrics file it came from
};

struct BusinessCaseInputs {
  std::string currency = "RUB";
  // Top-down savings per year by category; used when `bottom_up` is empty.
  std::vector<Line> savings;
  std::optional<BottomUp> bottom_up;
  Detection detection;
  std::vector<Line> one_time_costs;  // spent at the start (year 0)
  std::vector<Line> yearly_costs;    // spent every year 1..horizon
  int horizon_years = 5;             // >= 1
  double discount_rate = 0;          // per year, >= 0 (e.g. 0.12)
  // Share of the yearly benefits realised in year 1 while the system ramps up, in [0, 1];
  // 1 means no ramp-up.
  double first_year_benefit_share = 1;
};

struct YearFlow {
  int year = 0;  // 0 = the one-time investment
  std::vector<Line> benefits;
  std::vector<Line> costs;
  double benefits_total = 0;
  double costs_total = 0;
  double net = 0;
  double cumulative = 0;
  double discounted_net = 0;
  double discounted_cumulative = 0;
};

struct SensitivityRow {
  std::string input;
  double base_value = 0;
  double roi_minus = 0, roi_plus = 0;                 // simple ROI at -20% / +20%
  std::optional<double> payback_minus, payback_plus;  // simple payback, years
};

struct BusinessCase {
  BusinessCaseInputs inputs;
  std::vector<Line> yearly_savings;     // by category, steady state (after ramp-up)
  std::vector<Line> yearly_cost_lines;  // by category incl. false alarms, per year
  // Flows with the ramp-up applied (year 0..horizon).
  std::vector<YearFlow> flows;
  double total_benefits = 0;  // no ramp-up, no discounting
  double total_costs = 0;     // one-time + yearly x horizon
  double roi_simple = 0;      // (total benefits - total costs) / total costs, no ramp-up
  double roi_ramp_up = 0;     // the same with the first-year ramp-up
  double npv = 0;             // with ramp-up, at discount_rate
  double roi_discounted = 0;  // (PV benefits - PV costs) / PV costs, with ramp-up
  std::optional<double> irr;  // with ramp-up; empty when the flows have no sign change
  std::optional<double> payback_years_simple;  // no ramp-up; empty if not within the horizon
  std::optional<double> payback_years_ramp_up;
  std::optional<double> payback_years_discounted;  // with ramp-up and discounting
  std::vector<SensitivityRow> sensitivity;
};

// Computes the case. REQUIRES: inputs passed ValidateInputs (ComputeBusinessCase checks).
absl::StatusOr<BusinessCase> ComputeBusinessCase(const BusinessCaseInputs& inputs);

// Checks ranges: amounts >= 0, shares in [0, 1], horizon >= 1. Errors name the key.
absl::Status ValidateInputs(const BusinessCaseInputs& inputs);

// Steady-state yearly savings by category (the bottom-up formulas, or the top-down lines).
std::vector<Line> YearlySavings(const BusinessCaseInputs& inputs);

// Net present value at `rate` of flows[t] received at the end of year t (t = 0 undiscounted).
double NetPresentValue(const std::vector<double>& flows, double rate);
// The rate at which NetPresentValue is zero, if the flows change sign once; empty otherwise.
std::optional<double> InternalRateOfReturn(const std::vector<double>& flows);
// Fractional years until the cumulative flow reaches zero, yearly flows accruing evenly within
// their year; flows[0] is at time 0. Empty when it never does within the flows.
std::optional<double> PaybackYears(const std::vector<double>& flows);

}  // namespace pdm::econ

#endif  // PDM_ECON_BUSINESS_CASE_H_
