// Every optimized kernel against its scalar reference, on random inputs, for
// every SIMD path this CPU supports.
#include "kernels/ops.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "kernels/cpu.h"

namespace seedtune {
namespace {

std::vector<float> RandomVec(size_t n, uint32_t seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(rng);
  return v;
}

void ExpectClose(const std::vector<float>& a, const std::vector<float>& b, float rel, float abs_tol,
                 const char* what) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    ASSERT_NEAR(a[i], b[i], abs_tol + rel * std::fabs(b[i])) << what << " at " << i;
  }
}

class KernelTest : public ::testing::TestWithParam<SimdLevel> {
 protected:
  void SetUp() override {
    saved_ = ActiveSimdLevel();
    SetActiveSimdLevel(GetParam());
    ASSERT_EQ(ActiveSimdLevel(), GetParam());
  }
  void TearDown() override { SetActiveSimdLevel(saved_); }
  SimdLevel saved_;
};

TEST_P(KernelTest, RmsNormMatchesReference) {
  for (int64_t d : {1, 7, 64, 576, 1001}) {
    const int64_t rows = 5;
    auto x = RandomVec(rows * d, 1 + d, 2.0f), w = RandomVec(d, 2 + d);
    std::vector<float> got(x.size()), want(x.size());
    RmsNorm(x.data(), w.data(), rows, d, 1e-5f, got.data());
    RmsNormReference(x.data(), w.data(), rows, d, 1e-5f, want.data());
    ExpectClose(got, want, 1e-5f, 1e-6f, "rmsnorm");
  }
}

TEST_P(KernelTest, LayerNormMatchesReferenceAndNormalizes) {
  const int64_t rows = 3, d = 96;
  auto x = RandomVec(rows * d, 3, 3.0f);
  std::vector<float> w(d, 1.0f), b(d, 0.0f), got(x.size()), want(x.size());
  LayerNorm(x.data(), w.data(), b.data(), rows, d, 1e-5f, got.data());
  LayerNormReference(x.data(), w.data(), b.data(), rows, d, 1e-5f, want.data());
  ExpectClose(got, want, 1e-6f, 1e-6f, "layernorm");
  double mean = 0, var = 0;
  for (int64_t i = 0; i < d; ++i) mean += got[i];
  mean /= d;
  for (int64_t i = 0; i < d; ++i) var += (got[i] - mean) * (got[i] - mean);
  EXPECT_NEAR(mean, 0.0, 1e-5);
  EXPECT_NEAR(var / d, 1.0, 1e-3);
}

TEST_P(KernelTest, SiluMulMatchesReference) {
  for (int64_t n : {1, 8, 13, 1536, 4099}) {
    auto g = RandomVec(n, 4 + n, 4.0f), u = RandomVec(n, 5 + n);
    std::vector<float> got(n), want(n);
    SiluMul(g.data(), u.data(), n, got.data());
    SiluMulReference(g.data(), u.data(), n, want.data());
    ExpectClose(got, want, 2e-6f, 1e-7f, "silu*up");
  }
}

TEST_P(KernelTest, ActivationsMatchReference) {
  for (auto act : {KernelActivation::kSilu, KernelActivation::kRelu, KernelActivation::kGeluTanh,
                   KernelActivation::kGeluErf}) {
    auto x = RandomVec(1027, 6, 5.0f);
    x[0] = 0.0f;
    x[1] = -30.0f;
    x[2] = 30.0f;
    auto got = x, want = x;
    Activate(act, got.data(), static_cast<int64_t>(got.size()));
    ActivateReference(act, want.data(), static_cast<int64_t>(want.size()));
    ExpectClose(got, want, 3e-6f, 1e-6f, "activation");
  }
}

TEST_P(KernelTest, LogSumExpMatchesReference) {
  for (int64_t n : {1, 5, 8, 512, 49152, 50257}) {
    auto x = RandomVec(n, 7 + n, 6.0f);
    const float got = LogSumExp(x.data(), n), want = LogSumExpReference(x.data(), n);
    EXPECT_NEAR(got, want, 1e-5f * std::fabs(want) + 1e-5f) << "n=" << n;
    // Independent check in double.
    double mx = -1e30, s = 0;
    for (float v : x) mx = std::max<double>(mx, v);
    for (float v : x) s += std::exp(v - mx);
    EXPECT_NEAR(got, mx + std::log(s), 1e-4) << "n=" << n;
  }
}

