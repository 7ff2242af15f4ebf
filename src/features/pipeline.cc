#include "features/pipeline.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "core/hash.h"
#include "core/status.h"
#include "core/strings.h"
#include "core/time.h"
#include "nlohmann/json.hpp"

namespace pdm::features {
namespace {

using nlohmann::json;
constexpr double kInf = std::numeric_limits<double>::infinity();

// A small deterministic generator (splitmix64) for the k-means seeding.
class SplitMix {
 public:
  explicit SplitMix(uint64_t seed) : state_(seed) {}
  uint64_t Next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  double Uniform() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }

 private:
  uint64_t state_;
};

double SquaredDistance(const double* a, const double* b, size_t n) {
  double sum = 0;
  for (size_t i = 0; i < n; ++i) sum += (a[i] - b[i]) * (a[i] - b[i]);
  return sum;
}

int Nearest(const std::vector<std::vector<double>>& centres, const double* point, size_t dims) {
  int best = -1;
  double best_distance = kInf;
  for (size_t c = 0; c < centres.size(); ++c) {
    const double d = SquaredDistance(centres[c].data(), point, dims);
    if (d < best_distance) {
      best_distance = d;
      best = static_cast<int>(c);
    }
  }
  return best;
}

json RangeToJson(double value) { return std::isfinite(value) ? json(value) : json(nullptr); }

json CategoricalsToJson(const std::vector<CategoricalInput>& inputs) {
  json out = json::array();
  for (const CategoricalInput& input : inputs) {
    out.push_back({{"name", input.name}, {"values", input.values}});
  }
  return out;
}

std::vector<CategoricalInput> CategoricalsFromJson(const json& in) {
  std::vector<CategoricalInput> out;
  for (const json& item : in) {
    out.push_back(
        {item.at("name").get<std::string>(), item.at("values").get<std::vector<std::string>>()});
  }
  return out;
}

absl::StatusOr<spec::ColumnRole> RoleFromName(const std::string& name) {
  using spec::ColumnRole;
  for (ColumnRole role : {ColumnRole::kSensor, ColumnRole::kSetting, ColumnRole::kAttribute,
                          ColumnRole::kLabel, ColumnRole::kLabelComponent}) {
    if (name == spec::ColumnRoleName(role)) return role;
  }
  return absl::InvalidArgumentError(core::StrCat("unknown numeric role '", name, "'"));
}

const char* TimeTypeName(spec::TimeType type) {
  switch (type) {
    case spec::TimeType::kTimestamp:
      return "timestamp";
    case spec::TimeType::kCycle:
      return "cycle";
    case spec::TimeType::kUnixSeconds:
      return "unix_seconds";
    case spec::TimeType::kNone:
      break;
  }
  return "none";
}

}  // namespace

int RegimeModel::Assign(std::span<const double> numeric) const {
  double scaled[16];
  const size_t dims = setting_inputs.size();
  for (size_t i = 0; i < dims; ++i) {
    const double x = numeric[static_cast<size_t>(setting_inputs[i])];
    if (!std::isfinite(x)) return -1;
    scaled[i] = (x - offset[i]) / scale[i];
  }
  return Nearest(centres, scaled, dims);
}

