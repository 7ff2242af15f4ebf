// The values of one sensor by record position, stored exactly in half the space when they allow:
// sensor readings arrive as decimal text with a few digits after the point, and such a value v is
// m / 10^d exactly (the correctly rounded quotient of two exact doubles is the correctly rounded
// parse of the text), so a 32-bit mantissa m and one exponent d per ring restore the very same
// double. The same idea as ALP (Afroozeh, Kuffo, Boncz, SIGMOD 2024; DuckDB's float compression),
// kept simple: one exponent per ring, raised when a value needs more digits, and plain doubles for
// good once a value has no such form (or |m| would pass 2^31). See docs/adr/0008.
#ifndef PDM_FEATURES_VALUE_RING_H_
#define PDM_FEATURES_VALUE_RING_H_

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>

#include "features/byte_io.h"
#include "features/ring.h"

namespace pdm::features {

//
// Decoding costs a division and encoding a few operations more: a compact ring is for states kept
// for many entities at once (the server's fleet), a plain one (always doubles) for throughput.
class ValueRing {
 public:
  // The most digits after the decimal point a decimal ring keeps.
  static constexpr int kMaxDigits = 9;

  explicit ValueRing(bool compact = false) : decimal_(compact), compact_(compact) {}

  int64_t begin() const { return decimal_ ? codes_.begin() : doubles_.begin(); }
  int64_t end() const { return decimal_ ? codes_.end() : doubles_.end(); }
  bool empty() const { return begin() == end(); }
  // The value at `position` (NaN: the record had no valid value), bit for bit what was set.
  double at(int64_t position) const {
    if (!decimal_) return doubles_.at(position);
    return Decode(codes_.at(position), kPowers[digits_]);
  }
  // Calls f(reader), where reader(position) is at(position) with the representation resolved
  // once: for loops that read many values. The ring must not change during the call.
  template <typename F>
  decltype(auto) WithReader(F&& f) const {
    if (decimal_) {
      return f([view = codes_.view(), scale = kPowers[digits_]](int64_t position) {
        return Decode(view.at(position), scale);
      });
    }
    return f([view = doubles_.view()](int64_t position) { return view.at(position); });
  }
  // Appends a record without a value.
  void push_missing() {
    if (decimal_) {
      codes_.push_back(kMissing);
    } else {
      doubles_.push_back(std::numeric_limits<double>::quiet_NaN());
    }
  }
  // Sets the value of `position` (in [begin, end)); NaN clears it.
  void set(int64_t position, double value) {
    if (decimal_) {
      if (std::isnan(value)) {
        codes_.at(position) = kMissing;
        return;
      }
      int32_t code = 0;
      if (Encode(value, digits_, &code) || Widen(value, &code)) {
        codes_.at(position) = code;
        return;
      }
      ToDoubles();
    }
    doubles_.at(position) = value;
  }
  void drop_before(int64_t position) {
    if (decimal_) {
      codes_.drop_before(position);
    } else {
      doubles_.drop_before(position);
    }
  }
  // Forgets every value (positions go on from end()).
  void clear() { StartAt(end()); }
  // Starts an empty ring at `position` (decimal again if compact).
  void StartAt(int64_t position) {
    doubles_.StartAt(position);
    codes_.StartAt(position);
    decimal_ = compact_;
    digits_ = 0;
  }
  bool compact() const { return compact_; }
  // Whether the values are kept as decimal mantissas now.
  bool decimal() const { return decimal_; }
  int digits() const { return digits_; }

  // The values as doubles (the format does not depend on the representation).
  void Write(ByteWriter& out) const {
    out.Put(begin());
    out.Put(end());
    for (int64_t p = begin(); p < end(); ++p) out.Put(at(p));
  }
  bool Read(ByteReader& in) {
    int64_t begin = 0, end = 0;
    if (!ReadRingBounds(in, &begin, &end)) return false;
    StartAt(begin);
    for (int64_t p = begin; p < end; ++p) {
      double value = 0;
      if (!in.Get(&value)) return false;
      push_missing();
      set(p, value);
    }
    return true;
  }

 private:
  static constexpr int32_t kMissing = std::numeric_limits<int32_t>::min();
  static constexpr double kMaxCode = std::numeric_limits<int32_t>::max();
  static constexpr double kPowers[kMaxDigits + 1] = {1e0, 1e1, 1e2, 1e3, 1e4,
                                                     1e5, 1e6, 1e7, 1e8, 1e9};

  static double Decode(int32_t code, double scale) {
    return code == kMissing ? std::numeric_limits<double>::quiet_NaN()
                            : static_cast<double>(code) / scale;
  }
  // The mantissa of `value` with `digits` decimals, when it restores `value` bit for bit.
  static bool Encode(double value, int digits, int32_t* code) {
    const double scaled = std::nearbyint(value * kPowers[digits]);
    if (!(std::abs(scaled) <= kMaxCode)) return false;  // also infinities
    const auto m = static_cast<int32_t>(scaled);
    if (std::bit_cast<uint64_t>(static_cast<double>(m) / kPowers[digits]) !=
        std::bit_cast<uint64_t>(value)) {
      return false;  // more digits, or no decimal form (or -0)
    }
    *code = m;
    return true;
  }
  // Raises the ring's digits so that `value` fits, rescaling the codes kept; false when no digits
  // fit it or a code kept would overflow.
  bool Widen(double value, int32_t* code) {
    for (int digits = digits_ + 1; digits <= kMaxDigits; ++digits) {
      if (!Encode(value, digits, code)) continue;
      const int64_t factor = static_cast<int64_t>(kPowers[digits - digits_]);
      for (int64_t p = codes_.begin(); p < codes_.end(); ++p) {
        const int32_t c = codes_.at(p);
        if (c != kMissing && std::abs(int64_t{c} * factor) > int64_t{INT32_MAX}) return false;
      }
      for (int64_t p = codes_.begin(); p < codes_.end(); ++p) {
        int32_t& c = codes_.at(p);
        if (c != kMissing) c = static_cast<int32_t>(int64_t{c} * factor);
      }
      digits_ = digits;
      return true;
    }
    return false;
  }
  void ToDoubles() {
    doubles_.StartAt(codes_.begin());
    for (int64_t p = codes_.begin(); p < codes_.end(); ++p) doubles_.push_back(at(p));
    codes_.StartAt(codes_.end());
    decimal_ = false;
  }

  Ring<int32_t, /*kCompact=*/true> codes_;
  Ring<double, /*kCompact=*/true> doubles_;
  int8_t digits_ = 0;
  bool decimal_;
  bool compact_;
};

}  // namespace pdm::features

#endif  // PDM_FEATURES_VALUE_RING_H_
