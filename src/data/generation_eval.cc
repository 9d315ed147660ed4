#include "data/generation_eval.h"

#include <algorithm>

#include "backend/generate.h"
#include "data/rouge.h"
#include "data/text.h"

namespace seedtune {

StatusOr<GenerationEvalResult> EvaluateGeneration(ComputeBackend& model, const Tokenizer& tokenizer,
                                                  std::span<const Example> examples,
                                                  const GenerationEvalOptions& options,
                                                  const std::function<void(int64_t, int64_t)>& progress) {
  if (options.max_new_tokens <= 0)
    return InvalidArgument("--max-new-tokens must be positive, not {}", options.max_new_tokens);
  const int64_t context = model.config().max_positions;
  const int64_t length = options.max_length > 0 ? std::min(options.max_length, context) : context;
  const int64_t prompt_budget = length - options.max_new_tokens;
  if (prompt_budget < 1)
    return InvalidArgument("--max-new-tokens {} leaves no room for a prompt in {} tokens of context",
                           options.max_new_tokens, length);
  GenerationEvalResult out;
  GenerateOptions gen;
  gen.max_new_tokens = options.max_new_tokens;
  gen.stop_token = tokenizer.eos_id();
  double rouge_sum = 0.0;
  int64_t exact = 0;
  for (size_t i = 0; i < examples.size(); ++i) {
    const Example& ex = examples[i];
    if (ex.candidates.empty() || ex.label < 0 || ex.label >= static_cast<int>(ex.candidates.size()))
      return InvalidArgument("example {}: no gold candidate to compare a generation with", i);
    std::vector<int32_t> prompt = tokenizer.Encode(ex.prompt);
    if (prompt.empty()) {  // no prompt and no BOS: nothing to generate from
      if (tokenizer.bos_id() < 0) return InvalidArgument("example {}: an empty prompt and no BOS token", i);
      prompt.push_back(tokenizer.bos_id());
    }
    if (static_cast<int64_t>(prompt.size()) > prompt_budget) {  // keep the end; a leading BOS stays
      const bool bos = tokenizer.bos_id() >= 0 && prompt.front() == tokenizer.bos_id();
      std::vector<int32_t> kept;
      if (bos) kept.push_back(prompt.front());
      kept.insert(kept.end(), prompt.end() - (prompt_budget - (bos ? 1 : 0)), prompt.end());
      prompt = std::move(kept);
    }
    ASSIGN_OR_RETURN(std::vector<int32_t> ids, Generate(model, prompt, gen));
    if (!ids.empty() && ids.back() == tokenizer.eos_id()) ids.pop_back();
    Generation g;
    g.hypothesis = tokenizer.Decode(ids);
    g.reference = ex.candidates[static_cast<size_t>(ex.label)];
    g.rouge_l = RougeL(g.hypothesis, g.reference).f;
    g.exact = PyStrip(g.hypothesis) == PyStrip(g.reference);
    rouge_sum += g.rouge_l;
    exact += g.exact ? 1 : 0;
    out.generations.push_back(std::move(g));
    if (progress) progress(static_cast<int64_t>(i) + 1, static_cast<int64_t>(examples.size()));
  }
  out.count = static_cast<int64_t>(examples.size());
  if (out.count > 0) {
    out.rouge_l = rouge_sum / static_cast<double>(out.count);
    out.exact_match = static_cast<double>(exact) / static_cast<double>(out.count);
  }
  return out;
}

}  // namespace seedtune
