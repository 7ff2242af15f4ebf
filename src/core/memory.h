// Returning freed heap memory to the system.
#ifndef PDM_CORE_MEMORY_H_
#define PDM_CORE_MEMORY_H_

#include <chrono>

namespace pdm::core {

// Hands free heap pages back to the kernel (glibc's malloc_trim), at most once per
// `min_interval` across all threads; a no-op elsewhere. For a server whose long-lived state
// (machines' feature windows) is interleaved with the large short-lived buffers of requests:
// the holes those leave are never returned on their own and count in the resident set.
// Returns whether it trimmed.
bool TrimFreedMemory(std::chrono::milliseconds min_interval);

}  // namespace pdm::core

#endif  // PDM_CORE_MEMORY_H_
