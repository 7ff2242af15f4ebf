// Waiting in tests for what another process or thread does.
#ifndef PDM_TESTS_TESTING_WAIT_H_
#define PDM_TESTS_TESTING_WAIT_H_

#include <chrono>
#include <thread>

namespace pdm::testing {

// Polls `done` every 20 ms for up to `limit`; whether it came true.
template <typename F>
bool WaitUntil(F done, std::chrono::milliseconds limit = std::chrono::seconds(30)) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return done();
}

}  // namespace pdm::testing

#endif  // PDM_TESTS_TESTING_WAIT_H_
