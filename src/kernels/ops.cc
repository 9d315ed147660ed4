// SIMD paths of the row kernels (AVX2 + FMA, compiled per function with
// target attributes) and the dispatchers. The scalar references live in
// ops_reference.cc.
#include "kernels/ops.h"

#include <immintrin.h>

#include <cmath>

#include "kernels/cpu.h"

namespace seedtune {

namespace {

#define ST_AVX2 __attribute__((target("avx2,fma")))

ST_AVX2 inline float HorizontalSum(__m256 v) {
  __m128 lo = _mm256_castps256_ps128(v), hi = _mm256_extractf128_ps(v, 1);
  lo = _mm_add_ps(lo, hi);
  lo = _mm_add_ps(lo, _mm_movehl_ps(lo, lo));
  lo = _mm_add_ss(lo, _mm_shuffle_ps(lo, lo, 1));
  return _mm_cvtss_f32(lo);
}

ST_AVX2 inline float HorizontalMax(__m256 v) {
  __m128 lo = _mm256_castps256_ps128(v), hi = _mm256_extractf128_ps(v, 1);
  lo = _mm_max_ps(lo, hi);
  lo = _mm_max_ps(lo, _mm_movehl_ps(lo, lo));
  lo = _mm_max_ss(lo, _mm_shuffle_ps(lo, lo, 1));
  return _mm_cvtss_f32(lo);
}

// exp(x) for 8 lanes: x = n*ln2 + r, |r| <= ln2/2, exp(r) by a degree-6
// polynomial (Cephes expf coefficients), times 2^n built in the exponent
// bits. Relative error ~2 ulp; inputs below -87.3 flush towards 0.
ST_AVX2 inline __m256 Exp8(__m256 x) {
  const __m256 hi = _mm256_set1_ps(88.3762626647949f), lo = _mm256_set1_ps(-87.3365447504f);
  x = _mm256_min_ps(_mm256_max_ps(x, lo), hi);
  const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                   _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
  __m256 p = _mm256_set1_ps(1.9875691500e-4f);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
  p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
  const __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  return _mm256_mul_ps(p, _mm256_castsi256_ps(e));
}

ST_AVX2 void RmsNormAvx2(const float* x, const float* w, int64_t rows, int64_t d, float eps, float* out) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * d;
    float* o = out + r * d;
    __m256 acc = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 8 <= d; i += 8) {
      const __m256 v = _mm256_loadu_ps(xr + i);
      acc = _mm256_fmadd_ps(v, v, acc);
    }
    float ss = HorizontalSum(acc);
    for (; i < d; ++i) ss += xr[i] * xr[i];
    const float inv = 1.0f / std::sqrt(ss / static_cast<float>(d) + eps);
    const __m256 vinv = _mm256_set1_ps(inv);
    i = 0;
    for (; i + 8 <= d; i += 8)
      _mm256_storeu_ps(o + i, _mm256_mul_ps(_mm256_mul_ps(_mm256_loadu_ps(xr + i), vinv), _mm256_loadu_ps(w + i)));
    for (; i < d; ++i) o[i] = xr[i] * inv * w[i];
  }
}

ST_AVX2 void SiluMulAvx2(const float* gate, const float* up, int64_t n, float* out) {
  const __m256 one = _mm256_set1_ps(1.0f);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 g = _mm256_loadu_ps(gate + i);
    const __m256 e = Exp8(_mm256_sub_ps(_mm256_setzero_ps(), g));
    const __m256 s = _mm256_div_ps(g, _mm256_add_ps(one, e));
    _mm256_storeu_ps(out + i, _mm256_mul_ps(s, _mm256_loadu_ps(up + i)));
  }
  SiluMulReference(gate + i, up + i, n - i, out + i);
}

ST_AVX2 void ActivateAvx2(KernelActivation act, float* x, int64_t n) {
  const __m256 one = _mm256_set1_ps(1.0f), zero = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 v = _mm256_loadu_ps(x + i);
    __m256 y;
    switch (act) {
      case KernelActivation::kSilu:
        y = _mm256_div_ps(v, _mm256_add_ps(one, Exp8(_mm256_sub_ps(zero, v))));
        break;
      case KernelActivation::kRelu: y = _mm256_max_ps(v, zero); break;
      case KernelActivation::kGeluTanh: {
        // tanh(u) = 1 - 2 / (exp(2u) + 1)
        const __m256 v3 = _mm256_mul_ps(_mm256_mul_ps(v, v), v);
        const __m256 u = _mm256_mul_ps(_mm256_set1_ps(0.7978845608028654f),
                                       _mm256_fmadd_ps(_mm256_set1_ps(0.044715f), v3, v));
        const __m256 t = _mm256_sub_ps(
            one, _mm256_div_ps(_mm256_set1_ps(2.0f), _mm256_add_ps(Exp8(_mm256_add_ps(u, u)), one)));
        y = _mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(0.5f), v), _mm256_add_ps(one, t));
        break;
      }
      case KernelActivation::kGeluErf:
      default:
        ActivateReference(act, x + i, 8);  // erf: scalar (only used by random-weight NeoX shapes)
        continue;
    }
    _mm256_storeu_ps(x + i, y);
  }
  ActivateReference(act, x + i, n - i);
}

