#include "core/numbers.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>

namespace pdm::core {
namespace {

TEST(ParseDoubleTest, ClassifiesCells) {
  double v = 0;
  EXPECT_EQ(ParseDouble("1.5", &v), NumberParse::kOk);
  EXPECT_EQ(v, 1.5);
  EXPECT_EQ(ParseDouble("  -2e3 ", &v), NumberParse::kOk);
  EXPECT_EQ(v, -2000);
  EXPECT_EQ(ParseDouble("+7", &v), NumberParse::kOk);
  EXPECT_EQ(v, 7);
  EXPECT_EQ(ParseDouble("299", &v), NumberParse::kOk);
  EXPECT_EQ(ParseDouble("1e-400", &v), NumberParse::kOk);  // underflow rounds to zero
  EXPECT_EQ(ParseDouble("", &v), NumberParse::kEmpty);
  EXPECT_EQ(ParseDouble("   ", &v), NumberParse::kEmpty);
  for (const char* bad : {"abc", "1.2.3", "1,5", "--1", "+-1", "1e", "0x10", "12abc", "+"}) {
    EXPECT_EQ(ParseDouble(bad, &v), NumberParse::kNotANumber) << bad;
  }
  for (const char* non_finite : {"nan", "NaN", "inf", "-inf", "Infinity", "1e999", "-1e400"}) {
    EXPECT_EQ(ParseDouble(non_finite, &v), NumberParse::kNonFinite) << non_finite;
  }
}

TEST(ParseDoubleTest, MatchesStrtodExactly) {
  std::mt19937_64 rng(11);
  std::uniform_real_distribution<double> mantissa(-1, 1);
  std::uniform_int_distribution<int> exponent(-30, 30);
  char buffer[64];
  for (int i = 0; i < 100000; ++i) {
    const double x = mantissa(rng) * std::pow(10.0, exponent(rng));
    std::snprintf(buffer, sizeof(buffer), "%.*g", 1 + i % 17, x);
    double parsed = 0;
    ASSERT_EQ(ParseDouble(buffer, &parsed), NumberParse::kOk) << buffer;
    ASSERT_EQ(parsed, std::strtod(buffer, nullptr)) << buffer;
  }
}

// The plain-decimal fast path must give exactly what strtod gives, at every digit count.
TEST(ParseDoubleTest, PlainDecimalsMatchStrtodExactly) {
  std::mt19937_64 rng(12);
  char buffer[64];
  for (int i = 0; i < 200000; ++i) {
    const int int_digits = static_cast<int>(rng() % 9);
    const int frac_digits = static_cast<int>(rng() % 9);
    std::string text = rng() % 2 ? "-" : "";
    for (int d = 0; d < int_digits; ++d) text += static_cast<char>('0' + rng() % 10);
    if (frac_digits > 0 || int_digits == 0) {
      text += '.';
      for (int d = 0; d < std::max(frac_digits, 1); ++d)
        text += static_cast<char>('0' + rng() % 10);
    }
    double parsed = 0;
    ASSERT_EQ(ParseDouble(text, &parsed), NumberParse::kOk) << text;
    ASSERT_EQ(parsed, std::strtod(text.c_str(), nullptr)) << text;
    ASSERT_EQ(std::signbit(parsed), std::signbit(std::strtod(text.c_str(), nullptr))) << text;
  }
  std::snprintf(buffer, sizeof(buffer), "%s", "0.1000000000000001");  // 16 digits: fast_float
  double parsed = 0;
  ASSERT_EQ(ParseDouble(buffer, &parsed), NumberParse::kOk);
  EXPECT_EQ(parsed, std::strtod(buffer, nullptr));
  for (const char* text : {"1.", ".5", "-0", "-.5", "123456789012345"}) {
    ASSERT_EQ(ParseDouble(text, &parsed), NumberParse::kOk) << text;
    EXPECT_EQ(parsed, std::strtod(text, nullptr)) << text;
  }
  for (const char* bad : {"-", ".", "-.", "1.2.3", "1-2", "1..2"}) {
    EXPECT_EQ(ParseDouble(bad, &parsed), NumberParse::kNotANumber) << bad;
  }
}

}  // namespace
}  // namespace pdm::core
