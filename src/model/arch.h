// Architectures as tables: for a ModelConfig, the ordered list of tensors a
// checkpoint must provide, with their canonical (Hugging Face) names and
// shapes. The order of this table is the model's canonical parameter order:
// loading, hashing, perturbing, updating and saving all walk it. A tied
// output projection appears once (as the embedding).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "model/config.h"

namespace seedtune {

enum class TensorRole {
  kTokenEmbedding,     // [vocab, hidden]
  kPositionEmbedding,  // [positions, hidden]
  kLinearWeight,       // [out, in], y = x W^T
  kLinearBias,         // [out]
  kNormWeight,         // [hidden]
  kNormBias,           // [hidden]
  kOutputProjection,   // [vocab, hidden] (untied lm_head)
};

const char* TensorRoleName(TensorRole r);

// Whether a tensor takes weight decay under MeZO's rule (none on biases and norms).
bool TakesWeightDecay(TensorRole r);

struct TensorSpec {
  std::string name;            // canonical name: the Hugging Face parameter name
  std::vector<int64_t> shape;  // internal row-major shape; linear weights are [out, in]
  TensorRole role = TensorRole::kLinearWeight;
  int layer = -1;              // block index, -1 for model-level tensors
  // GPT-2 stores linear weights as Conv1D, i.e. [in, out] in its files; the
  // internal shape is always [out, in] and readers/writers transpose.
  bool hf_conv1d = false;

  int64_t numel() const;
  std::string ShapeString() const;  // "[576, 49152]"
};

// Indices into the tensor table of the tensors one transformer block uses.
// -1 means "absent in this architecture".
struct BlockTensors {
  int attn_norm_w = -1, attn_norm_b = -1;  // input LayerNorm / RMSNorm
  int q_w = -1, q_b = -1, k_w = -1, k_b = -1, v_w = -1, v_b = -1;
  int qkv_w = -1, qkv_b = -1;  // fused: GPT-2 [3*d, d] (q|k|v blocks), NeoX [3*d, d] (per head q,k,v)
  int o_w = -1, o_b = -1;
  int mlp_norm_w = -1, mlp_norm_b = -1;
  int gate_w = -1;             // Llama SwiGLU gate
  int up_w = -1, up_b = -1;    // fc1 / c_fc / dense_h_to_4h / up_proj
  int down_w = -1, down_b = -1;
};

struct ModelTensors {
  int token_embedding = -1;
  int position_embedding = -1;
  int final_norm_w = -1, final_norm_b = -1;
  int output = -1;  // == token_embedding when tied
  std::vector<BlockTensors> blocks;
};

struct TensorTable {
  std::vector<TensorSpec> specs;
  ModelTensors index;

  std::optional<size_t> Find(const std::string& name) const;
  int64_t num_params() const;
};

// Builds the table for a validated config.
StatusOr<TensorTable> BuildTensorTable(const ModelConfig& config);

}  // namespace seedtune
