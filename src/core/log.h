// Process-wide log lines of a long-running command (`pdm serve`): plain text for a terminal, or
// one JSON object per line for ELK / Loki (`--log-format json`).
//
// Text:  "<program>: <message>" (fields, if any, follow as key=value); the form pdm has always
//        printed, so scripts reading a terminal's output keep working.
// JSON:  {"time":"2026-12-07T23:59:59.123Z","level":"info","program":"pdm serve","msg":...,
//        <fields>...}: one object per line, keys in the order given, strings escaped.
//
// Info lines go to stdout, warnings and errors to stderr. Each line is written whole with one
// write(2) and no buffering, so lines of several threads never interleave and a line is out the
// moment it is logged. Thread-safe.
#ifndef PDM_CORE_LOG_H_
#define PDM_CORE_LOG_H_

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <variant>

#include "absl/status/statusor.h"

namespace pdm::core {

enum class LogFormat { kText, kJson };
enum class LogLevel { kInfo, kWarning, kError };

// "text" or "json"; anything else is refused with the accepted values.
absl::StatusOr<LogFormat> ParseLogFormat(std::string_view text);

// Sets how later lines are written and the program name they carry (default: text, "pdm").
void SetLogFormat(LogFormat format);
void SetLogProgram(std::string_view program);
LogFormat GetLogFormat();

struct LogField {
  std::string_view key;
  std::variant<std::string_view, int64_t, double> value;
};

// The line Log writes (without the newline), for tests and for callers that write elsewhere.
std::string FormatLogLine(LogLevel level, std::string_view message,
                          std::initializer_list<LogField> fields, int64_t epoch_millis);

void Log(LogLevel level, std::string_view message, std::initializer_list<LogField> fields = {});
inline void LogInfo(std::string_view message, std::initializer_list<LogField> fields = {}) {
  Log(LogLevel::kInfo, message, fields);
}
inline void LogError(std::string_view message, std::initializer_list<LogField> fields = {}) {
  Log(LogLevel::kError, message, fields);
}

}  // namespace pdm::core

#endif  // PDM_CORE_LOG_H_
