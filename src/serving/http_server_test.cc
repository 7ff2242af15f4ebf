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
    return HttpResponse{200, "text/plain", r.method + " " + r.path + " ?" + r.query, {}, nullptr};
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
    return HttpResponse{200, "text/plain", "slow", {}, nullptr};
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
    return HttpResponse{200, "text/plain", "fine", {}, nullptr};
  });
  ASSERT_TRUE(server.ok());
  (*server)->Start();
  Client client((*server)->port());
  EXPECT_EQ(client.Get("/throw").result_int(), 500);
  EXPECT_EQ(client.Get("/ok").body(), "fine");
}

// A body that counts its polls and ends after `chunks` of them (concurrent polls would race on
// the counter: TSan runs this test).
class CountingStream : public BodyStream {
 public:
  explicit CountingStream(int chunks) : chunks_(chunks) {}
  bool Poll(std::string* out) override {
    ++polls_;
    if (polls_ % 2 == 0) return true;  // nothing ready on every other poll
    *out = "data: " + std::to_string(sent_++) + "\n\n";
    return sent_ < chunks_;
  }

 private:
  int chunks_;
  int polls_ = 0;
  int sent_ = 0;
};

TEST(HttpServerTest, StreamsAChunkedBodyUntilItEndsAndServesOthersMeanwhile) {
  HttpServerOptions o = Options();
  o.stream_poll = std::chrono::milliseconds(5);
  auto server = HttpServer::Create(o, [](const HttpRequest& r) {
    HttpResponse response{200, "text/event-stream", "", {}, nullptr};
    if (r.path == "/stream") {
      response.stream = std::make_shared<CountingStream>(5);
    } else {
      response.content_type = "application/json";
      response.body = "{}";
    }
    return response;
  });
  ASSERT_TRUE(server.ok()) << server.status();
  (*server)->Start();
  // Two streams at once on a server of two threads, and plain requests beside them: a stream
  // holds no worker thread between its polls.
  Client first((*server)->port()), second((*server)->port()), plain((*server)->port());
  std::thread other([&] {
    const auto r = second.Get("/stream");
    EXPECT_EQ(r.body(), "data: 0\n\ndata: 1\n\ndata: 2\n\ndata: 3\n\ndata: 4\n\n");
  });
  for (int i = 0; i < 5; ++i) EXPECT_EQ(plain.Get("/plain").body(), "{}");
  const auto r = first.Get("/stream");
  other.join();
  EXPECT_EQ(r.result_int(), 200);
  EXPECT_TRUE(r.chunked());
  EXPECT_EQ(r[http::field::content_type], "text/event-stream");
  EXPECT_EQ(r.body(), "data: 0\n\ndata: 1\n\ndata: 2\n\ndata: 3\n\ndata: 4\n\n");
  EXPECT_EQ((*server)->streams_open(), 0);
  (*server)->Shutdown(std::chrono::milliseconds(100));
}

TEST(HttpServerTest, ShutdownEndsAnEndlessStream) {
  class Endless : public BodyStream {
   public:
    bool Poll(std::string* out) override {
      *out = ": ping\n\n";
      return true;
    }
  };
  auto server = HttpServer::Create(Options(), [](const HttpRequest&) {
    return HttpResponse{200, "text/event-stream", "", {}, std::make_shared<Endless>()};
  });
  ASSERT_TRUE(server.ok());
  (*server)->Start();
  net::io_context io;
  net::ip::tcp::socket socket(io);
  socket.connect({net::ip::make_address("127.0.0.1"), (*server)->port()});
  net::write(socket, net::buffer(std::string("GET /s HTTP/1.1\r\nHost: x\r\n\r\n")));
  char buffer[256];
  EXPECT_GT(socket.read_some(net::buffer(buffer)), 0u);
  const auto start = std::chrono::steady_clock::now();
  (*server)->Shutdown(std::chrono::milliseconds(2000));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(1500))
      << "a stream is not a request in flight: shutdown does not wait for it";
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
