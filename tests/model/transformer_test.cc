// The optimized forward pass against the independent scalar reference
// (tests/support/reference_forward.cc), for every architecture, plus the
// properties batching, caching and threading must keep.
#include "model/transformer.h"

#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <cstring>
#include <random>

#include "kernels/cpu.h"
#include "support/fixtures.h"
#include "support/reference_forward.h"

namespace seedtune {
namespace {

using testing::RandomWeights;
using testing::ReferenceLogits;
using testing::TinyConfig;

std::vector<int32_t> RandomTokens(int n, int vocab, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<int32_t> t(static_cast<size_t>(n));
  for (auto& x : t) x = static_cast<int32_t>(rng() % static_cast<uint32_t>(vocab));
  return t;
}

std::vector<int32_t> AllPositions(int n) {
  std::vector<int32_t> p(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) p[i] = i;
  return p;
}

struct ArchCase {
  Architecture arch;
  const char* name;
  bool post_ln = false;
  bool sequential_neox = false;
  RopeLayout layout = RopeLayout::kNone;
};

ModelConfig CaseConfig(const ArchCase& c) {
  ModelConfig cfg = TinyConfig(c.arch);
  if (c.post_ln) cfg.do_layer_norm_before = false;
  if (c.sequential_neox) cfg.use_parallel_residual = false;
  if (c.layout != RopeLayout::kNone) cfg.rope_layout = c.layout;
  return cfg;
}

class TransformerArchTest : public ::testing::TestWithParam<ArchCase> {};

TEST_P(TransformerArchTest, LogitsMatchIndependentReference) {
  const ModelConfig cfg = CaseConfig(GetParam());
  ModelWeights w = RandomWeights(cfg, 7, 0.08f);
  ThreadingContext ctx(2);
  Transformer model(w, ctx);
  for (int len : {1, 5, 23}) {
    SequenceRequest req;
    req.tokens = RandomTokens(len, static_cast<int>(cfg.vocab_size), 100 + len);
    req.logit_positions = AllPositions(len);
    auto out = model.Forward(std::span<const SequenceRequest>(&req, 1));
    ASSERT_TRUE(out.ok()) << out.status().ToString();
    auto ref = ReferenceLogits(w, req.tokens);
    ASSERT_EQ(ref.size(), static_cast<size_t>(len));
    double max_err = 0.0;
    for (int p = 0; p < len; ++p)
      for (int64_t v = 0; v < cfg.vocab_size; ++v)
        max_err = std::max(max_err, static_cast<double>(std::fabs((*out)[0].logits[p][v] - ref[p][v])));
    EXPECT_LT(max_err, 2e-4) << GetParam().name << " len " << len;
  }
}

TEST_P(TransformerArchTest, PackedBatchEqualsSequencesAlone) {
  const ModelConfig cfg = CaseConfig(GetParam());
  ModelWeights w = RandomWeights(cfg, 11, 0.08f);
  ThreadingContext ctx(2);
  Transformer model(w, ctx);
  std::vector<SequenceRequest> batch;
  for (int len : {3, 17, 1, 9}) {
    SequenceRequest r;
    r.tokens = RandomTokens(len, static_cast<int>(cfg.vocab_size), 200 + len);
    r.logit_positions = {-1, 0};
    r.score_end = len - 1;
    batch.push_back(r);
  }
  auto together = model.Forward(batch);
  ASSERT_TRUE(together.ok()) << together.status().ToString();
  for (size_t s = 0; s < batch.size(); ++s) {
    auto alone = model.Forward(std::span<const SequenceRequest>(&batch[s], 1));
    ASSERT_TRUE(alone.ok());
    for (size_t j = 0; j < 2; ++j)
      for (int64_t v = 0; v < cfg.vocab_size; ++v)
        EXPECT_NEAR((*together)[s].logits[j][v], (*alone)[0].logits[j][v], 1e-5) << "seq " << s;
    ASSERT_EQ((*together)[s].token_logprobs.size(), (*alone)[0].token_logprobs.size());
    for (size_t j = 0; j < (*alone)[0].token_logprobs.size(); ++j)
      EXPECT_NEAR((*together)[s].token_logprobs[j], (*alone)[0].token_logprobs[j], 1e-5);
  }
}

TEST_P(TransformerArchTest, TokenLogProbsAreLogSoftmaxOfLogits) {
  const ModelConfig cfg = CaseConfig(GetParam());
  ModelWeights w = RandomWeights(cfg, 13, 0.08f);
  ThreadingContext ctx(1);
  Transformer model(w, ctx);
  SequenceRequest r;
  r.tokens = RandomTokens(12, static_cast<int>(cfg.vocab_size), 300);
  r.logit_positions = AllPositions(12);
  r.score_begin = 2;
  r.score_end = 11;
  auto out = model.Forward(std::span<const SequenceRequest>(&r, 1));
  ASSERT_TRUE(out.ok());
  for (int p = r.score_begin; p < r.score_end; ++p) {
    const auto& lg = (*out)[0].logits[p];
    double mx = -1e30, sum = 0.0;
    for (float v : lg) mx = std::max<double>(mx, v);
    for (float v : lg) sum += std::exp(v - mx);
    const double want = lg[r.tokens[p + 1]] - (mx + std::log(sum));
    EXPECT_NEAR((*out)[0].token_logprobs[p - r.score_begin], want, 1e-4);
  }
}

TEST_P(TransformerArchTest, KvCacheDecodingEqualsFullForward) {
  const ModelConfig cfg = CaseConfig(GetParam());
  ModelWeights w = RandomWeights(cfg, 17, 0.08f);
  ThreadingContext ctx(2);
  Transformer model(w, ctx);
  const auto tokens = RandomTokens(14, static_cast<int>(cfg.vocab_size), 400);
  SequenceRequest r;
  r.tokens = tokens;
  r.logit_positions = AllPositions(14);
  auto full = model.Forward(std::span<const SequenceRequest>(&r, 1));
  ASSERT_TRUE(full.ok());
  KvCache cache(cfg, 14);
  std::vector<float> logits;
  // A 5-token prefill, then one token at a time.
  ASSERT_TRUE(model.Decode(cache, std::span<const int32_t>(tokens.data(), 5), &logits).ok());
  for (int64_t v = 0; v < cfg.vocab_size; ++v) EXPECT_NEAR(logits[v], (*full)[0].logits[4][v], 1e-5);
  for (int p = 5; p < 14; ++p) {
    ASSERT_TRUE(model.Decode(cache, std::span<const int32_t>(tokens.data() + p, 1), &logits).ok());
    for (int64_t v = 0; v < cfg.vocab_size; ++v) EXPECT_NEAR(logits[v], (*full)[0].logits[p][v], 1e-5) << p;
  }
  EXPECT_FALSE(model.Decode(cache, std::span<const int32_t>(tokens.data(), 1), &logits).ok()) << "cache is full";
}

TEST_P(TransformerArchTest, BitIdenticalForAnyThreadCountOnEverySimdPath) {
  const ModelConfig cfg = CaseConfig(GetParam());
  ModelWeights w = RandomWeights(cfg, 19, 0.08f);
  std::vector<SequenceRequest> batch;
  for (int len : {40, 7, 64}) {
    SequenceRequest r;
    r.tokens = RandomTokens(len, static_cast<int>(cfg.vocab_size), 500 + len);
    r.logit_positions = {-1};
    r.score_end = len - 1;
    batch.push_back(r);
  }
  auto same = [&](const std::vector<SequenceOutput>& a, const std::vector<SequenceOutput>& b, const std::string& what) {
    for (size_t s = 0; s < batch.size(); ++s) {
      EXPECT_EQ(0, std::memcmp(a[s].logits[0].data(), b[s].logits[0].data(), cfg.vocab_size * 4)) << what;
      EXPECT_EQ(0, std::memcmp(a[s].token_logprobs.data(), b[s].token_logprobs.data(), a[s].token_logprobs.size() * 4))
          << what;
    }
  };
  const SimdLevel saved = ActiveSimdLevel();
  for (SimdLevel level : SupportedSimdLevels()) {
    SetActiveSimdLevel(level);
    std::vector<SequenceOutput> first;
    std::array<std::vector<SequenceOutput>, 2> first_pair;
    for (int threads : {1, 2, 3}) {
      ThreadingContext ctx(threads);
      Transformer model(w, ctx);
      auto out = model.Forward(batch);
      auto pair = model.ForwardPair(batch, 77, 1e-2f);
      ASSERT_TRUE(out.ok() && pair.ok());
      // One thread runs layer by layer; more run these small models as one
      // task per (stream, sequence): the two schedules must agree bit for bit.
      EXPECT_EQ(model.last_sequence_tasks(), threads == 1 ? 0 : 2 * static_cast<int64_t>(batch.size()));
      if (threads == 1) {
        first = *out;
        first_pair = *pair;
        continue;
      }
      const std::string what = std::string(SimdLevelName(level)) + ", " + std::to_string(threads) + " threads";
      same(first, *out, what);
      same(first_pair[0], (*pair)[0], what + ", +eps");
      same(first_pair[1], (*pair)[1], what + ", -eps");
    }
  }
  SetActiveSimdLevel(saved);
}

TEST_P(TransformerArchTest, ASequenceScoresTheSameAloneAsInsideABatch) {
  // Every kernel computes a row from that row alone (the GEMM contract of
  // kernels/gemm.h, row-wise norms and activations, attention per sequence),
  // so what else is in the batch never changes a sequence's bits.
  const ModelConfig cfg = CaseConfig(GetParam());
  ModelWeights w = RandomWeights(cfg, 23, 0.08f);
  std::vector<SequenceRequest> batch;
  for (int len : {33, 5, 64, 12}) {
    SequenceRequest r;
    r.tokens = RandomTokens(len, static_cast<int>(cfg.vocab_size), 900 + len);
    r.logit_positions = {-1};
    r.score_end = len - 1;
    batch.push_back(r);
  }
  ThreadingContext ctx(2);
  Transformer model(w, ctx);
  auto together = model.ForwardPair(batch, 5, 1e-2f);
  ASSERT_TRUE(together.ok());
  for (size_t s = 0; s < batch.size(); ++s) {
    auto alone = model.ForwardPair(std::span<const SequenceRequest>(&batch[s], 1), 5, 1e-2f);
    ASSERT_TRUE(alone.ok());
    for (int sign = 0; sign < 2; ++sign) {
      const auto& a = (*alone)[sign][0];
      const auto& b = (*together)[sign][s];
      EXPECT_EQ(0, std::memcmp(a.token_logprobs.data(), b.token_logprobs.data(), a.token_logprobs.size() * 4))
          << "sequence " << s << " sign " << sign;
      EXPECT_EQ(0, std::memcmp(a.logits[0].data(), b.logits[0].data(), cfg.vocab_size * 4)) << "sequence " << s;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    Architectures, TransformerArchTest,
    ::testing::Values(ArchCase{Architecture::kLlama, "llama_rotate_half", false, false, RopeLayout::kRotateHalf},
                      ArchCase{Architecture::kLlama, "llama_interleaved", false, false, RopeLayout::kInterleaved},
                      ArchCase{Architecture::kOpt, "opt_pre_ln"}, ArchCase{Architecture::kOpt, "opt_post_ln", true},
                      ArchCase{Architecture::kGpt2, "gpt2"}, ArchCase{Architecture::kNeox, "neox_parallel"},
                      ArchCase{Architecture::kNeox, "neox_sequential", false, true}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(TransformerTest, RejectsBadRequests) {
  ModelWeights w = RandomWeights(TinyConfig(Architecture::kLlama), 1);
  ThreadingContext ctx(1);
  Transformer model(w, ctx);
  auto run = [&](SequenceRequest r) { return model.Forward(std::span<const SequenceRequest>(&r, 1)).status(); };
  SequenceRequest empty;
  EXPECT_EQ(run(empty).code(), StatusCode::kInvalidArgument);
  SequenceRequest bad_id;
  bad_id.tokens = {1, static_cast<int32_t>(w.config().vocab_size)};
  Status s = run(bad_id);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("outside the vocabulary"), std::string::npos) << s.message();
  SequenceRequest bad_pos;
  bad_pos.tokens = {1, 2};
  bad_pos.logit_positions = {2};
  EXPECT_FALSE(run(bad_pos).ok());
  SequenceRequest bad_score;
  bad_score.tokens = {1, 2};
  bad_score.score_end = 2;
  EXPECT_FALSE(run(bad_score).ok());
  SequenceRequest too_long;
  too_long.tokens.assign(static_cast<size_t>(w.config().max_positions + 1), 1);
  EXPECT_FALSE(run(too_long).ok());
}

}  // namespace
}  // namespace seedtune
