// Running the pdm binary from integration tests.
#ifndef PDM_TESTS_TESTING_PDM_CLI_H_
#define PDM_TESTS_TESTING_PDM_CLI_H_

#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "tests/testing/test_paths.h"

namespace pdm::testing {

struct Result {
  int code;
  std::string out;
  std::string err;
};

// Runs a shell command line and collects its exit code, stdout and stderr.
inline Result Run(const std::string& command_line) {
  const std::filesystem::path err_file =
      std::filesystem::temp_directory_path() / ("pdm_cli_err_" + std::to_string(::getpid()));
  const std::string command = command_line + " 2>" + err_file.string();
  FILE* pipe = ::popen(command.c_str(), "r");
  Result result{-1, "", ""};
  std::array<char, 4096> buffer;
  size_t n;
  while ((n = std::fread(buffer.data(), 1, buffer.size(), pipe)) > 0) {
    result.out.append(buffer.data(), n);
  }
  const int status = ::pclose(pipe);
  result.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  result.err = ReadFile(err_file);
  return result;
}

// Runs `pdm <args>` through the shell (args are shell words). Shipped specs find the datasets
// in data/ (or $PDM_SHARED_DATA, inherited).
inline Result Pdm(const std::string& args) { return Run(std::string(PDM_BINARY) + " " + args); }

// The first integer value of `key` in a pretty-printed JSON text, or -1.
inline int64_t JsonInt(const std::string& json, const std::string& key) {
  const std::string needle = "\"" + key + "\": ";
  const size_t pos = json.find(needle);
  if (pos == std::string::npos) return -1;
  return std::stoll(json.substr(pos + needle.size(), 24));
}

// A registry under `dir` whose model "fleet" v1 (XGBoost on a simulated fleet of 12 machines
// over 60 days, which has failures to learn) holds the alias production; its path, or an empty
// string (with `*error` set) when a step failed.
inline std::string TrainedFleetRegistry(const std::filesystem::path& dir, std::string* error) {
  const std::filesystem::path sim = dir / "sim";
  const std::string registry = (dir / "registry").string();
  for (const std::string& step :
       {"simulate --machines 12 --duration 60d --interval 1h --seed 7 --out " + sim.string(),
        "train --spec " + (sim / "spec.yaml").string() + " --models xgb --cv 2 --threads 1 --out " +
            (dir / "run").string() + " --register --name fleet --registry " + registry,
        "models promote fleet 1 --alias production --registry " + registry}) {
    const Result r = Pdm(step);
    if (r.code != 0) {
      *error = "pdm " + step + ": " + r.err;
      return "";
    }
  }
  return registry;
}

}  // namespace pdm::testing

#endif  // PDM_TESTS_TESTING_PDM_CLI_H_
