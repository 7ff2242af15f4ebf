#include "ingest/kafka_source.h"

#include <librdkafka/rdkafka.h>

#include <atomic>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <set>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "core/strings.h"

namespace pdm::ingest {

using json = nlohmann::json;

namespace {

// A librdkafka configuration from key/value pairs; the error names the key.
absl::StatusOr<rd_kafka_conf_t*> MakeConf(const std::map<std::string, std::string>& settings) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  char error[512];
  for (const auto& [key, value] : settings) {
    if (rd_kafka_conf_set(conf, key.c_str(), value.c_str(), error, sizeof(error)) !=
        RD_KAFKA_CONF_OK) {
      rd_kafka_conf_destroy(conf);
      return absl::InvalidArgumentError(core::StrCat("kafka setting ", key, ": ", error));
    }
  }
  return conf;
}

std::string PartitionName(const char* topic, int32_t partition) {
  return core::StrCat(topic, "/", partition);
}

}  // namespace

absl::Status ValidateKafkaOptions(const KafkaSourceOptions& o) {
  const std::string where = core::StrCat("sources.", o.name, ": ");
  if (o.brokers.empty()) {
    return absl::InvalidArgumentError(where + "brokers: expected host:port[,host:port...]");
  }
  if (o.topics.empty()) return absl::InvalidArgumentError(where + "topics: at least one");
  for (const std::string& t : o.topics) {
    if (t.empty()) return absl::InvalidArgumentError(where + "topics: an empty topic name");
  }
  if (o.group_id.empty()) return absl::InvalidArgumentError(where + "group_id: missing");
  // Every extra setting must be one librdkafka knows, with a value it takes.
  if (absl::Status valid = ValidateKafkaProperties(o.properties); !valid.ok()) {
    return absl::InvalidArgumentError(where + std::string(valid.message()));
  }
  return absl::OkStatus();
}

absl::Status ValidateKafkaProperties(const std::map<std::string, std::string>& properties) {
  auto conf = MakeConf(properties);
  if (!conf.ok()) return conf.status();
  rd_kafka_conf_destroy(*conf);
  return absl::OkStatus();
}

class KafkaSource::Impl {
 public:
  Impl(KafkaSource* source, TelemetryHandler handler, StateHandoff handoff)
      : source_(source), handler_(std::move(handler)), handoff_(std::move(handoff)) {}
  ~Impl() { Stop(); }

  void Start() {
    const KafkaSourceOptions& o = source_->options_;
    std::map<std::string, std::string> settings = {
        {"bootstrap.servers", o.brokers},
        {"group.id", o.group_id},
        {"client.id", "pdm-" + o.name},
        // Offsets are stored by pdm once a record is applied, and committed from the store.
        {"enable.auto.offset.store", "false"},
        {"enable.auto.commit", "true"},
        {"auto.commit.interval.ms", "1000"},
        {"auto.offset.reset", "earliest"},
        {"partition.assignment.strategy", "range,roundrobin"},
    };
    for (const auto& [key, value] : o.properties) settings[key] = value;
    auto conf = MakeConf(settings);
    if (!conf.ok()) {
      source_->last_error_.Set(std::string(conf.status().message()));
      return;
    }
    rd_kafka_conf_set_opaque(*conf, this);
    rd_kafka_conf_set_rebalance_cb(*conf, &Impl::OnRebalance);
    rd_kafka_conf_set_error_cb(*conf, &Impl::OnError);
    char error[512];
    consumer_ = rd_kafka_new(RD_KAFKA_CONSUMER, *conf, error, sizeof(error));
    if (consumer_ == nullptr) {
      rd_kafka_conf_destroy(*conf);
      source_->last_error_.Set(core::StrCat("kafka consumer: ", error));
      return;
    }
    rd_kafka_poll_set_consumer(consumer_);
    rd_kafka_topic_partition_list_t* topics =
        rd_kafka_topic_partition_list_new(static_cast<int>(o.topics.size()));
    for (const std::string& t : o.topics) {
      rd_kafka_topic_partition_list_add(topics, t.c_str(), RD_KAFKA_PARTITION_UA);
    }
    const rd_kafka_resp_err_t subscribed = rd_kafka_subscribe(consumer_, topics);
    rd_kafka_topic_partition_list_destroy(topics);
    if (subscribed != RD_KAFKA_RESP_ERR_NO_ERROR) {
      source_->last_error_.Set(core::StrCat("subscribe: ", rd_kafka_err2str(subscribed)));
    }
    if (!o.dead_letter_topic.empty()) {
      auto publisher = KafkaPublisher::Connect(o.brokers, o.properties);
      if (publisher.ok()) {
        dead_letters_ = std::move(*publisher);
      } else {
        source_->last_error_.Set(std::string(publisher.status().message()));
      }
    }
    thread_ = std::jthread([this](const std::stop_token& stop) { Run(stop); });
  }

