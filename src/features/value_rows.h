// The values of an entity's sensors by record: one row of `width` values per record, so that the
// window statistics of all sensors are updated together (vectorised across sensors). Stored
// exactly in half the space when the values allow: sensor readings arrive as decimal text with a
// few digits after the point, and such a value v is m / 10^d exactly (the correctly rounded
// quotient of two exact doubles is the correctly rounded parse of the text), so a 32-bit mantissa
// m and one exponent d per sensor restore the very same double. The same idea as ALP (Afroozeh,
// Kuffo, Boncz, SIGMOD 2024; DuckDB's float compression), kept simple: one exponent per sensor,
// raised when a value needs more digits, and plain doubles for every sensor once a value has no
// such form (or |m| would pass 2^31), until the rows restart. See docs/adr/0008 and 0010.
#ifndef PDM_FEATURES_VALUE_ROWS_H_
#define PDM_FEATURES_VALUE_ROWS_H_

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <memory>
#include <vector>

#include "features/byte_io.h"
#include "features/ring.h"

namespace pdm::features {

// A ring of rows of `width` values of T, addressed by absolute row position (positions only
// increase). A row is contiguous in memory. Grows by an eighth when full (states are kept for
// many machines at once).
template <typename T>
class RowRing {
  static_assert(std::is_trivially_copyable_v<T>);

 public:
  explicit RowRing(size_t width = 1) : width_(static_cast<uint32_t>(width)) {}
  RowRing(RowRing&&) noexcept = default;
  RowRing& operator=(RowRing&&) noexcept = default;
  RowRing(const RowRing& other)
      : data_(other.capacity_ ? std::make_unique_for_overwrite<T[]>(other.Slots(other.capacity_))
                              : nullptr),
        width_(other.width_),
        capacity_(other.capacity_),
        head_(other.head_),
        begin_(other.begin_),
        end_(other.end_) {
    if (capacity_ != 0) std::copy_n(other.data_.get(), Slots(capacity_), data_.get());
  }
  RowRing& operator=(const RowRing& other) {
    if (this != &other) *this = RowRing(other);
    return *this;
  }

  size_t width() const { return width_; }
  int64_t begin() const { return begin_; }
  int64_t end() const { return end_; }
  bool empty() const { return begin_ == end_; }
  int64_t size() const { return end_ - begin_; }
  size_t capacity() const { return capacity_; }
  const T* row(int64_t position) const { return data_.get() + Slots(Index(position)); }
  T* row(int64_t position) { return data_.get() + Slots(Index(position)); }
  // Appends a row (uninitialised) and returns it.
  T* push_back() {
    if (static_cast<size_t>(size()) == capacity_) Grow();
    ++end_;
    return row(end_ - 1);
  }
  // Removes the last row.
  void pop_back() { --end_; }
  // Drops every row before `position` (at most end()).
  void drop_before(int64_t position) {
    if (position <= begin_) return;
    head_ = RingHeadAfter(head_, static_cast<size_t>(position - begin_), capacity_);
    begin_ = position;
  }
  // Starts an empty ring at `position` (positions before it are never used).
  void StartAt(int64_t position) {
    data_.reset();
    capacity_ = 0;
    head_ = 0;
    begin_ = end_ = position;
  }

 private:
  size_t Slots(size_t rows) const { return rows * width_; }
  size_t Index(int64_t position) const {
    size_t i = size_t{head_} + static_cast<size_t>(position - begin_);
    if (i >= capacity_) i -= capacity_;
    return i;
  }
  void Grow() {
    const size_t n = static_cast<size_t>(size());
    // A ring past kMaxRingElements would be a bug of the caller (windows are bounded).
    if (n >= kMaxRingElements) std::abort();
    const size_t capacity = std::max<size_t>(8, n + n / 8 + 1);
    auto grown = std::make_unique_for_overwrite<T[]>(Slots(capacity));
    for (int64_t p = begin_; p < end_; ++p) {
      std::copy_n(row(p), width_, grown.get() + Slots(static_cast<size_t>(p - begin_)));
    }
    data_ = std::move(grown);
    capacity_ = static_cast<uint32_t>(capacity);
    head_ = 0;
  }

  std::unique_ptr<T[]> data_;
  uint32_t width_;
  uint32_t capacity_ = 0;  // rows
  uint32_t head_ = 0;      // index (in rows) of position begin_
  int64_t begin_ = 0, end_ = 0;
};

// The sensors' values by record (NaN: the record had no valid value of that sensor), bit for bit
// what was pushed, as int32 decimal mantissas while the values allow (compact rows) or doubles.
// Decoding costs a division per value: compact rows are for states kept for many entities at once
// (the server's fleet), plain ones (always doubles) for throughput.
class ValueRows {
 public:
  // The most digits after the decimal point a decimal sensor keeps.
  static constexpr int kMaxDigits = 9;

  explicit ValueRows(size_t width, bool compact = false)
      : codes_(width), doubles_(width), digits_(width, 0), decimal_(compact), compact_(compact) {}