ST_AVX2 void AddInPlaceAvx2(const float* x, float* y, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_add_ps(_mm256_loadu_ps(y + i), _mm256_loadu_ps(x + i)));
  for (; i < n; ++i) y[i] += x[i];
}

ST_AVX2 float LogSumExpAvx2(const float* x, int64_t n) {
  if (n < 8) return LogSumExpReference(x, n);
  __m256 vmax = _mm256_set1_ps(-INFINITY);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) vmax = _mm256_max_ps(vmax, _mm256_loadu_ps(x + i));
  float mx = HorizontalMax(vmax);
  for (; i < n; ++i) mx = x[i] > mx ? x[i] : mx;
  if (std::isinf(mx)) return mx;
  const __m256 vm = _mm256_set1_ps(mx);
  __m256 acc = _mm256_setzero_ps();
  i = 0;
  for (; i + 8 <= n; i += 8) acc = _mm256_add_ps(acc, Exp8(_mm256_sub_ps(_mm256_loadu_ps(x + i), vm)));
  float sum = HorizontalSum(acc);
  for (; i < n; ++i) sum += std::exp(x[i] - mx);
  return mx + std::log(sum);
}

ST_AVX2 inline float Dot(const float* a, const float* b, int64_t n) {
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
    acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), acc1);
  }
  for (; i + 8 <= n; i += 8) acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
  float s = HorizontalSum(_mm256_add_ps(acc0, acc1));
  for (; i < n; ++i) s += a[i] * b[i];
  return s;
}

// Scores of 8 consecutive keys at once (head_dim a multiple of 8): one
// accumulator per key over the head dimension, then a transpose-and-add that
// leaves the 8 dot products in one vector. Small heads (stories260K: 8 dims)
// would otherwise pay a horizontal sum per key.
ST_AVX2 inline __m256 Dot8Keys(const float* qi, const float* k, int64_t kv_stride, int64_t head_dim) {
  __m256 s[8];
  for (int r = 0; r < 8; ++r) s[r] = _mm256_setzero_ps();
  for (int64_t c = 0; c < head_dim; c += 8) {
    const __m256 qv = _mm256_loadu_ps(qi + c);
    for (int r = 0; r < 8; ++r) s[r] = _mm256_fmadd_ps(qv, _mm256_loadu_ps(k + r * kv_stride + c), s[r]);
  }
  const __m256 t0 = _mm256_hadd_ps(s[0], s[1]), t1 = _mm256_hadd_ps(s[2], s[3]);
  const __m256 t2 = _mm256_hadd_ps(s[4], s[5]), t3 = _mm256_hadd_ps(s[6], s[7]);
  const __m256 u0 = _mm256_hadd_ps(t0, t1), u1 = _mm256_hadd_ps(t2, t3);
  return _mm256_add_ps(_mm256_permute2f128_ps(u0, u1, 0x20), _mm256_permute2f128_ps(u0, u1, 0x31));
}

ST_AVX2 void AttentionHeadAvx2(const float* q, int64_t q_stride, const float* k, const float* v, int64_t kv_stride,
                               int64_t past, int64_t len, int64_t head_dim, float scale, float* out,
                               int64_t out_stride, float* scratch) {
  const bool blocked = head_dim % 8 == 0;
  const __m256 vscale = _mm256_set1_ps(scale);
  for (int64_t i = 0; i < len; ++i) {
    const float* qi = q + i * q_stride;
    const int64_t nk = past + i + 1;
    int64_t j = 0;
    __m256 vmx = _mm256_set1_ps(-INFINITY);
    if (blocked) {
      for (; j + 8 <= nk; j += 8) {
        const __m256 sc = _mm256_mul_ps(Dot8Keys(qi, k + j * kv_stride, kv_stride, head_dim), vscale);
        _mm256_storeu_ps(scratch + j, sc);
        vmx = _mm256_max_ps(vmx, sc);
      }
    }
    alignas(32) float lanes[8];
    _mm256_store_ps(lanes, vmx);
    float mx = lanes[0];
    for (int l = 1; l < 8; ++l) mx = lanes[l] > mx ? lanes[l] : mx;
    for (; j < nk; ++j) {
      const float sc = Dot(qi, k + j * kv_stride, head_dim) * scale;
      scratch[j] = sc;
      mx = sc > mx ? sc : mx;
    }
    const __m256 vm = _mm256_set1_ps(mx);
    __m256 acc = _mm256_setzero_ps();
    j = 0;
    for (; j + 8 <= nk; j += 8) {
      const __m256 e = Exp8(_mm256_sub_ps(_mm256_loadu_ps(scratch + j), vm));
      _mm256_storeu_ps(scratch + j, e);
      acc = _mm256_add_ps(acc, e);
    }
    float sum = HorizontalSum(acc);
    for (; j < nk; ++j) {
      scratch[j] = std::exp(scratch[j] - mx);
      sum += scratch[j];
    }
    const float inv = 1.0f / sum;
    float* oi = out + i * out_stride;
    int64_t c = 0;
    for (; c + 8 <= head_dim; c += 8) {
      // Four chains over the keys (FMA latency), summed at the end.
      __m256 o[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
      int64_t jj = 0;
      for (; jj + 4 <= nk; jj += 4)
        for (int u = 0; u < 4; ++u)
          o[u] = _mm256_fmadd_ps(_mm256_set1_ps(scratch[jj + u]), _mm256_loadu_ps(v + (jj + u) * kv_stride + c), o[u]);
      for (; jj < nk; ++jj)
        o[0] = _mm256_fmadd_ps(_mm256_set1_ps(scratch[jj]), _mm256_loadu_ps(v + jj * kv_stride + c), o[0]);
      const __m256 total = _mm256_add_ps(_mm256_add_ps(o[0], o[1]), _mm256_add_ps(o[2], o[3]));
      _mm256_storeu_ps(oi + c, _mm256_mul_ps(total, _mm256_set1_ps(inv)));
    }
    for (; c < head_dim; ++c) {
      float o = 0.0f;
      for (int64_t jj = 0; jj < nk; ++jj) o += scratch[jj] * v[jj * kv_stride + c];
      oi[c] = o * inv;
    }
  }
}

}  // namespace

