// One suite, both backends: every test runs against SQLite (a temporary file) and against the
// PostgreSQL 15 server scripts/test.sh starts (a fresh schema per test).
#include "store/store.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <thread>

#include "store/sql.h"
#include "tests/testing/postgres.h"
#include "tests/testing/test_paths.h"

namespace pdm::store {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

class StoreTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    const std::string test_name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::string tag;
    for (char c : test_name) tag.push_back(std::isalnum(static_cast<unsigned char>(c)) ? c : '_');
    if (GetParam() == "sqlite") {
      dir_ = pdm::testing::TempDir("store_" + tag);
      url_ = SqliteUrl((dir_ / "pdm.db").string());
    } else {
      const auto server = pdm::testing::PostgresServerUrl();
      if (!server) {
        if (pdm::testing::PostgresRequired()) FAIL() << "PDM_TEST_POSTGRES_URL is not set";
        GTEST_SKIP() << "no PostgreSQL server (PDM_TEST_POSTGRES_URL); scripts/test.sh starts one";
      }
      url_ = pdm::testing::FreshPostgresSchema(*server, "store");
    }
    auto store = OpenStore(url_);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
  }

  absl::StatusOr<std::unique_ptr<SqlConnection>> Raw() {
    if (GetParam() == "sqlite") return OpenSqlite((dir_ / "pdm.db").string());
    return OpenPostgres(url_);
  }

  ModelVersion Version(const std::string& name, const std::string& hash) {
    ModelVersion v;
    v.name = name;
    v.artifact_hash = hash;
    v.artifact_path = "artifacts/" + hash;
    v.feature_spec_hash = "f" + hash;
    v.spec_yaml = "name: x\n";
    v.params_json = "{}";
    v.metrics_json = R"({"ensemble":{"roc_auc":0.9}})";
    v.actor = "tester";
    v.seed = 7;
    return v;
  }

  std::filesystem::path dir_;
  std::string url_;
  std::unique_ptr<Store> store_;
};

TEST_P(StoreTest, CreatesTheCurrentSchemaAndReopens) {
  EXPECT_EQ(store_->backend(), GetParam());
  EXPECT_EQ(*store_->SchemaVersion(), kSchemaVersion);
  store_.reset();
  auto again = OpenStore(url_);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(*(*again)->SchemaVersion(), kSchemaVersion);
}

TEST_P(StoreTest, RefusesASchemaNewerThanTheBinary) {
  auto raw = Raw();
  ASSERT_TRUE(raw.ok()) << raw.status();
  const SqlValue params[] = {int64_t{kSchemaVersion + 1}};
  ASSERT_TRUE((*raw)
                  ->Query("INSERT INTO schema_migrations VALUES ($1, 0, 'from the future')", params)
                  .ok());
  auto reopened = OpenStore(url_);
  ASSERT_FALSE(reopened.ok());
  EXPECT_EQ(reopened.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(reopened.status().message()),
              HasSubstr("schema is version " + std::to_string(kSchemaVersion + 1) +
                        ", newer than this pdm knows"));
}

