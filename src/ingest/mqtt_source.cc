#include "ingest/mqtt_source.h"

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "core/strings.h"
#include "mqtt/async_client.h"

namespace pdm::ingest {

using json = nlohmann::json;

namespace {

// Paho's URI for ours: tcp:// for mqtt://, ssl:// for mqtts://.
std::string PahoUri(const std::string& url) {
  if (url.starts_with("mqtt://")) return "tcp://" + url.substr(7);
  if (url.starts_with("mqtts://")) return "ssl://" + url.substr(8);
  return url;
}

// The credentials and TLS of a connection to `url`.
void SetAccess(const std::string& url, const std::string& username, const std::string& password,
               const std::string& ca_file, mqtt::connect_options_builder* builder) {
  if (!username.empty()) builder->user_name(username);
  if (!password.empty()) builder->password(password);
  if (url.starts_with("mqtts://")) {
    mqtt::ssl_options ssl;
    if (!ca_file.empty()) ssl.set_trust_store(ca_file);
    builder->ssl(std::move(ssl));
  }
}

}  // namespace

absl::Status ValidateMqttOptions(const MqttSourceOptions& o) {
  const std::string where = core::StrCat("sources.", o.name, ": ");
  if (!o.url.starts_with("mqtt://") && !o.url.starts_with("mqtts://")) {
    return absl::InvalidArgumentError(
        core::StrCat(where, "url '", o.url, "': expected mqtt://host:port or mqtts://host:port"));
  }
  if (o.topics.empty()) {
    return absl::InvalidArgumentError(core::StrCat(where, "topics: at least one pattern"));
  }
  for (const std::string& t : o.topics) {
    if (t.empty() || t.find('#') < t.size() - 1) {
      return absl::InvalidArgumentError(
          core::StrCat(where, "topics: '", t, "' is not a topic pattern ('#' only at the end)"));
    }
  }
  if (o.qos < 0 || o.qos > 2) {
    return absl::InvalidArgumentError(core::StrCat(where, "qos: expected 0, 1 or 2"));
  }
  if (o.client_id.empty() || o.client_id.size() > 64) {
    return absl::InvalidArgumentError(core::StrCat(where, "client_id: 1 to 64 characters"));
  }
  if (o.machine_level && *o.machine_level < 0) {
    return absl::InvalidArgumentError(core::StrCat(where, "machine_level: 0 or more"));
  }
  return absl::OkStatus();
}

class MqttSource::Impl {
 public:
  Impl(MqttSource* source, TelemetryHandler handler)
      : source_(source),
        handler_(std::move(handler)),
        client_(PahoUri(source->options_.url), source->options_.client_id) {}

  void Start() {
    const MqttSourceOptions& o = source_->options_;
    auto builder = mqtt::connect_options_builder()
                       .clean_session(o.clean_session)
                       .keep_alive_interval(std::chrono::seconds(20))
                       .connect_timeout(std::chrono::seconds(5))
                       .automatic_reconnect(std::chrono::seconds(1), std::chrono::seconds(30));
    SetAccess(o.url, o.username, o.password, o.ca_file, &builder);
    connect_options_ = builder.finalize();
    client_.set_connected_handler([this](const std::string&) { OnConnected(); });
    client_.set_connection_lost_handler([this](const std::string& cause) {
      source_->counters_.connected = false;
      ++source_->counters_.connection_losses;
      source_->last_error_.Set(core::StrCat("connection lost", cause.empty() ? "" : ": ", cause));
    });
    client_.set_message_callback(
        [this](const mqtt::const_message_ptr& message) { OnMessage(*message); });
    // The first connection, retried until the broker answers (Paho reconnects after that).
    connector_ = std::jthread([this](const std::stop_token& stop) {
      std::chrono::milliseconds wait = source_->options_.retry_min;
      while (!stop.stop_requested()) {
        try {
          client_.connect(connect_options_)->wait();
          return;
        } catch (const mqtt::exception& e) {
          source_->last_error_.Set(core::StrCat("connect: ", e.what()));
        }
        Sleep(wait);
        wait = std::min(wait * 2, source_->options_.retry_max);
      }
    });
  }

  void Stop() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    wake_.notify_all();
    if (connector_.joinable()) {
      connector_.request_stop();
      connector_.join();
    }
    try {
      if (client_.is_connected()) client_.disconnect(2000)->wait();
    } catch (const mqtt::exception&) {
      // Already gone: nothing to finish.
    }
    source_->counters_.connected = false;
  }

 private:
  // Sleeps up to `d`, or until Stop.
  void Sleep(std::chrono::milliseconds d) {
    std::unique_lock lock(mu_);
    wake_.wait_for(lock, d, [this] { return stopping_; });
  }
  bool stopping() {
    std::lock_guard lock(mu_);
    return stopping_;
  }

  void OnConnected() {
    const MqttSourceOptions& o = source_->options_;
    source_->counters_.connected = true;
    ++source_->counters_.connects;
    try {
      // Again on every (re)connection: harmless on a kept session, needed on a new one.
      client_.subscribe(mqtt::string_collection::create(o.topics),
                        std::vector<int>(o.topics.size(), o.qos));
    } catch (const mqtt::exception& e) {
      source_->last_error_.Set(core::StrCat("subscribe: ", e.what()));
    }
  }

  void DeadLetter(const std::string& topic, std::string_view payload,
                  const std::vector<std::string>& reasons) {
    const std::string& to = source_->options_.dead_letter_topic;
    if (to.empty()) return;
    try {
      client_.publish(to, DeadLetterBody(source_->options_.name, topic, payload, reasons), 1,
                      false);
      ++source_->counters_.dead_lettered;
    } catch (const mqtt::exception& e) {
      source_->last_error_.Set(core::StrCat("dead letter: ", e.what()));
    }
  }

