// Properties the plain-scalar reference forward pass (tests/support/
// reference_forward.h) must satisfy. Each test compares the reference against
// either itself on a transformed-but-equivalent model, or against a direct
// computation in the test, so a wrong layout, offset, scale or mask fails.
#include "support/reference_forward.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <complex>
#include <cstdint>
#include <ostream>
#include <random>
#include <string>
#include <vector>

#include "model/weights.h"
#include "support/fixtures.h"

namespace seedtune::testing {
namespace {

using Logits = std::vector<std::vector<float>>;

// ------------------------------------------------------------- helpers ----

// Weights: the shared fixtures (support/fixtures.h): TinyConfig(arch) is
// hidden 64, 2 layers, 4 heads (head_dim 16; Llama with 2 KV heads), ffn 96,
// vocab 101, 64 positions; RandomWeights fills uniform [-scale, scale] with
// norm weights 1 + U[-0.1, 0.1] and biases U[-scale/5, scale/5].
constexpr float kScale = 0.1f;       // default weight scale
constexpr float kWideScale = 0.35f;  // larger q.k / pre-activations where the test needs them to matter

std::vector<int32_t> RandomTokens(size_t n, int64_t vocab, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int32_t> dist(0, static_cast<int32_t>(vocab - 1));
  std::vector<int32_t> t(n);
  for (auto& v : t) v = dist(rng);
  return t;
}

float* Mut(ModelWeights& w, int idx) {
  EXPECT_GE(idx, 0);
  return w.data(static_cast<size_t>(idx));
}
int64_t Numel(const ModelWeights& w, int idx) { return w.specs()[static_cast<size_t>(idx)].numel(); }
void Zero(ModelWeights& w, int idx) {
  if (idx >= 0) std::fill_n(Mut(w, idx), Numel(w, idx), 0.0f);
}

double MaxAbsDiff(const Logits& a, const Logits& b, size_t from = 0, size_t to = SIZE_MAX) {
  EXPECT_EQ(a.size(), b.size());
  double m = 0.0;
  for (size_t t = from; t < std::min({a.size(), b.size(), to}); ++t) {
    EXPECT_EQ(a[t].size(), b[t].size());
    for (size_t i = 0; i < a[t].size(); ++i) m = std::max(m, std::fabs(static_cast<double>(a[t][i]) - b[t][i]));
  }
  return m;
}

// Copies row `src_row` of tensor `src_idx` in `src` to row `dst_row` of
// tensor `dst_idx` in `dst` (row length = last dim; 1-D tensors: one element).
void CopyRow(const ModelWeights& src, int src_idx, int64_t src_row, ModelWeights& dst, int dst_idx, int64_t dst_row) {
  const auto& shape = src.specs()[static_cast<size_t>(src_idx)].shape;
  const int64_t len = shape.size() == 1 ? 1 : shape.back();
  std::copy_n(src.data(static_cast<size_t>(src_idx)) + src_row * len, len, Mut(dst, dst_idx) + dst_row * len);
}

// Direct (test-side) norms in double for hand computations.
std::vector<double> DirectRms(const std::vector<double>& x, const float* w, double eps) {
  double ms = 0;
  for (double v : x) ms += v * v;
  ms /= x.size();
  std::vector<double> y(x.size());
  for (size_t i = 0; i < x.size(); ++i) y[i] = x[i] / std::sqrt(ms + eps) * w[i];
  return y;
}
std::vector<double> DirectLn(const std::vector<double>& x, const float* w, const float* b, double eps) {
  double mean = 0, var = 0;
  for (double v : x) mean += v;
  mean /= x.size();
  for (double v : x) var += (v - mean) * (v - mean);
  var /= x.size();
  std::vector<double> y(x.size());
  for (size_t i = 0; i < x.size(); ++i) y[i] = (x[i] - mean) / std::sqrt(var + eps) * w[i] + b[i];
  return y;
}
// y = W x (+ b), W [out, in].
std::vector<double> DirectMatVec(const float* W, const float* b, const std::vector<double>& x, int64_t out) {
  std::vector<double> y(static_cast<size_t>(out));
  for (int64_t o = 0; o < out; ++o) {
    double acc = b ? b[o] : 0.0;
    for (size_t i = 0; i < x.size(); ++i) acc += static_cast<double>(W[o * static_cast<int64_t>(x.size()) + i]) * x[i];
    y[static_cast<size_t>(o)] = acc;
  }
  return y;
}

// ------------------------------------------------------------ variants ----

struct Variant {
  std::string name;
  ModelConfig config;
};
void PrintTo(const Variant& v, std::ostream* os) { *os << v.name; }

std::vector<Variant> AllVariants() {
  std::vector<Variant> v;
  v.push_back({"llama_rotate_half_gqa", TinyConfig(Architecture::kLlama)});
  {
    ModelConfig c = TinyConfig(Architecture::kLlama);
    c.rope_layout = RopeLayout::kInterleaved;
    c.num_kv_heads = 4;
    c.attention_bias = true;
    c.tie_word_embeddings = true;
    v.push_back({"llama_interleaved_mha_bias_tied", c});
  }
  v.push_back({"opt_pre_ln", TinyConfig(Architecture::kOpt)});
  {
    ModelConfig c = TinyConfig(Architecture::kOpt);
    c.do_layer_norm_before = false;
    v.push_back({"opt_post_ln", c});
  }
  v.push_back({"gpt2", TinyConfig(Architecture::kGpt2)});
  v.push_back({"neox_parallel", TinyConfig(Architecture::kNeox)});
  {
    ModelConfig c = TinyConfig(Architecture::kNeox);
    c.use_parallel_residual = false;
    v.push_back({"neox_sequential", c});
  }
  return v;
}

class ReferenceVariantTest : public ::testing::TestWithParam<Variant> {};

TEST_P(ReferenceVariantTest, ShapeAndFinite) {
  const ModelWeights w = RandomWeights(GetParam().config, 1, kScale);
  const auto tokens = RandomTokens(9, w.config().vocab_size, 2);
  const Logits l = ReferenceLogits(w, tokens);
  ASSERT_EQ(l.size(), tokens.size());
  for (const auto& row : l) {
    ASSERT_EQ(static_cast<int64_t>(row.size()), w.config().vocab_size);
    for (float v : row) ASSERT_TRUE(std::isfinite(v));
  }
  EXPECT_TRUE(ReferenceLogits(w, {}).empty());
}

// (a) Causality: logits at t depend only on tokens[0..t]; and they do depend
// on the tokens (changing the suffix changes later positions).
TEST_P(ReferenceVariantTest, Causal) {
  const ModelWeights w = RandomWeights(GetParam().config, 3, kScale);
  const size_t T = 12, keep = 5;
  auto a = RandomTokens(T, w.config().vocab_size, 4);
  auto b = a;
  for (size_t t = keep; t < T; ++t) b[t] = (a[t] + 1 + static_cast<int32_t>(t)) % static_cast<int32_t>(w.config().vocab_size);
  const Logits la = ReferenceLogits(w, a), lb = ReferenceLogits(w, b);
  EXPECT_EQ(MaxAbsDiff(la, lb, 0, keep), 0.0) << "prefix logits changed when only the suffix changed";
  for (size_t t = keep; t < T; ++t) EXPECT_GT(MaxAbsDiff(la, lb, t, t + 1), 1e-4) << "position " << t;
  // A prefix run gives the same logits as the full run at the same positions.
  const Logits lp = ReferenceLogits(w, std::vector<int32_t>(a.begin(), a.begin() + keep));
  EXPECT_EQ(MaxAbsDiff(lp, Logits(la.begin(), la.begin() + keep)), 0.0);
}

// (c) With every block's output projections (attention out + MLP down, and
// their biases) zeroed, blocks add nothing to the residual stream, so
// logits = final_norm(embedding (+ position)) . W_out^T. For post-LN OPT the
// two block LayerNorms still apply and there is no final norm.
TEST_P(ReferenceVariantTest, ZeroedBlockOutputsGiveNormedEmbedding) {
  ModelConfig c = GetParam().config;
  c.num_layers = 1;
  ModelWeights w = RandomWeights(c, 5, kScale);
  for (const auto& bt : w.index().blocks) {
    Zero(w, bt.o_w), Zero(w, bt.o_b), Zero(w, bt.down_w), Zero(w, bt.down_b);
  }
  const auto tokens = RandomTokens(7, c.vocab_size, 6);
  const Logits got = ReferenceLogits(w, tokens);
  const auto& ix = w.index();
  const int64_t d = c.hidden_size;
  for (size_t t = 0; t < tokens.size(); ++t) {
    std::vector<double> x(static_cast<size_t>(d));
    for (int64_t i = 0; i < d; ++i) {
      x[i] = w.data(ix.token_embedding)[tokens[t] * d + i];
      if (c.arch == Architecture::kOpt) x[i] += w.data(ix.position_embedding)[(t + 2) * d + i];
      if (c.arch == Architecture::kGpt2) x[i] += w.data(ix.position_embedding)[t * d + i];
    }
    if (c.arch == Architecture::kOpt && !c.do_layer_norm_before) {
      const auto& bt = ix.blocks[0];
      x = DirectLn(x, w.data(bt.attn_norm_w), w.data(bt.attn_norm_b), c.norm_eps);
      x = DirectLn(x, w.data(bt.mlp_norm_w), w.data(bt.mlp_norm_b), c.norm_eps);
      ASSERT_LT(ix.final_norm_w, 0);
    } else if (c.arch == Architecture::kLlama) {
      x = DirectRms(x, w.data(ix.final_norm_w), c.norm_eps);
    } else {
      x = DirectLn(x, w.data(ix.final_norm_w), w.data(ix.final_norm_b), c.norm_eps);
    }
    const auto expect = DirectMatVec(w.data(ix.output), nullptr, x, c.vocab_size);
    for (int64_t v = 0; v < c.vocab_size; ++v)
      ASSERT_NEAR(got[t][v], expect[v], 1e-5) << "t=" << t << " v=" << v;
  }
}

// With the attention output projection (and bias) zeroed, each block is just
// its MLP; check a 1-layer model against a direct computation of the
// family's MLP (activation included: SwiGLU, ReLU, GELU-tanh, GELU-erf) and
// residual / LayerNorm placement.
TEST_P(ReferenceVariantTest, ZeroedAttentionGivesHandComputedMlp) {
  ModelConfig c = GetParam().config;
  c.num_layers = 1;
  ModelWeights w = RandomWeights(c, 19, /*scale=*/0.5f);  // wide pre-activations: activations differ
  const auto& ix = w.index();
  const auto& bt = ix.blocks[0];
  Zero(w, bt.o_w), Zero(w, bt.o_b);
  const auto tokens = RandomTokens(5, c.vocab_size, 20);
  const Logits got = ReferenceLogits(w, tokens);
  const int64_t d = c.hidden_size, f = c.intermediate_size;
  auto act = [&](double v) {
    switch (c.activation) {
      case Activation::kSilu: return v / (1 + std::exp(-v));
      case Activation::kRelu: return std::max(v, 0.0);
      case Activation::kGeluTanh: return 0.5 * v * (1 + std::tanh(0.7978845608028654 * (v + 0.044715 * v * v * v)));
      case Activation::kGeluErf: return 0.5 * v * (1 + std::erf(v * 0.7071067811865476));
    }
    return 0.0;
  };
  for (size_t t = 0; t < tokens.size(); ++t) {
    std::vector<double> x(static_cast<size_t>(d));
    for (int64_t i = 0; i < d; ++i) {
      x[i] = w.data(ix.token_embedding)[tokens[t] * d + i];
      if (c.arch == Architecture::kOpt) x[i] += w.data(ix.position_embedding)[(t + 2) * d + i];
      if (c.arch == Architecture::kGpt2) x[i] += w.data(ix.position_embedding)[t * d + i];
    }
    const bool post_ln = c.arch == Architecture::kOpt && !c.do_layer_norm_before;
    if (post_ln) x = DirectLn(x, w.data(bt.attn_norm_w), w.data(bt.attn_norm_b), c.norm_eps);
    std::vector<double> h;
    if (c.arch == Architecture::kLlama) {
      h = DirectRms(x, w.data(bt.mlp_norm_w), c.norm_eps);
      auto g = DirectMatVec(w.data(bt.gate_w), nullptr, h, f);
      const auto u = DirectMatVec(w.data(bt.up_w), nullptr, h, f);
      for (int64_t i = 0; i < f; ++i) g[i] = act(g[i]) * u[i];
      h = g;
    } else {
      h = post_ln ? x : DirectLn(x, w.data(bt.mlp_norm_w), w.data(bt.mlp_norm_b), c.norm_eps);
      h = DirectMatVec(w.data(bt.up_w), w.data(bt.up_b), h, f);
      for (double& v : h) v = act(v);
    }
    const auto m = DirectMatVec(w.data(bt.down_w), bt.down_b >= 0 ? w.data(bt.down_b) : nullptr, h, d);
    for (int64_t i = 0; i < d; ++i) x[i] += m[i];
    if (post_ln) {
      x = DirectLn(x, w.data(bt.mlp_norm_w), w.data(bt.mlp_norm_b), c.norm_eps);
    } else if (c.arch == Architecture::kLlama) {
      x = DirectRms(x, w.data(ix.final_norm_w), c.norm_eps);
    } else {
      x = DirectLn(x, w.data(ix.final_norm_w), w.data(ix.final_norm_b), c.norm_eps);
    }
    const auto expect = DirectMatVec(w.data(ix.output), nullptr, x, c.vocab_size);
    for (int64_t v = 0; v < c.vocab_size; ++v)
      ASSERT_NEAR(got[t][v], expect[v], 1e-5) << "t=" << t << " v=" << v;
  }
}

INSTANTIATE_TEST_SUITE_P(AllArchitectures, ReferenceVariantTest, ::testing::ValuesIn(AllVariants()),
                         [](const ::testing::TestParamInfo<Variant>& i) { return i.param.name; });

// ------------------------------------------------------------ Llama RoPE ----

// Row permutation taking an interleaved-layout q/k projection to the
// rotate-half layout (what HF's convert_llama_weights_to_hf.py permute does):
// rotate-half row i <- interleaved row 2i, row i + rot/2 <- row 2i + 1.
int64_t InterleavedSourceRow(int64_t e, int64_t rot) {
  if (e >= rot) return e;
  return e < rot / 2 ? 2 * e : 2 * (e - rot / 2) + 1;
}

ModelWeights InterleavedToRotateHalf(const ModelWeights& src) {
  ModelConfig c = src.config();
  EXPECT_EQ(c.rope_layout, RopeLayout::kInterleaved);
  c.rope_layout = RopeLayout::kRotateHalf;
  auto dst = ModelWeights::Allocate(c);
  EXPECT_TRUE(dst.ok());
  ModelWeights out = std::move(dst).value();
  EXPECT_EQ(out.buffer_floats(), src.buffer_floats());
  std::copy_n(src.buffer(), src.buffer_floats(), out.buffer());
  const int64_t hd = c.head_dim;
  for (const auto& bt : src.index().blocks) {
    auto permute = [&](int idx, int64_t heads) {
      if (idx < 0) return;
      for (int64_t h = 0; h < heads; ++h)
        for (int64_t e = 0; e < hd; ++e) CopyRow(src, idx, h * hd + InterleavedSourceRow(e, c.rotary_dim), out, idx, h * hd + e);
    };
    permute(bt.q_w, c.num_heads), permute(bt.q_b, c.num_heads);
    permute(bt.k_w, c.num_kv_heads), permute(bt.k_b, c.num_kv_heads);
  }
  return out;
}

// (b) Interleaved and rotate-half layouts are the same model up to a
// per-head permutation of the q/k rows (and biases); v is untouched.
TEST(ReferenceLlamaTest, RopeLayoutsAgreeUnderRowPermutation) {
  for (int64_t rot : {16, 8}) {  // full and partial rotary
    ModelConfig c = TinyConfig(Architecture::kLlama);
    c.rope_layout = RopeLayout::kInterleaved;
    c.rotary_dim = rot;
    c.num_kv_heads = 2;
    c.attention_bias = true;
    const ModelWeights inter = RandomWeights(c, 7, kWideScale);  // larger q.k so RoPE matters
    const ModelWeights half = InterleavedToRotateHalf(inter);
    const auto tokens = RandomTokens(24, c.vocab_size, 8);
    const Logits li = ReferenceLogits(inter, tokens), lh = ReferenceLogits(half, tokens);
    EXPECT_LT(MaxAbsDiff(li, lh), 1e-5) << "rotary_dim=" << rot;

    // Control: the same weights under the other layout without the
    // permutation give a different model (so the check above has teeth).
    ModelConfig ch = c;
    ch.rope_layout = RopeLayout::kRotateHalf;
    ModelWeights relabeled = RandomWeights(ch, 0);
    std::copy_n(inter.buffer(), inter.buffer_floats(), relabeled.buffer());
    const Logits lr = ReferenceLogits(relabeled, tokens);
    EXPECT_GT(MaxAbsDiff(li, lr, 1), 1e-3) << "rotary_dim=" << rot;
    // Position 0 has no rotation at all, so there the layouts coincide.
    EXPECT_LT(MaxAbsDiff(li, lr, 0, 1), 1e-6);
  }
}

// (d) GQA with 2 kv heads equals MHA with each kv head duplicated.
TEST(ReferenceLlamaTest, GqaEqualsMhaWithDuplicatedKvHeads) {
  for (RopeLayout layout : {RopeLayout::kRotateHalf, RopeLayout::kInterleaved}) {
    ModelConfig cg = TinyConfig(Architecture::kLlama);
    cg.rope_layout = layout;
    cg.num_kv_heads = 2;
    cg.attention_bias = true;
    const ModelWeights gqa = RandomWeights(cg, 9, kWideScale);
    ModelConfig cm = cg;
    cm.num_kv_heads = cm.num_heads;
    ModelWeights mha = RandomWeights(cm, 0);
    const int64_t hd = cg.head_dim, rep = cg.num_heads / cg.num_kv_heads;
    // Same tensor order; copy by name, duplicating k/v rows.
    for (size_t i = 0; i < gqa.num_tensors(); ++i) {
      const auto& name = gqa.specs()[i].name;
      const auto j = mha.table().Find(name);
      ASSERT_TRUE(j.has_value()) << name;
      const bool kv = name.find("k_proj") != std::string::npos || name.find("v_proj") != std::string::npos;
      if (!kv) {
        ASSERT_EQ(gqa.specs()[i].numel(), mha.specs()[*j].numel());
        std::copy_n(gqa.data(i), gqa.specs()[i].numel(), mha.data(*j));
        continue;
      }
      for (int64_t h = 0; h < cm.num_kv_heads; ++h)
        for (int64_t e = 0; e < hd; ++e)
          CopyRow(gqa, static_cast<int>(i), (h / rep) * hd + e, mha, static_cast<int>(*j), h * hd + e);
    }
    const auto tokens = RandomTokens(16, cg.vocab_size, 10);
    EXPECT_LT(MaxAbsDiff(ReferenceLogits(gqa, tokens), ReferenceLogits(mha, tokens)), 1e-5);
  }
}

// Hand computation of a 1-layer Llama with its MLP zeroed, written with
// complex numbers: in the interleaved layout the pair (2i, 2i+1) is the
// complex number z_i, RoPE multiplies it by exp(i * p * theta^(-2i/hd)), and
// q.k = Re(sum_i q_i conj(k_i)). GQA (2 kv heads) and biases included.
TEST(ReferenceLlamaTest, MatchesComplexRopeHandComputation) {
  ModelConfig c = TinyConfig(Architecture::kLlama);
  c.num_layers = 1;
  c.rope_layout = RopeLayout::kInterleaved;
  c.num_kv_heads = 2;
  c.attention_bias = true;
  c.rope_theta = 500.0f;  // non-default base, so a hard-coded 10000 would fail
  ModelWeights w = RandomWeights(c, 11, kWideScale);
  const auto& bt = w.index().blocks[0];
  Zero(w, bt.down_w);
  const auto tokens = RandomTokens(6, c.vocab_size, 12);
  const Logits got = ReferenceLogits(w, tokens);

  const int64_t d = c.hidden_size, hd = c.head_dim, nkv = c.num_kv_heads * hd, rep = c.num_heads / c.num_kv_heads;
  using Cd = std::complex<double>;
  std::vector<std::vector<double>> x, v;
  std::vector<std::vector<Cd>> q, k;  // rotated, as complex pairs
  for (size_t t = 0; t < tokens.size(); ++t) {
    std::vector<double> e(w.data(w.index().token_embedding) + tokens[t] * d,
                          w.data(w.index().token_embedding) + (tokens[t] + 1) * d);
    x.push_back(e);
    const auto h = DirectRms(e, w.data(bt.attn_norm_w), c.norm_eps);
    const auto qr = DirectMatVec(w.data(bt.q_w), w.data(bt.q_b), h, d);
    const auto kr = DirectMatVec(w.data(bt.k_w), w.data(bt.k_b), h, nkv);
    v.push_back(DirectMatVec(w.data(bt.v_w), w.data(bt.v_b), h, nkv));
    auto rot = [&](const std::vector<double>& r) {
      std::vector<Cd> z(r.size() / 2);
      for (size_t j = 0; j < z.size(); ++j) {
        const size_t i = j % static_cast<size_t>(hd / 2);  // pair index within the head
        const double freq = std::pow(static_cast<double>(c.rope_theta), -2.0 * i / hd);
        z[j] = Cd(r[2 * j], r[2 * j + 1]) * std::polar(1.0, static_cast<double>(t) * freq);
      }
      return z;
    };
    q.push_back(rot(qr));
    k.push_back(rot(kr));
  }
  for (size_t t = 0; t < tokens.size(); ++t) {
    std::vector<double> attn(static_cast<size_t>(d), 0.0);
    for (int64_t h = 0; h < c.num_heads; ++h) {
      const int64_t g = h / rep;
      std::vector<double> p(t + 1);
      double sum = 0;
      for (size_t s = 0; s <= t; ++s) {
        Cd dot = 0;
        for (int64_t j = 0; j < hd / 2; ++j) dot += q[t][h * hd / 2 + j] * std::conj(k[s][g * hd / 2 + j]);
        p[s] = std::exp(dot.real() / std::sqrt(static_cast<double>(hd)));  // small scores: no max shift needed
        sum += p[s];
      }
      for (size_t s = 0; s <= t; ++s)
        for (int64_t e = 0; e < hd; ++e) attn[h * hd + e] += p[s] / sum * v[s][g * hd + e];
    }
    const auto o = DirectMatVec(w.data(bt.o_w), w.data(bt.o_b), attn, d);
    std::vector<double> r = x[t];
    for (int64_t i = 0; i < d; ++i) r[i] += o[i];
    const auto logits = DirectMatVec(w.data(w.index().output), nullptr,
                                     DirectRms(r, w.data(w.index().final_norm_w), c.norm_eps), c.vocab_size);
    for (int64_t i = 0; i < c.vocab_size; ++i) ASSERT_NEAR(got[t][i], logits[i], 1e-5) << "t=" << t << " i=" << i;
  }
}

// ---------------------------------------------------------- OPT / GPT-2 ----

// Pre-LN OPT with a GELU(tanh) activation is GPT-2 with wpe[p] =
// embed_positions[p + 2] and c_attn = [q_proj; k_proj; v_proj]: checks the OPT
// position offset, that scaling q (bias included) equals scaling the scores,
// and the GPT-2 fused-QKV split.
TEST(ReferenceOptGpt2Test, PreLnOptEqualsGpt2) {
  ModelConfig co = TinyConfig(Architecture::kOpt);
  co.activation = Activation::kGeluTanh;
  const ModelWeights opt = RandomWeights(co, 13, kWideScale);
  ModelWeights gpt = RandomWeights(TinyConfig(Architecture::kGpt2), 0);
  const int64_t d = co.hidden_size;
  auto copy_all = [&](int from, int to) {
    ASSERT_EQ(opt.specs()[from].numel(), gpt.specs()[to].numel());
    std::copy_n(opt.data(from), opt.specs()[from].numel(), Mut(gpt, to));
  };
  const auto &oi = opt.index(), &gi = gpt.index();
  copy_all(oi.token_embedding, gi.token_embedding);
  for (int64_t p = 0; p < co.max_positions; ++p) CopyRow(opt, oi.position_embedding, p + 2, gpt, gi.position_embedding, p);
  for (size_t l = 0; l < oi.blocks.size(); ++l) {
    const auto &ob = oi.blocks[l], &gb = gi.blocks[l];
    copy_all(ob.attn_norm_w, gb.attn_norm_w), copy_all(ob.attn_norm_b, gb.attn_norm_b);
    copy_all(ob.mlp_norm_w, gb.mlp_norm_w), copy_all(ob.mlp_norm_b, gb.mlp_norm_b);
    copy_all(ob.o_w, gb.o_w), copy_all(ob.o_b, gb.o_b);
    copy_all(ob.up_w, gb.up_w), copy_all(ob.up_b, gb.up_b);
    copy_all(ob.down_w, gb.down_w), copy_all(ob.down_b, gb.down_b);
    int part = 0;
    for (auto [wi, bi] : {std::pair{ob.q_w, ob.q_b}, std::pair{ob.k_w, ob.k_b}, std::pair{ob.v_w, ob.v_b}}) {
      for (int64_t r = 0; r < d; ++r) {
        CopyRow(opt, wi, r, gpt, gb.qkv_w, part * d + r);
        CopyRow(opt, bi, r, gpt, gb.qkv_b, part * d + r);
      }
      ++part;
    }
  }
  copy_all(oi.final_norm_w, gi.final_norm_w), copy_all(oi.final_norm_b, gi.final_norm_b);
  const auto tokens = RandomTokens(20, co.vocab_size, 14);
  const Logits lo = ReferenceLogits(opt, tokens);
  EXPECT_LT(MaxAbsDiff(lo, ReferenceLogits(gpt, tokens)), 1e-5);

  // Control: swapping q and k blocks of the fused weight changes the model.
  ModelWeights swapped = gpt.Clone();
  for (const auto& gb : gi.blocks)
    for (int64_t r = 0; r < d; ++r) {
      CopyRow(gpt, gb.qkv_w, r, swapped, gb.qkv_w, d + r), CopyRow(gpt, gb.qkv_w, d + r, swapped, gb.qkv_w, r);
      CopyRow(gpt, gb.qkv_b, r, swapped, gb.qkv_b, d + r), CopyRow(gpt, gb.qkv_b, d + r, swapped, gb.qkv_b, r);
    }
  EXPECT_GT(MaxAbsDiff(lo, ReferenceLogits(swapped, tokens), 1), 1e-4);
}

// -------------------------------------------------------------- GPT-NeoX ----

// The NeoX fused QKV is per head [q | k | v]. Relabeling heads (swap heads 0
// and 1), reversing the non-rotary dims of q and k identically, and reversing
// v's dims with the matching dense columns is a symmetry of the model; it
// only holds if the per-head layout and the partial-rotary split are right.
TEST(ReferenceNeoxTest, PerHeadQkvLayoutSymmetry) {
  for (bool parallel : {true, false}) {
    ModelConfig c = TinyConfig(Architecture::kNeox);
    c.use_parallel_residual = parallel;
    const ModelWeights a = RandomWeights(c, 15, kWideScale);
    ModelWeights b = a.Clone();
    const int64_t hd = c.head_dim, rot = c.rotary_dim, d = c.hidden_size;
    auto head_map = [](int64_t h) { return h == 0 ? 1 : h == 1 ? 0 : h; };
    auto qk_map = [&](int64_t e) { return e < rot ? e : rot + (hd - 1 - e); };
    auto v_map = [&](int64_t e) { return hd - 1 - e; };
    for (const auto& bt : a.index().blocks) {
      for (int64_t h = 0; h < c.num_heads; ++h) {
        const int64_t sa = h * 3 * hd, sb = head_map(h) * 3 * hd;
        for (int64_t e = 0; e < hd; ++e) {
          for (int idx : {bt.qkv_w, bt.qkv_b}) {
            CopyRow(a, idx, sa + e, b, idx, sb + qk_map(e));
            CopyRow(a, idx, sa + hd + e, b, idx, sb + hd + qk_map(e));
            CopyRow(a, idx, sa + 2 * hd + e, b, idx, sb + 2 * hd + v_map(e));
          }
          for (int64_t r = 0; r < d; ++r)  // dense column h*hd+e -> head_map(h)*hd + v_map(e)
            Mut(b, bt.o_w)[r * d + head_map(h) * hd + v_map(e)] = a.data(bt.o_w)[r * d + h * hd + e];
        }
      }
    }
    const auto tokens = RandomTokens(16, c.vocab_size, 16);
    const Logits la = ReferenceLogits(a, tokens);
    EXPECT_LT(MaxAbsDiff(la, ReferenceLogits(b, tokens)), 1e-5) << "parallel=" << parallel;

    // Control: reversing a rotary dim pair too (dims 0 and 1 of q and k) is
    // not a symmetry once positions > 0 rotate.
    ModelWeights bad = b.Clone();
    for (const auto& bt : a.index().blocks)
      for (int64_t h = 0; h < c.num_heads; ++h)
        for (int64_t off : {int64_t{0}, hd}) {
          CopyRow(b, bt.qkv_w, h * 3 * hd + off, bad, bt.qkv_w, h * 3 * hd + off + 1);
          CopyRow(b, bt.qkv_w, h * 3 * hd + off + 1, bad, bt.qkv_w, h * 3 * hd + off);
        }
    EXPECT_GT(MaxAbsDiff(la, ReferenceLogits(bad, tokens), 1), 1e-4) << "parallel=" << parallel;
  }
}

// Hand computation of a 1-layer NeoX with its MLP zeroed, rotary written as
// complex numbers: in the rotate-half layout the pair (i, i + rot/2) is the
// complex number z_i rotated by exp(i * p * theta^(-2i/rot)); dims >= rot pass
// through. q, k, v are read from the fused weight per head ([q|k|v] blocks).
TEST(ReferenceNeoxTest, MatchesComplexPartialRotaryHandComputation) {
  for (bool parallel : {true, false}) {
    ModelConfig c = TinyConfig(Architecture::kNeox);
    c.num_layers = 1;
    c.use_parallel_residual = parallel;
    c.rotary_dim = 6;
    c.rope_theta = 777.0f;
    ModelWeights w = RandomWeights(c, 21, kWideScale);
    const auto& ix = w.index();
    const auto& bt = ix.blocks[0];
    Zero(w, bt.down_w), Zero(w, bt.down_b);
    const auto tokens = RandomTokens(6, c.vocab_size, 22);
    const Logits got = ReferenceLogits(w, tokens);

    using Cd = std::complex<double>;
    const int64_t d = c.hidden_size, hd = c.head_dim, rot = c.rotary_dim, half = rot / 2;
    std::vector<std::vector<double>> x, qkv;
    for (size_t t = 0; t < tokens.size(); ++t) {
      x.emplace_back(w.data(ix.token_embedding) + tokens[t] * d, w.data(ix.token_embedding) + (tokens[t] + 1) * d);
      qkv.push_back(DirectMatVec(w.data(bt.qkv_w), w.data(bt.qkv_b),
                                 DirectLn(x.back(), w.data(bt.attn_norm_w), w.data(bt.attn_norm_b), c.norm_eps), 3 * d));
    }
    // Element e of q (part 0), k (1) or v (2) of head h at position t.
    auto at = [&](size_t t, int64_t h, int part, int64_t e) { return qkv[t][h * 3 * hd + part * hd + e]; };
    for (size_t t = 0; t < tokens.size(); ++t) {
      std::vector<double> attn(static_cast<size_t>(d), 0.0);
      for (int64_t h = 0; h < c.num_heads; ++h) {
        std::vector<double> p(t + 1);
        double sum = 0;
        for (size_t s = 0; s <= t; ++s) {
          double dot = 0;
          for (int64_t i = 0; i < half; ++i) {
            const double f = std::pow(static_cast<double>(c.rope_theta), -2.0 * i / rot);
            const Cd zq = Cd(at(t, h, 0, i), at(t, h, 0, i + half)) * std::polar(1.0, static_cast<double>(t) * f);
            const Cd zk = Cd(at(s, h, 1, i), at(s, h, 1, i + half)) * std::polar(1.0, static_cast<double>(s) * f);
            dot += (zq * std::conj(zk)).real();
          }
          for (int64_t e = rot; e < hd; ++e) dot += at(t, h, 0, e) * at(s, h, 1, e);
          p[s] = std::exp(dot / std::sqrt(static_cast<double>(hd)));
          sum += p[s];
        }
        for (size_t s = 0; s <= t; ++s)
          for (int64_t e = 0; e < hd; ++e) attn[h * hd + e] += p[s] / sum * at(s, h, 2, e);
      }
      const auto o = DirectMatVec(w.data(bt.o_w), w.data(bt.o_b), attn, d);
      std::vector<double> r = x[t];
      for (int64_t i = 0; i < d; ++i) r[i] += o[i];
      // The zeroed MLP still adds its (zero) output in either residual form.
      const auto logits = DirectMatVec(w.data(ix.output), nullptr,
                                       DirectLn(r, w.data(ix.final_norm_w), w.data(ix.final_norm_b), c.norm_eps),
                                       c.vocab_size);
      for (int64_t i = 0; i < c.vocab_size; ++i)
        ASSERT_NEAR(got[t][i], logits[i], 1e-5) << "parallel=" << parallel << " t=" << t << " i=" << i;
    }
  }
}

// Parallel and sequential residuals differ exactly through the MLP's view of
// the attention output: with the MLP zeroed they coincide, otherwise not.
TEST(ReferenceNeoxTest, ParallelVsSequentialResidual) {
  ModelConfig cp = TinyConfig(Architecture::kNeox), cs = cp;
  cs.use_parallel_residual = false;
  ModelWeights wp = RandomWeights(cp, 17, kWideScale), ws = RandomWeights(cs, 17, kWideScale);
  const auto tokens = RandomTokens(10, cp.vocab_size, 18);
  EXPECT_GT(MaxAbsDiff(ReferenceLogits(wp, tokens), ReferenceLogits(ws, tokens)), 1e-4);
  for (ModelWeights* w : {&wp, &ws})
    for (const auto& bt : w->index().blocks) Zero(*w, bt.down_w), Zero(*w, bt.down_b);
  EXPECT_LT(MaxAbsDiff(ReferenceLogits(wp, tokens), ReferenceLogits(ws, tokens)), 1e-6);
}

}  // namespace
}  // namespace seedtune::testing
