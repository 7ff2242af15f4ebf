// `pdm pipeline run` and `pdm runs` end to end: simulated fleets, the real binary, a registry on
// SQLite, a webhook receiver on loopback (docs/pipeline.md).
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "core/hash.h"
#include "nlohmann/json.hpp"
#include "store/store.h"
#include "tests/testing/http_client.h"
#include "tests/testing/pdm_cli.h"
#include "tests/testing/test_paths.h"
#include "tests/testing/webhook_receiver.h"

namespace pdm {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using json = nlohmann::json;

class PipelineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::TempDir(::testing::UnitTest::GetInstance()->current_test_info()->name());
    registry_ = (dir_ / "registry").string();
  }

  // A small simulated fleet in `name`/ (its spec: name/spec.yaml).
  fs::path Fleet(const std::string& name, int seed) {
    const testing::Result r =
        testing::Pdm("simulate --machines 12 --duration 60d --seed " + std::to_string(seed) +
                     " --out " + (dir_ / name).string());
    EXPECT_EQ(r.code, 0) << r.err;
    return dir_ / name;
  }

  // Writes pipeline.yaml for the fleet in `fleet` with `extra` lines appended.
  std::string Pipeline(const std::string& file, const fs::path& fleet, const std::string& extra) {
    const fs::path path = dir_ / file;
    std::ofstream(path) << "name: nightly\nspec: " << (fleet / "spec.yaml").string()
                        << "\nmodel: fleet\ntrain: {models: xgb, cv: 2, threads: 2, seed: 1}\n"
                        << extra;
    return path.string();
  }

  testing::Result Run(const std::string& config, const std::string& flags = "") {
    return testing::Pdm("pipeline run --config " + config + " --registry " + registry_ + " " +
                        flags);
  }

  json Show(const std::string& id) {
    const testing::Result r = testing::Pdm("runs show " + id + " --json --registry " + registry_);
    EXPECT_EQ(r.code, 0) << r.err;
    return json::parse(r.out);
  }

  json Versions() {
    const testing::Result r = testing::Pdm("models list fleet --json --registry " + registry_);
    EXPECT_EQ(r.code, 0) << r.err;
    return json::parse(r.out);
  }

  static std::string RunId(const std::string& out) {
    const size_t at = out.find(" run ");
    return at == std::string::npos ? "" : out.substr(at + 5, 16);
  }

  static const json& Step(const json& run, const std::string& name) {
    for (const json& step : run["steps"]) {
      if (step["name"] == name) return step;
    }
    static const json kNone;
    return kNone;
  }

  fs::path dir_;
  std::string registry_;
};

