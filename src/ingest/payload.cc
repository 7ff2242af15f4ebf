#include "ingest/payload.h"

#include <charconv>
#include <cmath>

#include "core/strings.h"

namespace pdm::ingest {

using json = nlohmann::json;

absl::StatusOr<PayloadFormat> ParsePayloadFormat(std::string_view text) {
  if (text == "auto") return PayloadFormat::kAuto;
  if (text == "json") return PayloadFormat::kJson;
  if (text == "line" || text == "line_protocol") return PayloadFormat::kLineProtocol;
  return absl::InvalidArgumentError(
      core::StrCat("format '", text, "': expected auto, json or line_protocol"));
}

std::optional<std::string> TopicLevel(std::string_view topic, int level) {
  if (level < 0) return std::nullopt;
  size_t start = 0;
  for (int i = 0; i < level; ++i) {
    const size_t slash = topic.find('/', start);
    if (slash == std::string_view::npos) return std::nullopt;
    start = slash + 1;
  }
  const size_t end = topic.find('/', start);
  std::string_view part =
      topic.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
  if (part.empty()) return std::nullopt;
  return std::string(part);
}

namespace {

// Reads up to an unescaped byte of `stops` (backslash escapes any byte); advances `at`.
std::string Token(std::string_view line, size_t* at, std::string_view stops) {
  std::string out;
  while (*at < line.size() && stops.find(line[*at]) == std::string_view::npos) {
    if (line[*at] == '\\' && *at + 1 < line.size()) ++*at;
    out.push_back(line[(*at)++]);
  }
  return out;
}

absl::Status LineError(size_t column, std::string_view what) {
  return absl::InvalidArgumentError(core::StrCat("column ", column + 1, ": ", what));
}

absl::StatusOr<json> FieldValue(std::string_view text, size_t column) {
  if (text.empty()) return LineError(column, "field value is empty");
  if (text == "t" || text == "T" || text == "true" || text == "True" || text == "TRUE") {
    return json(1);
  }
  if (text == "f" || text == "F" || text == "false" || text == "False" || text == "FALSE") {
    return json(0);
  }
  const char last = text.back();
  if (last == 'i' || last == 'u') {
    int64_t v = 0;
    const std::string_view digits = text.substr(0, text.size() - 1);
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v);
    if (ec != std::errc() || end != digits.data() + digits.size() || (last == 'u' && v < 0)) {
      return LineError(column, core::StrCat("'", text, "' is not an integer field value"));
    }
    return json(v);
  }
  double v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || !std::isfinite(v)) {
    return LineError(column, core::StrCat("'", text, "' is not a number"));
  }
  return json(v);
}

}  // namespace

absl::StatusOr<LinePoint> ParseLine(std::string_view line) {
  LinePoint p;
  size_t at = 0;
  p.measurement = Token(line, &at, ", ");
  if (p.measurement.empty()) return LineError(0, "missing the measurement");
  while (at < line.size() && line[at] == ',') {
    ++at;
    const size_t key_at = at;
    std::string key = Token(line, &at, "=, ");
    if (at >= line.size() || line[at] != '=') return LineError(key_at, "tag without '='");
    ++at;
    std::string value = Token(line, &at, ", ");
    if (key.empty() || value.empty()) return LineError(key_at, "empty tag key or value");
    p.tags.emplace_back(std::move(key), std::move(value));
  }
  if (at >= line.size() || line[at] != ' ') return LineError(at, "expected a space, then fields");
  while (at < line.size() && line[at] == ' ') ++at;
  while (true) {
    const size_t key_at = at;
    std::string key = Token(line, &at, "=, ");
    if (key.empty() || at >= line.size() || line[at] != '=') {
      return LineError(key_at, "expected a field: key=value");
    }
    ++at;
    const size_t value_at = at;
    if (at < line.size() && line[at] == '"') {  // a string field
      ++at;
      std::string text;
      while (at < line.size() && line[at] != '"') {
        if (line[at] == '\\' && at + 1 < line.size()) ++at;
        text.push_back(line[at++]);
      }
      if (at >= line.size()) return LineError(value_at, "unterminated string");
      ++at;
      p.fields.emplace_back(std::move(key), json(std::move(text)));
    } else {
      const size_t start = at;
      while (at < line.size() && line[at] != ',' && line[at] != ' ') ++at;
      auto value = FieldValue(line.substr(start, at - start), start);
      if (!value.ok()) return value.status();
      p.fields.emplace_back(std::move(key), std::move(*value));
    }
    if (at < line.size() && line[at] == ',') {
      ++at;
      continue;
    }
    break;
  }
  while (at < line.size() && line[at] == ' ') ++at;
  if (at < line.size()) {
    std::string_view rest = line.substr(at);
    while (!rest.empty() && (rest.back() == ' ' || rest.back() == '\r')) rest.remove_suffix(1);
    int64_t t = 0;
    auto [end, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), t);
    if (ec != std::errc() || end != rest.data() + rest.size()) {
      return LineError(at, core::StrCat("'", rest, "' is not an integer timestamp"));
    }
    p.timestamp = t;
  }
  return p;
}

