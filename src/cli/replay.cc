#include "cli/replay.h"

#include <curl/curl.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <thread>

#include "absl/strings/str_split.h"
#include "core/status.h"
#include "core/strings.h"
#include "core/time.h"
#include "ingest/kafka_source.h"
#include "ingest/mqtt_source.h"
#include "nlohmann/json.hpp"

namespace pdm::cli {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

// The simulator's CSV files: a header, then rows of plain fields (no quoting).
struct Table {
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;
  size_t Column(std::string_view name) const {
    for (size_t i = 0; i < header.size(); ++i) {
      if (header[i] == name) return i;
    }
    return header.size();
  }
};

absl::StatusOr<Table> ReadTable(const fs::path& path, bool required) {
  Table table;
  std::ifstream in(path);
  if (!in) {
    if (!required) return table;
    return absl::NotFoundError(core::StrCat(path.string(), ": cannot open"));
  }
  std::string line;
  if (!std::getline(in, line)) return table;
  table.header = absl::StrSplit(line, ',');
  size_t number = 1;
  while (std::getline(in, line)) {
    ++number;
    if (line.empty()) continue;
    std::vector<std::string> fields = absl::StrSplit(line, ',');
    if (fields.size() != table.header.size()) {
      return absl::InvalidArgumentError(core::StrCat(path.string(), ":", number, ": ",
                                                     fields.size(), " fields, the header has ",
                                                     table.header.size()));
    }
    table.rows.push_back(std::move(fields));
  }
  return table;
}

double TimeOf(const std::string& text) {
  double t = std::nan("");
  core::ParseTimestamp(text, &t);
  return t;
}

// The event tables of the simulator: file, event type, the column of its kind.
struct EventFile {
  const char* file;
  const char* type;
  const char* kind;
};
constexpr EventFile kEventFiles[] = {{"maintenance.csv", "maintenance", "component"},
                                     {"failures.csv", "failure", "mode"},
                                     {"errors.csv", "error", "code"}};

}  // namespace

absl::StatusOr<std::vector<ReplayStep>> LoadReplay(const fs::path& dir, double from) {
  PDM_ASSIGN_OR_RETURN(const Table telemetry, ReadTable(dir / "telemetry.csv", true));
  PDM_ASSIGN_OR_RETURN(const Table machines, ReadTable(dir / "machines.csv", false));
  const size_t time_column = telemetry.Column("timestamp");
  const size_t machine_column = telemetry.Column("machine_id");
  if (time_column == telemetry.header.size() || machine_column == telemetry.header.size()) {
    return absl::InvalidArgumentError(
        core::StrCat((dir / "telemetry.csv").string(), ": needs timestamp and machine_id columns"));
  }
  std::map<std::string, json> attributes;
  for (const auto& row : machines.rows) {
    json a = json::object();
    std::string id;
    for (size_t c = 0; c < machines.header.size(); ++c) {
      const std::string& name = machines.header[c];
      if (name == "machine_id") {
        id = row[c];
      } else if (name == "model") {
        a[name] = row[c];
      } else if (!row[c].empty()) {
        a[name] = std::strtod(row[c].c_str(), nullptr);
      }
    }
    attributes[id] = std::move(a);
  }
  struct Event {
    double time;
    json body;
  };
  std::vector<Event> events;
  for (const EventFile& f : kEventFiles) {
    PDM_ASSIGN_OR_RETURN(const Table table, ReadTable(dir / f.file, false));
    const size_t t = table.Column("timestamp"), m = table.Column("machine_id"),
                 k = table.Column(f.kind);
    if (table.rows.empty()) continue;
    if (t == table.header.size() || m == table.header.size()) {
      return absl::InvalidArgumentError(
          core::StrCat((dir / f.file).string(), ": needs timestamp and machine_id columns"));
    }
    for (const auto& row : table.rows) {
      const double time = TimeOf(row[t]);
      if (!(time >= from)) continue;
      json e = {{"machine", row[m]}, {"time", row[t]}, {"type", f.type}};
      if (k < row.size() && !row[k].empty()) e["kind"] = row[k];
      events.push_back({time, std::move(e)});
    }
  }
  std::stable_sort(events.begin(), events.end(),
                   [](const Event& a, const Event& b) { return a.time < b.time; });
  std::map<double, json> readings;  // time -> readings at that time
  for (const auto& row : telemetry.rows) {
    const double time = TimeOf(row[time_column]);
    if (!(time >= from)) continue;
    json values = json::object();
    for (size_t c = 0; c < telemetry.header.size(); ++c) {
      if (c == time_column || c == machine_column) continue;
      values[telemetry.header[c]] =
          row[c].empty() ? json(nullptr) : json(std::strtod(row[c].c_str(), nullptr));
    }
    readings[time].push_back(
        {{"machine", row[machine_column]}, {"time", row[time_column]}, {"values", values}});
  }
  std::set<std::string> introduced;
  std::vector<ReplayStep> steps;
  size_t next_event = 0;
  for (auto& [time, list] : readings) {
    for (json& r : list) {
      const std::string id = r["machine"];
      if (introduced.insert(id).second && attributes.contains(id)) r["attributes"] = attributes[id];
    }
    const size_t count = list.size();
    json body = {{"readings", std::move(list)}};
    json sent = json::array();
    while (next_event < events.size() && events[next_event].time <= time) {
      sent.push_back(std::move(events[next_event++].body));
    }
    if (!sent.empty()) body["events"] = std::move(sent);
    steps.push_back({time, body.dump(), count});
  }
  return steps;
}

