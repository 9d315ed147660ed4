// Dequantizers (formats/dequant.h): hand-decoded blocks, reference-quantizer
// round trips within each type's error bound, and a bit-exact oracle against
// the Python `gguf` package (gguf.quants.dequantize) when the venv has it.
#include "formats/dequant.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "core/half.h"
#include "core/mapped_file.h"
#include "formats/gguf.h"
#include "support/python_oracle.h"
#include "support/quantize_ref.h"

namespace seedtune {
namespace {

constexpr uint32_t T(GgmlType t) { return static_cast<uint32_t>(t); }

void PutF16(std::vector<uint8_t>* b, uint16_t h) {
  b->push_back(static_cast<uint8_t>(h & 0xff));
  b->push_back(static_cast<uint8_t>(h >> 8));
}

std::vector<float> Dequant(uint32_t type, const std::vector<uint8_t>& bytes, int64_t n) {
  std::vector<float> out(static_cast<size_t>(n), -12345.0f);
  Status s = DequantizeRow(type, bytes.data(), n, out.data());
  EXPECT_TRUE(s.ok()) << s.ToString();
  return out;
}

TEST(GgufDequantTest, RowBytesAndBlockSizes) {
  EXPECT_EQ(*GgmlRowBytes(T(GgmlType::kF32), 7), 28u);
  EXPECT_EQ(*GgmlRowBytes(T(GgmlType::kF16), 7), 14u);
  EXPECT_EQ(*GgmlRowBytes(T(GgmlType::kBF16), 3), 6u);
  EXPECT_EQ(*GgmlRowBytes(T(GgmlType::kQ8_0), 64), 68u);
  EXPECT_EQ(*GgmlRowBytes(T(GgmlType::kQ4_0), 96), 54u);
  EXPECT_EQ(*GgmlRowBytes(T(GgmlType::kQ4_1), 32), 20u);
  EXPECT_EQ(*GgmlRowBytes(T(GgmlType::kQ4_K), 512), 288u);
  EXPECT_EQ(*GgmlRowBytes(T(GgmlType::kQ5_K), 256), 176u);
  EXPECT_EQ(*GgmlRowBytes(T(GgmlType::kQ6_K), 256), 210u);
  EXPECT_EQ(*GgmlRowBytes(T(GgmlType::kQ5_0), 32), 22u);  // known size, no dequantizer
  auto bad = GgmlRowBytes(T(GgmlType::kQ8_0), 48);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("multiple"), std::string::npos) << bad.status().ToString();
  EXPECT_FALSE(GgmlRowBytes(T(GgmlType::kQ4_K), 128).ok());
  EXPECT_FALSE(GgmlRowBytes(99, 32).ok());
  EXPECT_FALSE(GgmlRowBytes(T(GgmlType::kF32), -1).ok());
  EXPECT_FALSE(GgmlRowBytes(T(GgmlType::kQ8_0), INT64_MAX / 32 * 32).ok());  // byte count overflows
  EXPECT_STREQ(GgmlTypeName(12), "Q4_K");
  EXPECT_STREQ(GgmlTypeName(30), "BF16");
  EXPECT_STREQ(GgmlTypeName(1000), "unknown");
}

TEST(GgufDequantTest, UnsupportedTypesAreUnimplemented) {
  std::vector<uint8_t> zeros(1024, 0);
  std::vector<float> out(256);
  for (GgmlType t : {GgmlType::kQ5_0, GgmlType::kQ5_1, GgmlType::kQ2_K, GgmlType::kQ3_K, GgmlType::kQ8_K}) {
    const int64_t n = GgmlBlockSize(T(t))->block_elems;
    Status s = DequantizeRow(T(t), zeros.data(), n, out.data());
    EXPECT_EQ(s.code(), StatusCode::kUnimplemented) << GgmlTypeName(T(t));
    EXPECT_NE(s.message().find(GgmlTypeName(T(t))), std::string::npos) << s.ToString();
    EXPECT_FALSE(GgmlCanDequantize(T(t)));
  }
  EXPECT_EQ(DequantizeRow(99, zeros.data(), 32, out.data()).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(DequantizeRow(T(GgmlType::kQ8_0), zeros.data(), 31, out.data()).code(), StatusCode::kInvalidArgument);
}

// --- Hand-decoded blocks ---------------------------------------------------

TEST(GgufDequantTest, HandBlockFloats) {
  // F16 0x3c00 = 1.0, 0xc000 = -2.0, 0x0001 = 2^-24 (smallest subnormal), 0x7bff = 65504.
  std::vector<uint8_t> f16;
  for (uint16_t h : {0x3c00, 0xc000, 0x0001, 0x7bff}) PutF16(&f16, h);
  EXPECT_EQ(Dequant(T(GgmlType::kF16), f16, 4), (std::vector<float>{1.0f, -2.0f, 0x1p-24f, 65504.0f}));
  // BF16 0x3f80 = 1.0, 0xc0a0 = -5.0, 0x3e20 = 0.15625.
  std::vector<uint8_t> bf16;
  for (uint16_t h : {0x3f80, 0xc0a0, 0x3e20}) PutF16(&bf16, h);
  EXPECT_EQ(Dequant(T(GgmlType::kBF16), bf16, 3), (std::vector<float>{1.0f, -5.0f, 0.15625f}));
  const float f32[3] = {1.5f, -0.0f, 3e-30f};
  std::vector<uint8_t> b32(reinterpret_cast<const uint8_t*>(f32), reinterpret_cast<const uint8_t*>(f32) + 12);
  auto out = Dequant(T(GgmlType::kF32), b32, 3);
  EXPECT_EQ(std::memcmp(out.data(), f32, 12), 0);
}

TEST(GgufDequantTest, HandBlockQ8_0) {
  // d = fp16 0x3800 = 0.5; q[j] = j - 16, except q[0] = -128 and q[31] = 127.
  // Element j = q[j] * 0.5: [-64, -7.5, -7, ..., 0 (j=16), ..., 7 (j=30), 63.5].
  std::vector<uint8_t> b;
  PutF16(&b, 0x3800);
  for (int j = 0; j < 32; ++j) b.push_back(static_cast<uint8_t>(static_cast<int8_t>(j == 0 ? -128 : j == 31 ? 127 : j - 16)));
  auto y = Dequant(T(GgmlType::kQ8_0), b, 32);
  EXPECT_EQ(y[0], -64.0f);
  EXPECT_EQ(y[1], -7.5f);
  EXPECT_EQ(y[16], 0.0f);
  EXPECT_EQ(y[30], 7.0f);
  EXPECT_EQ(y[31], 63.5f);
  for (int j = 1; j < 31; ++j) EXPECT_EQ(y[j], 0.5f * (j - 16)) << j;
}

TEST(GgufDequantTest, HandBlockQ4_0) {
  // d = fp16 0x4000 = 2.0; qs[j] = j | (15 - j) << 4. Element j (low nibble)
  // = (j - 8) * 2, element j + 16 (high nibble) = (15 - j - 8) * 2 = (7 - j) * 2.
  // So y[0] = -16, y[15] = 14, y[16] = 14, y[31] = -16, y[8] = 0, y[23] = 0.
  std::vector<uint8_t> b;
  PutF16(&b, 0x4000);
  for (int j = 0; j < 16; ++j) b.push_back(static_cast<uint8_t>(j | ((15 - j) << 4)));
  auto y = Dequant(T(GgmlType::kQ4_0), b, 32);
  EXPECT_EQ(y[0], -16.0f);
  EXPECT_EQ(y[15], 14.0f);
  EXPECT_EQ(y[16], 14.0f);
  EXPECT_EQ(y[31], -16.0f);
  EXPECT_EQ(y[8], 0.0f);
  EXPECT_EQ(y[23], 0.0f);
  for (int j = 0; j < 16; ++j) {
    EXPECT_EQ(y[j], 2.0f * (j - 8)) << j;
    EXPECT_EQ(y[j + 16], 2.0f * (7 - j)) << j;
  }
}

TEST(GgufDequantTest, HandBlockQ4_1) {
  // d = fp16 0x3400 = 0.25, m = fp16 0xc000 = -2.0; qs[j] = j | (15 - j) << 4.
  // Element j = 0.25 j - 2, element j + 16 = 0.25 (15 - j) - 2:
  // y[0] = -2, y[15] = 1.75, y[16] = 1.75, y[31] = -2, y[4] = -1.
  std::vector<uint8_t> b;
  PutF16(&b, 0x3400);
  PutF16(&b, 0xc000);
  for (int j = 0; j < 16; ++j) b.push_back(static_cast<uint8_t>(j | ((15 - j) << 4)));
  auto y = Dequant(T(GgmlType::kQ4_1), b, 32);
  EXPECT_EQ(y[0], -2.0f);
  EXPECT_EQ(y[15], 1.75f);
  EXPECT_EQ(y[16], 1.75f);
  EXPECT_EQ(y[31], -2.0f);
  EXPECT_EQ(y[4], -1.0f);
  for (int j = 0; j < 16; ++j) {
    EXPECT_EQ(y[j], 0.25f * j - 2.0f) << j;
    EXPECT_EQ(y[j + 16], 0.25f * (15 - j) - 2.0f) << j;
  }
}

// Sub-block scales/mins used by the K-quant hand blocks (values >= 16 in
// sub-blocks 4..7 exercise the split high bits), and their packing worked
// out by hand:
//   sc = {1, 2, 3, 4, 17, 33, 63, 48},  m = {0, 1, 2, 3, 16, 32, 63, 5}
//   bytes 0..3  = sc[j] | (sc[j+4] >> 4) << 6 = 0x41 0x82 0xc3 0xc4
//   bytes 4..7  = m[j]  | (m[j+4] >> 4) << 6  = 0x40 0x81 0xc2 0x03
//   bytes 8..11 = (sc[j+4] & 15) | (m[j+4] & 15) << 4 = 0x01 0x01 0xff 0x50
constexpr int kSc[8] = {1, 2, 3, 4, 17, 33, 63, 48};
constexpr int kM[8] = {0, 1, 2, 3, 16, 32, 63, 5};
constexpr uint8_t kPackedScales[12] = {0x41, 0x82, 0xc3, 0xc4, 0x40, 0x81, 0xc2, 0x03, 0x01, 0x01, 0xff, 0x50};

TEST(GgufDequantTest, KScaleUnpacking) {
  for (int j = 0; j < 8; ++j) {
    uint8_t sc, m;
    GgmlKScaleMin(j, kPackedScales, &sc, &m);
    EXPECT_EQ(sc, kSc[j]) << j;
    EXPECT_EQ(m, kM[j]) << j;
  }
}

TEST(GgufDequantTest, HandBlockQ4_K) {
  // d = 1.0 (0x3c00), dmin = 0.5 (0x3800), scales as above; qs[32c + l] =
  // (l & 15) | (15 - (l & 15)) << 4. Element 64c + l = sc[2c] * (l & 15) -
  // 0.5 m[2c]; element 64c + 32 + l = sc[2c+1] * (15 - (l & 15)) - 0.5 m[2c+1].
  // By hand: y[5] = 1*5 - 0 = 5; y[32] = 2*15 - 0.5 = 29.5; y[67] = 3*3 - 1 = 8;
  // y[96] = 4*15 - 1.5 = 58.5; y[129] = 17*1 - 8 = 9; y[162] = 33*13 - 16 = 413;
  // y[207] = 63*15 - 31.5 = 913.5; y[255] = 48*0 - 2.5 = -2.5.
  std::vector<uint8_t> b;
  PutF16(&b, 0x3c00);
  PutF16(&b, 0x3800);
  b.insert(b.end(), kPackedScales, kPackedScales + 12);
  for (int c = 0; c < 4; ++c)
    for (int l = 0; l < 32; ++l) b.push_back(static_cast<uint8_t>((l & 15) | ((15 - (l & 15)) << 4)));
  ASSERT_EQ(b.size(), 144u);
  auto y = Dequant(T(GgmlType::kQ4_K), b, 256);
  EXPECT_EQ(y[5], 5.0f);
  EXPECT_EQ(y[32], 29.5f);
  EXPECT_EQ(y[67], 8.0f);
  EXPECT_EQ(y[96], 58.5f);
  EXPECT_EQ(y[129], 9.0f);
  EXPECT_EQ(y[162], 413.0f);
  EXPECT_EQ(y[207], 913.5f);
  EXPECT_EQ(y[255], -2.5f);
  for (int e = 0; e < 256; ++e) {
    const int sub = e / 32, l = e % 32;
    const int q = (sub % 2 == 0) ? (l & 15) : 15 - (l & 15);
    EXPECT_EQ(y[e], static_cast<float>(kSc[sub] * q) - 0.5f * kM[sub]) << e;
  }
}

TEST(GgufDequantTest, HandBlockQ5_K) {
  // As Q4_K, plus qh[l] = 0x55 for even l (bits 0,2,4,6: the fifth bit of the
  // low-nibble sub-blocks 0,2,4,6) and 0xaa for odd l (bits 1,3,5,7: sub-blocks
  // 1,3,5,7). By hand: y[0] = 1*(0+16) - 0 = 16; y[1] = 1*1 - 0 = 1;
  // y[33] = 2*(14+16) - 0.5 = 59.5; y[32] = 2*15 - 0.5 = 29.5;
  // y[255] = 48*(0+16) - 2.5 = 765.5.
  std::vector<uint8_t> b;
  PutF16(&b, 0x3c00);
  PutF16(&b, 0x3800);
  b.insert(b.end(), kPackedScales, kPackedScales + 12);
  for (int l = 0; l < 32; ++l) b.push_back(l % 2 == 0 ? 0x55 : 0xaa);
  for (int c = 0; c < 4; ++c)
    for (int l = 0; l < 32; ++l) b.push_back(static_cast<uint8_t>((l & 15) | ((15 - (l & 15)) << 4)));
  ASSERT_EQ(b.size(), 176u);
  auto y = Dequant(T(GgmlType::kQ5_K), b, 256);
  EXPECT_EQ(y[0], 16.0f);
  EXPECT_EQ(y[1], 1.0f);
  EXPECT_EQ(y[32], 29.5f);
  EXPECT_EQ(y[33], 59.5f);
  EXPECT_EQ(y[255], 765.5f);
  for (int e = 0; e < 256; ++e) {
    const int sub = e / 32, l = e % 32;
    int q = (sub % 2 == 0) ? (l & 15) : 15 - (l & 15);
    if ((sub % 2 == 0) == (l % 2 == 0)) q += 16;
    EXPECT_EQ(y[e], static_cast<float>(kSc[sub] * q) - 0.5f * kM[sub]) << e;
  }
}

TEST(GgufDequantTest, HandBlockQ6_K) {
  // d = 0.5 (0x3800); scales[k] = k+1 for even k, -(k+1) for odd k
  // (1, -2, 3, -4, ..., 15, -16); element e has biased value Q[e] = e % 64, so
  // q6 = Q - 32, and its scale is scales[e / 16]. Packing per half h, l < 32:
  //   ql[64h+l] = Q[128h+l] & 15 | (Q[128h+l+64] & 15) << 4
  //   ql[64h+l+32] = Q[128h+l+32] & 15 | (Q[128h+l+96] & 15) << 4
  //   qh[32h+l] = Q[l]>>4 | (Q[l+32]>>4) << 2 | (Q[l+64]>>4) << 4 | (Q[l+96]>>4) << 6
  // e.g. ql[0] = 0x00, qh[0] = 0 | 2<<2 | 0 | 2<<6 = 0x88.
  // By hand: y[0] = 0.5*1*(0-32) = -16; y[17] = 0.5*(-2)*(17-32) = 15;
  // y[32] = 0.5*3*0 = 0; y[255] = 0.5*(-16)*(63-32) = -248.
  int Q[256];
  for (int e = 0; e < 256; ++e) Q[e] = e % 64;
  std::vector<uint8_t> ql(128), qh(64);
  for (int h = 0; h < 2; ++h)
    for (int l = 0; l < 32; ++l) {
      const int* q = Q + 128 * h;
      ql[64 * h + l] = static_cast<uint8_t>((q[l] & 15) | ((q[l + 64] & 15) << 4));
      ql[64 * h + l + 32] = static_cast<uint8_t>((q[l + 32] & 15) | ((q[l + 96] & 15) << 4));
      qh[32 * h + l] =
          static_cast<uint8_t>((q[l] >> 4) | ((q[l + 32] >> 4) << 2) | ((q[l + 64] >> 4) << 4) | ((q[l + 96] >> 4) << 6));
    }
  EXPECT_EQ(ql[0], 0x00);
  EXPECT_EQ(qh[0], 0x88);
  int8_t scales[16];
  for (int k = 0; k < 16; ++k) scales[k] = static_cast<int8_t>(k % 2 == 0 ? k + 1 : -(k + 1));
  std::vector<uint8_t> b(ql);
  b.insert(b.end(), qh.begin(), qh.end());
  for (int8_t s : scales) b.push_back(static_cast<uint8_t>(s));
  PutF16(&b, 0x3800);
  ASSERT_EQ(b.size(), 210u);
  auto y = Dequant(T(GgmlType::kQ6_K), b, 256);
  EXPECT_EQ(y[0], -16.0f);
  EXPECT_EQ(y[17], 15.0f);
  EXPECT_EQ(y[32], 0.0f);
  EXPECT_EQ(y[255], -248.0f);
  for (int e = 0; e < 256; ++e) EXPECT_EQ(y[e], 0.5f * scales[e / 16] * (Q[e] - 32)) << e;
}

// --- Reference quantizer round trips ----------------------------------------

std::vector<float> RandomData(size_t n, uint64_t seed, float scale) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> u(-scale, scale);
  std::vector<float> x(n);
  for (auto& v : x) v = u(rng);
  return x;
}

class GgufQuantRoundTripTest : public ::testing::TestWithParam<GgmlType> {};

TEST_P(GgufQuantRoundTripTest, ErrorWithinBound) {
  const uint32_t type = T(GetParam());
  const int64_t block = GgmlBlockSize(type)->block_elems;
  const int64_t n = 256 * 8;
  for (uint64_t seed = 1; seed <= 3; ++seed) {
    std::vector<float> x = RandomData(static_cast<size_t>(n), seed, seed == 2 ? 100.0f : 1.0f);
    if (seed == 3) {  // all-positive, all-zero and tiny blocks
      for (int64_t i = 0; i < 256; ++i) x[i] = std::fabs(x[i]) + 0.5f;
      for (int64_t i = 256; i < 512; ++i) x[i] = 0.0f;
      for (int64_t i = 512; i < 768; ++i) x[i] *= 1e-3f;
    }
    auto q = testing::QuantizeRow(type, x.data(), n);
    ASSERT_TRUE(q.ok()) << q.status().ToString();
    ASSERT_EQ(q->size(), *GgmlRowBytes(type, n));
    std::vector<float> y(static_cast<size_t>(n));
    ASSERT_TRUE(DequantizeRow(type, reinterpret_cast<const uint8_t*>(q->data()), n, y.data()).ok());
    double worst_ratio = 0;
    for (int64_t b = 0; b < n / block; ++b) {
      const float bound = testing::QuantErrorBound(type, x.data() + b * block);
      for (int64_t j = b * block; j < (b + 1) * block; ++j) {
        const float err = std::fabs(y[j] - x[j]);
        ASSERT_LE(err, bound) << GgmlTypeName(type) << " seed " << seed << " element " << j << ": x=" << x[j]
                              << " y=" << y[j];
        if (bound > 0) worst_ratio = std::max(worst_ratio, static_cast<double>(err / bound));
      }
    }
    // The data is quantized for real: not all errors are tiny (except exact types).
    if (type != T(GgmlType::kF32) && seed != 3) {
      EXPECT_GT(worst_ratio, 0.2) << GgmlTypeName(type);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllTypes, GgufQuantRoundTripTest,
                         ::testing::Values(GgmlType::kF32, GgmlType::kF16, GgmlType::kBF16, GgmlType::kQ8_0,
                                           GgmlType::kQ4_0, GgmlType::kQ4_1, GgmlType::kQ4_K, GgmlType::kQ5_K,
                                           GgmlType::kQ6_K),
                         [](const auto& info) { return std::string(GgmlTypeName(static_cast<uint32_t>(info.param))); });

// --- Oracle: the Python gguf package ----------------------------------------

std::string OracleUnavailableReason() {
  const std::string python = SEEDTUNE_VENV_PYTHON;
  std::string why = testing::PythonUnavailableReason(python);
  if (!why.empty()) return why;
  auto r = testing::RunPython(python, "import gguf, numpy\nprint('ok')\n");
  if (!r.ok()) return "the venv at " + python + " lacks the gguf/numpy packages (rerun scripts/setup-venv.sh): " +
                      r.status().message();
  return "";
}

// Random blocks whose fp16 scale fields hold finite values (and whose F16 /
// BF16 / F32 values are finite), so that both sides compute finite numbers.
std::vector<uint8_t> RandomBlocks(uint32_t type, int64_t nblocks, uint64_t seed) {
  const auto info = *GgmlBlockSize(type);
  std::mt19937_64 rng(seed);
  std::vector<uint8_t> b(static_cast<size_t>(nblocks * info.block_bytes));
  for (auto& v : b) v = static_cast<uint8_t>(rng());
  std::uniform_real_distribution<float> u(-3.0f, 3.0f);
  auto set_f16 = [&](size_t at) {
    const uint16_t h = FloatToFp16(u(rng));
    b[at] = static_cast<uint8_t>(h & 0xff);
    b[at + 1] = static_cast<uint8_t>(h >> 8);
  };
  for (int64_t k = 0; k < nblocks; ++k) {
    const size_t o = static_cast<size_t>(k * info.block_bytes);
    switch (static_cast<GgmlType>(type)) {
      case GgmlType::kF32: {
        const float f = u(rng) * 1e3f;
        std::memcpy(&b[o], &f, 4);
        break;
      }
      case GgmlType::kF16: set_f16(o); break;
      case GgmlType::kBF16: {
        // Random sign/mantissa, exponent kept away from inf/nan.
        if (((b[o + 1] & 0x7f) == 0x7f) && (b[o] & 0x80)) b[o + 1] &= 0xbf;
        break;
      }
      case GgmlType::kQ8_0:
      case GgmlType::kQ4_0: set_f16(o); break;
      case GgmlType::kQ4_1:
      case GgmlType::kQ4_K:
      case GgmlType::kQ5_K: set_f16(o); set_f16(o + 2); break;
      case GgmlType::kQ6_K: set_f16(o + 208); break;
      default: break;
    }
  }
  return b;
}

TEST(GgufDequantOracleTest, MatchesPythonGgufBitExactly) {
  const std::string why = OracleUnavailableReason();
  if (!why.empty()) GTEST_SKIP() << "Python gguf oracle unavailable: " << why;
  const std::string dir = testing::TestTempDir("gguf-dequant-oracle");
  const GgmlType types[] = {GgmlType::kF32,  GgmlType::kF16,  GgmlType::kBF16, GgmlType::kQ8_0, GgmlType::kQ4_0,
                            GgmlType::kQ4_1, GgmlType::kQ4_K, GgmlType::kQ5_K, GgmlType::kQ6_K};
  std::vector<std::string> args;
  std::vector<std::vector<float>> ours;
  for (GgmlType t : types) {
    const uint32_t type = T(t);
    const auto info = *GgmlBlockSize(type);
    const int64_t nblocks = info.block_elems == 1 ? 4096 : 64;
    auto blocks = RandomBlocks(type, nblocks, 1000 + type);
    const std::string in = dir + "/" + GgmlTypeName(type) + ".bin";
    ASSERT_TRUE(WriteStringToFile(in, std::string(blocks.begin(), blocks.end())).ok());
    args.push_back(std::to_string(type));
    args.push_back(in);
    std::vector<float> y(static_cast<size_t>(nblocks * info.block_elems));
    ASSERT_TRUE(DequantizeRow(type, blocks.data(), static_cast<int64_t>(y.size()), y.data()).ok());
    ours.push_back(std::move(y));
  }
  const char* script = R"PY(
import sys
import numpy as np
from gguf.constants import GGMLQuantizationType
from gguf.quants import dequantize
args = sys.argv[1:]
for i in range(0, len(args), 2):
    qtype = GGMLQuantizationType(int(args[i]))
    raw = np.fromfile(args[i + 1], dtype=np.uint8)
    out = np.ascontiguousarray(dequantize(raw, qtype), dtype=np.float32).reshape(-1)
    out.tofile(args[i + 1] + ".out")
print("done")
)PY";
  auto r = testing::RunPython(SEEDTUNE_VENV_PYTHON, script, args);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  for (size_t k = 0; k < ours.size(); ++k) {
    const uint32_t type = T(types[k]);
    auto theirs = ReadFileToString(args[2 * k + 1] + ".out");
    ASSERT_TRUE(theirs.ok()) << theirs.status().ToString();
    ASSERT_EQ(theirs->size(), ours[k].size() * 4) << GgmlTypeName(type);
    size_t mismatches = 0, first = 0;
    for (size_t j = 0; j < ours[k].size(); ++j) {
      uint32_t a, b;
      std::memcpy(&a, &ours[k][j], 4);
      std::memcpy(&b, theirs->data() + 4 * j, 4);
      if (a != b && mismatches++ == 0) first = j;
    }
    float fb = 0;
    if (mismatches) std::memcpy(&fb, theirs->data() + 4 * first, 4);
    EXPECT_EQ(mismatches, 0u) << GgmlTypeName(type) << ": first mismatch at element " << first << ": ours "
                              << ours[k][first] << " python " << fb;
  }
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}

TEST(GgufDequantOracleTest, BlockSizesMatchPythonGgufTable) {
  const std::string why = OracleUnavailableReason();
  if (!why.empty()) GTEST_SKIP() << "Python gguf oracle unavailable: " << why;
  auto r = testing::RunPython(SEEDTUNE_VENV_PYTHON, R"PY(
from gguf.constants import GGML_QUANT_SIZES
for t, (elems, nbytes) in GGML_QUANT_SIZES.items():
    print(t.value, t.name, elems, nbytes)
)PY");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  std::istringstream in(*r);
  uint32_t type;
  std::string name;
  int64_t elems, bytes;
  int checked = 0;
  while (in >> type >> name >> elems >> bytes) {
    auto ours = GgmlBlockSize(type);
    if (!ours) continue;  // a type seedtune does not know is rejected at open time
    EXPECT_EQ(ours->block_elems, elems) << name;
    EXPECT_EQ(ours->block_bytes, bytes) << name;
    EXPECT_EQ(std::string(GgmlTypeName(type)), name);
    ++checked;
  }
  EXPECT_GE(checked, 25);
}

}  // namespace
}  // namespace seedtune
