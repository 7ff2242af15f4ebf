#include "serving/events.h"

#include <gtest/gtest.h>

#include <thread>

namespace pdm::serving {
namespace {

TEST(EventHubTest, SubscribersGetTheEventsAfterTheirCursorInOrder) {
  EventHub hub(4);
  EXPECT_EQ(hub.last_id(), 0);
  for (int i = 1; i <= 3; ++i) EXPECT_EQ(hub.Publish("risk", std::to_string(i)), i);
  bool lost = true;
  std::vector<ServerEvent> events = hub.Since(1, 10, &lost);
  EXPECT_FALSE(lost);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].id, 2);
  EXPECT_EQ(events[1].data, "3");
  EXPECT_TRUE(hub.Since(3, 10, &lost).empty());
  EXPECT_EQ(hub.Since(0, 2, &lost).size(), 2u) << "at most `max`";
  // The ring keeps 4: a cursor before the oldest kept is told it lost some.
  for (int i = 4; i <= 7; ++i) hub.Publish("alert", std::to_string(i));
  events = hub.Since(1, 10, &lost);
  EXPECT_TRUE(lost);
  ASSERT_EQ(events.size(), 4u);
  EXPECT_EQ(events.front().id, 4);
  events = hub.Since(3, 10, &lost);
  EXPECT_FALSE(lost) << "event 4 is the next one and is kept";
}

TEST(EventStreamBodyTest, FormatsEventsHeartbeatsAndResets) {
  auto hub = std::make_shared<EventHub>(2);
  std::string extra = "event: model\ndata: {}\n\n";
  bool extra_once = false;
  EventStreamBody body(
      hub, 0,
      [&](std::string* out) {
        if (!extra_once) out->append(extra);
        extra_once = true;
      },
      std::chrono::milliseconds(30));
  EXPECT_EQ(hub->subscribers.load(), 1);
  std::string out;
  ASSERT_TRUE(body.Poll(&out));
  EXPECT_EQ(out, "retry: 3000\n\n" + extra);
  hub->Publish("risk", "{\"a\":1}");
  out.clear();
  body.Poll(&out);
  EXPECT_EQ(out, "id: 1\nevent: risk\ndata: {\"a\":1}\n\n");
  out.clear();
  body.Poll(&out);
  EXPECT_EQ(out, "") << "nothing new, heartbeat not due";
  std::this_thread::sleep_for(std::chrono::milliseconds(40));
  body.Poll(&out);
  EXPECT_EQ(out, ": keep-alive\n\n");
  for (int i = 0; i < 3; ++i) hub->Publish("risk", "{}");  // event 2 leaves the ring of 2
  out.clear();
  body.Poll(&out);
  EXPECT_TRUE(out.starts_with("event: reset\ndata: {}\n\nid: 3\n")) << out;
  EXPECT_NE(out.find("id: 4\n"), std::string::npos);
  EXPECT_EQ(out.find("id: 2\n"), std::string::npos);
}

TEST(EventStreamBodyTest, ACursorFromAnotherProcessResetsAndFollowsFromNow) {
  auto hub = std::make_shared<EventHub>();
  hub->Publish("risk", "{}");
  EventStreamBody body(hub, 500, nullptr);  // the last id a client saw before a restart
  std::string out;
  body.Poll(&out);
  EXPECT_EQ(out, "retry: 3000\n\nevent: reset\ndata: {}\n\n");
  hub->Publish("alert", "{\"id\":1}");
  out.clear();
  body.Poll(&out);
  EXPECT_EQ(out, "id: 2\nevent: alert\ndata: {\"id\":1}\n\n");
}

TEST(EventStreamBodyTest, CountsItsSubscription) {
  auto hub = std::make_shared<EventHub>();
  {
    EventStreamBody a(hub, 0, nullptr), b(hub, 0, nullptr);
    EXPECT_EQ(hub->subscribers.load(), 2);
  }
  EXPECT_EQ(hub->subscribers.load(), 0);
}

}  // namespace
}  // namespace pdm::serving
