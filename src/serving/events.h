// The server's live events for the dashboard (GET /api/v1/stream, Server-Sent Events): risk
// changes of the telemetry route, alert transitions, model swaps. A bounded ring: a subscriber
// that falls more than `capacity` events behind is told so (and reloads), never blocks a
// publisher.
//
// Thread-safe.
#ifndef PDM_SERVING_EVENTS_H_
#define PDM_SERVING_EVENTS_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "serving/http_server.h"

namespace pdm::serving {

struct ServerEvent {
  int64_t id = 0;    // 1, 2, ... in publication order
  std::string type;  // the SSE event name: "risk", "alert", "model"
  std::string data;  // one line of JSON
};

class EventHub {
 public:
  explicit EventHub(size_t capacity = 4096) : capacity_(capacity) {}

  // Appends an event; returns its id.
  int64_t Publish(std::string type, std::string data);
  // The events after `after`, at most `max`; `*lost` is set when events after `after` have
  // already left the ring.
  std::vector<ServerEvent> Since(int64_t after, size_t max, bool* lost) const;
  int64_t last_id() const;

  // Subscribers open now (streams count themselves).
  std::atomic<int64_t> subscribers{0};

 private:
  const size_t capacity_;
  mutable std::mutex mu_;
  std::deque<ServerEvent> ring_;
  int64_t last_id_ = 0;
};

// One subscriber's SSE body: the hub's events after `after` as "id/event/data" records, a
// "reset" event when it fell behind the ring or `after` is beyond the newest event (a cursor of
// a previous server process), whatever `extra` appends on each poll (e.g. a
// model swap seen by polling), and a comment line every `heartbeat` without events so that
// proxies keep the connection and a gone client is noticed.
class EventStreamBody : public BodyStream {
 public:
  EventStreamBody(std::shared_ptr<EventHub> hub, int64_t after,
                  std::function<void(std::string*)> extra,
                  std::chrono::milliseconds heartbeat = std::chrono::seconds(15));
  ~EventStreamBody() override;
  bool Poll(std::string* out) override;

 private:
  std::shared_ptr<EventHub> hub_;
  int64_t cursor_;
  std::function<void(std::string*)> extra_;
  std::chrono::milliseconds heartbeat_;
  std::chrono::steady_clock::time_point last_write_;
  bool started_ = false;
};

}  // namespace pdm::serving

#endif  // PDM_SERVING_EVENTS_H_
