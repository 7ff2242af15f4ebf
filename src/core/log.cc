#include "core/log.h"

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <deque>
#include <mutex>

#include "core/json_writer.h"
#include "core/strings.h"
#include "core/time.h"

namespace pdm::core {
namespace {

std::atomic<LogFormat> format_setting{LogFormat::kText};
// Every name ever set, never freed (a line being formatted keeps reading the one it loaded);
// set once or twice per process. Reached through a static pointer, so not a leak.
std::mutex names_mutex;
std::deque<std::string>* ProgramNames() {
  static auto* names = new std::deque<std::string>{"pdm"};
  return names;
}
std::atomic<const std::string*> program_name{&ProgramNames()->front()};

const char* LevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarning:
      return "warning";
    case LogLevel::kError:
      return "error";
  }
  return "info";
}

void AppendNumber(double value, std::string* out) {
  if (!std::isfinite(value)) {
    *out += "null";
    return;
  }
  char buffer[32];
  const auto result = std::to_chars(buffer, buffer + sizeof(buffer), value);
  out->append(buffer, result.ptr);
}

// A field's value. Strings are JSON-quoted, except in text lines when they have no space,
// quote or '=' (key=value stays readable).
void AppendValue(const LogField& field, bool json, std::string* out) {
  if (const auto* text = std::get_if<std::string_view>(&field.value)) {
    if (!json && !text->empty() && text->find_first_of(" \t\r\n\"=") == std::string_view::npos) {
      *out += *text;
    } else {
      JsonWriter::AppendQuoted(*text, out);
    }
  } else if (const auto* integer = std::get_if<int64_t>(&field.value)) {
    *out += std::to_string(*integer);
  } else {
    AppendNumber(std::get<double>(field.value), out);
  }
}

}  // namespace

absl::StatusOr<LogFormat> ParseLogFormat(std::string_view text) {
  if (text == "text") return LogFormat::kText;
  if (text == "json") return LogFormat::kJson;
  return absl::InvalidArgumentError(
      StrCat("--log-format '", text.substr(0, 64), "': expected text or json"));
}

void SetLogFormat(LogFormat format) { format_setting.store(format); }
LogFormat GetLogFormat() { return format_setting.load(); }

void SetLogProgram(std::string_view program) {
  std::lock_guard lock(names_mutex);
  if (*program_name.load() == program) return;
  program_name.store(&ProgramNames()->emplace_back(program));
}

std::string FormatLogLine(LogLevel level, std::string_view message,
                          std::initializer_list<LogField> fields, int64_t epoch_millis) {
  const std::string& program = *program_name.load();
  std::string line;
  line.reserve(128 + message.size());
  if (GetLogFormat() == LogFormat::kText) {
    line += program;
    line += ": ";
    line += message;
    for (const LogField& field : fields) {
      line += ' ';
      line += field.key;
      line += '=';
      AppendValue(field, /*json=*/false, &line);
    }
    return line;
  }
  char time_text[40];
  const int64_t seconds = epoch_millis >= 0 ? epoch_millis / 1000 : (epoch_millis - 999) / 1000;
  const int length = FormatTimestamp(seconds, time_text);  // "YYYY-MM-DDTHH:MM:SSZ"
  std::string_view stamp(time_text, static_cast<size_t>(length));
  if (stamp.ends_with('Z')) stamp.remove_suffix(1);
  char millis[8];
  std::snprintf(millis, sizeof(millis), ".%03dZ", static_cast<int>(epoch_millis - seconds * 1000));
  line += "{\"time\":\"";
  line += stamp;
  line += millis;
  line += "\",\"level\":\"";
  line += LevelName(level);
  line += "\",\"program\":";
  JsonWriter::AppendQuoted(program, &line);
  line += ",\"msg\":";
  JsonWriter::AppendQuoted(message, &line);
  for (const LogField& field : fields) {
    line += ',';
    JsonWriter::AppendQuoted(field.key, &line);
    line += ':';
    AppendValue(field, /*json=*/true, &line);
  }
  line += '}';
  return line;
}

void Log(LogLevel level, std::string_view message, std::initializer_list<LogField> fields) {
  const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  std::string line = FormatLogLine(level, message, fields, now);
  line += '\n';
  FILE* stream = level == LogLevel::kInfo ? stdout : stderr;
  // What was printed through stdio before (a command's banner) goes out first.
  std::fflush(stream);
  const int fd = ::fileno(stream);
  size_t written = 0;
  while (written < line.size()) {
    const ssize_t n = ::write(fd, line.data() + written, line.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // a closed stream: the line is lost, as printf's would be
    written += static_cast<size_t>(n);
  }
}

}  // namespace pdm::core
