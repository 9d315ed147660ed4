// Decoding's matrix-vector products: every SIMD path against the GEMM
// contract's scalar loop on random shapes (k tails of every width, with and
// without bias), and bit-identical for any thread count.
#include "kernels/gemv.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "kernels/gemm.h"
#include "support/fixtures.h"

namespace seedtune {
namespace {

struct Shape {
  int64_t m, k, n;
};

class GemvTest : public ::testing::TestWithParam<SimdLevel> {};

TEST_P(GemvTest, MatchesTheScalarReferenceOnRandomShapes) {
  const SimdLevel level = GetParam();
  ThreadingContext ctx(2);
  for (Shape s : {Shape{1, 1, 1}, Shape{1, 7, 3}, Shape{2, 17, 300}, Shape{1, 64, 257}, Shape{2, 95, 513},
                  Shape{1, 576, 1536}, Shape{2, 1536, 576}, Shape{1, 131, 1}}) {
    auto x = testing::UniformFloats(s.m * s.k, 1), w = testing::UniformFloats(s.n * s.k, 2),
         b = testing::UniformFloats(s.n, 3);
    std::vector<float> got(s.m * s.n, NAN), want(s.m * s.n);
    for (const float* bias : {static_cast<const float*>(nullptr), static_cast<const float*>(b.data())}) {
      Gemv(ctx, level, x.data(), s.m, s.k, w.data(), s.n, bias, got.data());
      GemmReference(x.data(), s.m, s.k, w.data(), s.n, bias, want.data());
      for (size_t i = 0; i < got.size(); ++i)
        ASSERT_NEAR(got[i], want[i], 2e-6f * s.k + 1e-6f)
            << SimdLevelName(level) << " m=" << s.m << " k=" << s.k << " n=" << s.n << " i=" << i;
      if (level == SimdLevel::kScalar)  // the scalar level is the contract itself
        ASSERT_EQ(std::memcmp(got.data(), want.data(), got.size() * sizeof(float)), 0);
    }
  }
}

TEST_P(GemvTest, BitIdenticalForAnyThreadCount) {
  const SimdLevel level = GetParam();
  const int64_t m = 2, k = 333, n = 1500;
  auto x = testing::UniformFloats(m * k, 4), w = testing::UniformFloats(n * k, 5);
  std::vector<float> ref(m * n);
  {
    ThreadingContext one(1);
    Gemv(one, level, x.data(), m, k, w.data(), n, nullptr, ref.data());
  }
  for (int threads : {2, 3, 7}) {
    ThreadingContext ctx(threads);
    std::vector<float> got(m * n);
    Gemv(ctx, level, x.data(), m, k, w.data(), n, nullptr, got.data());
    EXPECT_EQ(std::memcmp(got.data(), ref.data(), got.size() * sizeof(float)), 0) << threads << " threads";
  }
}

INSTANTIATE_TEST_SUITE_P(AllSimdPaths, GemvTest, ::testing::ValuesIn(SupportedSimdLevels()),
                         [](const ::testing::TestParamInfo<SimdLevel>& info) { return SimdLevelName(info.param); });

}  // namespace
}  // namespace seedtune
