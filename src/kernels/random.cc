// Philox4x32-10 + Box-Muller with a scalar reference and AVX2 / AVX-512
// paths that produce the same bits (docs/rng.md). Every floating-point
// operation here is +, -, *, /, sqrt or an explicit fma, each correctly
// rounded by IEEE 754, evaluated in the same order on every path.
#include "kernels/random.h"

#include <immintrin.h>

#include <cmath>
#include <cstring>

#include "core/half.h"
#include "kernels/cpu.h"

// GCC 12 warns inside its own AVX-512 headers (_mm512_set1_* uses an
// intentionally undefined register); nothing here reads uninitialised data.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace seedtune {

const char* ZDistributionName(ZDistribution d) { return d == ZDistribution::kGaussian ? "gauss" : "rademacher"; }

namespace {

constexpr uint32_t kM0 = 0xD2511F53u, kM1 = 0xCD9E8D57u;  // Philox multipliers
constexpr uint32_t kW0 = 0x9E3779B9u, kW1 = 0xBB67AE85u;  // Weyl key increments
constexpr int kRounds = 10;
constexpr int64_t kGroup = 64;  // elements per group (16 blocks x 4 words)

// Polynomial constants (float; identical on every path).
constexpr float kLn2 = 0.693147180559945309f;
// ln(m) = 2 atanh(s) = 2s + 2s * s^2 * (1/3 + s^2/5 + s^4/7 + s^6/9 + s^8/11)
constexpr float kL3 = 1.0f / 3.0f, kL5 = 1.0f / 5.0f, kL7 = 1.0f / 7.0f, kL9 = 1.0f / 9.0f, kL11 = 1.0f / 11.0f;
// sin / cos Taylor coefficients on [0, pi/2).
constexpr float kS3 = -1.0f / 6.0f, kS5 = 1.0f / 120.0f, kS7 = -1.0f / 5040.0f, kS9 = 1.0f / 362880.0f,
                kS11 = -1.0f / 39916800.0f;
constexpr float kC2 = -0.5f, kC4 = 1.0f / 24.0f, kC6 = -1.0f / 720.0f, kC8 = 1.0f / 40320.0f,
                kC10 = -1.0f / 3628800.0f, kC12 = 1.0f / 479001600.0f;
// (float)(pi/2) * 2^-22: the angle step of the 22-bit fraction (exact scaling).
constexpr float kAngleStep = 1.57079632679489662f * 0x1p-22f;

inline uint32_t MulHi(uint32_t a, uint32_t b) { return static_cast<uint32_t>((static_cast<uint64_t>(a) * b) >> 32); }

// ---------------------------------------------------------------- scalar

float LnUnitScalar(float u) {
  uint32_t bits = FloatToBits(u);
  int32_t e = static_cast<int32_t>(bits >> 23) - 127;
  uint32_t mbits = (bits & 0x7fffffu) | 0x3f800000u;
  if ((bits & 0x7fffffu) > 0x3504f3u) {  // m > sqrt(2): use m/2 and e+1
    mbits -= 0x00800000u;
    e += 1;
  }
  const float m = BitsToFloat(mbits);
  const float s = (m - 1.0f) / (m + 1.0f);
  const float s2 = s * s;
  float p = std::fma(kL11, s2, kL9);
  p = std::fma(p, s2, kL7);
  p = std::fma(p, s2, kL5);
  p = std::fma(p, s2, kL3);
  const float t = s + s;
  const float lnm = std::fma(t * s2, p, t);
  return std::fma(static_cast<float>(e), kLn2, lnm);
}

void BoxMullerScalar(uint32_t w0, uint32_t w1, float* zc, float* zs) {
  const float u = static_cast<float>(static_cast<int32_t>((w0 >> 8) | 1u)) * 0x1p-24f;
  const float r = std::sqrt(LnUnitScalar(u) * -2.0f);
  const uint32_t v = w1 >> 8;
  const uint32_t q = v >> 22;
  const float a = static_cast<float>(static_cast<int32_t>(v & 0x3fffffu)) * kAngleStep;
  const float a2 = a * a;
  float ps = std::fma(kS11, a2, kS9);
  ps = std::fma(ps, a2, kS7);
  ps = std::fma(ps, a2, kS5);
  ps = std::fma(ps, a2, kS3);
  const float sn = std::fma(a * a2, ps, a);
  float pc = std::fma(kC12, a2, kC10);
  pc = std::fma(pc, a2, kC8);
  pc = std::fma(pc, a2, kC6);
  pc = std::fma(pc, a2, kC4);
  pc = std::fma(pc, a2, kC2);
  const float cs = std::fma(a2, pc, 1.0f);
  // Rotate by q quarter turns: (cos, sin) of q*pi/2 + a.
  float c = (q & 1u) ? sn : cs;
  float s = (q & 1u) ? cs : sn;
  if (q == 1u || q == 2u) c = -c;
  if (q >= 2u) s = -s;
  *zc = r * c;
  *zs = r * s;
}

void GroupScalar(uint64_t seed, uint64_t group, ZDistribution dist, float* z) {
  for (uint32_t l = 0; l < 16; ++l) {
    const uint64_t block = group * 16 + l;
    const auto w = Philox4x32_10({static_cast<uint32_t>(block), static_cast<uint32_t>(block >> 32), kZStream, 0u},
                                 {static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32)});
    if (dist == ZDistribution::kGaussian) {
      BoxMullerScalar(w[0], w[1], &z[l], &z[16 + l]);
      BoxMullerScalar(w[2], w[3], &z[32 + l], &z[48 + l]);
    } else {
      for (int k = 0; k < 4; ++k) z[16 * k + l] = (w[k] >> 31) ? -1.0f : 1.0f;
    }
  }
}

