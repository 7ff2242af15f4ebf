// `pdm serve` end to end: a model trained on AI4I 2020 and registered as production, served by
// the real binary on a loopback port, spoken to over raw TCP (so that malformed HTTP can be sent).
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <thread>

#include "nlohmann/json.hpp"
#include "tests/testing/http_client.h"
#include "tests/testing/pdm_cli.h"
#include "tests/testing/test_paths.h"

namespace pdm {
namespace {

namespace fs = std::filesystem;
namespace net = boost::asio;
using ::testing::HasSubstr;
using ::testing::Not;
using json = nlohmann::json;
using testing::Connection;
using testing::FreePort;
using testing::Reply;
using testing::Request;
using testing::Send;

class ServeTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new fs::path(testing::TempDir("serve"));
    registry_ = new std::string((*dir_ / "registry").string());
    const std::string& registry = *registry_;
    const std::string spec = (testing::SourceDir() / "specs" / "ai4i2020.yaml").string();
    testing::Result trained =
        testing::Pdm("train --spec " + spec + " --models xgb --cv 2 --threads 1 --out " +
                     (*dir_ / "run").string() + " --register --name ai4i --registry " + registry);
    ASSERT_EQ(trained.code, 0) << trained.err;
    ASSERT_EQ(testing::Pdm("models promote ai4i 1 --alias production --registry " + registry).code,
              0);
    const testing::ServeProcess served =
        testing::StartServe({"--registry", registry, "--model", "ai4i", "--threads", "2",
                             "--max-batch", "50", "--body-limit", "65536", "--watch-ms", "50",
                             "--drain-ms", "500", "--cors-origins", "https://ops.example.com"},
                            "test-token");
    pid_ = served.pid;
    stdout_ = served.out;
    port_ = served.port;
    ASSERT_NE(port_, 0) << served.first_line;
    const Reply models = Send(port_, Request("GET", "/api/v1/models", "", ""));
    ASSERT_EQ(models.status, 200) << models.body;
    features_ = new std::vector<std::string>(
        json::parse(models.body)["models"][0]["features"].get<std::vector<std::string>>());
  }

  static void TearDownTestSuite() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }

  // A valid record: every feature, values of a plausible AI4I row.
  static json Record() {
    json r = json::object();
    for (const std::string& f : *features_) r[f] = 0.0;
    r["Air temperature [K]"] = 298.1;
    r["Process temperature [K]"] = 308.6;
    r["Rotational speed [rpm]"] = 1551;
    r["Torque [Nm]"] = 42.8;
    r["Tool wear [min]"] = 210;
    r["Type=L"] = 1;
    return r;
  }

  static Reply Post(const std::string& target, const std::string& body) {
    return Send(port_, Request("POST", target, body));
  }

  static inline fs::path* dir_ = nullptr;
  static inline std::string* registry_ = nullptr;
  static inline pid_t pid_ = -1;
  static inline int stdout_ = -1;
  static inline uint16_t port_ = 0;
  static inline std::vector<std::string>* features_ = nullptr;
};

TEST_F(ServeTest, ProbesAndModelListing) {
  EXPECT_EQ(Send(port_, Request("GET", "/livez", "", "")).status, 200);
  const Reply ready = Send(port_, Request("GET", "/readyz", "", ""));
  EXPECT_EQ(ready.status, 200);
  EXPECT_THAT(ready.body, HasSubstr("\"ready\":true"));
  EXPECT_EQ(Send(port_, Request("GET", "/v2/health/ready", "", "")).status, 200);
  const Reply models = Send(port_, Request("GET", "/api/v1/models", "", ""));
  EXPECT_THAT(models.body, HasSubstr("\"name\":\"ai4i\""));
  EXPECT_THAT(models.body, HasSubstr("\"alias\":\"production\""));
}

TEST_F(ServeTest, PredictsOneRecordWithItsVersionAndExplanation) {
  const Reply r = Post("/api/v1/predict", Record().dump());
  ASSERT_EQ(r.status, 200) << r.body;
  const json body = json::parse(r.body);
  EXPECT_EQ(body["model"], "ai4i");
  EXPECT_EQ(body["version"], 1);
  const double p = body["probability"].get<double>();
  EXPECT_GE(p, 0.0);
  EXPECT_LE(p, 1.0);
  EXPECT_EQ(body["alarm"].get<bool>(), p >= body["threshold"].get<double>());
  // The same record wrapped in "features" gives the same answer; a null is a missing value.
  EXPECT_EQ(
      json::parse(Post("/api/v1/predict", json{{"features", Record()}}.dump()).body)["probability"],
      body["probability"]);
  json with_null = Record();
  with_null["Tool wear [min]"] = nullptr;
  EXPECT_EQ(Post("/api/v1/predict", with_null.dump()).status, 200);

  EXPECT_FALSE(json::parse(Post("/api/v1/predict?noexplain=true", Record().dump()).body)
                   .contains("explanation"));
  const Reply explained = Post("/api/v1/predict?a=b&explain=true", Record().dump());
  ASSERT_EQ(explained.status, 200);
  const json e = json::parse(explained.body)["explanation"];
  ASSERT_EQ(e["top"].size(), 5u);
  EXPECT_TRUE(e["top"][0].contains("feature"));
}

TEST_F(ServeTest, BatchScoresGoodRecordsAndReportsBadOnes) {
  json bad = Record();
  bad["Torque [Nm]"] = "high";
  const json batch = json::array({Record(), bad, Record()});
  const Reply r = Post("/api/v1/predict/batch", batch.dump());
  ASSERT_EQ(r.status, 200) << r.body;
  const json body = json::parse(r.body);
  EXPECT_EQ(body["scored"], 2);
  EXPECT_EQ(body["refused"], 1);
  EXPECT_TRUE(body["results"][0].contains("probability"));
  EXPECT_EQ(body["results"][1]["details"][0]["field"], "Torque [Nm]");
  EXPECT_EQ(body["results"][1]["details"][0]["reason"], "not a number");
  EXPECT_EQ(body["results"][2]["probability"], body["results"][0]["probability"]);
  EXPECT_EQ(Post("/api/v1/predict/batch", json{{"instances", batch}}.dump()).status, 200);
}

