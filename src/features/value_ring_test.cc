// ValueRing keeps every value bit for bit, as decimal mantissas while it can.
#include "features/value_ring.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <random>

namespace pdm::features {
namespace {

uint64_t Bits(double x) { return std::bit_cast<uint64_t>(x); }

// Appends `value` at the end of `ring`, as SensorWindows does.
void Append(ValueRing& ring, double value) {
  ring.push_missing();
  ring.set(ring.end() - 1, value);
}

TEST(ValueRingTest, ShortDecimalsStayDecimalAndExact) {
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> magnitude(-2000, 2000);
  ValueRing ring(/*compact=*/true);
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
  EXPECT_EQ(ring.digits(), 3);
  for (size_t i = 0; i < expected.size(); ++i) {
    ASSERT_EQ(Bits(ring.at(static_cast<int64_t>(i))), Bits(expected[i])) << i;
  }
}

TEST(ValueRingTest, WidensForMoreDigitsKeepingEarlierValues) {
  ValueRing ring(true);
  Append(ring, 1500);
  Append(ring, 1.5);
  EXPECT_EQ(ring.digits(), 1);
  Append(ring, 2.25);
  Append(ring, std::nan(""));
  EXPECT_TRUE(ring.decimal());
  EXPECT_EQ(ring.digits(), 2);
  EXPECT_EQ(ring.at(0), 1500);
  EXPECT_EQ(ring.at(1), 1.5);
  EXPECT_EQ(ring.at(2), 2.25);
  EXPECT_TRUE(std::isnan(ring.at(3)));
}

TEST(ValueRingTest, FallsBackToDoublesWithoutLosingAnything) {
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
    ValueRing ring(true);
    for (double v : c.values) Append(ring, v);
    EXPECT_FALSE(ring.decimal()) << c.name;
    for (size_t i = 0; i < c.values.size(); ++i) {
      EXPECT_EQ(Bits(ring.at(static_cast<int64_t>(i))), Bits(c.values[i])) << c.name << " " << i;
    }
  }
}

TEST(ValueRingTest, PlainRingsNeverEncode) {
  ValueRing ring;
  Append(ring, 1.5);
  EXPECT_FALSE(ring.compact());
  EXPECT_FALSE(ring.decimal());
  EXPECT_EQ(ring.at(0), 1.5);
}

TEST(ValueRingTest, DropsAndRestartsDecimal) {
  ValueRing ring(true);
  for (int i = 0; i < 20; ++i) Append(ring, i * 0.5);
  ring.drop_before(15);
  EXPECT_EQ(ring.begin(), 15);
  EXPECT_EQ(ring.at(15), 7.5);
  Append(ring, 0.1 + 0.2);  // doubles from now on
  EXPECT_FALSE(ring.decimal());
  EXPECT_EQ(ring.at(19), 9.5);
  ring.clear();
  EXPECT_TRUE(ring.empty());
  EXPECT_TRUE(ring.decimal());  // a new start may be decimal again
  Append(ring, 4.5);
  EXPECT_EQ(ring.begin(), 21);
  EXPECT_EQ(ring.at(21), 4.5);
}

TEST(ValueRingTest, SnapshotIsTheSameForBothRepresentations) {
  ValueRing compact(true), plain;
  for (double v : {1.5, std::nan(""), -2.75, 300.0}) {
    Append(compact, v);
    Append(plain, v);
  }
  ByteWriter a, b;
  compact.Write(a);
  plain.Write(b);
  const std::string bytes = a.Take();
  EXPECT_EQ(bytes, b.Take());
  ValueRing back(true);
  ByteReader in(bytes);
  ASSERT_TRUE(back.Read(in));
  EXPECT_TRUE(back.decimal());
  EXPECT_EQ(back.at(2), -2.75);
  EXPECT_TRUE(std::isnan(back.at(1)));
}

}  // namespace
}  // namespace pdm::features
