#include "notify/webhook_sender.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>

#include "tests/testing/test_paths.h"
#include "tests/testing/webhook_receiver.h"

namespace pdm::notify {
namespace {

using ::testing::HasSubstr;

// RFC 4231, test case 2.
TEST(SignatureTest, HmacSha256MatchesTheRfcVector) {
  EXPECT_EQ(HmacSha256Hex("Jefe", "what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  EXPECT_EQ(Signature("Jefe", 1700000000, "{}"),
            "sha256=" + HmacSha256Hex("Jefe", "1700000000.{}"));
  EXPECT_NE(Signature("Jefe", 1700000000, "{}"), Signature("Jefe", 1700000001, "{}"));
}

TEST(BackoffTest, DoublesFromTheFirstDelayUpToTheCapWithJitterBelowIt) {
  WebhookOptions options;
  options.backoff = std::chrono::milliseconds(1000);
  options.max_backoff = std::chrono::milliseconds(30'000);
  EXPECT_EQ(Backoff(options, 1, 1.0).count(), 1000);
  EXPECT_EQ(Backoff(options, 2, 1.0).count(), 2000);
  EXPECT_EQ(Backoff(options, 5, 1.0).count(), 16'000);
  EXPECT_EQ(Backoff(options, 6, 1.0).count(), 30'000);
  EXPECT_EQ(Backoff(options, 1000, 1.0).count(), 30'000);
  EXPECT_EQ(Backoff(options, 2, 0.5).count(), 1000);
  EXPECT_EQ(Backoff(options, 2, 0.0).count(), 1000) << "jitter is clamped to [0.5, 1]";
}

TEST(ClassifyTest, RetriesWhatCanSucceedLaterAndRejectsTheRest) {
  EXPECT_EQ(Classify(200), Outcome::kDelivered);
  EXPECT_EQ(Classify(204), Outcome::kDelivered);
  for (int status : {0, 408, 429, 500, 502, 503}) EXPECT_EQ(Classify(status), Outcome::kRetry);
  for (int status : {301, 400, 401, 404, 410, 422}) EXPECT_EQ(Classify(status), Outcome::kReject);
}

TEST(RedactedTargetTest, ShowsOnlyTheOrigin) {
  EXPECT_EQ(RedactedTarget("https://hooks.example.com/services/T0/B0/secret"),
            "https://hooks.example.com");
  EXPECT_EQ(RedactedTarget("http://user:pw@10.0.0.1:8080/x?token=1"), "http://10.0.0.1:8080");
  EXPECT_EQ(RedactedTarget("nonsense"), "(not a URL)");
}

TEST(ValidateWebhookOptionsTest, NamesWhatIsWrong) {
  WebhookOptions options;
  options.targets = {"ftp://x/y"};
  EXPECT_THAT(ValidateWebhookOptions(options).message(), HasSubstr("http:// or https://"));
  options.targets = {"https://x/y"};
  EXPECT_TRUE(ValidateWebhookOptions(options).ok());
  options.max_attempts = 0;
  EXPECT_THAT(ValidateWebhookOptions(options).message(), HasSubstr("max_attempts"));
}

class WebhookSenderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = pdm::testing::TempDir("webhook");
    auto store = store::OpenStore(store::SqliteUrl((dir_ / "pdm.db").string()));
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
  }
  int64_t OpenAlert(const std::string& machine, const std::string& target) {
    store::AlertRow row;
    row.machine = machine;
    row.kind = "failure_risk";
    row.failure_mode = "failure";
    row.severity = "warning";
    row.message = "risk above the threshold";
    const std::string targets[] = {target};
    auto opened = store_->OpenAlert(row, targets);
    EXPECT_TRUE(opened.ok()) << opened.status();
    return opened.ok() ? opened->alert.id : 0;
  }
  static WebhookOptions Fast(const std::string& target) {
    WebhookOptions options;
    options.targets = {target};
    options.secret = "s3cret";
    options.backoff = std::chrono::milliseconds(20);
    options.max_backoff = std::chrono::milliseconds(50);
    options.timeout = std::chrono::milliseconds(2000);
    options.poll = std::chrono::milliseconds(10);
    return options;
  }
  static absl::StatusOr<std::string> Body(const store::NotificationRow& row) {
    return std::string("{\"alert\":") + std::to_string(row.alert_id) + ",\"event\":\"" + row.event +
           "\"}";
  }

  std::filesystem::path dir_;
  std::unique_ptr<store::Store> store_;
};

// The receiver: it fails each delivery twice, then accepts. Each alert reaches it
// exactly once by key, signed, and the outbox agrees.
TEST_F(WebhookSenderTest, AReceiverThatFailsTwiceGetsEachAlertExactlyOnceByKey) {
  pdm::testing::WebhookReceiver receiver(pdm::testing::FailEachKeyFirst(2));
  std::vector<int64_t> alerts;
  for (const char* machine : {"M1", "M2", "M3"})
    alerts.push_back(OpenAlert(machine, receiver.url()));
  std::map<std::string, int> results;
  std::mutex results_mu;
  WebhookSender sender(store_.get(), Fast(receiver.url()), Body, [&](std::string_view result) {
    std::lock_guard lock(results_mu);
    ++results[std::string(result)];
  });
  sender.Start();
  sender.Wake();
  for (int i = 0; i < 500; ++i) {
    auto counts = store_->CountNotifications();
    ASSERT_TRUE(counts.ok());
    if ((*counts)["delivered"] == 3) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  sender.Stop();
  auto counts = store_->CountNotifications();
  ASSERT_TRUE(counts.ok());
  EXPECT_EQ((*counts)["delivered"], 3);
  EXPECT_EQ((*counts)["pending"], 0);

  const std::vector<pdm::testing::ReceivedWebhook> got = receiver.received();
  ASSERT_EQ(got.size(), 9u) << "three attempts of each of three alerts";
  std::map<std::string, int> accepted_by_key;
  std::set<std::string> bodies;
  for (const auto& r : got) {
    const std::string& key = r.headers.at("idempotency-key");
    EXPECT_EQ(r.headers.at("content-type"), "application/json");
    EXPECT_EQ(r.headers.at("x-pdm-event"), "opened");
    const int64_t timestamp = std::stoll(r.headers.at("x-pdm-timestamp"));
    EXPECT_EQ(r.headers.at("x-pdm-signature"), Signature("s3cret", timestamp, r.body))
        << "the receiver can verify every attempt";
    if (r.answered == 200) ++accepted_by_key[key];
    bodies.insert(r.body);
  }
  ASSERT_EQ(accepted_by_key.size(), 3u);
  for (const auto& [key, n] : accepted_by_key) EXPECT_EQ(n, 1) << key;
  EXPECT_EQ(bodies.size(), 3u) << "each retry repeats the same body";
  std::lock_guard lock(results_mu);
  EXPECT_EQ(results["retried"], 6);
  EXPECT_EQ(results["delivered"], 3);
  EXPECT_EQ(results["dead"], 0);
}

TEST_F(WebhookSenderTest, DeadLettersAfterMaxAttemptsAndAtOnceOnARejection) {
  pdm::testing::WebhookReceiver failing([](const auto&, const auto&) { return 503; });
  pdm::testing::WebhookReceiver rejecting([](const auto&, const auto&) { return 400; });
  OpenAlert("M1", failing.url());
  OpenAlert("M2", rejecting.url("/secret-path"));
  WebhookOptions options = Fast(failing.url());
  options.max_attempts = 3;
  int dead = 0;
  WebhookSender sender(store_.get(), options, Body,
                       [&](std::string_view result) { dead += result == "dead"; });
  for (int i = 0; i < 200 && dead < 2; ++i) {
    ASSERT_TRUE(sender.DeliverDue().ok());
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(failing.received().size(), 3u);
  EXPECT_EQ(rejecting.received().size(), 1u) << "a 400 is not retried";
  auto dead_rows = store_->ListNotifications("dead", 10);
  ASSERT_TRUE(dead_rows.ok());
  ASSERT_EQ(dead_rows->size(), 2u);
  for (const store::NotificationRow& row : *dead_rows) {
    EXPECT_THAT(row.last_error, HasSubstr("HTTP "));
    EXPECT_THAT(row.last_error, ::testing::Not(HasSubstr("secret-path")))
        << "errors name the origin only";
  }
  // A dead letter sent again once the receiver is fixed.
  ASSERT_TRUE(store_->RetryNotification((*dead_rows)[0].id).ok());
  EXPECT_EQ(*sender.DeliverDue(), 1);
}

TEST_F(WebhookSenderTest, AnUnreachableTargetIsRetriedWithItsError) {
  uint16_t closed_port = 0;
  {
    pdm::testing::WebhookReceiver gone([](const auto&, const auto&) { return 200; });
    closed_port = gone.port();
  }
  const std::string target = "http://127.0.0.1:" + std::to_string(closed_port) + "/hook";
  OpenAlert("M1", target);
  std::string last;
  WebhookSender sender(store_.get(), Fast(target), Body,
                       [&](std::string_view result) { last = std::string(result); });
  ASSERT_EQ(*sender.DeliverDue(), 1);
  EXPECT_EQ(last, "retried");
  auto pending = store_->ListNotifications("pending", 10);
  ASSERT_TRUE(pending.ok());
  ASSERT_EQ(pending->size(), 1u);
  EXPECT_EQ((*pending)[0].attempts, 1);
  EXPECT_THAT((*pending)[0].last_error, HasSubstr("http://127.0.0.1:"));
}

}  // namespace
}  // namespace pdm::notify
