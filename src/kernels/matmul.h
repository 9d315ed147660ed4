// Y[m, n] = X[m, k] * W[n, k]^T (+ bias[n]) on a row-major W, through
// OpenBLAS. The forward pass uses it only for decoding (a row or two, where a
// matrix-vector product reads W once); linear layers otherwise run on
// kernels/gemm.h over packed weights.
#pragma once

#include <cstdint>

#include "core/threading.h"

namespace seedtune {

// Optimized: OpenBLAS SGEMM, single-threaded per call, over a grid of output
// tiles that depends only on (m, n, k); threads take whole tiles. Results are
// therefore bit-identical for any thread count.
void MatMulTransB(ThreadingContext& ctx, const float* x, int64_t m, int64_t k, const float* w, int64_t n,
                  const float* bias, float* y);

// Scalar reference: plain triple loop, fp32 accumulation in increasing k.
void MatMulTransBReference(const float* x, int64_t m, int64_t k, const float* w, int64_t n, const float* bias,
                           float* y);

// Must be called once before MatMulTransB is used from several threads (also
// done by the first ThreadingContext user): makes OpenBLAS single-threaded so
// the only parallelism is ours.
void InitBlasSingleThreaded();

}  // namespace seedtune
