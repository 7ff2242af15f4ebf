// The routes the dashboard reads, against the real binary: the page and its files with their
// security headers, the fleet's server-side sorting, filtering and paging, the live event stream
// (Server-Sent Events over a real socket: risk, alert and model events), the registry's versions
// and alias moves (a promotion swaps the served model), a version's training report, and the
// business case with the served model's measured errors. tests/browser drives the pages.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <boost/asio.hpp>
#include <chrono>
#include <cmath>
#include <map>
#include <thread>

#include "nlohmann/json.hpp"
#include "tests/testing/csv.h"
#include "tests/testing/http_client.h"
#include "tests/testing/pdm_cli.h"
#include "tests/testing/test_paths.h"

namespace pdm {
namespace {

namespace fs = std::filesystem;
namespace net = boost::asio;
using ::testing::HasSubstr;
using json = nlohmann::json;
using testing::Reply;
using testing::Request;
using testing::Send;

constexpr char kToken[] = "dashboard-token";

class DashboardTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new fs::path(testing::TempDir("dashboard"));
    const std::string sim = (*dir_ / "sim").string();
    const std::string registry = (*dir_ / "registry").string();
    ASSERT_EQ(testing::Pdm("simulate --machines 12 --duration 60d --interval 2h --out " + sim).code,
              0);
    for (const char* seed : {"1", "2"}) {
      const testing::Result trained = testing::Pdm(
          "train --spec " + sim + "/spec.yaml --models xgb --cv 2 --threads 1 --seed " + seed +
          " --out " + (*dir_ / "run").string() + seed + " --register --name fleet --registry " +
          registry);
      ASSERT_EQ(trained.code, 0) << trained.err;
    }
    ASSERT_EQ(testing::Pdm("models promote fleet 1 --alias production --registry " + registry).code,
              0);
    const testing::ServeProcess served = testing::StartServe(
        {"--registry", registry, "--model", "fleet", "--threads", "2", "--watch-ms", "0", "--roi",
         (testing::SourceDir() / "specs/roi-bottom-up-example.yaml").string(),
         // A model trained on 12 machines scores low: a high-risk level that some readings pass
         // opens the alerts the stream test acts on.
         "--alert-high", "0.009",
         // Every machine's explanation, not only those at risk (the default; tested below).
         "--explain-all"},
        kToken);
    pid_ = served.pid;
    port_ = served.port;
    ASSERT_NE(port_, 0) << served.first_line;
    // Every machine's readings (the 60 days, no events: alerts stay open).
    json readings = json::array();
    std::map<std::string, bool> introduced;
    json attributes = json::object();
    for (const auto& row : testing::ReadCsv(*dir_ / "sim" / "machines.csv")) {
      attributes[row.at("machine_id")] = {{"model", row.at("model")}};
    }
    for (const auto& row : testing::ReadCsv(*dir_ / "sim" / "telemetry.csv")) {
      if (row.at("timestamp") >= "2025-03-02") continue;
      json values = json::object();
      for (const auto& [column, text] : row) {
        if (column == "timestamp" || column == "machine_id") continue;
        values[column] = text.empty() ? json(nullptr) : json(std::stod(text));
      }
      json r = {
          {"machine", row.at("machine_id")}, {"time", row.at("timestamp")}, {"values", values}};
      if (!introduced[row.at("machine_id")]) {
        introduced[row.at("machine_id")] = true;
        r["attributes"] = attributes[row.at("machine_id")];
      }
      readings.push_back(std::move(r));
    }
    // Sent in time order, a batch at a time (the route takes 1,000 records).
    std::stable_sort(readings.begin(), readings.end(),
                     [](const json& a, const json& b) { return a["time"] < b["time"]; });
    for (size_t i = 0; i < readings.size(); i += 500) {
      json batch = json::array();
      for (size_t j = i; j < std::min(readings.size(), i + 500); ++j) batch.push_back(readings[j]);
      const Reply r = Post("/api/v1/telemetry", {{"readings", batch}});
      ASSERT_EQ(r.status, 200) << r.body;
    }
  }

