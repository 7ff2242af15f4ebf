#include "serving/events.h"

#include "core/strings.h"

namespace pdm::serving {

int64_t EventHub::Publish(std::string type, std::string data) {
  std::lock_guard lock(mu_);
  ring_.push_back({++last_id_, std::move(type), std::move(data)});
  while (ring_.size() > capacity_) ring_.pop_front();
  return last_id_;
}

std::vector<ServerEvent> EventHub::Since(int64_t after, size_t max, bool* lost) const {
  std::lock_guard lock(mu_);
  *lost = !ring_.empty() && ring_.front().id > after + 1;
  std::vector<ServerEvent> out;
  if (ring_.empty() || after >= last_id_) return out;
  // Ids are consecutive in the ring: the first event after `after` is at a known offset.
  const int64_t first = ring_.front().id;
  size_t i = after + 1 > first ? static_cast<size_t>(after + 1 - first) : 0;
  for (; i < ring_.size() && out.size() < max; ++i) out.push_back(ring_[i]);
  return out;
}

int64_t EventHub::last_id() const {
  std::lock_guard lock(mu_);
  return last_id_;
}

EventStreamBody::EventStreamBody(std::shared_ptr<EventHub> hub, int64_t after,
                                 std::function<void(std::string*)> extra,
                                 std::chrono::milliseconds heartbeat)
    : hub_(std::move(hub)),
      cursor_(after),
      extra_(std::move(extra)),
      heartbeat_(heartbeat),
      last_write_(std::chrono::steady_clock::now()) {
  ++hub_->subscribers;
}

EventStreamBody::~EventStreamBody() { --hub_->subscribers; }

bool EventStreamBody::Poll(std::string* out) {
  if (!started_) {
    started_ = true;
    // Reconnect after 3 s when the connection drops (the browser's EventSource does).
    out->append("retry: 3000\n\n");
    // A cursor beyond the newest event is another process's (the server restarted): the client
    // reloads, and follows from now.
    if (const int64_t newest = hub_->last_id(); cursor_ > newest) {
      out->append("event: reset\ndata: {}\n\n");
      cursor_ = newest;
    }
  }
  bool lost = false;
  constexpr size_t kMaxPerPoll = 256;
  const std::vector<ServerEvent> events = hub_->Since(cursor_, kMaxPerPoll, &lost);
  if (lost) out->append("event: reset\ndata: {}\n\n");
  for (const ServerEvent& e : events) {
    core::StrAppend(out, "id: ", e.id, "\nevent: ", e.type, "\ndata: ", e.data, "\n\n");
    cursor_ = e.id;
  }
  if (events.empty() && lost) cursor_ = hub_->last_id();
  if (extra_) extra_(out);
  const auto now = std::chrono::steady_clock::now();
  if (!out->empty()) {
    last_write_ = now;
  } else if (now - last_write_ >= heartbeat_) {
    out->append(": keep-alive\n\n");
    last_write_ = now;
  }
  return true;
}

}  // namespace pdm::serving
