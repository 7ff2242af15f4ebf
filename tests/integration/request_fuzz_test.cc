// Generated malformed requests across every route the server documents (its /openapi.json),
// from a seeded generator: no answer is a 5xx, no request hangs, and the server answers normally
// afterwards (issue 24). PDM_FUZZ_SEED and PDM_FUZZ_REQUESTS change the seed and the count
// (10,000 by default); a failure prints the seed, the request's index and its first bytes, so
// that it can be replayed.
#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "nlohmann/json.hpp"
#include "tests/testing/http_client.h"
#include "tests/testing/pdm_cli.h"
#include "tests/testing/test_paths.h"

namespace pdm {
namespace {

using json = nlohmann::json;
constexpr const char* kToken = "fuzz-token";

// What became of one request.
struct Outcome {
  int status = 0;       // the status line's code; 0 when none came
  bool closed = false;  // the server closed the connection without an answer
  bool timed_out = false;
};

// Sends `raw` on a new loopback connection and reads the answer's status line. With
// `half_close`, the write side is shut after sending (a request whose declared body never
// comes). No answer or close within `timeout` is a hang.
Outcome Exchange(uint16_t port, const std::string& raw, bool half_close,
                 std::chrono::milliseconds timeout) {
  Outcome out;
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    out.closed = true;
    return out;
  }
  size_t sent = 0;
  while (sent < raw.size()) {
    const ssize_t n = ::send(fd, raw.data() + sent, raw.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) break;  // the server may answer and close before reading everything
    sent += static_cast<size_t>(n);
  }
  if (half_close) ::shutdown(fd, SHUT_WR);
  std::string data;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  char buffer[8192];
  for (;;) {
    if (data.find("\r\n") != std::string::npos && data.size() >= 12) break;
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      out.timed_out = true;
      break;
    }
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
    const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
    if (n <= 0) {
      out.closed = data.empty();
      break;
    }
    data.append(buffer, static_cast<size_t>(n));
  }
  ::close(fd);
  if (data.starts_with("HTTP/1.") && data.size() >= 12) out.status = std::atoi(data.c_str() + 9);
  return out;
}

class Generator {
 public:
  Generator(uint64_t seed, json seeds) : rng_(seed), seeds_(std::move(seeds)) {}

