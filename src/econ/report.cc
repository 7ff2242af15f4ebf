#include "econ/report.h"

#include <cmath>

#include "core/json_writer.h"
#include "core/strings.h"

namespace pdm::econ {
namespace {

void Lines(core::JsonWriter& json, const char* key, const std::vector<Line>& lines) {
  json.Key(key).BeginObject();
  for (const auto& [name, amount] : lines) json.Key(name).Number(amount);
  json.EndObject();
}

void Optional(core::JsonWriter& json, const char* key, const std::optional<double>& value) {
  json.Key(key);
  if (value) {
    json.Number(*value);
  } else {
    json.Null();
  }
}

std::string Percent(double ratio) {
  return std::isfinite(ratio) ? fmt::format("{:.1f}%", ratio * 100) : "n/a";
}
std::string Years(const std::optional<double>& years) {
  return years ? fmt::format("{:.3f} years", *years) : "not within the horizon";
}

}  // namespace

std::string BusinessCaseToJson(const BusinessCase& c,
                               const std::optional<ThresholdChoice>& threshold, int indent) {
  const BusinessCaseInputs& in = c.inputs;
  core::JsonWriter json(indent);
  json.BeginObject();
  json.Key("currency").String(in.currency);
  json.Key("horizon_years").Int(in.horizon_years);
  json.Key("discount_rate").Number(in.discount_rate);
  json.Key("first_year_benefit_share").Number(in.first_year_benefit_share);
  json.Key("mode").String(in.bottom_up ? "bottom_up" : "top_down");
  json.Key("detection").BeginObject();
  json.Key("recall").Number(in.detection.recall);
  json.Key("false_alarms_per_year").Number(in.detection.false_alarms_per_year);
  json.Key("false_alarm_cost").Number(in.detection.false_alarm_cost);
  json.Key("source").String(in.detection.source);
  json.EndObject();
  Lines(json, "yearly_savings", c.yearly_savings);
  Lines(json, "yearly_costs", c.yearly_cost_lines);
  Lines(json, "one_time_costs", in.one_time_costs);
  json.Key("years").BeginArray();
  for (const YearFlow& flow : c.flows) {
    json.BeginObject();
    json.Key("year").Int(flow.year);
    Lines(json, "benefits", flow.benefits);
    Lines(json, "costs", flow.costs);
    json.Key("benefits_total").Number(flow.benefits_total);
    json.Key("costs_total").Number(flow.costs_total);
    json.Key("net").Number(flow.net);
    json.Key("cumulative").Number(flow.cumulative);
    json.Key("discounted_net").Number(flow.discounted_net);
    json.Key("discounted_cumulative").Number(flow.discounted_cumulative);
    json.EndObject();
  }
  json.EndArray();
  json.Key("total_benefits").Number(c.total_benefits);
  json.Key("total_costs").Number(c.total_costs);
  json.Key("roi_simple").Number(c.roi_simple);
  json.Key("roi_ramp_up").Number(c.roi_ramp_up);
  json.Key("npv").Number(c.npv);
  json.Key("roi_discounted").Number(c.roi_discounted);
  Optional(json, "irr", c.irr);
  Optional(json, "payback_years_simple", c.payback_years_simple);
  Optional(json, "payback_years_ramp_up", c.payback_years_ramp_up);
  Optional(json, "payback_years_discounted", c.payback_years_discounted);
  json.Key("sensitivity").BeginArray();
  for (const SensitivityRow& row : c.sensitivity) {
    json.BeginObject();
    json.Key("input").String(row.input);
    json.Key("base_value").Number(row.base_value);
    json.Key("minus_20").BeginObject().Key("roi_simple").Number(row.roi_minus);
    Optional(json, "payback_years_simple", row.payback_minus);
    json.EndObject();
    json.Key("plus_20").BeginObject().Key("roi_simple").Number(row.roi_plus);
    Optional(json, "payback_years_simple", row.payback_plus);
    json.EndObject();
    json.EndObject();
  }
  json.EndArray();
  if (threshold) {
    auto point = [&](const ThresholdPoint& p) {
      json.BeginObject();
      json.Key("threshold").Number(p.threshold);
      json.Key("recall").Number(p.recall);
      json.Key("false_positive_rate").Number(p.false_positive_rate);
      json.Key("yearly_savings").Number(p.yearly_savings);
      json.EndObject();
    };
    json.Key("threshold").BeginObject();
    json.Key("positives").Int(threshold->positives);
    json.Key("negatives").Int(threshold->negatives);
    json.Key("best");
    point(threshold->best);
    json.Key("curve").BeginArray();
    for (const ThresholdPoint& p : threshold->curve) point(p);
    json.EndArray();
    json.EndObject();
  }
  json.EndObject();
  std::string out = json.Take();
  out.push_back('\n');
  return out;
}

std::string BusinessCaseToText(const BusinessCase& c,
                               const std::optional<ThresholdChoice>& threshold) {
  const BusinessCaseInputs& in = c.inputs;
  std::string out;
  out += fmt::format("Business case ({}; {} years; discount rate {}; first-year benefits {})\n",
                     in.currency, in.horizon_years, Percent(in.discount_rate),
                     Percent(in.first_year_benefit_share));
  if (in.bottom_up) {
    out +=
        fmt::format("detection: recall {:.3f}, {:.1f} false alarms per year (from {})\n",
                    in.detection.recall, in.detection.false_alarms_per_year, in.detection.source);
  }
  out += "\nyearly savings (steady state)\n";
  for (const auto& [name, amount] : c.yearly_savings)
    out += fmt::format("  {:<28} {:>16.2f}\n", name, amount);
  out += "yearly costs\n";
  for (const auto& [name, amount] : c.yearly_cost_lines)
    out += fmt::format("  {:<28} {:>16.2f}\n", name, amount);
  out += "one-time costs\n";
  for (const auto& [name, amount] : in.one_time_costs)
    out += fmt::format("  {:<28} {:>16.2f}\n", name, amount);
  out += fmt::format("\n  {:>4} {:>14} {:>14} {:>14} {:>14} {:>14}\n", "year", "benefits", "costs",
                     "net", "cumulative", "discounted");
  for (const YearFlow& f : c.flows) {
    out += fmt::format("  {:>4} {:>14.2f} {:>14.2f} {:>14.2f} {:>14.2f} {:>14.2f}\n", f.year,
                       f.benefits_total, f.costs_total, f.net, f.cumulative, f.discounted_net);
  }
  out += fmt::format("\n  total benefits {:.2f}, total costs {:.2f} (no ramp-up, undiscounted)\n",
                     c.total_benefits, c.total_costs);
  out += fmt::format("  ROI simple        {:>10}   (total benefits - total costs) / total costs\n",
                     Percent(c.roi_simple));
  out += fmt::format("  ROI with ramp-up  {:>10}\n", Percent(c.roi_ramp_up));
  out += fmt::format(
      "  ROI discounted    {:>10}   (PV benefits - PV costs) / PV costs, with ramp-up\n",
      Percent(c.roi_discounted));
  out += fmt::format("  NPV               {:>10.2f}\n", c.npv);
  out += fmt::format("  IRR               {:>10}\n", c.irr ? Percent(*c.irr) : "n/a");
  out += fmt::format("  payback simple    {}\n", Years(c.payback_years_simple));
  out += fmt::format("  payback ramp-up   {}\n", Years(c.payback_years_ramp_up));
  out += fmt::format("  payback discounted {}\n", Years(c.payback_years_discounted));
  out += fmt::format(
      "\nsensitivity (simple ROI and payback when one input moves)\n  {:<44} {:>10} {:>10} {:>12} "
      "{:>12}\n",
      "input", "ROI -20%", "ROI +20%", "payback -20%", "payback +20%");
  auto years = [](const std::optional<double>& y) {
    return y ? fmt::format("{:.3f} y", *y) : std::string("never");
  };
  for (const SensitivityRow& row : c.sensitivity) {
    out += fmt::format("  {:<44} {:>10} {:>10} {:>12} {:>12}\n", row.input, Percent(row.roi_minus),
                       Percent(row.roi_plus), years(row.payback_minus), years(row.payback_plus));
  }
  if (threshold) {
    const ThresholdPoint& b = threshold->best;
    out += fmt::format(
        "\ncost-optimal threshold {:.4f}: recall {:.3f}, false-positive rate {:.4f}, expected "
        "yearly "
        "savings {:.2f} ({} failures, {} non-failures scored)\n",
        b.threshold, b.recall, b.false_positive_rate, b.yearly_savings, threshold->positives,
        threshold->negatives);
  }
  return out;
}

}  // namespace pdm::econ
