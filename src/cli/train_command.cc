#include <unistd.h>

#include <chrono>
#include <cstdio>

#include "absl/strings/str_split.h"
#include "cli/commands.h"
#include "core/build_info.h"
#include "core/file.h"
#include "core/status.h"
#include "core/strings.h"
#include "features/batch_builder.h"
#include "features/dataset.h"
#include "features/feedback.h"
#include "features/pipeline.h"
#include "model/bundle.h"
#include "model/report.h"
#include "model/train.h"
#include "registry/registry.h"
#include "spec/dataset_spec.h"

namespace pdm::cli {
namespace {

struct TrainArgs {
  std::string spec;
  std::string task;
  std::string models;
  int cv = 0;  // 0: the spec's (default 5)
  std::string cv_mode;
  int search = -1;  // -1: the spec's (default 0)
  int64_t seed = -1;
  std::string out;
  std::string data;
  std::string until;  // train on what was known before this data time
  std::string quarantine;
  std::string feedback;
  std::string drift_window = "auto";
  std::string calibration;
  std::string class_weight;
  double cost_missed = 0;
  double cost_false_alarm = 0;
  int threads = 0;
  bool json = false;
  bool register_model = false;
  std::string name;
  std::string description;
  RegistryArgs registry;
};

int Fail(const absl::Status& status) {
  fmt::print(stderr, "pdm train: {}\n", status.message());
  return status.code() == absl::StatusCode::kInternal ? kExitInternal : kExitBadInput;
}

// The options from the spec's training section, overridden by flags.
absl::StatusOr<model::TrainOptions> Options(const TrainArgs& args, const spec::DatasetSpec& spec,
                                            model::Task task, double time_unit) {
  const spec::TrainingSpec& t = spec.training;
  model::TrainOptions o;
  o.task = task;
  auto window = ParseDriftSpan(args.drift_window, "--drift-window");
  if (!window.ok()) return window.status();
  if (window->has_value()) {
    const core::Span span = **window;
    if (span.is_time() && spec.data.time_type != spec::TimeType::kTimestamp) {
      return absl::InvalidArgumentError(
          core::StrCat("--drift-window '", args.drift_window,
                       "': a time window needs timestamped data; give a row count"));
    }
    if (span.amount < 24) {
      return absl::InvalidArgumentError(core::StrCat("--drift-window '", args.drift_window,
                                                     "': at least 24 (the window's buckets)"));
    }
    o.drift_window = span;
  }
  std::vector<std::string> names = t.models;
  if (!args.models.empty()) names = absl::StrSplit(args.models, ',');
  if (!names.empty()) o.members.clear();
  for (const std::string& name : names) {
    auto kind = model::ParseLearnerKind(name);
    if (!kind.ok()) return absl::InvalidArgumentError(core::StrCat("--", kind.status().message()));
    if (std::find(o.members.begin(), o.members.end(), *kind) != o.members.end()) {
      return absl::InvalidArgumentError(core::StrCat("--models: '", name, "' given twice"));
    }
    o.members.push_back(*kind);
  }
  PDM_ASSIGN_OR_RETURN(o.cv, model::ParseCvMode(args.cv_mode.empty() ? t.cv : args.cv_mode));
  o.folds = args.cv > 0 ? args.cv : t.folds;
  o.search = args.search >= 0 ? args.search : t.search;
  o.seed = args.seed >= 0 ? static_cast<uint64_t>(args.seed) : t.seed.value_or(42);
  o.threads = args.threads;
  PDM_ASSIGN_OR_RETURN(
      o.calibration,
      model::ParseCalibrationKind(args.calibration.empty() ? t.calibration : args.calibration));
  PDM_ASSIGN_OR_RETURN(
      o.class_weight,
      model::ParseClassWeight(args.class_weight.empty() ? t.class_weight : args.class_weight));
  if ((args.cost_missed > 0) != (args.cost_false_alarm > 0)) {
    return absl::InvalidArgumentError("--cost-missed and --cost-false-alarm go together");
  }
  if (args.cost_missed > 0) {
    o.costs = model::Costs{args.cost_missed, args.cost_false_alarm};
  } else if (t.cost_missed_failure) {
    o.costs = model::Costs{*t.cost_missed_failure, *t.cost_false_alarm};
  }
  if (spec.labels.horizon) {
    o.embargo = *spec.labels.horizon;
    if (task == model::Task::kRul) o.horizon = *spec.labels.horizon / time_unit;
  }
  if (task == model::Task::kMode) o.classes = model::ModeClasses(spec);
  return o;
}

// model/lineage.json: what the registry records of a training run. Deterministic (no times), so
// the same data, seed and options still give a byte-identical model directory.
nlohmann::json LineageJson(const features::DatasetFingerprint& inputs,
                           const model::TrainOptions& options, const nlohmann::json& metrics) {
  nlohmann::json files = nlohmann::json::array();
  for (const features::InputFile& f : inputs.files) {
    files.push_back(
        {{"role", f.role}, {"path", f.path.string()}, {"bytes", f.bytes}, {"sha256", f.sha256}});
  }
  nlohmann::json models = nlohmann::json::array();
  for (model::LearnerKind kind : options.members) models.push_back(model::LearnerName(kind));
  nlohmann::json training = {{"task", model::TaskName(options.task)},
                             {"models", models},
                             {"cv", model::CvModeName(options.cv)},
                             {"folds", options.folds},
                             {"search", options.search},
                             {"seed", options.seed},
                             {"calibration", model::CalibrationKindName(options.calibration)},
                             {"class_weight", model::ClassWeightName(options.class_weight)}};
  if (options.costs) {
    training["cost_missed_failure"] = options.costs->missed_failure;
    training["cost_false_alarm"] = options.costs->false_alarm;
  }
  nlohmann::json members = metrics.value("members", nlohmann::json::object());
  for (auto& [name, entry] : members.items()) entry.erase("seconds");
  return {
      {"pdm_version", core::PdmVersion()},
      {"git_commit", core::GitCommit()},
      {"dataset", {{"fingerprint", inputs.fingerprint}, {"files", files}}},
      {"options", training},
      {"metrics",
       {{"ensemble", metrics.value("ensemble", nlohmann::json::object())}, {"members", members}}}};
}

int RunTrain(const TrainArgs& args) {
  const auto start = std::chrono::steady_clock::now();
  auto spec = spec::LoadDatasetSpec(args.spec);
  if (!spec.ok()) return Fail(spec.status());
  auto task = model::ResolveTask(args.task, *spec);
  if (!task.ok()) return Fail(task.status());
  auto pipeline = features::FeaturePipeline::Create(*spec);
  if (!pipeline.ok()) return Fail(pipeline.status());
  auto options = Options(args, *spec, *task, pipeline->time_unit());
  if (!options.ok()) return Fail(options.status());

  // Progress: one overwritten line on a terminal, plain lines otherwise.
  const bool tty = isatty(STDERR_FILENO) == 1;
  options->on_stage = [tty](const std::string& line) {
    if (!tty) fmt::print(stderr, "train: {}\n", line);
  };
  if (tty) {
    options->on_round = [](const std::string& what, int round, int rounds) {
      if (round == 1 || round % 10 == 0 || round == rounds) {
        fmt::print(stderr, "\r\033[Ktrain: {} round {}/{}", what, round, rounds);
      }
    };
  }

  features::LoadOptions load;
  load.data_override = args.data;
  load.quarantine_dir = args.quarantine;
  load.threads = args.threads;
  auto data = features::LoadDataset(*spec, *pipeline, load);
  if (!data.ok()) return Fail(data.status());
  std::optional<features::FeedbackReport> feedback;
  if (!args.feedback.empty()) {
    auto applied = features::ApplyFeedback(args.feedback, *spec, &*data);
    if (!applied.ok()) return Fail(applied.status());
    feedback = std::move(*applied);
    if (!args.json) {
      fmt::print(stderr,
                 "train: feedback {}: {} resolutions, {} failures added, {} already recorded, {} "
                 "false alarms, {} refused\n",
                 feedback->path, feedback->rows, feedback->failures_added, feedback->failures_known,
                 feedback->false_alarms, feedback->refused);
      for (const std::string& r : feedback->refusals) fmt::print(stderr, "  {}\n", r);
    }
  }
  if (!args.until.empty()) {
    auto until = ParseDataTime(args.until, spec->data.time_type, "--until");
    if (!until.ok()) return Fail(until.status());
    const int64_t rows_before = data->rows;
    if (auto s = features::TruncateAt(*spec, *until, &*data); !s.ok()) return Fail(s);
    if (!args.json) {
      fmt::print(stderr, "train: --until {}: {} of {} readings are before it\n", args.until,
                 data->rows, rows_before);
    }
    if (data->entities.empty()) {
      return Fail(absl::InvalidArgumentError(
          core::StrCat("--until ", args.until, ": no reading is before it")));
    }
  }
  if (auto s = features::FitPipeline(*data, &*pipeline); !s.ok()) return Fail(s);
  const features::BatchFeatureBuilder builder(&*pipeline, spec->labels, args.threads);
  auto features_table = features::BuildFeatureTable(builder, *pipeline, *data);
  if (!features_table.ok()) return Fail(features_table.status());
  // Leakage guard: nothing derived from the label or its components may be a feature.
  for (const std::string& name : pipeline->feature_names()) {
    for (const std::string& part : spec->labels.components) {
      if (name == part || name.rfind(part + "_", 0) == 0) {
        return Fail(absl::InvalidArgumentError(core::StrCat(
            "feature '", name, "' comes from '", part,
            "', a component of the label (labels.components): it would leak the label")));
      }
    }
  }
  auto table = model::TrainingRows(*features_table, *task, !spec->data.time_column.empty());
  if (!table.ok()) return Fail(table.status());
  if (!args.json) {
    fmt::print(stderr, "train: {} rows with a {} target, {} features, models {}\n",
               table->target.size(), model::TaskName(*task), table->feature_names.size(),
               args.models.empty() ? "rf,gbm,xgb" : args.models);
  }
  auto result = model::Train(*table, *options);
  if (tty) fmt::print(stderr, "\r\033[K");
  if (!result.ok()) return Fail(result.status());

  const std::filesystem::path out(args.out);
  const model::TrainingFacts facts{&*spec, &*pipeline, &*options, &result->report, &*table};
  if (auto s = model::SaveBundle(out / "model", result->model, facts); !s.ok()) return Fail(s);
  nlohmann::json metrics = model::MetricsJson(facts, result->model);
  if (feedback) metrics["feedback"] = features::FeedbackJson(*feedback);
  if (!args.until.empty()) metrics["data_until"] = args.until;
  if (auto s = core::WriteStringToFile(out / "metrics.json", metrics.dump(2) + "\n"); !s.ok())
    return Fail(s);
  auto inputs = features::FingerprintInputs(*spec, args.data, args.feedback);
  if (!inputs.ok()) return Fail(inputs.status());
  if (auto s = core::WriteStringToFile(out / "model" / "lineage.json",
                                       LineageJson(*inputs, *options, metrics).dump(2) + "\n");
      !s.ok()) {
    return Fail(s);
  }
  // The mode task's rows are scored as "any failure": label 1 for every failure mode.
  // Then each member's margin (or RUL value) as the combiner got it: `margin_<member>`.
  const model::TrainReport& report = result->report;
  std::string scores = *task == model::Task::kRul ? "rul,predicted,fold" : "label,score,fold";
  const size_t members = result->model.members.size();
  const bool with_members = report.oof_member_output.size() == report.oof_score.size() * members;
  if (with_members) {
    for (const model::Member& member : result->model.members) {
      scores += core::StrCat(",margin_", model::LearnerName(member.kind));
    }
  }
  scores += "\n";
  for (size_t i = 0; i < report.oof_score.size(); ++i) {
    scores += fmt::format("{},{:.9g},{}", report.oof_target[i], report.oof_score[i],
                          report.oof_fold[i] + 1);
    for (size_t j = 0; with_members && j < members; ++j) {
      scores += fmt::format(",{:.9g}", report.oof_member_output[i * members + j]);
    }
    scores += "\n";
  }
  if (auto s = core::WriteStringToFile(out / "oof_scores.csv", scores); !s.ok()) return Fail(s);
  if (auto s = core::WriteStringToFile(out / "report.html",
                                       model::TrainingReportHtml(facts, result->model));
      !s.ok()) {
    return Fail(s);
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  for (const std::string& w : report.warnings) fmt::print(stderr, "warning: {}\n", w);
  std::optional<store::ModelVersion> registered;
  if (args.register_model) {
    auto version =
        RegisterModel(args.registry, out / "model", args.name.empty() ? spec->name : args.name,
                      args.description, "pdm train --register");
    if (!version.ok()) return Fail(version.status());
    registered = *version;
  }
  if (args.json) {
    nlohmann::json summary = {{"out", args.out},
                              {"model", (out / "model").string()},
                              {"metrics", (out / "metrics.json").string()},
                              {"report", (out / "report.html").string()},
                              {"rows_read", data->report.rows_read},
                              {"rows_quarantined", data->report.rows_quarantined},
                              {"ensemble", metrics["ensemble"]},
                              {"seconds", seconds}};
    if (registered) {
      summary["registered"] = {{"name", registered->name},
                               {"version", registered->version},
                               {"artifact_hash", registered->artifact_hash}};
    }
    fmt::print("{}\n", summary.dump(2));
    return kExitOk;
  }
  fmt::print("{}: {} rows ({} quarantined), {} features, task {}, {} cross-validation x {}\n",
             spec->name, table->target.size(), data->report.rows_quarantined,
             table->feature_names.size(), model::TaskName(*task), model::CvModeName(report.cv),
             report.folds.size());
  auto line = [&](const std::string& name, const model::Scores& s) {
    if (*task == model::Task::kMode && s.multiclass) {
      fmt::print(
          "  {:<9} accuracy {:.4f}  balanced accuracy {:.4f}  macro F1 {:.4f}  log-loss {:.4f}"
          "  any failure: ROC-AUC {:.4f} F1 {:.4f}\n",
          name, s.multiclass->accuracy, s.multiclass->balanced_accuracy, s.multiclass->macro_f1,
          s.multiclass->log_loss, s.binary.roc_auc, s.binary.f1);
    } else if (*task == model::Task::kClassify) {
      fmt::print(
          "  {:<9} ROC-AUC {:.4f}  PR-AUC {:.4f}  F1 {:.4f}  precision {:.4f}  recall {:.4f}\n",
          name, s.binary.roc_auc, s.binary.pr_auc, s.binary.f1, s.binary.precision,
          s.binary.recall);
    } else {
      fmt::print("  {:<9} RMSE {:.3f}  MAE {:.3f}  NASA score {:.1f}{}\n", name, s.regression.rmse,
                 s.regression.mae, s.regression.nasa_score,
                 s.within_horizon ? fmt::format("  F1 within {:g}: {:.4f}", *options->horizon,
                                                s.within_horizon->f1)
                                  : "");
    }
  };
  fmt::print("out-of-fold:\n");
  line("ensemble", report.ensemble);
  for (const auto& m : report.members) line(model::LearnerName(m.kind), m.oof);
  if (*task != model::Task::kRul) {
    fmt::print("threshold {:.4f}{} ({})\n", result->model.combiner.threshold,
               *task == model::Task::kMode ? " on P(any failure)" : "",
               options->costs ? "minimum expected cost" : "maximum F1");
  }
  fmt::print("model: {}\nmetrics: {}\nreport: {}\n{:.1f} s\n", (out / "model").string(),
             (out / "metrics.json").string(), (out / "report.html").string(), seconds);
  if (registered) {
    fmt::print("registered: {} version {} ({})\n", registered->name, registered->version,
               registered->artifact_hash.substr(0, 12));
  }
  return kExitOk;
}

}  // namespace

int TrainForDemo(const std::string& spec, const std::string& out, const std::string& models,
                 int threads) {
  TrainArgs args;
  args.threads = threads;
  args.spec = spec;
  args.out = out;
  args.models = models;
  return RunTrain(args);
}

void AddTrainCommand(CLI::App& app, int* exit_code) {
  auto args = std::make_shared<TrainArgs>();
  CLI::App* cmd = app.add_subcommand(
      "train",
      "Train the rf + gbm + xgb ensemble with leakage-free cross-validation; write the model, "
      "metrics.json, oof_scores.csv and report.html to --out. Options not given come from the "
      "spec's training section.");
  cmd->add_option("--spec", args->spec, "Dataset spec (YAML)")->required();
  cmd->add_option("--out", args->out, "Output directory")->required();
  cmd->add_option("--task", args->task,
                  "classify (failure within the horizon), rul, or mode (which failure mode "
                  "within the horizon; needs labels.components or failure kinds)")
      ->check(CLI::IsMember({"classify", "rul", "mode"}));
  cmd->add_option("--models", args->models, "Members, comma-separated: rf,gbm,xgb");
  cmd->add_option("--cv", args->cv, "Folds (default 5)")->check(CLI::Range(2, 50));
  cmd->add_option("--cv-mode", args->cv_mode, "auto, group, time, stratified or kfold")
      ->check(CLI::IsMember({"auto", "group", "time", "stratified", "kfold"}));
  cmd->add_option("--search", args->search,
                  "Random-search candidates per member and fit (0: defaults)")
      ->check(CLI::Range(0, 10000));
  cmd->add_option("--seed", args->seed,
                  "Seed: the same data, seed and options give the same "
                  "model byte for byte (default 42)")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 53));
  cmd->add_option("--data", args->data, "Read this file instead of the spec's main data file");
  cmd->add_option("--until", args->until,
                  "Train on what was known before this data time (ISO 8601, or a number for "
                  "cycle data): later readings and events are left out, and labels that need "
                  "them are censored (a newest slice held out for evaluation)");
  cmd->add_option("--quarantine", args->quarantine, "Write refused rows and flagged values here");
  cmd->add_option("--drift-window", args->drift_window,
                  "The drift window to calibrate the reference profile's thresholds for ('auto': "
                  "24h for timestamped data, else 10000 rows); pdm serve --drift-window must match")
      ->capture_default_str();
  cmd->add_option("--feedback", args->feedback,
                  "Alert resolutions to join as labels (CSV: machine_id, time, resolution; "
                  "`pdm alerts export` writes it): failure_confirmed adds a failure")
      ->check(CLI::ExistingFile);
  cmd->add_option("--calibration", args->calibration, "platt, isotonic or none")
      ->check(CLI::IsMember({"platt", "isotonic", "none"}));
  cmd->add_option("--class-weight", args->class_weight, "none (default), balanced or sqrt")
      ->check(CLI::IsMember({"balanced", "sqrt", "none"}));
  cmd->add_option("--cost-missed", args->cost_missed,
                  "Cost of a missed failure: with --cost-false-alarm, the threshold minimises "
                  "expected cost instead of maximising F1")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--cost-false-alarm", args->cost_false_alarm, "Cost of a false alarm")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--threads", args->threads, "Threads (0: all cores)")->check(CLI::Range(0, 256));
  cmd->add_flag("--json", args->json, "Print the summary as one JSON object");
  cmd->add_flag("--register", args->register_model,
                "Register the trained model in the registry as a new version");
  cmd->add_option("--name", args->name, "Registered model name (default: the spec's name)");
  cmd->add_option("--description", args->description, "Description of the registered version");
  AddRegistryOptions(cmd, &args->registry);
  cmd->footer(kExitCodeHelp);
  cmd->callback([args, exit_code] { *exit_code = RunTrain(*args); });
}

}  // namespace pdm::cli
