#include "formats/dequant.h"

#include <cstring>
#include <limits>

#include "core/half.h"
#include "formats/gguf.h"

namespace seedtune {
namespace {

inline float LoadF16(const uint8_t* p) { return Fp16ToFloat(static_cast<uint16_t>(p[0] | (p[1] << 8))); }

struct TypeRow {
  uint32_t type;
  const char* name;
  int64_t block_elems;
  int64_t block_bytes;
  bool dequant;  // DequantizeRow supports it
};

// ggml's type numbering and block geometry. Numbers 4, 5 and 31..33 were
// retired by ggml; Q8_1 (9) is left out because references disagree on its
// block size and it never appears in model files; newer numbers (40+) are
// unknown here. Unknown types are rejected when a file is opened.
constexpr TypeRow kTypes[] = {
    {0, "F32", 1, 4, true},          {1, "F16", 1, 2, true},          {2, "Q4_0", 32, 18, true},
    {3, "Q4_1", 32, 20, true},       {6, "Q5_0", 32, 22, false},      {7, "Q5_1", 32, 24, false},
    {8, "Q8_0", 32, 34, true},       {10, "Q2_K", 256, 84, false},
    {11, "Q3_K", 256, 110, false},   {12, "Q4_K", 256, 144, true},    {13, "Q5_K", 256, 176, true},
    {14, "Q6_K", 256, 210, true},    {15, "Q8_K", 256, 292, false},   {16, "IQ2_XXS", 256, 66, false},
    {17, "IQ2_XS", 256, 74, false},  {18, "IQ3_XXS", 256, 98, false}, {19, "IQ1_S", 256, 50, false},
    {20, "IQ4_NL", 32, 18, false},   {21, "IQ3_S", 256, 110, false},  {22, "IQ2_S", 256, 82, false},
    {23, "IQ4_XS", 256, 136, false}, {24, "I8", 1, 1, false},         {25, "I16", 1, 2, false},
    {26, "I32", 1, 4, false},        {27, "I64", 1, 8, false},        {28, "F64", 1, 8, false},
    {29, "IQ1_M", 256, 56, false},   {30, "BF16", 1, 2, true},        {34, "TQ1_0", 256, 54, false},
    {35, "TQ2_0", 256, 66, false},   {39, "MXFP4", 32, 17, false},
};

const TypeRow* FindType(uint32_t type) {
  for (const auto& t : kTypes)
    if (t.type == type) return &t;
  return nullptr;
}

}  // namespace

const char* GgmlTypeName(uint32_t type) {
  const TypeRow* t = FindType(type);
  return t ? t->name : "unknown";
}

std::optional<GgmlBlockInfo> GgmlBlockSize(uint32_t type) {
  const TypeRow* t = FindType(type);
  if (!t) return std::nullopt;
  return GgmlBlockInfo{t->block_elems, t->block_bytes};
}

bool GgmlCanDequantize(uint32_t type) {
  const TypeRow* t = FindType(type);
  return t != nullptr && t->dequant;
}

StatusOr<size_t> GgmlRowBytes(uint32_t type, int64_t n) {
  const TypeRow* t = FindType(type);
  if (!t) return InvalidArgument("unknown ggml type {}", type);
  if (n < 0) return InvalidArgument("negative element count {} for ggml type {}", n, t->name);
  if (n % t->block_elems != 0)
    return InvalidArgument("{} elements is not a multiple of the {} block size {}", n, t->name, t->block_elems);
  const int64_t blocks = n / t->block_elems;
  if (blocks > std::numeric_limits<int64_t>::max() / t->block_bytes)
    return InvalidArgument("{} elements of {} overflow the byte count", n, t->name);
  return static_cast<size_t>(blocks * t->block_bytes);
}

Status DequantizeRow(uint32_t type, const uint8_t* src, int64_t n, float* dst) {
  const TypeRow* t = FindType(type);
  if (!t) return InvalidArgument("unknown ggml type {}", type);
  if (!t->dequant) return Unimplemented("dequantization of ggml type {} ({}) is not supported", t->name, type);
  ASSIGN_OR_RETURN(size_t bytes, GgmlRowBytes(type, n));
  (void)bytes;
  const int64_t nb = n / t->block_elems;
  switch (static_cast<GgmlType>(type)) {
    case GgmlType::kF32: DequantizeF32(src, n, dst); break;
    case GgmlType::kF16: DequantizeF16(src, n, dst); break;
    case GgmlType::kBF16: DequantizeBF16(src, n, dst); break;
    case GgmlType::kQ8_0: DequantizeQ8_0(src, nb, dst); break;
    case GgmlType::kQ4_0: DequantizeQ4_0(src, nb, dst); break;
    case GgmlType::kQ4_1: DequantizeQ4_1(src, nb, dst); break;
    case GgmlType::kQ4_K: DequantizeQ4_K(src, nb, dst); break;
    case GgmlType::kQ5_K: DequantizeQ5_K(src, nb, dst); break;
    case GgmlType::kQ6_K: DequantizeQ6_K(src, nb, dst); break;
    default: return InternalError("ggml type {} marked dequantizable but has no dequantizer", t->name);
  }
  return Status::Ok();
}

// F32: little-endian IEEE single precision, copied as is.
void DequantizeF32(const uint8_t* src, int64_t n, float* dst) {
  std::memcpy(dst, src, static_cast<size_t>(n) * 4);
}

// F16: IEEE half precision, converted exactly.
void DequantizeF16(const uint8_t* src, int64_t n, float* dst) {
  for (int64_t i = 0; i < n; ++i) dst[i] = LoadF16(src + 2 * i);
}

// BF16: the upper 16 bits of an fp32, converted exactly.
void DequantizeBF16(const uint8_t* src, int64_t n, float* dst) {
  for (int64_t i = 0; i < n; ++i) dst[i] = Bf16ToFloat(static_cast<uint16_t>(src[2 * i] | (src[2 * i + 1] << 8)));
}

// Q8_0 block (34 bytes, 32 elements): fp16 d at bytes 0..1, then 32 int8
// values q[j]; element j = float(q[j]) * d.
void DequantizeQ8_0(const uint8_t* src, int64_t nblocks, float* dst) {
  for (int64_t b = 0; b < nblocks; ++b, src += 34, dst += 32) {
    const float d = LoadF16(src);
    for (int j = 0; j < 32; ++j) dst[j] = static_cast<float>(static_cast<int8_t>(src[2 + j])) * d;
  }
}

// Q4_0 block (18 bytes, 32 elements): fp16 d, then 16 bytes qs. Element j
// (j < 16) is the low nibble of qs[j], element j + 16 its high nibble; the
// value is (nibble - 8) * d.
void DequantizeQ4_0(const uint8_t* src, int64_t nblocks, float* dst) {
  for (int64_t b = 0; b < nblocks; ++b, src += 18, dst += 32) {
    const float d = LoadF16(src);
    const uint8_t* qs = src + 2;
    for (int j = 0; j < 16; ++j) {
      dst[j] = static_cast<float>((qs[j] & 0x0f) - 8) * d;
      dst[j + 16] = static_cast<float>((qs[j] >> 4) - 8) * d;
    }
  }
}

// Q4_1 block (20 bytes, 32 elements): fp16 d, fp16 m, then 16 bytes qs with
// the same nibble order as Q4_0; the value is nibble * d + m.
void DequantizeQ4_1(const uint8_t* src, int64_t nblocks, float* dst) {
  for (int64_t b = 0; b < nblocks; ++b, src += 20, dst += 32) {
    const float d = LoadF16(src);
    const float m = LoadF16(src + 2);
    const uint8_t* qs = src + 4;
    for (int j = 0; j < 16; ++j) {
      dst[j] = static_cast<float>(qs[j] & 0x0f) * d + m;
      dst[j + 16] = static_cast<float>(qs[j] >> 4) * d + m;
    }
  }
}

void GgmlKScaleMin(int j, const uint8_t* s, uint8_t* sc, uint8_t* m) {
  if (j < 4) {
    *sc = s[j] & 63;
    *m = s[j + 4] & 63;
  } else {
    *sc = static_cast<uint8_t>((s[j + 4] & 0x0f) | ((s[j - 4] >> 6) << 4));
    *m = static_cast<uint8_t>((s[j + 4] >> 4) | ((s[j] >> 6) << 4));
  }
}

// Q4_K super-block (144 bytes, 256 elements): fp16 d, fp16 dmin, 12 bytes of
// packed 6-bit (scale, min) pairs for 8 sub-blocks of 32 (GgmlKScaleMin), and
// 128 bytes qs. The elements come in 4 chunks of 64: chunk c uses qs[32c ..
// 32c+31]; element 64c + l (l < 32) is the low nibble of qs[32c + l] in
// sub-block 2c, element 64c + 32 + l its high nibble in sub-block 2c + 1.
// Value = (d * sc) * nibble - (dmin * m).
void DequantizeQ4_K(const uint8_t* src, int64_t nblocks, float* dst) {
  for (int64_t b = 0; b < nblocks; ++b, src += 144, dst += 256) {
    const float d = LoadF16(src);
    const float dmin = LoadF16(src + 2);
    const uint8_t* scales = src + 4;
    const uint8_t* qs = src + 16;
    for (int c = 0; c < 4; ++c) {
      uint8_t sc, m;
      GgmlKScaleMin(2 * c, scales, &sc, &m);
      const float d1 = d * static_cast<float>(sc), m1 = dmin * static_cast<float>(m);
      GgmlKScaleMin(2 * c + 1, scales, &sc, &m);
      const float d2 = d * static_cast<float>(sc), m2 = dmin * static_cast<float>(m);
      const uint8_t* q = qs + 32 * c;
      float* y = dst + 64 * c;
      for (int l = 0; l < 32; ++l) y[l] = d1 * static_cast<float>(q[l] & 0x0f) - m1;
      for (int l = 0; l < 32; ++l) y[32 + l] = d2 * static_cast<float>(q[l] >> 4) - m2;
    }
  }
}

// Q5_K super-block (176 bytes, 256 elements): fp16 d, fp16 dmin, 12 bytes of
// scales/mins as in Q4_K, 32 bytes qh, 128 bytes qs. The 4 low bits come from
// qs exactly as in Q4_K; the fifth bit of element 64c + l is bit 2c of qh[l]
// and that of element 64c + 32 + l is bit 2c + 1 of qh[l].
// Value = (d * sc) * q5 - (dmin * m).
void DequantizeQ5_K(const uint8_t* src, int64_t nblocks, float* dst) {
  for (int64_t b = 0; b < nblocks; ++b, src += 176, dst += 256) {
    const float d = LoadF16(src);
    const float dmin = LoadF16(src + 2);
    const uint8_t* scales = src + 4;
    const uint8_t* qh = src + 16;
    const uint8_t* qs = src + 48;
    for (int c = 0; c < 4; ++c) {
      uint8_t sc, m;
      GgmlKScaleMin(2 * c, scales, &sc, &m);
      const float d1 = d * static_cast<float>(sc), m1 = dmin * static_cast<float>(m);
      GgmlKScaleMin(2 * c + 1, scales, &sc, &m);
      const float d2 = d * static_cast<float>(sc), m2 = dmin * static_cast<float>(m);
      const uint8_t* q = qs + 32 * c;
      const uint8_t u1 = static_cast<uint8_t>(1u << (2 * c)), u2 = static_cast<uint8_t>(2u << (2 * c));
      float* y = dst + 64 * c;
      for (int l = 0; l < 32; ++l)
        y[l] = d1 * static_cast<float>((q[l] & 0x0f) + ((qh[l] & u1) ? 16 : 0)) - m1;
      for (int l = 0; l < 32; ++l)
        y[32 + l] = d2 * static_cast<float>((q[l] >> 4) + ((qh[l] & u2) ? 16 : 0)) - m2;
    }
  }
}

// Q6_K super-block (210 bytes, 256 elements): ql[128] (low 4 bits), qh[64]
// (high 2 bits), int8 scales[16] (one per 16 elements), fp16 d. Two halves of
// 128 elements; half h uses ql[64h ..], qh[32h ..]. Within a half, for l < 32:
//   element l      : low nibble of ql[l],      bits 0-1 of qh[l]
//   element l + 32 : low nibble of ql[l + 32], bits 2-3 of qh[l]
//   element l + 64 : high nibble of ql[l],     bits 4-5 of qh[l]
//   element l + 96 : high nibble of ql[l + 32], bits 6-7 of qh[l]
// q6 = (nibble | high2 << 4) - 32; element e (0..255) has scale scales[e / 16];
// value = (d * scale) * q6.
void DequantizeQ6_K(const uint8_t* src, int64_t nblocks, float* dst) {
  for (int64_t b = 0; b < nblocks; ++b, src += 210, dst += 256) {
    const uint8_t* ql = src;
    const uint8_t* qh = src + 128;
    const int8_t* sc = reinterpret_cast<const int8_t*>(src + 192);
    const float d = LoadF16(src + 208);
    for (int h = 0; h < 2; ++h) {
      const uint8_t* l4 = ql + 64 * h;
      const uint8_t* h2 = qh + 32 * h;
      const int8_t* s = sc + 8 * h;
      float* y = dst + 128 * h;
      for (int l = 0; l < 32; ++l) {
        const int is = l / 16;
        const int q1 = ((l4[l] & 0x0f) | (((h2[l] >> 0) & 3) << 4)) - 32;
        const int q2 = ((l4[l + 32] & 0x0f) | (((h2[l] >> 2) & 3) << 4)) - 32;
        const int q3 = ((l4[l] >> 4) | (((h2[l] >> 4) & 3) << 4)) - 32;
        const int q4 = ((l4[l + 32] >> 4) | (((h2[l] >> 6) & 3) << 4)) - 32;
        y[l] = d * static_cast<float>(s[is + 0]) * static_cast<float>(q1);
        y[l + 32] = d * static_cast<float>(s[is + 2]) * static_cast<float>(q2);
        y[l + 64] = d * static_cast<float>(s[is + 4]) * static_cast<float>(q3);
        y[l + 96] = d * static_cast<float>(s[is + 6]) * static_cast<float>(q4);
      }
    }
  }
}

}  // namespace seedtune
