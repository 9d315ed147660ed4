#include "model/presets.h"

#include <cmath>

namespace seedtune {

namespace {

ModelConfig Opt(int64_t d, int64_t layers, int64_t heads, int64_t ffn) {
  ModelConfig c;
  c.arch = Architecture::kOpt;
  c.vocab_size = 50272;
  c.hidden_size = d;
  c.num_layers = layers;
  c.num_heads = c.num_kv_heads = heads;
  c.head_dim = d / heads;
  c.intermediate_size = ffn;
  c.max_positions = 2048;
  c.position_offset = 2;
  c.activation = Activation::kRelu;
  c.tie_word_embeddings = true;
  c.bos_token_id = 2;
  c.eos_token_id = 2;
  c.pad_token_id = 1;
  return c;
}

ModelConfig Gpt2(int64_t d, int64_t layers, int64_t heads) {
  ModelConfig c;
  c.arch = Architecture::kGpt2;
  c.vocab_size = 50257;
  c.hidden_size = d;
  c.num_layers = layers;
  c.num_heads = c.num_kv_heads = heads;
  c.head_dim = d / heads;
  c.intermediate_size = 4 * d;
  c.max_positions = 1024;
  c.activation = Activation::kGeluTanh;
  c.tie_word_embeddings = true;
  c.bos_token_id = c.eos_token_id = 50256;
  return c;
}

ModelConfig Pythia(int64_t d, int64_t layers, int64_t heads) {
  ModelConfig c;
  c.arch = Architecture::kNeox;
  c.vocab_size = 50304;
  c.hidden_size = d;
  c.num_layers = layers;
  c.num_heads = c.num_kv_heads = heads;
  c.head_dim = d / heads;
  c.intermediate_size = 4 * d;
  c.max_positions = 2048;
  c.activation = Activation::kGeluErf;
  c.rope_layout = RopeLayout::kRotateHalf;
  c.rotary_dim = c.head_dim / 4;  // rotary_pct 0.25
  c.rope_theta = 10000.0f;
  c.use_parallel_residual = true;
  c.bos_token_id = 0;
  c.eos_token_id = 0;
  return c;
}

ModelConfig SmolLm2_135m() {
  ModelConfig c;
  c.arch = Architecture::kLlama;
  c.vocab_size = 49152;
  c.hidden_size = 576;
  c.num_layers = 30;
  c.num_heads = 9;
  c.num_kv_heads = 3;
  c.head_dim = 64;
  c.intermediate_size = 1536;
  c.max_positions = 8192;
  c.rope_layout = RopeLayout::kRotateHalf;
  c.rope_theta = 100000.0f;
  c.rotary_dim = 64;
  c.tie_word_embeddings = true;
  c.bos_token_id = 1;
  c.eos_token_id = 2;
  c.pad_token_id = 2;
  return c;
}

struct Preset {
  const char* name;
  ModelConfig (*make)();
};

const Preset kPresets[] = {
    {"opt-125m", [] { return Opt(768, 12, 12, 3072); }},
    {"opt-350m",
     [] {
       ModelConfig c = Opt(1024, 24, 16, 4096);
       c.do_layer_norm_before = false;  // OPT-350m is post-LN (its word_embed_proj_dim projection is not modelled)
       return c;
     }},
    {"gpt2", [] { return Gpt2(768, 12, 12); }},
    {"gpt2-medium", [] { return Gpt2(1024, 24, 16); }},
    {"pythia-70m", [] { return Pythia(512, 6, 8); }},
    {"pythia-160m", [] { return Pythia(768, 12, 12); }},
    {"smollm2-135m", [] { return SmolLm2_135m(); }},
};

uint64_t SplitMix64(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

}  // namespace

std::vector<std::string> PresetNames() {
  std::vector<std::string> names;
  for (const auto& p : kPresets) names.emplace_back(p.name);
  return names;
}

StatusOr<ModelConfig> PresetConfig(const std::string& name) {
  for (const auto& p : kPresets) {
    if (name == p.name) {
      ModelConfig c = p.make();
      c.name = name;
      return c;
    }
  }
  std::string known;
  for (const auto& n : PresetNames()) known += (known.empty() ? "" : ", ") + n;
  return NotFound("unknown model preset '{}' (known: {})", name, known);
}

void InitRandomWeights(ModelWeights* weights, uint64_t seed, float std) {
  uint64_t state = seed;
  for (size_t i = 0; i < weights->num_tensors(); ++i) {
    const TensorRole role = weights->specs()[i].role;
    auto t = weights->tensor(i);
    if (role == TensorRole::kNormWeight) {
      std::fill(t.begin(), t.end(), 1.0f);
    } else if (role == TensorRole::kNormBias || role == TensorRole::kLinearBias) {
      std::fill(t.begin(), t.end(), 0.0f);
    } else {
      for (size_t j = 0; j < t.size(); j += 2) {  // Box-Muller pairs
        const double u1 = (static_cast<double>(SplitMix64(state) >> 11) + 0.5) * 0x1.0p-53;
        const double u2 = static_cast<double>(SplitMix64(state) >> 11) * 0x1.0p-53;
        const double r = std::sqrt(-2.0 * std::log(u1));
        t[j] = static_cast<float>(std * r * std::cos(2.0 * M_PI * u2));
        if (j + 1 < t.size()) t[j + 1] = static_cast<float>(std * r * std::sin(2.0 * M_PI * u2));
      }
    }
  }
}

bool IsRandomModelSpec(const std::string& spec) { return spec.rfind("random:", 0) == 0; }

StatusOr<ModelWeights> RandomModel(const std::string& spec) {
  if (!IsRandomModelSpec(spec)) return InvalidArgument("'{}' is not a random:NAME[:SEED] model spec", spec);
  std::string rest = spec.substr(7), name = rest;
  uint64_t seed = 0;
  if (auto colon = rest.find(':'); colon != std::string::npos) {
    name = rest.substr(0, colon);
    try {
      seed = std::stoull(rest.substr(colon + 1));
    } catch (...) {
      return InvalidArgument("'{}': seed '{}' is not a number", spec, rest.substr(colon + 1));
    }
  }
  ASSIGN_OR_RETURN(ModelConfig config, PresetConfig(name));
  config.name = fmt::format("{} (random weights, seed {})", name, seed);
  ASSIGN_OR_RETURN(ModelWeights w, ModelWeights::Allocate(config));
  InitRandomWeights(&w, seed);
  return w;
}

}  // namespace seedtune
