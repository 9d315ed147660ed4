// End to end for every architecture: the test writes a small random-weight
// checkpoint to disk (Hugging Face directory; llama2.c file for Llama), the
// runtime loads it through LoadModel, and the optimized forward pass must
// match the independent reference forward on the weights that were written.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "core/threading.h"
#include "formats/checkpoint.h"
#include "formats/convert.h"
#include "model/transformer.h"
#include "support/fixtures.h"
#include "support/reference_forward.h"

namespace seedtune {
namespace {

double MaxLogitError(const ModelWeights& loaded, const ModelWeights& original, const std::vector<int32_t>& tokens) {
  ThreadingContext ctx(2);
  Transformer model(loaded, ctx);
  SequenceRequest r;
  r.tokens = tokens;
  for (int p = 0; p < static_cast<int>(tokens.size()); ++p) r.logit_positions.push_back(p);
  auto out = model.Forward(std::span<const SequenceRequest>(&r, 1));
  EXPECT_TRUE(out.ok()) << out.status().ToString();
  if (!out.ok()) return 1e9;
  auto ref = testing::ReferenceLogits(original, tokens);
  double err = 0.0;
  for (size_t p = 0; p < tokens.size(); ++p)
    for (size_t v = 0; v < ref[p].size(); ++v)
      err = std::max(err, static_cast<double>(std::fabs((*out)[0].logits[p][v] - ref[p][v])));
  return err;
}

std::vector<int32_t> Tokens(int64_t vocab, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<int32_t> t(19);
  for (auto& x : t) x = static_cast<int32_t>(rng() % static_cast<uint32_t>(vocab));
  return t;
}

class CheckpointForwardTest : public ::testing::TestWithParam<Architecture> {};

TEST_P(CheckpointForwardTest, HuggingFaceDirectoryRoundTripComputesReferenceLogits) {
  const ModelConfig cfg = testing::TinyConfig(GetParam());
  ModelWeights w = testing::RandomWeights(cfg, 31, 0.08f);
  const std::string dir = testing::MakeTempDir("ckpt-forward") + "/hf";
  ASSERT_TRUE(ExportModel(w, dir, ExportFormat::kHuggingFace).ok());
  auto loaded = LoadModel(dir);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_LT(MaxLogitError(*loaded, w, Tokens(cfg.vocab_size, 5)), 2e-4) << ArchitectureName(GetParam());
}

INSTANTIATE_TEST_SUITE_P(Architectures, CheckpointForwardTest,
                         ::testing::Values(Architecture::kLlama, Architecture::kOpt, Architecture::kGpt2,
                                           Architecture::kNeox),
                         [](const auto& info) { return std::string(ArchitectureName(info.param)); });

TEST(CheckpointForwardTest, Llama2cFileComputesReferenceLogits) {
  ModelConfig cfg = testing::TinyConfig(Architecture::kLlama);
  cfg.rope_layout = RopeLayout::kInterleaved;  // llama2.c's layout
  cfg.attention_bias = false;
  cfg.rope_theta = 10000.0f;
  cfg.norm_eps = 1e-5f;
  ModelWeights w = testing::RandomWeights(cfg, 37, 0.08f);
  const std::string path = testing::MakeTempDir("ckpt-forward") + "/model.bin";
  for (int version : {0, 1}) {
    ASSERT_TRUE(ExportModel(w, path, ExportFormat::kLlama2c, ExportOptions{{}, version, 0}).ok()) << version;
    auto loaded = LoadModel(path);
    ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
    EXPECT_LT(MaxLogitError(*loaded, w, Tokens(cfg.vocab_size, 9)), 2e-4) << "llama2.c v" << version;
  }
}

}  // namespace
}  // namespace seedtune
