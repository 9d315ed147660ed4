// Shared test fixtures: small random models of every architecture, seeded
// random weight filling, temporary directories, and weight comparison.
#pragma once

#include <cstdint>
#include <vector>
#include <functional>
#include <optional>
#include <string>

#include <gtest/gtest.h>

#include "data/encode.h"
#include "model/config.h"
#include "model/weights.h"

namespace seedtune::testing {

// A small but non-trivial config of `arch`: hidden 64, 2 layers, 4 heads
// (2 KV heads for Llama), FFN 96, vocab 101, 64 positions. Llama: rotate-half
// RoPE, theta 10000, SiLU, untied. OPT: pre-LN, ReLU, tied, position_offset 2.
// GPT-2: GELU(tanh), tied. NeoX: rotary_pct 0.5 (rotary_dim 8 of head_dim 16),
// GELU(erf), parallel residual, untied. norm_eps 1e-5 everywhere.
ModelConfig TinyConfig(Architecture arch);

// Fills every tensor from a deterministic generator (same seed => same bits on
// every platform): weights and embeddings uniform in [-scale, scale], norm
// weights 1 + U[-0.1, 0.1], biases and norm biases U[-scale/5, scale/5].
void FillRandom(ModelWeights* weights, uint64_t seed, float scale = 0.05f);

// n floats uniform in [-1, 1) from std::mt19937(seed) (kernel tests' inputs).
std::vector<float> UniformFloats(size_t n, uint32_t seed);

// ModelWeights::Allocate(config) + FillRandom(seed); a test failure (and an
// empty ModelWeights) if the config is invalid.
ModelWeights RandomWeights(const ModelConfig& config, uint64_t seed, float scale = 0.05f);

// A new empty directory "<base>/seedtune-<tag>-XXXXXX", base = $SEEDTUNE_TEST_TMP
// (created if missing) or /tmp. Never reuses a directory.
std::string MakeTempDir(const std::string& tag);

// Whether the configs agree on every field except `name`.
::testing::AssertionResult ConfigsEqual(const ModelConfig& a, const ModelConfig& b);

// Same tensor table (names, shapes) and bitwise-equal values. The Mapped form
// compares actual against expected_of(tensor index, original value), e.g. the
// original rounded to fp16. Reports the first mismatch by tensor name.
::testing::AssertionResult WeightsEqual(const ModelWeights& expected, const ModelWeights& actual);
::testing::AssertionResult WeightsEqualMapped(const ModelWeights& original, const ModelWeights& actual,
                                              const std::function<float(size_t tensor, float value)>& expected_of);

// The first `n` SST-2 training sentences (from the asset roots), one per line,
// in a new file under a temp dir: a plain-text language-modelling task that
// stories260K can learn. nullopt when SST-2 is not in the asset roots.
std::optional<std::string> WriteSst2SentencesFile(const std::string& tag, int n);

// The real stories260K with a language-modelling task it can learn: the
// first `sentences` SST-2 training sentences as text:FILE, split train / dev /
// eval by LoadTask and encoded with the model's tokenizer at `max_length`.
// nullopt when stories260K or SST-2 is not in the asset roots.
struct StoriesLmTask {
  ModelWeights base;
  std::vector<EncodedExample> train, dev, eval;
};
std::optional<StoriesLmTask> LoadStoriesLmTask(const std::string& tag, int sentences, int train_n, int dev_n, int eval_n,
                                               int max_length);

// The stories260K checkpoint's path in the asset roots; empty when absent
// (callers GTEST_SKIP()).
std::string Stories();

// stories260K's llama2.c tokenizer with every merge score negated, in a new
// file under a temp dir: the same 512 pieces, so it loads for that model, but
// it merges in another order and encodes text to other tokens (another
// tokenizer for the run-identity tests). nullopt when the asset is missing.
std::optional<std::string> WriteStories260kTokenizerWithOtherMerges(const std::string& tag);

}  // namespace seedtune::testing
