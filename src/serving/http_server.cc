#include "serving/http_server.h"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <optional>

#include "core/log.h"
#include "core/strings.h"

namespace pdm::serving {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

std::string ErrorJson(std::string_view message) {
  std::string escaped;
  for (char c : message) {
    if (c == '"' || c == '\\') escaped.push_back('\\');
    escaped.push_back(c);
  }
  return core::StrCat(R"({"error": ")", escaped, "\"}");
}

}  // namespace

struct HttpServer::Impl {
  Impl(HttpServerOptions o, HttpHandler h) : options(std::move(o)), handler(std::move(h)) {}
  HttpServerOptions options;
  HttpHandler handler;
  // Declared before the io_context: sessions still queued in it when it is destroyed count
  // themselves out of `connections`.
  std::atomic<int64_t> connections{0};
  std::atomic<int64_t> in_flight{0};
  std::atomic<int64_t> streams{0};
  std::atomic<bool> stopping{false};
  net::io_context ioc;
  std::optional<tcp::acceptor> acceptor;
  std::optional<net::executor_work_guard<net::io_context::executor_type>> work;
  std::vector<std::thread> threads;

  void Accept();
};

namespace {

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, HttpServer::Impl* server)
      : stream_(std::move(socket)), server_(server) {
    ++server_->connections;
    beast::error_code ec;
    const tcp::endpoint remote = stream_.socket().remote_endpoint(ec);
    if (!ec) peer_ = core::StrCat(remote.address().to_string(), ":", remote.port());
  }
  ~Session() { --server_->connections; }

  void Run() {
    net::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->Read(); });
  }

 private:
  void Read() {
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(server_->options.header_limit));
    parser_->body_limit(server_->options.body_limit);
    stream_.expires_after(server_->options.read_timeout);
    http::async_read(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, std::size_t) { self->OnRead(ec); });
  }

  void OnRead(beast::error_code ec) {
    if (ec == http::error::end_of_stream || ec == beast::error::timeout ||
        ec == net::error::operation_aborted || ec == net::error::connection_reset ||
        ec == net::error::eof) {
      return Close();
    }
    if (ec) {
      // The request could not be read whole: answer what went wrong and close.
      int status = 400;
      std::string message = core::StrCat("malformed HTTP request: ", ec.message());
      if (ec == http::error::body_limit) {
        status = 413;
        message = core::StrCat("request body larger than ", server_->options.body_limit, " bytes");
      } else if (ec == http::error::header_limit) {
        status = 431;
        message =
            core::StrCat("request headers larger than ", server_->options.header_limit, " bytes");
      }
      HttpResponse response{status, "application/json", ErrorJson(message), {}, nullptr};
      return Write(std::move(response), 11, /*close=*/true);
    }
    http::request<http::string_body> request = parser_->release();
    HttpRequest in;
    in.method = std::string(request.method_string());
    in.target = std::string(request.target());
    const size_t question = in.target.find('?');
    in.path = in.target.substr(0, question);
    if (question != std::string::npos) in.query = in.target.substr(question + 1);
    in.content_type = std::string(request[http::field::content_type]);
    in.authorization = std::string(request[http::field::authorization]);
    in.origin = std::string(request[http::field::origin]);
    in.access_control_request_method =
        std::string(request[http::field::access_control_request_method]);
    in.last_event_id = std::string(request["Last-Event-ID"].substr(0, 32));
    in.request_id = std::string(request["X-Request-Id"].substr(0, 200));
    in.peer = peer_;
    in.body = std::move(request.body());
    ++server_->in_flight;
    HttpResponse response;
    try {
      response = server_->handler(in);
    } catch (const std::exception& e) {
      // A bug: said in the log (the route, not the request's bytes), answered as a 500.
      core::LogError(
          "request failed with an exception",
          {{"method", in.method}, {"path", in.path.substr(0, 200)}, {"error", e.what()}});
      response = HttpResponse{500, "application/json", ErrorJson("internal error"), {}, nullptr};
    }
    --server_->in_flight;
    const bool close = !request.keep_alive() || server_->stopping.load();
    if (response.stream) return WriteStream(std::move(response), request.version());
    Write(std::move(response), request.version(), close);
  }

  // The headers of a streamed response, then its chunks as Poll produces them. The connection
  // closes when the stream ends.
  void WriteStream(HttpResponse response, unsigned version) {
    ++server_->streams;
    body_stream_ = std::move(response.stream);
    auto header = std::make_shared<http::response<http::empty_body>>(
        static_cast<http::status>(response.status), version);
    header->set(http::field::server, "pdm");
    header->set(http::field::content_type, response.content_type);
    for (const auto& [name, value] : response.headers) header->set(name, value);
    header->keep_alive(false);
    header->chunked(true);
    auto serializer = std::make_shared<http::response_serializer<http::empty_body>>(*header);
    stream_.expires_after(server_->options.read_timeout);
    http::async_write_header(
        stream_, *serializer,
        [self = shared_from_this(), header, serializer](beast::error_code ec, std::size_t) {
          if (ec) return self->EndStream(/*send_last_chunk=*/false);
          self->PollStream();
        });
  }

  void PollStream() {
    if (server_->stopping.load()) return EndStream(/*send_last_chunk=*/true);
    auto chunk = std::make_shared<std::string>();
    const bool more = body_stream_->Poll(chunk.get());
    if (chunk->empty()) {
      if (!more) return EndStream(true);
      return WaitToPoll();
    }
    stream_.expires_after(server_->options.read_timeout);
    net::async_write(stream_, http::make_chunk(net::buffer(*chunk)),
                     [self = shared_from_this(), chunk, more](beast::error_code ec, std::size_t) {
                       if (ec) return self->EndStream(false);
                       if (!more) return self->EndStream(true);
                       self->WaitToPoll();
                     });
  }

  void WaitToPoll() {
    if (!timer_) timer_.emplace(stream_.get_executor());
    timer_->expires_after(server_->options.stream_poll);
    timer_->async_wait([self = shared_from_this()](beast::error_code ec) {
      if (ec) return self->EndStream(false);
      self->PollStream();
    });
  }

  void EndStream(bool send_last_chunk) {
    if (!body_stream_) return;
    body_stream_.reset();
    --server_->streams;
    if (!send_last_chunk) return Close();
    stream_.expires_after(server_->options.read_timeout);
    net::async_write(
        stream_, http::make_chunk_last(),
        [self = shared_from_this()](beast::error_code, std::size_t) { self->Close(); });
  }

  void Write(HttpResponse response, unsigned version, bool close) {
    auto message = std::make_shared<http::response<http::string_body>>(
        static_cast<http::status>(response.status), version);
    message->set(http::field::server, "pdm");
    message->set(http::field::content_type, response.content_type);
    for (const auto& [name, value] : response.headers) message->set(name, value);
    message->keep_alive(!close);
    message->body() = std::move(response.body);
    message->prepare_payload();
    http::async_write(
        stream_, *message,
        [self = shared_from_this(), message, close](beast::error_code ec, std::size_t) {
          if (ec || close) return self->Close();
          self->Read();
        });
  }

  void Close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  HttpServer::Impl* server_;
  std::string peer_;  // "address:port" of the client, read once per connection
  std::shared_ptr<BodyStream> body_stream_;  // set while a streamed response is being written
  std::optional<net::steady_timer> timer_;
};

}  // namespace

