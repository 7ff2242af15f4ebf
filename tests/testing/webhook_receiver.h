// A webhook receiver for tests: an HTTP/1.1 server on 127.0.0.1 (a free port) in a thread of the
// test, which records every request and answers each with the status a test's policy chooses
// (e.g. 500 for the first two attempts of each idempotency key, then 200).
#ifndef PDM_TESTS_TESTING_WEBHOOK_RECEIVER_H_
#define PDM_TESTS_TESTING_WEBHOOK_RECEIVER_H_

#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/write.hpp>
#include <cctype>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace pdm::testing {

struct ReceivedWebhook {
  std::map<std::string, std::string> headers;  // names lowercased
  std::string body;
  int answered = 0;  // the status sent back
};

class WebhookReceiver {
 public:
  // `status_of(request, earlier)`: the status to answer, given the requests received before it.
  using Policy =
      std::function<int(const ReceivedWebhook&, const std::vector<ReceivedWebhook>& earlier)>;

  explicit WebhookReceiver(Policy policy)
      : policy_(std::move(policy)),
        acceptor_(io_, {boost::asio::ip::make_address("127.0.0.1"), 0}) {
    thread_ = std::thread([this] { Serve(); });
  }
  ~WebhookReceiver() {
    stopping_ = true;
    boost::system::error_code ec;
    // Wake the blocking accept with a connection of our own.
    boost::asio::ip::tcp::socket poke(io_);
    poke.connect(acceptor_.local_endpoint(), ec);
    thread_.join();
  }

  uint16_t port() const { return acceptor_.local_endpoint().port(); }
  std::string url(const std::string& path = "/hook") const {
    return "http://127.0.0.1:" + std::to_string(port()) + path;
  }
  std::vector<ReceivedWebhook> received() {
    std::lock_guard lock(mu_);
    return received_;
  }

 private:
  void Serve() {
    while (!stopping_) {
      boost::asio::ip::tcp::socket socket(io_);
      boost::system::error_code ec;
      acceptor_.accept(socket, ec);
      if (ec || stopping_) continue;
      // One request per connection (answered with Connection: close).
      std::string data;
      const size_t head_end =
          boost::asio::read_until(socket, boost::asio::dynamic_buffer(data), "\r\n\r\n", ec);
      if (ec) continue;
      ReceivedWebhook request;
      size_t length = 0;
      size_t line_start = data.find("\r\n") + 2;
      while (line_start < head_end - 2) {
        const size_t line_end = data.find("\r\n", line_start);
        const std::string line = data.substr(line_start, line_end - line_start);
        const size_t colon = line.find(':');
        if (colon != std::string::npos) {
          std::string name = line.substr(0, colon);
          for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
          std::string value = line.substr(colon + 1);
          value.erase(0, value.find_first_not_of(' '));
          if (name == "content-length") length = std::stoul(value);
          request.headers[name] = value;
        }
        line_start = line_end + 2;
      }
      if (data.size() < head_end + length) {
        boost::asio::read(socket, boost::asio::dynamic_buffer(data),
                          boost::asio::transfer_exactly(head_end + length - data.size()), ec);
      }
      request.body = data.substr(head_end, length);
      {
        std::lock_guard lock(mu_);
        request.answered = policy_(request, received_);
        received_.push_back(request);
      }
      const std::string reply = "HTTP/1.1 " + std::to_string(request.answered) +
                                " X\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok";
      boost::asio::write(socket, boost::asio::buffer(reply), ec);
    }
  }

  Policy policy_;
  boost::asio::io_context io_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::mutex mu_;
  std::vector<ReceivedWebhook> received_;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

// The policy of the proof: fail the first `failures` attempts of each idempotency key
// with a 500, then accept.
inline WebhookReceiver::Policy FailEachKeyFirst(int failures) {
  return [failures](const ReceivedWebhook& r, const std::vector<ReceivedWebhook>& earlier) {
    int seen = 0;
    for (const ReceivedWebhook& e : earlier) {
      if (e.headers.count("idempotency-key") && r.headers.count("idempotency-key") &&
          e.headers.at("idempotency-key") == r.headers.at("idempotency-key")) {
        ++seen;
      }
    }
    return seen < failures ? 500 : 200;
  };
}

}  // namespace pdm::testing

#endif  // PDM_TESTS_TESTING_WEBHOOK_RECEIVER_H_
