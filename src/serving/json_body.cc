#include "serving/json_body.h"

#include "core/strings.h"
#include "core/time.h"

namespace pdm::serving {

using json = nlohmann::json;

HttpResponse Json(int status, const json& body) {
  // Texts echoed from a request (a path segment, a field name) may not be UTF-8: replaced, not
  // thrown.
  return HttpResponse{status,
                      "application/json",
                      body.dump(-1, ' ', false, json::error_handler_t::replace),
                      {},
                      nullptr};
}

HttpResponse Error(int status, const std::string& message, json details) {
  json body = {{"error", message}};
  if (!details.empty()) body["details"] = std::move(details);
  return Json(status, body);
}

namespace {

// Deeper nesting than any valid request is refused before parsing.
bool NestedTooDeep(std::string_view body) {
  int depth = 0;
  bool in_string = false, escaped = false;
  for (char c : body) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') in_string = true;
    if (c == '{' || c == '[') {
      if (++depth > kMaxJsonDepth) return true;
    } else if (c == '}' || c == ']') {
      --depth;
    }
  }
  return false;
}

}  // namespace

json Shown(const json& value) {
  std::string text = value.dump(-1, ' ', false, json::error_handler_t::replace);
  if (text.size() > 64) text = text.substr(0, 61) + "...";
  return text;
}

bool QueryFlag(std::string_view query, std::string_view name) {
  while (!query.empty()) {
    const size_t amp = query.find('&');
    const std::string_view param = query.substr(0, amp);
    if (param == core::StrCat(name, "=true") || param == core::StrCat(name, "=1")) return true;
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return false;
}

std::optional<std::string_view> QueryValue(std::string_view query, std::string_view name) {
  while (!query.empty()) {
    const size_t amp = query.find('&');
    const std::string_view param = query.substr(0, amp);
    if (param.size() > name.size() && param.starts_with(name) && param[name.size()] == '=') {
      return param.substr(name.size() + 1);
    }
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return std::nullopt;
}

std::optional<Refusal> CheckJsonContentType(const HttpRequest& request) {
  if (request.content_type.starts_with("application/json")) return std::nullopt;
  return Refusal{415, "wrong_content_type",
                 core::StrCat("Content-Type must be application/json, not '",
                              request.content_type.substr(0, 64), "'")};
}

std::optional<Refusal> ParseJsonText(std::string_view text, json* body) {
  if (NestedTooDeep(text)) {
    return Refusal{400, "nested_too_deep",
                   core::StrCat("JSON nested deeper than ", kMaxJsonDepth, " levels")};
  }
  *body = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (body->is_discarded()) return Refusal{400, "malformed_json", "malformed JSON (or not UTF-8)"};
  return std::nullopt;
}

std::optional<Refusal> ParseJsonBody(const HttpRequest& request, json* body) {
  if (auto refused = CheckJsonContentType(request)) return refused;
  return ParseJsonText(request.body, body);
}

std::string WallTime(int64_t us) { return core::FormatTimestamp(us / 1'000'000); }

}  // namespace pdm::serving
