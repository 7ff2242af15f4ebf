// Exact, locale-independent number parsing for the ingestion hot path (fast_float: correctly
// rounded, several times faster than strtod and than libstdc++ 12's std::from_chars).
#ifndef PDM_CORE_NUMBERS_H_
#define PDM_CORE_NUMBERS_H_

#include <cmath>
#include <cstdint>
#include <string_view>

#include "fast_float/fast_float.h"

namespace pdm::core {

enum class NumberParse {
  kOk,          // a finite number
  kEmpty,       // nothing but blanks
  kNotANumber,  // text that is not a number
  kNonFinite,   // nan, inf, or a magnitude beyond a double (1e999)
};

// Fast path for the plain decimals telemetry is made of ("-12.345"): at most 15 digits, no
// exponent. The digits form an integer m < 10^15 < 2^53 and the fraction a power of ten
// 10^k <= 10^15, both exact doubles, so m / 10^k is the correctly rounded value (Clinger 1990):
// the same double as strtod and fast_float. Anything else returns false and goes to fast_float.
inline bool ParsePlainDecimal(std::string_view text, double* out) {
  static constexpr double kPow10[] = {1e0, 1e1, 1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                      1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15};
  const char* p = text.data();
  const char* const end = p + text.size();
  const bool negative = p < end && *p == '-';
  if (negative) ++p;
  uint64_t mantissa = 0;
  int digits = 0;
  for (; p < end && static_cast<unsigned>(*p - '0') < 10; ++p, ++digits) {
    mantissa = mantissa * 10 + static_cast<unsigned>(*p - '0');
  }
  int fraction = 0;
  if (p < end && *p == '.') {
    for (++p; p < end && static_cast<unsigned>(*p - '0') < 10; ++p, ++fraction) {
      mantissa = mantissa * 10 + static_cast<unsigned>(*p - '0');
    }
    digits += fraction;
  }
  if (p != end || digits == 0 || digits > 15) return false;
  const double value = static_cast<double>(mantissa) / kPow10[fraction];
  *out = negative ? -value : value;
  return true;
}

// Parses the whole of `text` (surrounding blanks and one leading '+' allowed) as a double.
inline NumberParse ParseDouble(std::string_view text, double* out) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  if (text.empty()) return NumberParse::kEmpty;
  if (text.size() > 1 && text.front() == '+' && text[1] != '-') text.remove_prefix(1);
  if (ParsePlainDecimal(text, out)) return NumberParse::kOk;
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