absl::StatusOr<FeaturePipeline> FeaturePipeline::Create(const spec::DatasetSpec& spec) {
  FeaturePipeline p;
  InputLayout& in = p.layout_;
  in.time_type = spec.data.time_type;
  in.has_entity = !spec.data.entity_column.empty();
  for (const spec::ColumnSpec& column : spec.data.columns) {
    if (spec::IsNumericRole(column.role)) {
      in.numeric.push_back(column.name);
      in.numeric_roles.push_back(column.role);
      in.numeric_min.push_back(column.min);
      in.numeric_max.push_back(column.max);
    } else if (column.role == spec::ColumnRole::kCategorical ||
               column.role == spec::ColumnRole::kEventKind) {
      in.categorical.push_back({column.name, column.categories});
    }
  }
  if (spec.machines) {
    for (const spec::ColumnSpec& column : spec.machines->columns) {
      if (column.role == spec::ColumnRole::kAttribute) in.static_numeric.push_back(column.name);
      if (column.role == spec::ColumnRole::kCategorical) {
        in.static_categorical.push_back({column.name, column.categories});
      }
    }
  }
  auto kinds = [](const std::optional<spec::TableSpec>& table) {
    std::vector<std::string> out;
    if (table) {
      for (const spec::ColumnSpec& column : table->columns) {
        if (column.role == spec::ColumnRole::kEventKind) out = column.categories;
      }
    }
    return out;
  };
  in.has_failures = spec.failures.has_value();
  in.has_maintenance = spec.maintenance.has_value();
  in.has_errors = spec.errors.has_value();
  in.failure_kinds = kinds(spec.failures);
  in.maintenance_kinds = kinds(spec.maintenance);
  in.error_kinds = kinds(spec.errors);
  p.features_ = spec.features;
  if (p.features_.sensors.empty() && !p.features_.windows.empty()) {
    for (size_t i = 0; i < in.numeric.size(); ++i) {
      if (in.numeric_roles[i] == spec::ColumnRole::kSensor)
        p.features_.sensors.push_back(in.numeric[i]);
    }
  }
  PDM_RETURN_IF_ERROR(p.Finish());
  return p;
}

double FeaturePipeline::time_unit() const {
  return layout_.time_type == spec::TimeType::kCycle ? 1.0 : 3600.0;
}

const char* FeatureKindName(FeatureFacts::Kind kind) {
  switch (kind) {
    case FeatureFacts::Kind::kCurrent:
      return "current";
    case FeatureFacts::Kind::kWindow:
      return "window";
    case FeatureFacts::Kind::kEventCount:
      return "event_count";
    case FeatureFacts::Kind::kClock:
      return "clock";
  }
  return "current";
}

