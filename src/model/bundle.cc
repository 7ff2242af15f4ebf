#include "model/bundle.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <unordered_map>

#include "core/file.h"
#include "core/status.h"
#include "core/strings.h"
#include "fmt/format.h"
#include "monitor/calibration.h"
#include "monitor/level.h"

namespace pdm::model {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

json Number(double v) { return std::isfinite(v) ? json(v) : json(nullptr); }

json BinaryJson(const BinaryMetrics& m) {
  return {{"rows", m.rows},
          {"positives", m.positives},
          {"accuracy", Number(m.accuracy)},
          {"balanced_accuracy", Number(m.balanced_accuracy)},
          {"precision", Number(m.precision)},
          {"recall", Number(m.recall)},
          {"f1", Number(m.f1)},
          {"roc_auc", Number(m.roc_auc)},
          {"pr_auc", Number(m.pr_auc)},
          {"brier", Number(m.brier)},
          {"threshold", Number(m.threshold)},
          {"confusion_matrix", {{m.tn, m.fp}, {m.fn, m.tp}}}};
}

// The reference profile (monitor/profile.h) of the training features and of the out-of-fold
// scores: what drift detection compares production against. Each column leaves out the rows
// within each entity's first warm-up of data time (its window, or the baseline for `delta`,
// while it is still filling), as a running fleet's production rows are past it, unless that
// would leave fewer than a third of the rows; the score the longest warm-up any column kept.
// Up to 100,000 rows per column, evenly spread, are profiled; every kept row then calibrates
// the column's null PSI for the server's default window (monitor/calibration.h). Clocks (age,
// time since maintenance) are profiled but not monitored. With operating regimes, each column
// is also profiled per regime (monitor/profile.h MixedReference).
monitor::ReferenceProfile BuildReference(const TrainingFacts& facts) {
  const TrainingTable& table = *facts.table;
  const TrainReport& report = *facts.report;
  const size_t n = table.x.rows;
  const bool timed = facts.spec->data.time_type == spec::TimeType::kTimestamp &&
                     table.time.size() == n && table.entity.size() == n;
  std::vector<uint32_t> order(n);  // every row: later sorted into time order
  for (size_t r = 0; r < n; ++r) order[r] = static_cast<uint32_t>(r);
  // Data time since each row's entity began.
  const std::vector<double> since_start =
      timed ? TimeSinceEntityStart(table.time, table.entity, order) : std::vector<double>();
  std::unordered_map<std::string, const features::FeatureFacts*> facts_of;
  const auto& names = facts.pipeline->feature_names();
  for (size_t i = 0; i < names.size() && i < facts.pipeline->feature_facts().size(); ++i) {
    facts_of[names[i]] = &facts.pipeline->feature_facts()[i];
  }
  // Rows past `warmup` seconds, or none when fewer than a third of the rows are.
  auto rows_past = [&](double warmup, std::vector<uint32_t>* rows) {
    rows->clear();
    for (size_t r = 0; r < n; ++r) {
      if (since_start.empty() || since_start[r] >= warmup)
        rows->push_back(static_cast<uint32_t>(r));
    }
    return rows->size() * 3 >= n;
  };
  monitor::ReferenceProfile profile;
  // Operating regimes: each row's from the pipeline's `regime` feature (-1: unknown).
  std::vector<int> regime;
  if (facts.pipeline->regimes()) {
    for (size_t j = 0; j < table.x.cols; ++j) {
      if (table.feature_names[j] == "regime") profile.regime_feature = j;
    }
    profile.regimes = static_cast<int>(facts.pipeline->regimes()->centres.size());
    if (profile.regime_feature && profile.regimes > 0) {
      // Each regime's centre in the settings' units, for the reports.
      const features::RegimeModel& model = *facts.pipeline->regimes();
      const features::InputLayout& layout = facts.pipeline->layout();
      for (const std::vector<double>& centre : model.centres) {
        std::string name;
        for (size_t d = 0; d < centre.size() && d < model.setting_inputs.size(); ++d) {
          const auto input = static_cast<size_t>(model.setting_inputs[d]);
          const double value = centre[d] * model.scale[d] + model.offset[d];
          name +=
              fmt::format("{}{} {:.4g}", name.empty() ? "" : ", ",
                          input < layout.numeric.size() ? layout.numeric[input] : "setting", value);
        }
        profile.regime_names.push_back(std::move(name));
      }
      regime.resize(n);
      for (size_t r = 0; r < n; ++r) regime[r] = profile.RegimeOf({table.x.row(r), table.x.cols});
    } else {
      profile.regime_feature.reset();
      profile.regimes = 0;
    }
  }
  // A column's reference histogram per regime, from the rows it was profiled on.
  auto count_regimes = [&](monitor::ColumnProfile* column, const std::vector<uint32_t>& of_rows,
                           size_t stride, auto value_of) {
    if (regime.empty()) return;
    column->regime_counts.assign(static_cast<size_t>(profile.regimes),
                                 std::vector<double>(column->bins(), 0.0));
    for (size_t k = 0; k < of_rows.size(); k += stride) {
      const double v = value_of(of_rows[k]);
      const int g = regime[of_rows[k]];
      if (g >= 0 && !std::isnan(v))
        column->regime_counts[static_cast<size_t>(g)][column->BinOf(v)] += 1;
    }
  };
  std::vector<double> warmups;  // seconds per column: features, then the score
  std::vector<uint32_t> rows;
  std::vector<double> values;
  double longest = 0;
  for (size_t j = 0; j < table.x.cols; ++j) {
    const auto it = facts_of.find(table.feature_names[j]);
    const features::FeatureFacts* f = it == facts_of.end() ? nullptr : it->second;
    double warmup = 0;
    if (timed && f != nullptr && f->warmup && f->warmup->is_time()) {
      warmup = static_cast<double>(f->warmup->amount);
      if (!rows_past(warmup, &rows)) warmup = 0;
    }
    if (warmup == 0) rows_past(0, &rows);
    const size_t stride = std::max<size_t>(1, rows.size() / 100000);
    values.clear();
    for (size_t k = 0; k < rows.size(); k += stride) values.push_back(table.x.row(rows[k])[j]);
    monitor::ColumnProfile column = monitor::BuildColumnProfile(table.feature_names[j], values);
    count_regimes(&column, rows, stride,
                  [&](uint32_t r) { return static_cast<double>(table.x.row(r)[j]); });
    if (warmup > 0) {
      column.warmup = core::Span{core::Span::Kind::kTime, static_cast<int64_t>(warmup)};
      column.warmup_rows = static_cast<int64_t>(n - rows.size());
    }
    if (f != nullptr) {
      column.kind = features::FeatureKindName(f->kind);
      column.source = f->source;
      column.monitored = f->kind != features::FeatureFacts::Kind::kClock;
    }
    profile.features.push_back(std::move(column));
    profile.rows = std::max(profile.rows, static_cast<int64_t>(values.size()));
    warmups.push_back(warmup);
    longest = std::max(longest, warmup);
  }
  // The out-of-fold score of each table row (NaN where no fold tested it).
  std::vector<double> score(n, std::numeric_limits<double>::quiet_NaN());
  for (size_t i = 0; i < report.oof_row.size() && i < report.oof_score.size(); ++i) {
    score[report.oof_row[i]] = report.oof_score[i];
  }
  rows_past(longest, &rows);
  values.clear();
  for (uint32_t r : rows) {
    if (!std::isnan(score[r])) values.push_back(score[r]);
  }
  profile.score = monitor::BuildColumnProfile(
      facts.options->task != Task::kRul ? "probability" : "rul", values);
  count_regimes(&profile.score, rows, 1, [&](uint32_t r) { return score[r]; });
  if (longest > 0) {
    profile.score.warmup = core::Span{core::Span::Kind::kTime, static_cast<int64_t>(longest)};
    profile.score.warmup_rows = static_cast<int64_t>(n - rows.size());
  }
  warmups.push_back(longest);
  if (timed) {
    std::stable_sort(order.begin(), order.end(),
                     [&](uint32_t a, uint32_t b) { return table.time[a] < table.time[b]; });
  }
  // Level columns (monitor/level.h): each sensor's current value against its machine's recent
  // level in its regime, computed over the rows in time order as the server does live.
  std::vector<double> levels;
  if (timed) {
    std::vector<size_t> sensors;
    for (size_t j = 0; j < table.x.cols; ++j) {
      const auto it = facts_of.find(table.feature_names[j]);
      if (it == facts_of.end() || it->second->kind != features::FeatureFacts::Kind::kCurrent ||
          it->second->source != table.feature_names[j]) {
        continue;
      }
      const spec::ColumnSpec* column = facts.spec->data.FindColumn(table.feature_names[j]);
      if (column != nullptr && column->role == spec::ColumnRole::kSensor) sensors.push_back(j);
    }
    const size_t width = sensors.size();
    if (width > 0) {
      monitor::LevelTracker tracker(sensors, profile.regimes);
      levels.assign(n * width, 0.0);
      for (uint32_t r : order) {
        tracker.Next(table.entity[r], table.time[r], regime.empty() ? -1 : regime[r],
                     {table.x.row(r), table.x.cols},
                     levels.data() + static_cast<size_t>(r) * width);
      }
      for (size_t l = 0; l < width; ++l) {
        const size_t stride = std::max<size_t>(1, n / 100000);
        values.clear();
        rows.clear();
        for (size_t r = 0; r < n; r += stride) {
          values.push_back(levels[r * width + l]);
          rows.push_back(static_cast<uint32_t>(r));
        }
        monitor::ColumnProfile column = monitor::BuildColumnProfile(
            monitor::LevelColumnName(table.feature_names[sensors[l]]), values);
        count_regimes(&column, rows, 1, [&](uint32_t r) { return levels[r * width + l]; });
        column.kind = "level";
        column.source = profile.features[sensors[l]].source;
        profile.levels.push_back(std::move(column));
        profile.level_features.push_back(sensors[l]);
      }
    }
  }
  monitor::CalibrationRows calibration;
  calibration.cols = table.x.cols;
  calibration.x = table.x.values.data();
  calibration.score = score;
  if (timed) calibration.time = table.time;
  calibration.order = order;
  calibration.since_start = since_start;
  calibration.warmup = warmups;
  calibration.regime = regime;
  calibration.levels = levels;
  monitor::CalibrateNullPsi(
      calibration, facts.options->drift_window.value_or(monitor::DefaultDriftWindow(timed)),
      &profile);
  return profile;
}

}  // namespace

