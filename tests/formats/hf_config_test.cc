#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "formats/hf_config.h"
#include "support/fixtures.h"

namespace seedtune {
namespace {

using ::seedtune::testing::ConfigsEqual;
using ::seedtune::testing::TinyConfig;

TEST(HfConfigTest, ParsesLlamaWithDefaults) {
  // SmolLM2-135M-like config, without num_key_value_heads' siblings that have defaults.
  const std::string text = R"({
    "architectures": ["LlamaForCausalLM"], "model_type": "llama",
    "hidden_size": 576, "intermediate_size": 1536, "num_hidden_layers": 30,
    "num_attention_heads": 9, "num_key_value_heads": 3, "rms_norm_eps": 1e-05,
    "rope_theta": 100000, "max_position_embeddings": 8192, "tie_word_embeddings": true,
    "vocab_size": 49152, "bos_token_id": 0, "eos_token_id": [0, 7], "pad_token_id": null,
    "rope_scaling": null, "hidden_act": "silu", "torch_dtype": "bfloat16"})";
  auto c = ParseHfConfig(text, "cfg.json");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->arch, Architecture::kLlama);
  EXPECT_EQ(c->hidden_size, 576);
  EXPECT_EQ(c->intermediate_size, 1536);
  EXPECT_EQ(c->num_layers, 30);
  EXPECT_EQ(c->num_heads, 9);
  EXPECT_EQ(c->num_kv_heads, 3);
  EXPECT_EQ(c->head_dim, 64);
  EXPECT_EQ(c->rotary_dim, 64);
  EXPECT_EQ(c->rope_layout, RopeLayout::kRotateHalf);
  EXPECT_FLOAT_EQ(c->rope_theta, 100000.0f);
  EXPECT_FLOAT_EQ(c->norm_eps, 1e-5f);
  EXPECT_EQ(c->max_positions, 8192);
  EXPECT_TRUE(c->tie_word_embeddings);
  EXPECT_EQ(c->vocab_size, 49152);
  EXPECT_EQ(c->bos_token_id, 0);
  EXPECT_EQ(c->eos_token_id, 0);  // first of the list
  EXPECT_EQ(c->pad_token_id, -1);
  EXPECT_EQ(c->activation, Activation::kSilu);

  // Minimal: kv heads default to heads, head_dim to hidden/heads, theta 10000, untied.
  auto m = ParseHfConfig(R"({"model_type":"llama","hidden_size":64,"intermediate_size":96,"num_hidden_layers":2,
                             "num_attention_heads":4,"vocab_size":10})",
                         "m.json");
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->num_kv_heads, 4);
  EXPECT_EQ(m->head_dim, 16);
  EXPECT_FLOAT_EQ(m->rope_theta, 10000.0f);
  EXPECT_FALSE(m->tie_word_embeddings);
  EXPECT_FALSE(m->attention_bias);
}

