#include "model/config.h"

#include <cmath>
#include <utility>

namespace seedtune {

const char* ArchitectureName(Architecture a) {
  switch (a) {
    case Architecture::kLlama: return "llama";
    case Architecture::kOpt: return "opt";
    case Architecture::kGpt2: return "gpt2";
    case Architecture::kNeox: return "gpt_neox";
  }
  return "unknown";
}

const char* RopeLayoutName(RopeLayout r) {
  switch (r) {
    case RopeLayout::kNone: return "none";
    case RopeLayout::kInterleaved: return "interleaved";
    case RopeLayout::kRotateHalf: return "rotate_half";
  }
  return "unknown";
}

const char* ActivationName(Activation a) {
  switch (a) {
    case Activation::kSilu: return "silu";
    case Activation::kRelu: return "relu";
    case Activation::kGeluTanh: return "gelu_tanh";
    case Activation::kGeluErf: return "gelu";
  }
  return "unknown";
}

Status ModelConfig::Validate() const {
  auto positive = [](int64_t v, const char* field) -> Status {
    if (v <= 0) return InvalidArgument("model config: {} must be positive, got {}", field, v);
    return Status::Ok();
  };
  RETURN_IF_ERROR(positive(vocab_size, "vocab_size"));
  RETURN_IF_ERROR(positive(hidden_size, "hidden_size"));
  RETURN_IF_ERROR(positive(num_layers, "num_layers"));
  // The tensor table holds ~10 entries per layer and is built before any
  // size is checked against the file: a declared 67 million layers (a
  // 6.5 KB GGUF, fuzz finding) allocated 1.2 GB there. Real models have
  // at most a few hundred.
  if (num_layers > kMaxLayers)
    return InvalidArgument("model config: num_layers {} exceeds {}", num_layers, kMaxLayers);
  RETURN_IF_ERROR(positive(num_heads, "num_heads"));
  RETURN_IF_ERROR(positive(num_kv_heads, "num_kv_heads"));
  RETURN_IF_ERROR(positive(head_dim, "head_dim"));
  RETURN_IF_ERROR(positive(intermediate_size, "intermediate_size"));
  RETURN_IF_ERROR(positive(max_positions, "max_positions"));
  if (num_heads % num_kv_heads != 0)
    return InvalidArgument("model config: num_heads {} is not a multiple of num_kv_heads {}", num_heads, num_kv_heads);
  if (head_dim * num_heads != hidden_size)
    return InvalidArgument("model config: head_dim {} x num_heads {} != hidden_size {}", head_dim, num_heads, hidden_size);
  if (!(norm_eps > 0.0f) || norm_eps > 1.0f) return InvalidArgument("model config: norm_eps {} out of range", norm_eps);
  if (rope_layout != RopeLayout::kNone) {
    if (rotary_dim <= 0 || rotary_dim > head_dim || rotary_dim % 2 != 0)
      return InvalidArgument("model config: rotary_dim {} must be even and in (0, head_dim={}]", rotary_dim, head_dim);
    // Finite too (fuzz finding, hf_config: 1e42 became an infinite float,
    // which config.json cannot hold and the forward turns into NaN).
    if (!(rope_theta > 0.0f) || !std::isfinite(rope_theta))
      return InvalidArgument("model config: rope_theta {} must be positive and finite (as a 32-bit float)", rope_theta);
  }
  if ((arch == Architecture::kLlama || arch == Architecture::kNeox) && rope_layout == RopeLayout::kNone)
    return InvalidArgument("model config: {} needs a rotary layout", ArchitectureName(arch));
  if ((arch == Architecture::kOpt || arch == Architecture::kGpt2) && rope_layout != RopeLayout::kNone)
    return InvalidArgument("model config: {} has no rotary embedding", ArchitectureName(arch));
  if (arch != Architecture::kLlama && num_kv_heads != num_heads)
    return InvalidArgument("model config: {} does not support grouped-query attention", ArchitectureName(arch));
  // Fuzz finding (hf_config): intermediate_size 969007199254740993 passed and
  // its tensor's element count overflowed int64_t.
  for (auto [v, field] : {std::pair{vocab_size, "vocab_size"}, {hidden_size, "hidden_size"},
                          {num_heads, "num_heads"}, {head_dim, "head_dim"},
                          {intermediate_size, "intermediate_size"}, {max_positions, "max_positions"}})
    if (v > kMaxDimension) return InvalidArgument("model config: {} {} exceeds {}", field, v, kMaxDimension);
  // An upper bound on the parameters of every architecture's table (four
  // d x d attention matrices, three d x ffn ones, biases and norms per layer;
  // embeddings in and out; learned positions), in 128 bits.
  const __int128 d = hidden_size, ffn = intermediate_size;
  const __int128 bound = num_layers * (4 * d * d + 3 * d * ffn + 16 * d + 2 * ffn) + 2 * vocab_size * d +
                         (max_positions + 2) * d + 4 * d;
  if (bound > kMaxParameters)
    return InvalidArgument("model config: about {:.3g} parameters (hidden_size {}, intermediate_size {}, {} layers, "
                           "vocab_size {}) exceeds the {:.3g} a model may have",
                           static_cast<double>(bound), hidden_size, intermediate_size, num_layers, vocab_size,
                           static_cast<double>(kMaxParameters));
  return Status::Ok();
}

std::string ModelConfig::Summary() const {
  std::string s = fmt::format("{} d={} layers={} heads={} kv_heads={} head_dim={} ffn={} vocab={} ctx={} act={}",
                              ArchitectureName(arch), hidden_size, num_layers, num_heads, num_kv_heads, head_dim,
                              intermediate_size, vocab_size, max_positions, ActivationName(activation));
  if (rope_layout != RopeLayout::kNone)
    s += fmt::format(" rope={} theta={} rot_dim={}", RopeLayoutName(rope_layout), rope_theta, rotary_dim);
  if (tie_word_embeddings) s += " tied";
  if (arch == Architecture::kOpt && !do_layer_norm_before) s += " post-ln";
  if (arch == Architecture::kNeox) s += use_parallel_residual ? " parallel-residual" : " sequential-residual";
  return s;
}

}  // namespace seedtune
