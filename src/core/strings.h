// String helpers over fmt. Debian's Abseil is built with its own absl::string_view (not
// std::string_view), so core::StrCat cannot take std::string_view: pdm formats with fmt instead.
#ifndef PDM_CORE_STRINGS_H_
#define PDM_CORE_STRINGS_H_

#include <functional>
#include <iterator>
#include <string>
#include <string_view>

#include "absl/strings/string_view.h"
#include "fmt/format.h"

// Lets fmt print absl::string_view (Status::message()) like std::string_view.
template <>
struct fmt::formatter<absl::string_view> : fmt::formatter<std::string_view> {
  auto format(absl::string_view text, fmt::format_context& ctx) const {
    return fmt::formatter<std::string_view>::format(std::string_view(text.data(), text.size()),
                                                    ctx);
  }
};

namespace pdm::core {

// Concatenates the text forms of `args` (numbers in their shortest round-trip form).
template <typename... Args>
std::string StrCat(const Args&... args) {
  std::string out;
  (fmt::format_to(std::back_inserter(out), "{}", args), ...);
  return out;
}

template <typename... Args>
void StrAppend(std::string* out, const Args&... args) {
  (fmt::format_to(std::back_inserter(*out), "{}", args), ...);
}

// `text` with &, <, > and " as HTML entities: safe inside an element or a quoted attribute.
inline std::string HtmlEscape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '&':
        out += "&amp;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

// Transparent hash and equality so that hash maps keyed by std::string accept std::string_view
// lookups without a copy.
struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view text) const { return std::hash<std::string_view>{}(text); }
};
struct StringEq {
  using is_transparent = void;
  bool operator()(std::string_view a, std::string_view b) const { return a == b; }
};

}  // namespace pdm::core

#endif  // PDM_CORE_STRINGS_H_