TEST_F(ServeTest, ReloadNeedsTheToken) {
  EXPECT_EQ(Post("/api/v1/models/ai4i/reload", "").status, 401);
  EXPECT_EQ(Send(port_, Request("POST", "/api/v1/models/ai4i/reload", "", "",
                                "Authorization: Bearer wrong-token\r\n"))
                .status,
            401);
  const Reply ok = Send(port_, Request("POST", "/api/v1/models/ai4i/reload", "", "",
                                       "Authorization: Bearer test-token\r\n"));
  EXPECT_EQ(ok.status, 200) << ok.body;
  EXPECT_EQ(Send(port_, Request("POST", "/api/v1/models/other/reload", "", "",
                                "Authorization: Bearer test-token\r\n"))
                .status,
            404);
}

// At least 50 malformed requests, each with its status and the reason in the body; the server
// answers normally afterwards.
TEST_F(ServeTest, MalformedRequestsGetClearErrorsAndNeverA5xx) {
  struct Case {
    std::string name;
    std::string raw;
    int status;
    std::string reason;  // a substring of the body ("" when the body does not matter)
  };
  std::vector<Case> cases;
  auto post = [&](const std::string& name, const std::string& body, int status,
                  const std::string& reason) {
    cases.push_back({name, Request("POST", "/api/v1/predict", body), status, reason});
  };
  post("empty body", "", 400, "malformed JSON");
  post("not json", "hello", 400, "malformed JSON");
  post("truncated object", R"({"Torque [Nm]": 4)", 400, "malformed JSON");
  post("trailing garbage", Record().dump() + "x", 400, "malformed JSON");
  post("single quotes", "{'a': 1}", 400, "malformed JSON");
  post("bare number", "42", 422, "expected an object");
  post("array for single", "[1, 2]", 422, "expected an object");
  post("string for single", "\"text\"", 422, "expected an object");
  post("null body", "null", 422, "expected an object");
  post("deep nesting", std::string(5000, '[') + std::string(5000, ']'), 400, "nested deeper");
  post("deep objects", std::string(100, '{') + std::string(100, '}'), 400, "nested deeper");
  post("invalid utf-8", std::string("{\"a\xff\xfe\": 1}"), 400, "malformed JSON");
  post("lone surrogate", R"({"\ud800": 1})", 400, "malformed JSON");
  post("empty object", "{}", 422, "missing");
  for (const char* field : {"Air temperature [K]", "Torque [Nm]", "Tool wear [min]"}) {
    json r = Record();
    r.erase(field);
    post(std::string("missing ") + field, r.dump(), 422, field);
    r = Record();
    r[field] = "12";
    post(std::string("string ") + field, r.dump(), 422, "not a number");
    r[field] = true;
    post(std::string("bool ") + field, r.dump(), 422, "not a number");
    r[field] = json::array({1});
    post(std::string("array ") + field, r.dump(), 422, "not a number");
    r[field] = json::object();
    post(std::string("object ") + field, r.dump(), 422, "not a number");
  }
  std::string huge = Record().dump();
  huge.replace(huge.find("298.1"), 5, "1e400");
  post("huge number", huge, 400, "malformed JSON");
  std::string beyond = Record().dump();
  beyond.replace(beyond.find("298.1"), 5, "1e300");
  post("beyond float32", beyond, 422, "beyond float32");
  std::string nan = Record().dump();
  nan.replace(nan.find("298.1"), 5, "NaN");
  post("NaN literal", nan, 400, "malformed JSON");
  json cold = Record();
  cold["Air temperature [K]"] = -5;
  post("below the spec's range", cold.dump(), 422, "out of range");
  json fast = Record();
  fast["Rotational speed [rpm]"] = 1e6;
  post("above the spec's range", fast.dump(), 422, "out of range");
  json unknown = Record();
  unknown["colour"] = "red";
  post("unknown field", unknown.dump(), 422, "unknown field");
  cases.push_back({"wrong content type",
                   Request("POST", "/api/v1/predict", Record().dump(), "text/plain"), 415,
                   "Content-Type"});
  cases.push_back({"no content type", Request("POST", "/api/v1/predict", Record().dump(), ""), 415,
                   "Content-Type"});
  cases.push_back({"form content type",
                   Request("POST", "/api/v1/predict", "a=1", "application/x-www-form-urlencoded"),
                   415, "Content-Type"});
  cases.push_back({"GET predict", Request("GET", "/api/v1/predict", ""), 405, "not allowed"});
  cases.push_back({"PUT predict", Request("PUT", "/api/v1/predict", "{}"), 405, "not allowed"});
  cases.push_back({"DELETE models", Request("DELETE", "/api/v1/models", ""), 405, "not allowed"});
  cases.push_back({"POST livez", Request("POST", "/livez", ""), 405, "not allowed"});
  cases.push_back({"unknown route", Request("GET", "/nope", ""), 404, "no route"});
  cases.push_back({"unknown api route", Request("POST", "/api/v2/predict", "{}"), 404, "no route"});
  cases.push_back({"path traversal", Request("GET", "/../../etc/passwd", ""), 404, "no route"});
  cases.push_back({"body too large", Request("POST", "/api/v1/predict", std::string(70000, ' ')),
                   413, "larger than"});
  cases.push_back({"declared length too large",
                   "POST /api/v1/predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                   "Content-Length: 99999999\r\n\r\n{}",
                   413, "larger than"});
  cases.push_back({"endless chunked body",
                   "POST /api/v1/predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                   "Transfer-Encoding: chunked\r\n\r\n" +
                       [] {
                         std::string chunks;
                         for (int i = 0; i < 200; ++i)
                           chunks += "400\r\n" + std::string(1024, ' ') + "\r\n";
                         return chunks;
                       }(),
                   413, "larger than"});
  cases.push_back({"bad chunk size",
                   "POST /api/v1/predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                   "Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n",
                   400, "malformed HTTP"});
  cases.push_back(
      {"headers too large",
       "GET /livez HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(20000, 'a') + "\r\n\r\n", 431,
       "headers larger"});
  cases.push_back({"garbage request line", "HELLO\r\n\r\n", 400, "malformed HTTP"});
  cases.push_back({"bad version", "GET /livez HTTP/9.9\r\nHost: x\r\n\r\n", 400, ""});
  auto batch = [&](const std::string& name, const std::string& body, int status,
                   const std::string& reason) {
    cases.push_back({name, Request("POST", "/api/v1/predict/batch", body), status, reason});
  };
  batch("batch not a list", Record().dump(), 422, "expected a JSON array");
  batch("batch empty", "[]", 422, "empty");
  batch("batch instances not list", R"({"instances": 3})", 422, "expected a JSON array");
  batch("batch too many", json(std::vector<json>(51, Record())).dump(), 413, "at most 50");
  batch("batch malformed", "[{]", 400, "malformed JSON");
  cases.push_back({"reload without token", Request("POST", "/api/v1/models/ai4i/reload", ""), 401,
                   "bearer token"});
  cases.push_back({"reload with basic auth",
                   Request("POST", "/api/v1/models/ai4i/reload", "", "",
                           "Authorization: Basic dGVzdDp0ZXN0\r\n"),
                   401, "bearer token"});
  ASSERT_GE(cases.size(), 50u);
  for (const Case& c : cases) {
    const Reply reply = Send(port_, c.raw);
    EXPECT_EQ(reply.status, c.status) << c.name << ": " << reply.head << "\n" << reply.body;
    EXPECT_LT(reply.status, 500) << c.name;
    if (!c.reason.empty()) {
      EXPECT_THAT(reply.body, HasSubstr(c.reason)) << c.name;
    }
    if (reply.status >= 400 && !reply.body.empty()) {
      EXPECT_TRUE(json::parse(reply.body, nullptr, false).contains("error")) << c.name;
    }
  }
  // Still serving.
  EXPECT_EQ(Send(port_, Request("GET", "/livez", "", "")).status, 200);
  EXPECT_EQ(Post("/api/v1/predict", Record().dump()).status, 200);
}

