// The real SmolLM2-135M-Instruct Q4_1 GGUF (assets/, fetched by
// scripts/fetch-smollm2.sh): parsed config, full load, and a few tensors
// against the Python gguf package's dequantization (bit-exact).
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <map>
#include <string>

#include "core/assets.h"
#include "core/mapped_file.h"
#include "formats/checkpoint.h"
#include "formats/gguf.h"
#include "support/python_oracle.h"

namespace seedtune {
namespace {

constexpr const char* kAsset = "models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf";

std::string ModelPathOrEmpty() {
  auto p = FindAsset(kAsset);
  return p ? *p : std::string();
}

TEST(GgufSmolLM2Test, Container) {
  const std::string path = ModelPathOrEmpty();
  if (path.empty()) GTEST_SKIP() << kAsset << " not found (run: bash scripts/fetch-smollm2.sh)";
  auto g = GgufFile::Open(path);
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  EXPECT_EQ(*g->GetString("general.architecture"), "llama");
  std::map<std::string, int> types;
  for (const auto& t : g->tensors()) ++types[GgmlTypeName(t.type)];
  EXPECT_EQ(types["Q4_1"], 210);
  EXPECT_EQ(types["F32"], 61);
  EXPECT_EQ(types["Q8_0"], 1);
  EXPECT_EQ(GgmlTypeName(g->FindTensor("token_embd.weight")->type), std::string("Q8_0"));
  EXPECT_EQ(g->FindTensor("token_embd.weight")->dims, (std::vector<int64_t>{576, 49152}));
  auto tokens = g->GetStringArray("tokenizer.ggml.tokens");
  ASSERT_TRUE(tokens.ok()) << tokens.status().ToString();
  EXPECT_EQ(tokens->size(), 49152u);
}

TEST(GgufSmolLM2Test, ConfigLoadAndOracle) {
  const std::string path = ModelPathOrEmpty();
  if (path.empty()) GTEST_SKIP() << kAsset << " not found (run: bash scripts/fetch-smollm2.sh)";
  auto reader = OpenGgufCheckpoint(path);
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  const ModelConfig& c = (*reader)->config();
  EXPECT_EQ(c.arch, Architecture::kLlama);
  EXPECT_EQ(c.num_layers, 30);
  EXPECT_EQ(c.hidden_size, 576);
  EXPECT_EQ(c.num_heads, 9);
  EXPECT_EQ(c.num_kv_heads, 3);
  EXPECT_EQ(c.head_dim, 64);
  EXPECT_EQ(c.rotary_dim, 64);
  EXPECT_EQ(c.intermediate_size, 1536);
  EXPECT_EQ(c.vocab_size, 49152);
  EXPECT_EQ(c.rope_theta, 100000.0f);
  EXPECT_EQ(c.rope_layout, RopeLayout::kInterleaved);
  EXPECT_TRUE(c.tie_word_embeddings);
  EXPECT_EQ(c.norm_eps, 1e-5f);
  EXPECT_EQ(c.max_positions, 8192);
  EXPECT_GE(c.bos_token_id, 0);
  EXPECT_GE(c.eos_token_id, 0);
  EXPECT_FALSE(c.name.empty());

  auto w = LoadModel(path);
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  EXPECT_EQ(w->num_params(), 134515008);  // 135M with tied embeddings

  const std::string python = SEEDTUNE_VENV_PYTHON;
  if (!testing::PythonUnavailableReason(python).empty() ||
      !testing::RunPython(python, "import gguf, numpy\n").ok())
    GTEST_SKIP() << "Python gguf oracle unavailable (run scripts/setup-venv.sh); config and load checked";
  // GGUF name -> internal name, for a Q8_0, Q4_1 and F32 tensor each.
  const std::map<std::string, std::string> names = {
      {"token_embd.weight", "model.embed_tokens.weight"},
      {"blk.0.attn_q.weight", "model.layers.0.self_attn.q_proj.weight"},
      {"blk.29.ffn_down.weight", "model.layers.29.mlp.down_proj.weight"},
      {"blk.7.attn_norm.weight", "model.layers.7.input_layernorm.weight"},
      {"output_norm.weight", "model.norm.weight"},
  };
  const std::string dir = testing::TestTempDir("gguf-smollm2-oracle");
  std::vector<std::string> args = {path, dir};
  for (const auto& [g, i] : names) args.push_back(g);
  auto r = testing::RunPython(python, R"PY(
import sys
import numpy as np
from gguf import GGUFReader
from gguf.quants import dequantize
path, out = sys.argv[1], sys.argv[2]
reader = GGUFReader(path)
want = set(sys.argv[3:])
for t in reader.tensors:
    if t.name in want:
        y = np.ascontiguousarray(dequantize(t.data, t.tensor_type), dtype=np.float32)
        y.tofile(out + "/" + t.name)
        print(t.name, y.shape)
)PY",
                              args);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  for (const auto& [g, internal] : names) {
    auto idx = w->table().Find(internal);
    ASSERT_TRUE(idx.has_value()) << internal;
    auto theirs = ReadFileToString(dir + "/" + g);
    ASSERT_TRUE(theirs.ok()) << theirs.status().ToString();
    auto ours = w->tensor(*idx);
    ASSERT_EQ(theirs->size(), ours.size() * 4) << g;
    EXPECT_EQ(std::memcmp(theirs->data(), ours.data(), theirs->size()), 0) << g << " differs from gguf-py";
  }
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}

}  // namespace
}  // namespace seedtune