TEST_F(PipelineTest, RunsRecordEveryStepAndTheSameInputsAreNotRunTwice) {
  testing::WebhookReceiver receiver([](const auto&, const auto&) { return 200; });
  const fs::path fleet = Fleet("fleet", 3);
  const std::string config =
      Pipeline("pipeline.yaml", fleet,
               "gate: {metric: pr_auc}\nnotify: {webhooks: [" + receiver.url() + "]}\n");
  testing::Result r = Run(config);
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  const std::string id = RunId(r.out);
  ASSERT_EQ(id.size(), 16u) << r.out;

  const json run = Show(id);
  EXPECT_EQ(run["state"], "succeeded");
  for (const char* step : {"validate", "train", "register", "promote", "notify"}) {
    EXPECT_EQ(Step(run, step)["state"], "succeeded") << step;
    EXPECT_EQ(Step(run, step)["attempts"], 1) << step;
  }
  // Inputs: each data file with its SHA-256; the step's artifacts exist.
  bool telemetry_seen = false;
  for (const json& f : run["inputs"]["files"]) {
    if (f["role"] == "data") {
      telemetry_seen = true;
      EXPECT_EQ(f["sha256"], *core::Sha256File(fleet / "telemetry.csv"));
    }
  }
  EXPECT_TRUE(telemetry_seen) << run["inputs"].dump();
  EXPECT_TRUE(fs::exists(Step(run, "train")["artifacts"]["model"].get<std::string>()));
  EXPECT_TRUE(fs::exists(Step(run, "train")["artifacts"]["report"].get<std::string>()));
  EXPECT_GT(Step(run, "train")["metrics"]["ensemble"]["roc_auc"].get<double>(), 0.5);
  EXPECT_EQ(Step(run, "validate")["metrics"]["rows_read"],
            Step(run, "train")["metrics"]["rows_read"]);
  EXPECT_EQ(run["outcome"]["version"], 1);
  EXPECT_EQ(run["outcome"]["promoted"], true);
  EXPECT_EQ(run["params"]["gate_metric"], "pr_auc");
  // The registry: v1 in production, registered by the pipeline.
  json versions = Versions();
  ASSERT_EQ(versions.size(), 1u) << versions.dump();
  EXPECT_THAT(versions[0].dump(), HasSubstr("production"));
  // The webhook: one signed-format POST naming the run.
  auto received = receiver.received();
  ASSERT_EQ(received.size(), 1u);
  const json body = json::parse(received[0].body);
  EXPECT_EQ(body["event"], "pipeline.succeeded");
  EXPECT_EQ(body["run"], id);
  EXPECT_EQ(received[0].headers["idempotency-key"], "pipeline-" + id);

  // The same inputs and settings: the same run, already done; nothing trained or registered.
  r = Run(config);
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("already succeeded"));
  EXPECT_EQ(Versions().size(), 1u);
  EXPECT_EQ(receiver.received().size(), 1u);

  // New data: a new run, v2, promoted only if better than v1 on PR-AUC.
  const fs::path newer = Fleet("newer", 4);
  const std::string config2 =
      Pipeline("pipeline2.yaml", newer,
               "gate: {metric: pr_auc, data: " + (newer / "telemetry.csv").string() + "}\n");
  r = Run(config2);
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  const std::string id2 = RunId(r.out);
  ASSERT_NE(id2, id);
  const json run2 = Show(id2);
  EXPECT_EQ(run2["outcome"]["version"], 2);
  EXPECT_EQ(Step(run2, "notify")["state"], "skipped");
  const bool promoted = run2["outcome"]["promoted"];
  const std::string detail = Step(run2, "promote")["metrics"]["detail"];
  EXPECT_THAT(detail, HasSubstr("pr_auc")) << detail;  // the gate compared both versions
  const testing::Result production =
      testing::Pdm("models show fleet production --json --registry " + registry_);
  ASSERT_EQ(production.code, 0) << production.err;
  EXPECT_EQ(json::parse(production.out)["version"], promoted ? 2 : 1) << detail;

  // runs list: newest first; runs compare: the inputs differ, the model does not.
  r = testing::Pdm("runs list --json --registry " + registry_);
  ASSERT_EQ(r.code, 0) << r.err;
  const json list = json::parse(r.out);
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0]["id"], id2);
  EXPECT_EQ(list[1]["id"], id);
  r = testing::Pdm("runs compare " + id + " " + id2 + " --json --registry " + registry_);
  ASSERT_EQ(r.code, 0) << r.err;
  const json compared = json::parse(r.out);
  EXPECT_TRUE(compared["inputs.fingerprint"]["differs"].get<bool>());
  EXPECT_FALSE(compared["params.model"]["differs"].get<bool>());
  EXPECT_TRUE(compared["outcome.version"]["differs"].get<bool>());
  EXPECT_EQ(testing::Pdm("runs show nosuchrun --registry " + registry_).code, 1);
}

