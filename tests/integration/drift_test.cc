// Drift monitoring end to end: a simulated fleet trained on its first 60 days, served by the
// real binary, its whole history replayed through POST /api/v1/telemetry in time order (events
// included); the drift route, the performance estimate and the Prometheus series read back.
// A +20% vibration calibration on every machine puts vibration_rms in drift within a day while
// the same replay without it keeps it ok; the simulator's spring warming (training on January
// and February) is reported as the real ambient drift it is. (Feature-level false alarms on the
// fleet's slow features are measured in docs/monitoring.md: not yet solved.)
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <fstream>
#include <map>
#include <set>

#include "nlohmann/json.hpp"
#include "tests/testing/csv.h"
#include "tests/testing/http_client.h"
#include "tests/testing/pdm_cli.h"
#include "tests/testing/test_paths.h"

namespace pdm {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using testing::ReadCsv;
using testing::Reply;
using testing::Request;
using testing::Send;

using testing::CsvRow;

constexpr char kTrainEnd[] = "2025-03-02T00:00:00Z";    // day 60
constexpr char kDriftStart[] = "2025-03-17T00:00:00Z";  // day 75

class DriftTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new fs::path(testing::TempDir("drift"));
    const fs::path sim = *dir_ / "sim";
    registry_ = new std::string((*dir_ / "registry").string());
    ASSERT_EQ(testing::Pdm("simulate --machines 20 --duration 120d --interval 1h --seed 7 --out " +
                           sim.string())
                  .code,
              0);
    // The first 60 days are the training data.
    std::ifstream in(sim / "telemetry.csv");
    std::ofstream train(*dir_ / "train.csv");
    std::string line;
    std::getline(in, line);
    train << line << "\n";
    while (std::getline(in, line)) {
      if (line.substr(0, 20) < kTrainEnd) train << line << "\n";
    }
    train.close();
    const testing::Result trained = testing::Pdm(
        "train --spec " + (sim / "spec.yaml").string() + " --data " +
        (*dir_ / "train.csv").string() + " --models xgb --cv 2 --threads 1 --out " +
        (*dir_ / "run").string() + " --register --name fleet --registry " + *registry_);
    ASSERT_EQ(trained.code, 0) << trained.err;
    ASSERT_EQ(
        testing::Pdm("models promote fleet 1 --alias production --registry " + *registry_).code, 0);
  }

  // One request per hour of data: that hour's readings of every machine, after the events since
  // the previous hour. `scale` multiplies vibration_rms from kDriftStart on.
  struct Replay {
    std::vector<std::pair<std::string, json>> hours;  // time -> request body
  };
  static Replay MakeReplay(double vibration_scale) {
    const fs::path sim = *dir_ / "sim";
    struct Event {
      std::string time;
      json body;
    };
    std::vector<Event> events;
    for (const auto& [file, type, kind] : {std::tuple<std::string, std::string, std::string>{
                                               "maintenance.csv", "maintenance", "component"},
                                           {"failures.csv", "failure", "mode"},
                                           {"errors.csv", "error", "code"}}) {
      for (const CsvRow& row : ReadCsv(sim / file)) {
        events.push_back({row.at("timestamp"),
                          {{"machine", row.at("machine_id")},
                           {"time", row.at("timestamp")},
                           {"type", type},
                           {"kind", row.at(kind)}}});
      }
    }
    std::stable_sort(events.begin(), events.end(),
                     [](const Event& a, const Event& b) { return a.time < b.time; });
    std::map<std::string, json> attributes;
    for (const CsvRow& row : ReadCsv(sim / "machines.csv")) {
      json a = json::object();
      for (const auto& [column, text] : row) {
        if (column != "machine_id")
          a[column] = column == "model" ? json(text) : json(std::stod(text));
      }
      attributes[row.at("machine_id")] = a;
    }
    std::map<std::string, json> readings;  // time -> readings
    std::set<std::string> seen;
    for (const CsvRow& row : ReadCsv(sim / "telemetry.csv")) {
      json values = json::object();
      for (const auto& [column, text] : row) {
        if (column == "timestamp" || column == "machine_id") continue;
        double v = text.empty() ? NAN : std::stod(text);
        if (column == "vibration_rms" && row.at("timestamp") >= kDriftStart) v *= vibration_scale;
        values[column] = std::isnan(v) ? json(nullptr) : json(v);
      }
      json reading = {
          {"machine", row.at("machine_id")}, {"time", row.at("timestamp")}, {"values", values}};
      if (seen.insert(row.at("machine_id")).second)
        reading["attributes"] = attributes[row.at("machine_id")];
      readings[row.at("timestamp")].push_back(std::move(reading));
    }
    Replay replay;
    size_t next_event = 0;
    for (auto& [time, list] : readings) {
      json body = {{"readings", std::move(list)}};
      json sent = json::array();
      while (next_event < events.size() && events[next_event].time <= time) {
        sent.push_back(events[next_event++].body);
      }
      if (!sent.empty()) body["events"] = std::move(sent);
      replay.hours.emplace_back(time, std::move(body));
    }
    return replay;
  }

  static inline fs::path* dir_ = nullptr;
  static inline std::string* registry_ = nullptr;
};

