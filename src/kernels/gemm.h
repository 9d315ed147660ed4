// The project's own GEMM for linear layers: Y[m, n] = X[m, k] W[n, k]^T
// (+ bias[n]), with W repacked into panels that the micro-kernels stream.
//
// Why our own and not a library: every perturbed forward materialises
// theta + s * eps * z per tensor, and writing it straight into the packed
// layout saves a pass over the weights that a library's own packing would
// repeat; and the contract below (every output element is one fixed FMA chain)
// is something no BLAS promises. Kernels are chosen from the CPU's ISA
// features (kernels/cpu.h), never from a model-number table.
//
// Contract, on every SIMD path: output element (i, j) is
//   acc = 0; for p = 0 .. k-1: acc = fma(x[i, p], w[j, p], acc);
//   y[i, j] = bias ? acc + bias[j] : acc
// so results are bit-identical for any thread count, any tiling, any SIMD
// path, and a row's result never depends on the other rows of the batch.
// GemmReference is that loop, written plainly: the oracle of the tests.
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/threading.h"
#include "kernels/cpu.h"

namespace seedtune {

// Blocking of one SIMD path (fixed per path; never depends on thread count).
struct GemmGeometry {
  int mr;  // rows of X per micro-kernel call
  int nr;  // weight rows (output columns) per packed panel
  int kc;  // K block (large: re-loading partial sums cost more than the panel
           // slice falling out of L1 to L2, measured on Zen 3)
  int mc;  // rows of X per task (multiple of mr)
  int nc;  // output columns per task (multiple of nr)
};
GemmGeometry GemmGeometryFor(SimdLevel level);
// "avx2 6x16 fma" etc.: which micro-kernel the level runs (benchmarks print it).
const char* GemmKernelName(SimdLevel level);

// Packed layout for panel width nr: panel p holds weight rows [p*nr, p*nr+nr)
// as k consecutive groups of nr floats (element (r, c) at p*nr*k + c*nr + r%nr);
// rows past n are zero.
size_t PackedWeightFloats(int64_t n, int64_t k, int nr);

// Packs `rows` consecutive weight rows (src: rows x k, row-major), which are
// rows [row0, row0 + rows) of the matrix, into `packed`. row0 must be a
// multiple of nr; if row0 + rows is not, the last panel's remaining rows are
// zero-filled (so the rows must then end the matrix).
void PackWeightRows(const float* src, int64_t rows, int64_t k, int nr, int64_t row0, float* packed);

// Y = X W^T (+ bias) with W packed for GemmGeometryFor(level).nr. Tasks are
// (mc x nc) output tiles spread over ctx's threads.
void GemmPacked(ThreadingContext& ctx, SimdLevel level, const float* x, int64_t m, int64_t k, const float* packed,
                int64_t n, const float* bias, float* y);

// The contract's loop, plain scalar code with std::fma (test oracle).
void GemmReference(const float* x, int64_t m, int64_t k, const float* w, int64_t n, const float* bias, float* y);

}  // namespace seedtune
