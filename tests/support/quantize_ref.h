// Reference quantizers (fp32 -> ggml block bytes) for tests and fixture
// writers. They produce valid blocks that dequantize close to the input; they
// do not reproduce ggml's quantizer choices (which search for better scales).
//
// Worst-case absolute error of QuantizeRow followed by DequantizeRow, with
// amax = max |x| over the block (super-block for K-quants) and range = max - min
// of the block:
//   Q8_0  amax / 254  (+ fp16 rounding of the scale)
//   Q4_0  amax / 8    (ggml's scheme: d = max / -8, the far side clamps at +7)
//   Q4_1  range / 30  (+ fp16 rounding of the min)
//   Q4_K  ~0.077 amax (step / 2 + min-rounding, 6-bit scale quantization included)
//   Q5_K  ~0.041 amax
//   Q6_K  ~0.032 amax
// See QuantErrorBound().
#pragma once

#include <cstdint>
#include <string>

#include "core/status.h"

namespace seedtune::testing {

std::string QuantizeQ8_0(const float* x, int64_t n);
std::string QuantizeQ4_0(const float* x, int64_t n);
std::string QuantizeQ4_1(const float* x, int64_t n);
std::string QuantizeQ4_K(const float* x, int64_t n);
std::string QuantizeQ5_K(const float* x, int64_t n);
std::string QuantizeQ6_K(const float* x, int64_t n);

// Any of the above, plus F32 (exact), F16 and BF16 (round to nearest even).
// n must be a multiple of the type's block size.
StatusOr<std::string> QuantizeRow(uint32_t type, const float* x, int64_t n);

// Upper bound on |dequant(quant(x)) - x| for the block of `type` starting at
// x (block_elems values), per the table above (with a little slack).
float QuantErrorBound(uint32_t type, const float* block);

}  // namespace seedtune::testing