// ------------------------------------------------------------------ AVX2

#define ST_AVX2 __attribute__((target("avx2,fma")))

ST_AVX2 inline void MulHiLo8(__m256i a, __m256i m, __m256i* hi, __m256i* lo) {
  const __m256i even = _mm256_mul_epu32(a, m);
  const __m256i odd = _mm256_mul_epu32(_mm256_srli_epi64(a, 32), m);
  *lo = _mm256_blend_epi32(even, _mm256_slli_epi64(odd, 32), 0xAA);
  *hi = _mm256_blend_epi32(_mm256_srli_epi64(even, 32), odd, 0xAA);
}

ST_AVX2 inline __m256 LnUnit8(__m256 u) {
  const __m256i bits = _mm256_castps_si256(u);
  const __m256i mant = _mm256_and_si256(bits, _mm256_set1_epi32(0x7fffff));
  const __m256i big = _mm256_cmpgt_epi32(mant, _mm256_set1_epi32(0x3504f3));  // all-ones where m > sqrt2
  __m256i e = _mm256_sub_epi32(_mm256_srli_epi32(bits, 23), _mm256_set1_epi32(127));
  e = _mm256_sub_epi32(e, big);  // +1 where big
  __m256i mbits = _mm256_or_si256(mant, _mm256_set1_epi32(0x3f800000));
  mbits = _mm256_sub_epi32(mbits, _mm256_and_si256(big, _mm256_set1_epi32(0x00800000)));
  const __m256 m = _mm256_castsi256_ps(mbits);
  const __m256 one = _mm256_set1_ps(1.0f);
  const __m256 s = _mm256_div_ps(_mm256_sub_ps(m, one), _mm256_add_ps(m, one));
  const __m256 s2 = _mm256_mul_ps(s, s);
  __m256 p = _mm256_fmadd_ps(_mm256_set1_ps(kL11), s2, _mm256_set1_ps(kL9));
  p = _mm256_fmadd_ps(p, s2, _mm256_set1_ps(kL7));
  p = _mm256_fmadd_ps(p, s2, _mm256_set1_ps(kL5));
  p = _mm256_fmadd_ps(p, s2, _mm256_set1_ps(kL3));
  const __m256 t = _mm256_add_ps(s, s);
  const __m256 lnm = _mm256_fmadd_ps(_mm256_mul_ps(t, s2), p, t);
  return _mm256_fmadd_ps(_mm256_cvtepi32_ps(e), _mm256_set1_ps(kLn2), lnm);
}

