// `pdm train --register` and `pdm models ...` end to end, over SQLite and over the PostgreSQL
// server of the test run: a champion/challenger workflow with real trained models, registration
// killed with SIGKILL at random points, and two processes registering at once.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <random>
#include <set>
#include <thread>

#include "nlohmann/json.hpp"
#include "tests/testing/pdm_cli.h"
#include "tests/testing/postgres.h"
#include "tests/testing/test_paths.h"

namespace pdm {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using testing::JsonInt;
using testing::Pdm;
using testing::Result;

// Starts `pdm args...` without a shell, stdout and stderr to /dev/null; returns its pid.
pid_t Spawn(const std::vector<std::string>& args) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    std::vector<char*> argv;
    std::string binary = PDM_BINARY;
    argv.push_back(binary.data());
    std::vector<std::string> copy = args;
    for (std::string& a : copy) argv.push_back(a.data());
    argv.push_back(nullptr);
    FILE* null = std::fopen("/dev/null", "w");
    if (null != nullptr) {
      ::dup2(fileno(null), STDOUT_FILENO);
      ::dup2(fileno(null), STDERR_FILENO);
    }
    ::execv(PDM_BINARY, argv.data());
    ::_exit(127);
  }
  return pid;
}

int Wait(pid_t pid) {
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : -1;
}

class RegistryCliTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    std::string tag;
    for (char c : std::string(::testing::UnitTest::GetInstance()->current_test_info()->name())) {
      tag.push_back(std::isalnum(static_cast<unsigned char>(c)) != 0 ? c : '_');
    }
    dir_ = testing::TempDir("registry_cli_" + tag);
    if (GetParam() == "sqlite") {
      store_ = "sqlite://" + (dir_ / "registry.db").string();
    } else {
      const auto server = testing::PostgresServerUrl();
      if (!server) {
        if (testing::PostgresRequired()) FAIL() << "PDM_TEST_POSTGRES_URL is not set";
        GTEST_SKIP() << "no PostgreSQL server (PDM_TEST_POSTGRES_URL)";
      }
      store_ = testing::FreshPostgresSchema(*server, "cli");
    }
    flags_ = " --registry " + (dir_ / "registry").string() + " --store '" + store_ + "'";
  }

  Result Models(const std::string& args) { return Pdm("models " + args + flags_); }

  // `pdm models register MODEL --name pump` into this test's registry, as argv (for Spawn).
  std::vector<std::string> RegisterArgs(const fs::path& model) const {
    return {"models",
            "register",
            model.string(),
            "--name",
            "pump",
            "--registry",
            (dir_ / "registry").string(),
            "--store",
            store_};
  }

  // A small real model (AI4I, one member, two folds): `rows` limits the training data.
  fs::path TrainModel(const std::string& name, const std::string& models, int rows, int seed) {
    const fs::path data = dir_ / (name + ".csv");
    const std::string source = testing::ReadFile(testing::DataDir() / "ai4i2020" / "ai4i2020.csv");
    size_t end = 0;
    for (int line = 0; line <= rows && end != std::string::npos; ++line) {
      end = source.find('\n', end + (line > 0 ? 1 : 0));
    }
    testing::WriteFile(data, end == std::string::npos ? source : source.substr(0, end + 1));
    const fs::path out = dir_ / name;
    Result trained =
        Pdm("train --spec " + (testing::SourceDir() / "specs" / "ai4i2020.yaml").string() +
            " --data " + data.string() + " --models " + models + " --cv 2 --threads 1 --seed " +
            std::to_string(seed) + " --out " + out.string());
    EXPECT_EQ(trained.code, 0) << trained.err;
    return out / "model";
  }

  fs::path dir_;
  std::string store_;
  std::string flags_;
};

