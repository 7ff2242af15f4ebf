#include "monitor/profile.h"

#include <algorithm>
#include <cmath>

#include "core/strings.h"
#include "monitor/level.h"

namespace pdm::monitor {

using json = nlohmann::json;

size_t ColumnProfile::BinOf(double value) const {
  // lower_bound without branches on the data (Khuong and Morin's form): the telemetry route calls
  // this once per feature and reading, and a mispredicted branch per halving cost more than the
  // rest of the drift bookkeeping together (bench/drift_benchmark).
  if (edges.empty()) return 0;
  const double* base = edges.data();
  size_t n = edges.size();
  while (n > 1) {
    const size_t half = n / 2;
    base = base[half] < value ? base + half : base;
    n -= half;
  }
  return static_cast<size_t>(base - edges.data()) + (*base < value ? 1 : 0);
}

double ColumnProfile::MedianShift(std::span<const double> counts,
                                  std::span<const double> reference) const {
  if (counts.size() != bins() || reference.size() != bins()) return NAN;
  double n = 0, total = 0;
  for (size_t b = 0; b < bins(); ++b) {
    n += counts[b];
    total += reference[b];
  }
  if (n <= 0 || total <= 0) return NAN;
  double below = 0, reference_below = 0;
  for (size_t b = 0; b < bins(); ++b) {
    if (counts[b] > 0 && below + counts[b] >= n / 2) {
      const double within = (n / 2 - below) / counts[b];
      return (reference_below + within * reference[b]) / total - 0.5;
    }
    below += counts[b];
    reference_below += reference[b];
  }
  return NAN;  // not reached: the bins hold n
}

bool ColumnProfile::SpreadAtMedian() const {
  if (values == 0 || counts.size() != bins()) return false;
  const double half = static_cast<double>(values) / 2;
  double below = 0;
  for (double c : counts) {
    if (below + c >= half) return c <= static_cast<double>(values) / 10;
    below += c;
  }
  return false;
}

int ReferenceProfile::RegimeOf(std::span<const float> row) const {
  if (!regime_feature || *regime_feature >= row.size()) return -1;
  const float v = row[*regime_feature];
  if (!(v >= 0) || v >= static_cast<float>(regimes)) return -1;
  return static_cast<int>(v);
}

void MixedReference(const ColumnProfile& column, std::span<const double> rows_per_regime,
                    std::vector<double>* out) {
  const size_t bins = column.bins();
  out->assign(column.counts.begin(), column.counts.end());
  if (column.regime_counts.empty() || column.values == 0) return;
  double rows = 0;
  for (double r : rows_per_regime) rows += r;
  if (rows <= 0) return;
  std::fill(out->begin(), out->end(), 0.0);
  const auto values = static_cast<double>(column.values);
  double pooled_share = 0;
  for (size_t g = 0; g < rows_per_regime.size(); ++g) {
    const double share = rows_per_regime[g] / rows;
    if (share == 0) continue;
    double in_regime = 0;
    if (g < column.regime_counts.size()) {
      for (double c : column.regime_counts[g]) in_regime += c;
    }
    if (in_regime == 0) {
      pooled_share += share;
      continue;
    }
    const double scale = share * values / in_regime;
    for (size_t b = 0; b < bins; ++b) (*out)[b] += scale * column.regime_counts[g][b];
  }
  if (pooled_share > 0) {
    for (size_t b = 0; b < bins; ++b) (*out)[b] += pooled_share * column.counts[b];
  }
}

ColumnProfile BuildColumnProfile(std::string name, std::vector<double> values) {
  ColumnProfile column;
  column.name = std::move(name);
  const auto missing =
      std::partition(values.begin(), values.end(), [](double v) { return !std::isnan(v); });
  column.missing = values.end() - missing;
  values.erase(missing, values.end());
  column.values = static_cast<int64_t>(values.size());
  if (!values.empty()) {
    std::sort(values.begin(), values.end());
    const size_t n = values.size();
    for (int q = 1; q < kFineBins; ++q) {
      const double edge = values[(n - 1) * static_cast<size_t>(q) / kFineBins];
      if (column.edges.empty() || edge > column.edges.back()) column.edges.push_back(edge);
    }
    if (column.edges.empty() || values.back() > column.edges.back()) {
      column.edges.push_back(values.back());  // the last bin then holds only values above max
    }
    column.counts.assign(column.bins(), 0);
    column.means.assign(column.bins(), 0);
    double sum = 0;
    for (double v : values) {
      const size_t bin = column.BinOf(v);
      column.counts[bin] += 1;
      column.means[bin] += v;
      sum += v;
    }
    for (size_t b = 0; b < column.bins(); ++b) {
      if (column.counts[b] > 0) column.means[b] /= column.counts[b];
    }
    column.mean = sum / static_cast<double>(n);
    double var = 0;
    for (double v : values) var += (v - column.mean) * (v - column.mean);
    column.std = n > 1 ? std::sqrt(var / static_cast<double>(n - 1)) : 0;
    column.min = values.front();
    column.max = values.back();
    column.median = values[(n - 1) / 2];
  }
  DeriveCoarseBins(&column);
  return column;
}

void DeriveCoarseBins(ColumnProfile* column) {
  const size_t bins = column->bins();
  column->coarse_of.assign(bins, 0);
  column->coarse_counts.clear();
  const double total = static_cast<double>(column->values);
  // Consecutive fine bins are merged until the group holds 1/kCoarseBins of the reference mass.
  // The last fine bin (above the reference's maximum, empty in the reference) stays a bin of
  // its own, so values beyond the training range always show, even for a constant column.
  double group = 0;
  uint16_t index = 0;
  for (size_t b = 0; b + 1 < bins; ++b) {
    column->coarse_of[b] = index;
    group += column->counts.empty() ? 0 : column->counts[b];
    if (total > 0 && group >= total / kCoarseBins && b + 2 < bins) {
      column->coarse_counts.push_back(group);
      group = 0;
      ++index;
    }
  }
  if (bins >= 2) {
    column->coarse_counts.push_back(group);
    ++index;
  }
  column->coarse_of[bins - 1] = index;
  column->coarse_counts.push_back(column->counts.empty() ? 0 : column->counts[bins - 1]);
}

namespace {

json ColumnJson(const ColumnProfile& c) {
  json out = {{"name", c.name},     {"values", c.values}, {"missing", c.missing},
              {"mean", c.mean},     {"std", c.std},       {"min", c.min},
              {"max", c.max},       {"median", c.median}, {"edges", c.edges},
              {"counts", c.counts}, {"means", c.means}};
  if (c.warmup) {
    out["warmup"] = {{"span", core::FormatSpan(*c.warmup)}, {"rows_excluded", c.warmup_rows}};
  }
  if (!c.monitored) out["monitored"] = false;
  if (!c.kind.empty()) out["kind"] = c.kind;
  if (!c.source.empty()) out["source"] = c.source;
  auto null_json = [](const NullPsi& n) {
    return json{{"windows", n.windows}, {"median", n.median}, {"q95", n.q95}, {"max", n.max}};
  };
  if (c.null_psi.full.windows > 0 || c.null_psi.fast.windows > 0) {
    out["null_psi"] = {{"window", null_json(c.null_psi.full)},
                       {"fast_window", null_json(c.null_psi.fast)}};
  }
  if (!c.regime_counts.empty()) out["regime_counts"] = c.regime_counts;
  if (c.null_shift.full.windows > 0 || c.null_shift.fast.windows > 0) {
    out["null_median_shift"] = {{"window", null_json(c.null_shift.full)},
                                {"fast_window", null_json(c.null_shift.fast)}};
  }
  return out;
}

NullPsi NullFromJson(const json& n) {
  NullPsi out;
  out.windows = n.at("windows").get<int64_t>();
  out.median = n.at("median").get<double>();
  out.q95 = n.at("q95").get<double>();
  out.max = n.at("max").get<double>();
  return out;
}

absl::StatusOr<ColumnProfile> ColumnFromJson(const json& j, const std::string& where) {
  ColumnProfile c;
  try {
    c.name = j.at("name").get<std::string>();
    c.values = j.at("values").get<int64_t>();
    c.missing = j.at("missing").get<int64_t>();
    c.mean = j.at("mean").get<double>();
    c.std = j.at("std").get<double>();
    c.min = j.at("min").get<double>();
    c.max = j.at("max").get<double>();
    c.median = j.value("median", 0.0);
    c.edges = j.at("edges").get<std::vector<double>>();
    c.counts = j.at("counts").get<std::vector<double>>();
    c.means = j.at("means").get<std::vector<double>>();
    if (j.contains("null_psi")) {
      c.null_psi.full = NullFromJson(j.at("null_psi").at("window"));
      c.null_psi.fast = NullFromJson(j.at("null_psi").at("fast_window"));
    }
    // Absent in profiles written before the median shift: then only PSI sets the status.
    if (j.contains("null_median_shift")) {
      c.null_shift.full = NullFromJson(j.at("null_median_shift").at("window"));
      c.null_shift.fast = NullFromJson(j.at("null_median_shift").at("fast_window"));
    }
    if (j.contains("regime_counts")) {
      c.regime_counts = j.at("regime_counts").get<std::vector<std::vector<double>>>();
    }
    c.monitored = j.value("monitored", true);
    c.kind = j.value("kind", "");
    c.source = j.value("source", "");
    if (j.contains("warmup")) {
      auto span = core::ParseSpan(j.at("warmup").at("span").get<std::string>());
      if (!span.ok()) {
        return absl::InvalidArgumentError(
            core::StrCat(where, " (", c.name, "): warmup.span: ", span.status().message()));
      }
      c.warmup = *span;
      c.warmup_rows = j.at("warmup").value("rows_excluded", int64_t{0});
    }
  } catch (const json::exception& e) {
    return absl::InvalidArgumentError(core::StrCat(where, ": ", e.what()));
  }
  const bool sorted = std::adjacent_find(c.edges.begin(), c.edges.end(), [](double a, double b) {
                        return !(a < b);
                      }) == c.edges.end();
  const bool sized = c.values == 0 ? c.counts.empty() || c.counts.size() == c.bins()
                                   : c.counts.size() == c.bins() && c.means.size() == c.bins();
  auto null_ok = [](const NullPsi& n) {
    return n.windows >= 0 && std::isfinite(n.max) && 0 <= n.median && n.median <= n.q95 &&
           n.q95 <= n.max;
  };
  if (!null_ok(c.null_psi.full) || !null_ok(c.null_psi.fast) || !null_ok(c.null_shift.full) ||
      !null_ok(c.null_shift.fast)) {
    return absl::InvalidArgumentError(
        core::StrCat(where, " (", c.name,
                     "): null_psi and null_median_shift must have 0 <= median <= q95 <= max, all "
                     "finite"));
  }
  const bool regimes_sized =
      std::all_of(c.regime_counts.begin(), c.regime_counts.end(),
                  [&](const std::vector<double>& r) { return r.size() == c.bins(); });
  if (!sorted || !sized || !regimes_sized || c.values < 0 || c.missing < 0) {
    return absl::InvalidArgumentError(core::StrCat(
        where, " (", c.name,
        "): edges must increase and counts, means and regime_counts have one entry per bin"));
  }
  if (c.counts.empty()) {
    c.counts.assign(c.bins(), 0);
    c.means.assign(c.bins(), 0);
  }
  DeriveCoarseBins(&c);
  return c;
}

}  // namespace

json ProfileToJson(const ReferenceProfile& profile) {
  json features = json::array();
  for (const ColumnProfile& c : profile.features) features.push_back(ColumnJson(c));
  json out = {{"profile_version", 1},
              {"fine_bins", kFineBins},
              {"coarse_bins", kCoarseBins},
              {"rows", profile.rows},
              {"features", std::move(features)},
              {"score", ColumnJson(profile.score)}};
  if (profile.calibration_window) {
    out["calibration"] = {{"window", core::FormatSpan(*profile.calibration_window)}};
  }
  if (!profile.levels.empty()) {
    json levels = json::array();
    for (size_t i = 0; i < profile.levels.size(); ++i) {
      json c = ColumnJson(profile.levels[i]);
      c["feature"] = profile.features[profile.level_features[i]].name;
      levels.push_back(std::move(c));
    }
    out["levels"] = {
        {"time_constant",
         core::FormatSpan({core::Span::Kind::kTime, static_cast<int64_t>(kLevelTimeConstant)})},
        {"columns", std::move(levels)}};
  }
  if (profile.regime_feature) {
    out["regimes"] = {{"feature", profile.features[*profile.regime_feature].name},
                      {"count", profile.regimes},
                      {"names", profile.regime_names}};
  }
  return out;
}

absl::StatusOr<ReferenceProfile> ProfileFromJson(const json& j, const std::string& source) {
  if (!j.is_object() || j.value("profile_version", 0) != 1 || !j.contains("features") ||
      !j["features"].is_array() || !j.contains("score")) {
    return absl::InvalidArgumentError(core::StrCat(
        source, ": not a reference profile of version 1 (retrain the model with this pdm)"));
  }
  ReferenceProfile profile;
  profile.rows = j.value("rows", int64_t{0});
  // Absent in profiles written before calibration.
  if (j.contains("calibration")) {
    const json& c = j["calibration"];
    auto span = c.is_object() && c.contains("window") && c["window"].is_string()
                    ? core::ParseSpan(c["window"].get<std::string>())
                    : absl::InvalidArgumentError("missing");
    if (!span.ok()) {
      return absl::InvalidArgumentError(
          core::StrCat(source, ": calibration.window: expected a span such as '24h'"));
    }
    profile.calibration_window = *span;
  }
  for (size_t i = 0; i < j["features"].size(); ++i) {
    auto column = ColumnFromJson(j["features"][i], core::StrCat(source, ": features[", i, "]"));
    if (!column.ok()) return column.status();
    profile.features.push_back(std::move(*column));
  }
  auto score = ColumnFromJson(j["score"], core::StrCat(source, ": score"));
  if (!score.ok()) return score.status();
  profile.score = std::move(*score);
  // Absent in profiles written before level columns.
  if (j.contains("levels")) {
    const json& l = j["levels"];
    const std::string expected =
        core::FormatSpan({core::Span::Kind::kTime, static_cast<int64_t>(kLevelTimeConstant)});
    if (!l.is_object() || l.value("time_constant", json()) != expected || !l.contains("columns") ||
        !l["columns"].is_array()) {
      return absl::InvalidArgumentError(core::StrCat(source, ": levels: expected {time_constant: '",
                                                     expected, "', columns: [...]}"));
    }
    for (size_t i = 0; i < l["columns"].size(); ++i) {
      const json& c = l["columns"][i];
      const std::string where = core::StrCat(source, ": levels.columns[", i, "]");
      auto column = ColumnFromJson(c, where);
      if (!column.ok()) return column.status();
      const std::string feature =
          c.contains("feature") && c["feature"].is_string() ? c["feature"] : "";
      const auto found = std::find_if(profile.features.begin(), profile.features.end(),
                                      [&](const ColumnProfile& f) { return f.name == feature; });
      if (found == profile.features.end()) {
        return absl::InvalidArgumentError(
            core::StrCat(where, ".feature: expected the name of a feature, got '", feature, "'"));
      }
      profile.level_features.push_back(static_cast<size_t>(found - profile.features.begin()));
      profile.levels.push_back(std::move(*column));
    }
  }
  if (j.contains("regimes")) {
    const json& r = j["regimes"];
    const std::string feature =
        r.is_object() && r.contains("feature") && r["feature"].is_string() ? r["feature"] : "";
    for (size_t i = 0; i < profile.features.size(); ++i) {
      if (profile.features[i].name == feature) profile.regime_feature = i;
    }
    profile.regimes = r.is_object() && r.contains("count") && r["count"].is_number_integer()
                          ? r["count"].get<int>()
                          : 0;
    if (r.is_object() && r.contains("names") && r["names"].is_array()) {
      for (const json& n : r["names"]) {
        if (n.is_string()) profile.regime_names.push_back(n.get<std::string>());
      }
    }
    if (profile.regime_names.size() != static_cast<size_t>(profile.regimes)) {
      profile.regime_names.clear();  // absent or malformed: shown by index
    }
    if (!profile.regime_feature || profile.regimes < 1 || profile.regimes > 64) {
      return absl::InvalidArgumentError(core::StrCat(
          source, ": regimes: expected {feature: <a feature's name>, count: 1 to 64}"));
    }
  }
  return profile;
}

}  // namespace pdm::monitor
