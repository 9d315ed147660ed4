// Dequantization of ggml tensor types to fp32 (scalar, portable, exact: every
// function does the same float operations in the same order as ggml's
// reference dequantizers, so results are bit-identical to them).
//
// Block layouts (all little-endian; "fp16" is IEEE half precision):
//   F32   1 element  / 4 bytes
//   F16   1 element  / 2 bytes
//   BF16  1 element  / 2 bytes (upper half of an fp32)
//   Q8_0  32 elements / 34 bytes:  fp16 d, int8 q[32];                 x = q*d
//   Q4_0  32 elements / 18 bytes:  fp16 d, uint8 qs[16];               x = (nib-8)*d
//   Q4_1  32 elements / 20 bytes:  fp16 d, fp16 m, uint8 qs[16];       x = nib*d + m
//          (Q4_0/Q4_1: low nibble of qs[j] is element j, high nibble element j+16)
//   Q4_K  256 elements / 144 bytes: fp16 d, fp16 dmin, uint8 scales[12], uint8 qs[128]
//   Q5_K  256 elements / 176 bytes: fp16 d, fp16 dmin, uint8 scales[12], uint8 qh[32], uint8 qs[128]
//   Q6_K  256 elements / 210 bytes: uint8 ql[128], uint8 qh[64], int8 scales[16], fp16 d
// The K-quant layouts are spelled out next to each function in dequant.cc.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>

#include "core/status.h"

namespace seedtune {

// Elements per block and bytes per block of a ggml type. Known for every
// ggml type number seedtune can meet in a file (including the ones it cannot
// dequantize, so a container can still bounds-check them); nullopt for
// numbers it does not know at all.
struct GgmlBlockInfo {
  int64_t block_elems = 0;
  int64_t block_bytes = 0;
};
std::optional<GgmlBlockInfo> GgmlBlockSize(uint32_t type);

// Whether DequantizeRow supports `type`.
bool GgmlCanDequantize(uint32_t type);

// Bytes taken by a row of n elements of `type`. Errors: unknown type,
// n negative or not a multiple of the block size, overflow.
StatusOr<size_t> GgmlRowBytes(uint32_t type, int64_t n);

// Dequantizes n elements (a multiple of the type's block size) of `type` from
// src (GgmlRowBytes(type, n) bytes) into dst. Unimplemented, naming the type,
// for ggml types without a dequantizer here (Q5_0, Q5_1, Q2_K, Q3_K, IQ*, ...).
Status DequantizeRow(uint32_t type, const uint8_t* src, int64_t n, float* dst);

// The per-type scalar dequantizers, without validation. F32/F16/BF16 take an
// element count n; the block types take `nblocks` blocks and write
// nblocks * block_elems floats.
void DequantizeF32(const uint8_t* src, int64_t n, float* dst);
void DequantizeF16(const uint8_t* src, int64_t n, float* dst);
void DequantizeBF16(const uint8_t* src, int64_t n, float* dst);
void DequantizeQ8_0(const uint8_t* src, int64_t nblocks, float* dst);
void DequantizeQ4_0(const uint8_t* src, int64_t nblocks, float* dst);
void DequantizeQ4_1(const uint8_t* src, int64_t nblocks, float* dst);
void DequantizeQ4_K(const uint8_t* src, int64_t nblocks, float* dst);
void DequantizeQ5_K(const uint8_t* src, int64_t nblocks, float* dst);
void DequantizeQ6_K(const uint8_t* src, int64_t nblocks, float* dst);

// The 6-bit scale and min of sub-block j (0..7) from the 12 packed bytes of a
// Q4_K / Q5_K super-block:
//   j < 4:  sc = s[j] & 63,                            m = s[j+4] & 63
//   j >= 4: sc = (s[j+4] & 15) | ((s[j-4] >> 6) << 4),  m = (s[j+4] >> 4) | ((s[j] >> 6) << 4)
void GgmlKScaleMin(int j, const uint8_t* scales, uint8_t* sc, uint8_t* m);

}  // namespace seedtune