namespace {

// Gives a record without a machine the topic's; refuses one that names another.
bool FillMachine(json* record, const std::optional<std::string>& machine, std::string* error) {
  if (!machine || !record->is_object()) return true;
  auto it = record->find("machine");
  if (it == record->end() || it->is_null()) {
    (*record)["machine"] = *machine;
    return true;
  }
  if (it->is_string() && it->get<std::string>() != *machine) {
    *error = core::StrCat("machine '", it->get<std::string>(), "' is not the topic's ('", *machine,
                          "')");
    return false;
  }
  return true;
}

absl::StatusOr<Decoded> DecodeJson(std::string_view payload,
                                   const std::optional<std::string>& machine) {
  json parsed = json::parse(payload, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) return absl::InvalidArgumentError("not valid JSON");
  Decoded out;
  json readings = json::array(), events = json::array();
  if (parsed.is_array()) {
    readings = std::move(parsed);
  } else if (parsed.is_object() && (parsed.contains("readings") || parsed.contains("events"))) {
    if (parsed.contains("readings")) readings = std::move(parsed["readings"]);
    if (parsed.contains("events")) events = std::move(parsed["events"]);
  } else if (parsed.is_object()) {
    readings.push_back(std::move(parsed));
  } else {
    return absl::InvalidArgumentError(
        "expected a reading, an array of them, or {readings, events}");
  }
  if (!readings.is_array() || !events.is_array()) {
    return absl::InvalidArgumentError("readings and events must be arrays");
  }
  // The records the topic's machine allows; the others refused by index.
  auto keep = [&](json* list, const char* name) {
    json kept = json::array();
    for (size_t i = 0; i < list->size(); ++i) {
      std::string error;
      if (FillMachine(&(*list)[i], machine, &error)) {
        kept.push_back(std::move((*list)[i]));
      } else {
        out.errors.push_back(core::StrCat(name, "[", i, "]: ", error));
      }
    }
    return kept;
  };
  json kept_readings = keep(&readings, "readings");
  json kept_events = keep(&events, "events");
  out.readings = kept_readings.size();
  out.body = {{"readings", std::move(kept_readings)}};
  if (!kept_events.empty()) out.body["events"] = std::move(kept_events);
  return out;
}

Decoded DecodeLines(std::string_view payload, const DecodeOptions& options,
                    const std::optional<std::string>& machine) {
  Decoded out;
  json readings = json::array();
  size_t number = 0;
  while (!payload.empty()) {
    const size_t newline = payload.find('\n');
    std::string_view line = payload.substr(0, newline);
    payload.remove_prefix(newline == std::string_view::npos ? payload.size() : newline + 1);
    ++number;
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.remove_suffix(1);
    while (!line.empty() && line.front() == ' ') line.remove_prefix(1);
    if (line.empty() || line.front() == '#') continue;
    auto point = ParseLine(line);
    if (!point.ok()) {
      out.errors.push_back(core::StrCat("line ", number, ": ", point.status().message()));
      continue;
    }
    json reading = json::object();
    for (const auto& [key, value] : point->tags) {
      if (key == options.machine_tag) reading["machine"] = value;
    }
    std::string error;
    if (!FillMachine(&reading, machine, &error)) {
      out.errors.push_back(core::StrCat("line ", number, ": ", error));
      continue;
    }
    if (!reading.contains("machine")) {
      out.errors.push_back(core::StrCat("line ", number, ": no '", options.machine_tag,
                                        "' tag and no machine in the topic"));
      continue;
    }
    if (point->timestamp) {
      reading["time"] = static_cast<double>(*point->timestamp) * options.time_unit;
    }
    json values = json::object();
    for (auto& [key, value] : point->fields) values[key] = std::move(value);
    reading["values"] = std::move(values);
    readings.push_back(std::move(reading));
  }
  out.readings = readings.size();
  out.body = {{"readings", std::move(readings)}};
  return out;
}

}  // namespace

absl::StatusOr<Decoded> DecodePayload(std::string_view payload, const DecodeOptions& options,
                                      const std::optional<std::string>& machine) {
  PayloadFormat format = options.format;
  if (format == PayloadFormat::kAuto) {
    const size_t first = payload.find_first_not_of(" \t\r\n");
    format = first != std::string_view::npos && (payload[first] == '{' || payload[first] == '[')
                 ? PayloadFormat::kJson
                 : PayloadFormat::kLineProtocol;
  }
  if (format == PayloadFormat::kJson) return DecodeJson(payload, machine);
  return DecodeLines(payload, options, machine);
}

}  // namespace pdm::ingest