  static void TearDownTestSuite() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }

  static Reply Post(const std::string& target, const json& body, const std::string& token = "") {
    return Send(port_, Request("POST", target, body.dump(), "application/json",
                               token.empty() ? "" : "Authorization: Bearer " + token + "\r\n"));
  }
  static Reply Get(const std::string& target) {
    return Send(port_, Request("GET", target, "", ""));
  }
  static json GetJson(const std::string& target) {
    const Reply r = Get(target);
    EXPECT_EQ(r.status, 200) << target << ": " << r.body;
    return json::parse(r.body, nullptr, false);
  }

  static inline fs::path* dir_ = nullptr;
  static inline pid_t pid_ = -1;
  static inline uint16_t port_ = 0;
};

std::string Header(const Reply& r, const std::string& name) {
  const size_t at = r.head.find("\r\n" + name + ": ");
  if (at == std::string::npos) return "";
  const size_t begin = at + name.size() + 4;
  return r.head.substr(begin, r.head.find("\r\n", begin) - begin);
}

TEST_F(DashboardTest, ThePageAndItsFilesCarryTheSecurityHeaders) {
  const Reply page = Get("/");
  ASSERT_EQ(page.status, 200);
  EXPECT_EQ(Header(page, "Content-Type"), "text/html; charset=utf-8");
  EXPECT_THAT(page.body, HasSubstr("<script type=\"module\" src=\"/ui/app.js\">"));
  for (const Reply& r : {page, Get("/ui/app.js"), Get("/api/v1/machines")}) {
    EXPECT_THAT(Header(r, "Content-Security-Policy"), HasSubstr("script-src 'self'"));
    EXPECT_THAT(Header(r, "Content-Security-Policy"), HasSubstr("frame-ancestors 'none'"));
    EXPECT_EQ(Header(r, "X-Content-Type-Options"), "nosniff");
    EXPECT_EQ(Header(r, "X-Frame-Options"), "DENY");
    EXPECT_EQ(Header(r, "Referrer-Policy"), "no-referrer");
  }
  EXPECT_EQ(Header(Get("/ui/vendor/chart.min.js"), "Content-Type"),
            "text/javascript; charset=utf-8");
  EXPECT_EQ(Get("/ui/nothing.js").status, 404);
  EXPECT_EQ(Get("/ui/../etc/passwd").status, 404);
  EXPECT_EQ(Post("/ui/app.js", json::object()).status, 405);
  // No secret in the page: the token never appears in what the server sends.
  EXPECT_THAT(page.body, ::testing::Not(HasSubstr(kToken)));
  EXPECT_THAT(Get("/ui/app.js").body, ::testing::Not(HasSubstr(kToken)));
}

