// The live telemetry routes end to end: a fleet simulated and trained on, the model served by
// the real binary; raw readings and events posted machine by machine; risk, machine views,
// refusals and the rows stored through the Store.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <cmath>
#include <ctime>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "core/time.h"
#include "nlohmann/json.hpp"
#include "store/store.h"
#include "tests/testing/csv.h"
#include "tests/testing/http_client.h"
#include "tests/testing/pdm_cli.h"
#include "tests/testing/test_paths.h"
#include "tests/testing/webhook_receiver.h"

namespace pdm {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using json = nlohmann::json;
using testing::ReadCsv;
using testing::Reply;
using testing::Request;
using testing::Send;

class TelemetryTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new fs::path(testing::TempDir("telemetry"));
    const std::string sim = (*dir_ / "sim").string();
    const std::string registry = (*dir_ / "registry").string();
    ASSERT_EQ(testing::Pdm("simulate --machines 12 --duration 60d --interval 2h --out " + sim).code,
              0);
    const testing::Result trained =
        testing::Pdm("train --spec " + sim + "/spec.yaml --models xgb --cv 2 --threads 1 --out " +
                     (*dir_ / "run").string() + " --register --name fleet --registry " + registry);
    ASSERT_EQ(trained.code, 0) << trained.err;
    ASSERT_EQ(testing::Pdm("models promote fleet 1 --alias production --registry " + registry).code,
              0);
    ASSERT_EQ(
        testing::Pdm("features --spec " + sim + "/spec.yaml --out " + sim + "/features.csv").code,
        0);
    const testing::ServeProcess served = testing::StartServe(
        {"--registry", registry, "--model", "fleet", "--threads", "2", "--max-machines", "5"},
        "test-token");
    pid_ = served.pid;
    port_ = served.port;
    ASSERT_NE(port_, 0) << served.first_line;
    const json models = json::parse(Send(port_, Request("GET", "/api/v1/models", "", "")).body);
    features_ = new std::vector<std::string>(
        models["models"][0]["features"].get<std::vector<std::string>>());
  }

  static void TearDownTestSuite() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }

  static Reply Post(const std::string& target, const json& body) {
    return Send(port_, Request("POST", target, body.dump()));
  }
  static Reply Get(const std::string& target) {
    return Send(port_, Request("GET", target, "", ""));
  }

  // The reading of one telemetry.csv row: every sensor and setting as a number.
  static json ReadingOf(const std::map<std::string, std::string>& row) {
    json values = json::object();
    for (const auto& [column, text] : row) {
      if (column == "timestamp" || column == "machine_id") continue;
      values[column] = text.empty() ? json(nullptr) : json(std::stod(text));
    }
    return {{"machine", row.at("machine_id")}, {"time", row.at("timestamp")}, {"values", values}};
  }

  // A machine's maintenance, failures and errors in the simulator's files, oldest first.
  struct Event {
    std::string time, type, kind;
  };
  static std::vector<Event> EventsOf(const std::string& machine) {
    std::vector<Event> events;
    for (const auto& [file, type, kind] : {std::tuple<std::string, std::string, std::string>{
                                               "maintenance.csv", "maintenance", "component"},
                                           {"failures.csv", "failure", "mode"},
                                           {"errors.csv", "error", "code"}}) {
      for (const auto& row : ReadCsv(*dir_ / "sim" / file)) {
        if (row.at("machine_id") == machine)
          events.push_back({row.at("timestamp"), type, row.at(kind)});
      }
    }
    std::sort(events.begin(), events.end(),
              [](const Event& a, const Event& b) { return a.time < b.time; });
    return events;
  }
  // The events after `after` up to `time` (those at a reading's time belong before it), as the
  // telemetry body's "events"; `next` walks `events`.
  static json EventsUpTo(const std::vector<Event>& events, const std::string& machine,
                         const std::string& after, const std::string& time, size_t* next) {
    json out = json::array();
    while (*next < events.size() && events[*next].time <= time) {
      const Event& e = events[(*next)++];
      if (e.time <= after) continue;
      out.push_back({{"machine", machine}, {"time", e.time}, {"type", e.type}, {"kind", e.kind}});
    }
    return out;
  }

  // The machine's attributes in machines.csv (sent with its first reading).
  static json AttributesOf(const std::string& machine) {
    json attributes = json::object();
    for (const auto& row : ReadCsv(*dir_ / "sim" / "machines.csv")) {
      if (row.at("machine_id") != machine) continue;
      for (const auto& [column, text] : row) {
        if (column == "machine_id") continue;
        attributes[column] = column == "model" ? json(text) : json(std::stod(text));
      }
    }
    return attributes;
  }

  static inline fs::path* dir_ = nullptr;
  static inline pid_t pid_ = -1;
  static inline uint16_t port_ = 0;
  static inline std::vector<std::string>* features_ = nullptr;
};

