#include "core/memory.h"

#include <atomic>
#include <cstdint>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace pdm::core {

bool TrimFreedMemory(std::chrono::milliseconds min_interval) {
#if defined(__GLIBC__)
  static std::atomic<int64_t> last_trim{0};
  const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::steady_clock::now().time_since_epoch())
                          .count();
  int64_t last = last_trim.load(std::memory_order_relaxed);
  if (last != 0 && now - last < min_interval.count()) return false;
  if (!last_trim.compare_exchange_strong(last, now)) return false;  // another thread trims
  ::malloc_trim(0);
  return true;
#else
  (void)min_interval;
  return false;
#endif
}

}  // namespace pdm::core
