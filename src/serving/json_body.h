// JSON request and response helpers shared by the server's routes.
#ifndef PDM_SERVING_JSON_BODY_H_
#define PDM_SERVING_JSON_BODY_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "nlohmann/json.hpp"
#include "serving/http_server.h"

namespace pdm::serving {

inline constexpr int kMaxJsonDepth = 32;

HttpResponse Json(int status, const nlohmann::json& body);
// {"error": message, "details": details} (details left out when empty).
HttpResponse Error(int status, const std::string& message,
                   nlohmann::json details = nlohmann::json::array());

// A JSON value as it appeared, shortened to 64 characters, for error details.
nlohmann::json Shown(const nlohmann::json& value);

// A wall-clock time of the store (microseconds since the epoch) as an answer shows it:
// "2026-12-07T12:00:00Z".
std::string WallTime(int64_t us);

// Whether the query string has `name=true` (or `name=1`) among its &-separated parameters.
bool QueryFlag(std::string_view query, std::string_view name);
// The value of `name=value` in the query string, if present.
std::optional<std::string_view> QueryValue(std::string_view query, std::string_view name);

// Why a request body was refused before any of its content was read: the status, the reason's
// metric label and the message.
struct Refusal {
  int status;
  std::string_view reason;
  std::string message;
};
// Refuses a body whose Content-Type is not application/json.
std::optional<Refusal> CheckJsonContentType(const HttpRequest& request);
// Parses text as JSON nested at most kMaxJsonDepth.
std::optional<Refusal> ParseJsonText(std::string_view text, nlohmann::json* body);
// Parses the body as JSON (Content-Type application/json, nesting at most kMaxJsonDepth).
std::optional<Refusal> ParseJsonBody(const HttpRequest& request, nlohmann::json* body);

}  // namespace pdm::serving

#endif  // PDM_SERVING_JSON_BODY_H_
