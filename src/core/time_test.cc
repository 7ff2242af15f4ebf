#include "core/time.h"

#include <gtest/gtest.h>

#include <random>

namespace pdm::core {
namespace {

TEST(ParseSpanTest, ParsesEveryUnit) {
  struct Case {
    const char* text;
    Span expected;
  };
  const Case cases[] = {
      {"45s", {Span::Kind::kTime, 45}},         {"10m", {Span::Kind::kTime, 600}},
      {"1h", {Span::Kind::kTime, 3600}},        {"24h", {Span::Kind::kTime, 86400}},
      {"30d", {Span::Kind::kTime, 30 * 86400}}, {"2w", {Span::Kind::kTime, 14 * 86400}},
      {"20r", {Span::Kind::kRecords, 20}},
  };
  for (const Case& c : cases) {
    auto span = ParseSpan(c.text);
    ASSERT_TRUE(span.ok()) << c.text << ": " << span.status();
    EXPECT_EQ(*span, c.expected) << c.text;
  }
}

TEST(ParseSpanTest, RefusesBadText) {
  for (const char* text :
       {"", "h", "0h", "-1h", "1.5h", "1y", "10", "h1", "1 h", "99999999999999999999d"}) {
    EXPECT_FALSE(ParseSpan(text).ok()) << text;
  }
  auto records = ParseDurationSeconds("20r");
  ASSERT_FALSE(records.ok());
  EXPECT_NE(records.status().message().find("not records"), std::string::npos);
}

TEST(FormatSpanTest, UsesLargestExactUnit) {
  EXPECT_EQ(FormatSpan({Span::Kind::kTime, 86400}), "1d");
  EXPECT_EQ(FormatSpan({Span::Kind::kTime, 90000}), "25h");
  EXPECT_EQ(FormatSpan({Span::Kind::kTime, 61}), "61s");
  EXPECT_EQ(FormatSpan({Span::Kind::kRecords, 5}), "5r");
}

TEST(ParseTimestampTest, AcceptsIsoForms) {
  struct Case {
    const char* text;
    double expected;
  };
  const Case cases[] = {
      {"1970-01-01", 0},
      {"1970-01-01T00:00:00Z", 0},
      {"2025-01-01T00:00:00Z", 1735689600},
      {"2025-01-01 00:00:00", 1735689600},
      {"2025-01-01T01:00", 1735693200},
      {"2024-02-29T12:30:15.25Z", 1709209815.25},
      {"2025-01-01T02:00:00+02:00", 1735689600},
      {"2024-12-31T19:00:00-0500", 1735689600},
      {"1969-12-31T23:59:59Z", -1},
  };
  for (const Case& c : cases) {
    double value = -12345;
    ASSERT_TRUE(ParseTimestamp(c.text, &value)) << c.text;
    EXPECT_DOUBLE_EQ(value, c.expected) << c.text;
  }
}

TEST(ParseTimestampTest, RefusesInvalidDates) {
  for (const char* text :
       {"", "2025", "2025-13-01", "2025-02-29", "2025-00-10", "2025-01-32", "2025-01-01T24:00:00",
        "2025-01-01T10:60", "2025-01-01T10:00:00X", "2025/01/01", "2025-01-01T", "2025-1-01",
        "20250101", "2025-01-01T10:00:00.", "2025-01-01T10:00:00+25:00"}) {
    double value = 0;
    EXPECT_FALSE(ParseTimestamp(text, &value)) << text;
  }
}

TEST(ParseTimestampTest, DateCacheGivesTheSameResults) {
  DateCache cache;
  std::mt19937_64 rng(4);
  std::uniform_int_distribution<int64_t> seconds(1'600'000'000, 1'600'000'000 + 5 * 86400);
  for (int i = 0; i < 5000; ++i) {
    const std::string text = FormatTimestamp(seconds(rng));
    double cached = 0, plain = 0;
    ASSERT_TRUE(ParseTimestamp(text, &cached, &cache));
    ASSERT_TRUE(ParseTimestamp(text, &plain));
    ASSERT_EQ(cached, plain) << text;
  }
  double value = 0;
  ASSERT_TRUE(ParseTimestamp("2025-03-01T00:00:00Z", &value, &cache));
  // Same date prefix, broken time part: still refused.
  EXPECT_FALSE(ParseTimestamp("2025-03-01T25:00:00Z", &value, &cache));
  EXPECT_FALSE(ParseTimestamp("2025-03-01Tgarbage", &value, &cache));
  EXPECT_TRUE(ParseTimestamp("2025-03-01", &value, &cache));
  EXPECT_EQ(value, 1740787200);
}

TEST(FormatTimestampTest, RoundTripsRandomTimes) {
  std::mt19937_64 rng(3);
  std::uniform_int_distribution<int64_t> seconds(-2'000'000'000, 5'000'000'000);
  for (int i = 0; i < 20000; ++i) {
    const int64_t t = seconds(rng);
    const std::string text = FormatTimestamp(t);
    double parsed = 0;
    ASSERT_TRUE(ParseTimestamp(text, &parsed)) << text;
    ASSERT_EQ(static_cast<int64_t>(parsed), t) << text;
  }
  EXPECT_EQ(FormatTimestamp(1735689600), "2025-01-01T00:00:00Z");
}

}  // namespace
}  // namespace pdm::core
