// Row kernels of the transformer forward pass. Each function has a plain
// scalar twin named ...Reference that is the specification; the plain name
// dispatches to an AVX2 path when the given SimdLevel allows it (the overload
// without a level uses ActiveSimdLevel(), kernels/cpu.h; a Transformer passes
// its own level, so a scalar and a SIMD model can run side by side). Kernels
// are single-threaded: callers parallelise over rows with shape-derived
// chunks, so results do not depend on the thread count.
#pragma once

#include <cstdint>

#include "kernels/cpu.h"

namespace seedtune {

enum class KernelActivation { kSilu, kRelu, kGeluTanh, kGeluErf };

// out[r, :] = x[r, :] / sqrt(mean(x[r, :]^2) + eps) * w          (Llama RMSNorm)
void RmsNorm(const float* x, const float* w, int64_t rows, int64_t d, float eps, float* out);
void RmsNorm(SimdLevel level, const float* x, const float* w, int64_t rows, int64_t d, float eps, float* out);
void RmsNormReference(const float* x, const float* w, int64_t rows, int64_t d, float eps, float* out);

// out[r, :] = (x - mean) / sqrt(var + eps) * w + b, biased variance (LayerNorm)
void LayerNorm(const float* x, const float* w, const float* b, int64_t rows, int64_t d, float eps, float* out);
void LayerNorm(SimdLevel level, const float* x, const float* w, const float* b, int64_t rows, int64_t d, float eps,
               float* out);
void LayerNormReference(const float* x, const float* w, const float* b, int64_t rows, int64_t d, float eps,
                        float* out);

// out[i] = silu(gate[i]) * up[i]                                  (SwiGLU)
void SiluMul(const float* gate, const float* up, int64_t n, float* out);
void SiluMul(SimdLevel level, const float* gate, const float* up, int64_t n, float* out);
void SiluMulReference(const float* gate, const float* up, int64_t n, float* out);

// x[i] = act(x[i]) in place.
void Activate(KernelActivation act, float* x, int64_t n);
void Activate(SimdLevel level, KernelActivation act, float* x, int64_t n);
void ActivateReference(KernelActivation act, float* x, int64_t n);

// y[i] += x[i]
void AddInPlace(const float* x, float* y, int64_t n);
void AddInPlace(SimdLevel level, const float* x, float* y, int64_t n);

// log(sum_i exp(x[i])), stable.
float LogSumExp(const float* x, int64_t n);
float LogSumExp(SimdLevel level, const float* x, int64_t n);
float LogSumExpReference(const float* x, int64_t n);

// Rotary embedding of `rows` vectors of `num_heads` heads (row stride
// `row_stride` floats, head h at offset h * head_stride), rotating the first
// rotary_dim dims of each head at angle pos * inv_freq[i]; cos_sin holds, per
// row, rotary_dim/2 cosines then rotary_dim/2 sines.
// interleaved: pairs (2i, 2i+1); otherwise rotate-half pairs (i, i + rotary_dim/2).
void ApplyRope(float* x, int64_t rows, int64_t row_stride, int64_t num_heads, int64_t head_stride,
               int64_t rotary_dim, bool interleaved, const float* cos_sin);

// Causal attention for one head of one sequence. Queries: `len` rows at
// q (stride q_stride), at positions past .. past+len-1. Keys/values: rows
// 0 .. past+len-1 at k / v (strides kv_stride). Query i attends to keys
// 0 .. past+i. Output: `len` rows of head_dim at out (stride out_stride).
// scratch: at least past+len floats. out may be q itself (same strides): each
// query row is read in full before its output row is written.
void AttentionHead(const float* q, int64_t q_stride, const float* k, const float* v, int64_t kv_stride, int64_t past,
                   int64_t len, int64_t head_dim, float scale, float* out, int64_t out_stride, float* scratch);
void AttentionHead(SimdLevel level, const float* q, int64_t q_stride, const float* k, const float* v,
                   int64_t kv_stride, int64_t past, int64_t len, int64_t head_dim, float scale, float* out,
                   int64_t out_stride, float* scratch);
void AttentionHeadReference(const float* q, int64_t q_stride, const float* k, const float* v, int64_t kv_stride,
                            int64_t past, int64_t len, int64_t head_dim, float scale, float* out, int64_t out_stride,
                            float* scratch);

}  // namespace seedtune