  // A message counts once its readings are accounted for: a reader of the counters who sees N
  // messages sees all of their readings.
  void OnMessage(const mqtt::message& message) {
    Apply(message);
    ++source_->counters_.messages;
  }

  void Apply(const mqtt::message& message) {
    const MqttSourceOptions& o = source_->options_;
    const std::string& topic = message.get_topic();
    const std::string& payload = message.get_payload_str();
    const std::optional<std::string> machine =
        o.machine_level ? TopicLevel(topic, *o.machine_level) : std::nullopt;
    const MessageOptions options{o.decode, o.max_payload, o.retry_min, o.retry_max};
    const MessageResult result = ApplyMessage(
        payload, machine, options, handler_,
        [this](std::chrono::milliseconds d) {
          Sleep(d);
          return !stopping();
        },
        &source_->counters_);
    if (result.kind == MessageResult::Kind::kNotApplied) {
      // Acknowledged to the broker already (ADR 0019): refused, with the path's answer.
      source_->counters_.readings_refused += static_cast<int64_t>(result.readings);
    }
    if (!result.reasons.empty()) {
      source_->last_error_.Set(core::StrCat(topic, ": ", result.reasons.front()));
      DeadLetter(topic, payload, result.reasons);
    }
  }

  MqttSource* source_;
  TelemetryHandler handler_;
  mqtt::async_client client_;
  mqtt::connect_options connect_options_;
  std::jthread connector_;
  std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false;
};

MqttSource::MqttSource(MqttSourceOptions options, TelemetryHandler handler)
    : options_(std::move(options)), impl_(std::make_unique<Impl>(this, std::move(handler))) {}

MqttSource::~MqttSource() { Stop(); }

void MqttSource::Start() { impl_->Start(); }

void MqttSource::Stop() {
  if (impl_) impl_->Stop();
}

std::string MqttSource::Describe() const {
  std::string out = options_.url;
  for (const std::string& topic : options_.topics) out += " " + topic;
  return out;
}

json MqttSource::Status() const {
  json out = {{"name", options_.name},
              {"type", "mqtt"},
              {"url", options_.url},
              {"topics", options_.topics},
              {"client_id", options_.client_id},
              {"qos", options_.qos},
              {"connected", counters_.connected.load()},
              {"last_error", last_error_.Get()}};
  out.update(counters_.ToJson());
  return out;
}

class MqttPublisher::Impl {
 public:
  explicit Impl(const MqttPublisherOptions& o)
      : options_(o), client_(PahoUri(o.url), o.client_id) {}

  absl::Status Connect() {
    auto builder = mqtt::connect_options_builder()
                       .clean_session(true)
                       .connect_timeout(std::chrono::seconds(5))
                       .max_inflight(options_.max_in_flight);
    SetAccess(options_.url, options_.username, options_.password, options_.ca_file, &builder);
    try {
      client_.connect(builder.finalize())->wait();
    } catch (const mqtt::exception& e) {
      return absl::UnavailableError(core::StrCat(options_.url, ": ", e.what()));
    }
    return absl::OkStatus();
  }

  absl::Status Publish(const std::string& topic, std::string payload) {
    try {
      while (in_flight_.size() >= static_cast<size_t>(std::max(1, options_.max_in_flight))) {
        in_flight_.front()->wait();
        in_flight_.pop_front();
      }
      in_flight_.push_back(client_.publish(topic, std::move(payload), options_.qos, false));
    } catch (const mqtt::exception& e) {
      return absl::UnavailableError(core::StrCat("publish to ", topic, ": ", e.what()));
    }
    return absl::OkStatus();
  }

  absl::Status Flush() {
    try {
      while (!in_flight_.empty()) {
        in_flight_.front()->wait();
        in_flight_.pop_front();
      }
    } catch (const mqtt::exception& e) {
      return absl::UnavailableError(core::StrCat("publish: ", e.what()));
    }
    return absl::OkStatus();
  }

  void Disconnect() {
    try {
      if (client_.is_connected()) client_.disconnect()->wait();
    } catch (const mqtt::exception&) {
      // Gone already.
    }
  }

 private:
  MqttPublisherOptions options_;
  mqtt::async_client client_;
  std::deque<mqtt::delivery_token_ptr> in_flight_;
};

absl::StatusOr<std::unique_ptr<MqttPublisher>> MqttPublisher::Connect(
    const MqttPublisherOptions& options) {
  if (!options.url.starts_with("mqtt://") && !options.url.starts_with("mqtts://")) {
    return absl::InvalidArgumentError(
        core::StrCat("'", options.url, "': expected mqtt://host:port or mqtts://host:port"));
  }
  auto impl = std::make_unique<Impl>(options);
  if (absl::Status s = impl->Connect(); !s.ok()) return s;
  return std::unique_ptr<MqttPublisher>(new MqttPublisher(std::move(impl)));
}

MqttPublisher::MqttPublisher(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

MqttPublisher::~MqttPublisher() {
  if (impl_) {
    (void)impl_->Flush();
    impl_->Disconnect();
  }
}

absl::Status MqttPublisher::Publish(const std::string& topic, std::string payload) {
  return impl_->Publish(topic, std::move(payload));
}

absl::Status MqttPublisher::Flush() { return impl_->Flush(); }

}  // namespace pdm::ingest
