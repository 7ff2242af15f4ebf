// SHA-256 content hashes (OpenSSL's EVP interface), in lower-case hex.
#ifndef PDM_CORE_HASH_H_
#define PDM_CORE_HASH_H_

#include <filesystem>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace pdm::core {

std::string Sha256Hex(std::string_view data);

// The SHA-256 of a file's bytes, read in 1 MiB blocks (bounded memory on large files).
absl::StatusOr<std::string> Sha256File(const std::filesystem::path& path);

}  // namespace pdm::core

#endif  // PDM_CORE_HASH_H_
