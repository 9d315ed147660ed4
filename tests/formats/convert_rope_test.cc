#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/assets.h"
#include "formats/checkpoint.h"
#include "formats/convert.h"
#include "formats/hf_config.h"
#include "support/fixtures.h"
#include "support/reference_forward.h"

namespace seedtune {
namespace {

using ::seedtune::testing::ConfigsEqual;
using ::seedtune::testing::MakeTempDir;
using ::seedtune::testing::RandomWeights;
using ::seedtune::testing::TinyConfig;
using ::seedtune::testing::WeightsEqual;

ModelConfig InterleavedLlama() {
  ModelConfig c = TinyConfig(Architecture::kLlama);
  c.rope_layout = RopeLayout::kInterleaved;
  c.attention_bias = true;  // biases permute with their rows
  return c;
}

TEST(ConvertRopeTest, PermutesRowsWithinEachHead) {
  // Row r of q_proj / k_proj holds the value r everywhere: the permutation is visible directly.
  ModelConfig c = InterleavedLlama();
  auto w = ModelWeights::Allocate(c);
  ASSERT_TRUE(w.ok());
  const auto& b = w->index().blocks[1];
  for (int idx : {b.q_w, b.k_w}) {
    float* p = w->data(static_cast<size_t>(idx));
    const int64_t rows = w->specs()[static_cast<size_t>(idx)].shape[0];
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t k = 0; k < 64; ++k) p[r * 64 + k] = static_cast<float>(r);
  }
  for (int idx : {b.q_b, b.k_b}) {
    auto t = w->tensor(static_cast<size_t>(idx));
    for (size_t r = 0; r < t.size(); ++r) t[r] = static_cast<float>(r);
  }
  auto rh = ConvertRopeLayout(*w, RopeLayout::kRotateHalf);
  ASSERT_TRUE(rh.ok()) << rh.status().ToString();
  EXPECT_EQ(rh->config().rope_layout, RopeLayout::kRotateHalf);
  const int64_t hd = 16;
  for (int idx : {b.q_w, b.k_w, b.q_b, b.k_b}) {
    const auto& spec = rh->specs()[static_cast<size_t>(idx)];
    const int64_t heads = spec.shape[0] / hd, row_len = spec.shape.size() == 2 ? spec.shape[1] : 1;
    const float* p = rh->data(static_cast<size_t>(idx));
    for (int64_t h = 0; h < heads; ++h) {
      for (int64_t i = 0; i < hd / 2; ++i) {
        // rotate-half row i <- interleaved row 2i; row i + hd/2 <- interleaved row 2i + 1.
        EXPECT_EQ(p[(h * hd + i) * row_len], static_cast<float>(h * hd + 2 * i)) << spec.name;
        EXPECT_EQ(p[(h * hd + i + hd / 2) * row_len + row_len - 1], static_cast<float>(h * hd + 2 * i + 1))
            << spec.name;
      }
    }
  }
  // Other tensors untouched.
  const size_t v = static_cast<size_t>(b.v_w);
  EXPECT_EQ(std::memcmp(rh->data(v), w->data(v), rh->tensor(v).size_bytes()), 0);
}

TEST(ConvertRopeTest, RoundTripIsIdentity) {
  ModelConfig neox = TinyConfig(Architecture::kNeox);
  for (const ModelConfig& c : {InterleavedLlama(), TinyConfig(Architecture::kLlama), neox}) {
    SCOPED_TRACE(c.name + " " + RopeLayoutName(c.rope_layout));
    const ModelWeights w = RandomWeights(c, 5);
    const RopeLayout other =
        c.rope_layout == RopeLayout::kInterleaved ? RopeLayout::kRotateHalf : RopeLayout::kInterleaved;
    auto there = ConvertRopeLayout(w, other);
    ASSERT_TRUE(there.ok()) << there.status().ToString();
    EXPECT_FALSE(WeightsEqual(w, *there));
    auto back = ConvertRopeLayout(*there, c.rope_layout);
    ASSERT_TRUE(back.ok());
    EXPECT_TRUE(ConfigsEqual(c, back->config()));
    EXPECT_TRUE(WeightsEqual(w, *back));
    auto same = ConvertRopeLayout(w, c.rope_layout);
    ASSERT_TRUE(same.ok());
    EXPECT_TRUE(WeightsEqual(w, *same));
  }
  const ModelWeights opt = RandomWeights(TinyConfig(Architecture::kOpt), 1);
  EXPECT_EQ(ConvertRopeLayout(opt, RopeLayout::kRotateHalf).status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(ConvertRopeLayout(opt, RopeLayout::kNone).ok());
}

// Applies RoPE at position `pos` to the first `rot` dims of a head vector,
// pairing dims as the layout says. Frequencies: theta^(-2i/rot) for pair i.
void ApplyRope(std::vector<double>* x, int64_t rot, double theta, int pos, RopeLayout layout) {
  for (int64_t i = 0; i < rot / 2; ++i) {
    const double angle = pos * std::pow(theta, -2.0 * static_cast<double>(i) / static_cast<double>(rot));
    const int64_t a = layout == RopeLayout::kInterleaved ? 2 * i : i;
    const int64_t b = layout == RopeLayout::kInterleaved ? 2 * i + 1 : i + rot / 2;
    const double xa = (*x)[a], xb = (*x)[b];
    (*x)[a] = xa * std::cos(angle) - xb * std::sin(angle);
    (*x)[b] = xa * std::sin(angle) + xb * std::cos(angle);
  }
}

// Row block [first, first + hd) of `idx` (plus bias) applied to x.
std::vector<double> Project(const ModelWeights& w, int w_idx, int b_idx, int64_t first, int64_t hd,
                            const std::vector<float>& x) {
  const int64_t in = static_cast<int64_t>(x.size());
  std::vector<double> out(static_cast<size_t>(hd), 0.0);
  for (int64_t r = 0; r < hd; ++r) {
    double s = b_idx >= 0 ? w.data(static_cast<size_t>(b_idx))[first + r] : 0.0;
    for (int64_t k = 0; k < in; ++k) s += static_cast<double>(w.data(static_cast<size_t>(w_idx))[(first + r) * in + k]) * x[k];
    out[static_cast<size_t>(r)] = s;
  }
  return out;
}

// Attention scores q(pos_q) . k(pos_k) for every query head of layer 0.
std::vector<double> Scores(const ModelWeights& w, const std::vector<float>& xq, const std::vector<float>& xk, int pq,
                           int pk, RopeLayout layout) {
  const ModelConfig& c = w.config();
  const auto& b = w.index().blocks[0];
  std::vector<double> out;
  for (int64_t h = 0; h < c.num_heads; ++h) {
    std::vector<double> q, k;
    if (c.arch == Architecture::kLlama) {
      const int64_t kvh = h / (c.num_heads / c.num_kv_heads);
      q = Project(w, b.q_w, b.q_b, h * c.head_dim, c.head_dim, xq);
      k = Project(w, b.k_w, b.k_b, kvh * c.head_dim, c.head_dim, xk);
    } else {
      q = Project(w, b.qkv_w, b.qkv_b, h * 3 * c.head_dim, c.head_dim, xq);
      k = Project(w, b.qkv_w, b.qkv_b, h * 3 * c.head_dim + c.head_dim, c.head_dim, xk);
    }
    ApplyRope(&q, c.rotary_dim, c.rope_theta, pq, layout);
    ApplyRope(&k, c.rotary_dim, c.rope_theta, pk, layout);
    double s = 0;
    for (size_t i = 0; i < q.size(); ++i) s += q[i] * k[i];
    out.push_back(s);
  }
  return out;
}

TEST(ConvertRopeTest, AttentionScoresAreInvariant) {
  for (const ModelConfig& c : {InterleavedLlama(), TinyConfig(Architecture::kNeox)}) {
    SCOPED_TRACE(c.name);
    const ModelWeights w = RandomWeights(c, 17, 0.2f);
    const RopeLayout other =
        c.rope_layout == RopeLayout::kInterleaved ? RopeLayout::kRotateHalf : RopeLayout::kInterleaved;
    auto conv = ConvertRopeLayout(w, other);
    ASSERT_TRUE(conv.ok());
    std::vector<float> xq(64), xk(64);
    for (int i = 0; i < 64; ++i) {
      xq[i] = std::sin(0.7f * i + 0.3f);
      xk[i] = std::cos(1.3f * i - 0.2f);
    }
    for (auto [pq, pk] : {std::pair{5, 2}, std::pair{31, 0}, std::pair{63, 62}}) {
      const auto a = Scores(w, xq, xk, pq, pk, c.rope_layout);
      const auto b = Scores(*conv, xq, xk, pq, pk, other);
      // Relabeling the layout without permuting gives different scores (so this test can fail).
      const auto wrong = Scores(w, xq, xk, pq, pk, other);
      double max_wrong = 0;
      for (size_t h = 0; h < a.size(); ++h) {
        EXPECT_NEAR(a[h], b[h], 1e-9 * (1 + std::fabs(a[h]))) << h;
        max_wrong = std::max(max_wrong, std::fabs(a[h] - wrong[h]));
      }
      EXPECT_GT(max_wrong, 1e-4);
    }
  }
}

TEST(ConvertRopeTest, ReferenceLogitsAreInvariant) {
  for (const ModelConfig& c : {InterleavedLlama(), TinyConfig(Architecture::kNeox)}) {
    SCOPED_TRACE(c.name);
    const ModelWeights w = RandomWeights(c, 23, 0.1f);
    const RopeLayout other =
        c.rope_layout == RopeLayout::kInterleaved ? RopeLayout::kRotateHalf : RopeLayout::kInterleaved;
    auto conv = ConvertRopeLayout(w, other);
    ASSERT_TRUE(conv.ok());
    const std::vector<int32_t> tokens = {3, 17, 99, 42, 0, 100, 7};
    const auto a = ::seedtune::testing::ReferenceLogits(w, tokens);
    const auto b = ::seedtune::testing::ReferenceLogits(*conv, tokens);
    ASSERT_EQ(a.size(), b.size());
    for (size_t t = 0; t < a.size(); ++t)
      for (size_t v = 0; v < a[t].size(); ++v) ASSERT_NEAR(a[t][v], b[t][v], 1e-5f) << t << "," << v;
  }
}

TEST(ConvertRopeTest, ExportToHuggingFaceAndLlama2cAndBack) {
  const ModelWeights w = RandomWeights(InterleavedLlama(), 29);
  const std::string dir = MakeTempDir("convert-export");
  // Interleaved -> HF (rotate-half on disk) -> back.
  ASSERT_TRUE(ExportModel(w, dir + "/hf", ExportFormat::kHuggingFace).ok());
  auto hf = LoadModel(dir + "/hf");
  ASSERT_TRUE(hf.ok()) << hf.status().ToString();
  EXPECT_EQ(hf->config().rope_layout, RopeLayout::kRotateHalf);
  auto back = ConvertRopeLayout(*hf, RopeLayout::kInterleaved);
  ASSERT_TRUE(back.ok());
  EXPECT_TRUE(WeightsEqual(w, *back));
  // llama2.c needs no biases: drop them via a bias-free config.
  ModelConfig nb = InterleavedLlama();
  nb.attention_bias = false;
  const ModelWeights w2 = RandomWeights(nb, 31);
  auto rh = ConvertRopeLayout(w2, RopeLayout::kRotateHalf);
  ASSERT_TRUE(rh.ok());
  ExportOptions opts;
  opts.llama2c_version = 1;
  ASSERT_TRUE(ExportModel(*rh, dir + "/m.bin", ExportFormat::kLlama2c, opts).ok());
  auto l2c = LoadModel(dir + "/m.bin");
  ASSERT_TRUE(l2c.ok()) << l2c.status().ToString();
  EXPECT_TRUE(WeightsEqual(w2, *l2c));
  EXPECT_EQ(ExportModel(RandomWeights(TinyConfig(Architecture::kGpt2), 1), dir + "/g.bin", ExportFormat::kLlama2c).code(),
            StatusCode::kFailedPrecondition);
}

TEST(ConvertRopeTest, Stories260KThroughHuggingFaceAndBack) {
  const auto path = FindAsset("models/stories260K/stories260K.bin");
  if (!path) GTEST_SKIP() << "models/stories260K/stories260K.bin not found";
  auto original = LoadModel(*path);
  ASSERT_TRUE(original.ok()) << original.status().ToString();
  const std::string dir = MakeTempDir("convert-stories");
  ASSERT_TRUE(ExportModel(*original, dir + "/hf", ExportFormat::kHuggingFace).ok());

  auto cfg = ReadHfConfig(dir + "/hf/config.json");
  ASSERT_TRUE(cfg.ok()) << cfg.status().ToString();
  EXPECT_TRUE(cfg->tie_word_embeddings);
  EXPECT_EQ(cfg->num_kv_heads, 4);

  auto hf = LoadModel(dir + "/hf");
  ASSERT_TRUE(hf.ok()) << hf.status().ToString();
  EXPECT_EQ(hf->config().rope_layout, RopeLayout::kRotateHalf);
  ModelConfig expect = original->config();
  expect.rope_layout = RopeLayout::kRotateHalf;
  EXPECT_TRUE(ConfigsEqual(expect, hf->config()));
  EXPECT_FALSE(WeightsEqual(*original, *hf));  // q/k really were permuted

  auto back = ConvertRopeLayout(*hf, RopeLayout::kInterleaved);
  ASSERT_TRUE(back.ok());
  EXPECT_TRUE(WeightsEqual(*original, *back));

  // And HF -> llama2.c gives the original weights again.
  ASSERT_TRUE(ExportModel(*hf, dir + "/again.bin", ExportFormat::kLlama2c).ok());
  auto again = LoadModel(dir + "/again.bin");
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_TRUE(ConfigsEqual(original->config(), again->config()));
  EXPECT_TRUE(WeightsEqual(*original, *again));
}

}  // namespace
}  // namespace seedtune
