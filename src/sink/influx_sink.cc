#include "sink/influx_sink.h"

#include <curl/curl.h>

#include <cmath>

#include "core/strings.h"

namespace pdm::sink {
namespace {

// Tag keys and values, field keys: backslash before commas, equals signs and spaces.
void AppendEscaped(std::string_view text, bool measurement, std::string* out) {
  for (const char c : text) {
    if (c == ',' || c == ' ' || (!measurement && c == '=')) out->push_back('\\');
    if (c == '\n' || c == '\r') {
      out->push_back(' ');  // line protocol has no escape for a newline
      continue;
    }
    out->push_back(c);
  }
}

// A string field value: quotes and backslashes escaped.
void AppendQuoted(std::string_view text, std::string* out) {
  out->push_back('"');
  for (const char c : text) {
    if (c == '"' || c == '\\') out->push_back('\\');
    out->push_back(c);
  }
  out->push_back('"');
}

void AppendNumber(double value, std::string* out) { out->append(core::StrCat(value)); }

void AppendTime(int64_t time_us, std::string* out) {
  out->push_back(' ');
  out->append(std::to_string(time_us / 1000));  // ms
  out->push_back('\n');
}

size_t KeepSome(char* data, size_t size, size_t count, void* into) {
  auto* out = static_cast<std::string*>(into);
  if (out->size() < 1024) out->append(data, std::min<size_t>(size * count, 1024 - out->size()));
  return size * count;
}

std::string UrlEncode(CURL* curl, const std::string& text) {
  char* encoded = curl_easy_escape(curl, text.c_str(), static_cast<int>(text.size()));
  std::string out = encoded != nullptr ? encoded : "";
  curl_free(encoded);
  return out;
}

}  // namespace

absl::Status ValidateInfluxOptions(const InfluxSinkOptions& o) {
  const std::string where = core::StrCat("sinks.", o.name, ": ");
  if (!o.url.starts_with("http://") && !o.url.starts_with("https://")) {
    return absl::InvalidArgumentError(
        core::StrCat(where, "url '", o.url, "': expected http://host:8086 or https://host:8086"));
  }
  if (o.database.empty()) return absl::InvalidArgumentError(where + "database: missing");
  return absl::OkStatus();
}

std::string EncodeLineProtocol(const Batch& batch, bool readings) {
  std::string out;
  if (readings) {
    // Rows of one machine and time are consecutive (the path appends a reading's sensors
    // together): one point each.
    for (size_t i = 0; i < batch.readings.size();) {
      const store::TelemetryRow& first = batch.readings[i];
      out.append("pdm_reading,machine=");
      AppendEscaped(first.machine, false, &out);
      char separator = ' ';
      size_t j = i;
      for (; j < batch.readings.size() && batch.readings[j].machine == first.machine &&
             batch.readings[j].time_us == first.time_us;
           ++j) {
        if (!std::isfinite(batch.readings[j].value)) continue;
        out.push_back(separator);
        separator = ',';
        AppendEscaped(batch.readings[j].sensor, false, &out);
        out.push_back('=');
        AppendNumber(batch.readings[j].value, &out);
      }
      if (separator == ' ') {
        out.resize(out.rfind('\n') == std::string::npos ? 0 : out.rfind('\n') + 1);
      } else {
        AppendTime(first.time_us, &out);
      }
      i = j;
    }
  }
  for (const store::PredictionRow& r : batch.risks) {
    if (!std::isfinite(r.score)) continue;
    out.append("pdm_risk,machine=");
    AppendEscaped(r.machine, false, &out);
    out.append(",model=");
    AppendEscaped(r.model, false, &out);
    out.append(" score=");
    AppendNumber(r.score, &out);
    out.append(r.alarm ? ",alarm=true" : ",alarm=false");
    out.append(core::StrCat(",version=", r.version, "i"));
    AppendTime(r.time_us, &out);
  }
  for (const store::AlertRow& a : batch.alerts) {
    out.append("pdm_alert,machine=");
    AppendEscaped(a.machine.empty() ? "fleet" : a.machine, false, &out);
    out.append(",kind=");
    AppendEscaped(a.kind, false, &out);
    out.append(",severity=");
    AppendEscaped(a.severity, false, &out);
    out.append(core::StrCat(" id=", a.id, "i,state="));
    AppendQuoted(a.state, &out);
    if (a.score && std::isfinite(*a.score)) {
      out.append(",score=");
      AppendNumber(*a.score, &out);
    }
    // At the data time of the reading that opened it, beside the risks: a later state change
    // rewrites the same point, so the point shows the alert's latest state.
    AppendTime(a.time_us, &out);
  }
  return out;
}

// One libcurl handle, reused between writes (keep-alive).
class InfluxSink::Http {
 public:
  Http() : curl_(curl_easy_init()) {}
  ~Http() {
    if (curl_ != nullptr) curl_easy_cleanup(curl_);
  }
  CURL* get() const { return curl_; }