  size_t width() const { return digits_.size(); }
  int64_t begin() const { return decimal_ ? codes_.begin() : doubles_.begin(); }
  int64_t end() const { return decimal_ ? codes_.end() : doubles_.end(); }
  bool empty() const { return begin() == end(); }
  // The value of `sensor` at record `position`.
  double at(int64_t position, size_t sensor) const {
    if (!decimal_) return doubles_.row(position)[sensor];
    return Decode(codes_.row(position)[sensor], kPowers[digits_[sensor]]);
  }
  // Calls f(reader) where reader(position, scratch) returns a pointer to the row's `width`
  // values as doubles (decoded into `scratch`, of width() doubles, when the rows are decimal),
  // with the representation resolved once: for loops over many rows. The rows must not change
  // during the call.
  template <typename F>
  decltype(auto) WithRowReader(F&& f) const {
    if (decimal_) {
      return f([this](int64_t position, double* scratch) -> const double* {
        const int32_t* codes = codes_.row(position);
        for (size_t s = 0; s < digits_.size(); ++s) {
          scratch[s] = Decode(codes[s], kPowers[digits_[s]]);
        }
        return scratch;
      });
    }
    return f([this](int64_t position, double*) -> const double* { return doubles_.row(position); });
  }
  // Appends a record with `values` (width() of them; NaN: none).
  void push_back(const double* values) {
    if (decimal_ && PushDecimal(values)) return;
    double* row = doubles_.push_back();
    std::copy_n(values, width(), row);
  }
  // Sets `sensor` to NaN in every row kept (a maintenance reset of that sensor).
  void ClearSensor(size_t sensor) {
    for (int64_t p = begin(); p < end(); ++p) {
      if (decimal_) {
        codes_.row(p)[sensor] = kMissing;
      } else {
        doubles_.row(p)[sensor] = std::numeric_limits<double>::quiet_NaN();
      }
    }
  }
  void drop_before(int64_t position) {
    if (decimal_) {
      codes_.drop_before(position);
    } else {
      doubles_.drop_before(position);
    }
  }
  // Starts empty rows at `position` (decimal again if compact).
  void StartAt(int64_t position) {
    doubles_.StartAt(position);
    codes_.StartAt(position);
    decimal_ = compact_;
    std::fill(digits_.begin(), digits_.end(), 0);
  }
  bool compact() const { return compact_; }
  // Whether the values are kept as decimal mantissas now.
  bool decimal() const { return decimal_; }
  int digits(size_t sensor) const { return digits_[sensor]; }

  // The first `columns` values of each row as doubles, row after row (the format does not
  // depend on the representation). Read sets the other columns to NaN.
  void Write(ByteWriter& out, size_t columns) const {
    out.Put(begin());
    out.Put(end());
    for (int64_t p = begin(); p < end(); ++p) {
      for (size_t s = 0; s < columns; ++s) out.Put(at(p, s));
    }
  }
  bool Read(ByteReader& in, size_t columns) {
    int64_t begin = 0, end = 0;
    if (columns > width() || !ReadRingBounds(in, &begin, &end)) return false;
    StartAt(begin);
    std::vector<double> row(width(), std::numeric_limits<double>::quiet_NaN());
    for (int64_t p = begin; p < end; ++p) {
      for (size_t s = 0; s < columns; ++s) {
        if (!in.Get(&row[s])) return false;
      }
      push_back(row.data());
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
  // Encodes a row; false (nothing appended, the rows turned to doubles) when a value has no
  // decimal form the sensor's codes can take.
  bool PushDecimal(const double* values) {
    int32_t* row = codes_.push_back();
    for (size_t s = 0; s < width(); ++s) {
      const double value = values[s];
      if (std::isnan(value)) {
        row[s] = kMissing;
      } else if (!Encode(value, digits_[s], &row[s]) && !Widen(s, value, &row[s])) {
        codes_.pop_back();
        ToDoubles();
        return false;
      }
    }
    return true;
  }
  // Raises `sensor`'s digits so that `value` fits, rescaling its codes kept (the row being
  // pushed excluded); false when no digits fit it or a code kept would overflow.
  bool Widen(size_t sensor, double value, int32_t* code) {
    const int64_t last = codes_.end() - 1;  // the row being pushed
    for (int digits = digits_[sensor] + 1; digits <= kMaxDigits; ++digits) {
      if (!Encode(value, digits, code)) continue;
      const auto factor = static_cast<int64_t>(kPowers[digits - digits_[sensor]]);
      for (int64_t p = codes_.begin(); p < last; ++p) {
        const int32_t c = codes_.row(p)[sensor];
        if (c != kMissing && std::abs(int64_t{c} * factor) > int64_t{INT32_MAX}) return false;
      }
      for (int64_t p = codes_.begin(); p < last; ++p) {
        int32_t& c = codes_.row(p)[sensor];
        if (c != kMissing) c = static_cast<int32_t>(int64_t{c} * factor);
      }
      digits_[sensor] = static_cast<int8_t>(digits);
      return true;
    }
    return false;
  }
  void ToDoubles() {
    doubles_.StartAt(codes_.begin());
    for (int64_t p = codes_.begin(); p < codes_.end(); ++p) {
      double* row = doubles_.push_back();
      for (size_t s = 0; s < width(); ++s) row[s] = Decode(codes_.row(p)[s], kPowers[digits_[s]]);
    }
    codes_.StartAt(codes_.end());
    decimal_ = false;
  }

  RowRing<int32_t> codes_;
  RowRing<double> doubles_;
  std::vector<int8_t> digits_;
  bool decimal_;
  bool compact_;
};

}  // namespace pdm::features

#endif  // PDM_FEATURES_VALUE_ROWS_H_