TEST_F(DashboardTest, TheFleetIsSortedFilteredAndPagedByTheServer) {
  const json all = GetJson("/api/v1/machines?limit=100");
  ASSERT_EQ(all["count"], 12);
  ASSERT_EQ(all["matched"], 12);
  ASSERT_EQ(all["machines"].size(), 12u);
  for (size_t i = 1; i < 12; ++i) {
    EXPECT_GE(all["machines"][i - 1]["probability"], all["machines"][i]["probability"]);
  }
  const json& first = all["machines"][0];
  EXPECT_EQ(first["trend"].size(), 32u) << "a full sparkline after 700 readings";
  EXPECT_NEAR(first["trend"].back().get<double>(), first["probability"].get<double>(), 1e-6);
  EXPECT_TRUE(first["attributes"].contains("model"));
  EXPECT_EQ(first["stale"], false);
  // Pages of 5 cover the same order.
  std::vector<std::string> paged;
  for (int offset = 0; offset < 12; offset += 5) {
    const json page = GetJson("/api/v1/machines?limit=5&offset=" + std::to_string(offset));
    EXPECT_EQ(page["matched"], 12);
    for (const json& m : page["machines"]) paged.push_back(m["machine"]);
  }
  ASSERT_EQ(paged.size(), 12u);
  for (size_t i = 0; i < 12; ++i) EXPECT_EQ(paged[i], all["machines"][i]["machine"]);
  // By name, both ways; by the attribute's facet.
  const json by_name = GetJson("/api/v1/machines?sort=machine&limit=2");
  EXPECT_EQ(by_name["machines"][0]["machine"], "M0001");
  EXPECT_EQ(GetJson("/api/v1/machines?sort=machine&order=desc&limit=1")["machines"][0]["machine"],
            "M0012");
  const json facets = all["facets"]["model"];
  ASSERT_FALSE(facets.empty());
  const std::string model = facets.begin().key();
  const json filtered = GetJson("/api/v1/machines?model=" + model);
  EXPECT_EQ(filtered["matched"], facets.begin().value());
  for (const json& m : filtered["machines"]) EXPECT_EQ(m["attributes"]["model"], model);
  EXPECT_EQ(GetJson("/api/v1/machines?q=M001")["matched"], 3);  // M0010..M0012
  const json alarms = GetJson("/api/v1/machines?state=alarm");
  EXPECT_EQ(alarms["matched"], all["alarms"]);
  for (const json& m : alarms["machines"]) EXPECT_EQ(m["alarm"], true);
  // Bad parameters name themselves.
  for (const char* bad :
       {"sort=size", "order=up", "state=broken", "offset=-1", "limit=0", "model=Z"}) {
    const Reply r = Get(std::string("/api/v1/machines?") + bad);
    EXPECT_EQ(r.status, 422) << bad;
    EXPECT_THAT(r.body, HasSubstr(std::string(bad).substr(0, std::string(bad).find('='))));
  }
}

TEST_F(DashboardTest, AMachineViewExplainsItsRiskAndShowsItsSensors) {
  const json m = GetJson("/api/v1/machines/M0003");
  ASSERT_TRUE(m.contains("contributions")) << m.dump();
  const json& top = m["contributions"]["top"];
  ASSERT_EQ(top.size(), 10u);
  for (size_t i = 1; i < top.size(); ++i) {
    EXPECT_GE(std::fabs(top[i - 1]["contribution"].get<double>()),
              std::fabs(top[i]["contribution"].get<double>()));
  }
  ASSERT_TRUE(m.contains("sensors"));
  ASSERT_TRUE(m["sensors"].contains("vibration_rms"));
  const json& series = m["sensors"]["vibration_rms"];
  EXPECT_GT(series.size(), 50u);
  EXPECT_LT(series.front()[0], series.back()[0]) << "oldest first";
  // The window statistics of each sensor at its latest reading.
  ASSERT_TRUE(m["windows"].contains("vibration_rms")) << m["windows"].dump();
  for (const auto& [feature, value] : m["windows"]["vibration_rms"].items()) {
    EXPECT_TRUE(feature.starts_with("vibration_rms")) << feature;
  }
  EXPECT_EQ(m["attributes"].size(), 1u);
  EXPECT_DOUBLE_EQ(m["interval"].get<double>(), 7200);
}

// By default a server keeps the features (for the explanation) of machines at risk only: a
// healthy machine's view has no contributions, one in alarm has them.
TEST_F(DashboardTest, ByDefaultOnlyMachinesAtRiskAreExplained) {
  const testing::ServeProcess plain =
      testing::StartServe({"--registry", (*dir_ / "registry").string(), "--model", "fleet",
                           "--threads", "1", "--watch-ms", "0", "--no-store-telemetry"},
                          kToken);
  ASSERT_NE(plain.port, 0) << plain.first_line;
  const json healthy = GetJson("/api/v1/machines/M0005");
  const json reading = {
      {"machine", "M0005"}, {"time", "2025-01-01T00:00:00Z"}, {"values", healthy["last_readings"]}};
  // A healthy machine's reading: its view has contributions only if the score put it at risk.
  const Reply sent = Send(plain.port, Request("POST", "/api/v1/telemetry",
                                              json{{"readings", json::array({reading})}}.dump()));
  ASSERT_EQ(sent.status, 200) << sent.body;
  const json answer = json::parse(sent.body);
  const bool at_risk = answer["machines"][0]["alarm"] == true ||
                       answer["machines"][0]["probability"].get<double>() >=
                           0.5 * GetJson("/api/v1/machines?limit=1")["threshold"].get<double>();
  const json view =
      json::parse(Send(plain.port, Request("GET", "/api/v1/machines/M0005", "", "")).body);
  EXPECT_EQ(view.contains("contributions"), at_risk) << view.dump();
  ::kill(plain.pid, SIGKILL);
  ::waitpid(plain.pid, nullptr, 0);
}