absl::Status FeaturePipeline::Finish() {
  const InputLayout& in = layout_;
  auto input_index = [&](const std::string& name) -> int {
    for (size_t i = 0; i < in.numeric.size(); ++i) {
      if (in.numeric[i] == name) return static_cast<int>(i);
    }
    return -1;
  };
  names_.clear();
  facts_.clear();
  raw_inputs_.clear();
  derived_.clear();
  windowed_.clear();
  window_defs_.clear();
  baseline_window_ = -1;
  auto categorical_names = [&](const std::vector<CategoricalInput>& inputs) {
    for (const CategoricalInput& input : inputs) {
      if (features_.categoricals == spec::CategoricalEncoding::kCodes || input.values.empty()) {
        names_.push_back(input.name);
      } else {
        for (const std::string& value : input.values) names_.push_back(input.name + "=" + value);
      }
    }
  };

  if (features_.raw) {
    for (size_t i = 0; i < in.numeric.size(); ++i) {
      const spec::ColumnRole role = in.numeric_roles[i];
      if (role == spec::ColumnRole::kSensor || role == spec::ColumnRole::kSetting ||
          role == spec::ColumnRole::kAttribute) {
        raw_inputs_.push_back(static_cast<int>(i));
        names_.push_back(in.numeric[i]);
      }
    }
  }
  for (size_t i = 0; i < features_.derived.size(); ++i) {
    const spec::FeatureSpec::Derived& d = features_.derived[i];
    const int a = input_index(d.a), b = input_index(d.b);
    if (a < 0 || b < 0) {
      return absl::InvalidArgumentError(core::StrCat(
          "features.derived[", i, "]: '", a < 0 ? d.a : d.b, "' is not a numeric input"));
    }
    derived_.push_back({d.op, a, b});
    names_.push_back(d.name);
  }
  categorical_names(in.categorical);
  for (const std::string& name : in.static_numeric) names_.push_back(name);
  categorical_names(in.static_categorical);
  if (features_.regimes) names_.push_back("regime");

  if (features_.window_names.size() != features_.windows.size() ||
      features_.event_window_names.size() != features_.event_windows.size()) {
    return absl::InternalError("feature spec: window names and windows disagree");
  }
  for (const core::Span& span : features_.windows) {
    window_defs_.push_back({span.is_time(), static_cast<double>(span.amount)});
  }
  if (features_.baseline) {
    const auto it =
        std::find(features_.windows.begin(), features_.windows.end(), *features_.baseline);
    baseline_window_ = static_cast<int>(it - features_.windows.begin());
    if (it == features_.windows.end()) {
      window_defs_.push_back(
          {features_.baseline->is_time(), static_cast<double>(features_.baseline->amount)});
    }
  }
  if (!features_.windows.empty()) {
    for (const std::string& sensor : features_.sensors) {
      WindowedSensor ws;
      ws.input = input_index(sensor);
      if (ws.input < 0) {
        return absl::InvalidArgumentError(
            core::StrCat("features.sensors: '", sensor, "' is not a numeric input"));
      }
      for (const spec::FeatureSpec::Reset& reset : features_.reset_on_maintenance) {
        if (std::find(reset.sensors.begin(), reset.sensors.end(), sensor) == reset.sensors.end()) {
          continue;
        }
        if (reset.component == "*") {
          ws.reset_on_any = true;
        } else {
          const auto& kinds = in.maintenance_kinds;
          const auto k = std::find(kinds.begin(), kinds.end(), reset.component);
          if (k != kinds.end()) ws.reset_components.push_back(static_cast<int>(k - kinds.begin()));
        }
      }
      windowed_.push_back(std::move(ws));
      for (size_t w = 0; w < features_.window_names.size(); ++w) {
        const core::Span& span = features_.windows[w];
        for (spec::WindowStat stat : features_.stats) {
          names_.push_back(core::StrCat(sensor, "_", spec::WindowStatName(stat), "_",
                                        features_.window_names[w]));
          FeatureFacts facts{FeatureFacts::Kind::kWindow, std::nullopt, sensor};
          if (span.is_time()) facts.warmup = span;
          if (stat == spec::WindowStat::kDelta && features_.baseline &&
              features_.baseline->is_time() && features_.baseline->amount > span.amount) {
            facts.warmup = *features_.baseline;
          }
          facts_.resize(names_.size() - 1);  // the current-value features before these
          facts_.push_back(facts);
        }
      }
    }
  }
  facts_.resize(names_.size());  // current values, unless windows came after them
  for (size_t w = 0; w < features_.event_window_names.size(); ++w) {
    const core::Span& span = features_.event_windows[w];
    const FeatureFacts facts{FeatureFacts::Kind::kEventCount,
                             span.is_time() ? std::optional(span) : std::nullopt, "errors"};
    names_.push_back(core::StrCat("errors_count_", features_.event_window_names[w]));
    facts_.push_back(facts);
    for (const std::string& kind : in.error_kinds) {
      names_.push_back(core::StrCat("errors_", kind, "_count_", features_.event_window_names[w]));
      facts_.push_back(facts);
    }
  }
  if (features_.time_since && in.time_type != spec::TimeType::kNone) {
    names_.push_back("age");
    if (in.has_maintenance) {
      names_.push_back("time_since_maintenance");
      for (const std::string& kind : in.maintenance_kinds) {
        names_.push_back("time_since_maintenance_" + kind);
      }
    }
    if (in.has_failures) names_.push_back("time_since_failure");
  }
  facts_.resize(names_.size(), FeatureFacts{FeatureFacts::Kind::kClock, std::nullopt, ""});
  // Current values come from the input of their name (one-hot columns: before the '=').
  for (size_t i = 0; i < names_.size(); ++i) {
    if (facts_[i].source.empty()) facts_[i].source = names_[i].substr(0, names_[i].find('='));
  }
  std::vector<std::string> sorted = names_;
  std::sort(sorted.begin(), sorted.end());
  if (const auto dup = std::adjacent_find(sorted.begin(), sorted.end()); dup != sorted.end()) {
    return absl::InvalidArgumentError(
        core::StrCat("features: two features would both be named '", *dup,
                     "' (rename a column of the data or machines table)"));
  }
  if (regimes_ && regimes_->mean.size() != regimes_->centres.size()) {
    return absl::InvalidArgumentError("regimes: one normalisation row per regime expected");
  }
  if (regimes_) {
    for (const auto& row : regimes_->mean) {
      if (row.size() != windowed_.size()) {
        return absl::InvalidArgumentError("regimes: one mean per windowed sensor expected");
      }
    }
  }
  std::string canonical = ToJson();
  hash_ = core::Sha256Hex(canonical);
  return absl::OkStatus();
}

