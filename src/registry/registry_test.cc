// The registry over both store backends, with model directories written by the test (the CLI
// tests register models that pdm train wrote).
#include "registry/registry.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "core/file.h"
#include "tests/testing/postgres.h"
#include "tests/testing/test_paths.h"

namespace pdm::registry {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;

fs::path FakeModel(const fs::path& dir, const std::string& content) {
  fs::create_directories(dir / "extra");
  pdm::testing::WriteFile(dir / "model.json",
                          R"({"format":"pdm-model","feature_spec_hash":"abc","seed":11,)"
                          R"("task":"classify","members":[{"name":"xgb"}]})");
  pdm::testing::WriteFile(dir / "xgb.json", content);
  pdm::testing::WriteFile(dir / "spec.yaml", "name: fake\n");
  pdm::testing::WriteFile(dir / "extra" / "notes.txt", "nested file\n");
  pdm::testing::WriteFile(
      dir / "lineage.json",
      R"({"dataset":{"fingerprint":"d1"},"metrics":{"ensemble":{"roc_auc":0.91}},)"
      R"("pdm_version":"9.9.9","git_commit":"cafe"})");
  return dir;
}

class RegistryTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    std::string tag;
    for (char c : std::string(::testing::UnitTest::GetInstance()->current_test_info()->name())) {
      tag.push_back(std::isalnum(static_cast<unsigned char>(c)) != 0 ? c : '_');
    }
    dir_ = pdm::testing::TempDir("registry_" + tag);
    Location location{dir_ / "registry", ""};
    if (GetParam() == "sqlite") {
      location.store_url = store::SqliteUrl((dir_ / "registry.db").string());
    } else {
      const auto server = pdm::testing::PostgresServerUrl();
      if (!server) {
        if (pdm::testing::PostgresRequired()) FAIL() << "PDM_TEST_POSTGRES_URL is not set";
        GTEST_SKIP() << "no PostgreSQL server (PDM_TEST_POSTGRES_URL)";
      }
      location.store_url = pdm::testing::FreshPostgresSchema(*server, "registry");
    }
    auto registry = Registry::Open(location);
    ASSERT_TRUE(registry.ok()) << registry.status();
    registry_ = std::move(*registry);
  }

  store::ModelVersion MustRegister(const std::string& name, const std::string& content) {
    const fs::path model = FakeModel(dir_ / ("model_" + content), content);
    auto v = registry_->Register({model, name, "desc", "why", "alice"});
    EXPECT_TRUE(v.ok()) << v.status();
    return v.ok() ? *v : store::ModelVersion{};
  }

  fs::path dir_;
  std::unique_ptr<Registry> registry_;
};

TEST(TreeHashTest, DependsOnPathsAndContentOnly) {
  const fs::path dir = pdm::testing::TempDir("tree_hash");
  FakeModel(dir / "a", "one");
  FakeModel(dir / "b", "one");
  FakeModel(dir / "c", "two");
  EXPECT_EQ(*TreeHash(dir / "a"), *TreeHash(dir / "b"));
  EXPECT_NE(*TreeHash(dir / "a"), *TreeHash(dir / "c"));
  fs::rename(dir / "b" / "extra" / "notes.txt", dir / "b" / "extra" / "notes2.txt");
  EXPECT_NE(*TreeHash(dir / "a"), *TreeHash(dir / "b"));
  fs::create_symlink(dir / "a" / "xgb.json", dir / "a" / "link.json");
  EXPECT_THAT(std::string(TreeHash(dir / "a").status().message()), HasSubstr("not a regular file"));
  EXPECT_EQ(TreeHash(dir / "missing").status().code(), absl::StatusCode::kNotFound);
}

TEST(NamesTest, AreChecked) {
  EXPECT_TRUE(CheckModelName("pump-line_1.v2").ok());
  EXPECT_FALSE(CheckModelName("").ok());
  EXPECT_FALSE(CheckModelName("../etc").ok());
  EXPECT_FALSE(CheckModelName("a b").ok());
  EXPECT_FALSE(CheckModelName(std::string(129, 'a')).ok());
  EXPECT_TRUE(CheckAliasName("production").ok());
  EXPECT_THAT(std::string(CheckAliasName("42").message()), HasSubstr("cannot be a number"));
  EXPECT_FALSE(CheckAliasName("prod;drop").ok());
}

