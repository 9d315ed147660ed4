#include "kernels/matmul.h"

#include <cblas.h>

#include <algorithm>
#include <mutex>

namespace seedtune {

extern "C" void openblas_set_num_threads(int num_threads);

void InitBlasSingleThreaded() {
  static std::once_flag once;
  std::call_once(once, [] { openblas_set_num_threads(1); });
}

namespace {

// Tile sizes chosen from the shape only (never from the thread count).
// Row tiles of 128 keep OpenBLAS's packing of the weight panel amortised;
// column tiles of 256 give enough tiles to balance threads for small m
// (e.g. decoding one token, or the vocabulary projection of a few rows).
constexpr int64_t kRowTile = 128;
constexpr int64_t kColTile = 256;
// Up to this many rows, each row is a matrix-vector product.
constexpr int64_t kGemvRows = 2;

}  // namespace

void MatMulTransB(ThreadingContext& ctx, const float* x, int64_t m, int64_t k, const float* w, int64_t n,
                  const float* bias, float* y) {
  InitBlasSingleThreaded();
  if (m <= 0 || n <= 0) return;
  const int64_t row_tiles = (m + kRowTile - 1) / kRowTile;
  const int64_t col_tiles = (n + kColTile - 1) / kColTile;
  ctx.ParallelFor(static_cast<size_t>(row_tiles * col_tiles), [&](size_t task, int) {
    const int64_t rt = static_cast<int64_t>(task) / col_tiles, ct = static_cast<int64_t>(task) % col_tiles;
    const int64_t r0 = rt * kRowTile, c0 = ct * kColTile;
    const int64_t rows = std::min(kRowTile, m - r0), cols = std::min(kColTile, n - c0);
    float* out = y + r0 * n + c0;
    if (k == 0) {
      for (int64_t i = 0; i < rows; ++i) std::fill(out + i * n, out + i * n + cols, 0.0f);
    } else if (m <= kGemvRows) {
      // Decoding: SGEMM would pack (copy) the weight panel for one or two
      // rows; SGEMV streams it once.
      for (int64_t i = 0; i < rows; ++i)
        cblas_sgemv(CblasRowMajor, CblasNoTrans, static_cast<int>(cols), static_cast<int>(k), 1.0f, w + c0 * k,
                    static_cast<int>(k), x + (r0 + i) * k, 1, 0.0f, out + i * n, 1);
    } else {
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(rows), static_cast<int>(cols),
                  static_cast<int>(k), 1.0f, x + r0 * k, static_cast<int>(k), w + c0 * k, static_cast<int>(k), 0.0f,
                  out, static_cast<int>(n));
    }
    if (bias != nullptr) {
      for (int64_t i = 0; i < rows; ++i)
        for (int64_t j = 0; j < cols; ++j) out[i * n + j] += bias[c0 + j];
    }
  });
}

void MatMulTransBReference(const float* x, int64_t m, int64_t k, const float* w, int64_t n, const float* bias,
                           float* y) {
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = 0; j < n; ++j) {
      float acc = 0.0f;
      for (int64_t p = 0; p < k; ++p) acc += x[i * k + p] * w[j * k + p];
      y[i * n + j] = bias != nullptr ? acc + bias[j] : acc;
    }
  }
}

}  // namespace seedtune
