#include "kernels/gemv.h"

#include <algorithm>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "kernels/gemm.h"

namespace seedtune {

namespace {

#if defined(__x86_64__)
#define ST_AVX2 __attribute__((target("avx2,fma")))
#define ST_AVX512 __attribute__((target("avx512f,fma")))

// Four accumulators of 8 (AVX2) / 16 (AVX-512) lanes over k, summed in a fixed
// tree; the tail in order. Fixed per path: the same inputs give the same bits.
ST_AVX2 float DotAvx2(const float* a, const float* b, int64_t k) {
  __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
  int64_t p = 0;
  for (; p + 32 <= k; p += 32)
    for (int u = 0; u < 4; ++u)
      acc[u] = _mm256_fmadd_ps(_mm256_loadu_ps(a + p + 8 * u), _mm256_loadu_ps(b + p + 8 * u), acc[u]);
  for (; p + 8 <= k; p += 8) acc[0] = _mm256_fmadd_ps(_mm256_loadu_ps(a + p), _mm256_loadu_ps(b + p), acc[0]);
  const __m256 s = _mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3]));
  __m128 h = _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1));
  h = _mm_add_ps(h, _mm_movehl_ps(h, h));
  h = _mm_add_ss(h, _mm_shuffle_ps(h, h, 1));
  float sum = _mm_cvtss_f32(h);
  for (; p < k; ++p) sum += a[p] * b[p];
  return sum;
}

ST_AVX512 float DotAvx512(const float* a, const float* b, int64_t k) {
  __m512 acc[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
  int64_t p = 0;
  for (; p + 64 <= k; p += 64)
    for (int u = 0; u < 4; ++u)
      acc[u] = _mm512_fmadd_ps(_mm512_loadu_ps(a + p + 16 * u), _mm512_loadu_ps(b + p + 16 * u), acc[u]);
  for (; p + 16 <= k; p += 16) acc[0] = _mm512_fmadd_ps(_mm512_loadu_ps(a + p), _mm512_loadu_ps(b + p), acc[0]);
  if (p < k) {  // masked tail: zeros past k add nothing
    const __mmask16 m = static_cast<__mmask16>((1u << (k - p)) - 1u);
    acc[1] = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + p), _mm512_maskz_loadu_ps(m, b + p), acc[1]);
  }
  const __m512 s = _mm512_add_ps(_mm512_add_ps(acc[0], acc[1]), _mm512_add_ps(acc[2], acc[3]));
  // Lanes summed through memory in a fixed tree (GCC 12 warns on the
  // extract intrinsics' undefined temporaries).
  alignas(64) float lane[16];
  _mm512_store_ps(lane, s);
  for (int width = 8; width >= 1; width /= 2)
    for (int i = 0; i < width; ++i) lane[i] += lane[i + width];
  return lane[0];
}
#endif

}  // namespace

void Gemv(ThreadingContext& ctx, SimdLevel level, const float* x, int64_t m, int64_t k, const float* w, int64_t n,
          const float* bias, float* y) {
  if (m <= 0 || n <= 0) return;
  const size_t tasks = static_cast<size_t>((n + kGemvColumns - 1) / kGemvColumns);
  ctx.ParallelFor(tasks, [&](size_t t, int) {
    const int64_t j0 = static_cast<int64_t>(t) * kGemvColumns, nj = std::min(kGemvColumns, n - j0);
    for (int64_t i = 0; i < m; ++i) {
      const float* xi = x + i * k;
      float* yi = y + i * n + j0;
#if defined(__x86_64__)
      if (level != SimdLevel::kScalar) {
        for (int64_t j = 0; j < nj; ++j) {
          const float* wj = w + (j0 + j) * k;
          const float d = level == SimdLevel::kAvx512 ? DotAvx512(xi, wj, k) : DotAvx2(xi, wj, k);
          yi[j] = bias != nullptr ? d + bias[j0 + j] : d;
        }
        continue;
      }
#endif
      GemmReference(xi, 1, k, w + j0 * k, nj, bias != nullptr ? bias + j0 : nullptr, yi);
    }
  });
}

}  // namespace seedtune
