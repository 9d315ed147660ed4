#include "formats/hf_config.h"

#include <cmath>
#include <cstdlib>

#include <nlohmann/json.hpp>

#include "core/mapped_file.h"

namespace seedtune {

namespace {

using json = nlohmann::json;

// Typed access to config.json keys with error messages naming the file and key.
class Keys {
 public:
  Keys(const json& j, const std::string& source) : j_(j), source_(source) {}

  bool Present(const char* key) const {
    auto it = j_.find(key);
    return it != j_.end() && !it->is_null();
  }

  StatusOr<int64_t> Int(const char* key) const {
    auto it = j_.find(key);
    if (it == j_.end() || it->is_null()) return InvalidArgument("{}: missing required key \"{}\"", source_, key);
    return AsInt(key, *it);
  }
  StatusOr<int64_t> IntOr(const char* key, int64_t def) const {
    if (!Present(key)) return def;
    return AsInt(key, j_.at(key));
  }
  StatusOr<double> FloatOr(const char* key, double def) const {
    if (!Present(key)) return def;
    const json& v = j_.at(key);
    if (!v.is_number()) return InvalidArgument("{}: key \"{}\" must be a number, got {}", source_, key, v.dump());
    return v.get<double>();
  }
  StatusOr<bool> BoolOr(const char* key, bool def) const {
    if (!Present(key)) return def;
    const json& v = j_.at(key);
    if (!v.is_boolean()) return InvalidArgument("{}: key \"{}\" must be true or false, got {}", source_, key, v.dump());
    return v.get<bool>();
  }
  StatusOr<std::string> StringOr(const char* key, const std::string& def) const {
    if (!Present(key)) return def;
    const json& v = j_.at(key);
    if (!v.is_string()) return InvalidArgument("{}: key \"{}\" must be a string, got {}", source_, key, v.dump());
    return v.get<std::string>();
  }
  // Token ids: absent / null -> def; a list (e.g. several eos ids) -> its first element.
  StatusOr<int32_t> TokenId(const char* key, int32_t def) const {
    if (!Present(key)) return def;
    const json& v = j_.at(key);
    const json* x = &v;
    if (v.is_array()) {
      if (v.empty()) return def;
      x = &v[0];
    }
    ASSIGN_OR_RETURN(int64_t id, AsInt(key, *x));
    if (id < -1 || id > INT32_MAX) return InvalidArgument("{}: key \"{}\" = {} is not a valid token id", source_, key, id);
    return static_cast<int32_t>(id);
  }

