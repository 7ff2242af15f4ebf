// The baseline window kernels and the choice between them and the AVX2 ones.
#include "features/window_kernels.h"

#include <atomic>

#define PDM_WINDOW_KERNELS_NS baseline
#define PDM_WINDOW_KERNELS_NAME "baseline"
#include "features/window_kernels-inl.h"  // NOLINT(build/include)

namespace pdm::features::window_kernels {
#if defined(PDM_WINDOW_KERNELS_AVX2)
extern const Kernels avx2_kernels;  // window_kernels_avx2.cc
#endif

namespace {
std::atomic<const Kernels*> kernels_for_testing{nullptr};
}  // namespace

const Kernels& Baseline() { return baseline::kKernels; }

const Kernels* Avx2() {
#if defined(PDM_WINDOW_KERNELS_AVX2)
  static const bool supported = __builtin_cpu_supports("avx2") != 0;
  return supported ? &avx2_kernels : nullptr;
#else
  return nullptr;
#endif
}

const Kernels& Active() {
  static const Kernels& chosen = Avx2() != nullptr ? *Avx2() : Baseline();
  const Kernels* forced = kernels_for_testing.load(std::memory_order_relaxed);
  return forced != nullptr ? *forced : chosen;
}

void UseForTesting(const Kernels* kernels) {
  kernels_for_testing.store(kernels, std::memory_order_relaxed);
}

}  // namespace pdm::features::window_kernels
