// Model conversion between checkpoint formats: RoPE layout permutation and
// export to Hugging Face / llama2.c.
#pragma once

#include <string>

#include "core/status.h"
#include "formats/hf_checkpoint.h"
#include "model/config.h"
#include "model/weights.h"

namespace seedtune {

// Returns a copy of `weights` whose Q and K projections (weights and biases)
// are permuted so that the model computes the same function under the
// `target` RoPE layout; config().rope_layout becomes `target`. Llama (q_proj,
// k_proj) and GPT-NeoX (the q and k rows of each head of query_key_value) are
// supported. InvalidArgument when either layout is kNone (OPT, GPT-2) and
// the other is not; a plain copy when they are equal.
StatusOr<ModelWeights> ConvertRopeLayout(const ModelWeights& weights, RopeLayout target);

enum class ExportFormat { kHuggingFace, kLlama2c };

struct ExportOptions {
  HfWriteOptions hf;        // kHuggingFace
  int llama2c_version = 0;  // kLlama2c: 0, 1 or 2
  int64_t llama2c_group_size = 0;  // kLlama2c v2: 0 = automatic
};

// Writes `weights` to `out` (a directory for kHuggingFace, a file for
// kLlama2c), first permuting Q/K to the layout the format requires
// (Hugging Face Llama / NeoX: rotate-half; llama2.c: interleaved).
Status ExportModel(const ModelWeights& weights, const std::string& out, ExportFormat format,
                   const ExportOptions& options = {});

}  // namespace seedtune
