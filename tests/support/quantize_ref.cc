#include "support/quantize_ref.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/half.h"
#include "formats/dequant.h"
#include "formats/gguf.h"

namespace seedtune::testing {
namespace {

void PutF16(std::string* out, float v) {
  const uint16_t h = FloatToFp16(v);
  out->push_back(static_cast<char>(h & 0xff));
  out->push_back(static_cast<char>(h >> 8));
}
// The fp16 value actually stored for v.
float F16Round(float v) { return Fp16ToFloat(FloatToFp16(v)); }
// The fp16 value of at least |v| closest to it, with v's sign. Used for block
// scales so that the largest element never needs more than the top level
// (fp16 subnormals would otherwise round scales down by up to 50%).
float F16ScaleUp(float v) {
  const float a = std::fabs(v);
  uint16_t h = FloatToFp16(a);
  if (Fp16ToFloat(h) < a && h < 0x7bff) ++h;
  const float r = Fp16ToFloat(h);
  return v < 0 ? -r : r;
}

int Clamp(long v, int lo, int hi) { return static_cast<int>(std::min<long>(std::max<long>(v, lo), hi)); }

float AbsMax(const float* x, int n) {
  float a = 0;
  for (int i = 0; i < n; ++i) a = std::max(a, std::fabs(x[i]));
  return a;
}

// Packs 8 six-bit (scale, min) pairs the way GgmlKScaleMin unpacks them.
void PackKScales(const uint8_t sc[8], const uint8_t m[8], uint8_t out[12]) {
  for (int j = 0; j < 4; ++j) {
    out[j] = static_cast<uint8_t>((sc[j] & 63) | ((sc[j + 4] >> 4) << 6));
    out[j + 4] = static_cast<uint8_t>((m[j] & 63) | ((m[j + 4] >> 4) << 6));
    out[j + 8] = static_cast<uint8_t>((sc[j + 4] & 15) | ((m[j + 4] & 15) << 4));
  }
}

// Shared by Q4_K (levels 15) and Q5_K (levels 31): per 32-element sub-block an
// affine map x ~ D*q - M with M >= 0; D and M are 6-bit multiples of the
// super-block's fp16 d and dmin. Fills q[256], d, dmin and packed scales.
void QuantizeKAffine(const float* x, int levels, int q[256], float* d_out, float* dmin_out, uint8_t scales[12]) {
  float scale[8], mins[8], max_scale = 0, max_min = 0;
  for (int j = 0; j < 8; ++j) {
    float mn = 0, mx = 0;  // the range always includes 0 so that M >= 0
    for (int l = 0; l < 32; ++l) {
      mn = std::min(mn, x[32 * j + l]);
      mx = std::max(mx, x[32 * j + l]);
    }
    scale[j] = (mx - mn) / levels;
    mins[j] = -mn;
    max_scale = std::max(max_scale, scale[j]);
    max_min = std::max(max_min, mins[j]);
  }
  const float d = F16ScaleUp(max_scale / 63), dmin = F16ScaleUp(max_min / 63);
  uint8_t sc[8], m[8];
  for (int j = 0; j < 8; ++j) {
    sc[j] = d > 0 ? static_cast<uint8_t>(Clamp(static_cast<long>(std::ceil(scale[j] / d)), 0, 63)) : 0;
    m[j] = dmin > 0 ? static_cast<uint8_t>(Clamp(std::lround(mins[j] / dmin), 0, 63)) : 0;
    const float D = d * static_cast<float>(sc[j]), M = dmin * static_cast<float>(m[j]);
    for (int l = 0; l < 32; ++l)
      q[32 * j + l] = D > 0 ? Clamp(std::lround((x[32 * j + l] + M) / D), 0, levels) : 0;
  }
  PackKScales(sc, m, scales);
  *d_out = d;
  *dmin_out = dmin;
}

}  // namespace

std::string QuantizeQ8_0(const float* x, int64_t n) {
  std::string out;
  for (int64_t b = 0; b < n / 32; ++b, x += 32) {
    const float d = F16ScaleUp(AbsMax(x, 32) / 127);
    PutF16(&out, d);
    for (int j = 0; j < 32; ++j)
      out.push_back(static_cast<char>(static_cast<int8_t>(d > 0 ? Clamp(std::lround(x[j] / d), -127, 127) : 0)));
  }
  return out;
}

std::string QuantizeQ4_0(const float* x, int64_t n) {
  std::string out;
  for (int64_t b = 0; b < n / 32; ++b, x += 32) {
    float max = 0;  // the value of largest magnitude, with its sign
    for (int j = 0; j < 32; ++j)
      if (std::fabs(x[j]) > std::fabs(max)) max = x[j];
    const float d = F16ScaleUp(max / -8);
    PutF16(&out, d);
    int q[32];
    for (int j = 0; j < 32; ++j) q[j] = d != 0 ? Clamp(std::lround(x[j] / d) + 8, 0, 15) : 8;
    for (int j = 0; j < 16; ++j) out.push_back(static_cast<char>(q[j] | (q[j + 16] << 4)));
  }
  return out;
}

std::string QuantizeQ4_1(const float* x, int64_t n) {
  std::string out;
  for (int64_t b = 0; b < n / 32; ++b, x += 32) {
    const float mn = *std::min_element(x, x + 32), mx = *std::max_element(x, x + 32);
    const float d = F16ScaleUp((mx - mn) / 15), m = F16Round(mn);
    PutF16(&out, d);
    PutF16(&out, m);
    int q[32];
    for (int j = 0; j < 32; ++j) q[j] = d > 0 ? Clamp(std::lround((x[j] - m) / d), 0, 15) : 0;
    for (int j = 0; j < 16; ++j) out.push_back(static_cast<char>(q[j] | (q[j + 16] << 4)));
  }
  return out;
}

std::string QuantizeQ4_K(const float* x, int64_t n) {
  std::string out;
  for (int64_t b = 0; b < n / 256; ++b, x += 256) {
    int q[256];
    float d, dmin;
    uint8_t scales[12];
    QuantizeKAffine(x, 15, q, &d, &dmin, scales);
    PutF16(&out, d);
    PutF16(&out, dmin);
    out.append(reinterpret_cast<const char*>(scales), 12);
    for (int c = 0; c < 4; ++c)
      for (int l = 0; l < 32; ++l) out.push_back(static_cast<char>(q[64 * c + l] | (q[64 * c + 32 + l] << 4)));
  }
  return out;
}

std::string QuantizeQ5_K(const float* x, int64_t n) {
  std::string out;
  for (int64_t b = 0; b < n / 256; ++b, x += 256) {
    int q[256];
    float d, dmin;
    uint8_t scales[12];
    QuantizeKAffine(x, 31, q, &d, &dmin, scales);
    PutF16(&out, d);
    PutF16(&out, dmin);
    out.append(reinterpret_cast<const char*>(scales), 12);
    uint8_t qh[32] = {};
    for (int c = 0; c < 4; ++c)
      for (int l = 0; l < 32; ++l) {
        if (q[64 * c + l] & 16) qh[l] |= static_cast<uint8_t>(1u << (2 * c));
        if (q[64 * c + 32 + l] & 16) qh[l] |= static_cast<uint8_t>(2u << (2 * c));
      }
    out.append(reinterpret_cast<const char*>(qh), 32);
    for (int c = 0; c < 4; ++c)
      for (int l = 0; l < 32; ++l)
        out.push_back(static_cast<char>((q[64 * c + l] & 15) | ((q[64 * c + 32 + l] & 15) << 4)));
  }
  return out;
}

std::string QuantizeQ6_K(const float* x, int64_t n) {
  std::string out;
  for (int64_t b = 0; b < n / 256; ++b, x += 256) {
    float s[16], max_s = 0;
    for (int j = 0; j < 16; ++j) {
      s[j] = AbsMax(x + 16 * j, 16) / 32;
      max_s = std::max(max_s, s[j]);
    }
    const float d = F16ScaleUp(max_s / 127);
    int8_t sc[16];
    int q[256];  // biased: 0..63
    for (int j = 0; j < 16; ++j) {
      sc[j] = static_cast<int8_t>(d > 0 ? Clamp(static_cast<long>(std::ceil(s[j] / d)), 0, 127) : 0);
      const float D = d * static_cast<float>(sc[j]);
      for (int l = 0; l < 16; ++l)
        q[16 * j + l] = (D > 0 ? Clamp(std::lround(x[16 * j + l] / D), -32, 31) : 0) + 32;
    }
    uint8_t ql[128] = {}, qh[64] = {};
    for (int h = 0; h < 2; ++h)
      for (int l = 0; l < 32; ++l) {
        const int* y = q + 128 * h;
        const int q1 = y[l], q2 = y[l + 32], q3 = y[l + 64], q4 = y[l + 96];
        ql[64 * h + l] = static_cast<uint8_t>((q1 & 15) | ((q3 & 15) << 4));
        ql[64 * h + l + 32] = static_cast<uint8_t>((q2 & 15) | ((q4 & 15) << 4));
        qh[32 * h + l] = static_cast<uint8_t>((q1 >> 4) | ((q2 >> 4) << 2) | ((q3 >> 4) << 4) | ((q4 >> 4) << 6));
      }
    out.append(reinterpret_cast<const char*>(ql), 128);
    out.append(reinterpret_cast<const char*>(qh), 64);
    out.append(reinterpret_cast<const char*>(sc), 16);
    PutF16(&out, d);
  }
  return out;
}

StatusOr<std::string> QuantizeRow(uint32_t type, const float* x, int64_t n) {
  RETURN_IF_ERROR(GgmlRowBytes(type, n).status());
  std::string out;
  switch (static_cast<GgmlType>(type)) {
    case GgmlType::kF32: return std::string(reinterpret_cast<const char*>(x), static_cast<size_t>(n) * 4);
    case GgmlType::kF16:
      for (int64_t i = 0; i < n; ++i) PutF16(&out, x[i]);
      return out;
    case GgmlType::kBF16:
      for (int64_t i = 0; i < n; ++i) {
        const uint16_t h = FloatToBf16(x[i]);
        out.push_back(static_cast<char>(h & 0xff));
        out.push_back(static_cast<char>(h >> 8));
      }
      return out;
    case GgmlType::kQ8_0: return QuantizeQ8_0(x, n);
    case GgmlType::kQ4_0: return QuantizeQ4_0(x, n);
    case GgmlType::kQ4_1: return QuantizeQ4_1(x, n);
    case GgmlType::kQ4_K: return QuantizeQ4_K(x, n);
    case GgmlType::kQ5_K: return QuantizeQ5_K(x, n);
    case GgmlType::kQ6_K: return QuantizeQ6_K(x, n);
    default: return Unimplemented("no reference quantizer for ggml type {}", GgmlTypeName(type));
  }
}

float QuantErrorBound(uint32_t type, const float* x) {
  const auto block = GgmlBlockSize(type);
  const int n = block ? static_cast<int>(block->block_elems) : 1;
  const float amax = AbsMax(x, n);
  // Block scales are fp16: near zero their absolute resolution (2^-24) adds
  // a little error of its own.
  constexpr float kAbs = 1e-7f;
  switch (static_cast<GgmlType>(type)) {
    case GgmlType::kF32: return 0;
    case GgmlType::kF16: return amax * 0x1p-11f + 0x1p-24f;
    case GgmlType::kBF16: return amax * 0x1p-8f;
    case GgmlType::kQ8_0: return amax / 254 * 1.01f + kAbs;
    case GgmlType::kQ4_0: return amax / 8 * 1.01f + kAbs;
    case GgmlType::kQ4_1: {
      const float range = *std::max_element(x, x + n) - *std::min_element(x, x + n);
      return range / 30 * 1.01f + amax * 0x1p-10f + kAbs;
    }
    case GgmlType::kQ4_K: return amax * 0.078f + kAbs;
    case GgmlType::kQ5_K: return amax * 0.042f + kAbs;
    case GgmlType::kQ6_K: return amax * 0.033f + kAbs;
    default: return 0;
  }
}

}  // namespace seedtune::testing