  void Stop() {
    if (!thread_.joinable()) return;
    thread_.request_stop();
    wake_.notify_all();
    thread_.join();
    if (dead_letters_) (void)dead_letters_->Flush();
  }

  json Status() const {
    std::lock_guard lock(mu_);
    return {{"partitions", std::vector<std::string>(owned_.begin(), owned_.end())},
            {"rebalances", rebalances_.load()},
            {"states_saved", states_saved_.load()},
            {"states_restored", states_restored_.load()}};
  }

 private:
  void Run(const std::stop_token& stop) {
    while (!stop.stop_requested()) {
      rd_kafka_message_t* message = rd_kafka_consumer_poll(consumer_, 100);
      if (message == nullptr) continue;
      if (message->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        source_->counters_.connected = true;
        Apply(*message, stop);
      } else if (message->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        source_->last_error_.Set(core::StrCat("consume: ", rd_kafka_message_errstr(message)));
      }
      rd_kafka_message_destroy(message);
    }
    // Leaving the group revokes the partitions: the rebalance callback commits and hands the
    // machines over, from this thread.
    rd_kafka_consumer_close(consumer_);
    rd_kafka_destroy(consumer_);
    consumer_ = nullptr;
    source_->counters_.connected = false;
  }

  // Sleeps `d` unless the source stops first (false then).
  bool Sleep(const std::stop_token& stop, std::chrono::milliseconds d) {
    std::unique_lock lock(sleep_mu_);
    return !wake_.wait_for(lock, stop, d, [] { return false; });
  }

  void Apply(const rd_kafka_message_t& m, const std::stop_token& stop) {
    const KafkaSourceOptions& o = source_->options_;
    const char* topic = rd_kafka_topic_name(m.rkt);
    std::optional<std::string> machine;
    if (m.key != nullptr && m.key_len > 0) {
      machine.emplace(static_cast<const char*>(m.key), m.key_len);
      // The machine's state follows it between replicas: restored before its first record here.
      if (handoff_.restore && restored_.insert(*machine).second && handoff_.restore(*machine)) {
        ++states_restored_;
      }
      std::lock_guard lock(mu_);
      seen_[PartitionName(topic, m.partition)].insert(*machine);
    }
    const std::string_view payload(static_cast<const char*>(m.payload), m.len);
    const MessageResult result = ApplyMessage(
        payload, machine, o.message, handler_,
        [&](std::chrono::milliseconds d) { return Sleep(stop, d); }, &source_->counters_);
    if (result.kind == MessageResult::Kind::kNotApplied) {
      // Stopping while the path refuses: the offset is not stored, so the group's next owner
      // of the partition reads this record again.
      source_->last_error_.Set(core::StrCat(topic, ": not applied: ", result.reasons.front()));
      return;
    }
    if (!result.reasons.empty()) {
      source_->last_error_.Set(
          core::StrCat(topic, "/", m.partition, "@", m.offset, ": ", result.reasons.front()));
      if (dead_letters_) {
        const absl::Status sent =
            dead_letters_->Publish(o.dead_letter_topic, machine.value_or(""),
                                   DeadLetterBody(o.name, topic, payload, result.reasons));
        if (sent.ok()) ++source_->counters_.dead_lettered;
      }
    }
    // Applied (or refused for good): committed with the next commit.
    rd_kafka_offset_store(m.rkt, m.partition, m.offset);
    ++source_->counters_.messages;
  }

