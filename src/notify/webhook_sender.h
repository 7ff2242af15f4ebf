// Delivery of the alert outbox (store/store.h, alert_notifications) to webhooks: a JSON POST per
// notification, signed with HMAC-SHA256, the same idempotency key on every attempt, retried with
// exponential backoff and jitter, dead-lettered after `max_attempts` (or at once when the
// receiver rejects the request with a 4xx other than 408 and 429).
//
// Headers of each POST:
//   Content-Type: application/json
//   Idempotency-Key: <the row's key>          the receiver dedups on it (at-least-once delivery)
//   X-Pdm-Event: opened | escalated | acknowledged | resolved
//   X-Pdm-Timestamp: <unix seconds>            of this attempt
//   X-Pdm-Signature: sha256=<hex>              HMAC-SHA256(secret, timestamp "." body); only
//                                              when a secret is set
//
// Thread-safe: Wake may be called from any thread; one worker thread sends.
#ifndef PDM_NOTIFY_WEBHOOK_SENDER_H_
#define PDM_NOTIFY_WEBHOOK_SENDER_H_

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "store/store.h"

namespace pdm::notify {

struct WebhookOptions {
  std::vector<std::string> targets;         // http:// or https:// URLs
  std::string secret;                       // the HMAC key; empty: requests are not signed
  int max_attempts = 8;                     // then the notification is dead (the dead-letter list)
  std::chrono::milliseconds backoff{1000};  // the delay after the first failure
  std::chrono::milliseconds max_backoff{600'000};  // the longest delay between attempts
  std::chrono::milliseconds timeout{10'000};       // of one POST, connecting included
  std::chrono::milliseconds poll{1000};            // how often the outbox is read without a Wake
  int batch = 16;                                  // notifications claimed at a time
};

// InvalidArgument naming the field when `options` cannot work (a target that is not an http(s)
// URL, attempts below 1, a zero timeout...).
absl::Status ValidateWebhookOptions(const WebhookOptions& options);

// Lowercase hex of HMAC-SHA256(key, message).
std::string HmacSha256Hex(std::string_view key, std::string_view message);
// The X-Pdm-Signature value of `body` sent at `timestamp` (unix seconds).
std::string Signature(std::string_view secret, int64_t timestamp, std::string_view body);

// The delay before the next attempt after `failures` failed attempts (>= 1): backoff * 2^(n-1),
// capped at max_backoff, then scaled by `jitter` in [0.5, 1] (full spread of a fleet of
// senders retrying together).
std::chrono::milliseconds Backoff(const WebhookOptions& options, int64_t failures, double jitter);

// What a response means for the notification.
enum class Outcome { kDelivered, kRetry, kReject };
// 2xx: delivered; 408, 429, 5xx and no response: retry; any other status: rejected (retrying
// the same request cannot help).
Outcome Classify(int http_status);

// One JSON POST with the headers above (signed when `secret` is set), no retry. `handle`: a
// libcurl easy handle to reuse, or null for a handle of this call's own. `status` is 0 when no
// response came; `error` is empty only for a 2xx.
struct PostResult {
  int status = 0;
  std::string error;
};
PostResult PostSignedJson(void* handle, const std::string& target, std::string_view body,
                          std::string_view event, std::string_view idempotency_key,
                          std::string_view secret, std::chrono::milliseconds timeout);

// The origin (scheme://host[:port]) of a URL: what logs and routes show of a target, since
// webhook URLs often carry a secret in their path.
std::string RedactedTarget(std::string_view url);

class WebhookSender {
 public:
  // The JSON body of a notification (the alert and the event it reports); an error makes the
  // attempt fail with that message.
  using BodyBuilder = std::function<absl::StatusOr<std::string>(const store::NotificationRow&)>;
  // Told every attempt's result: "delivered", "retried" (failed, tried again later) or "dead".
  using ResultObserver = std::function<void(std::string_view result)>;

  // `store` must outlive the sender.
  WebhookSender(store::Store* store, WebhookOptions options, BodyBuilder body,
                ResultObserver observer);
  ~WebhookSender();  // stops the worker
  WebhookSender(const WebhookSender&) = delete;
  WebhookSender& operator=(const WebhookSender&) = delete;

  const WebhookOptions& options() const { return options_; }

  // Starts the worker thread, which delivers what is due every `poll` and on Wake.
  void Start();
  // Stops the worker after the attempt in flight (the rest stay pending in the outbox).
  void Stop();
  // New notifications were written: deliver them now rather than at the next poll.
  void Wake();

  // One pass over the outbox: claims what is due and attempts each once. Returns the attempts
  // made. Used by the worker, and by tests without it (passes are serialised).
  absl::StatusOr<int> DeliverDue();

 private:
  struct Attempt {
    int status = 0;  // 0: no response
    std::string error;
  };
  Attempt Post(const store::NotificationRow& row, const std::string& body);
  void Run();

  store::Store* store_;
  WebhookOptions options_;
  BodyBuilder body_;
  ResultObserver observer_;
  std::mutex send_mu_;    // serialises passes; guards the two below
  void* curl_ = nullptr;  // the CURL easy handle (its connections are reused)
  std::mt19937_64 jitter_;
  std::mutex mu_;  // guards the three below
  std::condition_variable wake_;
  bool stop_ = false;
  bool woken_ = false;
  std::thread worker_;
};

}  // namespace pdm::notify

#endif  // PDM_NOTIFY_WEBHOOK_SENDER_H_