// The server's risk for each live reading equals the model's score of the batch feature row of
// the same machine and time (`pdm features`): one feature implementation for both.
TEST_F(TelemetryTest, LiveRiskEqualsTheScoreOfTheBatchFeatures) {
  const fs::path sim = *dir_ / "sim";
  const auto telemetry = ReadCsv(sim / "telemetry.csv");
  const auto batch = ReadCsv(sim / "features.csv");
  std::map<std::string, const std::map<std::string, std::string>*> batch_at;  // time -> row
  for (const auto& row : batch) {
    if (row.at("machine_id") == "M0001") batch_at[row.at("timestamp")] = &row;
  }
  const std::vector<Event> events = EventsOf("M0001");
  const json attributes = AttributesOf("M0001");

  size_t compared = 0, next_event = 0, events_sent = 0;
  std::string previous_time;
  for (const auto& row : telemetry) {
    if (row.at("machine_id") != "M0001") continue;
    const std::string& time = row.at("timestamp");
    json request = {{"readings", {ReadingOf(row)}}};
    if (compared == 0) request["readings"][0]["attributes"] = attributes;
    const json sent_events = EventsUpTo(events, "M0001", previous_time, time, &next_event);
    events_sent += sent_events.size();
    if (!sent_events.empty()) request["events"] = sent_events;
    const Reply r = Post("/api/v1/telemetry", request);
    ASSERT_EQ(r.status, 200) << r.body;
    const json out = json::parse(r.body);
    ASSERT_EQ(out["accepted"], 1) << r.body;
    ASSERT_EQ(out["events_applied"], sent_events.size()) << r.body;
    const double live = out["machines"][0]["probability"].get<double>();

    json record = json::object();
    const auto& features = *batch_at.at(time);
    for (const std::string& f : *features_) {
      const std::string& text = features.at(f);
      record[f] = text.empty() ? json(nullptr) : json(std::stod(text));
    }
    const Reply scored = Post("/api/v1/predict", record);
    ASSERT_EQ(scored.status, 200) << scored.body;
    EXPECT_NEAR(live, json::parse(scored.body)["probability"].get<double>(), 1e-6)
        << "M0001 at " << time;
    previous_time = time;
    if (++compared == 120) break;
  }
  EXPECT_EQ(compared, 120u);
  EXPECT_GT(events_sent, 0u) << "choose a seed whose M0001 has events in its first 10 days";

  const json machine = json::parse(Get("/api/v1/machines/M0001").body);
  EXPECT_EQ(machine["readings"], 120);
  EXPECT_EQ(machine["history"].size(), 100u);  // the last 100 risk points
  EXPECT_TRUE(machine["last_readings"]["vibration_rms"].is_number());
}