ST_AVX2 inline void BoxMuller8(__m256i w0, __m256i w1, __m256* zc, __m256* zs) {
  const __m256i ui = _mm256_or_si256(_mm256_srli_epi32(w0, 8), _mm256_set1_epi32(1));
  const __m256 u = _mm256_mul_ps(_mm256_cvtepi32_ps(ui), _mm256_set1_ps(0x1p-24f));
  const __m256 r = _mm256_sqrt_ps(_mm256_mul_ps(LnUnit8(u), _mm256_set1_ps(-2.0f)));
  const __m256i v = _mm256_srli_epi32(w1, 8);
  const __m256i q = _mm256_srli_epi32(v, 22);
  const __m256 a =
      _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_and_si256(v, _mm256_set1_epi32(0x3fffff))), _mm256_set1_ps(kAngleStep));
  const __m256 a2 = _mm256_mul_ps(a, a);
  __m256 ps = _mm256_fmadd_ps(_mm256_set1_ps(kS11), a2, _mm256_set1_ps(kS9));
  ps = _mm256_fmadd_ps(ps, a2, _mm256_set1_ps(kS7));
  ps = _mm256_fmadd_ps(ps, a2, _mm256_set1_ps(kS5));
  ps = _mm256_fmadd_ps(ps, a2, _mm256_set1_ps(kS3));
  const __m256 sn = _mm256_fmadd_ps(_mm256_mul_ps(a, a2), ps, a);
  __m256 pc = _mm256_fmadd_ps(_mm256_set1_ps(kC12), a2, _mm256_set1_ps(kC10));
  pc = _mm256_fmadd_ps(pc, a2, _mm256_set1_ps(kC8));
  pc = _mm256_fmadd_ps(pc, a2, _mm256_set1_ps(kC6));
  pc = _mm256_fmadd_ps(pc, a2, _mm256_set1_ps(kC4));
  pc = _mm256_fmadd_ps(pc, a2, _mm256_set1_ps(kC2));
  const __m256 cs = _mm256_fmadd_ps(a2, pc, _mm256_set1_ps(1.0f));
  const __m256 odd = _mm256_castsi256_ps(_mm256_cmpeq_epi32(_mm256_and_si256(q, _mm256_set1_epi32(1)),
                                                            _mm256_set1_epi32(1)));
  __m256 c = _mm256_blendv_ps(cs, sn, odd);
  __m256 s = _mm256_blendv_ps(sn, cs, odd);
  // c negated for q in {1, 2}; s negated for q in {2, 3}.
  const __m256i one = _mm256_set1_epi32(1), two = _mm256_set1_epi32(2);
  const __m256i neg_c = _mm256_or_si256(_mm256_cmpeq_epi32(q, one), _mm256_cmpeq_epi32(q, two));
  const __m256i neg_s = _mm256_cmpgt_epi32(q, one);
  const __m256i sign = _mm256_set1_epi32(static_cast<int>(0x80000000u));
  c = _mm256_xor_ps(c, _mm256_castsi256_ps(_mm256_and_si256(neg_c, sign)));
  s = _mm256_xor_ps(s, _mm256_castsi256_ps(_mm256_and_si256(neg_s, sign)));
  *zc = _mm256_mul_ps(r, c);
  *zs = _mm256_mul_ps(r, s);
}

