#include "core/hash.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace pdm::core {
namespace {

TEST(HashTest, KnownDigests) {
  // FIPS 180-2 test vectors.
  EXPECT_EQ(Sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(HashTest, FileHashEqualsDataHashAcrossBlocks) {
  const auto path =
      std::filesystem::temp_directory_path() / ("pdm_hash_test_" + std::to_string(getpid()));
  std::string data((size_t{1} << 20) + 12345, 'x');
  for (size_t i = 0; i < data.size(); i += 7) data[i] = static_cast<char>('a' + i % 26);
  std::ofstream(path, std::ios::binary) << data;
  auto hash = Sha256File(path);
  std::filesystem::remove(path);
  ASSERT_TRUE(hash.ok()) << hash.status();
  EXPECT_EQ(*hash, Sha256Hex(data));
  EXPECT_FALSE(Sha256File(path).ok());
}

}  // namespace
}  // namespace pdm::core