// A real socket on GET /api/v1/stream: the headers, then events as telemetry, an alert action
// and a promotion happen.
class EventStreamReader {
 public:
  explicit EventStreamReader(uint16_t port) : socket_(io_) {
    socket_.connect({net::ip::make_address("127.0.0.1"), port});
    const std::string request = "GET /api/v1/stream HTTP/1.1\r\nHost: x\r\n\r\n";
    net::write(socket_, net::buffer(request));
  }
  // Reads until `text` has arrived (true) or `seconds` passed.
  bool WaitFor(const std::string& text, int seconds = 10) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
    while (received_.find(text) == std::string::npos) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      if (socket_.available() == 0) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        continue;
      }
      char buffer[8192];
      const size_t n = socket_.read_some(net::buffer(buffer));
      received_.append(buffer, n);
    }
    return true;
  }
  const std::string& received() const { return received_; }

 private:
  net::io_context io_;
  net::ip::tcp::socket socket_;
  std::string received_;
};

TEST_F(DashboardTest, TheEventStreamTellsOfRiskAlertsAndModelSwaps) {
  EventStreamReader stream(port_);
  ASSERT_TRUE(stream.WaitFor("retry: 3000")) << stream.received();
  EXPECT_THAT(Get("/metrics").body, HasSubstr("\npdm_event_streams 1\n"));
  EXPECT_THAT(stream.received(), HasSubstr("Content-Type: text/event-stream"));
  EXPECT_THAT(stream.received(), HasSubstr("Transfer-Encoding: chunked"));
  // A reading: a risk event naming the machine.
  const json machine = GetJson("/api/v1/machines/M0005");
  const json reading = {
      {"machine", "M0005"}, {"time", "2025-03-02T00:00:00Z"}, {"values", machine["last_readings"]}};
  ASSERT_EQ(Post("/api/v1/telemetry", {{"readings", json::array({reading})}}).status, 200);
  ASSERT_TRUE(stream.WaitFor("event: risk\ndata: ")) << stream.received();
  EXPECT_TRUE(stream.WaitFor("\"machine\":\"M0005\""));
  // An alert action: an alert event with its new state.
  const json alerts = GetJson("/api/v1/alerts?state=open&kind=failure_risk&limit=1");
  ASSERT_FALSE(alerts["alerts"].empty()) << "readings above --alert-high open maintenance alerts";
  const int64_t id = alerts["alerts"][0]["id"];
  ASSERT_EQ(Post("/api/v1/alerts/" + std::to_string(id) + "/ack", {{"by", "test"}}, kToken).status,
            200);
  EXPECT_TRUE(stream.WaitFor("event: alert\ndata: {\"failure_mode\"")) << stream.received();
  EXPECT_TRUE(stream.WaitFor("\"state\":\"acknowledged\""));
  // A promotion through the route: the served model swaps and the stream says so.
  const Reply promoted = Post("/api/v1/models/fleet/aliases/production", {{"version", 2}}, kToken);
  ASSERT_EQ(promoted.status, 200) << promoted.body;
  EXPECT_EQ(json::parse(promoted.body)["served_version"], 2);
  EXPECT_TRUE(stream.WaitFor("event: model\ndata: ")) << stream.received();
  EXPECT_TRUE(stream.WaitFor("\"version\":2"));
  EXPECT_EQ(GetJson("/api/v1/models")["models"][0]["version"], 2);
  // Back, for the other tests.
  const Reply back =
      Post("/api/v1/models/fleet/aliases/production",
           {{"rollback", true}, {"by", "ops"}, {"reason", "back for the tests"}}, kToken);
  ASSERT_EQ(back.status, 200) << back.body;
  EXPECT_EQ(json::parse(back.body)["served_version"], 1);
  // Both moves are in the audit trail, newest first, with their actors.
  const json audit = GetJson("/api/v1/models/fleet/versions")["audit"];
  EXPECT_EQ(audit[0]["action"], "rollback");
  EXPECT_EQ(audit[0]["actor"], "ops");
  EXPECT_EQ(audit[0]["reason"], "back for the tests");
  EXPECT_EQ(audit[1]["action"], "promote");
  EXPECT_EQ(audit[1]["actor"], "api") << "the actor when a move names none";
}

