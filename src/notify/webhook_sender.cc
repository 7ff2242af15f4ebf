#include "notify/webhook_sender.h"

#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <cmath>

#include "core/status.h"
#include "core/strings.h"

namespace pdm::notify {
namespace {

constexpr size_t kMaxResponseKept = 256;  // of a failed response body, for last_error

int64_t NowMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

size_t KeepSome(char* data, size_t size, size_t count, void* out) {
  auto* kept = static_cast<std::string*>(out);
  const size_t n = size * count;
  if (kept->size() < kMaxResponseKept) {
    kept->append(data, std::min(n, kMaxResponseKept - kept->size()));
  }
  return n;
}

// curl_global_init once per process, before any thread uses libcurl.
void InitCurlOnce() {
  static const CURLcode init = curl_global_init(CURL_GLOBAL_DEFAULT);
  (void)init;
}

}  // namespace

absl::Status ValidateWebhookOptions(const WebhookOptions& options) {
  for (const std::string& target : options.targets) {
    if (!(target.starts_with("http://") || target.starts_with("https://")) ||
        target.find_first_of(" \r\n\t") != std::string::npos || target.size() > 2048) {
      return absl::InvalidArgumentError(core::StrCat("webhook target '", RedactedTarget(target),
                                                     "': expected an http:// or https:// URL"));
    }
  }
  if (options.max_attempts < 1 || options.max_attempts > 100) {
    return absl::InvalidArgumentError("webhook max_attempts: expected 1 to 100");
  }
  if (options.backoff.count() <= 0 || options.max_backoff < options.backoff) {
    return absl::InvalidArgumentError(
        "webhook backoff: expected a positive delay no longer than max_backoff");
  }
  if (options.timeout.count() <= 0 || options.poll.count() <= 0 || options.batch < 1) {
    return absl::InvalidArgumentError("webhook timeout, poll and batch: expected positive values");
  }
  return absl::OkStatus();
}

std::string HmacSha256Hex(std::string_view key, std::string_view message) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(message.data()), message.size(), digest, &length);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(2 * static_cast<std::size_t>(length));
  for (unsigned int i = 0; i < length; ++i) {
    hex += kHex[digest[i] >> 4];
    hex += kHex[digest[i] & 15];
  }
  return hex;
}

std::string Signature(std::string_view secret, int64_t timestamp, std::string_view body) {
  return "sha256=" + HmacSha256Hex(secret, core::StrCat(timestamp, ".", body));
}

std::chrono::milliseconds Backoff(const WebhookOptions& options, int64_t failures, double jitter) {
  const double doublings = static_cast<double>(std::clamp<int64_t>(failures - 1, 0, 62));
  const double delay =
      std::min(static_cast<double>(options.backoff.count()) * std::pow(2.0, doublings),
               static_cast<double>(options.max_backoff.count()));
  return std::chrono::milliseconds(
      static_cast<int64_t>(std::ceil(delay * std::clamp(jitter, 0.5, 1.0))));
}

Outcome Classify(int http_status) {
  if (http_status >= 200 && http_status < 300) return Outcome::kDelivered;
  if (http_status == 0 || http_status == 408 || http_status == 429 || http_status >= 500) {
    return Outcome::kRetry;
  }
  return Outcome::kReject;
}

std::string RedactedTarget(std::string_view url) {
  const size_t scheme = url.find("://");
  if (scheme == std::string_view::npos) return "(not a URL)";
  const size_t end = url.find_first_of("/?#", scheme + 3);
  std::string_view origin = url.substr(0, end);
  // user:password@host shows as host.
  if (const size_t at = origin.rfind('@'); at != std::string_view::npos && at > scheme) {
    return core::StrCat(origin.substr(0, scheme + 3), origin.substr(at + 1));
  }
  return std::string(origin);
}

WebhookSender::WebhookSender(store::Store* store, WebhookOptions options, BodyBuilder body,
                             ResultObserver observer)
    : store_(store),
      options_(std::move(options)),
      body_(std::move(body)),
      observer_(std::move(observer)),
      jitter_(std::random_device{}()) {
  InitCurlOnce();
}

WebhookSender::~WebhookSender() {
  Stop();
  if (curl_ != nullptr) curl_easy_cleanup(static_cast<CURL*>(curl_));
}

void WebhookSender::Start() {
  std::lock_guard lock(mu_);
  if (worker_.joinable()) return;
  stop_ = false;
  worker_ = std::thread([this] { Run(); });
}

void WebhookSender::Stop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  if (worker_.joinable()) worker_.join();
}

void WebhookSender::Wake() {
  {
    std::lock_guard lock(mu_);
    woken_ = true;
  }
  wake_.notify_all();
}