TEST_P(RegistryCliTest, ChampionChallengerWithRealModels) {
  const fs::path weak = TrainModel("weak", "gbm", 1500, 1);
  const fs::path strong = TrainModel("strong", "xgb", 10000, 2);
  const std::string spec = (testing::SourceDir() / "specs" / "ai4i2020.yaml").string();

  // train --register registers as it trains, with its lineage.
  Result trained = Pdm("train --spec " + spec + " --models xgb --cv 2 --threads 1 --seed 3 --out " +
                       (dir_ / "registered").string() + " --register --name other --json" + flags_);
  ASSERT_EQ(trained.code, 0) << trained.err;
  EXPECT_THAT(trained.out, HasSubstr("\"registered\""));
  Result other = Models("show other 1 --json");
  ASSERT_EQ(other.code, 0) << other.err;
  EXPECT_THAT(other.out, HasSubstr("\"dataset_fingerprint\": \""));
  EXPECT_THAT(other.out, HasSubstr("ai4i2020.csv"));  // the input files, in the spec lineage
  EXPECT_EQ(JsonInt(other.out, "seed"), 3);
  // The reference profile drift monitoring uses, stored and hashed with the artifacts.
  const nlohmann::json shown = nlohmann::json::parse(other.out);
  EXPECT_EQ(shown["reference_profile"]["rows"], 10000) << other.out;
  EXPECT_GT(shown["reference_profile"]["features"].get<int>(), 5);
  EXPECT_EQ(shown["reference_profile"]["score"]["name"], "probability");
  EXPECT_EQ(shown["reference_profile"]["sha256"].get<std::string>().size(), 64u);

  Result v1 = Models("register " + weak.string() + " --name pump --reason baseline --json");
  ASSERT_EQ(v1.code, 0) << v1.err;
  EXPECT_EQ(JsonInt(v1.out, "version"), 1);
  Result v2 = Models("register " + strong.string() + " --name pump --json");
  ASSERT_EQ(v2.code, 0) << v2.err;
  EXPECT_EQ(JsonInt(v2.out, "version"), 2);

  ASSERT_EQ(Models("promote pump 1 --alias production --reason 'first model'").code, 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  const int64_t between = std::chrono::duration_cast<std::chrono::microseconds>(
                              std::chrono::system_clock::now().time_since_epoch())
                              .count();
  std::this_thread::sleep_for(std::chrono::milliseconds(20));

  // The challenger beats the champion on the same data: promoted, with both numbers printed.
  Result better =
      Models("promote pump 2 --alias production --if-better roc_auc --threads 1 --spec " + spec);
  ASSERT_EQ(better.code, 0) << better.err;
  EXPECT_THAT(better.out, HasSubstr("candidate v2"));
  EXPECT_THAT(better.out, HasSubstr("production holder v1"));
  // The old champion does not beat the new one: refused (exit 1), the alias stays.
  Result worse =
      Models("promote pump 1 --alias production --if-better roc_auc --threads 1 --spec " + spec);
  EXPECT_EQ(worse.code, 1) << worse.out << worse.err;
  EXPECT_THAT(worse.err, HasSubstr("refused: v1 does not beat v2 on roc_auc"));
  EXPECT_THAT(Models("show pump production --json").out, HasSubstr("\"version\": 2"));

  // What was in production at a time between the two promotions.
  const std::string at = std::to_string(static_cast<double>(between) / 1e6);
  Result history_then = Models("history pump --json --at " + at);
  ASSERT_EQ(history_then.code, 0) << history_then.err;
  EXPECT_THAT(history_then.out, HasSubstr("\"production\": 1"));
  EXPECT_THAT(Models("history pump --json").out, HasSubstr("\"reason\": \"first model\""));

  // Rollback returns the alias to v1; deleting the holder is refused; verify is clean.
  Result rollback = Models("rollback pump --alias production --reason regression");
  ASSERT_EQ(rollback.code, 0) << rollback.err;
  EXPECT_THAT(rollback.out, HasSubstr("v2 -> v1"));
  Result refused = Models("delete pump 1");
  EXPECT_EQ(refused.code, 1);
  EXPECT_THAT(refused.err, HasSubstr("holds alias production"));
  EXPECT_EQ(Models("delete pump 2 --reason superseded").code, 0);
  Result list = Models("list --json");
  EXPECT_THAT(list.out, HasSubstr("\"name\": \"other\""));
  EXPECT_THAT(list.out, ::testing::Not(HasSubstr("\"version\": 2")));
  Result diff = Models("diff pump 1 production --json");
  EXPECT_EQ(diff.code, 0) << diff.err;
  EXPECT_THAT(diff.out, HasSubstr("\"identical_artifacts\": true"));
  Result verify = Models("verify");
  EXPECT_EQ(verify.code, 0) << verify.out;

  EXPECT_THAT(Models("show pump 1 --json").out,
              HasSubstr((dir_ / "registry" / "artifacts").string()));

  // A registry that does not exist is named, not created.
  Result nowhere =
      Pdm("models list --registry " + (dir_ / "typo").string() + " --store '" + store_ + "'");
  EXPECT_EQ(nowhere.code, 3);
  EXPECT_THAT(nowhere.err, HasSubstr("no registry at"));
  EXPECT_FALSE(fs::exists(dir_ / "typo"));

  // Bad references name what is wrong.
  Result missing = Models("show pump 7");
  EXPECT_EQ(missing.code, 3);
  EXPECT_THAT(missing.err, HasSubstr("has no version 7"));
  EXPECT_EQ(Models("promote pump 1 --alias 12").code, 3);
  EXPECT_EQ(Models("register " + weak.string() + " --name 'bad name'").code, 3);
}

TEST_P(RegistryCliTest, KilledRegistrationsLeaveNoPartialVersion) {
  const fs::path model = TrainModel("model", "xgb", 3000, 1);
  const std::vector<std::string> args = RegisterArgs(model);
  // Warm up (creates the schema) and measure one registration.
  const auto start = std::chrono::steady_clock::now();
  ASSERT_EQ(Wait(Spawn(args)), 0);
  const auto took = std::chrono::duration_cast<std::chrono::microseconds>(
                        std::chrono::steady_clock::now() - start)
                        .count();
  std::mt19937_64 random(20261126);
  std::uniform_int_distribution<int64_t> delay(0, took * 3 / 2);
  int killed = 0;
  for (int i = 0; i < 40; ++i) {
    const pid_t pid = Spawn(args);
    std::this_thread::sleep_for(std::chrono::microseconds(delay(random)));
    ::kill(pid, SIGKILL);
    killed += Wait(pid) == 128 + SIGKILL;
  }
  EXPECT_GT(killed, 10) << "too few registrations were interrupted to test anything";

  // Every version that exists is complete; the store is consistent and still usable.
  Result verify = Models("verify --json");
  EXPECT_EQ(verify.code, 0) << verify.out << verify.err;
  EXPECT_THAT(verify.out, HasSubstr("\"ok\": true"));
  const int64_t checked = JsonInt(verify.out, "versions_checked");
  EXPECT_GE(checked, 1);
  Result list = Models("list pump --json");
  ASSERT_EQ(list.code, 0) << list.err;
  Result next = Models("register " + model.string() + " --name pump --json");
  ASSERT_EQ(next.code, 0) << next.err;
  EXPECT_GT(JsonInt(next.out, "version"), checked);
  for (int64_t v = 1; v <= JsonInt(next.out, "version"); ++v) {
    Result show = Models("show pump " + std::to_string(v) + " --json");
    if (show.code != 0) continue;  // a number taken by a killed registration never comes back
    EXPECT_THAT(show.out, HasSubstr("\"artifact_hash\": \""));
  }
  // The newest version loads and scores straight from its registered artifacts.
  const Result shown =
      Models("show pump " + std::to_string(JsonInt(next.out, "version")) + " --json");
  const std::string key = "\"artifact_dir\": \"";
  const size_t at = shown.out.find(key) + key.size();
  const std::string artifacts = shown.out.substr(at, shown.out.find('"', at) - at);
  Result evaluate = Pdm("evaluate --threads 1 --json --model " + artifacts);
  EXPECT_EQ(evaluate.code, 0) << evaluate.err;
  EXPECT_THAT(evaluate.out, HasSubstr("\"roc_auc\""));
}

TEST_P(RegistryCliTest, TwoProcessesRegisteringAtOnceGetDistinctVersions) {
  const fs::path model = TrainModel("model", "xgb", 2000, 1);
  const std::vector<std::string> args = RegisterArgs(model);
  std::set<int64_t> versions;
  for (int round = 0; round < 5; ++round) {
    const pid_t a = Spawn(args);
    const pid_t b = Spawn(args);
    EXPECT_EQ(Wait(a), 0);
    EXPECT_EQ(Wait(b), 0);
  }
  Result list = Models("list pump --json");
  ASSERT_EQ(list.code, 0) << list.err;
  for (size_t at = list.out.find("\"version\": "); at != std::string::npos;
       at = list.out.find("\"version\": ", at + 1)) {
    versions.insert(std::stoll(list.out.substr(at + 11, 12)));
  }
  EXPECT_EQ(versions.size(), 10u);
  EXPECT_EQ(*versions.begin(), 1);
  EXPECT_EQ(*versions.rbegin(), 10);
  EXPECT_EQ(Models("verify").code, 0);
}

INSTANTIATE_TEST_SUITE_P(Backends, RegistryCliTest, ::testing::Values("sqlite", "postgresql"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace pdm