TEST(HfConfigTest, ParsesOptGpt2Neox) {
  auto opt = ParseHfConfig(R"({"model_type":"opt","hidden_size":768,"ffn_dim":3072,"num_hidden_layers":12,
      "num_attention_heads":12,"max_position_embeddings":2048,"do_layer_norm_before":true,
      "word_embed_proj_dim":768,"activation_function":"relu","vocab_size":50272,"bos_token_id":2,
      "eos_token_id":2,"pad_token_id":1,"_name_or_path":"facebook/opt-125m"})",
                           "opt.json");
  ASSERT_TRUE(opt.ok()) << opt.status().ToString();
  EXPECT_EQ(opt->arch, Architecture::kOpt);
  EXPECT_EQ(opt->intermediate_size, 3072);
  EXPECT_EQ(opt->position_offset, 2);
  EXPECT_TRUE(opt->tie_word_embeddings);
  EXPECT_TRUE(opt->do_layer_norm_before);
  EXPECT_EQ(opt->activation, Activation::kRelu);
  EXPECT_EQ(opt->rope_layout, RopeLayout::kNone);
  EXPECT_FLOAT_EQ(opt->norm_eps, 1e-5f);
  EXPECT_EQ(opt->pad_token_id, 1);
  EXPECT_EQ(opt->name, "facebook/opt-125m");

  auto gpt2 = ParseHfConfig(R"({"model_type":"gpt2","n_embd":768,"n_layer":12,"n_head":12,"n_inner":null,
      "n_positions":1024,"n_ctx":1024,"layer_norm_epsilon":1e-05,"activation_function":"gelu_new",
      "vocab_size":50257,"bos_token_id":50256,"eos_token_id":50256})",
                            "gpt2.json");
  ASSERT_TRUE(gpt2.ok()) << gpt2.status().ToString();
  EXPECT_EQ(gpt2->arch, Architecture::kGpt2);
  EXPECT_EQ(gpt2->intermediate_size, 4 * 768);
  EXPECT_EQ(gpt2->max_positions, 1024);
  EXPECT_EQ(gpt2->activation, Activation::kGeluTanh);
  EXPECT_TRUE(gpt2->tie_word_embeddings);
  EXPECT_EQ(gpt2->head_dim, 64);

  auto neox = ParseHfConfig(R"({"model_type":"gpt_neox","hidden_size":512,"intermediate_size":2048,
      "num_hidden_layers":6,"num_attention_heads":8,"rotary_pct":0.25,"rotary_emb_base":10000,
      "use_parallel_residual":true,"layer_norm_eps":1e-05,"hidden_act":"gelu","tie_word_embeddings":false,
      "max_position_embeddings":2048,"vocab_size":50304,"bos_token_id":0,"eos_token_id":0})",
                            "neox.json");
  ASSERT_TRUE(neox.ok()) << neox.status().ToString();
  EXPECT_EQ(neox->arch, Architecture::kNeox);
  EXPECT_EQ(neox->head_dim, 64);
  EXPECT_EQ(neox->rotary_dim, 16);
  EXPECT_EQ(neox->rope_layout, RopeLayout::kRotateHalf);
  EXPECT_EQ(neox->activation, Activation::kGeluErf);
  EXPECT_TRUE(neox->use_parallel_residual);
  EXPECT_FALSE(neox->tie_word_embeddings);
}

struct ErrorCase {
  const char* label;
  const char* json;
  StatusCode code;
  const char* must_mention;
};

TEST(HfConfigTest, RejectsBadConfigs) {
  const std::vector<ErrorCase> cases = {
      {"bad json", R"({"model_type": "llama",)", StatusCode::kInvalidArgument, "JSON"},
      {"not object", R"("llama")", StatusCode::kInvalidArgument, "object"},
      {"no model_type", R"({"hidden_size": 4})", StatusCode::kInvalidArgument, "model_type"},
      {"unknown type", R"({"model_type": "mamba"})", StatusCode::kUnimplemented, "mamba"},
      {"missing key",
       R"({"model_type":"llama","hidden_size":64,"num_hidden_layers":2,"num_attention_heads":4,"vocab_size":10})",
       StatusCode::kInvalidArgument, "intermediate_size"},
      {"wrong type",
       R"({"model_type":"llama","hidden_size":"64","intermediate_size":96,"num_hidden_layers":2,"num_attention_heads":4,"vocab_size":10})",
       StatusCode::kInvalidArgument, "hidden_size"},
      {"rope scaling",
       R"({"model_type":"llama","hidden_size":64,"intermediate_size":96,"num_hidden_layers":2,"num_attention_heads":4,"vocab_size":10,"rope_scaling":{"type":"linear","factor":2.0}})",
       StatusCode::kUnimplemented, "rope_scaling"},
      {"opt proj dim",
       R"({"model_type":"opt","hidden_size":1024,"ffn_dim":4096,"num_hidden_layers":24,"num_attention_heads":16,"vocab_size":50272,"word_embed_proj_dim":512,"do_layer_norm_before":false})",
       StatusCode::kUnimplemented, "word_embed_proj_dim"},
      {"opt activation",
       R"({"model_type":"opt","hidden_size":64,"ffn_dim":96,"num_hidden_layers":2,"num_attention_heads":4,"vocab_size":10,"activation_function":"tanh"})",
       StatusCode::kUnimplemented, "tanh"},
      {"heads do not divide",
       R"({"model_type":"gpt2","n_embd":64,"n_layer":2,"n_head":5,"vocab_size":10})",
       StatusCode::kInvalidArgument, "head"},
      {"zero heads", R"({"model_type":"gpt2","n_embd":64,"n_layer":2,"n_head":0,"vocab_size":10})",
       StatusCode::kInvalidArgument, "n_head"},
      {"bool as int",
       R"({"model_type":"gpt_neox","hidden_size":64,"intermediate_size":96,"num_hidden_layers":2,"num_attention_heads":4,"vocab_size":10,"use_parallel_residual":1})",
       StatusCode::kInvalidArgument, "use_parallel_residual"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.label);
    auto r = ParseHfConfig(c.json, "dir/config.json");
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), c.code) << r.status().ToString();
    EXPECT_NE(r.status().message().find("dir/config.json"), std::string::npos) << r.status().ToString();
    EXPECT_NE(r.status().message().find(c.must_mention), std::string::npos) << r.status().ToString();
  }
}