 private:
  StatusOr<int64_t> AsInt(const char* key, const json& v) const {
    if (v.is_number_integer()) return v.get<int64_t>();
    // Some exporters write integers as 2048.0.
    if (v.is_number_float()) {
      const double d = v.get<double>();
      if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9e15) return static_cast<int64_t>(d);
    }
    return InvalidArgument("{}: key \"{}\" must be an integer, got {}", source_, key, v.dump());
  }
  const json& j_;
  const std::string& source_;
};

Status RejectRopeScaling(const Keys& k, const std::string& source) {
  if (k.Present("rope_scaling"))
    return Unimplemented("{}: rope_scaling is not supported (only plain RoPE; rope_scaling must be null)", source);
  return Status::Ok();
}

Status ParseLlama(const Keys& k, const std::string& src, ModelConfig* c) {
  c->arch = Architecture::kLlama;
  ASSIGN_OR_RETURN(c->hidden_size, k.Int("hidden_size"));
  ASSIGN_OR_RETURN(c->intermediate_size, k.Int("intermediate_size"));
  ASSIGN_OR_RETURN(c->num_layers, k.Int("num_hidden_layers"));
  ASSIGN_OR_RETURN(c->num_heads, k.Int("num_attention_heads"));
  ASSIGN_OR_RETURN(c->vocab_size, k.Int("vocab_size"));
  ASSIGN_OR_RETURN(c->num_kv_heads, k.IntOr("num_key_value_heads", c->num_heads));
  if (c->num_heads <= 0) return InvalidArgument("{}: num_attention_heads must be positive, got {}", src, c->num_heads);
  ASSIGN_OR_RETURN(c->head_dim, k.IntOr("head_dim", c->hidden_size / c->num_heads));
  ASSIGN_OR_RETURN(double eps, k.FloatOr("rms_norm_eps", 1e-6));
  ASSIGN_OR_RETURN(double theta, k.FloatOr("rope_theta", 10000.0));
  c->norm_eps = static_cast<float>(eps);
  c->rope_theta = static_cast<float>(theta);
  ASSIGN_OR_RETURN(c->max_positions, k.IntOr("max_position_embeddings", 2048));
  ASSIGN_OR_RETURN(c->tie_word_embeddings, k.BoolOr("tie_word_embeddings", false));
  ASSIGN_OR_RETURN(c->attention_bias, k.BoolOr("attention_bias", false));
  ASSIGN_OR_RETURN(bool mlp_bias, k.BoolOr("mlp_bias", false));
  if (mlp_bias) return Unimplemented("{}: mlp_bias = true is not supported for llama", src);
  ASSIGN_OR_RETURN(std::string act, k.StringOr("hidden_act", "silu"));
  if (act != "silu") return Unimplemented("{}: hidden_act \"{}\" is not supported for llama (only silu)", src, act);
  c->activation = Activation::kSilu;
  RETURN_IF_ERROR(RejectRopeScaling(k, src));
  c->rope_layout = RopeLayout::kRotateHalf;
  c->rotary_dim = c->head_dim;
  ASSIGN_OR_RETURN(c->bos_token_id, k.TokenId("bos_token_id", 1));
  ASSIGN_OR_RETURN(c->eos_token_id, k.TokenId("eos_token_id", 2));
  ASSIGN_OR_RETURN(c->pad_token_id, k.TokenId("pad_token_id", -1));
  return Status::Ok();
}

Status ParseOpt(const Keys& k, const std::string& src, ModelConfig* c) {
  c->arch = Architecture::kOpt;
  ASSIGN_OR_RETURN(c->hidden_size, k.Int("hidden_size"));
  ASSIGN_OR_RETURN(c->intermediate_size, k.Int("ffn_dim"));
  ASSIGN_OR_RETURN(c->num_layers, k.Int("num_hidden_layers"));
  ASSIGN_OR_RETURN(c->num_heads, k.Int("num_attention_heads"));
  ASSIGN_OR_RETURN(c->vocab_size, k.Int("vocab_size"));
  if (c->num_heads <= 0) return InvalidArgument("{}: num_attention_heads must be positive, got {}", src, c->num_heads);
  c->num_kv_heads = c->num_heads;
  c->head_dim = c->hidden_size / c->num_heads;
  ASSIGN_OR_RETURN(c->max_positions, k.IntOr("max_position_embeddings", 2048));
  ASSIGN_OR_RETURN(c->do_layer_norm_before, k.BoolOr("do_layer_norm_before", true));
  ASSIGN_OR_RETURN(int64_t proj, k.IntOr("word_embed_proj_dim", c->hidden_size));
  if (proj != c->hidden_size)
    return Unimplemented("{}: word_embed_proj_dim {} != hidden_size {} (project_in/project_out) is not supported", src,
                         proj, c->hidden_size);
  ASSIGN_OR_RETURN(bool enable_bias, k.BoolOr("enable_bias", true));
  if (!enable_bias) return Unimplemented("{}: enable_bias = false is not supported for opt", src);
  ASSIGN_OR_RETURN(bool affine, k.BoolOr("layer_norm_elementwise_affine", true));
  if (!affine) return Unimplemented("{}: layer_norm_elementwise_affine = false is not supported for opt", src);
  ASSIGN_OR_RETURN(std::string act, k.StringOr("activation_function", "relu"));
  if (act == "relu") {
    c->activation = Activation::kRelu;
  } else if (act == "gelu") {
    c->activation = Activation::kGeluErf;
  } else {
    return Unimplemented("{}: activation_function \"{}\" is not supported for opt (relu, gelu)", src, act);
  }
  ASSIGN_OR_RETURN(c->tie_word_embeddings, k.BoolOr("tie_word_embeddings", true));
  c->position_offset = 2;
  c->norm_eps = 1e-5f;  // OPT's LayerNorms use the PyTorch default
  c->rope_layout = RopeLayout::kNone;
  c->rotary_dim = 0;
  ASSIGN_OR_RETURN(c->bos_token_id, k.TokenId("bos_token_id", 2));
  ASSIGN_OR_RETURN(c->eos_token_id, k.TokenId("eos_token_id", 2));
  ASSIGN_OR_RETURN(c->pad_token_id, k.TokenId("pad_token_id", 1));
  return Status::Ok();
}

StatusOr<Activation> GeluFamily(const std::string& act, const std::string& src, const char* key, const char* model) {
  if (act == "gelu_new" || act == "gelu_pytorch_tanh" || act == "gelu_fast") return Activation::kGeluTanh;
  if (act == "gelu") return Activation::kGeluErf;
  if (act == "relu") return Activation::kRelu;
  if (act == "silu" || act == "swish") return Activation::kSilu;
  return Unimplemented("{}: {} \"{}\" is not supported for {}", src, key, act, model);
}

Status ParseGpt2(const Keys& k, const std::string& src, ModelConfig* c) {
  c->arch = Architecture::kGpt2;
  ASSIGN_OR_RETURN(c->hidden_size, k.Int("n_embd"));
  ASSIGN_OR_RETURN(c->num_layers, k.Int("n_layer"));
  ASSIGN_OR_RETURN(c->num_heads, k.Int("n_head"));
  ASSIGN_OR_RETURN(c->vocab_size, k.Int("vocab_size"));
  if (c->num_heads <= 0) return InvalidArgument("{}: n_head must be positive, got {}", src, c->num_heads);
  c->num_kv_heads = c->num_heads;
  c->head_dim = c->hidden_size / c->num_heads;
  ASSIGN_OR_RETURN(c->intermediate_size, k.IntOr("n_inner", 4 * c->hidden_size));
  ASSIGN_OR_RETURN(c->max_positions, k.IntOr("n_positions", 1024));
  ASSIGN_OR_RETURN(double eps, k.FloatOr("layer_norm_epsilon", 1e-5));
  c->norm_eps = static_cast<float>(eps);
  ASSIGN_OR_RETURN(std::string act, k.StringOr("activation_function", "gelu_new"));
  ASSIGN_OR_RETURN(c->activation, GeluFamily(act, src, "activation_function", "gpt2"));
  ASSIGN_OR_RETURN(c->tie_word_embeddings, k.BoolOr("tie_word_embeddings", true));
  ASSIGN_OR_RETURN(bool scale_attn, k.BoolOr("scale_attn_weights", true));
  if (!scale_attn) return Unimplemented("{}: scale_attn_weights = false is not supported for gpt2", src);
  ASSIGN_OR_RETURN(bool by_layer, k.BoolOr("scale_attn_by_inverse_layer_idx", false));
  if (by_layer) return Unimplemented("{}: scale_attn_by_inverse_layer_idx = true is not supported for gpt2", src);
  c->rope_layout = RopeLayout::kNone;
  c->rotary_dim = 0;
  ASSIGN_OR_RETURN(c->bos_token_id, k.TokenId("bos_token_id", 50256));
  ASSIGN_OR_RETURN(c->eos_token_id, k.TokenId("eos_token_id", 50256));
  ASSIGN_OR_RETURN(c->pad_token_id, k.TokenId("pad_token_id", -1));
  return Status::Ok();
}

Status ParseNeox(const Keys& k, const std::string& src, ModelConfig* c) {
  c->arch = Architecture::kNeox;
  ASSIGN_OR_RETURN(c->hidden_size, k.Int("hidden_size"));
  ASSIGN_OR_RETURN(c->intermediate_size, k.Int("intermediate_size"));
  ASSIGN_OR_RETURN(c->num_layers, k.Int("num_hidden_layers"));
  ASSIGN_OR_RETURN(c->num_heads, k.Int("num_attention_heads"));
  ASSIGN_OR_RETURN(c->vocab_size, k.Int("vocab_size"));
  if (c->num_heads <= 0) return InvalidArgument("{}: num_attention_heads must be positive, got {}", src, c->num_heads);
  c->num_kv_heads = c->num_heads;
  c->head_dim = c->hidden_size / c->num_heads;
  ASSIGN_OR_RETURN(double pct, k.FloatOr("partial_rotary_factor", 0.25));
  ASSIGN_OR_RETURN(pct, k.FloatOr("rotary_pct", pct));
  if (!(pct > 0.0 && pct <= 1.0)) return InvalidArgument("{}: rotary_pct {} must be in (0, 1]", src, pct);
  // transformers: rotary_ndims = int(head_size * rotary_pct), in double precision.
  c->rotary_dim = static_cast<int64_t>(static_cast<double>(c->head_dim) * pct);
  ASSIGN_OR_RETURN(double base, k.FloatOr("rotary_emb_base", 10000.0));
  ASSIGN_OR_RETURN(base, k.FloatOr("rope_theta", base));
  c->rope_theta = static_cast<float>(base);
  RETURN_IF_ERROR(RejectRopeScaling(k, src));
  c->rope_layout = RopeLayout::kRotateHalf;
  ASSIGN_OR_RETURN(c->use_parallel_residual, k.BoolOr("use_parallel_residual", true));
  ASSIGN_OR_RETURN(double eps, k.FloatOr("layer_norm_eps", 1e-5));
  c->norm_eps = static_cast<float>(eps);
  ASSIGN_OR_RETURN(std::string act, k.StringOr("hidden_act", "gelu"));
  ASSIGN_OR_RETURN(c->activation, GeluFamily(act, src, "hidden_act", "gpt_neox"));
  ASSIGN_OR_RETURN(c->tie_word_embeddings, k.BoolOr("tie_word_embeddings", false));
  ASSIGN_OR_RETURN(c->max_positions, k.IntOr("max_position_embeddings", 2048));
  ASSIGN_OR_RETURN(bool bias, k.BoolOr("attention_bias", true));
  if (!bias) return Unimplemented("{}: attention_bias = false is not supported for gpt_neox", src);
  ASSIGN_OR_RETURN(c->bos_token_id, k.TokenId("bos_token_id", 0));
  ASSIGN_OR_RETURN(c->eos_token_id, k.TokenId("eos_token_id", 2));
  ASSIGN_OR_RETURN(c->pad_token_id, k.TokenId("pad_token_id", -1));
  return Status::Ok();
}

// The shortest decimal that reads back as `f` (so 1e-5f is written as 1e-05,
// not 9.999999747378752e-06).
double CleanFloat(float f) { return std::strtod(fmt::format("{}", f).c_str(), nullptr); }

json TokenOrNull(int32_t id) { return id < 0 ? json(nullptr) : json(id); }

const char* HfActivationName(Activation a) {
  switch (a) {
    case Activation::kSilu: return "silu";
    case Activation::kRelu: return "relu";
    case Activation::kGeluTanh: return "gelu_new";
    case Activation::kGeluErf: return "gelu";
  }
  return "unknown";
}

}  // namespace