void WebhookSender::Run() {
  for (;;) {
    {
      std::unique_lock lock(mu_);
      wake_.wait_for(lock, options_.poll, [this] { return stop_ || woken_; });
      if (stop_) return;
      woken_ = false;
    }
    // A failing Store (a PostgreSQL restart) is tried again at the next poll.
    for (;;) {
      auto attempted = DeliverDue();
      if (!attempted.ok() || *attempted < options_.batch) break;
      std::lock_guard lock(mu_);
      if (stop_) return;
    }
  }
}

absl::StatusOr<int> WebhookSender::DeliverDue() {
  std::lock_guard send_lock(send_mu_);
  // The lease covers every attempt of the batch timing out, so that another replica does not
  // send the same rows meanwhile.
  const int64_t lease_us = (options_.timeout.count() * options_.batch + 30'000) * int64_t{1000};
  PDM_ASSIGN_OR_RETURN(std::vector<store::NotificationRow> due,
                       store_->ClaimNotifications(NowMicros(), lease_us, options_.batch));
  for (const store::NotificationRow& row : due) {
    Attempt attempt;
    auto body = body_(row);
    if (body.ok()) {
      attempt = Post(row, *body);
    } else {
      attempt.error = std::string(body.status().message());
    }
    const Outcome outcome =
        body.ok() ? Classify(attempt.status) : Outcome::kRetry;  // the Store may come back
    const int64_t failures = row.attempts + 1;
    std::optional<int64_t> retry_at;
    std::string_view result = "delivered";
    if (outcome == Outcome::kRetry && failures < options_.max_attempts) {
      std::uniform_real_distribution<double> jitter(0.5, 1.0);
      retry_at = NowMicros() + Backoff(options_, failures, jitter(jitter_)).count() * 1000;
      result = "retried";
    } else if (outcome != Outcome::kDelivered) {
      result = "dead";
    }
    PDM_RETURN_IF_ERROR(store_->FinishNotification(row.id, outcome == Outcome::kDelivered,
                                                   attempt.error, retry_at));
    if (observer_) observer_(result);
  }
  return static_cast<int>(due.size());
}

WebhookSender::Attempt WebhookSender::Post(const store::NotificationRow& row,
                                           const std::string& body) {
  if (curl_ == nullptr) curl_ = curl_easy_init();
  const PostResult result = PostSignedJson(curl_, row.target, body, row.event, row.idempotency_key,
                                           options_.secret, options_.timeout);
  return Attempt{result.status, result.error};
}

PostResult PostSignedJson(void* handle, const std::string& target, std::string_view body,
                          std::string_view event, std::string_view idempotency_key,
                          std::string_view secret, std::chrono::milliseconds timeout) {
  CURL* owned = handle == nullptr ? curl_easy_init() : nullptr;
  CURL* curl = handle == nullptr ? owned : static_cast<CURL*>(handle);
  PostResult attempt;
  if (curl == nullptr) {
    attempt.error = "libcurl: cannot create a handle";
    return attempt;
  }
  curl_easy_reset(curl);
  const int64_t timestamp = NowMicros() / 1'000'000;
  curl_slist* headers = nullptr;
  const std::string lines[] = {
      "Content-Type: application/json",
      "Expect:",  // no 100-continue round trip
      core::StrCat("Idempotency-Key: ", idempotency_key),
      core::StrCat("X-Pdm-Event: ", event),
      core::StrCat("X-Pdm-Timestamp: ", timestamp),
      secret.empty() ? std::string()
                     : core::StrCat("X-Pdm-Signature: ", Signature(secret, timestamp, body))};
  for (const std::string& line : lines) {
    if (!line.empty()) headers = curl_slist_append(headers, line.c_str());
  }
  std::string response;
  char error[CURL_ERROR_SIZE] = "";
  curl_easy_setopt(curl, CURLOPT_URL, target.c_str());
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout.count()));
  curl_easy_setopt(curl, CURLOPT_USERAGENT, "pdm-webhook/1");
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.data());
  curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, KeepSome);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &response);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error);
  const CURLcode code = curl_easy_perform(curl);
  curl_slist_free_all(headers);
  long status = 0;
  if (code == CURLE_OK) curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  if (owned != nullptr) curl_easy_cleanup(owned);
  if (code != CURLE_OK) {
    attempt.error = core::StrCat(RedactedTarget(target), ": ",
                                 *error != '\0' ? error : curl_easy_strerror(code));
    return attempt;
  }
  attempt.status = static_cast<int>(status);
  if (Classify(attempt.status) != Outcome::kDelivered) {
    attempt.error = core::StrCat(RedactedTarget(target), ": HTTP ", status,
                                 response.empty() ? "" : ": ", response);
  }
  return attempt;
}

}  // namespace pdm::notify