// The two 8-lane halves of a group (and N groups) run interleaved, as in the
// AVX-512 path, to hide the latency of Philox's multiply chain.
template <int N>
ST_AVX2 void GroupsAvx2(uint64_t seed, uint64_t group, ZDistribution dist, float* z) {
  constexpr int H = 2 * N;  // independent 8-lane states
  __m256i c0[H], c1[H], c2[H], c3[H];
  for (int h = 0; h < H; ++h) {
    const uint64_t block0 = (group + h / 2) * 16 + static_cast<uint64_t>(h % 2) * 8;
    c0[h] = _mm256_add_epi32(_mm256_set1_epi32(static_cast<int>(static_cast<uint32_t>(block0))),
                             _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    c1[h] = _mm256_set1_epi32(static_cast<int>(static_cast<uint32_t>(block0 >> 32)));
    c2[h] = _mm256_set1_epi32(static_cast<int>(kZStream));
    c3[h] = _mm256_setzero_si256();
  }
  uint32_t k0 = static_cast<uint32_t>(seed), k1 = static_cast<uint32_t>(seed >> 32);
  const __m256i m0 = _mm256_set1_epi32(static_cast<int>(kM0)), m1 = _mm256_set1_epi32(static_cast<int>(kM1));
  for (int r = 0; r < kRounds; ++r) {
    const __m256i vk0 = _mm256_set1_epi32(static_cast<int>(k0)), vk1 = _mm256_set1_epi32(static_cast<int>(k1));
    for (int h = 0; h < H; ++h) {
      __m256i hi0, lo0, hi1, lo1;
      MulHiLo8(c0[h], m0, &hi0, &lo0);
      MulHiLo8(c2[h], m1, &hi1, &lo1);
      c0[h] = _mm256_xor_si256(_mm256_xor_si256(hi1, c1[h]), vk0);
      c1[h] = lo1;
      c2[h] = _mm256_xor_si256(_mm256_xor_si256(hi0, c3[h]), vk1);
      c3[h] = lo0;
    }
    k0 += kW0;
    k1 += kW1;
  }
  for (int h = 0; h < H; ++h) {
    float* out = z + (h / 2) * kGroup + (h % 2) * 8;
    if (dist == ZDistribution::kGaussian) {
      __m256 a, b;
      BoxMuller8(c0[h], c1[h], &a, &b);
      _mm256_storeu_ps(out, a);
      _mm256_storeu_ps(out + 16, b);
      BoxMuller8(c2[h], c3[h], &a, &b);
      _mm256_storeu_ps(out + 32, a);
      _mm256_storeu_ps(out + 48, b);
    } else {
      const __m256 one = _mm256_set1_ps(1.0f);
      const __m256i sign = _mm256_set1_epi32(static_cast<int>(0x80000000u));
      const __m256i words[4] = {c0[h], c1[h], c2[h], c3[h]};
      for (int k = 0; k < 4; ++k)
        _mm256_storeu_ps(out + 16 * k, _mm256_or_ps(one, _mm256_castsi256_ps(_mm256_and_si256(words[k], sign))));
    }
  }
}

// --------------------------------------------------------------- AVX-512

#define ST_AVX512 __attribute__((target("avx512f,avx512dq,avx512bw,avx512vl,fma")))

ST_AVX512 inline void MulHiLo16(__m512i a, __m512i m, __m512i* hi, __m512i* lo) {
  const __m512i even = _mm512_mul_epu32(a, m);
  const __m512i odd = _mm512_mul_epu32(_mm512_srli_epi64(a, 32), m);
  *lo = _mm512_mask_blend_epi32(0xAAAA, even, _mm512_slli_epi64(odd, 32));
  *hi = _mm512_mask_blend_epi32(0xAAAA, _mm512_srli_epi64(even, 32), odd);
}

ST_AVX512 inline __m512 LnUnit16(__m512 u) {
  const __m512i bits = _mm512_castps_si512(u);
  const __m512i mant = _mm512_and_si512(bits, _mm512_set1_epi32(0x7fffff));
  const __mmask16 big = _mm512_cmpgt_epi32_mask(mant, _mm512_set1_epi32(0x3504f3));
  __m512i e = _mm512_sub_epi32(_mm512_srli_epi32(bits, 23), _mm512_set1_epi32(127));
  e = _mm512_mask_add_epi32(e, big, e, _mm512_set1_epi32(1));
  __m512i mbits = _mm512_or_si512(mant, _mm512_set1_epi32(0x3f800000));
  mbits = _mm512_mask_sub_epi32(mbits, big, mbits, _mm512_set1_epi32(0x00800000));
  const __m512 m = _mm512_castsi512_ps(mbits);
  const __m512 one = _mm512_set1_ps(1.0f);
  const __m512 s = _mm512_div_ps(_mm512_sub_ps(m, one), _mm512_add_ps(m, one));
  const __m512 s2 = _mm512_mul_ps(s, s);
  __m512 p = _mm512_fmadd_ps(_mm512_set1_ps(kL11), s2, _mm512_set1_ps(kL9));
  p = _mm512_fmadd_ps(p, s2, _mm512_set1_ps(kL7));
  p = _mm512_fmadd_ps(p, s2, _mm512_set1_ps(kL5));
  p = _mm512_fmadd_ps(p, s2, _mm512_set1_ps(kL3));
  const __m512 t = _mm512_add_ps(s, s);
  const __m512 lnm = _mm512_fmadd_ps(_mm512_mul_ps(t, s2), p, t);
  return _mm512_fmadd_ps(_mm512_cvtepi32_ps(e), _mm512_set1_ps(kLn2), lnm);
}

ST_AVX512 inline void BoxMuller16(__m512i w0, __m512i w1, __m512* zc, __m512* zs) {
  const __m512i ui = _mm512_or_si512(_mm512_srli_epi32(w0, 8), _mm512_set1_epi32(1));
  const __m512 u = _mm512_mul_ps(_mm512_cvtepi32_ps(ui), _mm512_set1_ps(0x1p-24f));
  const __m512 r = _mm512_sqrt_ps(_mm512_mul_ps(LnUnit16(u), _mm512_set1_ps(-2.0f)));
  const __m512i v = _mm512_srli_epi32(w1, 8);
  const __m512i q = _mm512_srli_epi32(v, 22);
  const __m512 a =
      _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_and_si512(v, _mm512_set1_epi32(0x3fffff))), _mm512_set1_ps(kAngleStep));
  const __m512 a2 = _mm512_mul_ps(a, a);
  __m512 ps = _mm512_fmadd_ps(_mm512_set1_ps(kS11), a2, _mm512_set1_ps(kS9));
  ps = _mm512_fmadd_ps(ps, a2, _mm512_set1_ps(kS7));
  ps = _mm512_fmadd_ps(ps, a2, _mm512_set1_ps(kS5));
  ps = _mm512_fmadd_ps(ps, a2, _mm512_set1_ps(kS3));
  const __m512 sn = _mm512_fmadd_ps(_mm512_mul_ps(a, a2), ps, a);
  __m512 pc = _mm512_fmadd_ps(_mm512_set1_ps(kC12), a2, _mm512_set1_ps(kC10));
  pc = _mm512_fmadd_ps(pc, a2, _mm512_set1_ps(kC8));
  pc = _mm512_fmadd_ps(pc, a2, _mm512_set1_ps(kC6));
  pc = _mm512_fmadd_ps(pc, a2, _mm512_set1_ps(kC4));
  pc = _mm512_fmadd_ps(pc, a2, _mm512_set1_ps(kC2));
  const __m512 cs = _mm512_fmadd_ps(a2, pc, _mm512_set1_ps(1.0f));
  const __mmask16 odd = _mm512_test_epi32_mask(q, _mm512_set1_epi32(1));
  __m512 c = _mm512_mask_blend_ps(odd, cs, sn);
  __m512 s = _mm512_mask_blend_ps(odd, sn, cs);
  const __mmask16 neg_c = _mm512_cmpeq_epi32_mask(q, _mm512_set1_epi32(1)) |
                          _mm512_cmpeq_epi32_mask(q, _mm512_set1_epi32(2));
  const __mmask16 neg_s = _mm512_cmpgt_epi32_mask(q, _mm512_set1_epi32(1));
  const __m512i sign = _mm512_set1_epi32(static_cast<int>(0x80000000u));
  c = _mm512_castsi512_ps(_mm512_mask_xor_epi32(_mm512_castps_si512(c), neg_c, _mm512_castps_si512(c), sign));
  s = _mm512_castsi512_ps(_mm512_mask_xor_epi32(_mm512_castps_si512(s), neg_s, _mm512_castps_si512(s), sign));
  *zc = _mm512_mul_ps(r, c);
  *zs = _mm512_mul_ps(r, s);
}