TEST_F(ServeTest, KeepAliveAndPipelinedRequestsAreAnsweredInOrder) {
  const std::string two = Request("GET", "/livez", "", "") + Request("GET", "/readyz", "", "");
  net::io_context io;
  net::ip::tcp::socket socket(io);
  socket.connect({net::ip::make_address("127.0.0.1"), port_});
  net::write(socket, net::buffer(two));
  std::string data;
  char buffer[4096];
  boost::system::error_code ec;
  while (data.find("\"ready\"") == std::string::npos && !ec) {
    data.append(buffer, socket.read_some(net::buffer(buffer), ec));
  }
  const size_t live = data.find("\"live\"");
  const size_t ready = data.find("\"ready\"");
  ASSERT_NE(live, std::string::npos) << data;
  ASSERT_NE(ready, std::string::npos) << data;
  EXPECT_LT(live, ready);
}

TEST_F(ServeTest, OpenInferenceProtocolV2) {
  const json server = json::parse(Send(port_, Request("GET", "/v2", "", "")).body);
  EXPECT_EQ(server["name"], "pdm");
  const Reply meta = Send(port_, Request("GET", "/v2/models/ai4i", "", ""));
  ASSERT_EQ(meta.status, 200) << meta.body;
  const json m = json::parse(meta.body);
  ASSERT_EQ(m["inputs"].size(), features_->size());
  EXPECT_EQ(m["inputs"][0]["name"], (*features_)[0]);
  EXPECT_EQ(m["inputs"][0]["datatype"], "FP32");
  EXPECT_EQ(m["versions"][0], "1");
  EXPECT_EQ(m["outputs"][0]["name"], "probability");
  EXPECT_EQ(Send(port_, Request("GET", "/v2/models/ai4i/ready", "", "")).status, 200);
  EXPECT_EQ(Send(port_, Request("GET", "/v2/models/ai4i/versions/1", "", "")).status, 200);
  EXPECT_EQ(Send(port_, Request("GET", "/v2/models/ai4i/versions/7/ready", "", "")).status, 404);
  EXPECT_EQ(Send(port_, Request("GET", "/v2/models/other", "", "")).status, 404);

  // Two rows as one tensor per feature: the same probabilities as the REST route.
  json second = Record();
  second["Torque [Nm]"] = 65.0;
  second["Tool wear [min]"] = 230;
  json inputs = json::array();
  for (const std::string& f : *features_) {
    inputs.push_back(
        {{"name", f}, {"shape", {2}}, {"datatype", "FP64"}, {"data", {Record()[f], second[f]}}});
  }
  const Reply infer = Post("/v2/models/ai4i/infer", json{{"id", "r1"}, {"inputs", inputs}}.dump());
  ASSERT_EQ(infer.status, 200) << infer.body;
  const json out = json::parse(infer.body);
  EXPECT_EQ(out["id"], "r1");
  EXPECT_EQ(out["model_version"], "1");
  ASSERT_EQ(out["outputs"][0]["name"], "probability");
  EXPECT_EQ(out["outputs"][0]["shape"], json({2}));
  EXPECT_EQ(out["outputs"][0]["data"][0],
            json::parse(Post("/api/v1/predict", Record().dump()).body)["probability"]);
  EXPECT_EQ(out["outputs"][0]["data"][1],
            json::parse(Post("/api/v1/predict", second.dump()).body)["probability"]);
  EXPECT_EQ(out["outputs"][1]["name"], "alarm");

  // One [rows, features] matrix named "features", nested data, FP32; only the alarm asked for.
  json rows = json::array({json::array(), json::array()});
  for (const std::string& f : *features_) {
    rows[0].push_back(Record()[f]);
    rows[1].push_back(second[f]);
  }
  const Reply matrix =
      Post("/v2/models/ai4i/versions/1/infer", json{{"inputs",
                                                     {{{"name", "features"},
                                                       {"shape", {2, features_->size()}},
                                                       {"datatype", "FP32"},
                                                       {"data", rows}}}},
                                                    {"outputs", {{{"name", "alarm"}}}}}
                                                   .dump());
  ASSERT_EQ(matrix.status, 200) << matrix.body;
  const json mo = json::parse(matrix.body);
  ASSERT_EQ(mo["outputs"].size(), 1u);
  EXPECT_EQ(mo["outputs"][0]["data"], out["outputs"][1]["data"]);

  // Refusals name the tensor and the reason.
  json bad = inputs;
  bad[0]["datatype"] = "BYTES";
  bad[1]["shape"] = {3};
  bad.erase(bad.size() - 1);
  const Reply refused = Post("/v2/models/ai4i/infer", json{{"inputs", bad}}.dump());
  ASSERT_EQ(refused.status, 422) << refused.body;
  const json details = json::parse(refused.body)["details"];
  EXPECT_EQ(details[0]["field"], (*features_)[0]);
  EXPECT_THAT(details[0]["reason"].get<std::string>(), HasSubstr("FP32 or FP64"));
  EXPECT_EQ(details[1]["field"], (*features_)[1]);
  EXPECT_THAT(details[1]["reason"].get<std::string>(), HasSubstr("needs 3"));
  // Many large dimensions (found by request_fuzz_test: their product overflowed under UBSan).
  json many_dimensions = inputs;
  many_dimensions[0]["shape"] = std::vector<int64_t>(100, 100'000'000);
  const Reply dimensions = Post("/v2/models/ai4i/infer", json{{"inputs", many_dimensions}}.dump());
  ASSERT_EQ(dimensions.status, 422) << dimensions.body;
  EXPECT_THAT(dimensions.body, HasSubstr("shape must be"));
  json out_of_range = inputs;
  for (json& t : out_of_range) {
    if (t["name"] == "Torque [Nm]") t["data"][1] = -5;
  }
  const Reply range = Post("/v2/models/ai4i/infer", json{{"inputs", out_of_range}}.dump());
  ASSERT_EQ(range.status, 422) << range.body;
  EXPECT_EQ(json::parse(range.body)["details"][0]["field"], "Torque [Nm][1]");
  EXPECT_EQ(Post("/v2/models/ai4i/versions/9/infer", json{{"inputs", inputs}}.dump()).status, 404);
  const Reply unknown_output = Post(
      "/v2/models/ai4i/infer", json{{"inputs", inputs}, {"outputs", {{{"name", "risk"}}}}}.dump());
  EXPECT_EQ(unknown_output.status, 422);
  EXPECT_THAT(unknown_output.body, HasSubstr("unknown output 'risk'"));
  EXPECT_EQ(Post("/v2/models/ai4i/infer", "{\"inputs\": 3}").status, 422);
}