void HttpServer::Impl::Accept() {
  acceptor->async_accept(net::make_strand(ioc), [this](beast::error_code ec, tcp::socket socket) {
    if (stopping.load() || !acceptor->is_open()) return;
    if (!ec) std::make_shared<Session>(std::move(socket), this)->Run();
    Accept();
  });
}

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Create(const HttpServerOptions& options,
                                                               HttpHandler handler) {
  auto impl = std::make_unique<Impl>(options, std::move(handler));
  beast::error_code ec;
  const auto address = net::ip::make_address(options.address, ec);
  if (ec) {
    return absl::InvalidArgumentError(
        core::StrCat("listen address '", options.address, "': ", ec.message()));
  }
  tcp::acceptor acceptor(impl->ioc);
  const tcp::endpoint endpoint(address, options.port);
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    return absl::UnavailableError(
        core::StrCat("cannot listen on ", options.address, ":", options.port, ": ", ec.message()));
  }
  impl->acceptor.emplace(std::move(acceptor));
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl)));
}

HttpServer::HttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

HttpServer::~HttpServer() { Shutdown(std::chrono::milliseconds(0)); }

uint16_t HttpServer::port() const { return impl_->acceptor->local_endpoint().port(); }

void HttpServer::Start() {
  impl_->work.emplace(impl_->ioc.get_executor());
  impl_->Accept();
  int threads = impl_->options.threads;
  if (threads <= 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  for (int i = 0; i < threads; ++i) impl_->threads.emplace_back([this] { impl_->ioc.run(); });
}

void HttpServer::Shutdown(std::chrono::milliseconds grace) {
  if (impl_->stopping.exchange(true)) {
    for (std::thread& t : impl_->threads) {
      if (t.joinable()) t.join();
    }
    return;
  }
  net::post(impl_->ioc, [this] {
    beast::error_code ignored;
    impl_->acceptor->close(ignored);
  });
  const auto deadline = std::chrono::steady_clock::now() + grace;
  while (impl_->in_flight.load() > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  impl_->work.reset();
  impl_->ioc.stop();
  for (std::thread& t : impl_->threads) {
    if (t.joinable()) t.join();
  }
}

int64_t HttpServer::connections_open() const { return impl_->connections.load(); }
int64_t HttpServer::streams_open() const { return impl_->streams.load(); }
int64_t HttpServer::requests_in_flight() const { return impl_->in_flight.load(); }

}  // namespace pdm::serving