absl::Status FeaturePipeline::Fit(std::span<const double> numeric, int64_t rows) {
  if (!features_.regimes) return absl::OkStatus();
  const spec::RegimeSpec& rs = *features_.regimes;
  const size_t width = layout_.numeric.size();
  if (numeric.size() != static_cast<size_t>(rows) * width) {
    return absl::InvalidArgumentError("Fit: numeric size does not match rows x inputs");
  }
  RegimeModel model;
  for (const std::string& setting : rs.settings) {
    const auto it = std::find(layout_.numeric.begin(), layout_.numeric.end(), setting);
    if (it == layout_.numeric.end()) {
      return absl::InvalidArgumentError(
          core::StrCat("features.regimes: unknown setting '", setting, "'"));
    }
    model.setting_inputs.push_back(static_cast<int>(it - layout_.numeric.begin()));
  }
  const size_t dims = model.setting_inputs.size();
  if (dims > 16) return absl::InvalidArgumentError("features.regimes: at most 16 settings");
  // Scale each setting by its declared range, or by the range seen when none is declared.
  for (int input : model.setting_inputs) {
    double lo = layout_.numeric_min[static_cast<size_t>(input)];
    double hi = layout_.numeric_max[static_cast<size_t>(input)];
    if (!std::isfinite(lo) || !std::isfinite(hi)) {
      lo = kInf;
      hi = -kInf;
      for (int64_t r = 0; r < rows; ++r) {
        const double x = numeric[static_cast<size_t>(r) * width + static_cast<size_t>(input)];
        if (std::isfinite(x)) {
          lo = std::min(lo, x);
          hi = std::max(hi, x);
        }
      }
    }
    model.offset.push_back(std::isfinite(lo) ? lo : 0);
    model.scale.push_back(std::isfinite(hi - lo) && hi > lo ? hi - lo : 1);
  }
  // Scaled settings of the rows with every setting present; at most 100k, evenly strided.
  std::vector<double> points;
  std::vector<int64_t> point_rows;
  for (int64_t r = 0; r < rows; ++r) {
    bool ok = true;
    for (size_t d = 0; d < dims && ok; ++d) {
      const double x =
          numeric[static_cast<size_t>(r) * width + static_cast<size_t>(model.setting_inputs[d])];
      ok = std::isfinite(x);
    }
    if (ok) point_rows.push_back(r);
  }
  if (point_rows.empty()) {
    return absl::InvalidArgumentError(
        "features.regimes: no training record has every regime setting present");
  }
  const size_t stride = std::max<size_t>(1, point_rows.size() / 100000);
  for (size_t i = 0; i < point_rows.size(); i += stride) {
    for (size_t d = 0; d < dims; ++d) {
      const double x = numeric[static_cast<size_t>(point_rows[i]) * width +
                               static_cast<size_t>(model.setting_inputs[d])];
      points.push_back((x - model.offset[d]) / model.scale[d]);
    }
  }
  const size_t n = points.size() / dims;
  const size_t k = std::min<size_t>(static_cast<size_t>(rs.max_regimes), n);

  // k-means++ seeding, then Lloyd's iterations.
  SplitMix rng(0x5eed);
  std::vector<std::vector<double>> centres;
  centres.emplace_back(points.begin(), points.begin() + static_cast<ptrdiff_t>(dims));
  std::vector<double> nearest(n, kInf);
  while (centres.size() < k) {
    double total = 0;
    for (size_t i = 0; i < n; ++i) {
      nearest[i] =
          std::min(nearest[i], SquaredDistance(&points[i * dims], centres.back().data(), dims));
      total += nearest[i];
    }
    if (!(total > 0)) break;  // fewer distinct points than k
    double target = rng.Uniform() * total;
    size_t pick = n - 1;
    for (size_t i = 0; i < n; ++i) {
      target -= nearest[i];
      if (target <= 0) {
        pick = i;
        break;
      }
    }
    centres.emplace_back(points.begin() + static_cast<ptrdiff_t>(pick * dims),
                         points.begin() + static_cast<ptrdiff_t>((pick + 1) * dims));
  }
  std::vector<int> assignment(n, -1);
  std::vector<int64_t> support;
  for (int iteration = 0; iteration < 100; ++iteration) {
    bool changed = false;
    for (size_t i = 0; i < n; ++i) {
      const int c = Nearest(centres, &points[i * dims], dims);
      changed = changed || c != assignment[i];
      assignment[i] = c;
    }
    std::vector<std::vector<double>> sums(centres.size(), std::vector<double>(dims, 0));
    support.assign(centres.size(), 0);
    for (size_t i = 0; i < n; ++i) {
      const auto c = static_cast<size_t>(assignment[i]);
      ++support[c];
      for (size_t d = 0; d < dims; ++d) sums[c][d] += points[i * dims + d];
    }
    for (size_t c = 0; c < centres.size(); ++c) {
      if (support[c] == 0) continue;
      for (size_t d = 0; d < dims; ++d)
        centres[c][d] = sums[c][d] / static_cast<double>(support[c]);
    }
    if (!changed) break;
  }
  // Merge centres closer than min_separation (largest clusters first), drop empty ones, and
  // number the rest in lexicographic order of their centres so the numbering is stable.
  std::vector<size_t> order(centres.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return support[a] > support[b]; });
  std::vector<std::vector<double>> kept;
  const double min_d2 = rs.min_separation * rs.min_separation;
  for (size_t c : order) {
    if (support[c] == 0) continue;
    bool merged = false;
    for (const auto& centre : kept)
      merged = merged || SquaredDistance(centre.data(), centres[c].data(), dims) < min_d2;
    if (!merged) kept.push_back(centres[c]);
  }
  std::sort(kept.begin(), kept.end());
  // Final centres: means of the points assigned to the kept centres.
  std::vector<std::vector<double>> sums(kept.size(), std::vector<double>(dims, 0));
  std::vector<int64_t> counts(kept.size(), 0);
  for (size_t i = 0; i < n; ++i) {
    const auto c = static_cast<size_t>(Nearest(kept, &points[i * dims], dims));
    ++counts[c];
    for (size_t d = 0; d < dims; ++d) sums[c][d] += points[i * dims + d];
  }
  for (size_t c = 0; c < kept.size(); ++c) {
    for (size_t d = 0; d < dims; ++d) kept[c][d] = sums[c][d] / static_cast<double>(counts[c]);
  }
  model.centres = std::move(kept);

  // Per-regime mean and standard deviation of each windowed sensor, over every training row.
  const size_t regimes = model.centres.size(), sensors = windowed_.size();
  std::vector<std::vector<double>> sum(regimes, std::vector<double>(sensors, 0));
  std::vector<std::vector<double>> count = sum;
  // The extremes let a sensor constant within a regime be centred on its exact value.
  std::vector<std::vector<double>> lo(regimes, std::vector<double>(sensors, kInf));
  std::vector<std::vector<double>> hi(regimes, std::vector<double>(sensors, -kInf));
  model.support.assign(regimes, 0);
  std::vector<int> row_regime(static_cast<size_t>(rows), -1);
  for (int64_t r = 0; r < rows; ++r) {
    const std::span<const double> row = numeric.subspan(static_cast<size_t>(r) * width, width);
    const int g = model.Assign(row);
    row_regime[static_cast<size_t>(r)] = g;
    if (g < 0) continue;
    ++model.support[static_cast<size_t>(g)];
    for (size_t s = 0; s < sensors; ++s) {
      const double x = row[static_cast<size_t>(windowed_[s].input)];
      if (std::isfinite(x)) {
        const auto gi = static_cast<size_t>(g);
        sum[gi][s] += x;
        count[gi][s] += 1;
        lo[gi][s] = std::min(lo[gi][s], x);
        hi[gi][s] = std::max(hi[gi][s], x);
      }
    }
  }
  model.mean.assign(regimes, std::vector<double>(sensors, 0));
  model.stddev.assign(regimes, std::vector<double>(sensors, 1));
  std::vector<std::vector<double>> m2(regimes, std::vector<double>(sensors, 0));
  for (size_t g = 0; g < regimes; ++g) {
    for (size_t s = 0; s < sensors; ++s) {
      if (count[g][s] > 0) {
        model.mean[g][s] = lo[g][s] == hi[g][s] ? lo[g][s] : sum[g][s] / count[g][s];
      }
    }
  }
  for (int64_t r = 0; r < rows; ++r) {
    const int g = row_regime[static_cast<size_t>(r)];
    if (g < 0) continue;
    for (size_t s = 0; s < sensors; ++s) {
      const double x =
          numeric[static_cast<size_t>(r) * width + static_cast<size_t>(windowed_[s].input)];
      if (std::isfinite(x)) {
        const double d = x - model.mean[static_cast<size_t>(g)][s];
        m2[static_cast<size_t>(g)][s] += d * d;
      }
    }
  }
  for (size_t g = 0; g < regimes; ++g) {
    for (size_t s = 0; s < sensors; ++s) {
      const double sd = count[g][s] >= 2 ? std::sqrt(m2[g][s] / (count[g][s] - 1)) : 0;
      // A constant sensor in a regime is centred but not scaled.
      model.stddev[g][s] = sd > 1e-12 * std::max(1.0, std::abs(model.mean[g][s])) ? sd : 1;
    }
  }
  regimes_ = std::move(model);
  return Finish();
}

