// GGUF checkpoint reader: ModelConfig from the "<arch>.*" metadata keys, and
// tensors dequantized to fp32 under their internal (Hugging Face) names.
//
// Supported: general.architecture "llama" and "gpt2". Tensor types: whatever
// formats/dequant.h dequantizes (F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q4_K, Q5_K,
// Q6_K); other types fail in ReadTensor with Unimplemented naming the tensor.
//
// Layout: ggml lists dimensions fastest-varying first, so GGUF dims [576, 49152]
// are the row-major shape [49152, 576]; linear weights are [out, in] like the
// internal layout, so no transposes are needed (llama.cpp's converter already
// transposed GPT-2's Conv1D weights).
#include <charconv>
#include <cstring>
#include <filesystem>
#include <unordered_map>
#include <unordered_set>

#include "formats/checkpoint.h"
#include "formats/dequant.h"
#include "formats/gguf.h"

namespace seedtune {
namespace {

// GGUF block-tensor suffix -> internal suffix, per architecture.
struct NameMap {
  const char* gguf;
  const char* internal;
};

constexpr NameMap kLlamaBlock[] = {
    {"attn_norm.weight", "input_layernorm.weight"},
    {"attn_q.weight", "self_attn.q_proj.weight"},
    {"attn_q.bias", "self_attn.q_proj.bias"},
    {"attn_k.weight", "self_attn.k_proj.weight"},
    {"attn_k.bias", "self_attn.k_proj.bias"},
    {"attn_v.weight", "self_attn.v_proj.weight"},
    {"attn_v.bias", "self_attn.v_proj.bias"},
    {"attn_output.weight", "self_attn.o_proj.weight"},
    {"attn_output.bias", "self_attn.o_proj.bias"},
    {"ffn_norm.weight", "post_attention_layernorm.weight"},
    {"ffn_gate.weight", "mlp.gate_proj.weight"},
    {"ffn_up.weight", "mlp.up_proj.weight"},
    {"ffn_down.weight", "mlp.down_proj.weight"},
};
constexpr NameMap kLlamaGlobal[] = {
    {"token_embd.weight", "model.embed_tokens.weight"},
    {"output_norm.weight", "model.norm.weight"},
    {"output.weight", "lm_head.weight"},
};

constexpr NameMap kGpt2Block[] = {
    {"attn_norm.weight", "ln_1.weight"},     {"attn_norm.bias", "ln_1.bias"},
    {"attn_qkv.weight", "attn.c_attn.weight"}, {"attn_qkv.bias", "attn.c_attn.bias"},
    {"attn_output.weight", "attn.c_proj.weight"}, {"attn_output.bias", "attn.c_proj.bias"},
    {"ffn_norm.weight", "ln_2.weight"},      {"ffn_norm.bias", "ln_2.bias"},
    {"ffn_up.weight", "mlp.c_fc.weight"},    {"ffn_up.bias", "mlp.c_fc.bias"},
    {"ffn_down.weight", "mlp.c_proj.weight"}, {"ffn_down.bias", "mlp.c_proj.bias"},
};
constexpr NameMap kGpt2Global[] = {
    {"token_embd.weight", "transformer.wte.weight"},
    {"position_embd.weight", "transformer.wpe.weight"},
    {"output_norm.weight", "transformer.ln_f.weight"},
    {"output_norm.bias", "transformer.ln_f.bias"},
    {"output.weight", "lm_head.weight"},
};

// "blk.N.<suffix>" -> internal name, or "" when the name is not one we map.
template <size_t NB, size_t NG>
std::string MapName(const std::string& g, const NameMap (&block)[NB], const NameMap (&global)[NG],
                    const std::string& block_prefix) {
  for (const auto& m : global)
    if (g == m.gguf) return m.internal;
  if (g.rfind("blk.", 0) != 0) return "";
  const size_t dot = g.find('.', 4);
  if (dot == std::string::npos || dot == 4) return "";
  int layer = 0;
  auto [ptr, ec] = std::from_chars(g.data() + 4, g.data() + dot, layer);
  if (ec != std::errc() || ptr != g.data() + dot || layer < 0) return "";
  const std::string suffix = g.substr(dot + 1);
  for (const auto& m : block)
    if (suffix == m.gguf) return block_prefix + std::to_string(layer) + "." + m.internal;
  return "";
}

class GgufCheckpointReader : public CheckpointReader {
 public:
  static StatusOr<std::unique_ptr<CheckpointReader>> Open(const std::string& path);

