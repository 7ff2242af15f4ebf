// ValueRows keeps every value bit for bit, as decimal mantissas while it can.
#include "features/value_rows.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <random>

namespace pdm::features {
namespace {

uint64_t Bits(double x) { return std::bit_cast<uint64_t>(x); }

// Appends a record whose one sensor reads `value`.
void Append(ValueRows& ring, double value) { ring.push_back(&value); }

TEST(ValueRowsTest, ShortDecimalsStayDecimalAndExact) {
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> magnitude(-2000, 2000);
  ValueRows ring(1, /*compact=*/true);
  std::vector<double> expected;
  for (int i = 0; i < 5000; ++i) {
    const int digits = static_cast<int>(rng() % 4);  // 0..3 digits: |m| < 2^31 at 3 digits
    const double scale = std::pow(10.0, digits);
    // As a parser gives them: the double nearest to the decimal text (+ 0.0: no "-0", which has
    // no mantissa and turns the ring to doubles, see below).
    const double value = std::round(magnitude(rng) * scale) / scale + 0.0;
    Append(ring, value);
    expected.push_back(value);
  }
  EXPECT_TRUE(ring.decimal());
  EXPECT_EQ(ring.digits(0), 3);
  for (size_t i = 0; i < expected.size(); ++i) {
    ASSERT_EQ(Bits(ring.at(static_cast<int64_t>(i), 0)), Bits(expected[i])) << i;
  }
}

TEST(ValueRowsTest, WidensForMoreDigitsKeepingEarlierValues) {
  ValueRows ring(1, true);
  Append(ring, 1500);
  Append(ring, 1.5);
  EXPECT_EQ(ring.digits(0), 1);
  Append(ring, 2.25);
  Append(ring, std::nan(""));
  EXPECT_TRUE(ring.decimal());
  EXPECT_EQ(ring.digits(0), 2);
  EXPECT_EQ(ring.at(0, 0), 1500);
  EXPECT_EQ(ring.at(1, 0), 1.5);
  EXPECT_EQ(ring.at(2, 0), 2.25);
  EXPECT_TRUE(std::isnan(ring.at(3, 0)));
}

TEST(ValueRowsTest, FallsBackToDoublesWithoutLosingAnything) {
  struct Case {
    const char* name;
    std::vector<double> values;
  };
  const std::vector<Case> cases = {
      {"no short decimal form", {1.25, 0.1 + 0.2, 7}},
      {"negative zero", {3, -0.0, 4}},
      {"mantissa past 2^31", {12, 3e9, 1}},
      {"widening would overflow", {3e6, 0.001, 5}},
      {"infinity", {1, INFINITY, 2}},
  };
  for (const Case& c : cases) {
    ValueRows ring(1, true);
    for (double v : c.values) Append(ring, v);
    EXPECT_FALSE(ring.decimal()) << c.name;
    for (size_t i = 0; i < c.values.size(); ++i) {
      EXPECT_EQ(Bits(ring.at(static_cast<int64_t>(i), 0)), Bits(c.values[i])) << c.name << " " << i;
    }
  }
}

TEST(ValueRowsTest, PlainRingsNeverEncode) {
  ValueRows ring(1);
  Append(ring, 1.5);
  EXPECT_FALSE(ring.compact());
  EXPECT_FALSE(ring.decimal());
  EXPECT_EQ(ring.at(0, 0), 1.5);
}

TEST(ValueRowsTest, DropsAndRestartsDecimal) {
  ValueRows ring(1, true);
  for (int i = 0; i < 20; ++i) Append(ring, i * 0.5);
  ring.drop_before(15);
  EXPECT_EQ(ring.begin(), 15);
  EXPECT_EQ(ring.at(15, 0), 7.5);
  Append(ring, 0.1 + 0.2);  // doubles from now on
  EXPECT_FALSE(ring.decimal());
  EXPECT_EQ(ring.at(19, 0), 9.5);
  ring.StartAt(ring.end());
  EXPECT_TRUE(ring.empty());
  EXPECT_TRUE(ring.decimal());  // a new start may be decimal again
  Append(ring, 4.5);
  EXPECT_EQ(ring.begin(), 21);
  EXPECT_EQ(ring.at(21, 0), 4.5);
}

TEST(ValueRowsTest, SnapshotIsTheSameForBothRepresentations) {
  ValueRows compact(1, true), plain(1);
  for (double v : {1.5, std::nan(""), -2.75, 300.0}) {
    Append(compact, v);
    Append(plain, v);
  }
  ByteWriter a, b;
  compact.Write(a, 1);
  plain.Write(b, 1);
  const std::string bytes = a.Take();
  EXPECT_EQ(bytes, b.Take());
  ValueRows back(1, true);
  ByteReader in(bytes);
  ASSERT_TRUE(back.Read(in, 1));
  EXPECT_TRUE(back.decimal());
  EXPECT_EQ(back.at(2, 0), -2.75);
  EXPECT_TRUE(std::isnan(back.at(1, 0)));
}

TEST(ValueRowsTest, SensorsKeepTheirOwnDigitsUntilOneHasNoDecimalForm) {
  ValueRows rows(3, true);
  const std::vector<std::vector<double>> input = {
      {1.5, 20, std::nan("")}, {2.25, 21, 7.125}, {3, 22.5, 8}};
  for (const auto& row : input) rows.push_back(row.data());
  EXPECT_TRUE(rows.decimal());
  EXPECT_EQ(rows.digits(0), 2);
  EXPECT_EQ(rows.digits(1), 1);
  EXPECT_EQ(rows.digits(2), 3);
  rows.ClearSensor(1);  // a maintenance reset of sensor 1
  const std::vector<double> odd = {4, 0.1 + 0.2, 9};
  rows.push_back(odd.data());  // one value without a short decimal form: all sensors to doubles
  EXPECT_FALSE(rows.decimal());
  for (size_t r = 0; r < input.size(); ++r) {
    for (size_t s = 0; s < 3; ++s) {
      const double expected = s == 1 ? std::nan("") : input[r][s];
      EXPECT_EQ(Bits(rows.at(static_cast<int64_t>(r), s)), Bits(expected)) << r << " " << s;
    }
  }
  for (size_t s = 0; s < 3; ++s) EXPECT_EQ(Bits(rows.at(3, s)), Bits(odd[s])) << s;
  // The row reader decodes the same values.
  std::vector<double> scratch(3);
  rows.WithRowReader([&](const auto& row_at) {
    EXPECT_EQ(row_at(1, scratch.data())[2], 7.125);
    return 0;
  });
}

}  // namespace
}  // namespace pdm::features