  // POSTs `body`; the HTTP status (0 when no answer) and the answer's start.
  long Post(const std::string& url, const std::string& body, const InfluxSinkOptions& o,
            std::string* answer, std::string* error) {
    char buffer[CURL_ERROR_SIZE] = {};
    curl_easy_reset(curl_);
    curl_easy_setopt(curl_, CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl_, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl_, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl_, CURLOPT_TIMEOUT_MS, static_cast<long>(o.timeout.count()));
    curl_easy_setopt(curl_, CURLOPT_CONNECTTIMEOUT_MS,
                     static_cast<long>(std::min<int64_t>(o.timeout.count(), 2000)));
    curl_easy_setopt(curl_, CURLOPT_USERAGENT, "pdm-influx-sink/1");
    if (!o.username.empty()) {
      curl_easy_setopt(curl_, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
      curl_easy_setopt(curl_, CURLOPT_USERNAME, o.username.c_str());
      curl_easy_setopt(curl_, CURLOPT_PASSWORD, o.password.c_str());
    }
    curl_easy_setopt(curl_, CURLOPT_POSTFIELDS, body.data());
    curl_easy_setopt(curl_, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
    curl_easy_setopt(curl_, CURLOPT_WRITEFUNCTION, KeepSome);
    curl_easy_setopt(curl_, CURLOPT_WRITEDATA, answer);
    curl_easy_setopt(curl_, CURLOPT_ERRORBUFFER, buffer);
    const CURLcode code = curl_easy_perform(curl_);
    if (code != CURLE_OK) {
      *error = *buffer != '\0' ? buffer : curl_easy_strerror(code);
      return 0;
    }
    long status = 0;
    curl_easy_getinfo(curl_, CURLINFO_RESPONSE_CODE, &status);
    return status;
  }

 private:
  CURL* curl_;
};

InfluxSink::InfluxSink(InfluxSinkOptions options)
    : Sink(options.name, "influxdb", options.queue),
      options_(std::move(options)),
      http_(std::make_unique<Http>()) {}

InfluxSink::~InfluxSink() { Stop(); }

std::string InfluxSink::Describe() const {
  return core::StrCat(options_.url, " database ", options_.database,
                      options_.readings ? " (readings, risks, alerts)" : " (risks, alerts)");
}

absl::Status InfluxSink::Write(const Batch& batch, bool* permanent) {
  std::string answer, error;
  if (!database_ready_) {
    // CREATE DATABASE is idempotent in InfluxDB 1.x.
    const std::string query =
        "q=" + UrlEncode(http_->get(), "CREATE DATABASE \"" + options_.database + "\"");
    const long status = http_->Post(options_.url + "/query", query, options_, &answer, &error);
    if (status == 0) return absl::UnavailableError(core::StrCat(options_.url, ": ", error));
    if (status >= 400 && status != 403) {
      return absl::UnavailableError(
          core::StrCat(options_.url, ": CREATE DATABASE: HTTP ", status, ": ", answer));
    }
    database_ready_ = true;  // 403: a user without admin rights; the database must exist
  }
  const std::string body = EncodeLineProtocol(batch, options_.readings);
  if (body.empty()) return absl::OkStatus();
  std::string url = core::StrCat(
      options_.url, "/write?precision=ms&db=", UrlEncode(http_->get(), options_.database));
  if (!options_.retention_policy.empty()) {
    url += "&rp=" + UrlEncode(http_->get(), options_.retention_policy);
  }
  answer.clear();
  const long status = http_->Post(url, body, options_, &answer, &error);
  if (status == 0) return absl::UnavailableError(core::StrCat(options_.url, ": ", error));
  if (status == 204) return absl::OkStatus();
  if (status == 404) database_ready_ = false;  // dropped since: create it again
  // 400: the points themselves are refused (a field's type changed): retrying cannot help.
  *permanent = status == 400;
  return absl::UnavailableError(core::StrCat(options_.url, ": HTTP ", status, ": ", answer));
}

}  // namespace pdm::sink
