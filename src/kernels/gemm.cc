#include "kernels/gemm.h"

#include <immintrin.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <utility>

namespace seedtune {

namespace {

// One micro-tile: C[R x nr] at c (row stride ldc) gets the products of R rows
// of X (x, row stride ldx, already offset to the K block; read in place: a
// packed copy of X cost more than it saved on these shapes) with a kc x nr
// panel slice b. load_c: continue the chains from C's partial sums (a later K
// block); otherwise start at 0. bias (null unless this is the last K block)
// is added once at the end. cols < nr: only the first cols columns are real.
using MicroFn = void (*)(const float* x, int64_t ldx, const float* b, int64_t kc, float* c, int64_t ldc, bool load_c,
                         const float* bias, int cols);

// ------------------------------------------------------------ scalar path

constexpr int kScalarMr = 4, kScalarNr = 16;

template <int R>
void MicroScalar(const float* x, int64_t ldx, const float* b, int64_t kc, float* c, int64_t ldc, bool load_c,
                 const float* bias, int cols) {
  float acc[R][kScalarNr];
  for (int r = 0; r < R; ++r)
    for (int j = 0; j < kScalarNr; ++j) acc[r][j] = load_c && j < cols ? c[r * ldc + j] : 0.0f;
  for (int64_t p = 0; p < kc; ++p)
    for (int r = 0; r < R; ++r) {
      const float a = x[r * ldx + p];
      for (int j = 0; j < kScalarNr; ++j) acc[r][j] = std::fma(a, b[p * kScalarNr + j], acc[r][j]);
    }
  for (int r = 0; r < R; ++r)
    for (int j = 0; j < cols; ++j) c[r * ldc + j] = bias != nullptr ? acc[r][j] + bias[j] : acc[r][j];
}

// ------------------------------------------------------------ SIMD paths
//
// Both SIMD micro-kernels are the same code over two vector widths: two
// vectors of output columns per row, R rows, one broadcast of x[r, p] per row
// and K step. A partial column block goes through a padded stack copy.

#define ST_GEMM_MICRO(NAME, ATTR, VEC, LANES, LOAD, LOADU, STOREU, ZERO, BCAST, FMA, ADD)                         \
  template <int R>                                                                                              \
  ATTR void NAME(const float* x, int64_t ldx, const float* b, int64_t kc, float* c, int64_t ldc, bool load_c,   \
                 const float* bias, int cols) {                                                                  \
    constexpr int kNr = 2 * (LANES);                                                                            \
    alignas(64) float edge[R][kNr];                                                                             \
    float* out = c;                                                                                             \
    int64_t ldo = ldc;                                                                                          \
    if (cols < kNr) {                                                                                           \
      for (int r = 0; r < R; ++r)                                                                               \
        for (int j = 0; j < kNr; ++j) edge[r][j] = load_c && j < cols ? c[r * ldc + j] : 0.0f;                  \
      out = &edge[0][0];                                                                                        \
      ldo = kNr;                                                                                                \
    }                                                                                                           \
    VEC acc0[R], acc1[R];                                                                                       \
    _Pragma("GCC unroll 16") for (int r = 0; r < R; ++r) {                                                      \
      if (load_c) {                                                                                             \
        acc0[r] = LOADU(out + r * ldo);                                                                         \
        acc1[r] = LOADU(out + r * ldo + (LANES));                                                               \
      } else {                                                                                                  \
        acc0[r] = ZERO();                                                                                       \
        acc1[r] = ZERO();                                                                                       \
      }                                                                                                         \
    }                                                                                                           \
    for (int64_t p = 0; p < kc; ++p) {                                                                          \
      const VEC b0 = LOAD(b + p * kNr), b1 = LOAD(b + p * kNr + (LANES));                                       \
      _Pragma("GCC unroll 16") for (int r = 0; r < R; ++r) {                                                    \
        const VEC a = BCAST(x + r * ldx + p);                                                                   \
        acc0[r] = FMA(a, b0, acc0[r]);                                                                          \
        acc1[r] = FMA(a, b1, acc1[r]);                                                                          \
      }                                                                                                         \
    }                                                                                                           \
    if (bias != nullptr) {                                                                                      \
      alignas(64) float padded[kNr] = {};                                                                       \
      for (int j = 0; j < std::min(cols, kNr); ++j) padded[j] = bias[j];                                        \
      const VEC bias0 = LOAD(padded), bias1 = LOAD(padded + (LANES));                                           \
      _Pragma("GCC unroll 16") for (int r = 0; r < R; ++r) {                                                    \
        acc0[r] = ADD(acc0[r], bias0);                                                                          \
        acc1[r] = ADD(acc1[r], bias1);                                                                          \
      }                                                                                                         \
    }                                                                                                           \
    _Pragma("GCC unroll 16") for (int r = 0; r < R; ++r) {                                                      \
      STOREU(out + r * ldo, acc0[r]);                                                                           \
      STOREU(out + r * ldo + (LANES), acc1[r]);                                                                 \
    }                                                                                                           \
    if (cols < kNr)                                                                                             \
      for (int r = 0; r < R; ++r) std::memcpy(c + r * ldc, edge[r], static_cast<size_t>(cols) * sizeof(float)); \
  }

#define ST_AVX2 __attribute__((target("avx2,fma")))
#define ST_AVX512 __attribute__((target("avx512f,fma")))

ST_AVX2 inline __m256 Zero8() { return _mm256_setzero_ps(); }
ST_AVX512 inline __m512 Zero16() { return _mm512_setzero_ps(); }
ST_AVX512 inline __m512 Bcast16(const float* p) { return _mm512_set1_ps(*p); }

ST_GEMM_MICRO(MicroAvx2, ST_AVX2, __m256, 8, _mm256_load_ps, _mm256_loadu_ps, _mm256_storeu_ps, Zero8,
              _mm256_broadcast_ss, _mm256_fmadd_ps, _mm256_add_ps)
ST_GEMM_MICRO(MicroAvx512, ST_AVX512, __m512, 16, _mm512_load_ps, _mm512_loadu_ps, _mm512_storeu_ps, Zero16, Bcast16,
              _mm512_fmadd_ps, _mm512_add_ps)

#undef ST_GEMM_MICRO

// Table of the micro-kernel for R = 1..MR rows (index R).
template <template <int> class Wrap, int... Rs>
constexpr std::array<MicroFn, sizeof...(Rs) + 1> MakeTable(std::integer_sequence<int, Rs...>) {
  return {nullptr, Wrap<Rs + 1>::Fn...};
}
template <int R>
struct ScalarWrap {
  static constexpr MicroFn Fn = &MicroScalar<R>;
};
template <int R>
struct Avx2Wrap {
  static constexpr MicroFn Fn = &MicroAvx2<R>;
};
template <int R>
struct Avx512Wrap {
  static constexpr MicroFn Fn = &MicroAvx512<R>;
};

constexpr int kAvx2Mr = 6, kAvx512Mr = 14;
constexpr auto kScalarTable = MakeTable<ScalarWrap>(std::make_integer_sequence<int, kScalarMr>{});
constexpr auto kAvx2Table = MakeTable<Avx2Wrap>(std::make_integer_sequence<int, kAvx2Mr>{});
constexpr auto kAvx512Table = MakeTable<Avx512Wrap>(std::make_integer_sequence<int, kAvx512Mr>{});

const MicroFn* TableFor(SimdLevel level) {
  switch (level) {
    case SimdLevel::kAvx512: return kAvx512Table.data();
    case SimdLevel::kAvx2: return kAvx2Table.data();
    case SimdLevel::kScalar: break;
  }
  return kScalarTable.data();
}

// One (mc x nc) output tile: K blocks outermost so each kc x nr panel slice
// is reused from L1 by every micro-row of the tile.
void RunTile(const GemmGeometry& g, const MicroFn* micro, const float* x, int64_t k, const float* packed, int64_t n,
             const float* bias, float* y, int64_t r0, int64_t rows, int64_t c0, int64_t cols) {
  for (int64_t pc = 0; pc < k; pc += g.kc) {
    const int64_t kcb = std::min<int64_t>(g.kc, k - pc);
    const bool last = pc + kcb == k;
    for (int64_t j = c0; j < c0 + cols; j += g.nr) {
      const float* b = packed + (j / g.nr) * g.nr * k + pc * g.nr;
      const int panel_cols = static_cast<int>(std::min<int64_t>(g.nr, n - j));
      const float* bj = last && bias != nullptr ? bias + j : nullptr;
      for (int64_t i = r0; i < r0 + rows; i += g.mr) {
        const int rr = static_cast<int>(std::min<int64_t>(g.mr, r0 + rows - i));
        micro[rr](x + i * k + pc, k, b, kcb, y + i * n + j, n, pc > 0, bj, panel_cols);
      }
    }
  }
}

}  // namespace

GemmGeometry GemmGeometryFor(SimdLevel level) {
  switch (level) {
    case SimdLevel::kAvx512: return GemmGeometry{kAvx512Mr, 32, 768, 4 * kAvx512Mr, 768};
    case SimdLevel::kAvx2: return GemmGeometry{kAvx2Mr, 16, 1536, 8 * kAvx2Mr, 768};
    case SimdLevel::kScalar: break;
  }
  return GemmGeometry{kScalarMr, kScalarNr, 256, 16 * kScalarMr, 128};
}

const char* GemmKernelName(SimdLevel level) {
  switch (level) {
    case SimdLevel::kAvx512: return "seedtune avx512 14x32 fma";
    case SimdLevel::kAvx2: return "seedtune avx2 6x16 fma";
    case SimdLevel::kScalar: break;
  }
  return "seedtune scalar 4x16 std::fma";
}

size_t PackedWeightFloats(int64_t n, int64_t k, int nr) {
  return static_cast<size_t>((n + nr - 1) / nr) * static_cast<size_t>(nr) * static_cast<size_t>(k);
}

void PackWeightRows(const float* src, int64_t rows, int64_t k, int nr, int64_t row0, float* packed) {
  // Blocks of kBlock columns: each source row is read a cache line at a time
  // and the block's nr x kBlock destination (a few KB) stays in L1, where a
  // column-at-a-time gather would touch nr lines per column.
  constexpr int64_t kBlock = 16;
  for (int64_t r0 = 0; r0 < rows; r0 += nr) {
    float* panel = packed + ((row0 + r0) / nr) * nr * k;
    const int64_t live = std::min<int64_t>(nr, rows - r0);
    for (int64_t c0 = 0; c0 < k; c0 += kBlock) {
      const int64_t width = std::min(kBlock, k - c0);
      for (int64_t r = 0; r < live; ++r) {
        const float* row = src + (r0 + r) * k + c0;
        float* dst = panel + c0 * nr + r;
        for (int64_t j = 0; j < width; ++j) dst[j * nr] = row[j];
      }
      for (int64_t r = live; r < nr; ++r)
        for (int64_t j = 0; j < width; ++j) panel[(c0 + j) * nr + r] = 0.0f;
    }
  }
}

void GemmPacked(ThreadingContext& ctx, SimdLevel level, const float* x, int64_t m, int64_t k, const float* packed,
                int64_t n, const float* bias, float* y) {
  if (m <= 0 || n <= 0) return;
  if (k == 0) {
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) y[i * n + j] = bias != nullptr ? 0.0f + bias[j] : 0.0f;
    return;
  }
  const GemmGeometry g = GemmGeometryFor(level);
  const MicroFn* micro = TableFor(level);
  // Column tiles of equal width (whole panels), at most nc wide.
  const int64_t col_tiles = (n + g.nc - 1) / g.nc;
  const int64_t panels = (n + g.nr - 1) / g.nr, tile_panels = (panels + col_tiles - 1) / col_tiles;
  const int64_t nc = tile_panels * g.nr;
  // Row tiles of whole micro-rows, about mc rows each, as many as makes the
  // task count a multiple of the thread count (19 tasks on 2 threads would
  // leave one thread idle for a twentieth of the product), their sizes
  // differing by at most one micro-row. Tiling never changes a result.
  const int64_t units = (m + g.mr - 1) / g.mr, unit_per_tile = g.mc / g.mr;
  int64_t row_tiles = (units + unit_per_tile - 1) / unit_per_tile;
  const int64_t threads = std::max(1, ctx.num_threads());
  while ((row_tiles * col_tiles) % threads != 0 && row_tiles < units) ++row_tiles;
  ctx.ParallelFor(static_cast<size_t>(row_tiles * col_tiles), [&](size_t task, int) {
    const int64_t rt = static_cast<int64_t>(task) % row_tiles, ct = static_cast<int64_t>(task) / row_tiles;
    const int64_t r0 = std::min(m, rt * units / row_tiles * g.mr);
    const int64_t r1 = std::min(m, (rt + 1) * units / row_tiles * g.mr);
    const int64_t c0 = ct * nc;
    if (c0 >= n || r1 <= r0) return;
    RunTile(g, micro, x, k, packed, n, bias, y, r0, r1 - r0, c0, std::min<int64_t>(nc, n - c0));
  });
}

void GemmReference(const float* x, int64_t m, int64_t k, const float* w, int64_t n, const float* bias, float* y) {
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      float acc = 0.0f;
      for (int64_t p = 0; p < k; ++p) acc = std::fma(x[i * k + p], w[j * k + p], acc);
      y[i * n + j] = bias != nullptr ? acc + bias[j] : acc;
    }
}

}  // namespace seedtune
