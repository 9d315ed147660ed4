// y[m, n] = x[m, k] w[n, k]^T (+ bias[n]) on a row-major, unpacked w, for a
// row or two: decoding, where a matrix-vector product reads the weights once
// and packing them first (kernels/gemm.h) would read them twice.
//
// Our own instead of a BLAS sgemv: decoding is bound by the weight stream,
// which a plain SIMD dot product already saturates, and linking OpenBLAS into
// the binary for it cost every run its thread pool (a worker spinning on
// sched_yield for ~0.1 s after start-up, taking a core from the first steps).
//
// Output columns are split into fixed blocks of kGemvColumns (never by thread
// count), and each output's dot product has a fixed order per SIMD path, so
// results are bit-identical for any thread count. The scalar level is the
// GEMM contract's loop (GemmReference), the oracle of the tests.
#pragma once

#include <cstdint>

#include "core/threading.h"
#include "kernels/cpu.h"

namespace seedtune {

inline constexpr int64_t kGemvColumns = 256;

void Gemv(ThreadingContext& ctx, SimdLevel level, const float* x, int64_t m, int64_t k, const float* w, int64_t n,
          const float* bias, float* y);

}  // namespace seedtune
