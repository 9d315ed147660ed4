// Shared randomness: Philox known answers, bit-identical z on every SIMD
// path, thread count and optimisation level, fused ops equal their scalar
// compositions, and the statistics of z.
#include "kernels/random.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <numeric>
#include <random>
#include <vector>

#include "core/threading.h"
#include "kernels/cpu.h"

namespace seedtune {
namespace {

TEST(PhiloxTest, Random123KnownAnswers) {
  EXPECT_EQ(Philox4x32_10({0, 0, 0, 0}, {0, 0}),
            (std::array<uint32_t, 4>{0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u}));
  EXPECT_EQ(Philox4x32_10({0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu}, {0xffffffffu, 0xffffffffu}),
            (std::array<uint32_t, 4>{0x408f276du, 0x41c83b0eu, 0xa20bc7c6u, 0x6d5451fdu}));
  EXPECT_EQ(Philox4x32_10({0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u}, {0xa4093822u, 0x299f31d0u}),
            (std::array<uint32_t, 4>{0xd16cfe09u, 0x94fdccebu, 0x5001e420u, 0x24126ea1u}));
}

// The test vectors of docs/rng.md (printed with 9 significant digits, which
// identify a float exactly).
TEST(ZVectorsTest, SpecTestVectors) {
  float z[8];
  GenerateZReference(0, 0, 8, ZDistribution::kGaussian, z);
  const float want0[8] = {0.991137505f, -0.153638124f, -1.18635726f, -0.59540689f,
                          -0.127551734f, 1.24400616f,  0.289800107f, 0.880858004f};
  for (int i = 0; i < 8; ++i) EXPECT_EQ(z[i], want0[i]) << i;
  GenerateZ(42, 1000000, 4, ZDistribution::kGaussian, z);
  const float want1[4] = {-0.898041725f, -0.330820739f, -1.47809696f, -0.00958289113f};
  for (int i = 0; i < 4; ++i) EXPECT_EQ(z[i], want1[i]) << i;
  const uint32_t words[4] = {0xab09d059u, 0x4281ba31u, 0x0574d3f6u, 0x9bab1a00u};
  for (int i = 0; i < 4; ++i) EXPECT_EQ(ZWord(42, 1000000 + i), words[i]) << i;
  GenerateZ(42, 1000000, 4, ZDistribution::kRademacher, z);
  const float want2[4] = {-1, 1, 1, -1};
  for (int i = 0; i < 4; ++i) EXPECT_EQ(z[i], want2[i]) << i;
}

TEST(ZLayoutTest, ElementMapsToDocumentedBlockAndWord) {
  // docs/rng.md: element i -> block (i/64)*16 + i%16, word (i%64)/16.
  for (uint64_t i : {0ull, 1ull, 15ull, 16ull, 63ull, 64ull, 1000003ull, (1ull << 36) + 5}) {
    const uint64_t block = (i / 64) * 16 + (i % 16);
    const auto w = Philox4x32_10({static_cast<uint32_t>(block), static_cast<uint32_t>(block >> 32), 0, 0}, {7, 0});
    EXPECT_EQ(ZWord(7, i), w[(i % 64) / 16]) << i;
  }
  // Rademacher is the sign of the word's top bit.
  std::vector<float> z(200);
  GenerateZReference(7, 3, 200, ZDistribution::kRademacher, z.data());
  for (uint64_t j = 0; j < 200; ++j) EXPECT_EQ(z[j], (ZWord(7, 3 + j) >> 31) ? -1.0f : 1.0f);
}

class ZSimdTest : public ::testing::TestWithParam<SimdLevel> {
 protected:
  void SetUp() override {
    saved_ = ActiveSimdLevel();
    SetActiveSimdLevel(GetParam());
  }
  void TearDown() override { SetActiveSimdLevel(saved_); }
  SimdLevel saved_;
};

bool BitEqual(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * 4) == 0;
}

TEST_P(ZSimdTest, GenerateIsBitIdenticalToScalarReference) {
  std::mt19937_64 rng(1);
  for (auto dist : {ZDistribution::kGaussian, ZDistribution::kRademacher}) {
    for (int rep = 0; rep < 40; ++rep) {
      const uint64_t seed = rng();
      const uint64_t first = rep < 20 ? rng() % 5000 : rng() >> 20;  // unaligned, and large indices
      const int64_t n = static_cast<int64_t>(rng() % 700) + 1;
      std::vector<float> got(n), want(n);
      GenerateZ(seed, first, n, dist, got.data());
      GenerateZReference(seed, first, n, dist, want.data());
      ASSERT_TRUE(BitEqual(got, want)) << "seed " << seed << " first " << first << " n " << n;
    }
  }
}

TEST_P(ZSimdTest, FusedOpsEqualScalarComposition) {
  const int64_t n = 1000;
  const uint64_t first = 12345;
  std::vector<float> theta(n), z(n), z2(n);
  std::mt19937 rng(2);
  std::normal_distribution<float> nd(0.0f, 0.05f);
  for (auto& t : theta) t = nd(rng);
  GenerateZReference(99, first, n, ZDistribution::kGaussian, z.data());
  GenerateZReference(100, first, n, ZDistribution::kGaussian, z2.data());

  std::vector<float> y = theta, want = theta;
  AxpyZ(99, first, n, ZDistribution::kGaussian, -3e-4f, y.data());
  for (int64_t i = 0; i < n; ++i) want[i] = std::fma(-3e-4f, z[i], theta[i]);
  EXPECT_TRUE(BitEqual(y, want));

  std::vector<float> plus(n), minus(n), single(n);
  PerturbPairZ(99, first, n, ZDistribution::kGaussian, 1e-3f, theta.data(), plus.data(), minus.data());
  PerturbZ(99, first, n, ZDistribution::kGaussian, -1e-3f, theta.data(), single.data());
  EXPECT_TRUE(BitEqual(minus, single));
  for (int64_t i = 0; i < n; ++i) {
    ASSERT_EQ(plus[i], std::fma(1e-3f, z[i], theta[i]));
    ASSERT_EQ(minus[i], std::fma(-1e-3f, z[i], theta[i]));
  }

  // Multi-seed replay == one AxpyZ per seed, in order.
  const uint64_t seeds[3] = {99, 100, 99};
  const float alphas[3] = {1e-3f, -2e-3f, 5e-4f};
  std::vector<float> multi = theta, seq = theta;
  AxpyZMulti(seeds, alphas, 3, first, n, ZDistribution::kGaussian, multi.data());
  for (int k = 0; k < 3; ++k) AxpyZ(seeds[k], first, n, ZDistribution::kGaussian, alphas[k], seq.data());
  EXPECT_TRUE(BitEqual(multi, seq));
}

INSTANTIATE_TEST_SUITE_P(AllSimdPaths, ZSimdTest, ::testing::ValuesIn(SupportedSimdLevels()),
                         [](const auto& info) { return std::string(SimdLevelName(info.param)); });

TEST(ZThreadsTest, ChunkedParallelGenerationEqualsSerial) {
  const int64_t n = 1 << 18;
  std::vector<float> serial(n);
  GenerateZ(5, 77, n, ZDistribution::kGaussian, serial.data());
  for (int threads : {1, 2, 3}) {
    ThreadingContext ctx(threads);
    std::vector<float> par(n);
    const int64_t chunk = 1000;  // deliberately not a multiple of the 64-element group
    ctx.ParallelFor(static_cast<size_t>((n + chunk - 1) / chunk), [&](size_t t, int) {
      const int64_t lo = static_cast<int64_t>(t) * chunk, len = std::min(chunk, n - lo);
      GenerateZ(5, 77 + static_cast<uint64_t>(lo), len, ZDistribution::kGaussian, par.data() + lo);
    });
    EXPECT_TRUE(BitEqual(par, serial)) << threads << " threads";
  }
}

std::vector<uint32_t> ReadHexLines(const std::string& cmd) {
  std::vector<uint32_t> out;
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return out;
  unsigned v;
  while (std::fscanf(p, "%x", &v) == 1) out.push_back(v);
  pclose(p);
  return out;
}

TEST(ZBuildTest, O0AndO3BuildsGiveIdenticalBitsOnEverySimdPath) {
  for (SimdLevel level : SupportedSimdLevels()) {
    const std::string env = std::string("SEEDTUNE_SIMD=") + SimdLevelName(level) + " ";
    auto o0 = ReadHexLines(env + RNG_DUMP_O0);
    auto o3 = ReadHexLines(env + RNG_DUMP_O3);
    ASSERT_GT(o0.size(), 1000u) << "could not run " << RNG_DUMP_O0;
    EXPECT_EQ(o0, o3) << SimdLevelName(level);
  }
  // And the scalar path of one build equals the widest path of the other.
  auto scalar = ReadHexLines(std::string("SEEDTUNE_SIMD=scalar ") + RNG_DUMP_O0);
  auto widest = ReadHexLines(RNG_DUMP_O3);
  EXPECT_EQ(scalar, widest);
}

TEST(ZStatisticsTest, GaussianMomentsAndKolmogorovSmirnov) {
  const int64_t n = 1 << 20;
  std::vector<float> z(n);
  GenerateZ(2024, 0, n, ZDistribution::kGaussian, z.data());
  double m1 = 0, m2 = 0, m3 = 0, m4 = 0;
  for (float v : z) {
    const double d = v;
    m1 += d, m2 += d * d, m3 += d * d * d, m4 += d * d * d * d;
  }
  m1 /= n, m2 /= n, m3 /= n, m4 /= n;
  // Standard errors for n = 2^20: mean 1e-3, var 1.4e-3, skew 2.4e-3, kurtosis 4.8e-3; allow ~5 sigma.
  EXPECT_NEAR(m1, 0.0, 5e-3);
  EXPECT_NEAR(m2, 1.0, 7e-3);
  EXPECT_NEAR(m3, 0.0, 1.2e-2);
  EXPECT_NEAR(m4, 3.0, 3e-2);
  // Kolmogorov-Smirnov against the standard normal CDF: the 0.1% critical
  // value is 1.95 / sqrt(n).
  std::vector<float> s = z;
  std::sort(s.begin(), s.end());
  double d = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    const double cdf = 0.5 * std::erfc(-s[i] / std::sqrt(2.0));
    d = std::max({d, std::fabs(cdf - static_cast<double>(i) / n), std::fabs(cdf - static_cast<double>(i + 1) / n)});
  }
  EXPECT_LT(d, 1.95 / std::sqrt(static_cast<double>(n)));
  // Neighbouring elements are uncorrelated (lag 1 and lag 16, the lane stride).
  for (int lag : {1, 16, 64}) {
    double c = 0.0;
    for (int64_t i = 0; i + lag < n; ++i) c += static_cast<double>(z[i]) * z[i + lag];
    EXPECT_NEAR(c / (n - lag), 0.0, 5e-3) << "lag " << lag;
  }
  // Different seeds give unrelated streams.
  std::vector<float> other(n);
  GenerateZ(2025, 0, n, ZDistribution::kGaussian, other.data());
  double c = 0.0;
  for (int64_t i = 0; i < n; ++i) c += static_cast<double>(z[i]) * other[i];
  EXPECT_NEAR(c / n, 0.0, 5e-3);
}

TEST(ZStatisticsTest, RademacherIsBalanced) {
  const int64_t n = 1 << 20;
  std::vector<float> z(n);
  GenerateZ(3, 0, n, ZDistribution::kRademacher, z.data());
  double sum = 0.0;
  for (float v : z) {
    ASSERT_TRUE(v == 1.0f || v == -1.0f);
    sum += v;
  }
  EXPECT_NEAR(sum / n, 0.0, 5e-3);
}

}  // namespace
}  // namespace seedtune