StatusOr<ModelConfig> ParseHfConfig(const std::string& json_text, const std::string& source) {
  json j;
  try {
    j = json::parse(json_text);
  } catch (const json::exception& e) {
    return InvalidArgument("{}: invalid JSON: {}", source, e.what());
  }
  if (!j.is_object()) return InvalidArgument("{}: config is not a JSON object", source);
  ModelConfig c;
  try {
    Keys k(j, source);
    ASSIGN_OR_RETURN(std::string type, k.StringOr("model_type", ""));
    if (type.empty()) return InvalidArgument("{}: missing required key \"model_type\"", source);
    if (type == "llama") {
      RETURN_IF_ERROR(ParseLlama(k, source, &c));
    } else if (type == "opt") {
      RETURN_IF_ERROR(ParseOpt(k, source, &c));
    } else if (type == "gpt2") {
      RETURN_IF_ERROR(ParseGpt2(k, source, &c));
    } else if (type == "gpt_neox") {
      RETURN_IF_ERROR(ParseNeox(k, source, &c));
    } else {
      return Unimplemented("{}: model_type \"{}\" is not supported (llama, opt, gpt2, gpt_neox)", source, type);
    }
    ASSIGN_OR_RETURN(c.name, k.StringOr("_name_or_path", type));
    if (c.name.empty()) c.name = type;
  } catch (const json::exception& e) {
    return InvalidArgument("{}: malformed config: {}", source, e.what());
  }
  Status v = c.Validate();
  if (!v.ok()) return v.WithContext(source);
  return c;
}