TEST(LocationTest, FlagsThenEnvironmentThenDefault) {
  setenv("PDM_REGISTRY", "/env/reg", 1);
  setenv("PDM_STORE", "postgresql://u@h/db", 1);
  Location flags = ResolveLocation("/flag/reg", "sqlite:///flag.db");
  EXPECT_EQ(flags.dir, "/flag/reg");
  EXPECT_EQ(flags.store_url, "sqlite:///flag.db");
  Location env = ResolveLocation("", "");
  EXPECT_EQ(env.dir, "/env/reg");
  EXPECT_EQ(env.store_url, "postgresql://u@h/db");
  unsetenv("PDM_REGISTRY");
  unsetenv("PDM_STORE");
  setenv("XDG_DATA_HOME", "/xdg", 1);
  Location fallback = ResolveLocation("", "");
  EXPECT_EQ(fallback.dir, "/xdg/pdm");
  EXPECT_EQ(fallback.store_url, "sqlite:///xdg/pdm/registry.db");
  unsetenv("XDG_DATA_HOME");
}

TEST_P(RegistryTest, RegisterStoresAnImmutableContentAddressedCopyWithLineage) {
  const store::ModelVersion v1 = MustRegister("pump", "one");
  EXPECT_EQ(v1.version, 1);
  EXPECT_EQ(v1.artifact_path, "artifacts/" + v1.artifact_hash);
  EXPECT_EQ(v1.feature_spec_hash, "abc");
  EXPECT_EQ(v1.dataset_fingerprint, "d1");
  EXPECT_EQ(v1.seed, 11);
  EXPECT_EQ(v1.spec_yaml, "name: fake\n");
  EXPECT_EQ(v1.metrics_json, R"({"ensemble":{"roc_auc":0.91}})");
  EXPECT_EQ(v1.pdm_version, "9.9.9");
  EXPECT_EQ(v1.git_commit, "cafe");
  EXPECT_EQ(v1.actor, "alice");
  const fs::path stored = registry_->ArtifactDir(v1);
  EXPECT_EQ(*TreeHash(stored), v1.artifact_hash);
  EXPECT_EQ(pdm::testing::ReadFile(stored / "extra" / "notes.txt"), "nested file\n");
  EXPECT_EQ(fs::status(stored / "xgb.json").permissions() & fs::perms::owner_write,
            fs::perms::none);

  // Changing the source afterwards does not touch the registered copy.
  pdm::testing::WriteFile(dir_ / "model_one" / "xgb.json", "changed");
  EXPECT_EQ(pdm::testing::ReadFile(stored / "xgb.json"), "one");
  // The same content again: a new version sharing the artifacts.
  pdm::testing::WriteFile(dir_ / "model_one" / "xgb.json", "one");
  const store::ModelVersion v2 = MustRegister("pump", "one");
  EXPECT_EQ(v2.version, 2);
  EXPECT_EQ(v2.artifact_hash, v1.artifact_hash);

  EXPECT_THAT(
      std::string(registry_->Register({dir_ / "nothing", "pump", "", "", "a"}).status().message()),
      HasSubstr("cannot open model"));
  EXPECT_FALSE(registry_->Register({dir_ / "model_one", "bad name", "", "", "a"}).ok());
}

TEST_P(RegistryTest, PromotionsStackAndRollbacksPop) {
  for (const char* content : {"a", "b", "c"}) MustRegister("pump", content);
  ASSERT_TRUE(registry_->Promote("pump", 1, "production", "first", "alice").ok());
  auto second = registry_->Promote("pump", 2, "production", "better", "bob");
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->from, 1);
  EXPECT_TRUE(second->changed);
  ASSERT_TRUE(registry_->Promote("pump", 3, "production", "best", "bob").ok());
  ASSERT_TRUE(registry_->Promote("pump", 3, "staging", "", "bob").ok());

  auto back = registry_->Rollback("pump", "production", "3 is bad", "carol");
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->from, 3);
  EXPECT_EQ(back->to, 2);
  EXPECT_EQ(registry_->Resolve("pump", "production")->version, 2);
  ASSERT_TRUE(registry_->Rollback("pump", "production", "", "carol").ok());
  EXPECT_EQ(registry_->Resolve("pump", "@production")->version, 1);
  const auto none = registry_->Rollback("pump", "production", "", "carol");
  EXPECT_EQ(none.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(none.status().message()), HasSubstr("no previous holder"));
  EXPECT_EQ(registry_->Resolve("pump", "staging")->version, 3);
  EXPECT_EQ(registry_->Resolve("pump", "v2")->version, 2);
  EXPECT_EQ(registry_->Resolve("pump", "canary").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(registry_->Resolve("pump", "7").status().code(), absl::StatusCode::kNotFound);
}