// N independent groups at once: Philox's ten rounds are a serial chain of
// multiplies, so interleaving independent chains hides their latency.
template <int N>
ST_AVX512 void GroupsAvx512(uint64_t seed, uint64_t group, ZDistribution dist, float* z) {
  __m512i c0[N], c1[N], c2[N], c3[N];
  for (int g = 0; g < N; ++g) {
    const uint64_t block0 = (group + g) * 16;
    c0[g] = _mm512_add_epi32(_mm512_set1_epi32(static_cast<int>(static_cast<uint32_t>(block0))),
                             _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15));
    c1[g] = _mm512_set1_epi32(static_cast<int>(static_cast<uint32_t>(block0 >> 32)));
    c2[g] = _mm512_set1_epi32(static_cast<int>(kZStream));
    c3[g] = _mm512_setzero_si512();
  }
  uint32_t k0 = static_cast<uint32_t>(seed), k1 = static_cast<uint32_t>(seed >> 32);
  const __m512i m0 = _mm512_set1_epi32(static_cast<int>(kM0)), m1 = _mm512_set1_epi32(static_cast<int>(kM1));
  for (int r = 0; r < kRounds; ++r) {
    const __m512i vk0 = _mm512_set1_epi32(static_cast<int>(k0)), vk1 = _mm512_set1_epi32(static_cast<int>(k1));
    for (int g = 0; g < N; ++g) {
      __m512i hi0, lo0, hi1, lo1;
      MulHiLo16(c0[g], m0, &hi0, &lo0);
      MulHiLo16(c2[g], m1, &hi1, &lo1);
      c0[g] = _mm512_xor_si512(_mm512_xor_si512(hi1, c1[g]), vk0);
      c1[g] = lo1;
      c2[g] = _mm512_xor_si512(_mm512_xor_si512(hi0, c3[g]), vk1);
      c3[g] = lo0;
    }
    k0 += kW0;
    k1 += kW1;
  }
  for (int g = 0; g < N; ++g) {
    float* out = z + g * kGroup;
    if (dist == ZDistribution::kGaussian) {
      __m512 a, b, c, d;
      BoxMuller16(c0[g], c1[g], &a, &b);
      BoxMuller16(c2[g], c3[g], &c, &d);
      _mm512_storeu_ps(out, a);
      _mm512_storeu_ps(out + 16, b);
      _mm512_storeu_ps(out + 32, c);
      _mm512_storeu_ps(out + 48, d);
    } else {
      const __m512i one = _mm512_castps_si512(_mm512_set1_ps(1.0f));
      const __m512i sign = _mm512_set1_epi32(static_cast<int>(0x80000000u));
      const __m512i words[4] = {c0[g], c1[g], c2[g], c3[g]};
      for (int k = 0; k < 4; ++k)
        _mm512_storeu_ps(out + 16 * k, _mm512_castsi512_ps(_mm512_or_si512(one, _mm512_and_si512(words[k], sign))));
    }
  }
}

