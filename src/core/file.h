// Reading and writing whole files.
#ifndef PDM_CORE_FILE_H_
#define PDM_CORE_FILE_H_

#include <filesystem>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace pdm::core {

// The bytes of `path`. A file that cannot be opened is NotFound with the message
// "<path>: cannot open <what>" (what: "spec file", "config file", ...).
absl::StatusOr<std::string> ReadFileToString(const std::filesystem::path& path,
                                             std::string_view what);

// Replaces the contents of `path` with `text`. Failure is PermissionDenied with the message
// "<path>: cannot write".
absl::Status WriteStringToFile(const std::filesystem::path& path, std::string_view text);

// Writes `text` so that after a crash `path` holds either its old contents or all of `text`:
// a temporary file in the same directory, fsync, rename over `path`, fsync of the directory.
absl::Status WriteFileDurably(const std::filesystem::path& path, std::string_view text);

// fsync of a file or directory (a directory's fsync makes renames and creations in it durable).
absl::Status SyncPath(const std::filesystem::path& path);

}  // namespace pdm::core

#endif  // PDM_CORE_FILE_H_
