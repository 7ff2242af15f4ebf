// A growable ring addressed by absolute position: the storage of the window statistics.
#ifndef PDM_FEATURES_RING_H_
#define PDM_FEATURES_RING_H_

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <type_traits>

#include "features/byte_io.h"

namespace pdm::features {

// The most elements a Ring holds (its capacity and indices are 32-bit: a server keeps many of
// these per machine, so their headers are kept small).
inline constexpr uint64_t kMaxRingElements = (uint64_t{1} << 31) - 1;

// The storage index `step` slots after `head` in a ring of `capacity` slots.
inline uint32_t RingHeadAfter(uint32_t head, size_t step, size_t capacity) {
  if (step >= capacity) step = capacity == 0 ? 0 : step % capacity;  // rare
  size_t next = head + step;
  if (next >= capacity) next -= capacity;
  return static_cast<uint32_t>(next);
}

// A growable ring of values addressed by absolute position (positions only increase).
// kCompact rings grow by an eighth when full: the per-record rings of states kept for many
// machines at once, where slack costs more than the compare-and-subtract of the wrap-around.
// Other rings (the small monotonic queues) double to a power of two and index with a mask.
// T must be trivially copyable.
template <typename T, bool kCompact = false>
class Ring {
  static_assert(std::is_trivially_copyable_v<T>);

 public:
  Ring() = default;
  Ring(Ring&&) noexcept = default;
  Ring& operator=(Ring&&) noexcept = default;
  Ring(const Ring& other)
      : data_(other.capacity_ ? std::make_unique_for_overwrite<T[]>(other.capacity_) : nullptr),
        capacity_(other.capacity_),
        head_(other.head_),
        begin_(other.begin_),
        end_(other.end_) {
    if (capacity_ != 0) std::memcpy(data_.get(), other.data_.get(), capacity_ * sizeof(T));
  }
  Ring& operator=(const Ring& other) {
    if (this != &other) *this = Ring(other);
    return *this;
  }

  int64_t begin() const { return begin_; }
  int64_t end() const { return end_; }
  bool empty() const { return begin_ == end_; }
  int64_t size() const { return end_ - begin_; }
  size_t capacity() const { return capacity_; }
  const T& at(int64_t position) const { return data_[Index(position)]; }
  T& at(int64_t position) { return data_[Index(position)]; }
  const T& front() const { return at(begin_); }
  const T& back() const { return at(end_ - 1); }
  void push_back(const T& value) {
    if (static_cast<size_t>(size()) == capacity_) Grow();
    ++end_;
    at(end_ - 1) = value;
  }
  void pop_front() {
    ++begin_;
    if constexpr (kCompact) {
      if (++head_ == capacity_) head_ = 0;
    }
  }
  void pop_back() { --end_; }
  // Drops every element before `position` (at most end()).
  void drop_before(int64_t position) {
    if (position <= begin_) return;
    if constexpr (kCompact) {
      head_ = RingHeadAfter(head_, static_cast<size_t>(position - begin_), capacity_);
    }
    begin_ = position;
  }
  void clear() { drop_before(end_); }
  // Starts an empty ring at `position` (positions before it are never used).
  void StartAt(int64_t position) {
    data_.reset();
    capacity_ = 0;
    head_ = 0;
    begin_ = end_ = position;
  }
  void Write(ByteWriter& out) const;
  bool Read(ByteReader& in);

  // The ring's storage as plain values, for loops that read many elements: at() without
  // reloading the ring's fields. Valid until the ring changes.
  struct View {
    const T* data;
    uint32_t capacity, head;
    int64_t begin;
    const T& at(int64_t position) const {
      if constexpr (kCompact) {
        size_t i = size_t{head} + static_cast<size_t>(position - begin);
        if (i >= capacity) i -= capacity;
        return data[i];
      } else {
        return data[static_cast<size_t>(position) & (capacity - 1)];
      }
    }
  };
  View view() const { return View{data_.get(), capacity_, head_, begin_}; }

 private:
  size_t Index(int64_t position) const {
    if constexpr (kCompact) {
      size_t i = size_t{head_} + static_cast<size_t>(position - begin_);
      if (i >= capacity_) i -= capacity_;
      return i;
    } else {
      return static_cast<size_t>(position) & (capacity_ - 1);
    }
  }
  void Grow();
  std::unique_ptr<T[]> data_;
  uint32_t capacity_ = 0;
  uint32_t head_ = 0;  // kCompact: index in data_ of position begin_
  int64_t begin_ = 0, end_ = 0;
};

template <typename T, bool kCompact>
void Ring<T, kCompact>::Grow() {
  const size_t n = static_cast<size_t>(size());
  // A ring past kMaxRingElements would be a bug of the caller (windows are bounded): fail loudly.
  if (n >= kMaxRingElements) std::abort();
  const size_t capacity = kCompact ? std::max<size_t>(8, n + n / 8 + 1)
                                   : (capacity_ == 0 ? 8 : 2 * static_cast<size_t>(capacity_));
  auto grown = std::make_unique_for_overwrite<T[]>(capacity);
  for (int64_t p = begin_; p < end_; ++p) {
    const size_t i =
        kCompact ? static_cast<size_t>(p - begin_) : static_cast<size_t>(p) & (capacity - 1);
    grown[i] = at(p);
  }
  data_ = std::move(grown);
  capacity_ = static_cast<uint32_t>(capacity);
  head_ = 0;
}

template <typename T, bool kCompact>
void Ring<T, kCompact>::Write(ByteWriter& out) const {
  out.Put(begin_);
  out.Put(end_);
  for (int64_t p = begin_; p < end_; ++p) out.Put(at(p));
}

// Reads the positions a ring's snapshot starts with (false: truncated or impossible).
inline bool ReadRingBounds(ByteReader& in, int64_t* begin, int64_t* end) {
  return in.Get(begin) && in.Get(end) && *begin >= 0 && *end >= *begin &&
         static_cast<uint64_t>(*end - *begin) <= kMaxRingElements;
}

template <typename T, bool kCompact>
bool Ring<T, kCompact>::Read(ByteReader& in) {
  int64_t begin = 0, end = 0;
  if (!ReadRingBounds(in, &begin, &end)) return false;
  StartAt(begin);
  for (int64_t p = begin; p < end; ++p) {
    T value{};
    if (!in.Get(&value)) return false;
    push_back(value);
  }
  return true;
}

}  // namespace pdm::features

#endif  // PDM_FEATURES_RING_H_
