// Plain-scalar reference forward pass for every supported architecture.
//
// This is the test oracle for the optimized runtime (src/model, src/kernels).
// It is deliberately written independently of that code: straightforward
// loops, every intermediate held in double precision, no kernels, no caching
// tricks. The semantics follow the Hugging Face `transformers` implementations
// (LlamaForCausalLM, OPTForCausalLM, GPT2LMHeadModel, GPTNeoXForCausalLM) and
// llama2.c for the interleaved rotary layout; the .cc file cites which HF
// behaviour each step reproduces.
//
// Inference-mode semantics only: no dropout, no padding / attention mask
// beyond the causal one, positions 0..T-1 for one unbatched sequence.
#pragma once

#include <cstdint>
#include <vector>

#include "model/weights.h"

namespace seedtune::testing {

// Full logits [tokens.size() x vocab] for ONE sequence at positions 0..T-1.
// Computed in double precision and rounded to float at the end.
// Aborts (CHECK) on token ids outside [0, vocab) and, for architectures with
// learned position tables (OPT, GPT-2), on sequences longer than the table.
std::vector<std::vector<float>> ReferenceLogits(const ModelWeights& w, const std::vector<int32_t>& tokens);

}  // namespace seedtune::testing