  CheckpointFormat format() const override { return CheckpointFormat::kGguf; }
  const std::string& path() const override { return path_; }
  const ModelConfig& config() const override { return config_; }
  Status ReadTensor(const TensorSpec& spec, float* dst) override;
  Status CheckTensor(const TensorSpec& spec) override {
    ASSIGN_OR_RETURN(const GgufTensorInfo* t, Locate(spec));
    used_.insert(t->name);
    return Status::Ok();
  }
  std::vector<std::string> UnusedTensors() const override;
  void ReleasePages() override { file_.DropPages(); }

 private:
  // The file tensor for `spec`, with its shape and type checked.
  StatusOr<const GgufTensorInfo*> Locate(const TensorSpec& spec) const;
  GgufCheckpointReader(std::string path, GgufFile file) : path_(std::move(path)), file_(std::move(file)) {}
  Status ReadLlamaConfig(const std::string& arch);
  Status ReadGpt2Config(const std::string& arch);
  Status ReadCommon(const std::string& arch);
  void BuildNameMap();
  // Tensor lookup by GGUF name.
  const GgufTensorInfo* Tensor(const char* name) const { return file_.FindTensor(name); }

  std::string path_;
  GgufFile file_;
  ModelConfig config_;
  std::unordered_map<std::string, const GgufTensorInfo*> by_internal_;  // internal name -> tensor
  std::unordered_set<std::string> used_;                                 // GGUF names read or checked
};

StatusOr<int64_t> GetPositive(const GgufFile& f, const std::string& key) {
  ASSIGN_OR_RETURN(int64_t v, f.GetInt(key));
  if (v <= 0 || v > (int64_t{1} << 40)) return InvalidArgument("{}: metadata key '{}' = {} is out of range", f.path(), key, v);
  return v;
}

StatusOr<int64_t> GetPositiveOr(const GgufFile& f, const std::string& key, int64_t fallback) {
  if (!f.Has(key)) return fallback;
  return GetPositive(f, key);
}

Status GgufCheckpointReader::ReadCommon(const std::string& arch) {
  const GgufFile& f = file_;
  const std::string p = arch + ".";
  ASSIGN_OR_RETURN(config_.num_layers, GetPositive(f, p + "block_count"));
  ASSIGN_OR_RETURN(config_.hidden_size, GetPositive(f, p + "embedding_length"));
  ASSIGN_OR_RETURN(config_.intermediate_size, GetPositive(f, p + "feed_forward_length"));
  ASSIGN_OR_RETURN(config_.num_heads, GetPositive(f, p + "attention.head_count"));
  ASSIGN_OR_RETURN(config_.num_kv_heads, GetPositiveOr(f, p + "attention.head_count_kv", config_.num_heads));
  ASSIGN_OR_RETURN(config_.max_positions, GetPositive(f, p + "context_length"));
  if (config_.hidden_size % config_.num_heads != 0)
    return InvalidArgument("{}: {}embedding_length {} is not a multiple of {}attention.head_count {}", path_, p,
                           config_.hidden_size, p, config_.num_heads);
  config_.head_dim = config_.hidden_size / config_.num_heads;
  for (const char* k : {"attention.key_length", "attention.value_length"}) {
    if (!f.Has(p + k)) continue;
    ASSIGN_OR_RETURN(int64_t v, f.GetInt(p + k));
    if (v != config_.head_dim)
      return Unimplemented("{}: {}{} = {} differs from embedding_length / head_count = {}", path_, p, k, v,
                           config_.head_dim);
  }

  // Vocabulary: <arch>.vocab_size, else the tokenizer's token list, else the
  // embedding's rows.
  if (f.Has(p + "vocab_size")) {
    ASSIGN_OR_RETURN(config_.vocab_size, GetPositive(f, p + "vocab_size"));
  } else if (const GgufValue* tokens = f.Find("tokenizer.ggml.tokens");
             tokens && tokens->type == GgufValueType::kArray && !tokens->array.empty()) {
    config_.vocab_size = static_cast<int64_t>(tokens->array.size());
  } else if (const GgufTensorInfo* t = Tensor("token_embd.weight"); t && t->dims.size() == 2) {
    config_.vocab_size = t->dims[1];
  } else {
    return NotFound("{}: cannot determine the vocabulary size (no {}vocab_size, tokenizer.ggml.tokens or token_embd.weight)",
                    path_, p);
  }

  auto token_id = [&](const char* key, int32_t* out) -> Status {
    if (!f.Has(key)) return Status::Ok();
    ASSIGN_OR_RETURN(int64_t v, f.GetInt(key));
    if (v < 0 || v >= config_.vocab_size)
      return InvalidArgument("{}: metadata key '{}' = {} is outside the vocabulary [0, {})", path_, key, v,
                             config_.vocab_size);
    *out = static_cast<int32_t>(v);
    return Status::Ok();
  };
  RETURN_IF_ERROR(token_id("tokenizer.ggml.bos_token_id", &config_.bos_token_id));
  RETURN_IF_ERROR(token_id("tokenizer.ggml.eos_token_id", &config_.eos_token_id));
  RETURN_IF_ERROR(token_id("tokenizer.ggml.padding_token_id", &config_.pad_token_id));

  if (f.Has("general.name")) {
    ASSIGN_OR_RETURN(config_.name, f.GetString("general.name"));
  } else {
    config_.name = std::filesystem::path(path_).stem().string();
  }
  return Status::Ok();
}

Status GgufCheckpointReader::ReadLlamaConfig(const std::string& arch) {
  const GgufFile& f = file_;
  const std::string p = arch + ".";
  config_.arch = Architecture::kLlama;
  config_.activation = Activation::kSilu;
  RETURN_IF_ERROR(ReadCommon(arch));
  if (f.Has(p + "attention.layer_norm_rms_epsilon")) {
    ASSIGN_OR_RETURN(double eps, f.GetFloat(p + "attention.layer_norm_rms_epsilon"));
    config_.norm_eps = static_cast<float>(eps);
  }
  // RoPE. Hugging Face Llama checkpoints rotate pairs (i, i + head_dim/2)
  // ("rotate half"). llama.cpp's converter permutes the rows of Q and K within
  // each head so that those pairs become adjacent, (2i, 2i+1), which is what
  // ggml's llama graph rotates (its "normal" RoPE mode). GGUF llama weights are
  // therefore in the interleaved layout, and we keep them as they are.
  config_.rope_layout = RopeLayout::kInterleaved;
  config_.rope_theta = 10000.0f;
  if (f.Has(p + "rope.freq_base")) {
    ASSIGN_OR_RETURN(double theta, f.GetFloat(p + "rope.freq_base"));
    config_.rope_theta = static_cast<float>(theta);
  }
  ASSIGN_OR_RETURN(config_.rotary_dim, GetPositiveOr(f, p + "rope.dimension_count", config_.head_dim));
  // RoPE scaling variants change the model's numerics; refuse rather than
  // silently computing something else.
  if (f.Has(p + "rope.scaling.type")) {
    ASSIGN_OR_RETURN(std::string type, f.GetString(p + "rope.scaling.type"));
    double factor = 1.0;
    if (f.Has(p + "rope.scaling.factor")) {
      ASSIGN_OR_RETURN(factor, f.GetFloat(p + "rope.scaling.factor"));
    }
    if (type != "none" && factor != 1.0)
      return Unimplemented("{}: RoPE scaling '{}' (factor {}) is not supported", path_, type, factor);
  }
  if (Tensor("rope_freqs.weight"))
    return Unimplemented("{}: tensor 'rope_freqs.weight' (Llama-3 style RoPE frequency scaling) is not supported",
                         path_);
  // Attention biases (some Llama-architecture exports carry q/k/v/o biases).
  config_.attention_bias = Tensor("blk.0.attn_q.bias") != nullptr;
  config_.tie_word_embeddings = Tensor("output.weight") == nullptr;
  return Status::Ok();
}

Status GgufCheckpointReader::ReadGpt2Config(const std::string& arch) {
  const GgufFile& f = file_;
  const std::string p = arch + ".";
  config_.arch = Architecture::kGpt2;
  config_.activation = Activation::kGeluTanh;
  config_.rope_layout = RopeLayout::kNone;
  config_.rotary_dim = 0;
  RETURN_IF_ERROR(ReadCommon(arch));
  if (config_.num_kv_heads != config_.num_heads)
    return InvalidArgument("{}: gpt2 with head_count_kv {} != head_count {}", path_, config_.num_kv_heads,
                           config_.num_heads);
  if (f.Has(p + "attention.layer_norm_epsilon")) {
    ASSIGN_OR_RETURN(double eps, f.GetFloat(p + "attention.layer_norm_epsilon"));
    config_.norm_eps = static_cast<float>(eps);
  }
  // llama.cpp's GPT-2 converter writes the tied embedding a second time as
  // output.weight; identical bytes mean the model is tied.
  const GgufTensorInfo* emb = Tensor("token_embd.weight");
  const GgufTensorInfo* out = Tensor("output.weight");
  config_.tie_word_embeddings =
      out == nullptr || (emb != nullptr && emb->type == out->type && emb->dims == out->dims &&
                         emb->nbytes == out->nbytes && std::memcmp(emb->data, out->data, emb->nbytes) == 0);
  return Status::Ok();
}

void GgufCheckpointReader::BuildNameMap() {
  for (const auto& t : file_.tensors()) {
    std::string internal;
    if (config_.arch == Architecture::kLlama) internal = MapName(t.name, kLlamaBlock, kLlamaGlobal, "model.layers.");
    else internal = MapName(t.name, kGpt2Block, kGpt2Global, "transformer.h.");
    if (!internal.empty()) by_internal_.emplace(internal, &t);
  }
  // A tied model reads its output projection from the embedding; a duplicate
  // output.weight (GPT-2) then counts as used.
  if (config_.tie_word_embeddings && file_.FindTensor("output.weight")) used_.insert("output.weight");
}

StatusOr<std::unique_ptr<CheckpointReader>> GgufCheckpointReader::Open(const std::string& path) {
  ASSIGN_OR_RETURN(GgufFile file, GgufFile::Open(path));
  std::unique_ptr<GgufCheckpointReader> r(new GgufCheckpointReader(path, std::move(file)));
  if (!r->file_.Has("general.architecture"))
    return NotFound("{}: metadata key 'general.architecture' not found (required)", path);
  ASSIGN_OR_RETURN(std::string arch, r->file_.GetString("general.architecture"));
  if (arch == "llama") {
    RETURN_IF_ERROR(r->ReadLlamaConfig(arch));
  } else if (arch == "gpt2") {
    RETURN_IF_ERROR(r->ReadGpt2Config(arch));
  } else if (arch == "gptneox") {
    // Converter versions disagree on the fused QKV row order (per-head
    // interleaved vs. q|k|v blocks) and the file does not say which it has.
    return Unimplemented("{}: GGUF architecture 'gptneox' is not supported (ambiguous fused QKV layout)", path);
  } else {
    return Unimplemented("{}: GGUF architecture '{}' is not supported (supported: llama, gpt2)", path, arch);
  }
  Status s = r->config_.Validate();
  if (!s.ok()) return s.WithContext(path);
  r->BuildNameMap();
  return std::unique_ptr<CheckpointReader>(std::move(r));
}

std::string DimsString(const std::vector<int64_t>& dims) {
  std::string s = "[";
  for (size_t i = 0; i < dims.size(); ++i) s += (i ? ", " : "") + std::to_string(dims[i]);
  return s + "]";
}

StatusOr<const GgufTensorInfo*> GgufCheckpointReader::Locate(const TensorSpec& spec) const {
  auto it = by_internal_.find(spec.name);
  if (it == by_internal_.end())
    return NotFound("{}: tensor {} {} not found in the GGUF file", path_, spec.name, spec.ShapeString());
  const GgufTensorInfo& t = *it->second;
  // GGUF dims are fastest-varying first: reverse them to get the row-major
  // shape. Trailing ggml dims of 1 beyond the spec's rank are ignored.
  std::vector<int64_t> shape(t.dims.rbegin(), t.dims.rend());
  while (shape.size() > spec.shape.size() && shape.front() == 1) shape.erase(shape.begin());
  if (shape != spec.shape)
    return InvalidArgument("{}: tensor '{}' ({}): GGUF dims {} (row-major {}) do not match the expected shape {}",
                           path_, t.name, spec.name, DimsString(t.dims), DimsString(shape), spec.ShapeString());
  if (!GgmlCanDequantize(t.type))
    return Unimplemented("{}: tensor '{}' ({}) has ggml type {} ({}), which cannot be dequantized", path_, t.name,
                         spec.name, GgmlTypeName(t.type), t.type);
  return &t;
}

Status GgufCheckpointReader::ReadTensor(const TensorSpec& spec, float* dst) {
  ASSIGN_OR_RETURN(const GgufTensorInfo* found, Locate(spec));
  const GgufTensorInfo& t = *found;
  const int64_t row = t.dims[0];
  const int64_t rows = t.numel() / row;
  ASSIGN_OR_RETURN(size_t row_bytes, GgmlRowBytes(t.type, row));
  if (static_cast<uint64_t>(rows) * row_bytes != t.nbytes)
    return InternalError("{}: tensor '{}': byte size mismatch", path_, t.name);
  for (int64_t r = 0; r < rows; ++r) {
    Status s = DequantizeRow(t.type, t.data + static_cast<size_t>(r) * row_bytes, row, dst + r * row);
    if (!s.ok()) return s.WithContext(fmt::format("{}: tensor '{}'", path_, t.name));
  }
  used_.insert(t.name);
  return Status::Ok();
}

std::vector<std::string> GgufCheckpointReader::UnusedTensors() const {
  std::vector<std::string> out;
  for (const auto& t : file_.tensors())
    if (!used_.count(t.name)) out.push_back(t.name);
  return out;
}

}  // namespace

StatusOr<std::unique_ptr<CheckpointReader>> OpenGgufCheckpoint(const std::string& path) {
  return GgufCheckpointReader::Open(path);
}

}  // namespace seedtune