struct Server {
  explicit Server(const std::vector<std::string>& args) {
    served = testing::StartServe(args, "test-token");
  }
  ~Server() {
    if (served.pid > 0) {
      ::kill(served.pid, SIGKILL);
      ::waitpid(served.pid, nullptr, 0);
    }
  }
  Reply Post(const std::string& target, const json& body) const {
    return Send(served.port, Request("POST", target, body.dump()));
  }
  json Get(const std::string& target) const {
    const Reply r = Send(served.port, Request("GET", target, "", ""));
    EXPECT_EQ(r.status, 200) << target << ": " << r.body;
    return json::parse(r.body, nullptr, false);
  }
  testing::ServeProcess served;
};

// One hour of the replay posted to a server; the hour's drift report.
json PostHour(const Server& server, const std::string& time, const json& body, size_t* accepted,
              size_t* refused) {
  const Reply r = server.Post("/api/v1/telemetry", body);
  EXPECT_EQ(r.status, 200) << time << ": " << r.body;
  const json out = json::parse(r.body, nullptr, false);
  *accepted += out.value("accepted", size_t{0});
  *refused += out.value("refused", size_t{0});
  return out;
}

const json* Column(const json& drift, const std::string& name) {
  for (const json& f : drift["features"]) {
    if (f["name"] == name) return &f;
  }
  return nullptr;
}