  static void OnRebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                          rd_kafka_topic_partition_list_t* partitions, void* opaque) {
    static_cast<Impl*>(opaque)->Rebalance(rk, err, partitions);
  }

  void Rebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                 rd_kafka_topic_partition_list_t* partitions) {
    const bool cooperative = std::strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
    ++rebalances_;
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
      {
        std::lock_guard lock(mu_);
        for (int i = 0; i < partitions->cnt; ++i) {
          owned_.insert(PartitionName(partitions->elems[i].topic, partitions->elems[i].partition));
        }
      }
      // A machine this replica owned before may have moved away and back: check the Store again.
      restored_.clear();
      if (cooperative) {
        rd_kafka_error_t* error = rd_kafka_incremental_assign(rk, partitions);
        if (error != nullptr) rd_kafka_error_destroy(error);
      } else {
        rd_kafka_assign(rk, partitions);
      }
      source_->counters_.connected = true;
      ++source_->counters_.connects;
      return;
    }
    // Revoked (or lost): what was applied is committed before another replica starts reading,
    // and the partitions' machines' states go to the Store for it.
    const rd_kafka_resp_err_t committed = rd_kafka_commit(rk, nullptr, /*async=*/0);
    if (committed != RD_KAFKA_RESP_ERR_NO_ERROR && committed != RD_KAFKA_RESP_ERR__NO_OFFSET) {
      source_->last_error_.Set(core::StrCat("commit on revoke: ", rd_kafka_err2str(committed)));
    }
    std::vector<std::string> machines;
    {
      std::lock_guard lock(mu_);
      for (int i = 0; i < partitions->cnt; ++i) {
        const std::string name =
            PartitionName(partitions->elems[i].topic, partitions->elems[i].partition);
        owned_.erase(name);
        auto it = seen_.find(name);
        if (it == seen_.end()) continue;
        machines.insert(machines.end(), it->second.begin(), it->second.end());
        seen_.erase(it);
      }
    }
    if (handoff_.save && !machines.empty()) {
      states_saved_ += static_cast<int64_t>(handoff_.save(machines));
    }
    if (cooperative) {
      rd_kafka_error_t* error = rd_kafka_incremental_unassign(rk, partitions);
      if (error != nullptr) rd_kafka_error_destroy(error);
    } else {
      rd_kafka_assign(rk, nullptr);
    }
  }

  static void OnError(rd_kafka_t* /*rk*/, int err, const char* reason, void* opaque) {
    auto* self = static_cast<Impl*>(opaque);
    self->source_->last_error_.Set(core::StrCat("kafka: ", reason));
    if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN) {
      if (self->source_->counters_.connected.exchange(false)) {
        ++self->source_->counters_.connection_losses;
      }
    }
  }

  KafkaSource* const source_;
  const TelemetryHandler handler_;
  const StateHandoff handoff_;
  rd_kafka_t* consumer_ = nullptr;
  std::unique_ptr<KafkaPublisher> dead_letters_;
  // The consumer thread's own (the rebalance callback runs on it too).
  std::unordered_set<std::string> restored_;
  mutable std::mutex mu_;  // owned_ and seen_, which Status reads
  std::set<std::string> owned_;
  std::unordered_map<std::string, std::set<std::string>> seen_;  // partition -> its machines
  std::atomic<int64_t> rebalances_{0}, states_saved_{0}, states_restored_{0};
  std::mutex sleep_mu_;
  std::condition_variable_any wake_;
  std::jthread thread_;
};

KafkaSource::KafkaSource(KafkaSourceOptions options, TelemetryHandler handler, StateHandoff handoff)
    : options_(std::move(options)),
      impl_(std::make_unique<Impl>(this, std::move(handler), std::move(handoff))) {}

KafkaSource::~KafkaSource() { Stop(); }

void KafkaSource::Start() { impl_->Start(); }

void KafkaSource::Stop() {
  if (impl_) impl_->Stop();
}

std::string KafkaSource::Describe() const {
  std::string out = core::StrCat("kafka://", options_.brokers, " group ", options_.group_id, ":");
  for (const std::string& t : options_.topics) out += " " + t;
  return out;
}

json KafkaSource::Status() const {
  json out = {{"name", options_.name},          {"type", "kafka"},
              {"brokers", options_.brokers},    {"topics", options_.topics},
              {"group_id", options_.group_id},  {"connected", counters_.connected.load()},
              {"last_error", last_error_.Get()}};
  out.update(counters_.ToJson());
  out.update(impl_->Status());
  return out;
}

class KafkaPublisher::Impl {
 public:
  ~Impl() {
    if (producer_ != nullptr) {
      rd_kafka_flush(producer_, 10000);
      rd_kafka_destroy(producer_);
    }
  }

