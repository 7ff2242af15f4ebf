#include "core/numbers.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <random>

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

}  // namespace
}  // namespace pdm::core
