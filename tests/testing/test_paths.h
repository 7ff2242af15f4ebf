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

// The public datasets: $PDM_SHARED_DATA when set (a folder with the layout of data/), else the
// repository's own data/ (data/README.md), the same default as the shipped specs.
inline std::filesystem::path DataDir() {
  if (const char* env = std::getenv("PDM_SHARED_DATA"); env != nullptr && *env != '\0') return env;
  return SourceDir() / "data";
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