StatusOr<ModelConfig> ReadHfConfig(const std::string& path) {
  auto text = ReadFileToString(path);
  if (!text.ok()) return text.status();
  return ParseHfConfig(*text, path);
}

StatusOr<std::string> HfConfigToJson(const ModelConfig& c, const std::string& torch_dtype) {
  RETURN_IF_ERROR(c.Validate());
  nlohmann::ordered_json j;
  switch (c.arch) {
    case Architecture::kLlama:
      if (c.rope_layout != RopeLayout::kRotateHalf)
        return FailedPrecondition(
            "llama config with {} RoPE cannot be written as a Hugging Face config (which means rotate-half); "
            "permute Q/K with ConvertRopeLayout first",
            RopeLayoutName(c.rope_layout));
      if (c.rotary_dim != c.head_dim)
        return FailedPrecondition("llama config with rotary_dim {} != head_dim {} has no Hugging Face equivalent",
                                  c.rotary_dim, c.head_dim);
      if (c.activation != Activation::kSilu)
        return FailedPrecondition("llama config with activation {} has no Hugging Face equivalent",
                                  ActivationName(c.activation));
      j["architectures"] = {"LlamaForCausalLM"};
      j["model_type"] = "llama";
      j["vocab_size"] = c.vocab_size;
      j["hidden_size"] = c.hidden_size;
      j["intermediate_size"] = c.intermediate_size;
      j["num_hidden_layers"] = c.num_layers;
      j["num_attention_heads"] = c.num_heads;
      j["num_key_value_heads"] = c.num_kv_heads;
      j["head_dim"] = c.head_dim;
      j["hidden_act"] = "silu";
      j["max_position_embeddings"] = c.max_positions;
      j["rms_norm_eps"] = CleanFloat(c.norm_eps);
      j["rope_theta"] = CleanFloat(c.rope_theta);
      j["rope_scaling"] = nullptr;
      j["attention_bias"] = c.attention_bias;
      j["attention_dropout"] = 0.0;
      j["mlp_bias"] = false;
      j["pretraining_tp"] = 1;
      j["tie_word_embeddings"] = c.tie_word_embeddings;
      break;
    case Architecture::kOpt:
      if (c.position_offset != 2)
        return FailedPrecondition("opt config with position_offset {} (Hugging Face OPT uses 2)", c.position_offset);
      if (c.activation != Activation::kRelu && c.activation != Activation::kGeluErf)
        return FailedPrecondition("opt config with activation {} has no Hugging Face equivalent",
                                  ActivationName(c.activation));
      if (c.norm_eps != 1e-5f)
        return FailedPrecondition("opt config with norm_eps {} (Hugging Face OPT LayerNorms use 1e-5)", c.norm_eps);
      j["architectures"] = {"OPTForCausalLM"};
      j["model_type"] = "opt";
      j["vocab_size"] = c.vocab_size;
      j["hidden_size"] = c.hidden_size;
      j["word_embed_proj_dim"] = c.hidden_size;
      j["ffn_dim"] = c.intermediate_size;
      j["num_hidden_layers"] = c.num_layers;
      j["num_attention_heads"] = c.num_heads;
      j["max_position_embeddings"] = c.max_positions;
      j["do_layer_norm_before"] = c.do_layer_norm_before;
      j["activation_function"] = HfActivationName(c.activation);
      j["enable_bias"] = true;
      j["layer_norm_elementwise_affine"] = true;
      j["dropout"] = 0.0;
      j["attention_dropout"] = 0.0;
      j["activation_dropout"] = 0.0;
      j["tie_word_embeddings"] = c.tie_word_embeddings;
      break;
    case Architecture::kGpt2:
      if (c.position_offset != 0)
        return FailedPrecondition("gpt2 config with position_offset {} (Hugging Face GPT-2 uses 0)", c.position_offset);
      j["architectures"] = {"GPT2LMHeadModel"};
      j["model_type"] = "gpt2";
      j["vocab_size"] = c.vocab_size;
      j["n_embd"] = c.hidden_size;
      j["n_layer"] = c.num_layers;
      j["n_head"] = c.num_heads;
      j["n_inner"] = c.intermediate_size;
      j["n_positions"] = c.max_positions;
      j["n_ctx"] = c.max_positions;
      j["layer_norm_epsilon"] = CleanFloat(c.norm_eps);
      j["activation_function"] = HfActivationName(c.activation);
      j["scale_attn_weights"] = true;
      j["resid_pdrop"] = 0.0;
      j["embd_pdrop"] = 0.0;
      j["attn_pdrop"] = 0.0;
      j["tie_word_embeddings"] = c.tie_word_embeddings;
      break;
    case Architecture::kNeox: {
      if (c.rope_layout != RopeLayout::kRotateHalf)
        return FailedPrecondition(
            "gpt_neox config with {} RoPE cannot be written as a Hugging Face config (which means rotate-half); "
            "permute Q/K with ConvertRopeLayout first",
            RopeLayoutName(c.rope_layout));
      // rotary_pct such that transformers' int(head_dim * rotary_pct) gives back rotary_dim.
      double pct = static_cast<double>(c.rotary_dim) / static_cast<double>(c.head_dim);
      for (int i = 0; i < 8 && static_cast<int64_t>(static_cast<double>(c.head_dim) * pct) < c.rotary_dim; ++i)
        pct = std::nextafter(pct, 2.0);
      j["architectures"] = {"GPTNeoXForCausalLM"};
      j["model_type"] = "gpt_neox";
      j["vocab_size"] = c.vocab_size;
      j["hidden_size"] = c.hidden_size;
      j["intermediate_size"] = c.intermediate_size;
      j["num_hidden_layers"] = c.num_layers;
      j["num_attention_heads"] = c.num_heads;
      j["rotary_pct"] = pct;
      j["rotary_emb_base"] = CleanFloat(c.rope_theta);
      j["rope_theta"] = CleanFloat(c.rope_theta);
      j["rope_scaling"] = nullptr;
      j["use_parallel_residual"] = c.use_parallel_residual;
      j["layer_norm_eps"] = CleanFloat(c.norm_eps);
      j["hidden_act"] = HfActivationName(c.activation);
      j["max_position_embeddings"] = c.max_positions;
      j["attention_bias"] = true;
      j["attention_dropout"] = 0.0;
      j["hidden_dropout"] = 0.0;
      j["tie_word_embeddings"] = c.tie_word_embeddings;
      break;
    }
  }
  j["bos_token_id"] = TokenOrNull(c.bos_token_id);
  j["eos_token_id"] = TokenOrNull(c.eos_token_id);
  j["pad_token_id"] = TokenOrNull(c.pad_token_id);
  j["use_cache"] = true;
  j["torch_dtype"] = torch_dtype;
  try {
    return j.dump(2) + "\n";
  } catch (const json::exception& e) {
    return InvalidArgument("cannot encode config: {}", e.what());
  }
}

Status WriteHfConfig(const ModelConfig& config, const std::string& path, const std::string& torch_dtype) {
  auto text = HfConfigToJson(config, torch_dtype);
  if (!text.ok()) return text.status().WithContext(path);
  return WriteStringToFile(path, *text);
}

}  // namespace seedtune
