// Little helpers for the binary form of feature state: plain values copied byte for byte (the
// state is read back by the same build on the same architecture; a header names both).
#ifndef PDM_FEATURES_BYTE_IO_H_
#define PDM_FEATURES_BYTE_IO_H_

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace pdm::features {

class ByteWriter {
 public:
  template <typename T>
  void Put(const T& value) {
    static_assert(std::is_trivially_copyable_v<T>);
    out_.append(reinterpret_cast<const char*>(&value), sizeof(T));
  }
  template <typename T>
  void PutVector(const std::vector<T>& values) {
    Put<uint64_t>(values.size());
    out_.append(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(T));
  }
  void PutString(std::string_view text) {
    Put<uint64_t>(text.size());
    out_.append(text);
  }
  std::string Take() { return std::move(out_); }

 private:
  std::string out_;
};

// Every Get returns false (and leaves the reader failed) when the input runs out.
class ByteReader {
 public:
  explicit ByteReader(std::string_view in) : in_(in) {}
  template <typename T>
  bool Get(T* value) {
    static_assert(std::is_trivially_copyable_v<T>);
    if (failed_ || in_.size() < sizeof(T)) return Fail();
    std::memcpy(value, in_.data(), sizeof(T));
    in_.remove_prefix(sizeof(T));
    return true;
  }
  template <typename T>
  bool GetVector(std::vector<T>* values, uint64_t max_size) {
    uint64_t size = 0;
    if (!Get(&size) || size > max_size || in_.size() < size * sizeof(T)) return Fail();
    values->resize(size);
    std::memcpy(values->data(), in_.data(), size * sizeof(T));
    in_.remove_prefix(size * sizeof(T));
    return true;
  }
  bool GetString(std::string* text, uint64_t max_size) {
    uint64_t size = 0;
    if (!Get(&size) || size > max_size || in_.size() < size) return Fail();
    text->assign(in_.data(), size);
    in_.remove_prefix(size);
    return true;
  }
  bool ok() const { return !failed_; }
  bool at_end() const { return in_.empty(); }

 private:
  bool Fail() {
    failed_ = true;
    return false;
  }
  std::string_view in_;
  bool failed_ = false;
};

}  // namespace pdm::features

#endif  // PDM_FEATURES_BYTE_IO_H_