// --score-every throttles scoring per machine while every reading advances the features: with
// readings 2 hours apart and `--score-every 6h`, every third reading is scored, and each scored
// risk still equals the score of the batch feature row (the skipped readings were in the windows).
TEST_F(TelemetryTest, ScoreEveryThrottlesScoringButNotTheFeatures) {
  const fs::path sim = *dir_ / "sim";
  const std::string registry = (*dir_ / "registry").string();
  for (const auto& [value, expected] : std::vector<std::pair<std::string, std::string>>{
           {"5x", "--score-every '5x'"}, {"-1m", "--score-every '-1m'"}}) {
    const testing::Result r =
        testing::Pdm("serve --registry " + registry + " --port 0 --score-every " + value);
    EXPECT_NE(r.code, 0) << value;
    EXPECT_THAT(r.err, HasSubstr(expected)) << value;
  }
  const auto batch = ReadCsv(sim / "features.csv");
  const auto telemetry = ReadCsv(sim / "telemetry.csv");
  // In data time ("6h") and in readings ("3r"): every third of readings 2 hours apart. One
  // machine each: the servers share the store, which keeps the machines' risk history.
  for (const auto& [every, machine_id] :
       std::vector<std::pair<std::string, std::string>>{{"6h", "M0010"}, {"3r", "M0011"}}) {
    std::map<std::string, const std::map<std::string, std::string>*> batch_at;  // time -> row
    for (const auto& row : batch) {
      if (row.at("machine_id") == machine_id) batch_at[row.at("timestamp")] = &row;
    }
    const std::vector<Event> events = EventsOf(machine_id);
    SCOPED_TRACE(every);
    const testing::ServeProcess throttled = testing::StartServe(
        {"--registry", registry, "--model", "fleet", "--score-every", every}, "test-token");
    ASSERT_NE(throttled.port, 0) << throttled.first_line;
    size_t accepted = 0, scored = 0, unscored = 0, next_event = 0, since_scored = 0;
    double last_scored = -1;
    std::string previous_time;
    for (const auto& row : telemetry) {
      if (row.at("machine_id") != machine_id) continue;
      json request = {{"readings", {ReadingOf(row)}}};
      if (accepted == 0) request["readings"][0]["attributes"] = AttributesOf(machine_id);
      request["events"] =
          EventsUpTo(events, machine_id, previous_time, row.at("timestamp"), &next_event);
      previous_time = row.at("timestamp");
      Reply r = Send(throttled.port, Request("POST", "/api/v1/telemetry", request.dump()));
      if (r.status == 422) {
        // The simulator's out-of-range values: the batch features have them as missing, so send
        // them as missing.
        const json refused = json::parse(r.body);
        for (const json& d : refused["details"]) {
          const std::string field = d["field"];
          ASSERT_TRUE(field.starts_with("readings[0].values.")) << r.body;
          request["readings"][0]["values"][field.substr(19)] = nullptr;
        }
        request.erase("events");  // applied by the first try
        r = Send(throttled.port, Request("POST", "/api/v1/telemetry", request.dump()));
      }
      ASSERT_EQ(r.status, 200) << r.body;
      const json out = json::parse(r.body);
      ASSERT_EQ(out["accepted"], 1) << r.body;
      double time = 0;
      ASSERT_TRUE(core::ParseTimestamp(row.at("timestamp"), &time));
      ++since_scored;
      const bool due =
          last_scored < 0 || (every == "6h" ? time - last_scored >= 6 * 3600 : since_scored >= 3);
      if (!due) {
        EXPECT_EQ(out.value("unscored", 0), 1) << row.at("timestamp") << ": " << r.body;
        EXPECT_TRUE(out["machines"].empty()) << r.body;
        ++unscored;
      } else {
        EXPECT_FALSE(out.contains("unscored")) << row.at("timestamp") << ": " << r.body;
        ASSERT_EQ(out["machines"].size(), 1u) << r.body;
        json record = json::object();
        const auto& features = *batch_at.at(row.at("timestamp"));
        for (const std::string& f : *features_) {
          const std::string& text = features.at(f);
          record[f] = text.empty() ? json(nullptr) : json(std::stod(text));
        }
        const Reply expected = Post("/api/v1/predict", record);
        ASSERT_EQ(expected.status, 200) << expected.body;
        EXPECT_NEAR(out["machines"][0]["probability"].get<double>(),
                    json::parse(expected.body)["probability"].get<double>(), 1e-6)
            << machine_id << " at " << row.at("timestamp");
        last_scored = time;
        since_scored = 0;
        ++scored;
      }
      if (++accepted == 30) break;
    }
    EXPECT_EQ(accepted, 30u);
    EXPECT_GE(unscored, 15u);  // readings 2 hours apart: about two in three
    const json machine = json::parse(
        Send(throttled.port, Request("GET", "/api/v1/machines/" + machine_id, "", "")).body);
    EXPECT_EQ(machine["readings"], 30);            // every accepted reading counted and kept
    EXPECT_EQ(machine["history"].size(), scored);  // only scored readings have a risk
    ::kill(throttled.pid, SIGKILL);
    ::waitpid(throttled.pid, nullptr, 0);
  }
}

// The value of one series (`name{labels}` exactly as rendered) in a scrape; NaN when absent.
double SeriesValue(const std::string& scrape, const std::string& series) {
  std::istringstream lines(scrape);
  for (std::string line; std::getline(lines, line);) {
    if (line.size() > series.size() && line.compare(0, series.size(), series) == 0 &&
        line[series.size()] == ' ') {
      return std::stod(line.substr(series.size() + 1));
    }
  }
  return std::nan("");
}