TEST_F(PipelineTest, AFailedStepIsResumedWithoutRedoingTheStepsBeforeIt) {
  std::atomic<bool> up{false};
  testing::WebhookReceiver receiver(
      [&up](const auto&, const auto&) { return up.load() ? 200 : 503; });
  // With the store's resolved alerts as labels (none yet: an export of the header only).
  const std::string config =
      Pipeline("pipeline.yaml", Fleet("fleet", 3),
               "feedback: alerts\nnotify: {webhooks: [" + receiver.url() + "]}\n");
  testing::Result r = Run(config);
  ASSERT_EQ(r.code, 1) << r.out << r.err;  // a step failed
  EXPECT_THAT(r.err, HasSubstr("failed at notify"));
  EXPECT_THAT(r.err, HasSubstr("HTTP 503"));
  const std::string id = RunId(r.out);
  json run = Show(id);
  EXPECT_EQ(run["state"], "failed");
  EXPECT_EQ(run["failed_step"], "notify");
  EXPECT_EQ(Step(run, "train")["state"], "succeeded");
  ASSERT_TRUE(run["inputs"].contains("feedback")) << run["inputs"].dump();
  EXPECT_TRUE(fs::exists(run["inputs"]["feedback"].get<std::string>()));
  EXPECT_EQ(run["params"]["feedback"], "alerts");

  // Run again without --resume: refused, naming how to continue.
  r = Run(config);
  EXPECT_EQ(r.code, 3);
  EXPECT_THAT(r.err, HasSubstr("--resume " + id));
  EXPECT_EQ(Run(config, "--resume 0123456789abcdef").code, 3);

  up = true;
  r = Run(config, "--resume " + id);
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("train already succeeded (kept)"));
  run = Show(id);
  EXPECT_EQ(run["state"], "succeeded");
  EXPECT_EQ(Step(run, "train")["attempts"], 1);  // not trained again
  EXPECT_EQ(Step(run, "register")["attempts"], 1);
  EXPECT_EQ(Step(run, "notify")["attempts"], 2);
  EXPECT_EQ(Versions().size(), 1u);           // not registered twice
  EXPECT_EQ(receiver.received().size(), 2u);  // the refused attempt and the delivered one
}

TEST_F(PipelineTest, TooManyQuarantinedRowsFailTheRunAtValidate) {
  const fs::path fleet = Fleet("fleet", 3);
  // Rows no spec accepts: a time that is not a time.
  std::ifstream in(fleet / "telemetry.csv");
  std::string header;
  std::getline(in, header);
  in.close();
  {
    std::ofstream out(fleet / "telemetry.csv", std::ios::app);
    const size_t columns = static_cast<size_t>(std::count(header.begin(), header.end(), ',')) + 1;
    for (int i = 0; i < 3; ++i) {
      out << "M0001,not-a-time";
      for (size_t c = 2; c < columns; ++c) out << ",1";
      out << "\n";
    }
  }
  const std::string config =
      Pipeline("pipeline.yaml", fleet, "validate: {max_quarantined_share: 0}\n");
  const testing::Result r = Run(config);
  EXPECT_EQ(r.code, 1) << r.out << r.err;
  EXPECT_THAT(r.err, HasSubstr("above validate.max_quarantined_share 0"));
  const json run = Show(RunId(r.out));
  EXPECT_EQ(run["failed_step"], "validate");
  EXPECT_EQ(Step(run, "validate")["metrics"]["rows_quarantined"], 3);
  EXPECT_EQ(Step(run, "train")["state"], "pending");
  EXPECT_EQ(testing::Pdm("models list --json --registry " + registry_).out.find("fleet"),
            std::string::npos);  // nothing registered
}