std::vector<double> TimeSinceEntityStart(std::span<const double> time,
                                         std::span<const uint32_t> entity,
                                         std::span<const uint32_t> rows) {
  std::unordered_map<uint32_t, double> first;
  for (uint32_t r : rows) {
    auto [it, inserted] = first.emplace(entity[r], time[r]);
    if (!inserted) it->second = std::min(it->second, time[r]);
  }
  std::vector<double> out;
  out.reserve(rows.size());
  for (uint32_t r : rows) out.push_back(time[r] - first[entity[r]]);
  return out;
}

absl::StatusOr<Task> ResolveTask(const std::string& flag, const spec::DatasetSpec& spec) {
  std::string name = flag.empty() ? spec.training.task : flag;
  const bool has_classes = spec.labels.source == spec::LabelSource::kColumn ||
                           (spec.labels.source != spec::LabelSource::kNone && spec.labels.horizon);
  const bool has_rul = spec.labels.source == spec::LabelSource::kEvents ||
                       spec.labels.source == spec::LabelSource::kRunToFailure;
  if (name.empty()) name = has_classes ? "classify" : "rul";
  if (name == "mode") {
    if (!has_classes || features::FailureModes(spec).empty()) {
      return absl::InvalidArgumentError(core::StrCat(
          spec.spec_path.string(),
          ": labels: the failure-mode task needs failure modes: labels.components (a label "
          "column) or the kinds of events.failures (with labels.horizon, every failure counting)"));
    }
    return Task::kMode;
  }
  if (name == "classify") {
    if (!has_classes) {
      return absl::InvalidArgumentError(core::StrCat(
          spec.spec_path.string(),
          ": labels: classification needs a label column or a failure horizon (labels.horizon)"));
    }
    return Task::kClassify;
  }
  if (name == "rul") {
    if (!has_rul) {
      return absl::InvalidArgumentError(
          core::StrCat(spec.spec_path.string(),
                       ": labels: RUL needs failure events or run-to-failure histories"));
    }
    return Task::kRul;
  }
  return absl::InvalidArgumentError(
      core::StrCat("--task: expected classify, rul or mode, got '", name, "'"));
}

