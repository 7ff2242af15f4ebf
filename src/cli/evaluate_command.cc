// `pdm evaluate` (held-out metrics in the shape of metrics.json) and `pdm predict` (scores of a
// file), both through a trained model directory; `pdm monitor` (drift of a file against the
// model's reference profile).

#include "cli/commands.h"
#include "core/file.h"
#include "core/status.h"
#include "core/strings.h"
#include "features/batch_builder.h"
#include "features/dataset.h"
#include "model/bundle.h"
#include "monitor/batch_drift.h"
#include "spec/dataset_spec.h"

namespace pdm::cli {
namespace {

struct ScoreArgs {
  std::string drift_thresholds = "calibrated";  // pdm monitor
  std::string model;
  std::string spec;
  std::string data;
  std::string since;  // score only rows at or after this data time
  std::string task;
  std::string out;
  bool test = false;
  bool last = false;
  bool all_rows = false;
  bool json = false;
  int threads = 0;
};

// Features of a dataset through the model's own pipeline, with unclipped truth.
struct Scored {
  spec::DatasetSpec spec;
  model::Bundle bundle;
  features::FeatureTable table;
  std::vector<uint32_t> rows;  // table rows scored
  bool last_only = false;
  validate::DatasetReport report;
};

absl::StatusOr<Scored> Prepare(const ScoreArgs& args, bool need_target) {
  Scored s;
  PDM_ASSIGN_OR_RETURN(s.bundle, model::LoadBundle(args.model));
  std::filesystem::path spec_path = args.spec;
  if (spec_path.empty()) spec_path = s.bundle.spec_path;
  PDM_ASSIGN_OR_RETURN(s.spec, spec::LoadDatasetSpec(spec_path));
  if (!args.task.empty() && args.task != model::TaskName(s.bundle.ensemble.task)) {
    return absl::InvalidArgumentError(core::StrCat("--task ", args.task, ": the model's task is ",
                                                   model::TaskName(s.bundle.ensemble.task)));
  }
  PDM_ASSIGN_OR_RETURN(const features::FeaturePipeline own,
                       features::FeaturePipeline::Create(s.spec));
  const features::FeaturePipeline& pipeline = *s.bundle.pipeline;
  if (own.layout().numeric != pipeline.layout().numeric) {
    return absl::InvalidArgumentError(core::StrCat(
        spec_path.string(), ": its numeric columns differ from the model's feature inputs"));
  }
  features::LoadOptions load;
  load.data_override = args.data;
  load.test_set = args.test;
  load.threads = args.threads;
  PDM_ASSIGN_OR_RETURN(const features::LoadedDataset data,
                       features::LoadDataset(s.spec, pipeline, load));
  s.report = data.report;
  // Truth as given: remaining life is not clipped here (C-MAPSS scores against the RUL file).
  spec::LabelSpec labels = s.spec.labels;
  labels.rul_clip.reset();
  const features::BatchFeatureBuilder builder(&pipeline, labels, args.threads);
  PDM_ASSIGN_OR_RETURN(s.table, features::BuildFeatureTable(builder, pipeline, data));
  // Held-out histories cut before failure (a RUL file) are scored at their last record.
  s.last_only =
      args.last || (args.test && s.spec.test && !s.spec.test->rul_path.empty() && !args.all_rows);
  const std::vector<double>& target = model::TargetOf(s.table, s.bundle.ensemble.task);
  double since = -std::numeric_limits<double>::infinity();
  if (!args.since.empty()) {
    PDM_ASSIGN_OR_RETURN(since, ParseDataTime(args.since, s.spec.data.time_type, "--since"));
  }
  for (size_t r = 0; r < s.table.rows(); ++r) {
    if (s.table.time[r] < since) continue;  // the history before it feeds the features only
    if (s.last_only && r + 1 < s.table.rows() && s.table.entity[r + 1] == s.table.entity[r]) {
      continue;
    }
    if (need_target && !std::isfinite(target[r])) continue;
    s.rows.push_back(static_cast<uint32_t>(r));
  }
  if (s.rows.empty()) {
    return absl::InvalidArgumentError(need_target ? "no row to score has a known target"
                                                  : "no rows to score");
  }
  return s;
}

model::TrainingTable Select(const Scored& s) {
  return model::SelectRows(s.table, s.bundle.ensemble.task, /*has_time=*/false, s.rows);
}

int Fail(const char* command, const absl::Status& status) {
  fmt::print(stderr, "pdm {}: {}\n", command, status.message());
  return status.code() == absl::StatusCode::kInternal ? kExitInternal : kExitBadInput;
}

struct EvaluationJson {
  Scored scored;
  model::Scores ensemble;
  nlohmann::json json;
};

absl::StatusOr<EvaluationJson> EvaluateJson(const ScoreArgs& args) {
  EvaluationJson result;
  PDM_ASSIGN_OR_RETURN(result.scored, Prepare(args, true));
  const Scored& scored = result.scored;
  const model::TrainingTable table = Select(scored);
  const model::Ensemble& ensemble = scored.bundle.ensemble;
  PDM_ASSIGN_OR_RETURN(const model::Evaluation evaluation,
                       model::Evaluate(ensemble, table, args.threads));
  result.ensemble = evaluation.ensemble;
  nlohmann::json& out = result.json;
  out = {{"model", args.model},
         {"spec", scored.spec.name},
         {"table", args.test ? "test" : "data"},
         {"task", model::TaskName(ensemble.task)},
         {"rows", table.target.size()},
         {"rows_quarantined", scored.report.rows_quarantined},
         {"last_record_only", scored.last_only},
         {"feature_spec_hash", scored.bundle.feature_spec_hash}};
  if (ensemble.horizon) out["horizon"] = *ensemble.horizon;
  if (ensemble.task == model::Task::kMode) out["classes"] = ensemble.classes;
  out["ensemble"] = model::ScoresJson(ensemble.task, evaluation.ensemble, ensemble.classes);
  nlohmann::json members = nlohmann::json::object();
  for (size_t j = 0; j < evaluation.members.size(); ++j) {
    members[model::LearnerName(ensemble.members[j].kind)] =
        model::ScoresJson(ensemble.task, evaluation.members[j], ensemble.classes);
  }
  out["members"] = members;
  return result;
}

int RunEvaluate(const ScoreArgs& args) {
  auto evaluated = EvaluateJson(args);
  if (!evaluated.ok()) return Fail("evaluate", evaluated.status());
  const Scored* scored = &evaluated->scored;
  const model::Ensemble& ensemble = scored->bundle.ensemble;
  const std::string text = evaluated->json.dump(2) + "\n";
  if (!args.out.empty()) {
    if (auto s = core::WriteStringToFile(args.out, text); !s.ok()) return Fail("evaluate", s);
  }
  if (args.json || args.out.empty()) {
    fmt::print("{}", text);
    return kExitOk;
  }
  const model::Scores& e = evaluated->ensemble;
  const size_t rows = scored->rows.size();
  if (ensemble.task == model::Task::kMode && e.multiclass) {
    fmt::print(
        "{} rows: accuracy {:.4f}  balanced accuracy {:.4f}  macro F1 {:.4f}  any failure: "
        "ROC-AUC {:.4f} F1 {:.4f}\n",
        rows, e.multiclass->accuracy, e.multiclass->balanced_accuracy, e.multiclass->macro_f1,
        e.binary.roc_auc, e.binary.f1);
  } else if (ensemble.task == model::Task::kClassify) {
    fmt::print(
        "{} rows: ROC-AUC {:.4f}  PR-AUC {:.4f}  F1 {:.4f}  precision {:.4f}  recall {:.4f}\n",
        rows, e.binary.roc_auc, e.binary.pr_auc, e.binary.f1, e.binary.precision, e.binary.recall);
  } else {
    fmt::print("{} rows{}: RMSE {:.3f}  MAE {:.3f}  NASA score {:.1f}", rows,
               scored->last_only ? " (last record of each entity)" : "", e.regression.rmse,
               e.regression.mae, e.regression.nasa_score);
    if (e.within_horizon) {
      fmt::print("  fails within {:g}: F1 {:.4f}", *ensemble.horizon, e.within_horizon->f1);
    }
    fmt::print("\n");
  }
  fmt::print("metrics: {}\n", args.out);
  return kExitOk;
}

int RunPredict(const ScoreArgs& args) {
  auto scored = Prepare(args, false);
  if (!scored.ok()) return Fail("predict", scored.status());
  const model::TrainingTable table = Select(*scored);
  const model::Ensemble& ensemble = scored->bundle.ensemble;
  auto predictions = ensemble.Predict(table.x, args.threads);
  if (!predictions.ok()) return Fail("predict", predictions.status());
  const spec::TableSpec& data = scored->spec.data;
  std::string csv;
  if (!data.entity_column.empty()) csv += data.entity_column + ",";
  if (!data.time_column.empty()) csv += data.time_column + ",";
  if (ensemble.task == model::Task::kMode) {
    // P(any failure) and its alarm, the most probable class, then each class's probability.
    csv += "probability,alarm,mode";
    for (const std::string& name : ensemble.classes) csv += ",p_" + name;
    csv += "\n";
  } else {
    csv += ensemble.task == model::Task::kClassify ? "probability,alarm\n" : "rul,within_horizon\n";
  }
  for (size_t i = 0; i < scored->rows.size(); ++i) {
    const uint32_t r = scored->rows[i];
    if (!data.entity_column.empty()) {
      csv += scored->table.entity_names[scored->table.entity[r]] + ",";
    }
    if (!data.time_column.empty()) csv += fmt::format("{:.17g},", scored->table.time[r]);
    const model::Prediction& p = (*predictions)[i];
    csv += fmt::format("{:.9g},{}", ensemble.task == model::Task::kRul ? p.margin : p.probability,
                       p.alarm ? 1 : 0);
    if (ensemble.task == model::Task::kMode) {
      csv += "," + ensemble.classes[static_cast<size_t>(p.mode)];
      for (double q : p.mode_probability) csv += fmt::format(",{:.9g}", q);
    }
    csv += "\n";
  }
  if (auto s = core::WriteStringToFile(args.out, csv); !s.ok()) return Fail("predict", s);
  int64_t alarms = 0;
  for (const model::Prediction& p : *predictions) alarms += p.alarm;
  fmt::print("{} rows scored ({} quarantined), {} alarms -> {}\n", scored->rows.size(),
             scored->report.rows_quarantined, alarms, args.out);
  return kExitOk;
}

int RunMonitor(const ScoreArgs& args) {
  if (args.drift_thresholds != "calibrated" && args.drift_thresholds != "fixed") {
    fmt::print(stderr, "pdm monitor: --drift-thresholds: expected calibrated or fixed, got '{}'\n",
               args.drift_thresholds);
    return kExitUsage;
  }
  auto scored = Prepare(args, false);
  if (!scored.ok()) return Fail("monitor", scored.status());
  if (!scored->bundle.reference) {
    return Fail("monitor", absl::InvalidArgumentError(core::StrCat(
                               args.model, ": no reference profile this pdm reads (retrain it): ",
                               scored->bundle.reference_error)));
  }
  const monitor::ReferenceProfile& profile = *scored->bundle.reference;
  const model::TrainingTable table = Select(*scored);
  if (table.x.cols != profile.features.size()) {
    return Fail("monitor", absl::InvalidArgumentError(core::StrCat(
                               args.model, ": the profile has ", profile.features.size(),
                               " features, the pipeline makes ", table.x.cols)));
  }
  auto predictions = scored->bundle.ensemble.Predict(table.x, args.threads);
  if (!predictions.ok()) return Fail("monitor", predictions.status());
  std::vector<double> score;
  for (const model::Prediction& p : *predictions) {
    score.push_back(scored->bundle.ensemble.task == model::Task::kRul ? p.margin : p.probability);
  }
  // Data time since each row's entity began, for the columns' warm-ups (timestamped data).
  std::vector<double> since_start;
  const features::FeatureTable& t = scored->table;
  if (scored->spec.data.time_type == spec::TimeType::kTimestamp && t.time.size() == t.rows()) {
    since_start = model::TimeSinceEntityStart(t.time, t.entity, scored->rows);
  }
  monitor::BatchRows rows;
  rows.rows = table.x.rows;
  rows.cols = table.x.cols;
  rows.x = table.x.values.data();
  rows.score = score;
  rows.since_start = since_start;
  monitor::BatchDriftOptions options;
  options.calibrated_thresholds = args.drift_thresholds == "calibrated";
  const monitor::DriftReport report = monitor::CompareWithProfile(profile, rows, options);
  const std::vector<monitor::RegimeDrift> regimes =
      monitor::CompareByRegime(profile, rows, options);
  nlohmann::json out = monitor::BatchDriftJson(report, profile, options, regimes);
  out["model"] = args.model;
  out["data"] = args.data.empty() ? scored->spec.data.path.string() : args.data;
  out["rows_read"] = scored->report.rows_read;
  out["rows_quarantined"] = scored->report.rows_quarantined;
  if (!args.out.empty()) {
    monitor::BatchDriftSource source{args.model, out["data"], scored->spec.spec_path.string(),
                                     scored->report.rows_read, scored->report.rows_quarantined};
    const std::string html = monitor::BatchDriftHtml(report, profile, source, options, regimes);
    if (auto s = core::WriteStringToFile(args.out, html); !s.ok()) return Fail("monitor", s);
  }
  if (args.json) {
    fmt::print("{}\n", out.dump(2));
  } else {
    std::vector<std::string> drifted;
    for (const monitor::ColumnDrift& d : report.features) {
      if (d.status == monitor::DriftStatus::kDrift) {
        drifted.push_back(fmt::format("{} (PSI {:.2f})", d.name, d.psi));
      }
    }
    fmt::print(
        "{} rows compared with the training profile: {} of {} monitored features in drift"
        "{}, {} in warning; score PSI {:.3f} ({})\n",
        report.window_rows, report.features_in_drift, report.features_monitored,
        report.dataset_drift ? " (dataset drift)" : "", report.features_in_warning,
        report.score.psi, monitor::DriftStatusName(report.score.status));
    for (size_t i = 0; i < drifted.size() && i < 10; ++i) fmt::print("  drift: {}\n", drifted[i]);
    if (drifted.size() > 10) fmt::print("  ... and {} more\n", drifted.size() - 10);
    if (!args.out.empty()) fmt::print("report: {}\n", args.out);
  }
  return report.features_in_drift > 0 ? kExitDataRefused : kExitOk;
}

void CommonOptions(CLI::App* cmd, ScoreArgs* args) {
  cmd->add_option("--model", args->model, "Model directory (DIR/model from pdm train)")->required();
  cmd->add_option("--data", args->data, "Read this file instead of the spec's main data file");
  cmd->add_option("--since", args->since,
                  "Score only records at or after this data time (ISO 8601, or a number for "
                  "cycle data); the earlier history still feeds their features");
  cmd->add_flag("--last", args->last, "Score only each entity's last record");
  cmd->add_option("--threads", args->threads, "Threads (0: all cores)")->check(CLI::Range(0, 256));
  cmd->footer(kExitCodeHelp);
}

}  // namespace

absl::StatusOr<nlohmann::json> EvaluateModel(const std::string& model_dir, const std::string& spec,
                                             const std::string& data, const std::string& since,
                                             bool test, int threads) {
  ScoreArgs args;
  args.model = model_dir;
  args.spec = spec;
  args.data = data;
  args.since = since;
  args.test = test;
  args.threads = threads;
  PDM_ASSIGN_OR_RETURN(EvaluationJson evaluated, EvaluateJson(args));
  return std::move(evaluated.json);
}

void AddEvaluateCommands(CLI::App& app, int* exit_code) {
  auto eval = std::make_shared<ScoreArgs>();
  CLI::App* cmd = app.add_subcommand(
      "evaluate",
      "Score held-out data with a trained model: metrics in the shape of metrics.json. With "
      "--test and a RUL file (C-MAPSS), each entity's last record is scored against the true RUL "
      "as given, and 'fails within the horizon' is scored on the same records.");
  CommonOptions(cmd, eval.get());
  cmd->add_option("--spec", eval->spec, "Dataset spec (default: the one the model was trained on)");
  cmd->add_option("--task", eval->task, "Check that the model's task is this")
      ->check(CLI::IsMember({"classify", "rul"}));
  cmd->add_flag("--test", eval->test, "Use the spec's test set");
  cmd->add_flag("--all-rows", eval->all_rows, "With --test: score every record, not the last");
  cmd->add_option("--out", eval->out, "Write the metrics JSON here (else print it)");
  cmd->add_flag("--json", eval->json, "Print the metrics JSON");
  cmd->callback([eval, exit_code] { *exit_code = RunEvaluate(*eval); });

  auto drift = std::make_shared<ScoreArgs>();
  CLI::App* m = app.add_subcommand(
      "monitor",
      "Drift of a data file against a trained model's reference profile (the training data): "
      "PSI, Jensen-Shannon, KS and Wasserstein per feature and for the score, with the "
      "thresholds the server uses, as an HTML report and JSON. Exits 1 when a feature is in "
      "drift.");
  CommonOptions(m, drift.get());
  m->get_option("--data")->required();
  m->add_option("--spec", drift->spec, "Dataset spec (default: the one the model was trained on)");
  m->add_option("--out", drift->out, "Write the HTML report here");
  m->add_flag("--json", drift->json, "Print the report as JSON");
  m->add_option("--drift-thresholds", drift->drift_thresholds,
                "'calibrated' (the profile's, above its training windows' own PSI; 0.1 and 0.25 "
                "as floors) or 'fixed' (0.1 and 0.25)")
      ->capture_default_str();
  m->callback([drift, exit_code] { *exit_code = RunMonitor(*drift); });

  auto predict = std::make_shared<ScoreArgs>();
  CLI::App* p = app.add_subcommand(
      "predict",
      "Score a data file with a trained model: entity, time, probability and alarm (or RUL and "
      "within_horizon) per record, as CSV.");
  CommonOptions(p, predict.get());
  p->get_option("--data")->required();
  p->add_option("--spec", predict->spec,
                "Dataset spec (default: the one the model was trained on)");
  p->add_option("--out", predict->out, "Write the predictions here (CSV)")->required();
  p->callback([predict, exit_code] { *exit_code = RunPredict(*predict); });
}

}  // namespace pdm::cli