// The store as the data source: a server stores what a plant sent (readings and events), the
// pipeline exports it in the spec's files, trains on all but the newest 20 days and gates the
// new version against the champion on those 20 days.
TEST_F(PipelineTest, TrainsOnTheStoresTelemetryAndGatesOnTheNewestSlice) {
  const fs::path trained = Fleet("trained", 3);
  testing::Result r =
      testing::Pdm("train --spec " + (trained / "spec.yaml").string() +
                   " --models xgb --cv 2 --threads 2 --out " + (dir_ / "v1").string() +
                   " --register --name fleet --registry " + registry_);
  ASSERT_EQ(r.code, 0) << r.err;
  ASSERT_EQ(testing::Pdm("models promote fleet 1 --alias production --registry " + registry_).code,
            0);
  testing::ServeProcess served = testing::StartServe(
      {"--registry", registry_, "--model", "fleet", "--threads", "2"}, "test-token");
  ASSERT_NE(served.port, 0) << served.first_line;
  r = testing::Pdm("simulate --machines 12 --duration 90d --seed 5 --out " +
                   (dir_ / "live").string() +
                   " --publish http://127.0.0.1:" + std::to_string(served.port));
  ::kill(served.pid, SIGTERM);
  ::waitpid(served.pid, nullptr, 0);
  ::close(served.out);
  ASSERT_EQ(r.code, 0) << r.err;
  // "simulated N readings, F failures (...), M maintenance actions, E error events"
  int readings = 0, failures = 0, maintenance = 0, errors = 0;
  ASSERT_EQ(std::sscanf(r.out.c_str(), "simulated %d readings, %d failures", &readings, &failures),
            2)
      << r.out;
  const size_t at = r.out.find("), ");
  ASSERT_NE(at, std::string::npos);
  ASSERT_EQ(std::sscanf(r.out.c_str() + at, "), %d maintenance actions, %d error events",
                        &maintenance, &errors),
            2)
      << r.out;
  ASSERT_GT(failures, 0);

  const std::string config = Pipeline(
      "store.yaml", trained, "data: {from: store}\ngate: {metric: roc_auc, newest: 20d}\n");
  r = Run(config);
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("with the store's data"));
  const std::string id = RunId(r.out);
  const json run = Show(id);
  EXPECT_EQ(run["inputs"]["data_from"], "store");
  const json& exported = run["inputs"]["export"];
  // Every event the plant sent is a row of its table; every stored reading a record (the few the
  // server refused, out of range or out of order, are not in the store).
  EXPECT_EQ(exported["events"]["failure"], failures);
  EXPECT_EQ(exported["events"]["maintenance"], maintenance);
  EXPECT_EQ(exported["events"]["error"], errors);
  EXPECT_GT(exported["records"].get<int>(), readings * 99 / 100);
  EXPECT_LE(exported["records"].get<int>(), readings);
  EXPECT_EQ(exported["duplicates"], 0);
  for (const json& f : run["inputs"]["files"]) {
    if (f["role"] == "machines") continue;  // the spec's own machines table
    EXPECT_THAT(f["path"].get<std::string>(), HasSubstr(id + "/export/")) << f.dump();
    EXPECT_TRUE(fs::exists(f["path"].get<std::string>())) << f.dump();
  }
  // The newest 20 days: the data ends 2025-03-31T23:00 (90 days of hourly readings).
  const std::string since = Step(run, "validate")["metrics"]["gate_since"];
  EXPECT_EQ(since, "2025-03-11T23:00:00Z");
  EXPECT_EQ(Step(run, "train")["params"]["until"], since);
  EXPECT_EQ(Step(run, "promote")["params"]["since"], since);
  const json metrics = json::parse(
      testing::ReadFile(fs::path(Step(run, "train")["artifacts"]["metrics"].get<std::string>())));
  EXPECT_EQ(metrics["data_until"], since);
  EXPECT_THAT(Step(run, "promote")["metrics"]["detail"].get<std::string>(),
              HasSubstr("roc_auc: candidate v2"));

  // The same store gives the same export and so the same run.
  r = Run(config);
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("pipeline " + id + ": already succeeded"));
}