TEST_F(DashboardTest, AliasMovesNeedTheTokenAndAValidBody) {
  EXPECT_EQ(Post("/api/v1/models/fleet/aliases/production", {{"version", 2}}).status, 401);
  EXPECT_EQ(Post("/api/v1/models/fleet/aliases/production", {{"version", 2}}, "wrong").status, 401);
  for (const json& bad :
       {json::array(), json{{"version", "two"}}, json{{"version", 2}, {"rollback", true}},
        json::object(), json{{"version", 2}, {"color", "red"}}}) {
    const Reply r = Post("/api/v1/models/fleet/aliases/production", bad, kToken);
    EXPECT_EQ(r.status, 422) << bad.dump() << ": " << r.body;
  }
  EXPECT_EQ(Post("/api/v1/models/fleet/aliases/production", {{"version", 9}}, kToken).status, 404);
  EXPECT_EQ(Post("/api/v1/models/none/aliases/production", {{"version", 1}}, kToken).status, 404);
  EXPECT_EQ(GetJson("/api/v1/models")["models"][0]["version"], 1) << "nothing moved";
}

TEST_F(DashboardTest, VersionsReportsAndTheBusinessCase) {
  const json versions = GetJson("/api/v1/models/fleet/versions");
  ASSERT_EQ(versions["versions"].size(), 2u);
  EXPECT_EQ(versions["aliases"]["production"], 1);
  EXPECT_EQ(versions["served"]["version"], 1);
  EXPECT_TRUE(versions["versions"][0]["metrics"]["ensemble"].contains("roc_auc"));
  EXPECT_FALSE(versions["audit"].empty());
  EXPECT_EQ(Get("/api/v1/models/none/versions").status, 404);

  const Reply report = Get("/api/v1/models/fleet/versions/1/report");
  ASSERT_EQ(report.status, 200);
  EXPECT_THAT(report.body, HasSubstr("<html"));
  EXPECT_THAT(Header(report, "Content-Security-Policy"), HasSubstr("default-src 'none'"));
  EXPECT_EQ(Get("/api/v1/models/fleet/versions/7/report").status, 404);
  EXPECT_EQ(Get("/api/v1/models/fleet/versions/x/report").status, 422);

  const json roi = GetJson("/api/v1/roi");
  EXPECT_EQ(roi["detection_from"], "fleet v1 metrics");
  // Recall is the served version's out-of-fold recall, not the config's 0.8.
  const double recall = versions["versions"][0]["metrics"]["ensemble"]["recall"];
  EXPECT_DOUBLE_EQ(roi["detection"]["recall"].get<double>(), recall);
  ASSERT_TRUE(roi.contains("threshold")) << roi.value("threshold_reason", "");
  EXPECT_EQ(roi["threshold"]["curve"].size(), 101u);
  EXPECT_GT(roi["threshold"]["positives"], 0);
}

}  // namespace
}  // namespace pdm
