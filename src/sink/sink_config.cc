#include "sink/sink_config.h"

#include <yaml-cpp/yaml.h>

#include <map>

#include "core/strings.h"
#include "ingest/config_reader.h"
#include "ingest/source_config.h"

namespace pdm::sink {
namespace {

using ingest::EntryReader;

// The queue keys every sink shares; false for others.
bool ReadQueueKey(const std::string& key, const YAML::Node& v, EntryReader* r, QueueOptions* q) {
  if (key == "max_queued") {
    r->Number(v, key, &q->max_queued);
  } else if (key == "batch") {
    r->Number(v, key, &q->max_batch);
  } else if (key == "flush_ms") {
    r->Millis(v, key, &q->flush_interval);
  } else if (key == "retry_max_ms") {
    r->Millis(v, key, &q->retry_max);
  } else {
    return false;
  }
  if (r->status().ok() && (q->max_queued == 0 || q->max_batch == 0)) {
    r->Fail(key, "expected a positive number");
  }
  return true;
}

constexpr char kQueueKeys[] = "max_queued, batch, flush_ms, retry_max_ms";

absl::Status ParseInflux(const std::string& path, const YAML::Node& entry, size_t index,
                         EntryReader* r, SinksConfig* out) {
  InfluxSinkOptions o;
  o.name = core::StrCat("influxdb-", index);
  absl::Status read =
      r->Read(entry,
              core::StrCat("type, name, url, database, retention_policy, username, password_env, "
                           "readings, timeout_ms, ",
                           kQueueKeys),
              [&](const std::string& key, const YAML::Node& v) {
                if (key == "name") {
                  o.name = r->Text(v, key);
                } else if (key == "url") {
                  o.url = r->Text(v, key);
                } else if (key == "database") {
                  o.database = r->Text(v, key);
                } else if (key == "retention_policy") {
                  o.retention_policy = r->Text(v, key);
                } else if (key == "username") {
                  o.username = r->Text(v, key);
                } else if (key == "password_env") {
                  r->PasswordFromEnvironment(v, key, &o.password);
                } else if (key == "readings") {
                  r->Bool(v, key, &o.readings);
                } else if (key == "timeout_ms") {
                  r->Millis(v, key, &o.timeout);
                } else if (!ReadQueueKey(key, v, r, &o.queue)) {
                  return false;
                }
                return true;
              });
  if (!read.ok()) return read;
  if (absl::Status valid = ValidateInfluxOptions(o); !valid.ok()) {
    return absl::InvalidArgumentError(core::StrCat(path, ": ", valid.message()));
  }
  out->influx.push_back(std::move(o));
  return absl::OkStatus();
}

absl::Status ParseRedis(const std::string& path, const YAML::Node& entry, size_t index,
                        EntryReader* r, SinksConfig* out) {
  RedisSinkOptions o;
  o.name = core::StrCat("redis-", index);
  absl::Status read =
      r->Read(entry,
              core::StrCat("type, name, url, password_env, prefix, alert_channel, timeout_ms, ",
                           kQueueKeys),
              [&](const std::string& key, const YAML::Node& v) {
                if (key == "name") {
                  o.name = r->Text(v, key);
                } else if (key == "url") {
                  o.url = r->Text(v, key);
                } else if (key == "password_env") {
                  r->PasswordFromEnvironment(v, key, &o.password);
                } else if (key == "prefix") {
                  o.prefix = r->Text(v, key);
                } else if (key == "alert_channel") {
                  o.alert_channel = r->Text(v, key);
                } else if (key == "timeout_ms") {
                  r->Millis(v, key, &o.timeout);
                } else if (!ReadQueueKey(key, v, r, &o.queue)) {
                  return false;
                }
                return true;
              });
  if (!read.ok()) return read;
  if (absl::Status valid = ValidateRedisOptions(o); !valid.ok()) {
    return absl::InvalidArgumentError(core::StrCat(path, ": ", valid.message()));
  }
  out->redis.push_back(std::move(o));
  return absl::OkStatus();
}

absl::Status ParseKafka(const std::string& path, const YAML::Node& entry, size_t index,
                        EntryReader* r, SinksConfig* out) {
  KafkaSinkOptions o;
  o.name = core::StrCat("kafka-", index);
  absl::Status read = r->Read(
      entry,
      core::StrCat("type, name, brokers, risk_topic, alert_topic, readings_topic, username, "
                   "password_env, properties, ",
                   kQueueKeys),
      [&](const std::string& key, const YAML::Node& v) {
        if (key == "name") {
          o.name = r->Text(v, key);
        } else if (key == "brokers") {
          o.brokers = r->Text(v, key);
        } else if (key == "risk_topic") {
          o.risk_topic = r->Text(v, key);
        } else if (key == "alert_topic") {
          o.alert_topic = r->Text(v, key);
        } else if (key == "readings_topic") {
          o.readings_topic = r->Text(v, key);
        } else if (!ingest::ReadKafkaClientKey(key, v, r, &o.properties) &&
                   !ReadQueueKey(key, v, r, &o.queue)) {
          return false;
        }
        return true;
      });
  if (!read.ok()) return read;
  if (absl::Status valid = ValidateKafkaSinkOptions(o); !valid.ok()) {
    return absl::InvalidArgumentError(core::StrCat(path, ": ", valid.message()));
  }
  out->kafka.push_back(std::move(o));
  return absl::OkStatus();
}

}  // namespace

absl::Status ParseSinks(const std::string& path, const YAML::Node& list, SinksConfig* out) {
  *out = {};
  if (!list.IsSequence()) {
    return absl::InvalidArgumentError(core::StrCat(path, ": sinks: expected a list"));
  }
  std::map<std::string, size_t> names;
  for (size_t i = 0; i < list.size(); ++i) {
    const YAML::Node& entry = list[i];
    EntryReader reader(core::StrCat(path, ": sinks[", i, "]"));
    if (!entry.IsMap()) return absl::InvalidArgumentError(reader.where() + ": expected a mapping");
    const std::string type =
        entry["type"] && entry["type"].IsScalar() ? entry["type"].Scalar() : "";
    absl::Status parsed;
    if (type == "influxdb") {
      parsed = ParseInflux(path, entry, i, &reader, out);
    } else if (type == "redis") {
      parsed = ParseRedis(path, entry, i, &reader, out);
    } else if (type == "kafka") {
      parsed = ParseKafka(path, entry, i, &reader, out);
    } else {
      return absl::InvalidArgumentError(core::StrCat(
          reader.At("type"), ": '", type, "': expected influxdb, redis or kafka (docs/ingest.md)"));
    }
    if (!parsed.ok()) return parsed;
    const std::string& name = type == "influxdb" ? out->influx.back().name
                              : type == "redis"  ? out->redis.back().name
                                                 : out->kafka.back().name;
    if (auto [it, added] = names.emplace(name, i); !added) {
      return absl::InvalidArgumentError(
          core::StrCat(reader.At("name"), ": '", name, "' names sinks[", it->second, "] too"));
    }
  }
  return absl::OkStatus();
}

std::vector<std::unique_ptr<Sink>> MakeSinks(const SinksConfig& config) {
  std::vector<std::unique_ptr<Sink>> sinks;
  for (const InfluxSinkOptions& o : config.influx) sinks.push_back(std::make_unique<InfluxSink>(o));
  for (const RedisSinkOptions& o : config.redis) sinks.push_back(std::make_unique<RedisSink>(o));
  for (const KafkaSinkOptions& o : config.kafka) sinks.push_back(std::make_unique<KafkaSink>(o));
  return sinks;
}

}  // namespace pdm::sink
