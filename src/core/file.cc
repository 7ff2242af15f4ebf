#include "core/file.h"

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

}  // namespace pdm::core
