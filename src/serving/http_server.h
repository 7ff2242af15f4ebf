// The HTTP/1.1 server under `pdm serve`: Boost.Beast over Asio, a pool of worker threads running
// one io_context, keep-alive and pipelining (requests of a connection answered in order), bounded
// header and body sizes, a read/idle timeout, graceful shutdown.
//
// Handlers run on the worker threads and must be thread-safe. Malformed HTTP (a bad request
// line, oversized headers or body, a truncated body) is answered by the server itself with
// 400 / 413 / 431 and the connection closed; the handler never sees it.
#ifndef PDM_SERVING_HTTP_SERVER_H_
#define PDM_SERVING_HTTP_SERVER_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"

namespace pdm::serving {

struct HttpRequest {
  std::string method;  // "GET", "POST", ...
  std::string target;  // path and query, as sent
  std::string path;    // without the query
  std::string query;   // after '?', without it
  std::string content_type;
  std::string authorization;
  std::string origin;
  std::string access_control_request_method;  // set on a CORS preflight
  std::string last_event_id;                  // an EventSource's reconnection cursor
  std::string request_id;                     // the X-Request-Id header, at most 200 bytes
  std::string peer;                           // the client's address and port
  std::string body;
};

// A response body written as it is produced (Server-Sent Events). The server sends the headers
// with chunked transfer encoding, then calls Poll every HttpServerOptions::stream_poll on the
// connection's strand (never concurrently) until it returns false, the client goes away or the
// server shuts down; what one Poll appends goes out as one chunk. Poll must not block.
class BodyStream {
 public:
  virtual ~BodyStream() = default;
  // Appends what is ready to `out`; false: the stream has ended (after `out` is sent).
  virtual bool Poll(std::string* out) = 0;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers
  std::shared_ptr<BodyStream> stream;  // set: `body` is ignored and the stream is the body
};

using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;

struct HttpServerOptions {
  std::string address = "127.0.0.1";
  uint16_t port = 8080;  // 0: any free port (see HttpServer::port)
  int threads = 0;       // 0: the number of cores
  size_t header_limit = size_t{16} * 1024;
  size_t body_limit = size_t{4} * 1024 * 1024;
  std::chrono::milliseconds read_timeout{30'000};  // also the keep-alive idle timeout
  std::chrono::milliseconds stream_poll{250};      // how often a BodyStream is polled
};

class HttpServer {
 public:
  // Binds and starts listening; requests are served once Start runs.
  static absl::StatusOr<std::unique_ptr<HttpServer>> Create(const HttpServerOptions& options,
                                                            HttpHandler handler);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  uint16_t port() const;
  // Starts the worker threads and returns.
  void Start();
  // Stops accepting, lets requests in flight finish for up to `grace`, then stops the workers.
  void Shutdown(std::chrono::milliseconds grace);

  int64_t connections_open() const;
  int64_t streams_open() const;
  int64_t requests_in_flight() const;

  struct Impl;  // the Asio state; public only so that connection sessions can reach it

 private:
  explicit HttpServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace pdm::serving

#endif  // PDM_SERVING_HTTP_SERVER_H_
