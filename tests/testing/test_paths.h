// Where tests find the project's files and the shared public datasets.
#ifndef PDM_TESTS_TESTING_TEST_PATHS_H_
#define PDM_TESTS_TESTING_TEST_PATHS_H_

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace pdm::testing {

inline std::filesystem::path SourceDir() { return PDM_SOURCE_DIR; }

// The shared datasets: $PDM_SHARED_DATA, else ../shared/data beside the checkout, else
// /work/shared/data.
inline std::filesystem::path SharedDataDir() {
  if (const char* env = std::getenv("PDM_SHARED_DATA"); env != nullptr && *env != '\0') return env;
  const std::filesystem::path beside =
      std::filesystem::path(PDM_SOURCE_DIR) / ".." / "shared" / "data";
  if (std::filesystem::exists(beside)) return beside;
  return "/work/shared/data";
}

// A fresh, empty directory for one test.
inline std::filesystem::path TempDir(const std::string& name) {
  const std::filesystem::path dir = std::filesystem::temp_directory_path() /
                                    ("pdm_test_" + std::to_string(::getpid()) + "_" + name);
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

inline void WriteFile(const std::filesystem::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
}

inline std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

}  // namespace pdm::testing

#endif  // PDM_TESTS_TESTING_TEST_PATHS_H_