std::string FeaturePipeline::ToJson() const {
  const InputLayout& in = layout_;
  json numeric = json::array();
  for (size_t i = 0; i < in.numeric.size(); ++i) {
    numeric.push_back({{"name", in.numeric[i]},
                       {"role", spec::ColumnRoleName(in.numeric_roles[i])},
                       {"min", RangeToJson(in.numeric_min[i])},
                       {"max", RangeToJson(in.numeric_max[i])}});
  }
  json stats = json::array();
  for (spec::WindowStat s : features_.stats) stats.push_back(spec::WindowStatName(s));
  json resets = json::array();
  for (const auto& reset : features_.reset_on_maintenance) {
    resets.push_back({{"component", reset.component}, {"sensors", reset.sensors}});
  }
  json regime_config = nullptr;
  if (features_.regimes) {
    regime_config = {{"settings", features_.regimes->settings},
                     {"max", features_.regimes->max_regimes},
                     {"min_separation", features_.regimes->min_separation},
                     {"normalize", features_.regimes->normalize}};
  }
  json fitted = nullptr;
  if (regimes_) {
    fitted = {{"setting_inputs", regimes_->setting_inputs},
              {"offset", regimes_->offset},
              {"scale", regimes_->scale},
              {"centres", regimes_->centres},
              {"mean", regimes_->mean},
              {"stddev", regimes_->stddev},
              {"support", regimes_->support}};
  }
  json doc = {
      {"format", "pdm-feature-pipeline"},
      {"version", 1},
      {"inputs",
       {{"time_type", TimeTypeName(in.time_type)},
        {"has_entity", in.has_entity},
        {"numeric", numeric},
        {"categorical", CategoricalsToJson(in.categorical)},
        {"static_numeric", in.static_numeric},
        {"static_categorical", CategoricalsToJson(in.static_categorical)},
        {"events",
         {{"failures", {{"present", in.has_failures}, {"kinds", in.failure_kinds}}},
          {"maintenance", {{"present", in.has_maintenance}, {"kinds", in.maintenance_kinds}}},
          {"errors", {{"present", in.has_errors}, {"kinds", in.error_kinds}}}}}}},
      {"config",
       {{"windows", features_.window_names},
        {"stats", stats},
        {"sensors", features_.sensors},
        {"baseline", features_.baseline ? json(features_.baseline_name) : json(nullptr)},
        {"raw", features_.raw},
        {"event_windows", features_.event_window_names},
        {"time_since", features_.time_since},
        {"categoricals",
         features_.categoricals == spec::CategoricalEncoding::kCodes ? "codes" : "onehot"},
        {"regimes", regime_config},
        {"reset_on_maintenance", resets}}},
      {"regimes", fitted},
      {"features", names_}};
  if (!features_.derived.empty()) {
    // Only present when used, so that pipelines without derived features keep their hashes.
    json derived = json::array();
    for (const spec::FeatureSpec::Derived& d : features_.derived) {
      derived.push_back({{"name", d.name}, {"op", spec::DerivedOpName(d.op)}, {"of", {d.a, d.b}}});
    }
    doc["config"]["derived"] = derived;
  }
  return doc.dump();
}