// Every route the OpenAPI document describes is served (not 404/405) and nothing else is.
TEST_F(ServeTest, EveryDocumentedRouteIsServed) {
  const Reply doc = Send(port_, Request("GET", "/openapi.json", "", ""));
  ASSERT_EQ(doc.status, 200);
  const json paths = json::parse(doc.body)["paths"];
  ASSERT_GE(paths.size(), 15u);
  for (const auto& [path, operations] : paths.items()) {
    std::string target = path;
    for (const auto& [from, to] :
         {std::pair<std::string, std::string>{"{name}", "ai4i"}, {"{version}", "1"}}) {
      if (size_t at = target.find(from); at != std::string::npos)
        target.replace(at, from.size(), to);
    }
    if (path == "/api/v1/stream") continue;  // endless: ServeTest.EventStream... reads it
    for (const auto& [method, operation] : operations.items()) {
      std::string upper = method;
      for (char& c : upper) c = static_cast<char>(std::toupper(c));
      const Reply r = Send(port_, Request(upper, target, upper == "POST" ? "{}" : ""));
      // A 404 of the resource (no such machine) is fine; "no route" is not.
      EXPECT_FALSE(r.status == 404 && r.body.find("no route") != std::string::npos)
          << upper << " " << target << ": " << r.body;
      EXPECT_NE(r.status, 405) << upper << " " << target;
      EXPECT_LT(r.status, 500) << upper << " " << target;
    }
  }
  const Reply undocumented = Send(port_, Request("GET", "/v2/models", "", ""));
  EXPECT_EQ(undocumented.status, 404);
  EXPECT_THAT(undocumented.body, HasSubstr("no route"));
}

TEST_F(ServeTest, CorsAllowsTheConfiguredOriginOnly) {
  const Reply preflight = Send(
      port_, Request("OPTIONS", "/api/v1/predict", "", "",
                     "Origin: https://ops.example.com\r\nAccess-Control-Request-Method: POST\r\n"));
  EXPECT_EQ(preflight.status, 204);
  EXPECT_THAT(preflight.head, HasSubstr("Access-Control-Allow-Origin: https://ops.example.com"));
  const Reply other =
      Send(port_,
           Request("OPTIONS", "/api/v1/predict", "", "",
                   "Origin: https://elsewhere.example\r\nAccess-Control-Request-Method: POST\r\n"));
  EXPECT_EQ(other.status, 403);
  const Reply simple =
      Send(port_, Request("POST", "/api/v1/predict", Record().dump(), "application/json",
                          "Origin: https://ops.example.com\r\n"));
  EXPECT_EQ(simple.status, 200);
  EXPECT_THAT(simple.head, HasSubstr("Access-Control-Allow-Origin: https://ops.example.com"));
}

