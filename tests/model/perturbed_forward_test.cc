// A forward pass at theta + s*eps*z never writes the masters and computes
// exactly what the plain forward computes on an explicitly perturbed copy.
#include <gtest/gtest.h>

#include <cstring>
#include <random>

#include "kernels/random.h"
#include "model/transformer.h"
#include "support/fixtures.h"

namespace seedtune {
namespace {

std::vector<SequenceRequest> Batch(int64_t vocab) {
  std::mt19937 rng(4);
  std::vector<SequenceRequest> batch;
  for (int len : {7, 19, 2}) {
    SequenceRequest r;
    for (int i = 0; i < len; ++i) r.tokens.push_back(static_cast<int32_t>(rng() % vocab));
    r.logit_positions = {-1, 0};
    r.score_end = len - 1;
    batch.push_back(r);
  }
  return batch;
}

// theta + scale * z for every tensor, by canonical index.
ModelWeights ExplicitlyPerturbed(const ModelWeights& w, uint64_t seed, float scale, ZDistribution dist) {
  ModelWeights p = w.Clone();
  for (size_t i = 0; i < w.num_tensors(); ++i)
    PerturbZ(seed, static_cast<uint64_t>(w.canonical_index(i)), w.specs()[i].numel(), dist, scale, w.data(i),
             p.data(i));
  return p;
}

void ExpectSameOutputs(const std::vector<SequenceOutput>& a, const std::vector<SequenceOutput>& b, const char* what) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t s = 0; s < a.size(); ++s) {
    ASSERT_EQ(a[s].logits.size(), b[s].logits.size());
    for (size_t j = 0; j < a[s].logits.size(); ++j)
      EXPECT_EQ(0, std::memcmp(a[s].logits[j].data(), b[s].logits[j].data(), a[s].logits[j].size() * 4))
          << what << " seq " << s;
    EXPECT_EQ(0, std::memcmp(a[s].token_logprobs.data(), b[s].token_logprobs.data(), a[s].token_logprobs.size() * 4))
        << what << " seq " << s;
  }
}

class PerturbedForwardTest : public ::testing::TestWithParam<Architecture> {};

TEST_P(PerturbedForwardTest, MastersUntouchedAndEqualToExplicitCopy) {
  ModelConfig cfg = testing::TinyConfig(GetParam());
  ModelWeights w = testing::RandomWeights(cfg, 3, 0.08f);
  const ModelWeights before = w.Clone();
  ThreadingContext ctx(2);
  Transformer model(w, ctx);
  const auto batch = Batch(cfg.vocab_size);
  for (ZDistribution dist : {ZDistribution::kGaussian, ZDistribution::kRademacher}) {
    const Perturbation p{1234567, 1e-2f, dist};
    auto got = model.Forward(batch, &p);
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    ASSERT_EQ(0, std::memcmp(w.buffer(), before.buffer(), w.buffer_floats() * 4)) << "masters changed";
    ModelWeights explicit_w = ExplicitlyPerturbed(w, p.seed, p.scale, dist);
    Transformer reference(explicit_w, ctx);
    auto want = reference.Forward(batch);
    ASSERT_TRUE(want.ok());
    ExpectSameOutputs(*got, *want, ZDistributionName(dist));
  }
}

TEST_P(PerturbedForwardTest, PairEqualsTwoSingleForwards) {
  ModelConfig cfg = testing::TinyConfig(GetParam());
  ModelWeights w = testing::RandomWeights(cfg, 5, 0.08f);
  ThreadingContext ctx(2);
  Transformer model(w, ctx);
  const auto batch = Batch(cfg.vocab_size);
  auto pair = model.ForwardPair(batch, 99, 1e-3f);
  ASSERT_TRUE(pair.ok()) << pair.status().ToString();
  const Perturbation plus{99, 1e-3f}, minus{99, -1e-3f};
  auto a = model.Forward(batch, &plus), b = model.Forward(batch, &minus);
  ASSERT_TRUE(a.ok() && b.ok());
  ExpectSameOutputs((*pair)[0], *a, "+eps");
  ExpectSameOutputs((*pair)[1], *b, "-eps");
  // The two directions differ, and the losses move in opposite directions to
  // first order: (L+ - L0) ~ -(L- - L0) for a small enough eps.
  auto plain = model.Forward(batch);
  ASSERT_TRUE(plain.ok());
  auto small = model.ForwardPair(batch, 99, 1e-4f);
  ASSERT_TRUE(small.ok());
  a = std::move((*small)[0]);
  b = std::move((*small)[1]);
  double dp = 0, dm = 0;
  for (size_t s = 0; s < batch.size(); ++s)
    for (size_t j = 0; j < (*plain)[s].token_logprobs.size(); ++j) {
      dp += (*a)[s].token_logprobs[j] - (*plain)[s].token_logprobs[j];
      dm += (*b)[s].token_logprobs[j] - (*plain)[s].token_logprobs[j];
    }
  EXPECT_NE(dp, 0.0);
  EXPECT_NEAR(dp, -dm, 0.1 * std::fabs(dp) + 1e-5);
}

TEST_P(PerturbedForwardTest, ZeroScaleEqualsPlainForward) {
  ModelConfig cfg = testing::TinyConfig(GetParam());
  ModelWeights w = testing::RandomWeights(cfg, 7, 0.08f);
  ThreadingContext ctx(1);
  Transformer model(w, ctx);
  const auto batch = Batch(cfg.vocab_size);
  const Perturbation zero{5, 0.0f};
  auto a = model.Forward(batch, &zero), b = model.Forward(batch);
  ASSERT_TRUE(a.ok() && b.ok());
  ExpectSameOutputs(*a, *b, "scale 0");
}

INSTANTIATE_TEST_SUITE_P(Architectures, PerturbedForwardTest,
                         ::testing::Values(Architecture::kLlama, Architecture::kOpt, Architecture::kGpt2,
                                           Architecture::kNeox),
                         [](const auto& info) { return std::string(ArchitectureName(info.param)); });

}  // namespace
}  // namespace seedtune
