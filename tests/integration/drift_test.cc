// Drift monitoring end to end: three fleets of one seed simulated without a season (a stationary
// ambient), one unchanged, one with vibration_rms recalibrated +20% on every machine from day 75,
// one with the ambient 5 degC warmer from day 75 (`pdm simulate --drift`). A model trained on the
// unchanged fleet's first 60 days is served by the real binary three times, and each fleet's
// whole history is replayed to its server through POST /api/v1/telemetry in time order (events
// included). The stationary fleet puts no sensor feature in drift; each change puts the features
// computed from its sensors, and only those, in drift; the drift route, the performance
// estimate and the Prometheus series read back. docs/monitoring.md has the figures.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <thread>

#include "core/time.h"
#include "nlohmann/json.hpp"
#include "tests/testing/csv.h"
#include "tests/testing/http_client.h"
#include "tests/testing/pdm_cli.h"
#include "tests/testing/test_paths.h"
#include "tests/testing/webhook_receiver.h"

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
// The fleets' shared arguments: no season, so that the ambient is stationary.
constexpr char kFleet[] =
    "simulate --machines 20 --duration 120d --interval 1h --seed 7 "
    "--seasonal-amplitude 0 ";

class DriftTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new fs::path(testing::TempDir("drift"));
    const fs::path sim = *dir_ / "sim";
    registry_ = new std::string((*dir_ / "registry").string());
    for (const auto& [out, drift] : {std::pair<std::string, std::string>{"sim", ""},
                                     {"vibration", "--drift vibration_rms:+20%@75d "},
                                     {"ambient", "--drift ambient:+5@75d "}}) {
      const testing::Result made =
          testing::Pdm(std::string(kFleet) + drift + "--out " + (*dir_ / out).string());
      ASSERT_EQ(made.code, 0) << made.err;
    }
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
  // the previous hour, from the fleet simulated into *dir_ / `fleet`.
  struct Replay {
    std::vector<std::pair<std::string, json>> hours;  // time -> request body
  };
  static Replay MakeReplay(const std::string& fleet) {
    const fs::path sim = *dir_ / fleet;
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
        const double v = text.empty() ? NAN : std::stod(text);
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

// Which features are in drift at each evaluation of one server, and since when.
struct DriftLog {
  std::map<std::string, std::string> first;  // feature -> first time in drift (from day 60)
  std::map<std::string, int> hours;          // feature -> hours in drift
  std::map<std::string, std::string> kind;   // feature -> kind (window, current, ...)
  std::map<std::string, std::string>
      trigger;  // feature -> the statistic that first put it in drift
  int evaluations = 0;

  void Add(const std::string& time, const json& drift) {
    ++evaluations;
    for (const json& f : drift["features"]) {
      const std::string name = f["name"];
      if (f["kind"].is_string()) kind[name] = f["kind"];
      if (f["status"] != "drift") continue;
      if (first.emplace(name, time).second && f["trigger"].is_string())
        trigger[name] = f["trigger"];
      ++hours[name];
    }
  }
  // The features in drift at some point that `expected` does not accept, with when.
  std::vector<std::string> Unexpected(const std::function<bool(const std::string&)>& expected) {
    std::vector<std::string> out;
    for (const auto& [name, time] : first) {
      if (!expected(name)) out.push_back(name + " (" + kind[name] + ", from " + time + ")");
    }
    return out;
  }
  // The earliest time a feature that `match` accepts entered drift at or after `from`.
  std::string FirstOf(const std::function<bool(const std::string&)>& match,
                      const std::string& from) {
    std::string earliest;
    for (const auto& [name, time] : first) {
      if (match(name) && time >= from && (earliest.empty() || time < earliest)) earliest = time;
    }
    return earliest;
  }
};

std::string HoursAfter(const std::string& timestamp, int hours) {
  double t = 0;
  EXPECT_TRUE(core::ParseTimestamp(timestamp, &t));
  return core::FormatTimestamp(static_cast<int64_t>(t) + hours * 3600);
}

// Three servers on the same model, each fed one fleet hour by hour with the defaults (a 24h
// window of data time evaluated every minute of it, thresholds calibrated on the training data,
// 3 evaluations to change a status).
TEST_F(DriftTest, AStationaryFleetStaysQuietAndEachChangeDriftsItsOwnFeatures) {
  // Each server on its own copy of the registry: its alerts in its own store.
  auto args_for = [&](const std::string& name) {
    const fs::path copy = *dir_ / ("registry_" + name);
    fs::remove_all(copy);
    fs::copy(*registry_, copy, fs::copy_options::recursive);
    return std::vector<std::string>{
        "--registry", copy.string(),          "--model",          "fleet", "--threads",
        "1",          "--no-store-telemetry", "--drift-min-rows", "200"};
  };
  // The unchanged and the vibration fleet's servers tell a webhook receiver of their alerts.
  auto accept = [](const testing::ReceivedWebhook&, const std::vector<testing::ReceivedWebhook>&) {
    return 200;
  };
  testing::WebhookReceiver plain_hooks(accept), vibration_hooks(accept);
  auto with_webhook = [&](const std::string& name, const testing::WebhookReceiver& receiver) {
    std::vector<std::string> a = args_for(name);
    a.insert(a.end(), {"--webhook", receiver.url(), "--webhook-backoff-ms", "20"});
    return a;
  };
  Server plain(with_webhook("plain", plain_hooks)),
      vibration(with_webhook("vibration", vibration_hooks)), ambient(args_for("ambient"));
  // The stationary fleet once more with the fixed thresholds (PSI 0.1 / 0.25 for every feature).
  std::vector<std::string> fixed_args = args_for("fixed");
  fixed_args.insert(fixed_args.end(), {"--drift-thresholds", "fixed"});
  Server fixed(fixed_args);
  for (const Server* s : {&plain, &vibration, &ambient, &fixed}) {
    ASSERT_NE(s->served.port, 0) << s->served.first_line;
  }
  const Replay a = MakeReplay("sim"), b = MakeReplay("vibration"), c = MakeReplay("ambient");
  ASSERT_EQ(a.hours.size(), b.hours.size());
  ASSERT_EQ(a.hours.size(), c.hours.size());
  size_t accepted = 0, refused = 0, posted = 0;
  DriftLog plain_log, vibration_log, ambient_log, fixed_log;
  json at_day_76;  // the vibration server's report a day after the change
  // machine -> its readings' times and whether the served threshold alarmed
  std::map<std::string, std::vector<std::pair<std::string, bool>>> readings;
  for (size_t h = 0; h < a.hours.size(); ++h) {
    const std::string& time = a.hours[h].first;
    const json answer = PostHour(plain, time, a.hours[h].second, &accepted, &refused);
    for (const json& m : answer["machines"]) {
      readings[m["machine"]].push_back({m["time"], m["alarm"] == true});
    }
    posted += a.hours[h].second["readings"].size();
    size_t ignored = 0;
    PostHour(vibration, time, b.hours[h].second, &ignored, &ignored);
    PostHour(ambient, time, c.hours[h].second, &ignored, &ignored);
    PostHour(fixed, time, a.hours[h].second, &ignored, &ignored);
    if (time < kTrainEnd) continue;
    fixed_log.Add(time, fixed.Get("/api/v1/drift?histograms=false"));
    plain_log.Add(time, plain.Get("/api/v1/drift?histograms=false"));
    const json drift_b = vibration.Get("/api/v1/drift?histograms=false");
    vibration_log.Add(time, drift_b);
    ambient_log.Add(time, ambient.Get("/api/v1/drift?histograms=false"));
    if (time == "2025-03-18T00:00:00Z") at_day_76 = drift_b;
  }
  // Every reading accounted for: the simulator writes some out-of-range values on purpose.
  EXPECT_EQ(accepted + refused, posted);
  EXPECT_GT(posted, 20u * 24 * 110);
  EXPECT_LT(refused, accepted / 100);
  EXPECT_GE(plain_log.evaluations, 24 * 59);

  // Sensor features: the windows and current values of the sensors. Event counts and clocks are
  // judged apart: clocks are not monitored, and the fleet's own failure episodes move the error
  // counts (docs/monitoring.md).
  // The level columns (monitor/level.h) are judged with them.
  auto sensor_feature = [&](DriftLog& log, const std::string& name) {
    return log.kind[name] == "window" || log.kind[name] == "current" || log.kind[name] == "level";
  };
  ASSERT_FALSE(plain_log.kind.empty());
  EXPECT_EQ(plain_log.kind["age"], "clock");
  EXPECT_EQ(plain_log.hours.count("age"), 0u) << "a clock is never in drift";
  const std::vector<std::string> plain_unexpected = plain_log.Unexpected(
      [&](const std::string& name) { return !sensor_feature(plain_log, name); });
  EXPECT_THAT(plain_unexpected, ::testing::IsEmpty())
      << "sensor features in drift on the stationary fleet";
  // With fixed thresholds the same replay puts dozens of sensor features in drift: slow windows
  // of 20 machines vary more than PSI's fixed thresholds assume (docs/monitoring.md).
  const size_t fixed_sensor_features =
      fixed_log
          .Unexpected([&](const std::string& name) { return !sensor_feature(fixed_log, name); })
          .size();
  EXPECT_GE(fixed_sensor_features, 20u);
  RecordProperty("stationary_sensor_features_in_drift_fixed", fixed_sensor_features);
  // Event counts in drift on the stationary fleet: reported, bounded.
  int event_hours = 0, event_features = 0;
  for (const auto& [name, kind] : plain_log.kind) {
    if (kind == "event_count") ++event_features;
  }
  for (const auto& [name, hours] : plain_log.hours) event_hours += hours;
  ASSERT_GT(event_features, 0);
  EXPECT_LT(event_hours, event_features * plain_log.evaluations / 20)
      << "error-count features in drift over 5% of the time";
  RecordProperty("stationary_event_count_drift_hours", event_hours);

  // A recalibrated vibration sensor: features computed from vibration_rms enter drift; no
  // feature of another sensor does.
  auto from_vibration = [](const std::string& name) { return name.starts_with("vibration_rms"); };
  const std::string vibration_at = vibration_log.FirstOf(from_vibration, kDriftStart);
  ASSERT_FALSE(vibration_at.empty()) << "no vibration feature drifted after the change";
  EXPECT_LE(vibration_at, HoursAfter(kDriftStart, 6));
  EXPECT_EQ(vibration_log.FirstOf(from_vibration, kTrainEnd), vibration_at)
      << "a vibration feature drifted before the change";
  EXPECT_THAT(vibration_log.Unexpected([&](const std::string& name) {
    return from_vibration(name) || !sensor_feature(vibration_log, name);
  }),
              ::testing::IsEmpty());
  RecordProperty("vibration_drift_at", vibration_at);

  // A warmer ambient: the temperatures' features enter drift within hours; nothing else does.
  auto from_temperature = [](const std::string& name) {
    return name.find("temperature") != std::string::npos;
  };
  const std::string ambient_at = ambient_log.FirstOf(from_temperature, kDriftStart);
  ASSERT_FALSE(ambient_at.empty()) << "no temperature feature drifted after the change";
  EXPECT_LE(ambient_at, HoursAfter(kDriftStart, 12));
  EXPECT_EQ(ambient_log.FirstOf(from_temperature, kTrainEnd), ambient_at);
  EXPECT_THAT(ambient_log.Unexpected([&](const std::string& name) {
    return from_temperature(name) || !sensor_feature(ambient_log, name);
  }),
              ::testing::IsEmpty());
  RecordProperty("ambient_drift_at", ambient_at);
  // The statistics that found each change first.
  std::set<std::string> vibration_by, ambient_by;
  for (const auto& [name, time] : vibration_log.first) {
    if (time == vibration_at && from_vibration(name))
      vibration_by.insert(name + " by " + vibration_log.trigger[name]);
  }
  for (const auto& [name, time] : ambient_log.first) {
    if (time == ambient_at && from_temperature(name))
      ambient_by.insert(name + " by " + ambient_log.trigger[name]);
  }
  auto join = [](const std::set<std::string>& names) {
    std::string out;
    for (const std::string& n : names) out += (out.empty() ? "" : ", ") + n;
    return out;
  };
  std::printf(
      "drift: vibration +20%% from %s found at %s (%s); ambient +5 degC found at %s (%s); "
      "stationary: %d event-count feature-hours in drift, and %zu sensor features with "
      "fixed thresholds\n",
      kDriftStart, vibration_at.c_str(), join(vibration_by).c_str(), ambient_at.c_str(),
      join(ambient_by).c_str(), event_hours, fixed_sensor_features);

  // Drift alerts, one per model and input: the vibration server opened one for vibration_rms
  // (fleet-wide: no machine) when its first feature drifted, and its webhook told of it. The
  // other servers' drift alerts are of their own change's inputs or of the error counts.
  const json vibration_alerts = vibration.Get("/api/v1/alerts?kind=drift&limit=1000");
  const json* first_alert = nullptr;
  std::set<std::string> vibration_modes;
  // Only those opened from day 60 on: the replay of the training period starts with every
  // simulated machine in the same regime, which its first hours of windows show.
  auto watched = [](const json& a) { return a["time"].get<std::string>() >= kTrainEnd; };
  for (const json& a : vibration_alerts["alerts"]) {  // newest first
    if (!watched(a)) continue;
    vibration_modes.insert(a["failure_mode"].get<std::string>());
    if (a["failure_mode"] == "fleet/vibration_rms") first_alert = &a;
  }
  ASSERT_NE(first_alert, nullptr) << vibration_alerts.dump();
  EXPECT_EQ((*first_alert)["kind"], "drift");
  EXPECT_EQ((*first_alert)["machine"], "");
  EXPECT_EQ((*first_alert)["time"], vibration_at) << "opened by the evaluation that found it";
  EXPECT_THAT((*first_alert)["message"].get<std::string>(),
              ::testing::StartsWith("vibration_rms: "));
  EXPECT_THAT(vibration_modes, ::testing::IsSubsetOf({"fleet/vibration_rms", "fleet/errors"}));
  std::set<std::string> plain_modes, ambient_modes;
  // (Each list held in a variable: a temporary's member does not outlive the loop's header.)
  const json plain_alerts = plain.Get("/api/v1/alerts?kind=drift&limit=1000");
  int plain_drift_alerts = 0;
  for (const json& a : plain_alerts["alerts"]) {
    if (!watched(a)) continue;
    ++plain_drift_alerts;
    plain_modes.insert(a["failure_mode"].get<std::string>());
    if (a["state"] == "resolved") {
      EXPECT_EQ(a["resolution"], "drift_ended");
    }
  }
  EXPECT_THAT(plain_modes, ::testing::IsSubsetOf({"fleet/errors"}));
  std::printf("drift alerts on the unchanged fleet over days 60-120: %d (error counts)\n",
              plain_drift_alerts);
  RecordProperty("stationary_drift_alerts", plain_drift_alerts);
  const json ambient_alerts = ambient.Get("/api/v1/alerts?kind=drift&limit=1000");
  for (const json& a : ambient_alerts["alerts"]) {
    if (!watched(a)) continue;
    ambient_modes.insert(a["failure_mode"].get<std::string>());
  }
  EXPECT_THAT(ambient_modes, ::testing::Contains("fleet/air_temperature"));
  EXPECT_THAT(ambient_modes,
              ::testing::IsSubsetOf({"fleet/air_temperature", "fleet/process_temperature",
                                     "fleet/bearing_temperature", "fleet/errors"}));
  bool told = false;
  for (int tries = 0; tries < 100 && !told; ++tries) {
    for (const testing::ReceivedWebhook& r : vibration_hooks.received()) {
      const json body = json::parse(r.body, nullptr, false);
      if (body.is_object() && body["alert"]["id"] == (*first_alert)["id"] &&
          body["event"] == "opened") {
        told = true;
      }
    }
    if (!told) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_TRUE(told) << "the drift alert's webhook never arrived";

  // Maintenance alerts on the unchanged fleet: every failure that the served threshold caught
  // (the alert rules' persistence met in the 48 h horizon before it: three alarm readings of the
  // machine in a row) opened exactly one alert before it, since the machine's previous
  // maintenance or failure, and the webhook told of it once. A failure with only scattered
  // alarms opens at most one.
  std::map<std::string, std::vector<std::string>> resets;  // machine -> event times
  for (const char* file : {"failures.csv", "maintenance.csv"}) {
    for (const CsvRow& row : ReadCsv(*dir_ / "sim" / file)) {
      resets[row.at("machine_id")].push_back(row.at("timestamp"));
    }
  }
  json risk_alerts = json::array();
  for (std::string before; risk_alerts.size() < 5000;) {  // pages of 500, newest first
    const json page = plain.Get("/api/v1/alerts?kind=failure_risk&limit=500" +
                                (before.empty() ? "" : "&before=" + before));
    for (const json& alert : page["alerts"]) risk_alerts.push_back(alert);
    if (!page.contains("next_before") || page["next_before"].is_null()) break;
    before = std::to_string(page["next_before"].get<int64_t>());
  }
  std::map<int64_t, int> told_opened;  // alert id -> "opened" webhooks received
  for (int tries = 0; tries < 100; ++tries) {
    told_opened.clear();
    for (const testing::ReceivedWebhook& r : plain_hooks.received()) {
      const json body = json::parse(r.body, nullptr, false);
      if (body.is_object() && body["event"] == "opened" &&
          body["alert"]["kind"] == "failure_risk") {
        ++told_opened[body["alert"]["id"].get<int64_t>()];
      }
    }
    if (told_opened.size() >= risk_alerts.size()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  int caught = 0, missed = 0;
  for (const CsvRow& failure : ReadCsv(*dir_ / "sim" / "failures.csv")) {
    const std::string& machine = failure.at("machine_id");
    const std::string& at = failure.at("timestamp");
    if (at < kTrainEnd) continue;
    const std::string horizon_start = HoursAfter(at, -48);
    int run = 0, longest = 0;  // alarm readings in a row within the horizon
    for (const auto& [t, alarm] : readings[machine]) {
      if (t < horizon_start || t >= at) continue;
      run = alarm ? run + 1 : 0;
      longest = std::max(longest, run);
    }
    const bool persisted = longest >= 3;  // the default --alert-consecutive
    if (persisted) {
      ++caught;
    } else {
      ++missed;
    }
    std::string since;  // the machine's last maintenance or failure before this failure
    for (const std::string& t : resets[machine]) {
      if (t < at && t > since) since = t;
    }
    std::vector<int64_t> opened;
    for (const json& alert : risk_alerts) {
      const std::string t = alert["time"];
      if (alert["machine"] == machine && t >= since && t <= at) opened.push_back(alert["id"]);
    }
    if (persisted) {
      EXPECT_EQ(opened.size(), 1u) << machine << " failed at " << at << " after " << since;
    } else {
      EXPECT_LE(opened.size(), 1u) << machine << " failed at " << at << " after " << since;
    }
    for (int64_t id : opened) EXPECT_EQ(told_opened[id], 1) << "alert " << id;
  }
  EXPECT_GT(caught, 3) << "failures caught by the threshold in days 60-120";
  std::printf(
      "alerts: %d failures caught by the served threshold (3 alarms in a row), each with one "
      "alert before it; %d not caught; %zu failure-risk alerts in all\n",
      caught, missed, risk_alerts.size());
  RecordProperty("failures_caught_with_one_alert", caught);

  // Realised performance: failure events label the readings before them. Every scored reading
  // is labelled or waiting, and the true positives are the alarms that a failure followed within
  // the 48 h horizon, counted here independently.
  const json realised = plain.Get("/api/v1/performance")["realised"];
  ASSERT_TRUE(realised.is_object()) << plain.Get("/api/v1/performance").dump();
  EXPECT_EQ(realised["horizon"], 48 * 3600);
  EXPECT_EQ(realised["labelled"].get<size_t>() + realised["pending"].get<size_t>() +
                realised["dropped"].get<size_t>(),
            accepted);
  int64_t expected_tp = 0;
  std::map<std::string, std::vector<std::string>> failures_of;
  for (const CsvRow& row : ReadCsv(*dir_ / "sim" / "failures.csv")) {
    failures_of[row.at("machine_id")].push_back(row.at("timestamp"));
  }
  for (const auto& [machine, list] : readings) {
    for (const auto& [t, alarm] : list) {
      if (!alarm) continue;
      const std::string until = HoursAfter(t, 48);
      for (const std::string& f : failures_of[machine]) {
        if (f > t && f <= until) {
          ++expected_tp;
          break;
        }
      }
    }
  }
  EXPECT_EQ(realised["confusion_matrix"][1][1].get<int64_t>(), expected_tp);
  EXPECT_GT(expected_tp, 0);
  EXPECT_EQ(realised["failures"].get<size_t>(), ReadCsv(*dir_ / "sim" / "failures.csv").size());
  std::printf("realised: precision %.3f recall %.3f f1 %.3f over %lld labelled readings\n",
              realised["precision"].get<double>(), realised["recall"].get<double>(),
              realised["f1"].get<double>(),
              static_cast<long long>(realised["labelled"].get<int64_t>()));
  const Reply scrape = Send(plain.served.port, Request("GET", "/metrics", "", ""));
  EXPECT_THAT(scrape.body, ::testing::HasSubstr("pdm_realised_f1 "));
  EXPECT_THAT(scrape.body, ::testing::HasSubstr("pdm_realised_labelled "));

  // The drift route's shape: statistics, thresholds, the fast window, histograms, the window.
  ASSERT_TRUE(at_day_76.is_object());
  EXPECT_EQ(at_day_76["evaluated_at"], "2025-03-18T00:00:00Z");
  const json drift = vibration.Get("/api/v1/drift");
  EXPECT_EQ(drift["model"], "fleet");
  EXPECT_EQ(drift["window"]["span"], "1d");
  EXPECT_GE(drift["window"]["rows"].get<int>(), 22 * 20);
  EXPECT_LE(drift["window"]["rows"].get<int>(), 24 * 20);
  EXPECT_EQ(drift["thresholds"]["calibrated_for"], "1d");
  const json* raw = Column(drift, "vibration_rms");
  ASSERT_NE(raw, nullptr);
  for (const char* key : {"psi", "ks", "jensen_shannon", "wasserstein", "median_shift"}) {
    EXPECT_TRUE((*raw)["statistics"][key].is_number()) << key;
  }
  EXPECT_TRUE((*raw)["fast_window"]["median_shift"].is_number());
  EXPECT_GT((*raw)["fast_window"]["median_shift"].get<double>(), 0) << "vibration rose";
  // The load setpoints are the regimes: the window's rows per regime, all known.
  EXPECT_EQ(drift["regimes"]["feature"], "regime");
  ASSERT_EQ(drift["regimes"]["window_rows"].size(), 3u);
  int64_t in_regimes = 0;
  for (const json& n : drift["regimes"]["window_rows"]) in_regimes += n.get<int64_t>();
  EXPECT_EQ(in_regimes + drift["regimes"]["unknown_rows"].get<int64_t>(),
            drift["window"]["rows"].get<int64_t>());
  EXPECT_EQ(drift["window"]["sampled_rows"], drift["window"]["rows"]) << "20 rows an hour";
  EXPECT_EQ(
      drift["data_quality"]["refused"].get<int64_t>(),
      drift["data_quality"]["readings"].get<int64_t>() - drift["window"]["rows"].get<int64_t>());
  EXPECT_EQ((*raw)["kind"], "current");
  EXPECT_EQ((*raw)["thresholds"]["source"], "calibrated");
  EXPECT_GE((*raw)["thresholds"]["drift"].get<double>(), 0.25);
  EXPECT_TRUE((*raw)["fast_window"]["psi"].is_number());
  EXPECT_GT((*raw)["fast_window"]["rows"].get<int>(), 5 * 20 - 1);
  EXPECT_EQ((*raw)["histogram"]["reference"].size(), (*raw)["histogram"]["current"].size());
  EXPECT_EQ((*raw)["histogram"]["upper_edges"].size() + 1, (*raw)["histogram"]["reference"].size());
  EXPECT_EQ((*Column(drift, "age"))["status"], "not_monitored");
  EXPECT_EQ(drift["features_monitored"].get<int>() + 7, static_cast<int>(drift["features"].size()))
      << "all but the 7 clocks";
  EXPECT_TRUE(drift["score"]["statistics"]["psi"].is_number());

  const json performance = vibration.Get("/api/v1/performance");
  ASSERT_TRUE(performance["estimated"].is_object()) << performance.dump();
  EXPECT_EQ(performance["estimated"]["method"], "cbpe");
  EXPECT_GT(performance["estimated"]["rows"].get<int>(), 400);
  const double rate = performance["estimated"]["expected_failure_rate"].get<double>();
  EXPECT_GT(rate, 0);
  EXPECT_LT(rate, 0.5);

  const Reply metrics = Send(vibration.served.port, Request("GET", "/metrics", "", ""));
  EXPECT_THAT(metrics.body,
              ::testing::HasSubstr("pdm_feature_drift{feature=\"score\",statistic=\"psi\"}"));
  EXPECT_THAT(metrics.body, ::testing::HasSubstr("pdm_drift_status{feature=\"vibration_rms"));
  EXPECT_THAT(metrics.body, ::testing::HasSubstr("pdm_dataset_drift "));
  EXPECT_THAT(metrics.body, ::testing::HasSubstr("pdm_estimated_f1 "));
  EXPECT_THAT(metrics.body, ::testing::HasSubstr("pdm_drift_window_rows "));
}

// Readings refused for a field show in the drift report's data quality and in Prometheus: two
// machines of 20 send their vibration as text for a day, another a malformed time now and then,
// and a gateway adds a column the spec does not know.
TEST_F(DriftTest, RefusedFieldsAreDataQualityPerField) {
  Server server({"--registry", *registry_, "--model", "fleet", "--threads", "1",
                 "--no-store-telemetry", "--drift-min-rows", "200"});
  ASSERT_NE(server.served.port, 0) << server.served.first_line;
  const Replay replay = MakeReplay("sim");
  size_t accepted = 0, refused = 0, posted = 0;
  for (size_t h = 0; h < 24 * 10; ++h) {
    json body = replay.hours[h].second;
    if (h >= 24 * 9) {
      for (json& reading : body["readings"]) {
        if (reading["machine"] == "M0003" || reading["machine"] == "M0004") {
          reading["values"]["vibration_rms"] = "n/a";
        }
        if (reading["machine"] == "M0007" && h % 6 == 0) reading["time"] = "yesterday";
        if (reading["machine"] == "M0011" && h % 12 == 0) reading["values"]["humidity"] = 40;
      }
    }
    posted += body["readings"].size();
    PostHour(server, replay.hours[h].first, body, &accepted, &refused);
  }
  EXPECT_EQ(accepted + refused, posted);
  const json drift = server.Get("/api/v1/drift?histograms=false");
  const json& quality = drift["data_quality"];
  std::map<std::string, json> fields;
  for (const json& f : quality["fields"]) fields[f["field"]] = f;
  ASSERT_TRUE(fields.count("values.vibration_rms")) << quality.dump();
  EXPECT_GE(fields["values.vibration_rms"]["refused"].get<int>(), 44) << "a day of 2 machines";
  EXPECT_NEAR(fields["values.vibration_rms"]["share"].get<double>(), 2.0 / 20, 0.01);
  EXPECT_EQ(fields["values.vibration_rms"]["status"], "drift");
  ASSERT_TRUE(fields.count("time")) << quality.dump();
  EXPECT_EQ(fields["time"]["refused"].get<int>(), 4);
  EXPECT_EQ(fields["time"]["status"], "ok");
  ASSERT_TRUE(fields.count("other")) << "an unknown column: " << quality.dump();
  EXPECT_EQ(quality["readings"].get<int64_t>(),
            drift["window"]["rows"].get<int64_t>() + quality["refused"].get<int64_t>());
  EXPECT_EQ(quality["fields"][0]["field"], "values.vibration_rms") << "most refused first";
  const Reply metrics = Send(server.served.port, Request("GET", "/metrics", "", ""));
  EXPECT_THAT(metrics.body,
              ::testing::HasSubstr("pdm_telemetry_refusal_share{field=\"values.vibration_rms\"}"));
  EXPECT_THAT(metrics.body, ::testing::HasSubstr("pdm_telemetry_refusal_share{field=\"all\"}"));
  EXPECT_THAT(metrics.body, ::testing::Not(::testing::HasSubstr("field=\"values.humidity\"")));
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
