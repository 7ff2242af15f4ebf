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

  auto first = store_->AppendAlert({0, "M-1", 20, "critical", "failure_risk", "p = 0.75"});
  auto second = store_->AppendAlert({0, "M-2", 30, "warning", "drift", "s11 drifted"});
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_GT(*second, *first);
  auto alerts = store_->RecentAlerts("", 10);
  ASSERT_TRUE(alerts.ok());
  ASSERT_EQ(alerts->size(), 2u);
  EXPECT_EQ((*alerts)[0].machine, "M-2");
  EXPECT_EQ((*alerts)[1].message, "p = 0.75");
  EXPECT_EQ(store_->RecentAlerts("M-1", 10)->size(), 1u);
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
