// Exact, locale-independent number parsing for the ingestion hot path (fast_float: correctly
// rounded, several times faster than strtod and than libstdc++ 12's std::from_chars).
#ifndef PDM_CORE_NUMBERS_H_
#define PDM_CORE_NUMBERS_H_

#include <cmath>
#include <string_view>

#include "fast_float/fast_float.h"

namespace pdm::core {

enum class NumberParse {
  kOk,          // a finite number
  kEmpty,       // nothing but blanks
  kNotANumber,  // text that is not a number
  kNonFinite,   // nan, inf, or a magnitude beyond a double (1e999)
};

// Parses the whole of `text` (surrounding blanks and one leading '+' allowed) as a double.
inline NumberParse ParseDouble(std::string_view text, double* out) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  if (text.empty()) return NumberParse::kEmpty;
  if (text.size() > 1 && text.front() == '+' && text[1] != '-') text.remove_prefix(1);
  const char* end = text.data() + text.size();
  const auto result = fast_float::from_chars(text.data(), end, *out);
  if (result.ptr != end || result.ec != std::errc()) {
    // fast_float reports overflow as out-of-range in some versions; the value is then +-inf.
    if (result.ptr == end && result.ec == std::errc::result_out_of_range) {
      return std::isfinite(*out) ? NumberParse::kOk : NumberParse::kNonFinite;
    }
    return NumberParse::kNotANumber;
  }
  return std::isfinite(*out) ? NumberParse::kOk : NumberParse::kNonFinite;
}

}  // namespace pdm::core

#endif  // PDM_CORE_NUMBERS_H_
