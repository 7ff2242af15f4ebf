// The bodies of the window kernels (window_kernels.h), included once per instruction set by a
// translation unit that defines PDM_WINDOW_KERNELS_NS: window_kernels.cc (the baseline) and
// window_kernels_avx2.cc (compiled with -mavx2). Everything here lives in that namespace, so
// that no inline function compiled for AVX2 can stand in for the baseline's at link time.
// No include guard: meant to be included once per such file.

#if !defined(PDM_WINDOW_KERNELS_NS) || !defined(PDM_WINDOW_KERNELS_NAME)
#error "define PDM_WINDOW_KERNELS_NS and PDM_WINDOW_KERNELS_NAME before window_kernels-inl.h"
#endif
#if defined(__FMA__) || defined(__FMA4__)
#error "the window kernels must not fuse multiply-adds: every instruction set gives the same bits"
#endif

#include <cmath>
#include <cstring>
#include <limits>

#if defined(__SSE2__)
#include <immintrin.h>
#endif

#include "features/window_kernels.h"

namespace pdm::features::window_kernels::PDM_WINDOW_KERNELS_NS {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Two doubles (every build) and four (AVX builds), with the operations the loops need. Masks are
// all-ones / all-zero lanes of the same type. Arithmetic uses the GCC / Clang vector operators, so
// every lane computes what the scalar formula would; on x86 the compares and selects use SSE2 /
// AVX instructions directly, since GCC lowers a vector select with 64-bit integer masks to scalar
// code on SSE2.
using D2 = double __attribute__((vector_size(16)));
#if defined(__SSE2__)
inline D2 Equal(D2 a, D2 b) { return _mm_cmpeq_pd(a, b); }
inline D2 NotEqual(D2 a, D2 b) { return _mm_cmpneq_pd(a, b); }
inline D2 Greater(D2 a, D2 b) { return _mm_cmpgt_pd(a, b); }
inline D2 GreaterEqual(D2 a, D2 b) { return _mm_cmpge_pd(a, b); }
inline D2 Less(D2 a, D2 b) { return _mm_cmplt_pd(a, b); }
inline D2 IsNumber(D2 a) { return _mm_cmpord_pd(a, a); }
inline D2 And(D2 a, D2 b) { return _mm_and_pd(a, b); }
inline D2 Or(D2 a, D2 b) { return _mm_or_pd(a, b); }
inline D2 Select(D2 mask, D2 a, D2 b) {
  return _mm_or_pd(_mm_and_pd(mask, a), _mm_andnot_pd(mask, b));
}
inline bool Any(D2 mask) { return _mm_movemask_pd(mask) != 0; }
#else
using M2 = int64_t __attribute__((vector_size(16)));
inline D2 AsD2(M2 m) { return reinterpret_cast<D2>(m); }
inline M2 AsM2(D2 d) { return reinterpret_cast<M2>(d); }
inline D2 Equal(D2 a, D2 b) { return AsD2(a == b); }
inline D2 NotEqual(D2 a, D2 b) { return AsD2(a != b); }
inline D2 Greater(D2 a, D2 b) { return AsD2(a > b); }
inline D2 GreaterEqual(D2 a, D2 b) { return AsD2(a >= b); }
inline D2 Less(D2 a, D2 b) { return AsD2(a < b); }
inline D2 IsNumber(D2 a) { return AsD2(a == a); }  // NOLINT(misc-redundant-expression)
inline D2 And(D2 a, D2 b) { return AsD2(AsM2(a) & AsM2(b)); }
inline D2 Or(D2 a, D2 b) { return AsD2(AsM2(a) | AsM2(b)); }
inline D2 Select(D2 mask, D2 a, D2 b) { return AsM2(mask) ? a : b; }
inline bool Any(D2 mask) { return (AsM2(mask)[0] | AsM2(mask)[1]) != 0; }
#endif

#if defined(__AVX__)
using D4 = double __attribute__((vector_size(32)));
inline D4 Equal(D4 a, D4 b) { return _mm256_cmp_pd(a, b, _CMP_EQ_OQ); }
inline D4 NotEqual(D4 a, D4 b) { return _mm256_cmp_pd(a, b, _CMP_NEQ_UQ); }
inline D4 Greater(D4 a, D4 b) { return _mm256_cmp_pd(a, b, _CMP_GT_OQ); }
inline D4 GreaterEqual(D4 a, D4 b) { return _mm256_cmp_pd(a, b, _CMP_GE_OQ); }
inline D4 Less(D4 a, D4 b) { return _mm256_cmp_pd(a, b, _CMP_LT_OQ); }
inline D4 IsNumber(D4 a) { return _mm256_cmp_pd(a, a, _CMP_ORD_Q); }
inline D4 And(D4 a, D4 b) { return _mm256_and_pd(a, b); }
inline D4 Or(D4 a, D4 b) { return _mm256_or_pd(a, b); }
inline D4 Select(D4 mask, D4 a, D4 b) { return _mm256_blendv_pd(b, a, mask); }
inline bool Any(D4 mask) { return _mm256_movemask_pd(mask) != 0; }
#endif

// v where `mask` is set, +0.0 elsewhere.
template <class V>
V Keep(V v, V mask) {
  return And(v, mask);
}
template <class V>
V Broadcast(double x) {
  V v{};
  for (size_t i = 0; i < sizeof(V) / sizeof(double); ++i) v[i] = x;
  return v;
}
template <class V>
V Load(const double* p) {
  V v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
template <class V>
void Store(double* p, V v) {
  std::memcpy(p, &v, sizeof v);
}

// Runs step(V{}, s) over the lanes: four at a time where the build has them, the last two (lanes
// is a multiple of 2) as a pair.
template <class Step>
void ForEachLanes(size_t lanes, const Step& step) {
  size_t s = 0;
#if defined(__AVX__)
  for (; s + 4 <= lanes; s += 4) step(D4{}, s);
#endif
  for (; s < lanes; s += 2) step(D2{}, s);
}

// A lane without a sample subtracts +0.0, which leaves any double bit for bit unchanged.
bool RemoveRow(double* sums, const RowInput& in, const double* extremes, double* leaving) {
  bool rebuild = false;
  const size_t lanes = in.lanes;
  const double time = in.time, inverse_time_unit = in.inverse_time_unit;
  const double* row = in.row;
  const double* origin = in.origin;
  double* count = sums + kCount * lanes;
  double* removals = sums + kRemovals * lanes;
  const double* kx = sums + kKx * lanes;
  const double* kt = sums + kKt * lanes;
  double* sx = sums + kSx * lanes;
  double* sxx = sums + kSxx * lanes;
  double* st = sums + kSt * lanes;
  double* stt = sums + kStt * lanes;
  double* stx = sums + kStx * lanes;
  const double* min_of = extremes != nullptr ? extremes + kMinField * lanes : nullptr;
  const double* max_of = extremes != nullptr ? extremes + kMaxField * lanes : nullptr;
  ForEachLanes(lanes, [&](auto tag, size_t s) {
    using V = decltype(tag);
    const V zero = Broadcast<V>(0.0), one = Broadcast<V>(1.0);
    const V x = Load<V>(row + s);
    const V valid = IsNumber(x);
    const V left = Load<V>(count + s) - Keep(one, valid);
    // Sums are zeroed where the window emptied.
    const V kept = Or(NotEqual(left, zero), NotEqual(x, x));
    const V dx = Keep(x - Load<V>(kx + s), valid);
    const V dt = Keep((time - Load<V>(origin + s)) * inverse_time_unit - Load<V>(kt + s), valid);
    Store(count + s, left);
    Store(sx + s, Keep(Load<V>(sx + s) - dx, kept));
    Store(sxx + s, Keep(Load<V>(sxx + s) - dx * dx, kept));
    Store(st + s, Keep(Load<V>(st + s) - dt, kept));
    Store(stt + s, Keep(Load<V>(stt + s) - dt * dt, kept));
    Store(stx + s, Keep(Load<V>(stx + s) - dt * dx, kept));
    const V r = Keep(Load<V>(removals + s) + Keep(one, valid), kept);
    Store(removals + s, r);
    // max(4 left, kRebuildAfter), capped at INT32_MAX: EntityWindows' RebuildAfter, per lane.
    const V min_after = Broadcast<V>(kRebuildAfter), max_after = Broadcast<V>(double{INT32_MAX});
    V after = 4.0 * left;
    after = Select(Greater(after, min_after), after, min_after);
    after = Select(Less(after, max_after), after, max_after);
    rebuild = rebuild || Any(GreaterEqual(r, after));
    if (leaving != nullptr) {
      // A window's extreme can only leave with a record of the same value.
      const V extreme_value = Or(Equal(x, Load<V>(min_of + s)), Equal(x, Load<V>(max_of + s)));
      Store(leaving + s, Or(Load<V>(leaving + s), extreme_value));
    }
  });
  return rebuild;
}

// Adding d is subtracting -d (exactly); a lane without a sample subtracts +0.0.
void AddRows(double* sums, size_t windows, const RowInput& in) {
  const size_t lanes = in.lanes;
  const double time = in.time, inverse_time_unit = in.inverse_time_unit;
  const double* row = in.row;
  const double* origin = in.origin;
  for (size_t w = 0; w < windows; ++w, sums += kFieldCount * lanes) {
    double* count = sums + kCount * lanes;
    double* kx = sums + kKx * lanes;
    double* kt = sums + kKt * lanes;
    double* sx = sums + kSx * lanes;
    double* sxx = sums + kSxx * lanes;
    double* st = sums + kSt * lanes;
    double* stt = sums + kStt * lanes;
    double* stx = sums + kStx * lanes;
    ForEachLanes(lanes, [&](auto tag, size_t s) {
      using V = decltype(tag);
      const V zero = Broadcast<V>(0.0), minus_one = Broadcast<V>(-1.0);
      const V x = Load<V>(row + s);
      const V valid = IsNumber(x);
      const V c = Load<V>(count + s);
      const V slope_time = (time - Load<V>(origin + s)) * inverse_time_unit;
      const V first = And(valid, Equal(c, zero));
      const V shift_x = Select(first, x, Load<V>(kx + s));
      const V shift_t = Select(first, slope_time, Load<V>(kt + s));
      Store(kx + s, shift_x);
      Store(kt + s, shift_t);
      const V dx = x - shift_x;
      const V dt = slope_time - shift_t;
      Store(count + s, c - Keep(minus_one, valid));
      Store(sx + s, Load<V>(sx + s) - Keep(-dx, valid));
      Store(sxx + s, Load<V>(sxx + s) - Keep(-(dx * dx), valid));
      Store(st + s, Load<V>(st + s) - Keep(-dt, valid));
      Store(stt + s, Load<V>(stt + s) - Keep(-(dt * dt), valid));
      Store(stx + s, Load<V>(stx + s) - Keep(-(dt * dx), valid));
    });
  }
}

// Mean = kx + sx / n; std = sqrt(max(sxx - sx sx / n, 0) / (n - 1)) (the square root in a second
// loop: the vector types have none); slope = (stx - st sx / n) / (stt - st st / n).
void WindowValues(const ValuesInput& in) {
  const bool want_std = in.want_std, want_slope = in.want_slope, extremes = in.extremes != nullptr;
  const size_t lanes = in.lanes;
  const double* last_value = in.last_value;
  const double* base_mean = in.base_mean;
  for (size_t w = 0; w < in.windows; ++w) {
    const double* sums = in.sums + w * kFieldCount * lanes;
    const double* count = sums + kCount * lanes;
    const double* kx = sums + kKx * lanes;
    const double* sx = sums + kSx * lanes;
    const double* sxx = sums + kSxx * lanes;
    const double* st = sums + kSt * lanes;
    const double* stt = sums + kStt * lanes;
    const double* stx = sums + kStx * lanes;
    const double* min_of =
        extremes ? in.extremes + (w * kExtremeFields + kMinField) * lanes : nullptr;
    const double* max_of =
        extremes ? in.extremes + (w * kExtremeFields + kMaxField) * lanes : nullptr;
    double* by_stat = in.by_stat + w * in.window_stride;
    const auto out = [&](OutputStat k) { return by_stat + size_t{in.slot[k]} * lanes; };
    double* count_out = out(kOutCount);
    double* mean_out = out(kOutMean);
    double* delta_out = out(kOutDelta);
    double* last_out = out(kOutLast);
    double* std_out = out(kOutStd);
    double* slope_out = out(kOutSlope);
    double* min_out = out(kOutMin);
    double* max_out = out(kOutMax);
    double* range_out = out(kOutRange);
    ForEachLanes(lanes, [&](auto tag, size_t s) {
      using V = decltype(tag);
      const V nan = Broadcast<V>(kNaN), zero = Broadcast<V>(0.0), two = Broadcast<V>(2.0);
      const V n = Load<V>(count + s);
      const V inv_n = 1.0 / n;
      const V any = Greater(n, zero);
      const V several = GreaterEqual(n, two);
      const V sum_x = Load<V>(sx + s);
      const V mean = Select(any, Load<V>(kx + s) + sum_x * inv_n, nan);
      Store(count_out + s, n);
      Store(mean_out + s, mean);
      Store(delta_out + s, mean - Load<V>(base_mean + s));
      Store(last_out + s, Select(any, Load<V>(last_value + s), nan));
      if (want_std) {
        const V ss = Load<V>(sxx + s) - sum_x * sum_x * inv_n;
        const V clipped = Select(Less(ss, zero), zero, ss);  // std::max(ss, 0.0)
        Store(std_out + s, Select(several, clipped * (1.0 / (n - 1.0)), nan));
      }
      if (want_slope) {
        const V sum_t = Load<V>(st + s);
        const V var_t = Load<V>(stt + s) - sum_t * sum_t * inv_n;
        const V defined = And(several, Greater(var_t, zero));
        Store(slope_out + s,
              Select(defined, (Load<V>(stx + s) - sum_t * sum_x * inv_n) / var_t, nan));
      }
      if (extremes) {
        const V min = Select(any, Load<V>(min_of + s), nan);
        const V max = Select(any, Load<V>(max_of + s), nan);
        Store(min_out + s, min);
        Store(max_out + s, max);
        Store(range_out + s, max - min);
      }
    });
    if (want_std) {
      for (size_t s = 0; s < lanes; ++s) std_out[s] = std::sqrt(std_out[s]);  // vectorised
    }
  }
}

// The includer's accessor returns these.
constexpr Kernels kKernels{PDM_WINDOW_KERNELS_NAME, &RemoveRow, &AddRows, &WindowValues};

}  // namespace
}  // namespace pdm::features::window_kernels::PDM_WINDOW_KERNELS_NS