// Element-wise ops on a z buffer, one fma per element (exact on every path).
ST_AVX512 void FmaInPlace512(const float* z, float a, float* y, int64_t n) {
  const __m512 va = _mm512_set1_ps(a);
  int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    _mm512_storeu_ps(y + i, _mm512_fmadd_ps(va, _mm512_loadu_ps(z + i), _mm512_loadu_ps(y + i)));
  for (; i < n; ++i) y[i] = std::fma(a, z[i], y[i]);
}
ST_AVX2 void FmaInPlace256(const float* z, float a, float* y, int64_t n) {
  const __m256 va = _mm256_set1_ps(a);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, _mm256_loadu_ps(z + i), _mm256_loadu_ps(y + i)));
  for (; i < n; ++i) y[i] = std::fma(a, z[i], y[i]);
}
ST_AVX512 void FmaTo512(const float* z, float a, const float* x, float* y, int64_t n) {
  const __m512 va = _mm512_set1_ps(a);
  int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    _mm512_storeu_ps(y + i, _mm512_fmadd_ps(va, _mm512_loadu_ps(z + i), _mm512_loadu_ps(x + i)));
  for (; i < n; ++i) y[i] = std::fma(a, z[i], x[i]);
}
ST_AVX2 void FmaTo256(const float* z, float a, const float* x, float* y, int64_t n) {
  const __m256 va = _mm256_set1_ps(a);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, _mm256_loadu_ps(z + i), _mm256_loadu_ps(x + i)));
  for (; i < n; ++i) y[i] = std::fma(a, z[i], x[i]);
}