std::string FeaturePipeline::ToStoredJson() const {
  json doc = json::parse(ToJson());
  doc["hash"] = hash_;
  return doc.dump(1);
}

absl::StatusOr<FeaturePipeline> FeaturePipeline::FromJson(std::string_view text) {
  FeaturePipeline p;
  std::string stored_hash;
  std::vector<std::string> stored_names;
  try {
    const json doc = json::parse(text);
    if (doc.at("format") != "pdm-feature-pipeline" || doc.at("version") != 1) {
      return absl::InvalidArgumentError("not a pdm feature pipeline (format/version)");
    }
    const json& in = doc.at("inputs");
    InputLayout& l = p.layout_;
    const std::string time_type = in.at("time_type");
    l.time_type = time_type == "timestamp"      ? spec::TimeType::kTimestamp
                  : time_type == "cycle"        ? spec::TimeType::kCycle
                  : time_type == "unix_seconds" ? spec::TimeType::kUnixSeconds
                                                : spec::TimeType::kNone;
    l.has_entity = in.at("has_entity");
    for (const json& column : in.at("numeric")) {
      l.numeric.push_back(column.at("name"));
      PDM_ASSIGN_OR_RETURN(spec::ColumnRole role, RoleFromName(column.at("role")));
      l.numeric_roles.push_back(role);
      l.numeric_min.push_back(column.at("min").is_null() ? -kInf : column.at("min").get<double>());
      l.numeric_max.push_back(column.at("max").is_null() ? kInf : column.at("max").get<double>());
    }
    l.categorical = CategoricalsFromJson(in.at("categorical"));
    l.static_numeric = in.at("static_numeric").get<std::vector<std::string>>();
    l.static_categorical = CategoricalsFromJson(in.at("static_categorical"));
    const json& events = in.at("events");
    l.has_failures = events.at("failures").at("present");
    l.failure_kinds = events.at("failures").at("kinds").get<std::vector<std::string>>();
    l.has_maintenance = events.at("maintenance").at("present");
    l.maintenance_kinds = events.at("maintenance").at("kinds").get<std::vector<std::string>>();
    l.has_errors = events.at("errors").at("present");
    l.error_kinds = events.at("errors").at("kinds").get<std::vector<std::string>>();

    const json& c = doc.at("config");
    spec::FeatureSpec& f = p.features_;
    auto spans = [](const json& list) -> absl::StatusOr<std::vector<core::Span>> {
      std::vector<core::Span> out;
      for (const json& text : list) {
        PDM_ASSIGN_OR_RETURN(core::Span span, core::ParseSpan(text.get<std::string>()));
        out.push_back(span);
      }
      return out;
    };
    PDM_ASSIGN_OR_RETURN(f.windows, spans(c.at("windows")));
    PDM_ASSIGN_OR_RETURN(f.event_windows, spans(c.at("event_windows")));
    f.window_names = c.at("windows").get<std::vector<std::string>>();
    f.event_window_names = c.at("event_windows").get<std::vector<std::string>>();
    f.stats.clear();
    for (const json& name : c.at("stats")) {
      bool known = false;
      for (int s = 0; s < spec::kWindowStatCount; ++s) {
        if (name == spec::WindowStatName(static_cast<spec::WindowStat>(s))) {
          f.stats.push_back(static_cast<spec::WindowStat>(s));
          known = true;
        }
      }
      if (!known)
        return absl::InvalidArgumentError(core::StrCat("unknown statistic ", name.dump()));
    }
    f.sensors = c.at("sensors").get<std::vector<std::string>>();
    if (!c.at("baseline").is_null()) {
      f.baseline_name = c.at("baseline").get<std::string>();
      PDM_ASSIGN_OR_RETURN(f.baseline, core::ParseSpan(f.baseline_name));
    }
    f.raw = c.at("raw");
    f.time_since = c.at("time_since");
    f.categoricals = c.at("categoricals") == "codes" ? spec::CategoricalEncoding::kCodes
                                                     : spec::CategoricalEncoding::kOneHot;
    if (!c.at("regimes").is_null()) {
      const json& r = c.at("regimes");
      f.regimes = spec::RegimeSpec{r.at("settings").get<std::vector<std::string>>(), r.at("max"),
                                   r.at("min_separation"), r.at("normalize")};
    }
    for (const json& d : c.value("derived", json::array())) {
      spec::FeatureSpec::Derived derived;
      derived.name = d.at("name");
      const std::string op = d.at("op");
      bool known = false;
      for (const auto candidate :
           {spec::FeatureSpec::DerivedOp::kProduct, spec::FeatureSpec::DerivedOp::kDifference,
            spec::FeatureSpec::DerivedOp::kRatio, spec::FeatureSpec::DerivedOp::kSum}) {
        if (op == spec::DerivedOpName(candidate)) {
          derived.op = candidate;
          known = true;
        }
      }
      if (!known) return absl::InvalidArgumentError(core::StrCat("unknown derived op ", op));
      derived.a = d.at("of").at(0);
      derived.b = d.at("of").at(1);
      f.derived.push_back(std::move(derived));
    }
    for (const json& reset : c.at("reset_on_maintenance")) {
      f.reset_on_maintenance.push_back(
          {reset.at("component"), reset.at("sensors").get<std::vector<std::string>>()});
    }
    if (!doc.at("regimes").is_null()) {
      const json& r = doc.at("regimes");
      RegimeModel m;
      m.setting_inputs = r.at("setting_inputs").get<std::vector<int>>();
      m.offset = r.at("offset").get<std::vector<double>>();
      m.scale = r.at("scale").get<std::vector<double>>();
      m.centres = r.at("centres").get<std::vector<std::vector<double>>>();
      m.mean = r.at("mean").get<std::vector<std::vector<double>>>();
      m.stddev = r.at("stddev").get<std::vector<std::vector<double>>>();
      m.support = r.at("support").get<std::vector<int64_t>>();
      for (int input : m.setting_inputs) {
        if (input < 0 || static_cast<size_t>(input) >= l.numeric.size()) {
          return absl::InvalidArgumentError("regimes.setting_inputs out of range");
        }
      }
      if (m.setting_inputs.size() > 16 || m.offset.size() != m.setting_inputs.size() ||
          m.scale.size() != m.setting_inputs.size() || m.stddev.size() != m.mean.size()) {
        return absl::InvalidArgumentError("regimes: inconsistent sizes");
      }
      for (const auto& centre : m.centres) {
        if (centre.size() != m.setting_inputs.size()) {
          return absl::InvalidArgumentError("regimes: centre of the wrong dimension");
        }
      }
      p.regimes_ = std::move(m);
    }
    stored_names = doc.at("features").get<std::vector<std::string>>();
    if (doc.contains("hash")) {
      // Integrity first: the stored content must hash to the stored hash.
      stored_hash = doc.at("hash");
      json content = doc;
      content.erase("hash");
      if (core::Sha256Hex(content.dump()) != stored_hash) {
        return absl::InvalidArgumentError(
            core::StrCat("feature pipeline: content does not match its hash ", stored_hash,
                         " (modified or corrupted)"));
      }
    }
  } catch (const json::exception& e) {
    return absl::InvalidArgumentError(core::StrCat("feature pipeline JSON: ", e.what()));
  }
  PDM_RETURN_IF_ERROR(p.Finish());
  if (p.names_ != stored_names) {
    return absl::InvalidArgumentError(
        "feature pipeline: this pdm computes different feature names from the stored "
        "configuration; the model was built by an incompatible version");
  }
  if (!stored_hash.empty() && stored_hash != p.hash_) {
    return absl::InvalidArgumentError(core::StrCat("feature pipeline: content hash ", p.hash_,
                                                   " does not match the stored hash ",
                                                   stored_hash));
  }
  return p;
}

}  // namespace pdm::features
