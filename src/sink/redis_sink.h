// The Redis sink: each machine's latest risk as a hash, and every alert change published on a
// channel, for dashboards and services when several replicas serve one fleet (docs/ingest.md).
// hiredis.
//
//   HSET <prefix>risk:<machine> score S time T alarm 0|1 model NAME version V
//   PUBLISH <alert_channel> {"id", "machine", "kind", "failure_mode", "severity", "state", ...}
#ifndef PDM_SINK_REDIS_SINK_H_
#define PDM_SINK_REDIS_SINK_H_

#include <string>

#include "sink/sink.h"

struct redisContext;

namespace pdm::sink {

struct RedisSinkOptions {
  std::string name = "redis";
  std::string url;       // redis://host:port[/db]
  std::string password;  // from password_env, never the file
  std::string prefix = "pdm:";
  std::string alert_channel = "pdm:alerts";
  std::chrono::milliseconds timeout{2000};
  QueueOptions queue;
};

absl::Status ValidateRedisOptions(const RedisSinkOptions& options);

class RedisSink : public Sink {
 public:
  explicit RedisSink(RedisSinkOptions options);
  ~RedisSink() override;
  std::string Describe() const override;

 protected:
  absl::Status Write(const Batch& batch, bool* permanent) override;

 private:
  absl::Status Connect();
  void Disconnect();

  const RedisSinkOptions options_;
  std::string host_;
  int port_ = 6379;
  int db_ = 0;
  redisContext* context_ = nullptr;  // the writer thread's own
};

}  // namespace pdm::sink

#endif  // PDM_SINK_REDIS_SINK_H_
