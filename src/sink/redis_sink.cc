#include "sink/redis_sink.h"

#include <hiredis/hiredis.h>

#include <cmath>
#include <cstdlib>
#include <map>

#include "core/strings.h"
#include "core/time.h"

namespace pdm::sink {
namespace {

struct Url {
  std::string host;
  int port = 6379;
  int db = 0;
};

// redis://host[:port][/db]
bool ParseUrl(const std::string& url, Url* out) {
  if (!url.starts_with("redis://")) return false;
  std::string rest = url.substr(8);
  if (const size_t slash = rest.find('/'); slash != std::string::npos) {
    char* end = nullptr;
    const std::string db = rest.substr(slash + 1);
    out->db = static_cast<int>(std::strtol(db.c_str(), &end, 10));
    if (db.empty() || *end != '\0' || out->db < 0) return false;
    rest.resize(slash);
  }
  if (const size_t colon = rest.rfind(':'); colon != std::string::npos) {
    char* end = nullptr;
    const std::string port = rest.substr(colon + 1);
    out->port = static_cast<int>(std::strtol(port.c_str(), &end, 10));
    if (port.empty() || *end != '\0' || out->port < 1 || out->port > 65535) return false;
    rest.resize(colon);
  }
  out->host = rest;
  return !out->host.empty();
}

timeval TimeVal(std::chrono::milliseconds d) {
  return {static_cast<time_t>(d.count() / 1000), static_cast<suseconds_t>(d.count() % 1000 * 1000)};
}

std::string Seconds(int64_t time_us) { return core::StrCat(static_cast<double>(time_us) / 1e6); }

// A command's words as hiredis takes them (pointers into `argv`, which must outlive them).
struct Argv {
  explicit Argv(const std::vector<std::string>& argv) {
    for (const std::string& a : argv) {
      words.push_back(a.data());
      lengths.push_back(a.size());
    }
  }
  int count() const { return static_cast<int>(words.size()); }
  std::vector<const char*> words;
  std::vector<size_t> lengths;
};

}  // namespace

absl::Status ValidateRedisOptions(const RedisSinkOptions& o) {
  Url url;
  if (!ParseUrl(o.url, &url)) {
    return absl::InvalidArgumentError(
        core::StrCat("sinks.", o.name, ": url '", o.url, "': expected redis://host:port[/db]"));
  }
  return absl::OkStatus();
}

RedisSink::RedisSink(RedisSinkOptions options)
    : Sink(options.name, "redis", options.queue), options_(std::move(options)) {
  Url url;
  ParseUrl(options_.url, &url);
  host_ = url.host;
  port_ = url.port;
  db_ = url.db;
}

RedisSink::~RedisSink() {
  Stop();
  Disconnect();
}

std::string RedisSink::Describe() const {
  return core::StrCat(options_.url, " hashes ", options_.prefix, "risk:<machine>, alerts on ",
                      options_.alert_channel);
}

void RedisSink::Disconnect() {
  if (context_ != nullptr) redisFree(context_);
  context_ = nullptr;
}

absl::Status RedisSink::Connect() {
  context_ = redisConnectWithTimeout(host_.c_str(), port_, TimeVal(options_.timeout));
  if (context_ == nullptr || context_->err != 0) {
    const std::string reason = context_ != nullptr ? context_->errstr : "cannot allocate";
    Disconnect();
    return absl::UnavailableError(core::StrCat(options_.url, ": ", reason));
  }
  redisSetTimeout(context_, TimeVal(options_.timeout));
  auto command = [&](const std::vector<std::string>& words) -> absl::Status {
    Argv argv(words);
    auto* reply = static_cast<redisReply*>(
        redisCommandArgv(context_, argv.count(), argv.words.data(), argv.lengths.data()));
    if (reply == nullptr) return absl::UnavailableError(context_->errstr);
    const bool failed = reply->type == REDIS_REPLY_ERROR;
    const std::string text = failed ? std::string(reply->str, reply->len) : "";
    freeReplyObject(reply);
    return failed ? absl::PermissionDeniedError(text) : absl::OkStatus();
  };
  absl::Status ready;
  if (!options_.password.empty()) ready = command({"AUTH", options_.password});
  if (ready.ok() && db_ != 0) ready = command({"SELECT", std::to_string(db_)});
  if (!ready.ok()) {
    Disconnect();
    return absl::UnavailableError(core::StrCat(options_.url, ": ", ready.message()));
  }
  return absl::OkStatus();
}

absl::Status RedisSink::Write(const Batch& batch, bool* permanent) {
  // The latest risk of each machine in the batch (later rows win).
  std::map<std::string, const store::PredictionRow*> latest;
  for (const store::PredictionRow& r : batch.risks) latest[r.machine] = &r;
  std::vector<std::vector<std::string>> commands;
  commands.reserve(latest.size() + batch.alerts.size());
  for (const auto& [machine, r] : latest) {
    commands.push_back({"HSET", options_.prefix + "risk:" + machine, "score",
                        core::StrCat(r->score), "time", Seconds(r->time_us), "alarm",
                        r->alarm ? "1" : "0", "model", r->model, "version",
                        std::to_string(r->version)});
  }
  for (const store::AlertRow& a : batch.alerts) {
    commands.push_back({"PUBLISH", options_.alert_channel, AlertMessage(a)});
  }
  if (commands.empty()) return absl::OkStatus();
  if (context_ == nullptr) {
    if (absl::Status connected = Connect(); !connected.ok()) return connected;
  }
  // Pipelined: every command sent, then every reply read.
  for (const std::vector<std::string>& words : commands) {
    Argv argv(words);
    redisAppendCommandArgv(context_, argv.count(), argv.words.data(), argv.lengths.data());
  }
  std::string refused;
  for (size_t i = 0; i < commands.size(); ++i) {
    void* raw = nullptr;
    if (redisGetReply(context_, &raw) != REDIS_OK) {
      const std::string reason = context_->errstr;
      Disconnect();  // the connection is in an unknown state: a new one for the retry
      return absl::UnavailableError(core::StrCat(options_.url, ": ", reason));
    }
    auto* reply = static_cast<redisReply*>(raw);
    if (reply->type == REDIS_REPLY_ERROR && refused.empty()) {
      refused = core::StrCat(commands[i][0], " ", commands[i][1], ": ",
                             std::string(reply->str, reply->len));
    }
    freeReplyObject(reply);
  }
  if (!refused.empty()) {
    // Redis refused the command itself (e.g. WRONGTYPE: the key holds something else).
    *permanent = true;
    return absl::FailedPreconditionError(refused);
  }
  return absl::OkStatus();
}

}  // namespace pdm::sink