absl::Status SplitFleet(const fs::path& dir, double before, const fs::path& out) {
  std::error_code error;
  fs::create_directories(out, error);
  if (error) return absl::PermissionDeniedError(core::StrCat(out.string(), ": ", error.message()));
  for (const auto& entry : fs::directory_iterator(dir)) {
    const fs::path& path = entry.path();
    if (!entry.is_regular_file()) continue;
    std::ifstream in(path);
    std::ofstream copy(out / path.filename());
    std::string line;
    bool header = true;
    size_t time_column = std::string::npos;
    while (std::getline(in, line)) {
      if (path.extension() == ".csv") {
        if (header) {
          const std::vector<std::string> names = absl::StrSplit(line, ',');
          for (size_t c = 0; c < names.size(); ++c) {
            if (names[c] == "timestamp") time_column = c;
          }
        } else if (time_column != std::string::npos) {
          const std::vector<std::string> fields = absl::StrSplit(line, ',');
          if (time_column < fields.size() && !(TimeOf(fields[time_column]) < before)) {
            continue;
          }
        }
        header = false;
      }
      copy << line << '\n';
    }
    if (!copy)
      return absl::DataLossError(core::StrCat((out / path.filename()).string(), ": write failed"));
  }
  return absl::OkStatus();
}

namespace {

size_t CollectBody(char* data, size_t size, size_t count, void* out) {
  static_cast<std::string*>(out)->append(data, size * count);
  return size * count;
}

// POSTs `body` to `url`; an error unless the answer is 2xx (or 422: nothing in it accepted, which
// the receiver counts).
absl::Status PostJson(CURL* curl, const std::string& url, const std::string& body) {
  std::string answer;
  curl_slist* headers = curl_slist_append(nullptr, "Content-Type: application/json");
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.data());
  curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, CollectBody);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &answer);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT, 60L);
  const CURLcode code = curl_easy_perform(curl);
  curl_slist_free_all(headers);
  if (code != CURLE_OK) {
    return absl::UnavailableError(core::StrCat(url, ": ", curl_easy_strerror(code)));
  }
  long status = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  if ((status < 200 || status >= 300) && status != 422) {
    return absl::UnavailableError(
        core::StrCat(url, ": HTTP ", status, ": ", answer.substr(0, 300)));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<PublishSummary> PublishReplay(const std::vector<ReplayStep>& steps,
                                             const PublishOptions& options) {
  const bool mqtt = options.url.starts_with("mqtt://") || options.url.starts_with("mqtts://");
  const bool http = options.url.starts_with("http://") || options.url.starts_with("https://");
  const bool kafka = options.url.starts_with("kafka://");
  if (!mqtt && !http && !kafka) {
    return absl::InvalidArgumentError(
        core::StrCat("--publish '", options.url,
                     "': expected mqtt://host:port, kafka://host:port or http://host:port"));
  }
  // Kafka: one record per machine and step, keyed by the machine, on a topic without a slot.
  std::string kafka_topic = options.topic;
  if (kafka) {
    if (kafka_topic == PublishOptions{}.topic) kafka_topic = "telemetry";
    if (kafka_topic.find("{machine}") != std::string::npos) {
      return absl::InvalidArgumentError(core::StrCat(
          "--topic '", kafka_topic, "': a Kafka topic names no machine (records are keyed by it)"));
    }
  }
  if (!(options.speed >= 0)) {
    return absl::InvalidArgumentError("--speed: 0 (as fast as acknowledged) or more");
  }
  std::unique_ptr<ingest::MqttPublisher> publisher;
  std::unique_ptr<ingest::KafkaPublisher> kafka_publisher;
  std::unique_ptr<CURL, void (*)(CURL*)> curl(nullptr, curl_easy_cleanup);
  std::string post_url = options.url;
  if (kafka) {
    PDM_ASSIGN_OR_RETURN(kafka_publisher, ingest::KafkaPublisher::Connect(options.url.substr(8)));
  } else if (mqtt) {
    ingest::MqttPublisherOptions o;
    o.url = options.url;
    o.client_id = core::StrCat("pdm-simulate-", ::getpid());
    if (const char* password = std::getenv("PDM_MQTT_PASSWORD")) o.password = password;
    if (const char* user = std::getenv("PDM_MQTT_USERNAME")) o.username = user;
    PDM_ASSIGN_OR_RETURN(publisher, ingest::MqttPublisher::Connect(o));
  } else {
    curl_global_init(CURL_GLOBAL_DEFAULT);
    curl.reset(curl_easy_init());
    if (!curl) return absl::InternalError("libcurl: cannot make a handle");
    const size_t scheme = post_url.find("://") + 3;
    if (post_url.find('/', scheme) == std::string::npos) post_url += "/api/v1/telemetry";
  }
  const size_t slot = options.topic.find("{machine}");
  PublishSummary summary;
  const auto start = std::chrono::steady_clock::now();
  for (const ReplayStep& step : steps) {
    if (options.speed > 0 && !steps.empty()) {
      const auto due =
          start +
          std::chrono::duration_cast<std::chrono::steady_clock::duration>(
              std::chrono::duration<double>((step.time - steps.front().time) / options.speed));
      std::this_thread::sleep_until(due);
    }
    ++summary.steps;
    if (http) {
      PDM_RETURN_IF_ERROR(PostJson(curl.get(), post_url, step.body));
      summary.readings += step.readings;
      ++summary.messages;
      continue;
    }
    if (slot == std::string::npos && !kafka) {
      summary.readings += step.readings;
      PDM_RETURN_IF_ERROR(publisher->Publish(options.topic, step.body));
      ++summary.messages;
      continue;
    }
    // One message per machine: its readings and events of the step.
    json body = json::parse(step.body, nullptr, false);
    std::map<std::string, json> per_machine;
    for (const char* list : {"readings", "events"}) {
      if (!body.contains(list)) continue;
      for (json& item : body[list]) {
        json& message = per_machine[item.value("machine", std::string())];
        if (!message.contains(list)) message[list] = json::array();
        message[list].push_back(std::move(item));
      }
    }
    for (auto& [machine, message] : per_machine) {
      if (message.contains("readings")) summary.readings += message["readings"].size();
      if (kafka) {
        PDM_RETURN_IF_ERROR(kafka_publisher->Publish(kafka_topic, machine, message.dump()));
      } else {
        std::string topic = options.topic;
        topic.replace(slot, 9, machine);
        PDM_RETURN_IF_ERROR(publisher->Publish(topic, message.dump()));
      }
      ++summary.messages;
    }
  }
  if (publisher) PDM_RETURN_IF_ERROR(publisher->Flush());
  if (kafka_publisher) PDM_RETURN_IF_ERROR(kafka_publisher->Flush());
  summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return summary;
}

}  // namespace pdm::cli