TEST_F(ServeTest, MetricsCountRequestsPredictionsAndRefusals) {
  ASSERT_EQ(Post("/api/v1/predict", Record().dump()).status, 200);
  json missing = Record();
  missing.erase("Torque [Nm]");
  ASSERT_EQ(Post("/api/v1/predict", missing.dump()).status, 422);
  ASSERT_EQ(Post("/api/v1/predict", "{not json").status, 400);
  const Reply metrics = Send(port_, Request("GET", "/metrics", "", ""));
  ASSERT_EQ(metrics.status, 200);
  EXPECT_THAT(metrics.head, HasSubstr("text/plain; version=0.0.4"));
  const std::string& m = metrics.body;
  EXPECT_THAT(m, HasSubstr(R"(pdm_model_info{name="ai4i",version="1"} 1)"));
  EXPECT_THAT(m, HasSubstr(R"(pdm_model_state{name="ai4i",state="available"} 1)"));
  EXPECT_THAT(m, HasSubstr(R"(pdm_validation_errors_total{reason="missing"} 1)"));
  EXPECT_THAT(m, HasSubstr(R"(pdm_validation_errors_total{reason="malformed_json"} 1)"));
  EXPECT_THAT(m, HasSubstr(R"(code="422",method="POST",route="/api/v1/predict"} 1)"));
  EXPECT_THAT(m, HasSubstr(R"(code="200",method="POST",route="/api/v1/predict"} 1)"));
  EXPECT_THAT(m, HasSubstr(R"(pdm_predictions_total{decision=)"));
  EXPECT_THAT(m, HasSubstr(R"(pdm_prediction_probability_count{model="ai4i"} 1)"));
  EXPECT_THAT(m, HasSubstr("pdm_http_request_duration_seconds_bucket{"));
  EXPECT_THAT(m, HasSubstr("pdm_online_machines 0"));
}