TEST_P(RegistryTest, HistoryAnswersWhatHeldEachAliasAtATime) {
  MustRegister("pump", "a");
  MustRegister("pump", "b");
  ASSERT_TRUE(registry_->Promote("pump", 1, "production", "", "alice").ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  auto log = registry_->store().AuditLog("pump");
  const int64_t after_first = log->back().time_us;
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  ASSERT_TRUE(registry_->Promote("pump", 2, "production", "", "alice").ok());
  ASSERT_TRUE(registry_->Promote("pump", 1, "staging", "", "alice").ok());

  EXPECT_THAT(*registry_->AliasesAt("pump", after_first), ElementsAre(Pair("production", 1)));
  EXPECT_THAT(*registry_->AliasesAt("pump", std::nullopt),
              ElementsAre(Pair("production", 2), Pair("staging", 1)));
  EXPECT_TRUE(registry_->AliasesAt("pump", 0)->empty());
  EXPECT_THAT(*registry_->VersionsAt("pump", after_first), ElementsAre(1, 2));
}

TEST_P(RegistryTest, VerifyFindsModifiedAndMissingArtifacts) {
  const store::ModelVersion a = MustRegister("pump", "a");
  const store::ModelVersion b = MustRegister("fan", "b");
  MustRegister("fan", "c");
  auto clean = registry_->Verify("");
  ASSERT_TRUE(clean.ok());
  EXPECT_EQ(clean->versions_checked, 3);
  EXPECT_TRUE(clean->problems.empty());
  EXPECT_TRUE(clean->unreferenced.empty());

  const fs::path tampered = registry_->ArtifactDir(a) / "xgb.json";
  fs::permissions(tampered, fs::perms::owner_write, fs::perm_options::add);
  pdm::testing::WriteFile(tampered, "tampered");
  fs::remove_all(registry_->ArtifactDir(b));
  fs::create_directories(registry_->location().dir / "artifacts" / ".tmp-1-2");
  auto report = registry_->Verify("");
  ASSERT_TRUE(report.ok());
  ASSERT_EQ(report->problems.size(), 2u);
  EXPECT_EQ(report->problems[0].name, "fan");
  EXPECT_THAT(report->problems[0].problem, HasSubstr("missing"));
  EXPECT_EQ(report->problems[1].name, "pump");
  EXPECT_THAT(report->problems[1].problem, HasSubstr("modified after registration"));
  ASSERT_EQ(report->unreferenced.size(), 1u);
  EXPECT_THAT(report->unreferenced[0], HasSubstr(".tmp-1-2"));
  EXPECT_EQ(registry_->Verify("fan")->problems.size(), 1u);
}

TEST_P(RegistryTest, DeleteRefusesAliasHoldersAndKeepsSharedArtifacts) {
  const store::ModelVersion v1 = MustRegister("pump", "a");
  MustRegister("pump", "a");  // shares v1's artifacts
  const store::ModelVersion v3 = MustRegister("pump", "b");
  ASSERT_TRUE(registry_->Promote("pump", 3, "production", "", "alice").ok());
  EXPECT_THAT(std::string(registry_->Delete("pump", 3, "", "bob").message()),
              HasSubstr("holds alias production"));
  ASSERT_TRUE(registry_->Delete("pump", 1, "old", "bob").ok());
  EXPECT_TRUE(fs::exists(registry_->ArtifactDir(v1)));  // version 2 still uses it
  ASSERT_TRUE(registry_->Delete("pump", 2, "old", "bob").ok());
  EXPECT_FALSE(fs::exists(registry_->ArtifactDir(v1)));
  EXPECT_TRUE(fs::exists(registry_->ArtifactDir(v3)));
  EXPECT_EQ(registry_->Delete("pump", 2, "", "bob").code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(registry_->Verify("")->problems.empty());
}

INSTANTIATE_TEST_SUITE_P(Backends, RegistryTest, ::testing::Values("sqlite", "postgresql"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace pdm::registry