const std::vector<double>& TargetOf(const features::FeatureTable& table, Task task) {
  switch (task) {
    case Task::kRul:
      return table.rul;
    case Task::kMode:
      return table.mode;
    case Task::kClassify:
      break;
  }
  return table.label;
}

std::vector<std::string> ModeClasses(const spec::DatasetSpec& spec) {
  std::vector<std::string> classes = {"none"};
  for (const std::string& mode : features::FailureModes(spec)) classes.push_back(mode);
  return classes;
}

TrainingTable SelectRows(const features::FeatureTable& table, Task task, bool has_time,
                         const std::vector<uint32_t>& rows) {
  const std::vector<double>& target = TargetOf(table, task);
  TrainingTable out;
  out.feature_names = table.feature_names;
  out.x.cols = table.feature_names.size();
  out.x.rows = rows.size();
  out.x.values.reserve(rows.size() * out.x.cols);
  for (uint32_t r : rows) {
    out.target.push_back(target[r]);
    out.entity.push_back(table.entity[r]);
    if (has_time) out.time.push_back(table.time[r]);
    const double* row = table.features.data() + static_cast<size_t>(r) * out.x.cols;
    for (size_t j = 0; j < out.x.cols; ++j) out.x.values.push_back(static_cast<float>(row[j]));
  }
  return out;
}

