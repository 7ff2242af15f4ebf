// A small HTTP/1.1 client over raw TCP for the server's integration tests (raw, so that
// malformed requests can be sent too).
#ifndef PDM_TESTS_TESTING_HTTP_CLIENT_H_
#define PDM_TESTS_TESTING_HTTP_CLIENT_H_

#include <signal.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <unistd.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <cstdint>
#include <string>
#include <vector>

namespace pdm::testing {

namespace net = boost::asio;

struct Reply {
  int status = 0;  // 0: no response (connection closed)
  std::string head;
  std::string body;
};

// The body of a chunked transfer coding (no trailers); stops at a malformed size.
inline std::string DecodeChunked(const std::string& chunked) {
  std::string body;
  size_t at = 0;
  for (;;) {
    const size_t line_end = chunked.find("\r\n", at);
    if (line_end == std::string::npos) break;
    const size_t size = std::stoul(chunked.substr(at, line_end - at), nullptr, 16);
    if (size == 0 || line_end + 2 + size > chunked.size()) break;
    body.append(chunked, line_end + 2, size);
    at = line_end + 2 + size + 2;
  }
  return body;
}

// Sends `raw` bytes and reads one response (or until the server closes).
inline Reply Send(uint16_t port, const std::string& raw) {
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
      if (reply.head.find("Transfer-Encoding: chunked") != std::string::npos) {
        // A chunked body (Go servers such as Prometheus send one beyond 4 KiB): complete at the
        // last chunk.
        if (data.find("\r\n0\r\n\r\n", end) != std::string::npos) {
          reply.body = DecodeChunked(data.substr(end + 4));
          break;
        }
        if (ec) break;
        continue;
      }
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

inline std::string Request(const std::string& method, const std::string& target,
                           const std::string& body,
                           const std::string& content_type = "application/json",
                           const std::string& extra = "") {
  std::string r = method + " " + target + " HTTP/1.1\r\nHost: localhost\r\n";
  if (!content_type.empty()) r += "Content-Type: " + content_type + "\r\n";
  r += extra;
  r += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  return r;
}

// A keep-alive connection sending one request after another.
class Connection {
 public:
  explicit Connection(uint16_t port) : socket_(io_) {
    socket_.connect({net::ip::make_address("127.0.0.1"), port});
  }
  Reply Exchange(const std::string& raw) {
    boost::system::error_code ec;
    net::write(socket_, net::buffer(raw), ec);
    Reply reply;
    char buffer[65536];
    for (;;) {
      const size_t end = data_.find("\r\n\r\n");
      if (end != std::string::npos) {
        const std::string head = data_.substr(0, end);
        const size_t at = head.find("Content-Length: ");
        const size_t length = at == std::string::npos ? 0 : std::stoul(head.substr(at + 16));
        if (data_.size() >= end + 4 + length) {
          reply.head = head;
          reply.body = data_.substr(end + 4, length);
          data_.erase(0, end + 4 + length);
          reply.status = std::stoi(head.substr(9, 3));
          return reply;
        }
      }
      if (ec) return reply;
      data_.append(buffer, socket_.read_some(net::buffer(buffer), ec));
    }
  }

 private:
  net::io_context io_;
  net::ip::tcp::socket socket_;
  std::string data_;
};

// A free loopback port (bound and released; good enough for a test).
inline uint16_t FreePort() {
  net::io_context io;
  net::ip::tcp::acceptor acceptor(io, {net::ip::make_address("127.0.0.1"), 0});
  return acceptor.local_endpoint().port();
}

// A `pdm serve` child process on a free port (`--port 0` is added), its stdout readable
// through `out` after the first line (which gave the port).
struct ServeProcess {
  pid_t pid = -1;
  uint16_t port = 0;
  int out = -1;
  std::string first_line;
};

// Starts `pdm serve <args> --port 0` with PDM_SERVE_TOKEN set to `token`; port 0 when the server
// did not start (the first line then says why).
// Runs `pdm WORDS...` (a command that ends up serving: serve, demo --serve) and reads its output
// up to the line "serving ... on http://ADDRESS:PORT", whose port it returns.
inline ServeProcess StartServing(const std::vector<std::string>& command,
                                 const std::string& token) {
  ServeProcess served;
  int out[2];
  if (::pipe(out) != 0) return served;
  served.pid = ::fork();
  if (served.pid == 0) {
    // The server dies with the test: an aborted test must not leave it holding ctest's pipes.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    ::dup2(out[1], STDOUT_FILENO);
    ::close(out[0]);
    ::setenv("PDM_SERVE_TOKEN", token.c_str(), 1);
    std::vector<std::string> words = {PDM_BINARY};
    words.insert(words.end(), command.begin(), command.end());
    std::vector<char*> argv;
    for (std::string& w : words) argv.push_back(w.data());
    argv.push_back(nullptr);
    ::execv(PDM_BINARY, argv.data());
    ::_exit(127);
  }
  ::close(out[1]);
  std::string line;
  char c;
  while (::read(out[0], &c, 1) == 1) {
    if (c != '\n') {
      line.push_back(c);
      continue;
    }
    served.first_line = line;
    if (line.starts_with("serving ")) break;
    line.clear();
  }
  if (!line.empty()) served.first_line = line;
  served.out = out[0];
  const size_t colon = served.first_line.rfind(':');
  if (served.first_line.starts_with("serving ") && colon != std::string::npos) {
    served.port = static_cast<uint16_t>(std::stoi(served.first_line.substr(colon + 1)));
  }
  return served;
}

inline ServeProcess StartServe(const std::vector<std::string>& args, const std::string& token) {
  std::vector<std::string> command = {"serve", "--port", "0"};
  command.insert(command.end(), args.begin(), args.end());
  return StartServing(command, token);
}

}  // namespace pdm::testing

#endif  // PDM_TESTS_TESTING_HTTP_CLIENT_H_