TEST_F(TelemetryTest, RefusalsMachineViewsAndTheStore) {
  const std::string accepted_series = R"(pdm_telemetry_readings_total{result="accepted"})";
  const std::string refused_series = R"(pdm_telemetry_readings_total{result="refused"})";
  const std::string before = Get("/metrics").body;
  const json good = {{"machine", "M0002"},
                     {"time", "2025-03-01T00:00:00Z"},
                     {"values", {{"vibration_rms", 2.5}, {"bearing_temperature", 45.0}}}};
  json unknown = good, out_of_range = good, bad_time = good, late = good, no_values = good;
  unknown["values"]["vibration"] = 1.0;
  out_of_range["values"]["vibration_rms"] = 75.0;
  out_of_range["time"] = "2025-03-01T01:00:00Z";
  bad_time["time"] = "yesterday";
  late["time"] = "2025-02-28T23:00:00Z";  // before the accepted reading: out of order
  no_values["time"] = "2025-03-01T02:00:00Z";
  no_values["values"] = json::object();
  json next = good;
  next["time"] = 1740790800;  // 2025-03-01T01:00:00Z as epoch seconds
  const json request = {
      {"readings", {good, unknown, out_of_range, bad_time, late, no_values, next}},
      {"events", {{{"machine", "M0002"}, {"time", "2025-02-01T00:00:00Z"}, {"type", "repair"}}}}};
  const Reply r = Post("/api/v1/telemetry", request);
  ASSERT_EQ(r.status, 200) << r.body;
  const json out = json::parse(r.body);
  EXPECT_EQ(out["accepted"], 2);
  EXPECT_EQ(out["refused"], 5);
  EXPECT_EQ(out["events_refused"], 1);
  EXPECT_EQ(out["stored"], true);
  const std::string after = Get("/metrics").body;
  EXPECT_EQ(SeriesValue(after, accepted_series) - SeriesValue(before, accepted_series), 2.0);
  EXPECT_EQ(SeriesValue(after, refused_series) - SeriesValue(before, refused_series), 5.0);
  const double last_accepted = SeriesValue(after, "pdm_telemetry_last_accepted_timestamp_seconds");
  EXPECT_NEAR(last_accepted, static_cast<double>(std::time(nullptr)), 60.0);
  std::map<std::string, std::string> reasons;  // field -> reason
  for (const json& e : out["errors"]) {
    for (const json& d : e["details"]) reasons[d["field"]] = d["reason"];
  }
  EXPECT_EQ(reasons["readings[1].values.vibration"], "unknown field");
  EXPECT_EQ(reasons["readings[2].values.vibration_rms"], "out of range [0, 50]");
  EXPECT_EQ(reasons["readings[3].time"], "not an ISO 8601 timestamp");
  EXPECT_THAT(reasons["readings[4].time"], HasSubstr("out of order"));
  EXPECT_EQ(reasons["readings[5].values"], "no known sensor value");
  EXPECT_THAT(reasons["events[0].type"], HasSubstr("expected one of maintenance"));

  // Everything refused: 422 with the details.
  const Reply none = Post("/api/v1/telemetry", json{{"readings", {bad_time}}});
  EXPECT_EQ(none.status, 422);
  EXPECT_THAT(none.body, HasSubstr("readings[0].time"));
  EXPECT_EQ(Post("/api/v1/telemetry", json{{"readings", 3}}).status, 422);
  EXPECT_EQ(Post("/api/v1/telemetry", json::array()).status, 422);

  // At most --max-machines (5) machines are followed. M0001 is included so that the count is the
  // same whether or not the other test ran first in this process.
  for (const std::string machine : {"M0001", "M0003", "M0004", "M0005", "M0006"}) {
    json reading = good;
    reading["machine"] = machine;
    Post("/api/v1/telemetry", reading);
  }
  const json list = json::parse(Get("/api/v1/machines").body);
  EXPECT_EQ(list["count"], 5);
  EXPECT_EQ(Get("/api/v1/machines/M0005").status, 200);
  EXPECT_EQ(Get("/api/v1/machines/M0006").status, 404);
  json beyond = good;
  beyond["machine"] = "M0099";
  const Reply refused = Post("/api/v1/telemetry", beyond);
  EXPECT_EQ(refused.status, 422);
  EXPECT_THAT(refused.body, HasSubstr("--max-machines"));

  // Riskiest first, limit, the alarm filter, bad parameters.
  double previous = 2.0;
  for (const json& m : list["machines"]) {
    if (!m.contains("probability")) continue;
    EXPECT_LE(m["probability"].get<double>(), previous);
    previous = m["probability"].get<double>();
  }
  EXPECT_EQ(json::parse(Get("/api/v1/machines?limit=1").body)["machines"].size(), 1u);
  EXPECT_EQ(Get("/api/v1/machines?limit=0").status, 422);
  const json alarms = json::parse(Get("/api/v1/machines?alarm=true").body);
  for (const json& m : alarms["machines"]) {
    EXPECT_TRUE(m["alarm"].get<bool>());
  }
  const json m2 = json::parse(Get("/api/v1/machines/M0002").body);
  EXPECT_EQ(m2["readings"], 2);
  EXPECT_EQ(m2["refused"], 1);  // the out-of-order one reached the state; the others did not
  EXPECT_EQ(m2["time"], "2025-03-01T01:00:00Z");
  EXPECT_EQ(m2["last_readings"]["vibration_rms"], 2.5);
  EXPECT_EQ(m2["last_readings"]["pressure"], nullptr);
  EXPECT_EQ(m2["history"].size(), 2u);
  EXPECT_EQ(Get("/api/v1/machines/none").status, 404);

  // The accepted readings (one row per present value) and their scores are in the store.
  auto store = store::OpenStore("sqlite://" + (*dir_ / "registry" / "registry.db").string());
  ASSERT_TRUE(store.ok()) << store.status();
  const auto predictions = (*store)->RecentPredictions("M0002", 100);
  ASSERT_TRUE(predictions.ok());
  EXPECT_EQ(predictions->size(), 2u);
  EXPECT_EQ((*predictions)[0].model, "fleet");
  const auto rows = (*store)->RecentTelemetry("M0002", 100);
  ASSERT_TRUE(rows.ok());
  EXPECT_EQ(rows->size(), 4u);  // two readings of two values

  const std::string metrics = Get("/metrics").body;
  EXPECT_THAT(metrics, HasSubstr("pdm_online_machines 5"));
  EXPECT_THAT(metrics, HasSubstr(R"(pdm_validation_errors_total{reason="out_of_range"})"));
  // At-least-once delivery brings readings again: the last one, and an earlier one the windows
  // still hold, are duplicates (counted apart, never scored twice); an unknown earlier time is
  // out of order.
  json unseen = good;
  unseen["time"] = "2025-03-01T00:30:00Z";
  const Reply again = Post("/api/v1/telemetry", json{{"readings", {next, good, unseen}}});
  ASSERT_EQ(again.status, 422) << again.body;  // nothing accepted
  EXPECT_THAT(again.body, HasSubstr("readings[0].time"));
  EXPECT_THAT(again.body, HasSubstr("repeats the previous reading"));
  EXPECT_THAT(again.body, HasSubstr("was applied already"));
  EXPECT_THAT(again.body, HasSubstr("out of order"));
  json repeat_and_new = good;
  repeat_and_new["time"] = "2025-03-01T03:00:00Z";
  const Reply mixed = Post("/api/v1/telemetry", json{{"readings", {next, repeat_and_new}}});
  ASSERT_EQ(mixed.status, 200) << mixed.body;
  EXPECT_EQ(json::parse(mixed.body)["duplicates"], 1);
  EXPECT_EQ(json::parse(mixed.body)["refused"], 1);
}

}  // namespace
}  // namespace pdm