absl::StatusOr<TrainingTable> TrainingRows(const features::FeatureTable& table, Task task,
                                           bool has_time, std::vector<uint32_t>* source_rows) {
  const std::vector<double>& target = TargetOf(table, task);
  std::vector<uint32_t> rows;
  for (size_t r = 0; r < table.rows(); ++r) {
    if (std::isfinite(target[r])) rows.push_back(static_cast<uint32_t>(r));
  }
  if (rows.empty()) {
    return absl::InvalidArgumentError(
        task == Task::kRul    ? "no row has a known remaining useful life"
        : task == Task::kMode ? "no row has a known failure mode (all censored or excluded?)"
                              : "no row has a label (all censored or excluded?)");
  }
  TrainingTable out = SelectRows(table, task, has_time, rows);
  if (source_rows != nullptr) *source_rows = std::move(rows);
  return out;
}

absl::StatusOr<Evaluation> Evaluate(const Ensemble& ensemble, const TrainingTable& table,
                                    int threads) {
  PDM_ASSIGN_OR_RETURN(const std::vector<double> outputs, ensemble.MemberOutputs(table.x, threads));
  const size_t m = ensemble.members.size(), k = ensemble.width();
  Evaluation e;
  e.predictions = ApplyCombiner(ensemble.task, ensemble.combiner, outputs, m, ensemble.horizon, k);
  std::vector<uint32_t> rows(table.target.size());
  for (size_t r = 0; r < rows.size(); ++r) rows[r] = static_cast<uint32_t>(r);
  e.ensemble = ScorePredictions(ensemble.task, e.predictions, table.target, rows,
                                ensemble.combiner.threshold, ensemble.horizon);
  for (size_t j = 0; j < ensemble.member_combiners.size(); ++j) {
    std::vector<double> own(table.x.rows * k);
    for (size_t r = 0; r < table.x.rows; ++r) {
      std::copy_n(outputs.data() + (r * m + j) * k, k, own.data() + r * k);
    }
    const Combiner& c = ensemble.member_combiners[j];
    e.members.push_back(ScorePredictions(
        ensemble.task, ApplyCombiner(ensemble.task, c, own, 1, ensemble.horizon, k), table.target,
        rows, c.threshold, ensemble.horizon));
  }
  return e;
}