  absl::Status Connect(const std::string& brokers,
                       const std::map<std::string, std::string>& properties) {
    std::map<std::string, std::string> settings = {{"bootstrap.servers", brokers},
                                                   {"client.id", "pdm-publisher"},
                                                   {"acks", "all"},
                                                   {"linger.ms", "5"},
                                                   {"enable.idempotence", "true"}};
    for (const auto& [key, value] : properties) settings[key] = value;
    auto conf = MakeConf(settings);
    if (!conf.ok()) return conf.status();
    rd_kafka_conf_set_opaque(*conf, this);
    rd_kafka_conf_set_dr_msg_cb(*conf, &Impl::OnDelivery);
    char error[512];
    producer_ = rd_kafka_new(RD_KAFKA_PRODUCER, *conf, error, sizeof(error));
    if (producer_ == nullptr) {
      rd_kafka_conf_destroy(*conf);
      return absl::UnavailableError(core::StrCat("kafka producer: ", error));
    }
    return absl::OkStatus();
  }

  absl::Status Publish(const std::string& topic, const std::string& key,
                       const std::string& payload) {
    for (;;) {
      rd_kafka_vu_t fields[4] = {};
      fields[0].vtype = RD_KAFKA_VTYPE_TOPIC;
      fields[0].u.cstr = topic.c_str();
      fields[1].vtype = RD_KAFKA_VTYPE_KEY;
      fields[1].u.mem = {const_cast<char*>(key.data()), key.size()};
      fields[2].vtype = RD_KAFKA_VTYPE_VALUE;
      fields[2].u.mem = {const_cast<char*>(payload.data()), payload.size()};
      fields[3].vtype = RD_KAFKA_VTYPE_MSGFLAGS;
      fields[3].u.i = RD_KAFKA_MSG_F_COPY;
      rd_kafka_error_t* error = rd_kafka_produceva(producer_, fields, 4);
      const rd_kafka_resp_err_t err =
          error == nullptr ? RD_KAFKA_RESP_ERR_NO_ERROR : rd_kafka_error_code(error);
      if (error != nullptr) rd_kafka_error_destroy(error);
      if (err == RD_KAFKA_RESP_ERR_NO_ERROR) break;
      if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
        return absl::UnavailableError(
            core::StrCat("produce to ", topic, ": ", rd_kafka_err2str(err)));
      }
      rd_kafka_poll(producer_, 100);  // the queue drains as deliveries are reported
    }
    rd_kafka_poll(producer_, 0);
    return absl::OkStatus();
  }

  absl::Status Flush() {
    const rd_kafka_resp_err_t err = rd_kafka_flush(producer_, 60000);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return absl::DeadlineExceededError(core::StrCat("flush: ", rd_kafka_err2str(err)));
    }
    if (const int64_t failed = failed_.exchange(0); failed > 0) {
      return absl::UnavailableError(core::StrCat(failed, " records not delivered: ", first_error_));
    }
    return absl::OkStatus();
  }

 private:
  static void OnDelivery(rd_kafka_t* /*rk*/, const rd_kafka_message_t* m, void* opaque) {
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) return;
    auto* self = static_cast<Impl*>(opaque);
    if (self->failed_++ == 0) self->first_error_ = rd_kafka_err2str(m->err);
  }

  rd_kafka_t* producer_ = nullptr;
  std::atomic<int64_t> failed_{0};
  std::string first_error_;  // written by delivery reports, which run inside poll and flush
};

KafkaPublisher::KafkaPublisher(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
KafkaPublisher::~KafkaPublisher() = default;

absl::StatusOr<std::unique_ptr<KafkaPublisher>> KafkaPublisher::Connect(
    const std::string& brokers, const std::map<std::string, std::string>& properties) {
  auto impl = std::make_unique<Impl>();
  if (absl::Status s = impl->Connect(brokers, properties); !s.ok()) return s;
  return std::unique_ptr<KafkaPublisher>(new KafkaPublisher(std::move(impl)));
}

absl::Status KafkaPublisher::Publish(const std::string& topic, const std::string& key,
                                     const std::string& payload) {
  return impl_->Publish(topic, key, payload);
}

absl::Status KafkaPublisher::Flush() { return impl_->Flush(); }

}  // namespace pdm::ingest