TEST(HfConfigTest, RoundTripsEveryArchitecture) {
  for (Architecture arch : {Architecture::kLlama, Architecture::kOpt, Architecture::kGpt2, Architecture::kNeox}) {
    SCOPED_TRACE(ArchitectureName(arch));
    ModelConfig c = TinyConfig(arch);
    auto text = HfConfigToJson(c);
    ASSERT_TRUE(text.ok()) << text.status().ToString();
    const auto j = nlohmann::json::parse(*text);
    EXPECT_EQ(j.at("model_type"), ArchitectureName(arch));
    EXPECT_TRUE(j.at("architectures").is_array());
    EXPECT_EQ(j.at("torch_dtype"), "float32");
    auto back = ParseHfConfig(*text, "x");
    ASSERT_TRUE(back.ok()) << back.status().ToString() << "\n" << *text;
    EXPECT_TRUE(ConfigsEqual(c, *back)) << *text;
  }
  // Variants: post-LN OPT, GELU OPT, untied GPT-2, sequential NeoX with awkward rotary pct, biased GQA llama.
  ModelConfig opt = TinyConfig(Architecture::kOpt);
  opt.do_layer_norm_before = false;
  opt.activation = Activation::kGeluErf;
  opt.tie_word_embeddings = false;
  ModelConfig gpt2 = TinyConfig(Architecture::kGpt2);
  gpt2.tie_word_embeddings = false;
  gpt2.activation = Activation::kGeluErf;
  ModelConfig neox = TinyConfig(Architecture::kNeox);
  neox.hidden_size = 96;
  neox.num_heads = 4;
  neox.num_kv_heads = 4;
  neox.head_dim = 24;
  neox.rotary_dim = 8;  // 8/24 is not exact in binary
  neox.use_parallel_residual = false;
  neox.norm_eps = 1e-6f;
  neox.rope_theta = 500000.0f;
  ModelConfig llama = TinyConfig(Architecture::kLlama);
  llama.attention_bias = true;
  llama.tie_word_embeddings = true;
  llama.pad_token_id = 3;
  for (const ModelConfig& c : {opt, gpt2, neox, llama}) {
    SCOPED_TRACE(c.name);
    auto text = HfConfigToJson(c);
    ASSERT_TRUE(text.ok()) << text.status().ToString();
    auto back = ParseHfConfig(*text, "x");
    ASSERT_TRUE(back.ok()) << back.status().ToString();
    EXPECT_TRUE(ConfigsEqual(c, *back)) << *text;
  }
}

TEST(HfConfigTest, WriterRefusesInterleavedLlama) {
  ModelConfig c = TinyConfig(Architecture::kLlama);
  c.rope_layout = RopeLayout::kInterleaved;
  auto text = HfConfigToJson(c);
  ASSERT_FALSE(text.ok());
  EXPECT_EQ(text.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(text.status().message().find("ConvertRopeLayout"), std::string::npos);
}

}  // namespace
}  // namespace seedtune