// A real Prometheus scrapes /metrics and stores the server's series.
TEST_F(ServeTest, RealPrometheusScrapesTheSeries) {
  const char* prometheus = "/usr/bin/prometheus";
  ASSERT_TRUE(fs::exists(prometheus)) << "Debian's prometheus is missing: run scripts/setup.sh";
  ASSERT_EQ(Post("/api/v1/predict", Record().dump()).status, 200);
  const fs::path work = *dir_ / "prometheus";
  fs::create_directories(work);
  {
    std::ofstream config(work / "prometheus.yml");
    config << "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n"
           << "rule_files:\n  - '"
           << (testing::SourceDir() / "deploy/prometheus/alerts.yml").string()
           << "'\nscrape_configs:\n"
           << "  - job_name: pdm\n    static_configs:\n      - targets: ['127.0.0.1:" << port_
           << "']\n";
  }
  const uint16_t web = FreePort();
  const pid_t pid = ::fork();
  if (pid == 0) {
    const std::string config = "--config.file=" + (work / "prometheus.yml").string();
    const std::string storage = "--storage.tsdb.path=" + (work / "data").string();
    const std::string listen = "--web.listen-address=127.0.0.1:" + std::to_string(web);
    const int devnull = ::open("/dev/null", O_WRONLY);
    ::dup2(devnull, STDOUT_FILENO);
    ::dup2(devnull, STDERR_FILENO);
    ::execl(prometheus, prometheus, config.c_str(), storage.c_str(), listen.c_str(),
            static_cast<char*>(nullptr));
    ::_exit(127);
  }
  auto query = [&](const std::string& promql) {
    const Reply r = Send(web, Request("GET", "/api/v1/query?query=" + promql, "", ""));
    if (r.status != 200) return json::array();
    return json::parse(r.body)["data"]["result"];
  };
  // pdm_model_info%7Bname%3D%22ai4i%22%7D = pdm_model_info{name="ai4i"}
  json info = json::array();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (info.empty() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
    info = query("pdm_model_info%7Bname%3D%22ai4i%22%7D");
  }
  const json up = query("up%7Bjob%3D%22pdm%22%7D");
  const json requests = query("pdm_http_requests_total%7Broute%3D%22%2Fapi%2Fv1%2Fpredict%22%7D");
  const json probability = query("pdm_prediction_probability_count");

  // The shipped alert rules load and evaluate against the real series without error, and none of
  // the service's alerts is pending or firing on this healthy server.
  json rules = json::array();
  bool evaluated = false;
  while (!evaluated && std::chrono::steady_clock::now() < deadline) {
    const Reply r = Send(web, Request("GET", "/api/v1/rules", "", ""));
    rules = r.status == 200 ? json::parse(r.body)["data"]["groups"] : json::array();
    evaluated = !rules.empty();
    for (const json& group : rules) {
      for (const json& rule : group["rules"]) {
        if (rule["lastEvaluation"].get<std::string>().starts_with("0001")) evaluated = false;
      }
    }
    if (!evaluated) std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  size_t rule_count = 0;
  for (const json& group : rules) {
    for (const json& rule : group["rules"]) {
      ++rule_count;
      EXPECT_EQ(rule["health"], "ok") << rule["name"] << ": " << rule.value("lastError", "");
      if (rule["name"] == "PdmModelNotReady" || rule["name"] == "PdmHighErrorRate") {
        EXPECT_EQ(rule["state"], "inactive") << rule["name"];
      }
    }
  }
  EXPECT_GE(rule_count, 10u) << "deploy/prometheus/alerts.yml did not load";
  // pdm_model_state{state="available"} is 1, so the rule's expression is empty; with it
  // inverted the same query must find the series (the rule watches a real series).
  const json available = query("pdm_model_state%7Bstate%3D%22available%22%7D");
  ASSERT_EQ(available.size(), 1u);
  EXPECT_EQ(available[0]["value"][1], "1");

  // Every query of the shipped dashboard runs on the real series (with Grafana's variables
  // substituted as Grafana would): success, and most of them return data.
  const json dashboard =
      json::parse(testing::ReadFile(testing::SourceDir() / "deploy/grafana/dashboards/pdm.json"));
  auto encode = [](const std::string& text) {
    std::string out;
    for (unsigned char c : text) {
      if (std::isalnum(c) || c == '_' || c == '.' || c == '-' || c == '~') {
        out += static_cast<char>(c);
      } else {
        constexpr char kHex[] = "0123456789ABCDEF";
        out += '%';
        out += kHex[c >> 4];
        out += kHex[c & 15];
      }
    }
    return out;
  };
  // Rates need two samples in their window: wait for a few scrapes.
  for (json samples = json::array();
       std::chrono::steady_clock::now() < deadline &&
       (samples.empty() || std::stod(samples[0]["value"][1].get<std::string>()) < 4);) {
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
    samples = query("count_over_time(up%7Bjob%3D%22pdm%22%7D%5B1m%5D)");
  }
  // The series this server has without telemetry, drift or alerts: a query over them is not empty.
  const std::vector<std::string> present = {"pdm_http_request", "pdm_prediction", "pdm_model_",
                                            "up{"};
  size_t queries = 0, with_data = 0;  // with_data: queries expected to have data
  for (const json& panel : dashboard["panels"]) {
    for (const json& target : panel.value("targets", json::array())) {
      std::string expr = target["expr"];
      for (const auto& [variable, value] :
           {std::pair<std::string, std::string>{"$__rate_interval", "1m"}, {"$instance", ".+"}}) {
        for (size_t at = expr.find(variable); at != std::string::npos; at = expr.find(variable)) {
          expr.replace(at, variable.size(), value);
        }
      }
      const Reply r = Send(web, Request("GET", "/api/v1/query?query=" + encode(expr), "", ""));
      ++queries;
      ASSERT_EQ(r.status, 200) << panel["title"] << ": " << expr << "\n" << r.body;
      const json answer = json::parse(r.body);
      EXPECT_EQ(answer["status"], "success") << expr;
      const bool expected = std::any_of(present.begin(), present.end(), [&](const auto& name) {
        return expr.find(name) != std::string::npos;
      });
      if (expected) {
        ++with_data;
        EXPECT_FALSE(answer["data"]["result"].empty()) << panel["title"] << ": " << expr;
      }
    }
  }
  EXPECT_GE(queries, 20u);
  EXPECT_GE(with_data, 8u) << "the service and prediction panels";
  ::kill(pid, SIGTERM);
  ::waitpid(pid, nullptr, 0);
  ASSERT_EQ(info.size(), 1u) << "Prometheus did not scrape pdm within 60 s";
  EXPECT_EQ(info[0]["metric"]["version"], "1");
  ASSERT_EQ(up.size(), 1u);
  EXPECT_EQ(up[0]["value"][1], "1");
  ASSERT_GE(requests.size(), 1u);
  EXPECT_EQ(requests[0]["metric"]["method"], "POST");
  ASSERT_EQ(probability.size(), 1u);
  EXPECT_GE(std::stod(probability[0]["value"][1].get<std::string>()), 1.0);
}

// The issue's hot-swap test: under continuous load, 20 alias moves, each picked up by the
// server's watcher and swapped in; no request fails and each names the version that scored it.
TEST_F(ServeTest, HotSwapUnderLoadFailsNoRequest) {
  const std::string model_dir = (*dir_ / "run" / "model").string();
  ASSERT_EQ(
      testing::Pdm("models register " + model_dir + " --name ai4i --registry " + *registry_).code,
      0);
  std::atomic<bool> stop{false};
  std::atomic<int64_t> ok{0}, failed{0};
  std::atomic<int> last_version{1};
  std::vector<std::thread> clients;
  for (int c = 0; c < 2; ++c) {
    clients.emplace_back([&] {
      Connection connection(port_);
      const std::string request = Request("POST", "/api/v1/predict", Record().dump());
      while (!stop.load()) {
        const Reply r = connection.Exchange(request);
        if (r.status != 200) {
          ++failed;
          continue;
        }
        const int version = json::parse(r.body)["version"].get<int>();
        if (version != 1 && version != 2) ++failed;
        last_version.store(version);
        ++ok;
      }
    });
  }
  int swaps = 0;
  for (int i = 0; i < 20; ++i) {
    const int target = i % 2 == 0 ? 2 : 1;
    ASSERT_EQ(testing::Pdm("models promote ai4i " + std::to_string(target) +
                           " --alias production --registry " + *registry_)
                  .code,
              0);
    // The load itself shows the swap: a response scored by the new version.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (last_version.load() != target && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    if (last_version.load() == target) ++swaps;
  }
  stop.store(true);
  for (std::thread& t : clients) t.join();
  EXPECT_EQ(swaps, 20);
  EXPECT_EQ(failed.load(), 0);
  EXPECT_GT(ok.load(), 100);
  const std::string m = Send(port_, Request("GET", "/metrics", "", "")).body;
  EXPECT_THAT(m, HasSubstr(R"(pdm_model_reloads_total{result="ok"} 21)"));
  EXPECT_THAT(m, HasSubstr(R"(pdm_model_info{name="ai4i",version="1"} 1)"));
  EXPECT_THAT(m, Not(HasSubstr(R"(pdm_model_info{name="ai4i",version="2"})")));
}

// server.yaml: flags beat PDM_* variables, which beat the file; bad keys and values are refused
// with their path (all checked before any registry is opened).
// The value of header `name` in a response head ("" when absent).
std::string HeaderValue(const std::string& head, const std::string& name) {
  const std::string key = "\r\n" + name + ": ";
  const size_t at = head.find(key);
  if (at == std::string::npos) return "";
  const size_t start = at + key.size();
  return head.substr(start, head.find("\r\n", start) - start);
}

// --log-format json: every line the server writes is one JSON object; with --access-log on each
// request is a line with its id (the client's, or one the server made and echoed), route,
// status, latency and model version; probes are left out.
TEST_F(ServeTest, JsonLogsCarryEachRequestWithItsEchoedId) {
  int out[2];
  ASSERT_EQ(::pipe(out), 0);
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    ::dup2(out[1], STDOUT_FILENO);
    ::dup2(out[1], STDERR_FILENO);
    ::close(out[0]);
    ::execl(PDM_BINARY, PDM_BINARY, "serve", "--port", "0", "--registry", registry_->c_str(),
            "--model", "ai4i", "--threads", "2", "--log-format", "json", "--access-log", "on",
            static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::close(out[1]);
  FILE* lines = ::fdopen(out[0], "r");
  ASSERT_NE(lines, nullptr);
  char* buffer = nullptr;
  size_t capacity = 0;
  std::vector<json> logged;
  uint16_t port = 0;
  auto read_line = [&]() -> bool {
    const ssize_t n = ::getline(&buffer, &capacity, lines);
    if (n <= 0) return false;
    const std::string line(buffer, static_cast<size_t>(n));
    const json parsed = json::parse(line, nullptr, false);
    EXPECT_TRUE(parsed.is_object()) << "not a JSON line: " << line;
    if (parsed.is_object()) logged.push_back(parsed);
    return true;
  };
  while (port == 0 && read_line()) {
    if (!logged.empty() && logged.back().value("msg", "") == "serving") {
      const std::string url = logged.back()["url"];
      port = static_cast<uint16_t>(std::stoi(url.substr(url.rfind(':') + 1)));
      EXPECT_EQ(logged.back()["model"], "ai4i");
      EXPECT_EQ(logged.back()["version"], 1);
    }
  }
  ASSERT_NE(port, 0) << (logged.empty() ? "" : logged.back().dump());

  const std::string record = Record().dump();
  const Reply given = Send(port, Request("POST", "/api/v1/predict", record, "application/json",
                                         "X-Request-Id: plant-7.gw:42\r\n"));
  ASSERT_EQ(given.status, 200) << given.body;
  EXPECT_EQ(HeaderValue(given.head, "X-Request-Id"), "plant-7.gw:42");
  const Reply made = Send(port, Request("POST", "/api/v1/predict", record));
  const std::string made_id = HeaderValue(made.head, "X-Request-Id");
  EXPECT_EQ(made_id.size(), 16u) << made.head;
  EXPECT_EQ(made_id.find_first_not_of("0123456789abcdef"), std::string::npos) << made_id;
  // An id that would break a log line or a header is replaced, not echoed.
  const Reply unsafe = Send(port, Request("POST", "/api/v1/predict", "{\"features\": 1}",
                                          "application/json", "X-Request-Id: a b\"c\r\n"));
  EXPECT_EQ(unsafe.status, 422) << unsafe.body;
  const std::string unsafe_id = HeaderValue(unsafe.head, "X-Request-Id");
  EXPECT_EQ(unsafe_id.size(), 16u) << unsafe.head;
  EXPECT_NE(unsafe_id, made_id);
  EXPECT_EQ(Send(port, Request("GET", "/livez", "", "")).status, 200);

  ASSERT_EQ(::kill(pid, SIGTERM), 0);
  while (read_line()) {
  }
  std::free(buffer);
  std::fclose(lines);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);

  std::map<std::string, json> requests;  // by request id
  bool drained = false;
  for (const json& line : logged) {
    for (const char* key : {"time", "level", "program", "msg"}) {
      EXPECT_TRUE(line.contains(key)) << key << " missing: " << line.dump();
    }
    EXPECT_EQ(line.value("program", ""), "pdm serve");
    if (line.value("msg", "") == "request") requests[line["request_id"]] = line;
    if (line.value("msg", "").starts_with("signal 15")) drained = true;
  }
  EXPECT_TRUE(drained);
  ASSERT_EQ(requests.size(), 3u) << "the probe is not logged";
  const json& first = requests["plant-7.gw:42"];
  EXPECT_EQ(first["route"], "/api/v1/predict");
  EXPECT_EQ(first["method"], "POST");
  EXPECT_EQ(first["status"], 200);
  EXPECT_EQ(first["level"], "info");
  EXPECT_GT(first["latency_ms"].get<double>(), 0);
  EXPECT_EQ(first["model"], "ai4i");
  EXPECT_EQ(first["version"], 1);
  EXPECT_THAT(first["peer"].get<std::string>(), ::testing::StartsWith("127.0.0.1:"));
  EXPECT_EQ(requests[made_id]["status"], 200);
  EXPECT_EQ(requests[unsafe_id]["status"], 422);
}

TEST(ServeConfigTest, PrecedenceAndRefusals) {
  const fs::path dir = testing::TempDir("serve_config");
  const fs::path config = dir / "server.yaml";
  auto write = [&](const std::string& text) { std::ofstream(config) << text; };
  auto serve = [&](const std::string& flags) {
    return testing::Pdm("serve --config " + config.string() + " " + flags);
  };
  write("registry: " + (dir / "from-file").string() + "\nport: 0\ncors:\n  origins: [a, b]\n");
  testing::Result r = serve("");
  EXPECT_EQ(r.code, 3);  // unusable input
  EXPECT_THAT(r.err, HasSubstr("from-file"));
  ::setenv("PDM_REGISTRY", (dir / "from-env").c_str(), 1);
  r = serve("");
  EXPECT_THAT(r.err, HasSubstr("from-env"));
  r = serve("--registry " + (dir / "from-flag").string());
  EXPECT_THAT(r.err, HasSubstr("from-flag"));
  ::unsetenv("PDM_REGISTRY");

  write("port: 8080\ncors:\n  origin: [a]\n");
  r = serve("");
  EXPECT_EQ(r.code, 3);  // unusable input
  EXPECT_THAT(r.err, HasSubstr("cors.origin: unknown key"));
  write("port: eighty\n");
  r = serve("");
  EXPECT_EQ(r.code, 3);  // unusable input
  EXPECT_THAT(r.err, HasSubstr("port: not a valid value ('eighty')"));
  write("threads: 2\n");
  ::setenv("PDM_WATCH_MS", "soon", 1);
  r = serve("");
  ::unsetenv("PDM_WATCH_MS");
  EXPECT_EQ(r.code, 3);  // unusable input
  EXPECT_THAT(r.err, HasSubstr("$PDM_WATCH_MS: not a valid value ('soon')"));
  write("log_format: xml\n");
  r = serve("--port 0");
  EXPECT_EQ(r.code, 3);  // unusable input
  EXPECT_THAT(r.err, HasSubstr("--log-format 'xml': expected text or json"));
  write("access_log: sometimes\n");
  r = serve("--port 0");
  EXPECT_EQ(r.code, 3);  // unusable input
  EXPECT_THAT(r.err, HasSubstr("--access-log 'sometimes': expected on or off"));
  // --check-config: the settings alone, without a registry or a model.
  write(
      "port: 8080\nlog_format: json\nsources:\n  - type: mqtt\n    url: mqtt://broker:1883\n"
      "    topics: [plant/+/telemetry]\n");
  r = serve("--check-config");
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("ok (1 sources, 0 sinks)"));
  r = serve("--check-config --alerts maybe");
  EXPECT_EQ(r.code, 3);  // unusable input
  EXPECT_THAT(r.err, HasSubstr("--alerts 'maybe': expected on or off"));
  write("sources:\n  - type: mqtt\n    url: mqtt://broker:1883\n    topic: [a]\n");
  r = serve("--check-config");
  EXPECT_EQ(r.code, 3);  // unusable input
  EXPECT_THAT(r.err, HasSubstr("topic"));
  r = testing::Pdm("serve --config " + (dir / "missing.yaml").string());
  EXPECT_EQ(r.code, 3);  // unusable input
  EXPECT_THAT(r.err, HasSubstr("missing.yaml"));
}

