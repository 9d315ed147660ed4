// Generation evaluation on a real model (stories260K): a reference equal to the
// model's own greedy continuation scores Rouge-L 1 and an exact match, another
// one does not; the prompt is cut from the left to leave room for the tokens.
#include "data/generation_eval.h"

#include <gtest/gtest.h>

#include "backend/generate.h"
#include "core/assets.h"
#include "runtime/model_source.h"

namespace seedtune {
namespace {

TEST(GenerationEvalTest, ScoresGreedyGenerationsAgainstTheGoldText) {
  auto path = FindAsset("models/stories260K/stories260K.bin");
  if (!path) GTEST_SKIP() << "stories260K not in the asset roots";
  auto w = LoadModelSpec(*path);
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  auto tok = LoadTokenizerForModel(*path, w->config(), "");
  ASSERT_TRUE(tok.ok()) << tok.status().ToString();
  ThreadingContext ctx(2);
  auto model = MakeBackend(BackendKind::kCpu, *w, ctx);
  ASSERT_TRUE(model.ok());

  const std::string prompt = "Once upon a time, there was a little girl named Lily.";
  GenerateOptions g;
  g.max_new_tokens = 12;
  g.stop_token = (*tok)->eos_id();
  auto ids = Generate(**model, (*tok)->Encode(prompt), g);
  ASSERT_TRUE(ids.ok());
  if (!ids->empty() && ids->back() == (*tok)->eos_id()) ids->pop_back();
  const std::string own = (*tok)->Decode(*ids);
  ASSERT_FALSE(own.empty());

  Example same{prompt, {own}, 0, true};
  Example other{prompt, {"Zebras quantify xylophones"}, 0, true};
  std::vector<Example> examples = {same, other};
  GenerationEvalOptions opts;
  opts.max_new_tokens = 12;
  int64_t calls = 0;
  auto r = EvaluateGeneration(**model, **tok, examples, opts, [&](int64_t done, int64_t total) {
    ++calls;
    EXPECT_EQ(total, 2);
    EXPECT_EQ(done, calls);
  });
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->count, 2);
  EXPECT_EQ(r->generations[0].hypothesis, own);
  EXPECT_NEAR(r->generations[0].rouge_l, 1.0, 1e-7);
  EXPECT_TRUE(r->generations[0].exact);
  EXPECT_EQ(r->generations[1].rouge_l, 0.0);
  EXPECT_FALSE(r->generations[1].exact);
  EXPECT_NEAR(r->rouge_l, 0.5, 1e-7);
  EXPECT_DOUBLE_EQ(r->exact_match, 0.5);

  // A prompt longer than the room left is cut from the left (it still generates).
  opts.max_length = 24;
  std::vector<Example> long_prompt = {Example{std::string(40, ' ') + prompt + " " + prompt + " " + prompt, {own}, 0, true}};
  r = EvaluateGeneration(**model, **tok, long_prompt, opts);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->count, 1);
  opts.max_length = 12;  // no room for a prompt
  EXPECT_FALSE(EvaluateGeneration(**model, **tok, long_prompt, opts).ok());
}

}  // namespace
}  // namespace seedtune