  int Below(int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng_); }
  bool OneIn(int n) { return Below(n) == 0; }
  template <typename T>
  const T& Pick(const std::vector<T>& v) {
    return v[static_cast<size_t>(Below(static_cast<int>(v.size())))];
  }

  // A JSON value unlike the one expected: another type, an extreme number, an odd string.
  json OddValue() {
    switch (Below(14)) {
      case 0:
        return nullptr;
      case 1:
        return true;
      case 2:
        return "12";
      case 3:
        return json::array({1, "x", nullptr});
      case 4:
        return json::object({{"a", 1}});
      case 5:
        return 1e308;
      case 6:
        return -1e308;
      case 7:
        return 3.4e39;  // beyond float32
      case 8:
        return int64_t{9'223'372'036'854'775'807};
      case 9:
        return -0.0;
      case 10:
        return std::string(static_cast<size_t>(1 + Below(5000)), 'x');
      case 11:
        return "\xc3\xa9\xe2\x82\xac\xf0\x9f\x94\xa5";  // valid UTF-8 beyond ASCII
      case 12:
        return "2025-02-30T25:61:61Z";
      default:
        return -1;
    }
  }

  // Replaces, removes or adds members and elements at random depth.
  void MutateJson(json& v, int depth = 0) {
    if (v.is_object() && !v.empty() && depth < 6) {
      auto it = v.begin();
      std::advance(it, Below(static_cast<int>(v.size())));
      switch (Below(5)) {
        case 0:
          *it = OddValue();
          break;
        case 1:
          v.erase(it);
          break;
        case 2:
          v[Pick(std::vector<std::string>{"", "x", "values", "time", "machine", "__proto__",
                                          std::string(300, 'k')})] = OddValue();
          break;
        default:
          MutateJson(*it, depth + 1);
      }
    } else if (v.is_array() && !v.empty() && depth < 6) {
      const size_t i = static_cast<size_t>(Below(static_cast<int>(v.size())));
      switch (Below(5)) {
        case 0:
          v[i] = OddValue();
          break;
        case 1:
          v.erase(v.begin() + static_cast<std::ptrdiff_t>(i));
          break;
        case 2:
          for (int k = Below(200); k > 0; --k) v.push_back(v[i]);  // long lists
          break;
        default:
          MutateJson(v[i], depth + 1);
      }
    } else {
      v = OddValue();
    }
  }

  // Byte-level damage to a serialised body.
  void MutateBytes(std::string& s) {
    for (int rounds = 1 + Below(4); rounds > 0; --rounds) {
      const size_t at = s.empty() ? 0 : static_cast<size_t>(Below(static_cast<int>(s.size())));
      switch (Below(8)) {
        case 0:
          if (!s.empty()) s[at] = static_cast<char>(Below(256));
          break;
        case 1:
          s.insert(at, 1, static_cast<char>(Below(256)));
          break;
        case 2:
          s.erase(at, static_cast<size_t>(Below(16)));
          break;
        case 3:
          s.resize(at);
          break;  // truncated
        case 4:
          s.insert(at, std::string(static_cast<size_t>(Below(3000)), '['));
          break;
        case 5:
          s.insert(at, "\\ud800");
          break;
        case 6:
          s.insert(at, Pick(std::vector<std::string>{"NaN", "Infinity", "1e999", "-", "\"", ",",
                                                     "}", "]", ":", "\0"}));
          break;
        default:
          s += s.substr(at, 64);
      }
    }
  }

  std::string PathValue() {
    return Pick(std::vector<std::string>{"1", "0", "-1", "99999999999999999999", "fleet", "M0001",
                                         "production", "%2e%2e", "..", "%00", "%zz", "a%2Fb",
                                         std::string(2000, 'z'), "\xff", "candidate", "x y"});
  }

  // One request: route, method, query, headers and body, one or several of them wrong.
  struct Request {
    std::string raw;
    bool half_close = false;
    bool framing = false;  // broken HTTP framing: a close without an answer is acceptable
    std::string route;
  };

  Request Next(const std::vector<std::pair<std::string, std::string>>& routes) {
    Request r;
    const auto& [method0, path0] = Pick(routes);
    r.route = method0 + " " + path0;
    std::string method = method0;
    if (OneIn(10)) {
      method = Pick(std::vector<std::string>{"GET", "POST", "PUT", "DELETE", "PATCH", "HEAD",
                                             "OPTIONS", "TRACE", "get", "BREW"});
    }
    // Path parameters: a plausible value, or an odd one.
    std::string path;
    for (size_t i = 0; i < path0.size(); ++i) {
      if (path0[i] != '{') {
        path += path0[i];
        continue;
      }
      const size_t end = path0.find('}', i);
      const std::string name = path0.substr(i + 1, end - i - 1);
      std::string value = name == "name" ? "fleet" : name == "alias" ? "production" : "1";
      if (OneIn(3)) value = PathValue();
      path += value;
      i = end;
    }
    if (OneIn(4)) {
      path += Pick(std::vector<std::string>{
          "?limit=-1", "?limit=0", "?limit=99999999999", "?sort=nope&order=up", "?state=%zz",
          "?q=" + std::string(3000, 'q'), "?before=x", "?explain=maybe", "?histograms=2",
          "?after=-5", "?offset=1e9", "?", "?&&=&", "?limit=10&limit=20"});
    }
    // The body: the route's valid seed mutated, another route's seed, or raw bytes.
    std::string body;
    const std::string key = method0 + " " + path0;
    if (seeds_.contains(key) || OneIn(6)) {
      json doc = seeds_.contains(key) ? seeds_[key] : seeds_.begin().value();
      if (OneIn(6)) doc = Pick(std::vector<json>{seeds_.begin().value(), seeds_.back()});
      for (int k = 1 + Below(3); k > 0; --k) MutateJson(doc);
      body = doc.dump(-1, ' ', false, json::error_handler_t::replace);
      if (OneIn(3)) MutateBytes(body);
    } else if (OneIn(3)) {
      body = std::string(static_cast<size_t>(Below(2000)), static_cast<char>(Below(256)));
    }
    std::string headers = "Host: 127.0.0.1\r\n";
    if (!body.empty() || method == "POST") {
      headers += OneIn(12) ? Pick(std::vector<std::string>{
                                 "Content-Type: text/plain\r\n", "Content-Type: \r\n",
                                 "Content-Type: application/json; charset=latin1\r\n",
                                 "Content-Type: application/json\r\nContent-Type: text/csv\r\n"})
                           : "Content-Type: application/json\r\n";
    }
    if (!OneIn(3)) headers += std::string("Authorization: Bearer ") + kToken + "\r\n";
    if (OneIn(15)) {
      headers += Pick(std::vector<std::string>{
          "Authorization: Bearer \r\n", "Authorization: Basic Zm9vOmJhcg==\r\n",
          "X-Request-Id: " + std::string(500, 'r') + "\r\n", "X-Request-Id: \x01\x02\r\n",
          "Accept-Encoding: gzip\r\n", "Connection: close\r\n", "Expect: 100-continue\r\n",
          "X-Big: " + std::string(static_cast<size_t>(Below(40000)), 'h') + "\r\n"});
    }
    std::string length = "Content-Length: " + std::to_string(body.size()) + "\r\n";
    if (OneIn(20)) {
      switch (Below(4)) {
        case 0:  // declares more than comes: the client then stops sending
          length = "Content-Length: " + std::to_string(body.size() + 1 + Below(100)) + "\r\n";
          r.half_close = true;
          break;
        case 1:
          length = "Content-Length: -1\r\n";
          break;
        case 2:
          length = "Content-Length: 5\r\nContent-Length: 6\r\n";
          break;
        default:
          length = "Content-Length: abc\r\n";
      }
      r.framing = true;
    }
    std::string target = path;
    if (OneIn(40)) {
      target = Pick(std::vector<std::string>{"*", "http://x/", "", std::string(10000, '/')});
      r.framing = true;
    }
    std::string version = "HTTP/1.1";
    if (OneIn(40)) {
      version = Pick(std::vector<std::string>{"HTTP/1.0", "HTTP/2.0", "HTTP/1.1x", ""});
      r.framing = true;
    }
    r.raw = method + " " + target + " " + version + "\r\n" + headers + length + "\r\n" + body;
    if (OneIn(50)) {  // damage the head itself
      std::string head = r.raw.substr(0, r.raw.size() - body.size());
      MutateBytes(head);
      r.raw = head + body;
      r.framing = true;
    }
    // A request whose framing is broken may look unfinished to any server (a head without its
    // blank line, a body shorter than declared): the client then ends its side, and the server
    // must answer or close at once rather than wait for bytes that never come.
    if (r.framing) r.half_close = true;
    return r;
  }

 private:
  std::mt19937_64 rng_;
  json seeds_;
};

