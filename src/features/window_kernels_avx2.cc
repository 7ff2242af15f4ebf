// The window kernels for AVX2, four sensors per instruction. This file alone is compiled with
// -mavx2 (and without FMA: the bits must match the baseline's). It holds no code that runs before
// the choice: window_kernels.cc hands these out only when the CPU has AVX2.
#include "features/window_kernels.h"

#if !defined(__AVX2__)
#error "window_kernels_avx2.cc is compiled with -mavx2 (src/features/CMakeLists.txt)"
#endif
#define PDM_WINDOW_KERNELS_NS avx2
#define PDM_WINDOW_KERNELS_NAME "avx2"
#include "features/window_kernels-inl.h"  // NOLINT(build/include)

namespace pdm::features::window_kernels {
// Constant-initialised: loading the program runs none of this file's instructions.
extern const Kernels avx2_kernels;
constinit const Kernels avx2_kernels = avx2::kKernels;
}  // namespace pdm::features::window_kernels
