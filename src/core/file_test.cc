#include "core/file.h"

#include <gtest/gtest.h>

#include "tests/testing/test_paths.h"

namespace pdm::core {
namespace {

TEST(ReadFileToStringTest, ReadsBytesAndNamesAMissingFile) {
  const std::filesystem::path dir = pdm::testing::TempDir("core_file");
  pdm::testing::WriteFile(dir / "a.txt", std::string("x\0y\r\n", 5));
  absl::StatusOr<std::string> text = ReadFileToString(dir / "a.txt", "test file");
  ASSERT_TRUE(text.ok()) << text.status();
  EXPECT_EQ(*text, std::string("x\0y\r\n", 5));
  absl::StatusOr<std::string> missing = ReadFileToString(dir / "nope.txt", "test file");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(std::string(missing.status().message()),
            (dir / "nope.txt").string() + ": cannot open test file");
}

TEST(WriteStringToFileTest, ReplacesContentsAndNamesAnUnwritablePath) {
  const std::filesystem::path dir = pdm::testing::TempDir("core_file_write");
  ASSERT_TRUE(WriteStringToFile(dir / "b.txt", "long old contents").ok());
  ASSERT_TRUE(WriteStringToFile(dir / "b.txt", std::string("n\0w", 3)).ok());
  EXPECT_EQ(*ReadFileToString(dir / "b.txt", "test file"), std::string("n\0w", 3));
  const absl::Status status = WriteStringToFile(dir / "no" / "such" / "c.txt", "x");
  EXPECT_EQ(status.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(std::string(status.message()),
            (dir / "no" / "such" / "c.txt").string() + ": cannot write");
}

TEST(WriteFileDurablyTest, ReplacesWholeAndLeavesNoTemporary) {
  const std::filesystem::path dir = pdm::testing::TempDir("core_file_durable");
  ASSERT_TRUE(WriteFileDurably(dir / "d.json", "old").ok());
  ASSERT_TRUE(WriteFileDurably(dir / "d.json", "new contents").ok());
  EXPECT_EQ(*ReadFileToString(dir / "d.json", "test file"), "new contents");
  int entries = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator(dir)) ++entries;
  EXPECT_EQ(entries, 1);
  EXPECT_FALSE(WriteFileDurably(dir / "no" / "e.json", "x").ok());
  EXPECT_FALSE(SyncPath(dir / "missing").ok());
}

}  // namespace
}  // namespace pdm::core
