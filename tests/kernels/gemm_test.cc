#include "kernels/gemm.h"

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "core/aligned.h"
#include "support/fixtures.h"

namespace seedtune {
namespace {

struct Shape {
  int64_t m, k, n;
};

// Every SIMD path the machine supports, the scalar one included.
class GemmTest : public ::testing::TestWithParam<SimdLevel> {};

TEST_P(GemmTest, BitEqualsTheFmaChainReferenceOnRandomShapes) {
  const SimdLevel level = GetParam();
  const int nr = GemmGeometryFor(level).nr;
  ThreadingContext ctx(2);
  // Edges in every dimension: rows not a multiple of mr or mc, columns not a
  // multiple of nr or nc, K not a multiple of kc (several K blocks).
  for (Shape s : {Shape{1, 1, 1}, Shape{1, 64, 300}, Shape{3, 17, 5}, Shape{7, 300, 33}, Shape{130, 96, 257},
                  Shape{257, 64, 513}, Shape{64, 576, 192}, Shape{29, 1000, 70}, Shape{9, 3100, 40}, Shape{100, 0, 9}}) {
    auto x = testing::UniformFloats(s.m * s.k, 1), w = testing::UniformFloats(s.n * s.k, 2), b = testing::UniformFloats(s.n, 3);
    AlignedVector<float> packed(PackedWeightFloats(s.n, s.k, nr) + 1);
    PackWeightRows(w.data(), s.n, s.k, nr, 0, packed.data());
    std::vector<float> got(s.m * s.n), want(s.m * s.n);
    for (const float* bias : {static_cast<const float*>(nullptr), static_cast<const float*>(b.data())}) {
      GemmPacked(ctx, level, x.data(), s.m, s.k, packed.data(), s.n, bias, got.data());
      GemmReference(x.data(), s.m, s.k, w.data(), s.n, bias, want.data());
      ASSERT_EQ(std::memcmp(got.data(), want.data(), got.size() * sizeof(float)), 0)
          << SimdLevelName(level) << " m=" << s.m << " k=" << s.k << " n=" << s.n << " bias=" << (bias != nullptr);
    }
  }
}

TEST_P(GemmTest, BitIdenticalForAnyThreadCountAndRowPlacement) {
  const SimdLevel level = GetParam();
  const int nr = GemmGeometryFor(level).nr;
  const int64_t m = 300, k = 200, n = 700;
  auto x = testing::UniformFloats(m * k, 4), w = testing::UniformFloats(n * k, 5);
  AlignedVector<float> packed(PackedWeightFloats(n, k, nr));
  PackWeightRows(w.data(), n, k, nr, 0, packed.data());
  std::vector<float> ref(m * n);
  {
    ThreadingContext one(1);
    GemmPacked(one, level, x.data(), m, k, packed.data(), n, nullptr, ref.data());
  }
  for (int threads : {2, 3, 4, 7}) {
    ThreadingContext ctx(threads);
    std::vector<float> got(m * n);
    GemmPacked(ctx, level, x.data(), m, k, packed.data(), n, nullptr, got.data());
    EXPECT_EQ(std::memcmp(got.data(), ref.data(), got.size() * sizeof(float)), 0) << threads << " threads";
  }
  // A row alone gives the bits it has inside the batch.
  ThreadingContext ctx(2);
  for (int64_t row : {0, 5, 161, 299}) {
    std::vector<float> alone(n);
    GemmPacked(ctx, level, x.data() + row * k, 1, k, packed.data(), n, nullptr, alone.data());
    EXPECT_EQ(std::memcmp(alone.data(), ref.data() + row * n, n * sizeof(float)), 0) << "row " << row;
  }
}

TEST_P(GemmTest, PackingPanelByPanelEqualsPackingTheWholeMatrix) {
  const int nr = GemmGeometryFor(GetParam()).nr;
  const int64_t n = 5 * nr + 3, k = 37;
  auto w = testing::UniformFloats(n * k, 6);
  AlignedVector<float> whole(PackedWeightFloats(n, k, nr), -1.0f), pieces(whole.size(), -2.0f);
  PackWeightRows(w.data(), n, k, nr, 0, whole.data());
  for (int64_t r0 = 0; r0 < n; r0 += 2 * nr)
    PackWeightRows(w.data() + r0 * k, std::min<int64_t>(2 * nr, n - r0), k, nr, r0, pieces.data());
  EXPECT_EQ(std::memcmp(whole.data(), pieces.data(), whole.size() * sizeof(float)), 0);
  // Layout: element (r, c) at panel(r)*nr*k + c*nr + r%nr, padding rows zero.
  for (int64_t r = 0; r < n; r += 7)
    for (int64_t c = 0; c < k; c += 5) EXPECT_EQ(whole[(r / nr) * nr * k + c * nr + r % nr], w[r * k + c]);
  EXPECT_EQ(whole[(n / nr) * nr * k + (k - 1) * nr + nr - 1], 0.0f);
}

INSTANTIATE_TEST_SUITE_P(AllSimdPaths, GemmTest, ::testing::ValuesIn(SupportedSimdLevels()),
                         [](const ::testing::TestParamInfo<SimdLevel>& info) { return SimdLevelName(info.param); });

}  // namespace
}  // namespace seedtune
