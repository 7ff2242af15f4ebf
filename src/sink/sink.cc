#include "sink/sink.h"

#include <algorithm>
#include <cmath>

#include "core/strings.h"
#include "core/time.h"

namespace pdm::sink {

std::string AlertMessage(const store::AlertRow& a) {
  nlohmann::json out = {{"id", a.id},
                        {"machine", a.machine},
                        {"kind", a.kind},
                        {"failure_mode", a.failure_mode},
                        {"severity", a.severity},
                        {"state", a.state},
                        {"model", a.model},
                        {"version", a.version},
                        {"time", core::FormatTimestamp(a.time_us / 1'000'000)}};
  if (a.score && std::isfinite(*a.score)) out["score"] = *a.score;
  if (!a.resolution.empty()) out["resolution"] = a.resolution;
  if (!a.message.empty()) out["message"] = a.message;
  return out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string RiskMessage(const store::PredictionRow& p) {
  nlohmann::json out = {{"machine", p.machine},
                        {"time", core::FormatTimestamp(p.time_us / 1'000'000)},
                        {"alarm", p.alarm},
                        {"model", p.model},
                        {"version", p.version}};
  if (std::isfinite(p.score)) out["score"] = p.score;
  return out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Sink::Sink(std::string name, std::string type, QueueOptions options)
    : name_(std::move(name)), type_(std::move(type)), options_(options) {}

Sink::~Sink() {
  // Subclasses stop the thread in their destructors (Write is theirs); this is the last guard.
  if (thread_.joinable()) {
    thread_.request_stop();
    thread_.join();
  }
}

void Sink::Start() {
  thread_ = std::jthread([this](const std::stop_token& stop) { Run(stop); });
}

void Sink::Stop() {
  if (!thread_.joinable()) return;
  thread_.request_stop();
  wake_.notify_all();
  thread_.join();
}

void Sink::Add(std::span<const store::TelemetryRow> readings,
               std::span<const store::PredictionRow> risks) {
  bool full = false;
  {
    std::lock_guard lock(mu_);
    const size_t room = options_.max_queued - std::min(options_.max_queued, queue_.points());
    const size_t take_risks = std::min(room, risks.size());
    const size_t take_readings = std::min(room - take_risks, readings.size());
    queue_.risks.insert(queue_.risks.end(), risks.begin(),
                        risks.begin() + static_cast<std::ptrdiff_t>(take_risks));
    queue_.readings.insert(queue_.readings.end(), readings.begin(),
                           readings.begin() + static_cast<std::ptrdiff_t>(take_readings));
    const size_t dropped = risks.size() - take_risks + readings.size() - take_readings;
    dropped_ += static_cast<int64_t>(dropped);
    full = queue_.points() >= options_.max_batch;
  }
  if (full) wake_.notify_all();
}

void Sink::Alert(const store::AlertRow& alert) {
  {
    std::lock_guard lock(mu_);
    if (queue_.points() >= options_.max_queued) {
      ++dropped_;
      return;
    }
    queue_.alerts.push_back(alert);
  }
  wake_.notify_all();  // alerts go out at once
}

nlohmann::json Sink::Status() const {
  size_t queued = 0;
  {
    std::lock_guard lock(mu_);
    queued = queue_.points();
  }
  std::string error;
  {
    std::lock_guard lock(error_mu_);
    error = last_error_;
  }
  return {{"name", name_},
          {"type", type_},
          {"connected", connected_.load()},
          {"queued", queued},
          {"points_written", written_.load()},
          {"points_dropped", dropped_.load()},
          {"batches", batches_.load()},
          {"retries", retries_.load()},
          {"last_error", error},
          {"describe", Describe()}};
}

// Takes up to max_batch points off the queue: alerts and risks first (small, and what
// dashboards wait for), then readings.
bool Sink::TakeBatch(Batch* batch) {
  std::lock_guard lock(mu_);
  size_t room = options_.max_batch - std::min(options_.max_batch, batch->points());
  auto take = [&room](auto& from, auto& into) {
    const size_t n = std::min(room, from.size());
    into.insert(into.end(), std::make_move_iterator(from.begin()),
                std::make_move_iterator(from.begin() + static_cast<std::ptrdiff_t>(n)));
    from.erase(from.begin(), from.begin() + static_cast<std::ptrdiff_t>(n));
    room -= n;
  };
  take(queue_.alerts, batch->alerts);
  take(queue_.risks, batch->risks);
  take(queue_.readings, batch->readings);
  return !batch->empty();
}

void Sink::Flush(Batch* batch, const std::stop_token& stop, bool final) {
  std::chrono::milliseconds backoff = options_.retry_min;
  for (;;) {
    bool permanent = false;
    const absl::Status written = Write(*batch, &permanent);
    if (written.ok() || permanent) {
      connected_ = written.ok() || permanent;
      (written.ok() ? written_ : dropped_) += static_cast<int64_t>(batch->points());
      ++batches_;
      if (!written.ok()) {
        std::lock_guard lock(error_mu_);
        last_error_ =
            core::StrCat("batch of ", batch->points(), " points refused: ", written.message());
      }
      *batch = {};
      return;
    }
    connected_ = false;
    {
      std::lock_guard lock(error_mu_);
      last_error_ = std::string(written.message());
    }
    if (final) {
      dropped_ += static_cast<int64_t>(batch->points());
      *batch = {};
      return;
    }
    ++retries_;
    std::unique_lock lock(mu_);
    if (wake_.wait_for(lock, stop, backoff, [] { return false; }) || stop.stop_requested()) {
      return;  // stopping: the final flush tries it once more
    }
    backoff = std::min(backoff * 2, options_.retry_max);
  }
}

void Sink::Run(const std::stop_token& stop) {
  Batch batch;
  while (!stop.stop_requested()) {
    {
      std::unique_lock lock(mu_);
      wake_.wait_for(lock, stop, options_.flush_interval, [this] {
        return queue_.points() >= options_.max_batch || !queue_.alerts.empty();
      });
    }
    while (TakeBatch(&batch)) {
      Flush(&batch, stop, /*final=*/false);
      if (stop.stop_requested() || !batch.empty()) break;
    }
  }
  // Stopping: what is queued gets one attempt (a batch being retried first); once one fails,
  // the destination is down and the rest is dropped (counted) rather than waited on.
  const std::stop_token none;
  const int64_t dropped_before = dropped_;
  if (!batch.empty()) Flush(&batch, none, /*final=*/true);
  while (dropped_ == dropped_before && TakeBatch(&batch)) Flush(&batch, none, /*final=*/true);
  std::lock_guard lock(mu_);
  dropped_ += static_cast<int64_t>(queue_.points());
  queue_ = {};
}

}  // namespace pdm::sink
