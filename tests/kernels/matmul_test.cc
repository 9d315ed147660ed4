#include "kernels/matmul.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "support/fixtures.h"

namespace seedtune {
namespace {

struct Shape {
  int64_t m, k, n;
};

TEST(MatMulTest, MatchesScalarReferenceOnRandomShapes) {
  ThreadingContext ctx(2);
  for (Shape s : {Shape{1, 1, 1}, Shape{1, 64, 300}, Shape{3, 17, 5}, Shape{130, 96, 257}, Shape{257, 64, 513},
                  Shape{64, 576, 192}}) {
    auto x = testing::UniformFloats(s.m * s.k, 1), w = testing::UniformFloats(s.n * s.k, 2), b = testing::UniformFloats(s.n, 3);
    std::vector<float> got(s.m * s.n), want(s.m * s.n);
    for (const float* bias : {static_cast<const float*>(nullptr), static_cast<const float*>(b.data())}) {
      MatMulTransB(ctx, x.data(), s.m, s.k, w.data(), s.n, bias, got.data());
      MatMulTransBReference(x.data(), s.m, s.k, w.data(), s.n, bias, want.data());
      for (size_t i = 0; i < got.size(); ++i)
        ASSERT_NEAR(got[i], want[i], 1e-5f * s.k) << "m=" << s.m << " k=" << s.k << " n=" << s.n << " i=" << i;
    }
  }
}

TEST(MatMulTest, BitIdenticalForAnyThreadCount) {
  const int64_t m = 300, k = 200, n = 700;
  auto x = testing::UniformFloats(m * k, 4), w = testing::UniformFloats(n * k, 5);
  std::vector<float> ref(m * n);
  {
    ThreadingContext one(1);
    MatMulTransB(one, x.data(), m, k, w.data(), n, nullptr, ref.data());
  }
  for (int threads : {2, 3, 4, 7}) {
    ThreadingContext ctx(threads);
    std::vector<float> got(m * n);
    MatMulTransB(ctx, x.data(), m, k, w.data(), n, nullptr, got.data());
    EXPECT_EQ(std::memcmp(got.data(), ref.data(), got.size() * sizeof(float)), 0) << threads << " threads";
  }
}

}  // namespace
}  // namespace seedtune
