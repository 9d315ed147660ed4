// karpathy/llama2.c checkpoints.
//
// Version 0 ("legacy", run.c): 7 int32 (dim, hidden_dim, n_layers, n_heads,
// n_kv_heads, vocab_size, seq_len); a negative vocab_size means the classifier
// is NOT shared with the embedding. Then fp32: token_embedding, rms_att (all
// layers), wq, wk, wv, wo, rms_ffn, w1, w2, w3 (each all layers), rms_final,
// freq_cis_real [seq_len, head_dim/2], freq_cis_imag, and wcls if unshared.
//
// Version 1 / 2 (export.py): uint32 magic 0x616b3432 ("ak42"), int32 version,
// the 7 int32, uint8 shared_classifier, (v2) int32 group_size, zero padding
// to 256 bytes. v1 fp32: rms_att (all layers), rms_ffn, rms_final,
// token_embedding, wq..w3 (each all layers), wcls if unshared. v2: the norms
// as v1 in fp32, then Q8_0 tensors token_embedding, wq..w3 (one tensor per
// layer), wcls if unshared; each is int8 values (numel) followed by fp32
// scales (numel / group_size), value = q * scale.
//
// Mapping to Hugging Face names: w1 = mlp.gate_proj, w2 = mlp.down_proj,
// w3 = mlp.up_proj. RoPE pairs are interleaved (2i, 2i+1).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"
#include "model/config.h"
#include "model/weights.h"

namespace seedtune {

inline constexpr uint32_t kLlama2cMagic = 0x616b3432;  // "ak42"

struct Llama2cHeader {
  int version = 0;  // 0 (legacy), 1 (fp32), 2 (Q8_0)
  int64_t dim = 0, hidden_dim = 0, n_layers = 0, n_heads = 0, n_kv_heads = 0, vocab_size = 0, seq_len = 0;
  bool shared_classifier = true;
  int64_t group_size = 0;     // version 2 only
  uint64_t header_bytes = 0;  // 28 (v0) or 256
  int64_t head_dim() const { return dim / n_heads; }
};

// One tensor of the file, in file order. `name` is the canonical (Hugging
// Face) name, or "freq_cis_real" / "freq_cis_imag" for the v0 RoPE tables.
struct Llama2cTensor {
  std::string name;
  std::vector<int64_t> shape;
  uint64_t offset = 0;  // absolute byte offset in the file
  bool q8 = false;      // Q8_0 (v2): numel int8 then numel/group_size fp32 scales
  uint64_t nbytes = 0;
};

// Parses and validates the header (positive sizes, heads divide dim, ...).
// `size` is the whole file size; errors name `path`.
StatusOr<Llama2cHeader> ParseLlama2cHeader(const uint8_t* data, uint64_t size, const std::string& path);

// The exact file size the header implies (closed form, overflow-safe).
// InvalidArgument when a v2 tensor is not a multiple of the group size or the
// size is absurd (> 2^62 bytes).
StatusOr<uint64_t> Llama2cFileSize(const Llama2cHeader& h, const std::string& path);

// The tensors the header implies, in file order. Call only after checking
// Llama2cFileSize() against the real size (which bounds the tensor count).
std::vector<Llama2cTensor> Llama2cLayout(const Llama2cHeader& h);

// The model configuration of a llama2.c checkpoint.
ModelConfig Llama2cConfig(const Llama2cHeader& h, const std::string& name);

// Writes `weights` as a llama2.c checkpoint of `version` 0, 1 or 2. Requires
// a Llama model with interleaved RoPE over the whole head, rope_theta 10000,
// norm_eps 1e-5 and no biases (what run.c hard-codes); FailedPrecondition
// otherwise (see formats/convert.h for the RoPE permutation). `group_size`
// (v2): 0 picks the largest of 64, 32, ... dividing dim, as export.py does.
Status WriteLlama2c(const ModelWeights& weights, const std::string& path, int version, int64_t group_size = 0);

// Q8_0 group quantization as export.py does it: per group of `group_size`,
// scale = max|w| / 127, q = round(w / scale) (0 where scale is 0).
void QuantizeQ8(const float* w, int64_t n, int64_t group_size, int8_t* q, float* scales);

}  // namespace seedtune