// The export writes each spec's own shape: long rows for a historian-style spec, one event table
// with its type texts, awkward machine names quoted; the written spec reads it back whole.
TEST_F(PipelineTest, TelemetryExportWritesTheSpecsShapeAndRefusesWhatTheStoreCannotGive) {
  // The store alone (a server's --store), without a registry folder.
  const std::string store_url = store::SqliteUrl((dir_ / "plant.db").string());
  {
    auto store = store::OpenStore(store_url);
    ASSERT_TRUE(store.ok()) << store.status();
    constexpr int64_t kT0 = int64_t{1'735'689'600'000'000};  // 2025-01-01T00:00:00Z
    std::vector<store::TelemetryRow> rows;
    for (const std::string machine : {"pump,7", "A"}) {
      for (int h = 0; h < 3; ++h) {
        rows.push_back({machine, kT0 + h * 3'600'000'000LL, "temp", 40.5 + h});
        rows.push_back({machine, kT0 + h * 3'600'000'000LL, "vib", 1.25});
      }
    }
    rows.push_back({"A", kT0, "temp", 99});          // stored twice: the first is kept
    rows.push_back({"A", kT0 + 500'000, "oil", 3});  // not declared: left out, counted
    ASSERT_TRUE((*store)->AppendTelemetry(rows).ok());
    const std::vector<store::EventRow> events = {
        {"A", kT0 + 7'200'000'000LL, "failure", "seal"},
        {"pump,7", kT0 + 3'600'000'000LL, "maintenance", ""},
        {"A", kT0, "error", "E1"}};
    ASSERT_TRUE((*store)->AppendEvents(events).ok());
  }
  std::ofstream(dir_ / "long.yaml")
      << "version: 1\nname: historian\ndata: {file: hist.csv, long: {sensor: tag, value: value}}\n"
         "entity: machine\ntime: {column: time, type: timestamp}\nsensors: [temp, vib]\n"
         "labels: {source: events, horizon: 2h}\n"
         "events:\n  table: {file: cmms.csv, entity: asset, time: ts, type: kind, types: "
         "{failure: [BREAKDOWN], maintenance: [PM, CM]}, kind: mode}\n";
  const fs::path out = dir_ / "export";
  testing::Result r = testing::Pdm("telemetry export --spec " + (dir_ / "long.yaml").string() +
                                   " --out " + out.string() + " --json --store " + store_url);
  ASSERT_EQ(r.code, 0) << r.err;
  const json summary = json::parse(r.out);
  EXPECT_EQ(summary["records"], 12);  // long: one row per value
  EXPECT_EQ(summary["duplicates"], 1);
  EXPECT_EQ(summary["sensors_not_in_spec"], 1);
  EXPECT_EQ(summary["events_not_in_spec"], 1);  // the spec has no error type
  const std::string hist = testing::ReadFile(out / "telemetry.csv");
  EXPECT_THAT(hist, HasSubstr("machine,time,tag,value\nA,2025-01-01T00:00:00Z,temp,40.5\n"
                              "A,2025-01-01T00:00:00Z,vib,1.25\n"));
  EXPECT_THAT(hist, HasSubstr("\"pump,7\",2025-01-01T02:00:00Z,vib,1.25\n"));
  EXPECT_EQ(testing::ReadFile(out / "events.csv"),
            "asset,ts,mode,kind\nA,2025-01-01T02:00:00Z,seal,BREAKDOWN\n"
            "\"pump,7\",2025-01-01T01:00:00Z,,PM\n");
  // Read back whole. The maintenance event came without a kind: the spec's missing_value policy
  // (reject by default) quarantines it with its reason, as it would in a CMMS export.
  r = testing::Pdm("validate --spec " + (out / "spec.yaml").string() + " --json");
  EXPECT_EQ(r.code, 1) << r.out << r.err;
  EXPECT_EQ(testing::JsonInt(r.out, "rows_read"), 14) << r.out;
  EXPECT_EQ(testing::JsonInt(r.out, "rows_quarantined"), 1) << r.out;
  EXPECT_EQ(testing::JsonInt(r.out, "missing_value"), 1) << r.out;
  // --since / --until cut by data time.
  r = testing::Pdm("telemetry export --spec " + (dir_ / "long.yaml").string() + " --out " +
                   (dir_ / "late").string() +
                   " --json --since 2025-01-01T01:00:00Z --until 2025-01-01T02:00:00Z --store " +
                   store_url);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(json::parse(r.out)["records"], 4);
  EXPECT_EQ(json::parse(r.out)["events"]["maintenance"], 1);

  r = testing::Pdm("telemetry export --spec " + (dir_ / "long.yaml").string() + " --out " +
                   out.string() + " --since yesterday --store " + store_url);
  EXPECT_EQ(r.code, 3);
  EXPECT_THAT(r.err, HasSubstr("--since 'yesterday': expected an ISO 8601 timestamp"));
  r = testing::Pdm("telemetry export --spec " +
                   (testing::SourceDir() / "specs" / "ai4i2020.yaml").string() + " --out " +
                   out.string() + " --store " + store_url);
  EXPECT_EQ(r.code, 3);
  EXPECT_THAT(r.err, HasSubstr("which the store does not keep"));
  // A pipeline that reads the store refuses the same way, and leaves no partial export behind.
  std::ofstream(dir_ / "ai4i-store.yaml")
      << "name: ai4i-nightly\nspec: " << (testing::SourceDir() / "specs" / "ai4i2020.yaml").string()
      << "\ndata: {from: store}\nruns_dir: " << (dir_ / "runs").string() << "\n";
  r = testing::Pdm("pipeline run --config " + (dir_ / "ai4i-store.yaml").string() + " --registry " +
                   registry_ + " --store " + store_url);
  EXPECT_EQ(r.code, 3);
  EXPECT_THAT(r.err, HasSubstr("which the store does not keep"));
  for (const auto& entry : fs::directory_iterator(dir_ / "runs")) {
    ADD_FAILURE() << "left behind: " << entry.path();
  }
}

TEST_F(PipelineTest, BadConfigurationsAreRefusedByKey) {
  const fs::path fleet = dir_ / "nowhere";
  auto check = [&](const std::string& text) {
    std::ofstream(dir_ / "bad.yaml") << text;
    return testing::Pdm("pipeline check --config " + (dir_ / "bad.yaml").string());
  };
  testing::Result r = check("name: x\nspec: s.yaml\ntrain: {model: xgb}\n");
  EXPECT_EQ(r.code, 3);
  EXPECT_THAT(r.err, HasSubstr("train.model: unknown key"));
  r = check("spec: s.yaml\n");
  EXPECT_THAT(r.err, HasSubstr("name: required"));
  r = check("name: x\nspec: s.yaml\npromote: sometimes\n");
  EXPECT_THAT(r.err, HasSubstr("expected auto or manual"));
  r = check("name: x\nspec: s.yaml\nvalidate: {max_quarantined_share: 2}\n");
  EXPECT_THAT(r.err, HasSubstr("validate.max_quarantined_share: expected 0 to 1"));
  r = check("name: x\nspec: s.yaml\nnotify: {webhooks: [ftp://x]}\n");
  EXPECT_THAT(r.err, HasSubstr("is not http(s)"));
  r = check("name: x\nspec: s.yaml\ndata: {from: historian}\n");
  EXPECT_THAT(r.err, HasSubstr("data.from: expected store"));
  r = check("name: x\nspec: s.yaml\ngate: {metric: roc_auc, newest: 1.5}\n");
  EXPECT_THAT(r.err, HasSubstr("gate.newest"));
  r = check("name: x\nspec: s.yaml\ngate: {metric: roc_auc, newest: soon}\n");
  EXPECT_THAT(r.err, HasSubstr("expected a span of data time"));
  r = check("name: x\nspec: s.yaml\ngate: {newest: 7d}\n");
  EXPECT_THAT(r.err, HasSubstr("needs gate.metric"));
  r = check("name: x\nspec: s.yaml\ngate: {metric: roc_auc, newest: 7d, test: true}\n");
  EXPECT_THAT(r.err, HasSubstr("exclude each other"));
  r = check("name: x\nspec: s.yaml\ngate: {metric: roc_auc, newest: 0.25}\ndata: {from: store}\n");
  EXPECT_EQ(r.code, 0) << r.err;
  r = check("name: x\nspec: s.yaml\nfeedback: alerts\n");
  EXPECT_EQ(r.code, 0) << r.err;
  // Run-to-failure data cannot be cut by time: refused before anything runs.
  std::ofstream(dir_ / "rtf.yaml")
      << "name: rtf\nspec: " << (testing::SourceDir() / "specs" / "cmapss-fd001.yaml").string()
      << "\ngate: {metric: rmse, newest: 0.2}\n";
  r = Run((dir_ / "rtf.yaml").string());
  EXPECT_EQ(r.code, 3);
  EXPECT_THAT(r.err, HasSubstr("cannot be cut by time"));
  // A missing spec is refused by `run` with its path.
  r = Run(Pipeline("missing.yaml", fleet, ""));
  EXPECT_EQ(r.code, 3);
  EXPECT_THAT(r.err, HasSubstr("nowhere"));
}

}  // namespace
}  // namespace pdm