uint64_t EnvNumber(const char* name, uint64_t fallback) {
  const char* v = std::getenv(name);
  return v == nullptr ? fallback : std::strtoull(v, nullptr, 10);
}

TEST(RequestFuzzTest, GeneratedMalformedRequestsNeverGetA5xxOrHang) {
  const std::filesystem::path dir = testing::TempDir("request_fuzz");
  std::string error;
  const std::string registry = testing::TrainedFleetRegistry(dir, &error);
  ASSERT_FALSE(registry.empty()) << error;
  const testing::ServeProcess served =
      testing::StartServe({"--registry", registry, "--model", "fleet", "--threads", "2"}, kToken);
  ASSERT_NE(served.port, 0) << served.first_line;
  const uint16_t port = served.port;

  // Every documented route (the live event stream stays open by design: left out).
  const testing::Reply spec = testing::Send(port, testing::Request("GET", "/openapi.json", "", ""));
  ASSERT_EQ(spec.status, 200);
  std::vector<std::pair<std::string, std::string>> routes;
  const json openapi = json::parse(spec.body);
  for (const auto& [path, methods] : openapi["paths"].items()) {
    for (const auto& [method, op] : methods.items()) {
      if (path == "/api/v1/stream") continue;
      std::string upper = method;
      for (char& c : upper) c = static_cast<char>(std::toupper(c));
      routes.emplace_back(upper, path);
    }
  }
  ASSERT_GE(routes.size(), 30u);

  // Valid bodies to start from, built from the model's own inputs.
  const testing::Reply meta =
      testing::Send(port, testing::Request("GET", "/v2/models/fleet", "", ""));
  ASSERT_EQ(meta.status, 200) << meta.body;
  json record = json::object(), oip_inputs = json::array();
  const json model = json::parse(meta.body);
  for (const json& input : model["inputs"]) {
    record[input["name"].get<std::string>()] = 1.5;
    oip_inputs.push_back(
        {{"name", input["name"]}, {"shape", {2}}, {"datatype", "FP32"}, {"data", {1.5, 2.5}}});
  }
  const json reading = {{"machine", "M0001"},
                        {"time", "2025-03-05T00:00:00Z"},
                        {"values", {{"vibration_rms", 2.5}, {"bearing_temperature", 45.0}}}};
  const json seeds = {
      {"POST /api/v1/predict", record},
      {"POST /api/v1/predict/batch", json::array({record, record})},
      {"POST /v2/models/{name}/infer", {{"inputs", oip_inputs}}},
      {"POST /v2/models/{name}/versions/{version}/infer", {{"inputs", oip_inputs}}},
      {"POST /api/v1/telemetry",
       {{"readings", {reading}},
        {"events",
         {{{"machine", "M0001"},
           {"time", "2025-03-04T00:00:00Z"},
           {"type", "maintenance"},
           {"kind", "bearing"}}}}}},
      {"POST /api/v1/alerts/{id}/ack", {{"by", "fuzz"}, {"note", "n"}}},
      {"POST /api/v1/alerts/{id}/resolve", {{"resolution", "no_fault_found"}, {"by", "fuzz"}}},
      {"POST /api/v1/models/{name}/aliases/{alias}", {{"version", 1}}},
  };

  const uint64_t seed = EnvNumber("PDM_FUZZ_SEED", 20261208);
  const uint64_t count = EnvNumber("PDM_FUZZ_REQUESTS", 10000);
  Generator generator(seed, seeds);
  std::map<int, int> by_status;
  int closed = 0, failures = 0;
  for (uint64_t i = 0; i < count; ++i) {
    const Generator::Request r = generator.Next(routes);
    const Outcome o = Exchange(port, r.raw, r.half_close, std::chrono::seconds(10));
    ++by_status[o.status];
    const bool bad = o.timed_out || o.status >= 500 || (o.status == 0 && !r.framing);
    if (o.closed) ++closed;
    if (bad && ++failures <= 10) {
      ADD_FAILURE()
          << "seed " << seed << " request " << i << " (" << r.route << "): "
          << (o.timed_out     ? "no answer within 10 s"
              : o.status == 0 ? "closed without an answer"
                              : "status " + std::to_string(o.status))
          << "\n"
          << json(r.raw.substr(0, 400)).dump(-1, ' ', false, json::error_handler_t::replace);
    }
  }
  std::string summary;
  for (const auto& [status, n] : by_status) {
    summary += " " + std::to_string(status) + ":" + std::to_string(n);
  }
  std::printf("%llu requests (seed %llu), by status%s; closed without an answer: %d\n",
              static_cast<unsigned long long>(count), static_cast<unsigned long long>(seed),
              summary.c_str(), closed);
  EXPECT_EQ(failures, 0);
  // The generator reached the parsers, not only the doors: many 4xx of many kinds, and some
  // requests that were valid after all.
  EXPECT_GT(by_status[422], static_cast<int>(count / 20)) << summary;
  EXPECT_GT(by_status[400], static_cast<int>(count / 50)) << summary;
  EXPECT_GT(by_status[200], static_cast<int>(count / 50)) << summary;

  // Still serving, and the server counted no 5xx either.
  EXPECT_EQ(testing::Send(port, testing::Request("GET", "/livez", "", "")).status, 200);
  const testing::Reply metrics = testing::Send(port, testing::Request("GET", "/metrics", "", ""));
  EXPECT_THAT(metrics.body, ::testing::Not(::testing::HasSubstr("code=\"5")));
  ::kill(served.pid, SIGTERM);
  int status = 0;
  ::waitpid(served.pid, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "exit status " << status;
}

}  // namespace
}  // namespace pdm