// Two servers on the same model replay the same fleet hour by hour, one with vibration_rms
// multiplied by 1.2 on every machine from day 75 (a recalibrated sensor). Both use the defaults
// (a 24h window of data time, evaluated every minute of it, 3 evaluations to change a status).
TEST_F(DriftTest, AVibrationCalibrationDriftsVibrationAndTheSameReplayWithoutItDoesNot) {
  const std::vector<std::string> args = {
      "--registry",           *registry_,         "--model", "fleet", "--threads", "1",
      "--no-store-telemetry", "--drift-min-rows", "200"};
  Server plain(args), shifted(args);
  ASSERT_NE(plain.served.port, 0) << plain.served.first_line;
  ASSERT_NE(shifted.served.port, 0) << shifted.served.first_line;
  const Replay a = MakeReplay(1.0), b = MakeReplay(1.2);
  ASSERT_EQ(a.hours.size(), b.hours.size());
  size_t accepted = 0, refused = 0, posted = 0;
  std::string vibration_drift_at;
  double plain_psi = 0, shifted_psi = 0;
  std::string plain_vibration_status;
  for (size_t h = 0; h < a.hours.size(); ++h) {
    const std::string& time = a.hours[h].first;
    PostHour(plain, time, a.hours[h].second, &accepted, &refused);
    posted += a.hours[h].second["readings"].size();
    size_t ignored = 0;
    PostHour(shifted, time, b.hours[h].second, &ignored, &ignored);
    if (time < kDriftStart) continue;
    const json drift_a = plain.Get("/api/v1/drift?histograms=false");
    const json drift_b = shifted.Get("/api/v1/drift?histograms=false");
    const json* va = Column(drift_a, "vibration_rms");
    const json* vb = Column(drift_b, "vibration_rms");
    ASSERT_TRUE(va != nullptr && vb != nullptr);
    if (vibration_drift_at.empty() && (*vb)["status"] == "drift") vibration_drift_at = time;
    if (time == "2025-03-18T00:00:00Z") {  // a day after the change
      plain_psi = (*va)["statistics"]["psi"].get<double>();
      shifted_psi = (*vb)["statistics"]["psi"].get<double>();
      plain_vibration_status = (*va)["status"].get<std::string>();
      // The spring warming from the January-February training data is real covariate drift:
      // both servers see the ambient temperature in drift.
      EXPECT_EQ((*Column(drift_a, "air_temperature"))["status"], "drift");
      EXPECT_EQ((*Column(drift_b, "air_temperature"))["status"], "drift");
      break;
    }
  }
  // Every reading accounted for: the simulator writes some out-of-range values on purpose.
  EXPECT_EQ(accepted + refused, posted);
  EXPECT_GT(posted, 20u * 24 * 70);
  EXPECT_LT(refused, accepted / 100);
  ASSERT_FALSE(vibration_drift_at.empty()) << "vibration_rms never drifted after the change";
  EXPECT_LE(vibration_drift_at, "2025-03-18T00:00:00Z");
  EXPECT_NE(plain_vibration_status, "drift");
  EXPECT_GT(shifted_psi, 4 * plain_psi) << shifted_psi << " vs " << plain_psi;
  RecordProperty("vibration_drift_at", vibration_drift_at);

  // The drift route's shape: statistics, histograms of the coarse bins, the window.
  const json drift = shifted.Get("/api/v1/drift");
  EXPECT_EQ(drift["model"], "fleet");
  EXPECT_EQ(drift["window"]["span"], "1d");
  EXPECT_GE(drift["window"]["rows"].get<int>(), 22 * 20);
  EXPECT_LE(drift["window"]["rows"].get<int>(), 24 * 20);
  EXPECT_EQ(drift["evaluated_at"], "2025-03-18T00:00:00Z");
  const json& first = drift["features"][0];
  for (const char* key : {"psi", "ks", "jensen_shannon", "wasserstein"}) {
    EXPECT_TRUE(first["statistics"][key].is_number()) << key;
  }
  EXPECT_EQ(first["histogram"]["reference"].size(), first["histogram"]["current"].size());
  EXPECT_EQ(first["histogram"]["upper_edges"].size() + 1, first["histogram"]["reference"].size());
  EXPECT_TRUE(drift["score"]["statistics"]["psi"].is_number());

  const json performance = shifted.Get("/api/v1/performance");
  ASSERT_TRUE(performance["estimated"].is_object()) << performance.dump();
  EXPECT_EQ(performance["estimated"]["method"], "cbpe");
  EXPECT_GT(performance["estimated"]["rows"].get<int>(), 400);
  const double rate = performance["estimated"]["expected_failure_rate"].get<double>();
  EXPECT_GT(rate, 0);
  EXPECT_LT(rate, 0.5);

  const Reply metrics = Send(shifted.served.port, Request("GET", "/metrics", "", ""));
  EXPECT_THAT(metrics.body,
              ::testing::HasSubstr("pdm_feature_drift{feature=\"score\",statistic=\"psi\"}"));
  EXPECT_THAT(metrics.body, ::testing::HasSubstr("pdm_drift_status{feature=\"vibration_rms\"} 2"));
  EXPECT_THAT(metrics.body, ::testing::HasSubstr("pdm_dataset_drift "));
  EXPECT_THAT(metrics.body, ::testing::HasSubstr("pdm_estimated_f1 "));
  EXPECT_THAT(metrics.body, ::testing::HasSubstr("pdm_drift_window_rows "));
}

TEST_F(DriftTest, DriftOffAndBadFlagsAreRefusedClearly) {
  {
    Server off({"--registry", *registry_, "--model", "fleet", "--drift-window", "off"});
    ASSERT_NE(off.served.port, 0) << off.served.first_line;
    const Reply r = Send(off.served.port, Request("GET", "/api/v1/drift", "", ""));
    EXPECT_EQ(r.status, 409);
    EXPECT_THAT(r.body, ::testing::HasSubstr("drift monitoring is off"));
  }
  const testing::ServeProcess bad = testing::StartServe(
      {"--registry", *registry_, "--model", "fleet", "--drift-every", "soon"}, "t");
  EXPECT_EQ(bad.port, 0);
  if (bad.pid > 0) ::waitpid(bad.pid, nullptr, 0);
}

}  // namespace
}  // namespace pdm
