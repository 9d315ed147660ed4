// Generation evaluation: greedy generations after each example's prompt,
// scored against its gold candidate by Rouge-L F (data/rouge.h, FedKSeed's
// metric) and exact match. FedKSeed's protocol: greedy, max_new_tokens 128,
// one example at a time, special tokens skipped when decoding.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "core/status.h"
#include "data/task.h"
#include "tokenizer/tokenizer.h"

namespace seedtune {

struct GenerationEvalOptions {
  int max_new_tokens = 128;
  // Prompt tokens kept (from the right, a leading BOS kept) so that prompt +
  // generation fit; <= 0: the model's context.
  int64_t max_length = 0;
};

struct Generation {
  std::string hypothesis, reference;
  double rouge_l = 0.0;
  bool exact = false;
};

struct GenerationEvalResult {
  double rouge_l = 0.0;      // mean Rouge-L F over the examples, in [0, 1]
  double exact_match = 0.0;  // share whose generation equals the reference (surrounding whitespace ignored)
  int64_t count = 0;
  std::vector<Generation> generations;  // in example order
};

StatusOr<GenerationEvalResult> EvaluateGeneration(ComputeBackend& model, const Tokenizer& tokenizer,
                                                  std::span<const Example> examples,
                                                  const GenerationEvalOptions& options,
                                                  const std::function<void(int64_t done, int64_t total)>& progress = nullptr);

}  // namespace seedtune
