#include "core/file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>

#include "core/strings.h"

namespace pdm::core {

absl::StatusOr<std::string> ReadFileToString(const std::filesystem::path& path,
                                             std::string_view what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(StrCat(path.string(), ": cannot open ", what));
  std::string text(std::istreambuf_iterator<char>(in), {});
  if (in.bad()) return absl::DataLossError(StrCat(path.string(), ": read failed"));
  return text;
}

absl::Status WriteStringToFile(const std::filesystem::path& path, std::string_view text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(text.data(), static_cast<std::streamsize>(text.size()));
  out.close();
  if (!out) return absl::PermissionDeniedError(StrCat(path.string(), ": cannot write"));
  return absl::OkStatus();
}

absl::Status SyncPath(const std::filesystem::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return absl::PermissionDeniedError(
        StrCat(path.string(), ": cannot open to sync: ", std::strerror(errno)));
  }
  const int rc = ::fsync(fd);
  const int saved = errno;
  ::close(fd);
  if (rc != 0) {
    return absl::DataLossError(StrCat(path.string(), ": fsync failed: ", std::strerror(saved)));
  }
  return absl::OkStatus();
}

absl::Status WriteFileDurably(const std::filesystem::path& path, std::string_view text) {
  std::filesystem::path temporary = path;
  temporary += StrCat(".tmp.", ::getpid());
  const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    return absl::PermissionDeniedError(
        StrCat(temporary.string(), ": cannot write: ", std::strerror(errno)));
  }
  size_t written = 0;
  while (written < text.size()) {
    const ssize_t n = ::write(fd, text.data() + written, text.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int saved = errno;
      ::close(fd);
      std::filesystem::remove(temporary);
      return absl::DataLossError(
          StrCat(temporary.string(), ": write failed: ", std::strerror(saved)));
    }
    written += static_cast<size_t>(n);
  }
  const bool synced = ::fsync(fd) == 0;
  ::close(fd);
  std::error_code error;
  if (!synced) {
    std::filesystem::remove(temporary, error);
    return absl::DataLossError(StrCat(temporary.string(), ": fsync failed"));
  }
  std::filesystem::rename(temporary, path, error);
  if (error) {
    std::filesystem::remove(temporary, error);
    return absl::PermissionDeniedError(StrCat(path.string(), ": cannot rename into place"));
  }
  return SyncPath(path.has_parent_path() ? path.parent_path() : std::filesystem::path("."));
}

}  // namespace pdm::core