void FmaInPlace(SimdLevel level, const float* z, float a, float* y, int64_t n) {
  if (level == SimdLevel::kAvx512) return FmaInPlace512(z, a, y, n);
  if (level == SimdLevel::kAvx2) return FmaInPlace256(z, a, y, n);
  for (int64_t i = 0; i < n; ++i) y[i] = std::fma(a, z[i], y[i]);
}

void FmaTo(SimdLevel level, const float* z, float a, const float* x, float* y, int64_t n) {
  if (level == SimdLevel::kAvx512) return FmaTo512(z, a, x, y, n);
  if (level == SimdLevel::kAvx2) return FmaTo256(z, a, x, y, n);
  for (int64_t i = 0; i < n; ++i) y[i] = std::fma(a, z[i], x[i]);
}

constexpr int kMaxGroups = 4;  // groups generated per call when the range allows

// Generates `count` (1..kMaxGroups) consecutive groups into z (64 * count floats).
void Groups(SimdLevel level, uint64_t seed, uint64_t group, int count, ZDistribution dist, float* z) {
  if (level == SimdLevel::kAvx512) {
    switch (count) {
      case 4: return GroupsAvx512<4>(seed, group, dist, z);
      case 3: return GroupsAvx512<3>(seed, group, dist, z);
      case 2: return GroupsAvx512<2>(seed, group, dist, z);
      default: return GroupsAvx512<1>(seed, group, dist, z);
    }
  }
  if (level == SimdLevel::kAvx2 && count > 2) {
    GroupsAvx2<2>(seed, group, dist, z);
    return Groups(level, seed, group + 2, count - 2, dist, z + 2 * kGroup);
  }
  if (level == SimdLevel::kAvx2) {
    return count == 2 ? GroupsAvx2<2>(seed, group, dist, z) : GroupsAvx2<1>(seed, group, dist, z);
  }
  for (int g = 0; g < count; ++g) GroupScalar(seed, group + g, dist, z + g * kGroup);
}

// Calls f(z_slice, offset_in_range, length) over the groups covering
// [first, first + n), with z_slice pointing at the z values of that part.
template <typename F>
void ForEachGroupSlice(SimdLevel level, uint64_t seed, uint64_t first, int64_t n, ZDistribution dist, F&& f) {
  alignas(64) float z[kMaxGroups * kGroup];
  int64_t done = 0;
  while (done < n) {
    const uint64_t i = first + static_cast<uint64_t>(done);
    const uint64_t group = i / kGroup;
    const int64_t offset = static_cast<int64_t>(i % kGroup);
    const int count = static_cast<int>(std::min<int64_t>(kMaxGroups, (offset + (n - done) + kGroup - 1) / kGroup));
    const int64_t len = std::min<int64_t>(count * kGroup - offset, n - done);
    Groups(level, seed, group, count, dist, z);
    f(z + offset, done, len);
    done += len;
  }
}

}  // namespace

