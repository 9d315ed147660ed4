// Generation through a backend's Decode, on every backend.
#include "backend/generate.h"

#include <gtest/gtest.h>

#include <string>

#include "backend/backend.h"
#include "support/fixtures.h"

namespace seedtune {
namespace {

using testing::RandomWeights;
using testing::TinyConfig;

class GenerateTest : public ::testing::TestWithParam<BackendKind> {};

TEST_P(GenerateTest, GreedyPicksArgmaxOfFullForward) {
  ModelWeights w = RandomWeights(TinyConfig(Architecture::kGpt2), 23, 0.2f);
  ThreadingContext ctx(2);
  auto backend = MakeBackend(GetParam(), w, ctx);
  ASSERT_TRUE(backend.ok());
  ComputeBackend& model = **backend;
  std::vector<int32_t> seq = {5, 9, 2};
  GenerateOptions opts;
  opts.max_new_tokens = 6;
  auto out = Generate(model, seq, opts);
  ASSERT_TRUE(out.ok());
  ASSERT_EQ(out->size(), 6u);
  for (int32_t next : *out) {
    SequenceRequest r;
    r.tokens = seq;
    r.logit_positions = {-1};
    auto f = model.Forward(std::span<const SequenceRequest>(&r, 1));
    ASSERT_TRUE(f.ok());
    EXPECT_EQ(next, ArgMax((*f)[0].logits[0]));
    seq.push_back(next);
  }
}

TEST_P(GenerateTest, SamplingIsSeededAndStopsAtStopToken) {
  ModelWeights w = RandomWeights(TinyConfig(Architecture::kLlama), 29, 0.3f);
  ThreadingContext ctx(1);
  auto backend = MakeBackend(GetParam(), w, ctx);
  ASSERT_TRUE(backend.ok());
  ComputeBackend& model = **backend;
  const std::vector<int32_t> prompt = {1, 4};
  GenerateOptions opts;
  opts.max_new_tokens = 20;
  opts.temperature = 1.0f;
  opts.top_p = 0.9f;
  opts.seed = 42;
  auto a = Generate(model, prompt, opts), b = Generate(model, prompt, opts);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(*a, *b);
  opts.seed = 43;
  auto c = Generate(model, prompt, opts);
  ASSERT_TRUE(c.ok());
  EXPECT_NE(*a, *c);
  opts.stop_token = (*a)[3];
  opts.seed = 42;
  auto d = Generate(model, prompt, opts);
  ASSERT_TRUE(d.ok());
  EXPECT_LE(d->size(), 4u);
  EXPECT_EQ(d->back(), (*a)[3]);
}

INSTANTIATE_TEST_SUITE_P(Backends, GenerateTest, ::testing::Values(BackendKind::kCpu, BackendKind::kScalar),
                         [](const ::testing::TestParamInfo<BackendKind>& info) {
                           return std::string(BackendKindName(info.param));
                         });

}  // namespace
}  // namespace seedtune