// A failure-mode model: the probability of any failure and its alarm as for a classifier, plus
// the most probable mode and every class's probability.
TEST(ServeModeTest, FailureModeModelServesClassProbabilities) {
  const fs::path dir = testing::TempDir("serve_mode");
  const std::string registry = (dir / "registry").string();
  const std::string spec = (testing::SourceDir() / "specs" / "ai4i2020.yaml").string();
  testing::Result trained =
      testing::Pdm("train --spec " + spec + " --task mode --models xgb --cv 2 --threads 1 --out " +
                   (dir / "run").string() + " --register --name modes --registry " + registry);
  ASSERT_EQ(trained.code, 0) << trained.err;
  ASSERT_EQ(testing::Pdm("models promote modes 1 --alias production --registry " + registry).code,
            0);
  const testing::ServeProcess served = testing::StartServe(
      {"--registry", registry, "--model", "modes", "--threads", "1"}, "test-token");
  ASSERT_NE(served.port, 0) << served.first_line;
  const Reply models = Send(served.port, Request("GET", "/api/v1/models", "", ""));
  ASSERT_EQ(models.status, 200) << models.body;
  json record = json::object();
  for (const std::string& f :
       json::parse(models.body)["models"][0]["features"].get<std::vector<std::string>>()) {
    record[f] = 0.0;
  }
  // Low speed, high torque: an overstrain or power failure more likely than none.
  record["Air temperature [K]"] = 302.0;
  record["Process temperature [K]"] = 311.0;
  record["Rotational speed [rpm]"] = 1250;
  record["Torque [Nm]"] = 72.0;
  record["Tool wear [min]"] = 230;
  record["Type=L"] = 1;
  const Reply r = Send(served.port, Request("POST", "/api/v1/predict?explain=true", record.dump()));
  ::kill(served.pid, SIGKILL);
  ::waitpid(served.pid, nullptr, 0);
  ASSERT_EQ(r.status, 200) << r.body;
  const json body = json::parse(r.body);
  const json& modes = body["mode_probabilities"];
  ASSERT_EQ(modes.size(), 6u) << r.body;
  double sum = 0, best = -1;
  std::string most;
  for (const auto& [name, p] : modes.items()) {
    sum += p.get<double>();
    if (p.get<double>() > best) {
      best = p.get<double>();
      most = name;
    }
  }
  EXPECT_NEAR(sum, 1, 1e-9);
  EXPECT_EQ(body["mode"], most);
  EXPECT_NE(most, "none") << r.body;
  EXPECT_NEAR(body["probability"].get<double>(), 1 - modes["none"].get<double>(), 1e-9);
  EXPECT_EQ(body["alarm"].get<bool>(),
            body["probability"].get<double>() >= body["threshold"].get<double>());
  EXPECT_TRUE(body.contains("explanation")) << r.body;
}

