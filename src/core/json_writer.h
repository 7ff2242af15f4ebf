// A small streaming JSON writer for command output and, later, HTTP responses.
// Numbers go through std::to_chars (shortest round-trip form); non-finite numbers become null.
// Strings are escaped per RFC 8259; invalid UTF-8 bytes are replaced by U+FFFD so the output is
// always valid JSON. Not thread-safe.
#ifndef PDM_CORE_JSON_WRITER_H_
#define PDM_CORE_JSON_WRITER_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace pdm::core {

class JsonWriter {
 public:
  // `indent` > 0 pretty-prints with that many spaces per level.
  explicit JsonWriter(int indent = 0) : indent_(indent) {}

  JsonWriter& BeginObject();
  JsonWriter& EndObject();
  JsonWriter& BeginArray();
  JsonWriter& EndArray();
  // REQUIRES: inside an object, and the previous call was not Key().
  JsonWriter& Key(std::string_view key);
  JsonWriter& String(std::string_view value);
  JsonWriter& Number(double value);
  JsonWriter& Int(int64_t value);
  JsonWriter& Bool(bool value);
  JsonWriter& Null();

  const std::string& str() const { return out_; }
  std::string Take() { return std::move(out_); }

  // Appends `value` as a quoted, escaped JSON string.
  static void AppendQuoted(std::string_view value, std::string* out);

 private:
  void BeforeValue();
  void NewLine();
  JsonWriter& Close(char bracket);

  std::string out_;
  int indent_;
  // One entry per open container: true once it holds an element.
  std::vector<bool> has_element_;
  bool after_key_ = false;
};

}  // namespace pdm::core

#endif  // PDM_CORE_JSON_WRITER_H_
