#include "model/arch.h"

#include <numeric>

namespace seedtune {

const char* TensorRoleName(TensorRole r) {
  switch (r) {
    case TensorRole::kTokenEmbedding: return "token_embedding";
    case TensorRole::kPositionEmbedding: return "position_embedding";
    case TensorRole::kLinearWeight: return "linear_weight";
    case TensorRole::kLinearBias: return "linear_bias";
    case TensorRole::kNormWeight: return "norm_weight";
    case TensorRole::kNormBias: return "norm_bias";
    case TensorRole::kOutputProjection: return "output_projection";
  }
  return "unknown";
}

bool TakesWeightDecay(TensorRole r) {
  return r != TensorRole::kLinearBias && r != TensorRole::kNormWeight && r != TensorRole::kNormBias;
}

int64_t TensorSpec::numel() const {
  return std::accumulate(shape.begin(), shape.end(), int64_t{1}, [](int64_t a, int64_t b) { return a * b; });
}

std::string TensorSpec::ShapeString() const {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

std::optional<size_t> TensorTable::Find(const std::string& name) const {
  for (size_t i = 0; i < specs.size(); ++i)
    if (specs[i].name == name) return i;
  return std::nullopt;
}

int64_t TensorTable::num_params() const {
  int64_t n = 0;
  for (const auto& s : specs) n += s.numel();
  return n;
}

namespace {

class TableBuilder {
 public:
  explicit TableBuilder(TensorTable* t) : t_(t) {}
  int Add(std::string name, std::vector<int64_t> shape, TensorRole role, int layer = -1, bool conv1d = false) {
    t_->specs.push_back(TensorSpec{std::move(name), std::move(shape), role, layer, conv1d});
    return static_cast<int>(t_->specs.size() - 1);
  }

 private:
  TensorTable* t_;
};

void BuildLlama(const ModelConfig& c, TensorTable* t) {
  TableBuilder b(t);
  const int64_t d = c.hidden_size, q = c.num_heads * c.head_dim, kv = c.num_kv_heads * c.head_dim,
                f = c.intermediate_size;
  t->index.token_embedding = b.Add("model.embed_tokens.weight", {c.vocab_size, d}, TensorRole::kTokenEmbedding);
  for (int l = 0; l < c.num_layers; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    BlockTensors bt;
    bt.attn_norm_w = b.Add(p + "input_layernorm.weight", {d}, TensorRole::kNormWeight, l);
    bt.q_w = b.Add(p + "self_attn.q_proj.weight", {q, d}, TensorRole::kLinearWeight, l);
    if (c.attention_bias) bt.q_b = b.Add(p + "self_attn.q_proj.bias", {q}, TensorRole::kLinearBias, l);
    bt.k_w = b.Add(p + "self_attn.k_proj.weight", {kv, d}, TensorRole::kLinearWeight, l);
    if (c.attention_bias) bt.k_b = b.Add(p + "self_attn.k_proj.bias", {kv}, TensorRole::kLinearBias, l);
    bt.v_w = b.Add(p + "self_attn.v_proj.weight", {kv, d}, TensorRole::kLinearWeight, l);
    if (c.attention_bias) bt.v_b = b.Add(p + "self_attn.v_proj.bias", {kv}, TensorRole::kLinearBias, l);
    bt.o_w = b.Add(p + "self_attn.o_proj.weight", {d, q}, TensorRole::kLinearWeight, l);
    if (c.attention_bias) bt.o_b = b.Add(p + "self_attn.o_proj.bias", {d}, TensorRole::kLinearBias, l);
    bt.mlp_norm_w = b.Add(p + "post_attention_layernorm.weight", {d}, TensorRole::kNormWeight, l);
    bt.gate_w = b.Add(p + "mlp.gate_proj.weight", {f, d}, TensorRole::kLinearWeight, l);
    bt.up_w = b.Add(p + "mlp.up_proj.weight", {f, d}, TensorRole::kLinearWeight, l);
    bt.down_w = b.Add(p + "mlp.down_proj.weight", {d, f}, TensorRole::kLinearWeight, l);
    t->index.blocks.push_back(bt);
  }
  t->index.final_norm_w = b.Add("model.norm.weight", {d}, TensorRole::kNormWeight);
  t->index.output = c.tie_word_embeddings
                        ? t->index.token_embedding
                        : b.Add("lm_head.weight", {c.vocab_size, d}, TensorRole::kOutputProjection);
}

void BuildOpt(const ModelConfig& c, TensorTable* t) {
  TableBuilder b(t);
  const int64_t d = c.hidden_size, f = c.intermediate_size;
  const std::string m = "model.decoder.";
  t->index.token_embedding = b.Add(m + "embed_tokens.weight", {c.vocab_size, d}, TensorRole::kTokenEmbedding);
  t->index.position_embedding = b.Add(m + "embed_positions.weight", {c.max_positions + c.position_offset, d},
                                      TensorRole::kPositionEmbedding);
  for (int l = 0; l < c.num_layers; ++l) {
    const std::string p = m + "layers." + std::to_string(l) + ".";
    BlockTensors bt;
    bt.k_w = b.Add(p + "self_attn.k_proj.weight", {d, d}, TensorRole::kLinearWeight, l);
    bt.k_b = b.Add(p + "self_attn.k_proj.bias", {d}, TensorRole::kLinearBias, l);
    bt.v_w = b.Add(p + "self_attn.v_proj.weight", {d, d}, TensorRole::kLinearWeight, l);
    bt.v_b = b.Add(p + "self_attn.v_proj.bias", {d}, TensorRole::kLinearBias, l);
    bt.q_w = b.Add(p + "self_attn.q_proj.weight", {d, d}, TensorRole::kLinearWeight, l);
    bt.q_b = b.Add(p + "self_attn.q_proj.bias", {d}, TensorRole::kLinearBias, l);
    bt.o_w = b.Add(p + "self_attn.out_proj.weight", {d, d}, TensorRole::kLinearWeight, l);
    bt.o_b = b.Add(p + "self_attn.out_proj.bias", {d}, TensorRole::kLinearBias, l);
    bt.attn_norm_w = b.Add(p + "self_attn_layer_norm.weight", {d}, TensorRole::kNormWeight, l);
    bt.attn_norm_b = b.Add(p + "self_attn_layer_norm.bias", {d}, TensorRole::kNormBias, l);
    bt.up_w = b.Add(p + "fc1.weight", {f, d}, TensorRole::kLinearWeight, l);
    bt.up_b = b.Add(p + "fc1.bias", {f}, TensorRole::kLinearBias, l);
    bt.down_w = b.Add(p + "fc2.weight", {d, f}, TensorRole::kLinearWeight, l);
    bt.down_b = b.Add(p + "fc2.bias", {d}, TensorRole::kLinearBias, l);
    bt.mlp_norm_w = b.Add(p + "final_layer_norm.weight", {d}, TensorRole::kNormWeight, l);
    bt.mlp_norm_b = b.Add(p + "final_layer_norm.bias", {d}, TensorRole::kNormBias, l);
    t->index.blocks.push_back(bt);
  }
  // OPT-350m (post-LN) removes the final layer norm.
  if (c.do_layer_norm_before) {
    t->index.final_norm_w = b.Add(m + "final_layer_norm.weight", {d}, TensorRole::kNormWeight);
    t->index.final_norm_b = b.Add(m + "final_layer_norm.bias", {d}, TensorRole::kNormBias);
  }
  t->index.output = c.tie_word_embeddings
                        ? t->index.token_embedding
                        : b.Add("lm_head.weight", {c.vocab_size, d}, TensorRole::kOutputProjection);
}

void BuildGpt2(const ModelConfig& c, TensorTable* t) {
  TableBuilder b(t);
  const int64_t d = c.hidden_size, f = c.intermediate_size;
  t->index.token_embedding = b.Add("transformer.wte.weight", {c.vocab_size, d}, TensorRole::kTokenEmbedding);
  t->index.position_embedding = b.Add("transformer.wpe.weight", {c.max_positions, d}, TensorRole::kPositionEmbedding);
  for (int l = 0; l < c.num_layers; ++l) {
    const std::string p = "transformer.h." + std::to_string(l) + ".";
    BlockTensors bt;
    bt.attn_norm_w = b.Add(p + "ln_1.weight", {d}, TensorRole::kNormWeight, l);
    bt.attn_norm_b = b.Add(p + "ln_1.bias", {d}, TensorRole::kNormBias, l);
    bt.qkv_w = b.Add(p + "attn.c_attn.weight", {3 * d, d}, TensorRole::kLinearWeight, l, /*conv1d=*/true);
    bt.qkv_b = b.Add(p + "attn.c_attn.bias", {3 * d}, TensorRole::kLinearBias, l);
    bt.o_w = b.Add(p + "attn.c_proj.weight", {d, d}, TensorRole::kLinearWeight, l, true);
    bt.o_b = b.Add(p + "attn.c_proj.bias", {d}, TensorRole::kLinearBias, l);
    bt.mlp_norm_w = b.Add(p + "ln_2.weight", {d}, TensorRole::kNormWeight, l);
    bt.mlp_norm_b = b.Add(p + "ln_2.bias", {d}, TensorRole::kNormBias, l);
    bt.up_w = b.Add(p + "mlp.c_fc.weight", {f, d}, TensorRole::kLinearWeight, l, true);
    bt.up_b = b.Add(p + "mlp.c_fc.bias", {f}, TensorRole::kLinearBias, l);
    bt.down_w = b.Add(p + "mlp.c_proj.weight", {d, f}, TensorRole::kLinearWeight, l, true);
    bt.down_b = b.Add(p + "mlp.c_proj.bias", {d}, TensorRole::kLinearBias, l);
    t->index.blocks.push_back(bt);
  }
  t->index.final_norm_w = b.Add("transformer.ln_f.weight", {d}, TensorRole::kNormWeight);
  t->index.final_norm_b = b.Add("transformer.ln_f.bias", {d}, TensorRole::kNormBias);
  t->index.output = c.tie_word_embeddings
                        ? t->index.token_embedding
                        : b.Add("lm_head.weight", {c.vocab_size, d}, TensorRole::kOutputProjection);
}

void BuildNeox(const ModelConfig& c, TensorTable* t) {
  TableBuilder b(t);
  const int64_t d = c.hidden_size, f = c.intermediate_size;
  t->index.token_embedding = b.Add("gpt_neox.embed_in.weight", {c.vocab_size, d}, TensorRole::kTokenEmbedding);
  for (int l = 0; l < c.num_layers; ++l) {
    const std::string p = "gpt_neox.layers." + std::to_string(l) + ".";
    BlockTensors bt;
    bt.attn_norm_w = b.Add(p + "input_layernorm.weight", {d}, TensorRole::kNormWeight, l);
    bt.attn_norm_b = b.Add(p + "input_layernorm.bias", {d}, TensorRole::kNormBias, l);
    bt.mlp_norm_w = b.Add(p + "post_attention_layernorm.weight", {d}, TensorRole::kNormWeight, l);
    bt.mlp_norm_b = b.Add(p + "post_attention_layernorm.bias", {d}, TensorRole::kNormBias, l);
    bt.qkv_w = b.Add(p + "attention.query_key_value.weight", {3 * d, d}, TensorRole::kLinearWeight, l);
    bt.qkv_b = b.Add(p + "attention.query_key_value.bias", {3 * d}, TensorRole::kLinearBias, l);
    bt.o_w = b.Add(p + "attention.dense.weight", {d, d}, TensorRole::kLinearWeight, l);
    bt.o_b = b.Add(p + "attention.dense.bias", {d}, TensorRole::kLinearBias, l);
    bt.up_w = b.Add(p + "mlp.dense_h_to_4h.weight", {f, d}, TensorRole::kLinearWeight, l);
    bt.up_b = b.Add(p + "mlp.dense_h_to_4h.bias", {f}, TensorRole::kLinearBias, l);
    bt.down_w = b.Add(p + "mlp.dense_4h_to_h.weight", {d, f}, TensorRole::kLinearWeight, l);
    bt.down_b = b.Add(p + "mlp.dense_4h_to_h.bias", {d}, TensorRole::kLinearBias, l);
    t->index.blocks.push_back(bt);
  }
  t->index.final_norm_w = b.Add("gpt_neox.final_layer_norm.weight", {d}, TensorRole::kNormWeight);
  t->index.final_norm_b = b.Add("gpt_neox.final_layer_norm.bias", {d}, TensorRole::kNormBias);
  t->index.output = c.tie_word_embeddings
                        ? t->index.token_embedding
                        : b.Add("embed_out.weight", {c.vocab_size, d}, TensorRole::kOutputProjection);
}

}  // namespace

StatusOr<TensorTable> BuildTensorTable(const ModelConfig& config) {
  RETURN_IF_ERROR(config.Validate());
  TensorTable t;
  switch (config.arch) {
    case Architecture::kLlama: BuildLlama(config, &t); break;
    case Architecture::kOpt: BuildOpt(config, &t); break;
    case Architecture::kGpt2: BuildGpt2(config, &t); break;
    case Architecture::kNeox: BuildNeox(config, &t); break;
  }
  return t;
}

}  // namespace seedtune