void RmsNorm(SimdLevel level, const float* x, const float* w, int64_t rows, int64_t d, float eps, float* out) {
  if (level >= SimdLevel::kAvx2) return RmsNormAvx2(x, w, rows, d, eps, out);
  RmsNormReference(x, w, rows, d, eps, out);
}

void LayerNorm(SimdLevel level, const float* x, const float* w, const float* b, int64_t rows, int64_t d, float eps,
               float* out) {
  // Two passes over a row of a few hundred floats: the compiler's scalar code
  // is within noise of a SIMD version at these sizes.
  LayerNormReference(x, w, b, rows, d, eps, out);
}

void SiluMul(SimdLevel level, const float* gate, const float* up, int64_t n, float* out) {
  if (level >= SimdLevel::kAvx2) return SiluMulAvx2(gate, up, n, out);
  SiluMulReference(gate, up, n, out);
}

void Activate(SimdLevel level, KernelActivation act, float* x, int64_t n) {
  if (level >= SimdLevel::kAvx2) return ActivateAvx2(act, x, n);
  ActivateReference(act, x, n);
}

void AddInPlace(SimdLevel level, const float* x, float* y, int64_t n) {
  if (level >= SimdLevel::kAvx2) return AddInPlaceAvx2(x, y, n);
  for (int64_t i = 0; i < n; ++i) y[i] += x[i];
}

float LogSumExp(SimdLevel level, const float* x, int64_t n) {
  if (level >= SimdLevel::kAvx2) return LogSumExpAvx2(x, n);
  return LogSumExpReference(x, n);
}

void AttentionHead(SimdLevel level, const float* q, int64_t q_stride, const float* k, const float* v,
                   int64_t kv_stride, int64_t past, int64_t len, int64_t head_dim, float scale, float* out,
                   int64_t out_stride, float* scratch) {
  if (level >= SimdLevel::kAvx2)
    return AttentionHeadAvx2(q, q_stride, k, v, kv_stride, past, len, head_dim, scale, out, out_stride, scratch);
  AttentionHeadReference(q, q_stride, k, v, kv_stride, past, len, head_dim, scale, out, out_stride, scratch);
}

// Without a level: the process-wide one.
void RmsNorm(const float* x, const float* w, int64_t rows, int64_t d, float eps, float* out) {
  RmsNorm(ActiveSimdLevel(), x, w, rows, d, eps, out);
}

void LayerNorm(const float* x, const float* w, const float* b, int64_t rows, int64_t d, float eps, float* out) {
  LayerNorm(ActiveSimdLevel(), x, w, b, rows, d, eps, out);
}

void SiluMul(const float* gate, const float* up, int64_t n, float* out) {
  SiluMul(ActiveSimdLevel(), gate, up, n, out);
}

void Activate(KernelActivation act, float* x, int64_t n) { Activate(ActiveSimdLevel(), act, x, n); }

void AddInPlace(const float* x, float* y, int64_t n) { AddInPlace(ActiveSimdLevel(), x, y, n); }

float LogSumExp(const float* x, int64_t n) { return LogSumExp(ActiveSimdLevel(), x, n); }

void AttentionHead(const float* q, int64_t q_stride, const float* k, const float* v, int64_t kv_stride, int64_t past,
                   int64_t len, int64_t head_dim, float scale, float* out, int64_t out_stride, float* scratch) {
  AttentionHead(ActiveSimdLevel(), q, q_stride, k, v, kv_stride, past, len, head_dim, scale, out, out_stride,
                scratch);
}

}  // namespace seedtune
