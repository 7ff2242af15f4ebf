// Checking that `pdm serve` refuses bad server.yaml files, each with its reason.
#ifndef PDM_TESTS_TESTING_SERVE_CONFIG_H_
#define PDM_TESTS_TESTING_SERVE_CONFIG_H_

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "tests/testing/pdm_cli.h"

namespace pdm::testing {

// For each (yaml, expected): `pdm serve --config` with that file (written to `path`) exits
// non-zero and says `expected` on stderr.
inline void ExpectServeRefuses(const std::string& registry, const std::filesystem::path& path,
                               const std::vector<std::pair<std::string, std::string>>& cases) {
  for (const auto& [yaml, expected] : cases) {
    std::ofstream(path) << yaml << "\n";
    const Result r = Pdm("serve --registry " + registry + " --port 0 --config " + path.string());
    EXPECT_NE(r.code, 0) << yaml;
    EXPECT_THAT(r.err, ::testing::HasSubstr(expected)) << yaml;
  }
}

}  // namespace pdm::testing

#endif  // PDM_TESTS_TESTING_SERVE_CONFIG_H_