TEST_P(StoreTest, VersionsAreNumberedPerNameAndNeverReused) {
  EXPECT_EQ(*store_->RegisterModelVersion(Version("pump", "a"), "first"), 1);
  EXPECT_EQ(*store_->RegisterModelVersion(Version("pump", "b"), ""), 2);
  EXPECT_EQ(*store_->RegisterModelVersion(Version("fan", "c"), ""), 1);
  ASSERT_TRUE(store_->DeleteModelVersion("pump", 2, "tester", "bad model").ok());
  EXPECT_EQ(*store_->RegisterModelVersion(Version("pump", "d"), ""), 3);

  auto got = store_->GetModelVersion("pump", 3);
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ((*got)->artifact_hash, "d");
  EXPECT_EQ((*got)->seed, 7);
  EXPECT_EQ((*got)->metrics_json, R"({"ensemble":{"roc_auc":0.9}})");
  EXPECT_GT((*got)->created_us, 1'600'000'000'000'000);
  EXPECT_FALSE(store_->GetModelVersion("pump", 2)->has_value());

  auto all = store_->ListModelVersions("");
  ASSERT_TRUE(all.ok());
  std::vector<std::string> keys;
  for (const auto& v : *all) keys.push_back(v.name + "/" + std::to_string(v.version));
  EXPECT_THAT(keys, ElementsAre("fan/1", "pump/1", "pump/3"));
  EXPECT_EQ(store_->ListModelVersions("pump")->size(), 2u);
}

TEST_P(StoreTest, AliasMovesAreCheckedAndAudited) {
  ASSERT_TRUE(store_->RegisterModelVersion(Version("pump", "a"), "").ok());
  ASSERT_TRUE(store_->RegisterModelVersion(Version("pump", "b"), "").ok());
  AliasMove move{"pump", "production", 1, "promote", std::nullopt, "go live", "alice"};
  ASSERT_TRUE(store_->MoveAlias(move).ok());
  move.to_version = 2;
  move.expected_from = std::optional<int64_t>(1);
  ASSERT_TRUE(store_->MoveAlias(move).ok());
  EXPECT_EQ(store_->Aliases("pump")->at("production"), 2);

  // A stale expectation changes nothing.
  move.to_version = 1;
  const absl::Status stale = store_->MoveAlias(move);
  EXPECT_EQ(stale.code(), absl::StatusCode::kFailedPrecondition) << stale;
  EXPECT_EQ(store_->Aliases("pump")->at("production"), 2);
  // A version that does not exist.
  move.expected_from.reset();
  move.to_version = 9;
  EXPECT_EQ(store_->MoveAlias(move).code(), absl::StatusCode::kNotFound);
  // Moving to the holder is a no-op without an audit event.
  move.to_version = 2;
  ASSERT_TRUE(store_->MoveAlias(move).ok());

  // Deleting a holder is refused, naming the alias.
  const absl::Status refused = store_->DeleteModelVersion("pump", 2, "bob", "");
  EXPECT_EQ(refused.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(refused.message()), HasSubstr("holds alias production"));
  EXPECT_EQ(store_->DeleteModelVersion("pump", 5, "bob", "").code(), absl::StatusCode::kNotFound);

  auto log = store_->AuditLog("pump");
  ASSERT_TRUE(log.ok());
  std::vector<std::string> lines;
  for (const AuditEvent& e : *log) {
    lines.push_back(e.action + " " + e.alias + " " +
                    (e.from_version ? std::to_string(*e.from_version) : "-") + "->" +
                    (e.to_version ? std::to_string(*e.to_version) : "-") + " " + e.actor + " " +
                    e.reason);
  }
  EXPECT_THAT(lines, ElementsAre("register  -->1 tester ", "register  -->2 tester ",
                                 "promote production -->1 alice go live",
                                 "promote production 1->2 alice go live"));
  for (size_t i = 1; i < log->size(); ++i) {
    EXPECT_GT((*log)[i].id, (*log)[i - 1].id);
    EXPECT_GE((*log)[i].time_us, (*log)[i - 1].time_us);
  }
}

TEST_P(StoreTest, TheAuditLogAndVersionsCannotBeRewritten) {
  ASSERT_TRUE(store_->RegisterModelVersion(Version("pump", "a"), "").ok());
  auto raw = Raw();
  ASSERT_TRUE(raw.ok()) << raw.status();
  EXPECT_FALSE((*raw)->Query("UPDATE audit_log SET actor = 'mallory'", {}).ok());
  EXPECT_FALSE((*raw)->Query("DELETE FROM audit_log", {}).ok());
  EXPECT_FALSE((*raw)->Query("UPDATE model_versions SET artifact_hash = 'x'", {}).ok());
  EXPECT_EQ(store_->AuditLog("pump")->at(0).actor, "tester");
}

TEST_P(StoreTest, TelemetryRoundTripsAwkwardTextAndExactNumbers) {
  const std::vector<std::string> machines = {"M-1",       "quote\"d",  "back\\slash",
                                             "tab\there", "{br,ace}",  "NULL",
                                             "Pümpe 7",   "new\nline", ""};
  std::vector<TelemetryRow> rows;
  for (size_t m = 0; m < machines.size(); ++m) {
    for (int t = 0; t < 50; ++t) {
      rows.push_back({machines[m], int64_t{1'700'000'000'000'000} + t * 1'000'000, "vibration",
                      0.1 * t + 1e-17 * static_cast<double>(m)});
      rows.push_back({machines[m], int64_t{1'700'000'000'000'000} + t * 1'000'000, "temp,C",
                      -273.15 + 1e300 * (t == 49 ? 1 : 0)});
    }
  }
  const absl::Status appended = store_->AppendTelemetry(rows);
  ASSERT_TRUE(appended.ok()) << appended;
  EXPECT_EQ(*store_->CountTelemetry(), static_cast<int64_t>(rows.size()));
  for (size_t m = 0; m < machines.size(); ++m) {
    auto recent = store_->RecentTelemetry(machines[m], 3);
    ASSERT_TRUE(recent.ok()) << recent.status();
    ASSERT_EQ(recent->size(), 3u) << machines[m];
    EXPECT_EQ((*recent)[0].machine, machines[m]);
    EXPECT_EQ((*recent)[0].time_us, int64_t{1'700'000'000'000'000} + 49 * 1'000'000);
    EXPECT_EQ((*recent)[0].sensor, "temp,C");
    EXPECT_EQ((*recent)[0].value, -273.15 + 1e300);
    EXPECT_EQ((*recent)[1].sensor, "vibration");
    EXPECT_EQ((*recent)[1].value, 0.1 * 49 + 1e-17 * static_cast<double>(m));
    EXPECT_EQ((*recent)[2].time_us, int64_t{1'700'000'000'000'000} + 48 * 1'000'000);
  }
  EXPECT_TRUE(store_->RecentTelemetry("nobody", 10)->empty());
  EXPECT_TRUE(store_->AppendTelemetry({}).ok());
}

TEST_P(StoreTest, ExportsReadTelemetryAndEventsByTimeRange) {
  constexpr int64_t kT0 = int64_t{1'700'000'000'000'000};
  std::vector<TelemetryRow> rows;
  for (const std::string machine : {"m2", "m1", "m3"}) {
    for (int t = 9; t >= 0; --t) {  // appended newest first: the reads order them
      rows.push_back({machine, kT0 + t * 1'000'000, "b", static_cast<double>(t)});
      rows.push_back({machine, kT0 + t * 1'000'000, "a", -static_cast<double>(t)});
    }
  }
  rows.push_back({"m4", kT0 + 20'000'000, "a", 1});  // outside the range below
  ASSERT_TRUE(store_->AppendTelemetry(rows).ok());
  auto machines = store_->TelemetryMachines(kT0 + 2'000'000, kT0 + 8'000'000);
  ASSERT_TRUE(machines.ok()) << machines.status();
  EXPECT_EQ(*machines, (std::vector<std::string>{"m1", "m2", "m3"}));
  auto m1 = store_->MachineTelemetry("m1", kT0 + 2'000'000, kT0 + 8'000'000);
  ASSERT_TRUE(m1.ok()) << m1.status();
  ASSERT_EQ(m1->size(), 12u);  // times 2..7, two sensors each; the end is excluded
  EXPECT_EQ((*m1)[0].time_us, kT0 + 2'000'000);
  EXPECT_EQ((*m1)[0].sensor, "a");
  EXPECT_EQ((*m1)[0].value, -2);
  EXPECT_EQ((*m1)[1].sensor, "b");
  EXPECT_EQ((*m1)[11].time_us, kT0 + 7'000'000);

  const std::vector<EventRow> events = {{"m2", kT0 + 5'000'000, "failure", "bearing"},
                                        {"m1", kT0 + 3'000'000, "maintenance", ""},
                                        {"m1", kT0 + 1'000'000, "error", "E1"},
                                        {"m1", kT0 + 3'000'000, "failure", "seal"}};
  ASSERT_TRUE(store_->AppendEvents(events).ok());
  ASSERT_TRUE(store_->AppendEvents({}).ok());
  auto listed = store_->ListEvents(kT0 + 2'000'000, kT0 + 10'000'000);
  ASSERT_TRUE(listed.ok()) << listed.status();
  ASSERT_EQ(listed->size(), 3u);
  EXPECT_EQ((*listed)[0].machine, "m1");
  EXPECT_EQ((*listed)[0].type, "failure");
  EXPECT_EQ((*listed)[0].kind, "seal");
  EXPECT_EQ((*listed)[1].type, "maintenance");
  EXPECT_EQ((*listed)[1].kind, "");
  EXPECT_EQ((*listed)[2].machine, "m2");
  EXPECT_EQ((*listed)[2].kind, "bearing");
}

TEST_P(StoreTest, MachineStatesKeepTheNewestAndTheirBytes) {
  std::string bytes;
  for (int i = 0; i < 512; ++i) bytes.push_back(static_cast<char>(i));  // NULs and high bytes
  EXPECT_FALSE(store_->GetMachineState("m-1")->has_value());
  MachineStateRow row{"m-1", "hash-a", 100.5, bytes, "replica-a", 0};
  ASSERT_TRUE(store_->PutMachineStates(std::span(&row, 1)).ok());
  auto got = store_->GetMachineState("m-1");
  ASSERT_TRUE(got.ok() && got->has_value()) << got.status();
  EXPECT_EQ((*got)->state, bytes);
  EXPECT_EQ((*got)->last_time, 100.5);
  EXPECT_EQ((*got)->owner, "replica-a");
  EXPECT_GT((*got)->updated_us, 0);
  // An older state does not overwrite a newer one; a newer one does.
  MachineStateRow older{"m-1", "hash-a", 50, "old", "replica-b", 0};
  ASSERT_TRUE(store_->PutMachineStates(std::span(&older, 1)).ok());
  EXPECT_EQ((*store_->GetMachineState("m-1"))->owner, "replica-a");
  MachineStateRow newer{"m-1", "hash-b", 200, "new", "replica-b", 0};
  ASSERT_TRUE(store_->PutMachineStates(std::span(&newer, 1)).ok());
  EXPECT_EQ((*store_->GetMachineState("m-1"))->state, "new");
  EXPECT_EQ((*store_->GetMachineState("m-1"))->pipeline_hash, "hash-b");
}

TEST_P(StoreTest, PipelineRunsAreReplacedWholeAndListedNewestFirst) {
  EXPECT_FALSE(store_->GetPipelineRun("r1")->has_value());
  ASSERT_TRUE(store_->PutPipelineRun({"r1", "nightly", "running", R"({"steps":[]})", 0, 0}).ok());
  ASSERT_TRUE(store_->PutPipelineRun({"r2", "weekly", "failed", "{}", 0, 0}).ok());
  ASSERT_TRUE(store_->PutPipelineRun({"r3", "nightly", "running", "{}", 0, 0}).ok());
  auto first = store_->GetPipelineRun("r1");
  ASSERT_TRUE(first.ok() && first->has_value());
  const int64_t created = (*first)->created_us;
  ASSERT_TRUE(store_->PutPipelineRun({"r1", "nightly", "succeeded", "{\"steps\":[1]}", 0, 0}).ok());
  auto replaced = store_->GetPipelineRun("r1");
  ASSERT_TRUE(replaced.ok() && replaced->has_value());
  EXPECT_EQ((*replaced)->state, "succeeded");
  EXPECT_EQ((*replaced)->record, "{\"steps\":[1]}");
  EXPECT_EQ((*replaced)->created_us, created);  // the creation time is kept
  EXPECT_GE((*replaced)->updated_us, created);
  auto nightly = store_->ListPipelineRuns("nightly", 10);
  ASSERT_TRUE(nightly.ok());
  ASSERT_EQ(nightly->size(), 2u);
  EXPECT_EQ((*nightly)[0].id, "r3");  // newest first
  EXPECT_EQ((*nightly)[1].id, "r1");
  EXPECT_EQ(store_->ListPipelineRuns("", 10)->size(), 3u);
  EXPECT_EQ(store_->ListPipelineRuns("", 1)->size(), 1u);
}

TEST_P(StoreTest, PredictionsAndAlerts) {
  std::vector<PredictionRow> predictions = {{"M-1", 10, "pump", 2, 0.25, false},
                                            {"M-1", 20, "pump", 2, 0.75, true},
                                            {"M-2", 15, "pump", 2, 0.5, false}};
  ASSERT_TRUE(store_->AppendPredictions(predictions).ok());
  auto recent = store_->RecentPredictions("M-1", 10);
  ASSERT_TRUE(recent.ok()) << recent.status();
  ASSERT_EQ(recent->size(), 2u);
  EXPECT_EQ((*recent)[0].time_us, 20);
  EXPECT_TRUE((*recent)[0].alarm);
  EXPECT_EQ((*recent)[0].score, 0.75);
  EXPECT_EQ((*recent)[1].model, "pump");
  EXPECT_FALSE((*recent)[1].alarm);
}

AlertRow RiskAlert(const std::string& machine, int64_t time_us, const std::string& severity) {
  AlertRow a;
  a.machine = machine;
  a.time_us = time_us;
  a.severity = severity;
  a.kind = "failure_risk";
  a.failure_mode = "failure";
  a.message = "risk above the threshold";
  a.score = 0.75;
  a.model = "pump";
  a.version = 2;
  return a;
}

TEST_P(StoreTest, OneActiveAlertPerMachineKindAndModeThroughItsLifecycle) {
  const std::vector<std::string> targets = {"http://127.0.0.1:9/hook"};
  auto first = store_->OpenAlert(RiskAlert("M-1", 20, "warning"), targets);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_TRUE(first->opened);
  EXPECT_EQ(first->alert.state, "open");
  EXPECT_EQ(first->alert.score, 0.75);
  // The same key while the first is active: deduplicated, the active one comes back.
  auto again = store_->OpenAlert(RiskAlert("M-1", 30, "critical"), targets);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_FALSE(again->opened);
  EXPECT_EQ(again->alert.id, first->alert.id);
  // Another machine, or another kind, is another alert.
  AlertRow drift = RiskAlert("", 30, "warning");
  drift.kind = "drift";
  drift.score.reset();
  auto other = store_->OpenAlert(RiskAlert("M-2", 30, "warning"), {});
  auto fleet = store_->OpenAlert(drift, {});
  ASSERT_TRUE(other.ok() && fleet.ok());
  EXPECT_TRUE(other->opened && fleet->opened);
  EXPECT_FALSE(fleet->alert.score.has_value());

  const int64_t id = first->alert.id;
  auto escalated = store_->TransitionAlert(id, {"escalated", "pdm", "", "", "critical"}, targets);
  ASSERT_TRUE(escalated.ok()) << escalated.status();
  EXPECT_EQ(escalated->severity, "critical");
  EXPECT_EQ(
      store_->TransitionAlert(id, {"escalated", "pdm", "", "", "warning"}, {}).status().code(),
      absl::StatusCode::kFailedPrecondition);
  auto acked = store_->TransitionAlert(id, {"acknowledged", "ana", "", "on my way", ""}, targets);
  ASSERT_TRUE(acked.ok()) << acked.status();
  EXPECT_EQ(acked->state, "acknowledged");
  EXPECT_EQ(acked->acknowledged_by, "ana");
  EXPECT_TRUE(acked->acknowledged_us.has_value());
  auto twice = store_->TransitionAlert(id, {"acknowledged", "bo", "", "", ""}, {});
  EXPECT_EQ(twice.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(twice.status().message()), HasSubstr("already acknowledged by ana"));
  EXPECT_EQ(
      store_->TransitionAlert(id, {"resolved", "ana", "fixed_it", "", ""}, {}).status().code(),
      absl::StatusCode::kInvalidArgument);
  auto resolved = store_->TransitionAlert(
      id, {"resolved", "ana", "no_fault_found", "bearing fine", ""}, targets);
  ASSERT_TRUE(resolved.ok()) << resolved.status();
  EXPECT_EQ(resolved->state, "resolved");
  EXPECT_EQ(resolved->resolution, "no_fault_found");
  EXPECT_EQ(resolved->note, "bearing fine");
  EXPECT_EQ(store_->TransitionAlert(id, {"acknowledged", "bo", "", "", ""}, {}).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(store_->TransitionAlert(999999, {"acknowledged", "bo", "", "", ""}, {}).status().code(),
            absl::StatusCode::kNotFound);

  auto history = store_->AlertHistory(id);
  ASSERT_TRUE(history.ok()) << history.status();
  ASSERT_EQ(history->size(), 4u);
  EXPECT_EQ((*history)[0].event, "opened");
  EXPECT_EQ((*history)[1].event, "escalated");
  EXPECT_EQ((*history)[2].event, "acknowledged");
  EXPECT_EQ((*history)[2].note, "on my way");
  EXPECT_EQ((*history)[3].event, "resolved");
  EXPECT_EQ((*history)[3].resolution, "no_fault_found");
  EXPECT_EQ((*history)[3].state, "resolved");

  // Resolved: the key is free again.
  auto reopened = store_->OpenAlert(RiskAlert("M-1", 40, "warning"), {});
  ASSERT_TRUE(reopened.ok()) << reopened.status();
  EXPECT_TRUE(reopened->opened);
  EXPECT_GT(reopened->alert.id, id);

  AlertFilter active;
  active.state = "active";
  auto listed = store_->ListAlerts(active);
  ASSERT_TRUE(listed.ok()) << listed.status();
  ASSERT_EQ(listed->size(), 3u);
  EXPECT_EQ((*listed)[0].id, reopened->alert.id);  // newest first
  AlertFilter of_m1;
  of_m1.machine = "M-1";
  EXPECT_EQ(store_->ListAlerts(of_m1)->size(), 2u);
  AlertFilter page;
  page.before_id = reopened->alert.id;
  page.limit = 1;
  auto paged = store_->ListAlerts(page);
  ASSERT_EQ(paged->size(), 1u);
  EXPECT_LT((*paged)[0].id, reopened->alert.id);
  auto counts = store_->CountActiveAlerts();
  ASSERT_TRUE(counts.ok());
  EXPECT_EQ((*counts)["warning"], 3);
  EXPECT_EQ(counts->count("critical"), 0u);
}

TEST_P(StoreTest, NotificationOutboxLeasesRetriesAndDeadLetters) {
  const std::vector<std::string> targets = {"http://a/hook", "http://b/hook"};
  auto opened = store_->OpenAlert(RiskAlert("M-1", 20, "warning"), targets);
  ASSERT_TRUE(opened.ok()) << opened.status();
  auto claimed = store_->ClaimNotifications(1'000, 60'000'000, 10);
  ASSERT_TRUE(claimed.ok()) << claimed.status();
  ASSERT_EQ(claimed->size(), 0u) << "rows are due from their creation time (wall clock)";
  const int64_t later = int64_t{1} << 60;
  claimed = store_->ClaimNotifications(later, 60'000'000, 10);
  ASSERT_TRUE(claimed.ok()) << claimed.status();
  ASSERT_EQ(claimed->size(), 2u);
  EXPECT_EQ((*claimed)[0].event, "opened");
  EXPECT_EQ((*claimed)[0].idempotency_key, (*claimed)[1].idempotency_key);
  EXPECT_NE((*claimed)[0].target, (*claimed)[1].target);
  // Leased: a second claimer sees nothing until the lease ends.
  EXPECT_TRUE(store_->ClaimNotifications(later + 1, 60'000'000, 10)->empty());
  EXPECT_EQ(store_->ClaimNotifications(later + 60'000'001, 60'000'000, 10)->size(), 2u);

  const NotificationRow a = (*claimed)[0], b = (*claimed)[1];
  ASSERT_TRUE(store_->FinishNotification(a.id, true, "", std::nullopt).ok());
  EXPECT_EQ(store_->FinishNotification(a.id, false, "late", std::nullopt).code(),
            absl::StatusCode::kNotFound)
      << "a delivered notification is finished";
  ASSERT_TRUE(store_->FinishNotification(b.id, false, "HTTP 500", later + 5).ok());
  auto retried = store_->ClaimNotifications(later + 200'000'000, 1, 10);
  ASSERT_EQ(retried->size(), 1u);
  EXPECT_EQ((*retried)[0].attempts, 1);
  EXPECT_EQ((*retried)[0].last_error, "HTTP 500");
  ASSERT_TRUE(store_->FinishNotification(b.id, false, "HTTP 503", std::nullopt).ok());
  auto dead = store_->ListNotifications("dead", 10);
  ASSERT_TRUE(dead.ok());
  ASSERT_EQ(dead->size(), 1u);
  EXPECT_EQ((*dead)[0].attempts, 2);
  EXPECT_EQ((*dead)[0].last_error, "HTTP 503");
  auto counts = store_->CountNotifications();
  EXPECT_EQ((*counts)["dead"], 1);
  EXPECT_EQ((*counts)["delivered"], 1);
  ASSERT_TRUE(store_->RetryNotification(b.id).ok());
  EXPECT_EQ(store_->RetryNotification(b.id).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store_->ListNotifications("pending", 10)->size(), 1u);
}

TEST_P(StoreTest, ConcurrentRegistrationsGetDistinctVersions) {
  constexpr int kPerThread = 10;
  std::vector<int64_t> a, b;
  auto work = [&](std::vector<int64_t>* out) {
    auto store = OpenStore(url_);
    ASSERT_TRUE(store.ok()) << store.status();
    for (int i = 0; i < kPerThread; ++i) {
      auto v = (*store)->RegisterModelVersion(Version("pump", "h"), "");
      ASSERT_TRUE(v.ok()) << v.status();
      out->push_back(*v);
    }
  };
  std::thread first(work, &a), second(work, &b);
  first.join();
  second.join();
  std::vector<int64_t> all = a;
  all.insert(all.end(), b.begin(), b.end());
  std::sort(all.begin(), all.end());
  ASSERT_EQ(all.size(), 2u * kPerThread);
  for (size_t i = 0; i < all.size(); ++i) EXPECT_EQ(all[i], static_cast<int64_t>(i) + 1);
}

INSTANTIATE_TEST_SUITE_P(Backends, StoreTest, ::testing::Values("sqlite", "postgresql"),
                         [](const auto& info) { return info.param; });

TEST(OpenStoreTest, NamesBadUrls) {
  auto unknown = OpenStore("mysql://localhost/pdm");
  EXPECT_EQ(unknown.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(unknown.status().message()), HasSubstr("unknown scheme"));
  EXPECT_EQ(OpenStore("sqlite://").status().code(), absl::StatusCode::kInvalidArgument);
  auto unreachable = OpenStore("postgresql://pdm@127.0.0.1:1/pdm?connect_timeout=2");
  EXPECT_EQ(unreachable.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(unreachable.status().message()),
              HasSubstr("cannot connect to PostgreSQL"));
  const auto dir = pdm::testing::TempDir("store_not_a_db");
  pdm::testing::WriteFile(dir / "text.db", "this is not a database, just some text\n");
  auto not_a_db = OpenStore(SqliteUrl((dir / "text.db").string()));
  EXPECT_FALSE(not_a_db.ok());
  EXPECT_EQ(pdm::testing::ReadFile(dir / "text.db"), "this is not a database, just some text\n");
  auto no_dir = OpenStore(SqliteUrl("/nonexistent/dir/pdm.db"));
  EXPECT_EQ(no_dir.status().code(), absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace pdm::store
