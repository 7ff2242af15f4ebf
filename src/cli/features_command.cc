#include <chrono>
#include <cstdio>

#include "cli/commands.h"
#include "core/file.h"
#include "core/json_writer.h"
#include "core/strings.h"
#include "features/batch_builder.h"
#include "features/dataset.h"
#include "features/pipeline.h"
#include "spec/dataset_spec.h"

namespace pdm::cli {
namespace {

struct FeaturesArgs {
  std::string spec;
  std::string out;
  std::string data;
  std::string quarantine;
  std::string pipeline_in;
  std::string pipeline_out;
  bool test = false;
  bool json = false;
  int threads = 0;
};

int Fail(const absl::Status& status) {
  fmt::print(stderr, "pdm features: {}\n", status.message());
  return status.code() == absl::StatusCode::kInternal ? kExitInternal : kExitBadInput;
}

int RunFeatures(const FeaturesArgs& args) {
  const auto start = std::chrono::steady_clock::now();
  auto spec = spec::LoadDatasetSpec(args.spec);
  if (!spec.ok()) return Fail(spec.status());
  features::LoadOptions load;
  load.data_override = args.data;
  load.quarantine_dir = args.quarantine;
  load.threads = args.threads;
  load.test_set = args.test;

  // The pipeline: a fitted one from a model, or fitted here on the training data.
  absl::StatusOr<features::FeaturePipeline> pipeline = absl::UnknownError("unset");
  if (!args.pipeline_in.empty()) {
    auto text = core::ReadFileToString(args.pipeline_in, "feature pipeline");
    if (!text.ok()) return Fail(text.status());
    pipeline = features::FeaturePipeline::FromJson(*text);
    if (!pipeline.ok()) {
      return Fail(absl::InvalidArgumentError(
          core::StrCat(args.pipeline_in, ": ", pipeline.status().message())));
    }
    auto own = features::FeaturePipeline::Create(*spec);
    if (!own.ok()) return Fail(own.status());
    if (own->layout().numeric != pipeline->layout().numeric) {
      return Fail(absl::InvalidArgumentError(core::StrCat(
          args.pipeline_in, ": its inputs differ from the numeric columns of ", args.spec)));
    }
  } else {
    pipeline = features::FeaturePipeline::Create(*spec);
    if (!pipeline.ok()) return Fail(pipeline.status());
  }
  auto data = features::LoadDataset(*spec, *pipeline, load);
  if (!data.ok()) return Fail(data.status());
  if (!pipeline->fitted()) {
    if (args.test) {
      // Regimes are fitted on the training data, never on the data being scored.
      features::LoadOptions train = load;
      train.test_set = false;
      train.quarantine_dir.clear();
      auto training = features::LoadDataset(*spec, *pipeline, train);
      if (!training.ok()) return Fail(training.status());
      if (auto s = features::FitPipeline(*training, &*pipeline); !s.ok()) return Fail(s);
    } else if (auto s = features::FitPipeline(*data, &*pipeline); !s.ok()) {
      return Fail(s);
    }
  }
  if (!args.pipeline_out.empty()) {
    if (auto s = core::WriteStringToFile(args.pipeline_out, pipeline->ToStoredJson() + "\n");
        !s.ok()) {
      return Fail(s);
    }
  }
  const features::BatchFeatureBuilder builder(&*pipeline, spec->labels, args.threads);
  auto written = features::WriteFeaturesCsv(builder, *pipeline, *spec, *data, args.out);
  if (!written.ok()) return Fail(written.status());
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  const validate::DatasetReport& report = data->report;
  const features::LabelCounts& c = written->counts;
  if (args.json) {
    core::JsonWriter json(2);
    json.BeginObject();
    json.Key("spec").String(spec->name);
    json.Key("table").String(args.test ? "test" : "data");
    json.Key("out").String(args.out);
    json.Key("rows_read").Int(report.rows_read);
    json.Key("rows_accepted").Int(report.rows_accepted);
    json.Key("rows_quarantined").Int(report.rows_quarantined);
    json.Key("values_flagged").Int(report.values_flagged);
    json.Key("rows").Int(written->rows);
    json.Key("entities").Int(static_cast<int64_t>(data->entities.size()));
    json.Key("features").Int(static_cast<int64_t>(pipeline->feature_count()));
    json.Key("feature_spec_hash").String(pipeline->hash());
    json.Key("regimes").Int(
        pipeline->regimes() ? static_cast<int64_t>(pipeline->regimes()->centres.size()) : 0);
    json.Key("labels").BeginObject();
    json.Key("positive").Int(c.positive);
    json.Key("negative").Int(c.negative);
    json.Key("censored").Int(c.censored);
    json.Key("excluded").Int(c.excluded);
    json.Key("rul_known").Int(c.rul_known);
    json.EndObject();
    json.Key("events_without_entity").Int(data->events_without_entity);
    json.Key("bytes").Int(written->bytes);
    json.Key("seconds").Number(seconds);
    json.EndObject();
    fmt::print("{}\n", json.str());
  } else {
    fmt::print("{}: {} rows read from {} files, {} accepted, {} quarantined, {} values flagged\n",
               spec->name, report.rows_read, report.tables.size(), report.rows_accepted,
               report.rows_quarantined, report.values_flagged);
    fmt::print("features: {} rows x {} features for {} entities -> {} ({:.1f} MB)\n", written->rows,
               pipeline->feature_count(), data->entities.size(), args.out,
               static_cast<double>(written->bytes) / 1e6);
    if (pipeline->regimes()) {
      fmt::print("regimes: {} operating regimes\n", pipeline->regimes()->centres.size());
    }
    fmt::print("labels: {} positive, {} negative, {} censored, {} excluded; RUL known for {}\n",
               c.positive, c.negative, c.censored, c.excluded, c.rul_known);
    fmt::print("feature spec hash: {}\n", pipeline->hash());
    if (!report.quarantine_dir.empty() && report.rows_quarantined + report.values_flagged > 0) {
      fmt::print("quarantine: {}\n", report.quarantine_dir.string());
    }
    fmt::print("{:.2f} s\n", seconds);
  }
  return kExitOk;
}

}  // namespace

void AddFeaturesCommand(CLI::App& app, int* exit_code) {
  auto args = std::make_shared<FeaturesArgs>();
  CLI::App* cmd = app.add_subcommand(
      "features",
      "Build the feature table of a dataset (window statistics, events, regimes) with its labels "
      "(failure within the horizon, remaining useful life). Rows refused by validation are "
      "counted and, with --quarantine, written out; the table is written even when some are.");
  cmd->add_option("--spec", args->spec, "Dataset spec (YAML) with a features section")->required();
  cmd->add_option("--out", args->out,
                  "Write the table here: entity, time, features, label, rul (CSV)")
      ->required();
  cmd->add_option("--data", args->data, "Read this file instead of the spec's main data file");
  cmd->add_flag("--test", args->test,
                "Use the spec's test set (labels from its RUL file); regimes are fitted on the "
                "training data");
  cmd->add_option("--quarantine", args->quarantine, "Write refused rows and flagged values here");
  cmd->add_option("--pipeline", args->pipeline_in,
                  "Use this fitted feature pipeline (JSON, e.g. from a model) instead of fitting");
  cmd->add_option("--pipeline-out", args->pipeline_out,
                  "Write the fitted feature pipeline (JSON, with its hash) here");
  cmd->add_flag("--json", args->json, "Print the summary as one JSON object");
  cmd->add_option("--threads", args->threads, "Threads (0: all cores); never changes the output")
      ->capture_default_str()
      ->check(CLI::Range(0, 256));
  cmd->footer(kExitCodeHelp);
  cmd->callback([args, exit_code] { *exit_code = RunFeatures(*args); });
}

}  // namespace pdm::cli