namespace pdm {
namespace {

// Maintenance alerts end to end: a server whose high threshold every reading reaches (so each
// machine's first reading opens a critical alert), the lifecycle through the routes, and the
// events that resolve an alert by themselves.
TEST_F(TelemetryTest, AlertsOpenOncePerMachineAndFollowTheirLifecycle) {
  const testing::ServeProcess served =
      testing::StartServe({"--registry", (*dir_ / "registry").string(), "--model", "fleet",
                           "--threads", "1", "--alert-high", "0", "--alert-cooldown", "2h"},
                          "test-token");
  ASSERT_NE(served.port, 0) << served.first_line;
  auto send = [&](const std::string& method, const std::string& target, const json& body,
                  const std::string& auth = "Authorization: Bearer test-token\r\n") {
    return Send(served.port, Request(method, target, body.is_null() ? "" : body.dump(),
                                     "application/json", auth));
  };
  auto reading = [](const std::string& machine, const std::string& time) {
    return json{{"machine", machine},
                {"time", time},
                {"values", {{"vibration_rms", 2.5}, {"bearing_temperature", 45.0}}}};
  };
  const json batch = {
      {"readings",
       {reading("ALERT-1", "2025-03-01T00:00:00Z"), reading("ALERT-1", "2025-03-01T01:00:00Z"),
        reading("ALERT-2", "2025-03-01T00:00:00Z")}}};
  Reply r = send("POST", "/api/v1/telemetry", batch);
  ASSERT_EQ(r.status, 200) << r.body;
  r = send("POST", "/api/v1/telemetry",
           {{"readings", {reading("ALERT-1", "2025-03-01T02:00:00Z")}}});
  ASSERT_EQ(r.status, 200) << r.body;

  r = send("GET", "/api/v1/alerts?state=open&machine=ALERT-1", nullptr);
  ASSERT_EQ(r.status, 200) << r.body;
  json alerts = json::parse(r.body)["alerts"];
  ASSERT_EQ(alerts.size(), 1u) << "three risky readings, one alert: " << r.body;
  EXPECT_EQ(alerts[0]["severity"], "critical");
  EXPECT_EQ(alerts[0]["kind"], "failure_risk");
  EXPECT_EQ(alerts[0]["time"], "2025-03-01T00:00:00Z");
  EXPECT_EQ(alerts[0]["model"], "fleet");
  const std::string id = std::to_string(alerts[0]["id"].get<int64_t>());
  EXPECT_EQ(
      json::parse(send("GET", "/api/v1/alerts?machine=ALERT-2", nullptr).body)["alerts"].size(),
      1u);

  // Actions need the token and a valid body.
  EXPECT_EQ(send("POST", "/api/v1/alerts/" + id + "/ack", {{"by", "ana"}}, "").status, 401);
  EXPECT_EQ(send("POST", "/api/v1/alerts/" + id + "/ack", json::object()).status, 422);
  EXPECT_EQ(send("POST", "/api/v1/alerts/" + id + "/ack", {{"by", "ana"}, {"extra", 1}}).status,
            422);
  EXPECT_EQ(send("POST", "/api/v1/alerts/999999/ack", {{"by", "ana"}}).status, 404);
  EXPECT_EQ(send("POST", "/api/v1/alerts/x/ack", {{"by", "ana"}}).status, 404);
  EXPECT_EQ(send("GET", "/api/v1/alerts?state=closed", nullptr).status, 422);
  r = send("POST", "/api/v1/alerts/" + id + "/ack", {{"by", "ana"}, {"note", "on my way"}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(json::parse(r.body)["state"], "acknowledged");
  EXPECT_EQ(send("POST", "/api/v1/alerts/" + id + "/ack", {{"by", "bo"}}).status, 409);
  EXPECT_EQ(send("POST", "/api/v1/alerts/" + id + "/resolve", {{"by", "ana"}, {"resolution", "ok"}})
                .status,
            422);
  r = send("POST", "/api/v1/alerts/" + id + "/resolve",
           {{"by", "ana"}, {"resolution", "no_fault_found"}, {"note", "sensor loose"}});
  ASSERT_EQ(r.status, 200) << r.body;
  json resolved = json::parse(r.body);
  EXPECT_EQ(resolved["state"], "resolved");
  EXPECT_EQ(resolved["resolution"], "no_fault_found");
  EXPECT_EQ(resolved["resolved_by"], "ana");
  ASSERT_EQ(resolved["history"].size(), 3u);
  EXPECT_EQ(resolved["history"][0]["event"], "opened");
  EXPECT_EQ(resolved["history"][1]["event"], "acknowledged");
  EXPECT_EQ(resolved["history"][2]["event"], "resolved");

  // The cooldown (2h of data time from the latest reading, 02:00) holds new alerts until 04:00.
  send("POST", "/api/v1/telemetry", {{"readings", {reading("ALERT-1", "2025-03-01T03:00:00Z")}}});
  EXPECT_TRUE(
      json::parse(
          send("GET", "/api/v1/alerts?state=active&machine=ALERT-1", nullptr).body)["alerts"]
          .empty());
  send("POST", "/api/v1/telemetry", {{"readings", {reading("ALERT-1", "2025-03-01T04:00:00Z")}}});
  alerts = json::parse(
      send("GET", "/api/v1/alerts?state=active&machine=ALERT-1", nullptr).body)["alerts"];
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0]["time"], "2025-03-01T04:00:00Z");

  // A maintenance event resolves it as maintenance_done.
  r = send(
      "POST", "/api/v1/telemetry",
      {{"events",
        {{{"machine", "ALERT-1"}, {"time", "2025-03-01T05:00:00Z"}, {"type", "maintenance"}}}}});
  ASSERT_EQ(r.status, 200) << r.body;
  const json after = json::parse(
      send("GET", "/api/v1/alerts/" + std::to_string(alerts[0]["id"].get<int64_t>()), nullptr)
          .body);
  EXPECT_EQ(after["state"], "resolved") << after.dump();
  EXPECT_EQ(after["resolution"], "maintenance_done");

  // Resolving ALERT-2's alert as a confirmed failure labels its reading for the realised
  // performance.
  const json before = json::parse(send("GET", "/api/v1/performance", nullptr).body)["realised"];
  ASSERT_TRUE(before.is_object()) << before.dump();
  EXPECT_EQ(before["failures_confirmed_by_alerts"], 0);
  const json open2 =
      json::parse(send("GET", "/api/v1/alerts?state=open&machine=ALERT-2", nullptr).body)["alerts"];
  ASSERT_EQ(open2.size(), 1u);
  r = send("POST", "/api/v1/alerts/" + std::to_string(open2[0]["id"].get<int64_t>()) + "/resolve",
           {{"by", "ana"}, {"resolution", "failure_confirmed"}});
  ASSERT_EQ(r.status, 200) << r.body;
  const json realised = json::parse(send("GET", "/api/v1/performance", nullptr).body)["realised"];
  EXPECT_EQ(realised["failures_confirmed_by_alerts"], 1);
  EXPECT_EQ(realised["failures"].get<int>(), before["failures"].get<int>() + 1);
  // Its one reading is now a positive (a true positive if the served threshold alarmed).
  auto positives = [](const json& x) {
    return x["confusion_matrix"][1][0].get<int>() + x["confusion_matrix"][1][1].get<int>();
  };
  EXPECT_EQ(positives(realised), positives(before) + 1);
  EXPECT_EQ(realised["pending"].get<int>(), before["pending"].get<int>() - 1);

  // The resolutions as the feedback table `pdm train --feedback` joins, oldest alert first.
  const testing::Result exported =
      testing::Pdm("alerts export --registry " + (*dir_ / "registry").string());
  ASSERT_EQ(exported.code, 0) << exported.err;
  std::vector<std::string> lines;
  std::istringstream csv(exported.out);
  for (std::string line; std::getline(csv, line);) lines.push_back(line);
  ASSERT_EQ(lines.size(), 4u) << exported.out;
  EXPECT_EQ(lines[0],
            "alert_id,machine_id,time,resolution,failure_mode,model,version,resolved_by,"
            "resolved_at");
  EXPECT_THAT(lines[1],
              HasSubstr(",ALERT-1,2025-03-01T00:00:00Z,no_fault_found,failure,fleet,1,ana,"));
  EXPECT_THAT(lines[2],
              HasSubstr(",ALERT-2,2025-03-01T00:00:00Z,failure_confirmed,failure,fleet,1,ana,"));
  EXPECT_THAT(lines[3],
              HasSubstr(",ALERT-1,2025-03-01T04:00:00Z,maintenance_done,failure,fleet,1,pdm,"));

  const std::string metrics = send("GET", "/metrics", nullptr).body;
  EXPECT_THAT(metrics, HasSubstr("pdm_alerts_open{severity=\"critical\"}"));
  EXPECT_THAT(metrics, HasSubstr("pdm_alerts_opened_total{severity=\"critical\"}"));
  ::kill(served.pid, SIGKILL);
  ::waitpid(served.pid, nullptr, 0);
}

}  // namespace
}  // namespace pdm

