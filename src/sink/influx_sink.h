// The InfluxDB 1.x sink: readings, risk scores and alerts as line protocol, POSTed to /write in
// batches (docs/ingest.md). libcurl.
//
// Measurements (timestamps in ms):
//   pdm_reading,machine=M <sensor>=<value>,...          one point per machine and time
//   pdm_risk,machine=M,model=NAME score=S,alarm=B,version=Vi
//   pdm_alert,machine=M,kind=K,severity=SEV id=Ii,state="S",score=S   at the opening reading's
//     time (a later state change rewrites the point)
#ifndef PDM_SINK_INFLUX_SINK_H_
#define PDM_SINK_INFLUX_SINK_H_

#include <memory>
#include <string>

#include "sink/sink.h"

namespace pdm::sink {

struct InfluxSinkOptions {
  std::string name = "influxdb";
  std::string url;                 // http://host:8086 (or https://)
  std::string database = "pdm";    // created at start when missing
  std::string retention_policy;    // empty: the database's default
  std::string username, password;  // password from password_env, never the file
  bool readings = true;            // false: risks and alerts only
  std::chrono::milliseconds timeout{5000};
  QueueOptions queue;
};

absl::Status ValidateInfluxOptions(const InfluxSinkOptions& options);

// The batch as line protocol (tags and keys escaped as InfluxDB requires).
std::string EncodeLineProtocol(const Batch& batch, bool readings);

class InfluxSink : public Sink {
 public:
  explicit InfluxSink(InfluxSinkOptions options);
  ~InfluxSink() override;
  std::string Describe() const override;

 protected:
  absl::Status Write(const Batch& batch, bool* permanent) override;

 private:
  class Http;
  const InfluxSinkOptions options_;
  std::unique_ptr<Http> http_;  // the writer thread's own
  bool database_ready_ = false;
};

}  // namespace pdm::sink

#endif  // PDM_SINK_INFLUX_SINK_H_