std::array<uint32_t, 4> Philox4x32_10(std::array<uint32_t, 4> c, std::array<uint32_t, 2> k) {
  for (int r = 0; r < kRounds; ++r) {
    const uint32_t hi0 = MulHi(kM0, c[0]), lo0 = kM0 * c[0];
    const uint32_t hi1 = MulHi(kM1, c[2]), lo1 = kM1 * c[2];
    c = {hi1 ^ c[1] ^ k[0], lo1, hi0 ^ c[3] ^ k[1], lo0};
    k[0] += kW0;
    k[1] += kW1;
  }
  return c;
}

uint32_t ZWord(uint64_t seed, uint64_t index) {
  const uint64_t block = (index / kGroup) * 16 + (index % 16);
  const auto w = Philox4x32_10({static_cast<uint32_t>(block), static_cast<uint32_t>(block >> 32), kZStream, 0u},
                               {static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32)});
  return w[(index % kGroup) / 16];
}

void GenerateZReference(uint64_t seed, uint64_t first, int64_t n, ZDistribution dist, float* out) {
  ForEachGroupSlice(SimdLevel::kScalar, seed, first, n, dist,
                    [&](const float* z, int64_t off, int64_t len) { std::memcpy(out + off, z, len * sizeof(float)); });
}

void GenerateZ(uint64_t seed, uint64_t first, int64_t n, ZDistribution dist, float* out) {
  ForEachGroupSlice(ActiveSimdLevel(), seed, first, n, dist,
                    [&](const float* z, int64_t off, int64_t len) { std::memcpy(out + off, z, len * sizeof(float)); });
}

void AxpyZ(uint64_t seed, uint64_t first, int64_t n, ZDistribution dist, float alpha, float* y) {
  const SimdLevel level = ActiveSimdLevel();
  ForEachGroupSlice(level, seed, first, n, dist,
                    [&](const float* z, int64_t off, int64_t len) { FmaInPlace(level, z, alpha, y + off, len); });
}

void PerturbZ(uint64_t seed, uint64_t first, int64_t n, ZDistribution dist, float scale, const float* theta,
              float* out) {
  const SimdLevel level = ActiveSimdLevel();
  ForEachGroupSlice(level, seed, first, n, dist, [&](const float* z, int64_t off, int64_t len) {
    FmaTo(level, z, scale, theta + off, out + off, len);
  });
}

void PerturbPairZ(uint64_t seed, uint64_t first, int64_t n, ZDistribution dist, float eps, const float* theta,
                  float* plus, float* minus) {
  const SimdLevel level = ActiveSimdLevel();
  ForEachGroupSlice(level, seed, first, n, dist, [&](const float* z, int64_t off, int64_t len) {
    FmaTo(level, z, eps, theta + off, plus + off, len);
    FmaTo(level, z, -eps, theta + off, minus + off, len);
  });
}

void AxpyZMulti(const uint64_t* seeds, const float* alphas, int64_t count, uint64_t first, int64_t n,
                ZDistribution dist, float* y) {
  // Slabs of y small enough to stay in L1/L2 while every seed passes over them.
  constexpr int64_t kSlab = 4096;
  for (int64_t s0 = 0; s0 < n; s0 += kSlab) {
    const int64_t len = std::min(kSlab, n - s0);
    for (int64_t k = 0; k < count; ++k) AxpyZ(seeds[k], first + static_cast<uint64_t>(s0), len, dist, alphas[k], y + s0);
  }
}

}  // namespace seedtune