json ScoresJson(Task task, const Scores& s, const std::vector<std::string>& classes) {
  if (task == Task::kClassify) return BinaryJson(s.binary);
  if (task == Task::kMode && s.multiclass) {
    const MulticlassMetrics& m = *s.multiclass;
    json per_class = json::array();
    for (size_t c = 0; c < m.classes.size(); ++c) {
      per_class.push_back({{"class", c < classes.size() ? classes[c] : std::to_string(c)},
                           {"support", m.classes[c].support},
                           {"precision", Number(m.classes[c].precision)},
                           {"recall", Number(m.classes[c].recall)},
                           {"f1", Number(m.classes[c].f1)}});
    }
    return {{"rows", m.rows},
            {"accuracy", Number(m.accuracy)},
            {"balanced_accuracy", Number(m.balanced_accuracy)},
            {"macro_f1", Number(m.macro_f1)},
            {"log_loss", Number(m.log_loss)},
            {"classes", per_class},
            {"confusion_matrix", m.confusion},
            {"any_failure", BinaryJson(s.binary)}};
  }
  json out = {{"rows", s.regression.rows},
              {"rmse", Number(s.regression.rmse)},
              {"mae", Number(s.regression.mae)},
              {"nasa_score", Number(s.regression.nasa_score)},
              {"r2", Number(s.regression.r2)}};
  if (s.within_horizon) out["within_horizon"] = BinaryJson(*s.within_horizon);
  return out;
}

json MetricsJson(const TrainingFacts& facts, const Ensemble& ensemble) {
  const TrainReport& report = *facts.report;
  const TrainOptions& options = *facts.options;
  json out;
  out["task"] = TaskName(options.task);
  out["cv"] = {{"mode", CvModeName(report.cv)}, {"folds", report.folds.size()}};
  out["rows"] = facts.table->target.size();
  out["features"] = facts.table->feature_names.size();
  out["seed"] = options.seed;
  out["search"] = options.search;
  out["feature_spec_hash"] = facts.pipeline->hash();
  if (options.horizon) out["horizon"] = *options.horizon;
  if (options.task == Task::kMode) out["classes"] = options.classes;
  out["ensemble"] = ScoresJson(options.task, report.ensemble, options.classes);
  json members = json::object();
  for (size_t j = 0; j < report.members.size(); ++j) {
    const MemberSummary& m = report.members[j];
    json entry = ScoresJson(options.task, m.oof, options.classes);
    entry["weight"] = ensemble.combiner.weights[j];
    entry["rounds"] = m.rounds;
    entry["params"] = m.params.xgb;
    entry["seconds"] = m.seconds;
    members[LearnerName(m.kind)] = entry;
  }
  out["members"] = members;
  json folds = json::array();
  for (size_t f = 0; f < report.folds.size(); ++f) {
    const FoldResult& fold = report.folds[f];
    json entry = ScoresJson(options.task, fold.scores, options.classes);
    entry["fold"] = f + 1;
    entry["train_rows"] = fold.train_rows;
    entry["test_rows"] = fold.test_rows;
    entry["seconds"] = fold.seconds;
    folds.push_back(entry);
  }
  out["folds"] = folds;
  std::vector<size_t> order(report.importance.size());
  for (size_t j = 0; j < order.size(); ++j) order[j] = j;
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return report.importance[a] > report.importance[b]; });
  json importance = json::array();
  for (size_t i = 0; i < std::min<size_t>(order.size(), 20); ++i) {
    importance.push_back({{"feature", facts.table->feature_names[order[i]]},
                          {"mean_abs_contribution", report.importance[order[i]]}});
  }
  out["importance"] = importance;
  out["warnings"] = report.warnings;
  out["seconds"] = report.seconds;
  return out;
}

