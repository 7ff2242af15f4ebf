// Reads one mapping of server.yaml (a source's or sink's entry) key by key, with errors that
// name the file, the entry and the key: "server.yaml: sources[0].qos: not a number".
#ifndef PDM_INGEST_CONFIG_READER_H_
#define PDM_INGEST_CONFIG_READER_H_

#include <yaml-cpp/yaml.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "core/strings.h"

namespace pdm::ingest {

// Reads one entry's keys: each key's handler gets the value and the key's path for errors.
// The first error wins; an unknown key is refused with the list of known ones.
class EntryReader {
 public:
  explicit EntryReader(std::string where) : where_(std::move(where)) {}

  const std::string& where() const { return where_; }
  absl::Status& status() { return status_; }

  std::string At(const std::string& key) const { return core::StrCat(where_, ".", key); }

  void Fail(const std::string& key, const std::string& reason) {
    if (status_.ok()) status_ = absl::InvalidArgumentError(core::StrCat(At(key), ": ", reason));
  }

  std::string Text(const YAML::Node& v, const std::string& key) {
    if (!v.IsScalar()) {
      Fail(key, "expected a value");
      return {};
    }
    return v.Scalar();
  }

  template <typename T>
  void Number(const YAML::Node& v, const std::string& key, T* out) {
    T parsed{};
    if (!v.IsScalar() || !YAML::convert<T>::decode(v, parsed)) {
      Fail(key, "not a number");
      return;
    }
    *out = parsed;
  }

  // A scalar (one item) or a list of scalars, appended to `out`.
  void List(const YAML::Node& v, const std::string& key, std::vector<std::string>* out) {
    if (v.IsScalar()) {
      out->push_back(v.Scalar());
    } else if (v.IsSequence()) {
      for (const YAML::Node& item : v) out->push_back(Text(item, key));
    } else {
      Fail(key, "expected a list");
    }
  }

  void Bool(const YAML::Node& v, const std::string& key, bool* out) {
    bool parsed = false;
    if (!v.IsScalar() || !YAML::convert<bool>::decode(v, parsed)) {
      Fail(key, "expected true or false");
      return;
    }
    *out = parsed;
  }

  void Millis(const YAML::Node& v, const std::string& key, std::chrono::milliseconds* out) {
    int64_t ms = 0;
    Number(v, key, &ms);
    if (status_.ok() && ms <= 0) Fail(key, "expected a positive number of milliseconds");
    if (status_.ok()) *out = std::chrono::milliseconds(ms);
  }

  // The password named by `password_env`: the secret itself never sits in the file.
  void PasswordFromEnvironment(const YAML::Node& v, const std::string& key, std::string* out) {
    const std::string variable = Text(v, key);
    if (!status_.ok()) return;
    const char* value = std::getenv(variable.c_str());
    if (value == nullptr) {
      Fail(key, core::StrCat("$", variable, " is not set"));
    } else {
      *out = value;
    }
  }

  // Calls `on_key(key, value)` for each key; `known` lists them for the unknown-key error.
  absl::Status Read(const YAML::Node& entry, const std::string& known,
                    const std::function<bool(const std::string&, const YAML::Node&)>& on_key) {
    for (const auto& item : entry) {
      const std::string key = item.first.Scalar();
      if (key == "type") continue;
      if (!on_key(key, item.second)) {
        return absl::InvalidArgumentError(core::StrCat(At(key), ": unknown key (", known, ")"));
      }
      if (!status_.ok()) return status_;
    }
    return absl::OkStatus();
  }

 private:
  std::string where_;
  absl::Status status_;
};

}  // namespace pdm::ingest

#endif  // PDM_INGEST_CONFIG_READER_H_
