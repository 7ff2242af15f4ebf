// `pdm serve` end to end: a model trained on AI4I 2020 and registered as production, served by
// the real binary on a loopback port, spoken to over raw TCP (so that malformed HTTP can be sent).
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <thread>

#include "nlohmann/json.hpp"
#include "tests/testing/pdm_cli.h"
#include "tests/testing/test_paths.h"

namespace pdm {
namespace {

namespace fs = std::filesystem;
namespace net = boost::asio;
using ::testing::HasSubstr;
using json = nlohmann::json;

struct Reply {
  int status = 0;  // 0: no response (connection closed)
  std::string head;
  std::string body;
};

// Sends `raw` bytes and reads one response (or until the server closes).
Reply Send(uint16_t port, const std::string& raw) {
  net::io_context io;
  net::ip::tcp::socket socket(io);
  boost::system::error_code ec;
  socket.connect({net::ip::make_address("127.0.0.1"), port}, ec);
  if (ec) return {};
  net::write(socket, net::buffer(raw), ec);
  std::string data;
  char buffer[65536];
  Reply reply;
  for (;;) {
    const size_t n = socket.read_some(net::buffer(buffer), ec);
    data.append(buffer, n);
    const size_t end = data.find("\r\n\r\n");
    if (end != std::string::npos) {
      reply.head = data.substr(0, end);
      const size_t length_at = reply.head.find("Content-Length: ");
      const size_t length =
          length_at == std::string::npos ? 0 : std::stoul(reply.head.substr(length_at + 16));
      if (data.size() >= end + 4 + length) {
        reply.body = data.substr(end + 4, length);
        break;
      }
    }
    if (ec) break;
  }
  if (reply.head.starts_with("HTTP/1.1 ")) reply.status = std::stoi(reply.head.substr(9, 3));
  return reply;
}

std::string Request(const std::string& method, const std::string& target, const std::string& body,
                    const std::string& content_type = "application/json",
                    const std::string& extra = "") {
  std::string r = method + " " + target + " HTTP/1.1\r\nHost: localhost\r\n";
  if (!content_type.empty()) r += "Content-Type: " + content_type + "\r\n";
  r += extra;
  r += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  return r;
}

class ServeTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new fs::path(testing::TempDir("serve"));
    const std::string registry = (*dir_ / "registry").string();
    const std::string spec = (testing::SourceDir() / "specs" / "ai4i2020.yaml").string();
    testing::Result trained =
        testing::Pdm("train --spec " + spec + " --models xgb --cv 2 --threads 1 --out " +
                     (*dir_ / "run").string() + " --register --name ai4i --registry " + registry);
    ASSERT_EQ(trained.code, 0) << trained.err;
    ASSERT_EQ(testing::Pdm("models promote ai4i 1 --alias production --registry " + registry).code,
              0);
    int out[2];
    ASSERT_EQ(::pipe(out), 0);
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(out[1], STDOUT_FILENO);
      ::close(out[0]);
      ::setenv("PDM_SERVE_TOKEN", "test-token", 1);
      ::execl(PDM_BINARY, PDM_BINARY, "serve", "--registry", registry.c_str(), "--model", "ai4i",
              "--port", "0", "--threads", "2", "--max-batch", "50", "--body-limit", "65536",
              static_cast<char*>(nullptr));
      ::_exit(127);
    }
    ::close(out[1]);
    std::string line;
    char c;
    while (::read(out[0], &c, 1) == 1 && c != '\n') line.push_back(c);
    stdout_ = out[0];
    const size_t colon = line.rfind(':');
    ASSERT_NE(colon, std::string::npos) << line;
    port_ = static_cast<uint16_t>(std::stoi(line.substr(colon + 1)));
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

// Last: SIGTERM ends the server with exit code 0.
TEST_F(ServeTest, ZzSigtermShutsDownGracefully) {
  ASSERT_EQ(::kill(pid_, SIGTERM), 0);
  int status = 0;
  ASSERT_EQ(::waitpid(pid_, &status, 0), pid_);
  EXPECT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  pid_ = -1;
}

}  // namespace
}  // namespace pdm