absl::Status SaveBundle(const fs::path& dir, const Ensemble& ensemble, const TrainingFacts& facts) {
  json extra = {{"feature_spec_hash", facts.pipeline->hash()},
                {"spec_path", facts.spec->spec_path.string()},
                {"spec_name", facts.spec->name},
                {"cv", CvModeName(facts.report->cv)},
                {"seed", facts.options->seed},
                {"class_weight", ClassWeightName(facts.options->class_weight)}};
  // The label's failure horizon (data time unit), so that the server can label readings by the
  // failures that follow them as training did (realised performance).
  if (facts.spec->labels.horizon) extra["label_horizon"] = *facts.spec->labels.horizon;
  PDM_RETURN_IF_ERROR(ensemble.Save(dir, extra.dump()));
  PDM_RETURN_IF_ERROR(
      core::WriteStringToFile(dir / "pipeline.json", facts.pipeline->ToStoredJson() + "\n"));
  PDM_RETURN_IF_ERROR(core::WriteStringToFile(
      dir / "reference.json", monitor::ProfileToJson(BuildReference(facts)).dump() + "\n"));
  PDM_ASSIGN_OR_RETURN(const std::string spec_text,
                       core::ReadFileToString(facts.spec->spec_path, "spec file"));
  return core::WriteStringToFile(dir / "spec.yaml", spec_text);
}

absl::StatusOr<Bundle> LoadBundle(const fs::path& dir) {
  Bundle bundle;
  PDM_ASSIGN_OR_RETURN(bundle.ensemble, Ensemble::Load(dir));
  PDM_ASSIGN_OR_RETURN(const std::string manifest_text,
                       core::ReadFileToString(dir / "model.json", "model"));
  bundle.manifest = json::parse(manifest_text, nullptr, false);
  bundle.spec_path = bundle.manifest.value("spec_path", "");
  bundle.feature_spec_hash = bundle.manifest.value("feature_spec_hash", "");
  PDM_ASSIGN_OR_RETURN(const std::string pipeline_text,
                       core::ReadFileToString(dir / "pipeline.json", "feature pipeline"));
  auto pipeline = features::FeaturePipeline::FromJson(pipeline_text);
  if (!pipeline.ok()) {
    return absl::InvalidArgumentError(
        core::StrCat((dir / "pipeline.json").string(), ": ", pipeline.status().message()));
  }
  if (pipeline->hash() != bundle.feature_spec_hash) {
    return absl::InvalidArgumentError(core::StrCat(
        dir.string(), ": the feature pipeline's hash ", pipeline->hash(),
        " differs from the one the model was trained with (", bundle.feature_spec_hash, ")"));
  }
  if (pipeline->feature_names() != bundle.ensemble.feature_names) {
    return absl::InvalidArgumentError(
        core::StrCat(dir.string(), ": the pipeline's features differ from the model's"));
  }
  bundle.pipeline = std::move(*pipeline);
  // The reference profile is optional: a model without one (or with one of an older format)
  // serves, without drift monitoring, and says why.
  const fs::path reference_path = dir / "reference.json";
  auto reference_text = core::ReadFileToString(reference_path, "reference profile");
  if (!reference_text.ok()) {
    bundle.reference_error = std::string(reference_text.status().message());
  } else {
    auto profile = monitor::ProfileFromJson(json::parse(*reference_text, nullptr, false),
                                            reference_path.string());
    if (profile.ok() && profile->features.size() != bundle.ensemble.feature_names.size()) {
      profile = absl::InvalidArgumentError(
          core::StrCat(reference_path.string(), ": profiles ", profile->features.size(),
                       " features, the model has ", bundle.ensemble.feature_names.size()));
    }
    if (profile.ok()) {
      bundle.reference = std::move(*profile);
    } else {
      bundle.reference_error = std::string(profile.status().message());
    }
  }
  return bundle;
}

}  // namespace pdm::model
