#include "serving/http_server.h"

#include <gtest/gtest.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <thread>

namespace pdm::serving {
namespace {

namespace net = boost::asio;
namespace http = boost::beast::http;

// One keep-alive client connection.
class Client {
 public:
  explicit Client(uint16_t port) : socket_(io_) {
    socket_.connect({net::ip::make_address("127.0.0.1"), port});
  }
  http::response<http::string_body> Get(const std::string& target) {
    http::request<http::string_body> request(http::verb::get, target, 11);
    request.set(http::field::host, "localhost");
    http::write(socket_, request);
    http::response<http::string_body> response;
    http::read(socket_, buffer_, response);
    return response;
  }

 private:
  net::io_context io_;
  net::ip::tcp::socket socket_;
  boost::beast::flat_buffer buffer_;
};

HttpServerOptions Options() {
  HttpServerOptions o;
  o.port = 0;
  o.threads = 2;
  return o;
}

TEST(HttpServerTest, ServesConcurrentKeepAliveClients) {
  std::atomic<int> handled{0};
  auto server = HttpServer::Create(Options(), [&](const HttpRequest& r) {
    ++handled;
    return HttpResponse{200, "text/plain", r.method + " " + r.path + " ?" + r.query, {}};
  });
  ASSERT_TRUE(server.ok()) << server.status();
  (*server)->Start();
  const uint16_t port = (*server)->port();
  std::vector<std::thread> clients;
  std::atomic<int> wrong{0};
  for (int c = 0; c < 4; ++c) {
    clients.emplace_back([&, c] {
      Client client(port);
      for (int i = 0; i < 100; ++i) {
        const std::string path = "/c" + std::to_string(c);
        auto response = client.Get(path + "?i=" + std::to_string(i));
        if (response.result_int() != 200 ||
            response.body() != "GET " + path + " ?i=" + std::to_string(i)) {
          ++wrong;
        }
      }
    });
  }
  for (auto& t : clients) t.join();
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_EQ(handled.load(), 400);
  (*server)->Shutdown(std::chrono::milliseconds(1000));
}

TEST(HttpServerTest, ShutdownLetsARequestInFlightFinish) {
  auto server = HttpServer::Create(Options(), [](const HttpRequest&) {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    return HttpResponse{200, "text/plain", "slow", {}};
  });
  ASSERT_TRUE(server.ok());
  (*server)->Start();
  const uint16_t port = (*server)->port();
  int status = 0;
  std::string body;
  std::thread client([&] {
    Client c(port);
    auto response = c.Get("/slow");
    status = response.result_int();
    body = response.body();
  });
  while ((*server)->requests_in_flight() == 0)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  (*server)->Shutdown(std::chrono::milliseconds(5000));
  client.join();
  EXPECT_EQ(status, 200);
  EXPECT_EQ(body, "slow");
}

TEST(HttpServerTest, HandlerExceptionsBecome500WithoutKillingTheServer) {
  auto server = HttpServer::Create(Options(), [](const HttpRequest& r) -> HttpResponse {
    if (r.path == "/throw") throw std::runtime_error("boom");
    return HttpResponse{200, "text/plain", "fine", {}};
  });
  ASSERT_TRUE(server.ok());
  (*server)->Start();
  Client client((*server)->port());
  EXPECT_EQ(client.Get("/throw").result_int(), 500);
  EXPECT_EQ(client.Get("/ok").body(), "fine");
}

TEST(HttpServerTest, RefusesABadListenAddress) {
  HttpServerOptions o = Options();
  o.address = "not-an-address";
  EXPECT_EQ(
      HttpServer::Create(o, [](const HttpRequest&) { return HttpResponse{}; }).status().code(),
      absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace pdm::serving