namespace pdm {
namespace {

// Alert webhooks end to end: a receiver that fails each delivery twice, then accepts, gets every
// alert event exactly once by idempotency key, signed with the server's secret; the outbox, the
// notifications route and the metrics agree.
TEST_F(TelemetryTest, WebhooksDeliverEachAlertEventOnceByKeyThroughFailures) {
  testing::WebhookReceiver receiver(testing::FailEachKeyFirst(2));
  ::setenv("PDM_WEBHOOK_SECRET", "hook-secret", 1);
  const testing::ServeProcess served =
      testing::StartServe({"--registry", (*dir_ / "registry").string(), "--model", "fleet",
                           "--threads", "1", "--alert-high", "0", "--webhook",
                           receiver.url("/hooks/T0/secret-part"), "--webhook-backoff-ms", "20"},
                          "test-token");
  ::unsetenv("PDM_WEBHOOK_SECRET");
  ASSERT_NE(served.port, 0) << served.first_line;
  auto send = [&](const std::string& method, const std::string& target, const json& body) {
    return Send(served.port, Request(method, target, body.is_null() ? "" : body.dump(),
                                     "application/json", "Authorization: Bearer test-token\r\n"));
  };
  json readings = json::array();
  for (const char* machine : {"HOOK-1", "HOOK-2", "HOOK-3"}) {
    readings.push_back({{"machine", machine},
                        {"time", "2025-04-01T00:00:00Z"},
                        {"values", {{"vibration_rms", 2.5}}}});
  }
  ASSERT_EQ(send("POST", "/api/v1/telemetry", {{"readings", readings}}).status, 200);
  json alerts = json::parse(send("GET", "/api/v1/alerts?state=open", nullptr).body)["alerts"];
  std::map<std::string, int64_t> alert_of;  // machine -> alert id
  for (const json& a : alerts) {
    if (a["machine"].get<std::string>().starts_with("HOOK-")) alert_of[a["machine"]] = a["id"];
  }
  ASSERT_EQ(alert_of.size(), 3u);
  // A resolution is an event too: four events in all.
  ASSERT_EQ(send("POST", "/api/v1/alerts/" + std::to_string(alert_of["HOOK-1"]) + "/resolve",
                 {{"by", "ana"}, {"resolution", "no_fault_found"}})
                .status,
            200);

  json outbox;
  for (int i = 0; i < 300; ++i) {
    outbox = json::parse(send("GET", "/api/v1/notifications?state=delivered", nullptr).body);
    if (outbox["counts"].value("delivered", 0) >= 4) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(outbox["counts"].value("delivered", 0), 4) << outbox.dump();
  EXPECT_EQ(outbox["counts"].value("pending", 0), 0) << outbox.dump();
  EXPECT_EQ(outbox["webhooks"], 1);
  for (const json& n : outbox["notifications"]) {
    EXPECT_EQ(n["attempts"], 3) << n.dump();
    EXPECT_EQ(n["target"], "http://127.0.0.1:" + std::to_string(receiver.port()))
        << "the URL's path may hold a secret: only the origin is shown";
  }

  std::map<std::string, int> accepted;  // idempotency key -> accepted deliveries
  std::map<std::string, std::string> event_of;
  std::set<int64_t> alerts_seen;
  for (const testing::ReceivedWebhook& r : receiver.received()) {
    const int64_t timestamp = std::stoll(r.headers.at("x-pdm-timestamp"));
    std::string message = std::to_string(timestamp) + "." + r.body;
    // The receiver's check: HMAC-SHA256 over "timestamp.body", here through openssl(1).
    const fs::path body_file = *dir_ / "webhook_body";
    std::ofstream(body_file, std::ios::binary) << message;
    const testing::Result mac =
        testing::Run("openssl dgst -sha256 -hmac hook-secret -r " + body_file.string());
    ASSERT_EQ(mac.code, 0) << mac.err;
    EXPECT_EQ(r.headers.at("x-pdm-signature"), "sha256=" + mac.out.substr(0, 64));
    const json body = json::parse(r.body);
    EXPECT_EQ(body["idempotency_key"], r.headers.at("idempotency-key"));
    EXPECT_EQ(body["event"], r.headers.at("x-pdm-event"));
    EXPECT_THAT(body["text"].get<std::string>(), HasSubstr(body["alert"]["machine"]));
    if (r.answered == 200) {
      ++accepted[r.headers.at("idempotency-key")];
      event_of[r.headers.at("idempotency-key")] = body["event"];
      alerts_seen.insert(body["alert"]["id"].get<int64_t>());
    }
  }
  ASSERT_EQ(accepted.size(), 4u);
  for (const auto& [key, n] : accepted) EXPECT_EQ(n, 1) << key;
  std::multiset<std::string> events;
  for (const auto& [key, event] : event_of) events.insert(event);
  EXPECT_EQ(events.count("opened"), 3u);
  EXPECT_EQ(events.count("resolved"), 1u);
  EXPECT_EQ(alerts_seen.size(), 3u);

  const std::string metrics = send("GET", "/metrics", nullptr).body;
  EXPECT_THAT(metrics, HasSubstr("pdm_alert_notifications_total{result=\"delivered\"} 4"));
  EXPECT_THAT(metrics, HasSubstr("pdm_alert_notifications_total{result=\"retried\"} 8"));
  EXPECT_THAT(metrics, HasSubstr("pdm_alert_notifications{state=\"dead\"} 0"));
  EXPECT_EQ(send("POST", "/api/v1/notifications/1/retry", nullptr).status, 404)
      << "only a dead notification is retried";
  EXPECT_EQ(send("GET", "/api/v1/notifications?state=lost", nullptr).status, 422);
  ::kill(served.pid, SIGKILL);
  ::waitpid(served.pid, nullptr, 0);
}

}  // namespace
}  // namespace pdm