// `pdm demo --serve` trains before it serves, so XGBoost's OpenMP threads exist before the server
// sets up its signal handling: SIGTERM must still drain and end it with exit 0, not kill it.
TEST(DemoServeTest, SigtermEndsTheDemoServerGracefully) {
  const fs::path dir = testing::TempDir("demo_serve");
  const testing::ServeProcess served = testing::StartServing(
      {"demo", "--machines", "12", "--duration", "60d", "--models", "xgb", "--threads", "2",
       "--serve", "--replay", "off", "--port", "0", "--out", dir.string()},
      "");
  ASSERT_NE(served.port, 0) << served.first_line;
  EXPECT_EQ(Send(served.port, Request("GET", "/readyz", "", "")).status, 200);
  ASSERT_EQ(::kill(served.pid, SIGTERM), 0);
  int status = 0;
  ASSERT_EQ(::waitpid(served.pid, &status, 0), served.pid);
  EXPECT_TRUE(WIFEXITED(status)) << "ended by signal " << WTERMSIG(status);
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

// Last: SIGTERM turns readiness false for the drain period, then ends the server with exit 0.
TEST_F(ServeTest, ZzSigtermShutsDownGracefully) {
  ASSERT_EQ(::kill(pid_, SIGTERM), 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  const Reply draining = Send(port_, Request("GET", "/readyz", "", ""));
  EXPECT_EQ(draining.status, 503);
  EXPECT_THAT(draining.body, HasSubstr("\"draining\":true"));
  EXPECT_EQ(Send(port_, Request("GET", "/livez", "", "")).status, 200);
  int status = 0;
  ASSERT_EQ(::waitpid(pid_, &status, 0), pid_);
  EXPECT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  pid_ = -1;
}

}  // namespace
}  // namespace pdm