TEST_P(KernelTest, AttentionHeadMatchesReference) {
  // 64: SmolLM2's heads and 8: stories260K's (8 keys at once, key counts
  // with and without a remainder of 8); 12 and 20: one key at a time.
  for (int64_t hd : {64, 8, 12, 20}) {
    const int64_t stride = 3 * hd;
    for (int64_t past : {0, 5}) {
      for (int64_t len : {1, 9, 33}) {
        const int64_t keys = past + len;
        auto q = RandomVec(len * stride, 10 + len), k = RandomVec(keys * stride, 11 + len),
             v = RandomVec(keys * stride, 12 + len);
        std::vector<float> got(len * stride, -1.0f), want(len * stride, -1.0f), scratch(keys);
        AttentionHead(q.data(), stride, k.data(), v.data(), stride, past, len, hd, 0.125f, got.data(), stride,
                      scratch.data());
        AttentionHeadReference(q.data(), stride, k.data(), v.data(), stride, past, len, hd, 0.125f, want.data(),
                               stride, scratch.data());
        ExpectClose(got, want, 1e-5f, 2e-6f, "attention");
      }
    }
  }
}

TEST_P(KernelTest, AttentionHeadMayWriteOverItsQueries) {
  // The transformer writes each head's output over its queries (several
  // heads interleaved in one row, as there): in place must equal out of place.
  for (int64_t hd : {64, 8, 12}) {
    const int64_t heads = 3, stride = heads * hd, past = 5, len = 17, keys = past + len;
    auto q = RandomVec(len * stride, 30 + hd), k = RandomVec(keys * stride, 31 + hd),
         v = RandomVec(keys * stride, 32 + hd);
    std::vector<float> apart(len * stride, -1.0f), scratch(keys), inplace = q;
    for (int64_t h = 0; h < heads; ++h) {
      AttentionHead(q.data() + h * hd, stride, k.data() + h * hd, v.data() + h * hd, stride, past, len, hd, 0.125f,
                    apart.data() + h * hd, stride, scratch.data());
      AttentionHead(inplace.data() + h * hd, stride, k.data() + h * hd, v.data() + h * hd, stride, past, len, hd,
                    0.125f, inplace.data() + h * hd, stride, scratch.data());
    }
    EXPECT_EQ(inplace, apart) << "head_dim " << hd;
  }
}

TEST_P(KernelTest, AttentionIsCausal) {
  // Changing key/value rows after position past+i must not change output row i.
  const int64_t hd = 16, len = 6;
  auto q = RandomVec(len * hd, 20), k = RandomVec(len * hd, 21), v = RandomVec(len * hd, 22);
  std::vector<float> a(len * hd), b(len * hd), scratch(len);
  AttentionHead(q.data(), hd, k.data(), v.data(), hd, 0, len, hd, 0.25f, a.data(), hd, scratch.data());
  for (int64_t c = 0; c < hd; ++c) k[(len - 1) * hd + c] += 3.0f, v[(len - 1) * hd + c] -= 2.0f;
  AttentionHead(q.data(), hd, k.data(), v.data(), hd, 0, len, hd, 0.25f, b.data(), hd, scratch.data());
  for (int64_t i = 0; i < (len - 1) * hd; ++i) EXPECT_EQ(a[i], b[i]);
  bool last_changed = false;
  for (int64_t c = 0; c < hd; ++c) last_changed |= a[(len - 1) * hd + c] != b[(len - 1) * hd + c];
  EXPECT_TRUE(last_changed);
}

INSTANTIATE_TEST_SUITE_P(AllSimdPaths, KernelTest, ::testing::ValuesIn(SupportedSimdLevels()),
                         [](const auto& info) { return std::string(SimdLevelName(info.param)); });

TEST(RopeTest, RotatesPairsByAngle) {
  // One head of 4 dims, rotary over all 4: angles a0 (pair 0) and a1 (pair 1).
  const float a0 = 0.3f, a1 = 1.1f;
  const float cs[4] = {std::cos(a0), std::cos(a1), std::sin(a0), std::sin(a1)};
  float inter[4] = {1, 2, 3, 4};
  ApplyRope(inter, 1, 4, 1, 4, 4, /*interleaved=*/true, cs);
  // Interleaved pairs: (x0, x1) and (x2, x3).
  EXPECT_NEAR(inter[0], 1 * std::cos(a0) - 2 * std::sin(a0), 1e-6);
  EXPECT_NEAR(inter[1], 1 * std::sin(a0) + 2 * std::cos(a0), 1e-6);
  EXPECT_NEAR(inter[2], 3 * std::cos(a1) - 4 * std::sin(a1), 1e-6);
  EXPECT_NEAR(inter[3], 3 * std::sin(a1) + 4 * std::cos(a1), 1e-6);
  float half[4] = {1, 2, 3, 4};
  ApplyRope(half, 1, 4, 1, 4, 4, /*interleaved=*/false, cs);
  // Rotate-half pairs: (x0, x2) and (x1, x3).
  EXPECT_NEAR(half[0], 1 * std::cos(a0) - 3 * std::sin(a0), 1e-6);
  EXPECT_NEAR(half[2], 1 * std::sin(a0) + 3 * std::cos(a0), 1e-6);
  EXPECT_NEAR(half[1], 2 * std::cos(a1) - 4 * std::sin(a1), 1e-6);
  EXPECT_NEAR(half[3], 2 * std::sin(a1) + 4 * std::cos(a1), 1e-6);
}

}  // namespace
}  // namespace seedtune
