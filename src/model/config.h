// Model hyperparameters for every supported architecture family. Loaders fill
// a ModelConfig from the checkpoint's own metadata (config.json, GGUF keys,
// llama2.c header); the architecture table (model/arch.h) turns it into the
// list of tensors the checkpoint must provide.
#pragma once

#include <cstdint>
#include <string>

#include "core/status.h"

namespace seedtune {

enum class Architecture {
  kLlama,  // Llama / Llama-2 / SmolLM2 / TinyLlama / stories*: RMSNorm, SwiGLU, RoPE, GQA
  kOpt,    // OPT: learned positions (offset 2), LayerNorm (pre or post), ReLU, biases
  kGpt2,   // GPT-2: learned positions, LayerNorm, GELU(tanh), fused QKV (Conv1D in HF files)
  kNeox,   // GPT-NeoX / Pythia: fused per-head QKV, partial rotary, parallel residual
};

// How rotary position embeddings pair up the dimensions of a head.
enum class RopeLayout {
  kNone,        // no rotary embedding (OPT, GPT-2)
  kInterleaved, // pairs (2i, 2i+1): llama2.c, GGUF (llama.cpp permutes Q/K at conversion)
  kRotateHalf,  // pairs (i, i + rot/2): Hugging Face Llama and GPT-NeoX
};

enum class Activation { kSilu, kRelu, kGeluTanh, kGeluErf };

const char* ArchitectureName(Architecture a);
const char* RopeLayoutName(RopeLayout r);
const char* ActivationName(Activation a);

// More layers than any real model; ModelConfig::Validate refuses a config
// declaring more (before a tensor table is built for it).
inline constexpr int64_t kMaxLayers = 4096;
// Every other size (vocabulary, widths, heads, context) is at most 2^24, and
// the parameters a config implies at most 2^40 (4 TiB of fp32, above any
// real model): tensor sizes and their sums then fit int64_t everywhere.
inline constexpr int64_t kMaxDimension = int64_t{1} << 24;
inline constexpr int64_t kMaxParameters = int64_t{1} << 40;

struct ModelConfig {
  Architecture arch = Architecture::kLlama;
  std::string name;  // free-form label, e.g. "stories260K" or "opt-125m (random weights)"

  int64_t vocab_size = 0;
  int64_t hidden_size = 0;        // d_model
  int64_t num_layers = 0;
  int64_t num_heads = 0;
  int64_t num_kv_heads = 0;       // == num_heads without GQA
  int64_t head_dim = 0;           // hidden_size / num_heads for every supported family
  int64_t intermediate_size = 0;  // FFN width
  int64_t max_positions = 0;      // context length (size of learned position tables)

  float norm_eps = 1e-5f;
  Activation activation = Activation::kSilu;

  // Rotary embeddings (Llama, NeoX).
  RopeLayout rope_layout = RopeLayout::kNone;
  float rope_theta = 10000.0f;
  int64_t rotary_dim = 0;  // dims of each head that rotate (head_dim for Llama; pct * head_dim for NeoX)

  bool tie_word_embeddings = false;
  bool attention_bias = false;  // Llama variants with q/k/v/o biases (e.g. Qwen-style); OPT/GPT-2/NeoX always have biases

  // OPT
  bool do_layer_norm_before = true;  // false for OPT-350m (post-LN)
  int64_t position_offset = 0;       // OPT learned positions are indexed at pos + 2

  // GPT-NeoX
  bool use_parallel_residual = true;

  int32_t bos_token_id = -1;
  int32_t eos_token_id = -1;
  int32_t pad_token_id = -1;

  // Checks internal consistency (positive sizes, heads divide, ...). The
  // message names the offending field.
  Status Validate() const;
  // Human-readable one-line summary.
  std::string Summary() const;
};

}  // namespace seedtune
