// GGUF checkpoints (OpenGgufCheckpoint / LoadModel): round trips of random
// Llama and GPT-2 models in every supported tensor type, and malformed files
// (truncated at every byte, hostile lengths and offsets, wrong shapes, missing
// tensors, NaNs) that must give a clear Status naming the file and the
// offending key or tensor.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "core/mapped_file.h"
#include "formats/checkpoint.h"
#include "formats/dequant.h"
#include "formats/gguf.h"
#include "formats/gguf_writer.h"
#include "support/fixtures.h"
#include "support/quantize_ref.h"

namespace seedtune {
namespace {

constexpr uint32_t T(GgmlType t) { return static_cast<uint32_t>(t); }

// Internal (Hugging Face) name -> GGUF name, written independently of the
// reader's table.
std::string GgufName(Architecture arch, const std::string& name) {
  static const std::map<std::string, std::string> kLlama = {
      {"model.embed_tokens.weight", "token_embd.weight"},
      {"model.norm.weight", "output_norm.weight"},
      {"lm_head.weight", "output.weight"},
      {"input_layernorm.weight", "attn_norm.weight"},
      {"self_attn.q_proj.weight", "attn_q.weight"},
      {"self_attn.k_proj.weight", "attn_k.weight"},
      {"self_attn.v_proj.weight", "attn_v.weight"},
      {"self_attn.o_proj.weight", "attn_output.weight"},
      {"post_attention_layernorm.weight", "ffn_norm.weight"},
      {"mlp.gate_proj.weight", "ffn_gate.weight"},
      {"mlp.up_proj.weight", "ffn_up.weight"},
      {"mlp.down_proj.weight", "ffn_down.weight"},
  };
  static const std::map<std::string, std::string> kGpt2 = {
      {"transformer.wte.weight", "token_embd.weight"},
      {"transformer.wpe.weight", "position_embd.weight"},
      {"transformer.ln_f.weight", "output_norm.weight"},
      {"transformer.ln_f.bias", "output_norm.bias"},
      {"lm_head.weight", "output.weight"},
      {"ln_1.weight", "attn_norm.weight"},
      {"ln_1.bias", "attn_norm.bias"},
      {"attn.c_attn.weight", "attn_qkv.weight"},
      {"attn.c_attn.bias", "attn_qkv.bias"},
      {"attn.c_proj.weight", "attn_output.weight"},
      {"attn.c_proj.bias", "attn_output.bias"},
      {"ln_2.weight", "ffn_norm.weight"},
      {"ln_2.bias", "ffn_norm.bias"},
      {"mlp.c_fc.weight", "ffn_up.weight"},
      {"mlp.c_fc.bias", "ffn_up.bias"},
      {"mlp.c_proj.weight", "ffn_down.weight"},
      {"mlp.c_proj.bias", "ffn_down.bias"},
  };
  const auto& table = arch == Architecture::kLlama ? kLlama : kGpt2;
  if (auto it = table.find(name); it != table.end()) return it->second;
  const std::string prefix = arch == Architecture::kLlama ? "model.layers." : "transformer.h.";
  EXPECT_EQ(name.rfind(prefix, 0), 0u) << name;
  const size_t dot = name.find('.', prefix.size());
  const std::string layer = name.substr(prefix.size(), dot - prefix.size());
  auto it = table.find(name.substr(dot + 1));
  EXPECT_NE(it, table.end()) << name;
  return "blk." + layer + "." + (it == table.end() ? "?" : it->second);
}

struct WriteOptions {
  uint32_t matrix_type = 0;                                // type for 2-D tensors (when the row fits)
  std::set<std::string> skip;                              // internal names not to write
  std::map<std::string, GgufValue> meta_override;          // replaces / adds metadata
  std::set<std::string> meta_skip;                         // metadata keys not to write
  std::vector<GgufWriterTensor> extra_tensors;             // written as well
  std::function<void(GgufWriterTensor*)> edit_tensor;      // last-minute edits
  bool duplicate_output = false;                           // GPT-2: write output.weight = token_embd
};

// Writes `w` as a GGUF file; returns the weights a correct reader must
// produce (the dequantized reference for quantized tensors).
ModelWeights WriteModel(const std::string& path, const ModelWeights& w, const WriteOptions& o = {}) {
  const ModelConfig& c = w.config();
  const bool llama = c.arch == Architecture::kLlama;
  const std::string a = llama ? "llama" : "gpt2";
  std::vector<GgufMetadataEntry> meta = {
      {"general.architecture", GgufStr(a)},
      {"general.name", GgufStr(c.name)},
      {"general.alignment", GgufU32(32)},
      {a + ".context_length", GgufU32(static_cast<uint32_t>(c.max_positions))},
      {a + ".embedding_length", GgufU32(static_cast<uint32_t>(c.hidden_size))},
      {a + ".block_count", GgufU32(static_cast<uint32_t>(c.num_layers))},
      {a + ".feed_forward_length", GgufU32(static_cast<uint32_t>(c.intermediate_size))},
      {a + ".attention.head_count", GgufU32(static_cast<uint32_t>(c.num_heads))},
      {a + ".attention.head_count_kv", GgufU32(static_cast<uint32_t>(c.num_kv_heads))},
  };
  if (llama) {
    meta.push_back({a + ".rope.dimension_count", GgufU32(static_cast<uint32_t>(c.rotary_dim))});
    meta.push_back({a + ".rope.freq_base", GgufF32(c.rope_theta)});
    meta.push_back({a + ".attention.layer_norm_rms_epsilon", GgufF32(c.norm_eps)});
  } else {
    meta.push_back({a + ".attention.layer_norm_epsilon", GgufF32(c.norm_eps)});
  }
  std::vector<std::string> tokens;
  for (int64_t i = 0; i < c.vocab_size; ++i) tokens.push_back("tok" + std::to_string(i));
  meta.push_back({"tokenizer.ggml.model", GgufStr("gpt2")});
  meta.push_back({"tokenizer.ggml.tokens", GgufStrArray(tokens)});
  if (c.bos_token_id >= 0) meta.push_back({"tokenizer.ggml.bos_token_id", GgufU32(c.bos_token_id)});
  if (c.eos_token_id >= 0) meta.push_back({"tokenizer.ggml.eos_token_id", GgufU32(c.eos_token_id)});
  for (auto it = meta.begin(); it != meta.end();) {
    if (o.meta_skip.count(it->key)) {
      it = meta.erase(it);
      continue;
    }
    if (auto ov = o.meta_override.find(it->key); ov != o.meta_override.end()) it->value = ov->second;
    ++it;
  }
  for (const auto& [k, v] : o.meta_override) {
    bool present = false;
    for (const auto& e : meta) present |= e.key == k;
    if (!present) meta.push_back({k, v});
  }

  ModelWeights expected = w.Clone();
  std::vector<GgufWriterTensor> tensors;
  for (size_t i = 0; i < w.num_tensors(); ++i) {
    const TensorSpec& spec = w.specs()[i];
    if (o.skip.count(spec.name)) continue;
    uint32_t type = T(GgmlType::kF32);
    const int64_t row = spec.shape.back();
    if (spec.shape.size() == 2 && o.matrix_type != 0 && row % GgmlBlockSize(o.matrix_type)->block_elems == 0)
      type = o.matrix_type;
    GgufWriterTensor t;
    t.name = GgufName(c.arch, spec.name);
    t.shape = spec.shape;
    t.type = type;
    const int64_t rows = spec.numel() / row;
    for (int64_t r = 0; r < rows; ++r) {
      auto q = testing::QuantizeRow(type, w.data(i) + r * row, row);
      EXPECT_TRUE(q.ok()) << q.status().ToString();
      EXPECT_TRUE(DequantizeRow(type, reinterpret_cast<const uint8_t*>(q->data()), row, expected.data(i) + r * row).ok());
      t.data += *q;
    }
    if (o.edit_tensor) o.edit_tensor(&t);
    tensors.push_back(std::move(t));
    if (o.duplicate_output && spec.role == TensorRole::kTokenEmbedding) {
      GgufWriterTensor dup = tensors.back();
      dup.name = "output.weight";
      tensors.push_back(std::move(dup));
    }
  }
  for (const auto& t : o.extra_tensors) tensors.push_back(t);
  Status s = WriteGguf(path, meta, tensors);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return expected;
}

ModelConfig LlamaConfig() {
  ModelConfig c = testing::TinyConfig(Architecture::kLlama);
  c.name = "tiny-gguf-llama";
  c.vocab_size = 128;
  c.rope_layout = RopeLayout::kInterleaved;  // GGUF llama weights are in the interleaved layout
  c.rope_theta = 500000.0f;
  c.norm_eps = 1e-6f;
  c.max_positions = 256;
  return c;
}

ModelConfig LlamaKConfig() {  // rows of 256 / 512 for the K-quants
  ModelConfig c = LlamaConfig();
  c.hidden_size = 256;
  c.num_heads = 4;
  c.num_kv_heads = 2;
  c.head_dim = 64;
  c.rotary_dim = 64;
  c.intermediate_size = 512;
  c.vocab_size = 64;
  return c;
}

::testing::AssertionResult HasAll(const Status& s, std::initializer_list<std::string> parts) {
  if (s.ok()) return ::testing::AssertionFailure() << "expected an error, got OK";
  for (const auto& p : parts)
    if (s.message().find(p) == std::string::npos)
      return ::testing::AssertionFailure() << "message lacks '" << p << "': " << s.ToString();
  return ::testing::AssertionSuccess();
}

class GgufCheckpointTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = testing::MakeTempDir("gguf-ckpt"); }
  void TearDown() override {
    std::error_code ec;
    if (!HasFailure()) std::filesystem::remove_all(dir_, ec);
  }
  std::string dir_;
};

TEST_F(GgufCheckpointTest, LlamaF32RoundTripIsExact) {
  const ModelConfig c = LlamaConfig();
  ModelWeights w = testing::RandomWeights(c, 7);
  const std::string path = dir_ + "/llama-f32.gguf";
  ModelWeights expected = WriteModel(path, w);
  EXPECT_EQ(DetectCheckpointFormat(path).value(), CheckpointFormat::kGguf);
  auto loaded = LoadModel(path);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_TRUE(testing::ConfigsEqual(c, loaded->config()));
  EXPECT_EQ(loaded->config().name, c.name);
  EXPECT_EQ(loaded->config().rope_layout, RopeLayout::kInterleaved);
  EXPECT_EQ(loaded->config().rope_theta, 500000.0f);
  EXPECT_FALSE(loaded->config().tie_word_embeddings);
  EXPECT_TRUE(testing::WeightsEqual(w, *loaded));
  EXPECT_TRUE(testing::WeightsEqual(expected, *loaded));

  auto reader = OpenGgufCheckpoint(path);
  ASSERT_TRUE(reader.ok());
  EXPECT_EQ((*reader)->format(), CheckpointFormat::kGguf);
  EXPECT_EQ((*reader)->path(), path);
}

TEST_F(GgufCheckpointTest, LlamaTiedWhenNoOutputTensorAndDefaults) {
  ModelConfig c = LlamaConfig();
  c.tie_word_embeddings = true;
  c.rope_theta = 10000.0f;
  ModelWeights w = testing::RandomWeights(c, 8);
  const std::string path = dir_ + "/llama-tied.gguf";
  WriteOptions o;
  // Defaults: rope.freq_base 10000, head_count_kv = head_count (when absent),
  // rope.dimension_count = head_dim; vocab from the token list.
  o.meta_skip = {"llama.rope.freq_base", "llama.rope.dimension_count"};
  WriteModel(path, w, o);
  auto loaded = LoadModel(path);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_TRUE(loaded->config().tie_word_embeddings);
  EXPECT_TRUE(testing::ConfigsEqual(c, loaded->config()));
  EXPECT_TRUE(testing::WeightsEqual(w, *loaded));
}

TEST_F(GgufCheckpointTest, VocabFromEmbeddingWhenNoTokenList) {
  ModelConfig c = LlamaConfig();
  ModelWeights w = testing::RandomWeights(c, 9);
  const std::string path = dir_ + "/llama-novocab.gguf";
  WriteOptions o;
  o.meta_skip = {"tokenizer.ggml.tokens", "tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id",
                 "general.name"};
  WriteModel(path, w, o);
  auto reader = OpenGgufCheckpoint(path);
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  EXPECT_EQ((*reader)->config().vocab_size, 128);
  EXPECT_EQ((*reader)->config().bos_token_id, -1);
  EXPECT_EQ((*reader)->config().name, "llama-novocab");
}

class GgufTypeRoundTripTest : public GgufCheckpointTest, public ::testing::WithParamInterface<GgmlType> {};

TEST_P(GgufTypeRoundTripTest, LoadsDequantizedReference) {
  const uint32_t type = T(GetParam());
  const bool k_quant = GgmlBlockSize(type)->block_elems == 256;
  const ModelConfig c = k_quant ? LlamaKConfig() : LlamaConfig();
  ModelWeights w = testing::RandomWeights(c, 11 + type);
  const std::string path = dir_ + "/llama-" + GgmlTypeName(type) + ".gguf";
  WriteOptions o;
  o.matrix_type = type;
  ModelWeights expected = WriteModel(path, w, o);
  {
    auto g = GgufFile::Open(path);
    ASSERT_TRUE(g.ok()) << g.status().ToString();
    ASSERT_NE(g->FindTensor("blk.0.attn_q.weight"), nullptr);
    EXPECT_EQ(g->FindTensor("blk.0.attn_q.weight")->type, type);
    EXPECT_EQ(g->FindTensor("blk.1.ffn_down.weight")->type, type);
    EXPECT_EQ(g->FindTensor("output_norm.weight")->type, 0u);
  }
  auto loaded = LoadModel(path);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_TRUE(testing::ConfigsEqual(c, loaded->config()));
  EXPECT_TRUE(testing::WeightsEqual(expected, *loaded));
  // And close to the source within the type's bound.
  const int64_t block = GgmlBlockSize(type)->block_elems;
  for (size_t i = 0; i < w.num_tensors(); ++i) {
    if (w.specs()[i].shape.size() != 2) continue;
    auto src = w.tensor(i);
    auto got = loaded->tensor(i);
    for (size_t b = 0; b + block <= src.size(); b += block) {
      const float bound = testing::QuantErrorBound(type, src.data() + b);
      for (size_t j = b; j < b + block; ++j)
        ASSERT_LE(std::fabs(got[j] - src[j]), bound) << w.specs()[i].name << " element " << j;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Types, GgufTypeRoundTripTest,
                         ::testing::Values(GgmlType::kF16, GgmlType::kBF16, GgmlType::kQ8_0, GgmlType::kQ4_0,
                                           GgmlType::kQ4_1, GgmlType::kQ4_K, GgmlType::kQ5_K, GgmlType::kQ6_K),
                         [](const auto& info) { return std::string(GgmlTypeName(static_cast<uint32_t>(info.param))); });

TEST_F(GgufCheckpointTest, Gpt2RoundTripWithDuplicatedOutput) {
  const ModelConfig c = testing::TinyConfig(Architecture::kGpt2);
  ModelWeights w = testing::RandomWeights(c, 21);
  const std::string path = dir_ + "/gpt2.gguf";
  WriteOptions o;
  o.matrix_type = T(GgmlType::kQ8_0);
  o.duplicate_output = true;  // llama.cpp's GPT-2 converter writes the tied embedding twice
  ModelWeights expected = WriteModel(path, w, o);
  auto reader = OpenGgufCheckpoint(path);
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  EXPECT_TRUE((*reader)->config().tie_word_embeddings);
  EXPECT_EQ((*reader)->config().activation, Activation::kGeluTanh);
  EXPECT_EQ((*reader)->config().rope_layout, RopeLayout::kNone);
  auto loaded = LoadModel(path);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_TRUE(testing::ConfigsEqual(c, loaded->config()));
  EXPECT_TRUE(testing::WeightsEqual(expected, *loaded));
  // Read everything through the reader: nothing unused.
  for (size_t i = 0; i < loaded->num_tensors(); ++i) {
    std::vector<float> buf(static_cast<size_t>(loaded->specs()[i].numel()));
    ASSERT_TRUE((*reader)->ReadTensor(loaded->specs()[i], buf.data()).ok());
  }
  EXPECT_TRUE((*reader)->UnusedTensors().empty());
}

TEST_F(GgufCheckpointTest, UnusedTensorsAreReported) {
  ModelWeights w = testing::RandomWeights(LlamaConfig(), 5);
  const std::string path = dir_ + "/extra.gguf";
  WriteOptions o;
  const float x[32] = {};
  o.extra_tensors.push_back({"blk.0.mystery.weight", {32}, 0, GgufF32Bytes(x, 32)});
  WriteModel(path, w, o);
  auto reader = OpenGgufCheckpoint(path);
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  auto weights = ModelWeights::Allocate((*reader)->config());
  ASSERT_TRUE(weights.ok());
  for (size_t i = 0; i < weights->num_tensors(); ++i)
    ASSERT_TRUE((*reader)->ReadTensor(weights->specs()[i], weights->data(i)).ok());
  EXPECT_EQ((*reader)->UnusedTensors(), std::vector<std::string>{"blk.0.mystery.weight"});
}

// --- Malformed files ---------------------------------------------------------

// A small Q8_0 Llama (about 9 KB) for byte-level corruption.
ModelConfig SmallConfig() {
  ModelConfig c = LlamaConfig();
  c.hidden_size = 32;
  c.num_layers = 1;
  c.num_heads = 2;
  c.num_kv_heads = 1;
  c.head_dim = 16;
  c.rotary_dim = 16;
  c.intermediate_size = 32;
  c.vocab_size = 16;
  c.bos_token_id = 1;
  c.eos_token_id = 2;
  return c;
}

std::string WriteSmall(const std::string& path, WriteOptions o = {}) {
  if (o.matrix_type == 0) o.matrix_type = T(GgmlType::kQ8_0);
  WriteModel(path, testing::RandomWeights(SmallConfig(), 3), o);
  auto bytes = ReadFileToString(path);
  EXPECT_TRUE(bytes.ok());
  return *bytes;
}

// Offset just after the unique occurrence of `needle` (a key or tensor name).
size_t After(const std::string& file, const std::string& needle) {
  const size_t at = file.find(needle);
  EXPECT_NE(at, std::string::npos) << needle;
  EXPECT_EQ(file.find(needle, at + 1), std::string::npos) << needle << " is not unique";
  return at + needle.size();
}

template <typename V>
void Patch(std::string* file, size_t at, V v) {
  ASSERT_LE(at + sizeof(V), file->size());
  std::memcpy(file->data() + at, &v, sizeof(V));
}

TEST_F(GgufCheckpointTest, TruncatedAtEveryByte) {
  const std::string full_path = dir_ + "/full.gguf";
  const std::string file = WriteSmall(full_path);
  auto g = GgufFile::Open(full_path);
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  uint64_t end = 0;  // end of the last tensor's bytes (padding after it is optional)
  for (const auto& t : g->tensors()) end = std::max(end, g->data_offset() + t.offset + t.nbytes);
  ASSERT_LE(end, file.size());
  ASSERT_TRUE(LoadModel(full_path).ok());
  // Thousands of small files: use tmpfs when there is one (a busy disk makes
  // this loop take seconds instead of milliseconds).
  std::string tmp = dir_;
  std::error_code ec;
  if (std::filesystem::is_directory("/dev/shm", ec) && ::access("/dev/shm", W_OK) == 0) {
    char templ[] = "/dev/shm/seedtune-gguf-trunc-XXXXXX";
    if (::mkdtemp(templ) != nullptr) tmp = templ;
  }
  const std::string path = tmp + "/truncated.gguf";
  struct Cleanup {
    std::string dir, keep;
    ~Cleanup() {
      std::error_code e;
      if (dir != keep) std::filesystem::remove_all(dir, e);
    }
  } cleanup{tmp, dir_};
  for (size_t n = 0; n < end; ++n) {
    ASSERT_TRUE(WriteStringToFile(path, file.substr(0, n)).ok());
    auto r = OpenGgufCheckpoint(path);
    ASSERT_FALSE(r.ok()) << "prefix of " << n << " bytes opened";
    ASSERT_NE(r.status().message().find(path), std::string::npos) << n << ": " << r.status().ToString();
  }
  // Without the trailing padding the file is still complete.
  ASSERT_TRUE(WriteStringToFile(path, file.substr(0, end)).ok());
  EXPECT_TRUE(LoadModel(path).ok());
}

TEST_F(GgufCheckpointTest, BadMagicIsNotGguf) {
  std::string file = WriteSmall(dir_ + "/m.gguf");
  file[3] = 'X';
  const std::string path = dir_ + "/bad-magic.bin";
  ASSERT_TRUE(WriteStringToFile(path, file).ok());
  EXPECT_EQ(DetectCheckpointFormat(path).value(), CheckpointFormat::kLlama2c);
  auto r = OpenGgufCheckpoint(path);
  EXPECT_TRUE(HasAll(r.status(), {path, "not a GGUF file"}));
}

// Applies `edit` to the small model's bytes and opens the result.
Status OpenEdited(const std::string& dir, const std::function<void(std::string*)>& edit, const std::string& name,
                  WriteOptions o = {}) {
  std::string file = WriteSmall(dir + "/src-" + name, std::move(o));
  edit(&file);
  const std::string path = dir + "/" + name;
  EXPECT_TRUE(WriteStringToFile(path, file).ok());
  auto r = OpenGgufCheckpoint(path);
  return r.ok() ? Status::Ok() : r.status();
}

TEST_F(GgufCheckpointTest, HostileLengthsCountsAndTypes) {
  // general.name: u32 type (string) then u64 length.
  Status s = OpenEdited(dir_, [](std::string* f) { Patch<uint64_t>(f, After(*f, "general.name") + 4, uint64_t{1} << 62); },
                        "huge-string.gguf");
  EXPECT_EQ(s.code(), StatusCode::kDataLoss);
  EXPECT_TRUE(HasAll(s, {"huge-string.gguf", "general.name"}));
  // tokenizer.ggml.tokens: u32 type (array), u32 element type, u64 count.
  s = OpenEdited(dir_, [](std::string* f) { Patch<uint64_t>(f, After(*f, "tokenizer.ggml.tokens") + 8, uint64_t{1} << 60); },
                 "huge-array.gguf");
  EXPECT_EQ(s.code(), StatusCode::kDataLoss);
  EXPECT_TRUE(HasAll(s, {"huge-array.gguf", "tokenizer.ggml.tokens"}));
  // Unknown value type.
  s = OpenEdited(dir_, [](std::string* f) { Patch<uint32_t>(f, After(*f, "llama.block_count"), 13); },
                 "bad-value-type.gguf");
  EXPECT_TRUE(HasAll(s, {"bad-value-type.gguf", "llama.block_count", "unknown GGUF value type"}));
  // Unknown array element type.
  s = OpenEdited(dir_, [](std::string* f) { Patch<uint32_t>(f, After(*f, "tokenizer.ggml.tokens") + 4, 77); },
                 "bad-elem-type.gguf");
  EXPECT_TRUE(HasAll(s, {"bad-elem-type.gguf", "tokenizer.ggml.tokens", "77"}));
  // Huge key length (the first key's u64 length is at offset 24).
  s = OpenEdited(dir_, [](std::string* f) { Patch<uint64_t>(f, 24, ~uint64_t{0}); }, "huge-key.gguf");
  EXPECT_EQ(s.code(), StatusCode::kDataLoss);
  EXPECT_TRUE(HasAll(s, {"huge-key.gguf"}));

  // Tensor info after the name: u32 n_dims, u64 dims[2], u32 type, u64 offset.
  const std::string q = "blk.0.attn_q.weight";
  s = OpenEdited(dir_, [&](std::string* f) { Patch<uint64_t>(f, After(*f, q) + 4 + 16 + 4, uint64_t{1} << 40); },
                 "offset-past-end.gguf");
  EXPECT_EQ(s.code(), StatusCode::kDataLoss);
  EXPECT_TRUE(HasAll(s, {"offset-past-end.gguf", q, "past the end"}));
  s = OpenEdited(dir_, [&](std::string* f) { Patch<uint64_t>(f, After(*f, q) + 4 + 16 + 4, uint64_t{1} << 63); },
                 "offset-overflow.gguf");
  EXPECT_TRUE(HasAll(s, {"offset-overflow.gguf", q}));
  s = OpenEdited(
      dir_,
      [&](std::string* f) {
        size_t at = After(*f, q) + 4 + 16 + 4;
        uint64_t off;
        std::memcpy(&off, f->data() + at, 8);
        Patch<uint64_t>(f, at, off + 4);
      },
      "unaligned.gguf");
  EXPECT_TRUE(HasAll(s, {"unaligned.gguf", q, "alignment"}));
  s = OpenEdited(dir_, [&](std::string* f) { Patch<uint32_t>(f, After(*f, q) + 4 + 16, 99); }, "bad-type.gguf");
  EXPECT_TRUE(HasAll(s, {"bad-type.gguf", q, "unknown ggml type 99"}));
  s = OpenEdited(
      dir_,
      [&](std::string* f) {
        Patch<uint64_t>(f, After(*f, q) + 4, uint64_t{1} << 33);
        Patch<uint64_t>(f, After(*f, q) + 12, uint64_t{1} << 33);
      },
      "dims-overflow.gguf");
  EXPECT_TRUE(HasAll(s, {"dims-overflow.gguf", q, "overflow"}));
  s = OpenEdited(dir_, [&](std::string* f) { Patch<uint32_t>(f, After(*f, q), 9); }, "many-dims.gguf");
  EXPECT_TRUE(HasAll(s, {"many-dims.gguf", q, "dimensions"}));
  s = OpenEdited(dir_, [&](std::string* f) { Patch<uint64_t>(f, After(*f, q) + 4, 0); }, "zero-dim.gguf");
  EXPECT_TRUE(HasAll(s, {"zero-dim.gguf", q}));
  // Row length not a multiple of the Q8_0 block.
  s = OpenEdited(dir_, [&](std::string* f) { Patch<uint64_t>(f, After(*f, q) + 4, 33); }, "ragged.gguf");
  EXPECT_TRUE(HasAll(s, {"ragged.gguf", q, "multiple"}));
}

TEST_F(GgufCheckpointTest, ConfigAndTensorErrors) {
  ModelWeights w = testing::RandomWeights(SmallConfig(), 4);
  auto load = [&](const std::string& name, WriteOptions o) {
    const std::string path = dir_ + "/" + name;
    WriteModel(path, w, o);
    auto r = LoadModel(path);
    return r.ok() ? Status::Ok() : r.status();
  };
  // Metadata says ffn 64, the tensors are [32, 32].
  WriteOptions o;
  o.meta_override["llama.feed_forward_length"] = GgufU32(64);
  Status s = load("ffn-mismatch.gguf", o);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(HasAll(s, {"ffn-mismatch.gguf", "blk.0.ffn_gate.weight", "[64, 32]", "[32, 32]"}));
  // Missing tensor.
  o = {};
  o.skip = {"model.layers.0.self_attn.v_proj.weight"};
  s = load("missing.gguf", o);
  EXPECT_EQ(s.code(), StatusCode::kNotFound);
  EXPECT_TRUE(HasAll(s, {"missing.gguf", "model.layers.0.self_attn.v_proj.weight"}));
  // NaN in F32 data.
  o = {};
  o.edit_tensor = [](GgufWriterTensor* t) {
    if (t->name == "blk.0.ffn_norm.weight") {
      const float nan = std::nanf("");
      std::memcpy(t->data.data() + 4 * 5, &nan, 4);
    }
  };
  s = load("nan.gguf", o);
  EXPECT_EQ(s.code(), StatusCode::kDataLoss);
  EXPECT_TRUE(HasAll(s, {"nan.gguf", "model.layers.0.post_attention_layernorm.weight", "non-finite"}));
  // A known ggml type without a dequantizer (Q5_0): Unimplemented at read time.
  o = {};
  o.edit_tensor = [](GgufWriterTensor* t) {
    if (t->name == "blk.0.attn_k.weight") {
      t->type = T(GgmlType::kQ5_0);
      t->data.assign(*GgmlRowBytes(t->type, 32) * 16, '\0');
    }
  };
  s = load("q5_0.gguf", o);
  EXPECT_EQ(s.code(), StatusCode::kUnimplemented);
  EXPECT_TRUE(HasAll(s, {"q5_0.gguf", "blk.0.attn_k.weight", "Q5_0"}));
  // Architecture problems.
  o = {};
  o.meta_skip = {"general.architecture"};
  s = load("no-arch.gguf", o);
  EXPECT_TRUE(HasAll(s, {"no-arch.gguf", "general.architecture"}));
  o = {};
  o.meta_override["general.architecture"] = GgufStr("mamba");
  s = load("mamba.gguf", o);
  EXPECT_EQ(s.code(), StatusCode::kUnimplemented);
  EXPECT_TRUE(HasAll(s, {"mamba.gguf", "'mamba'"}));
  o = {};
  o.meta_override["general.architecture"] = GgufStr("gptneox");
  s = load("neox.gguf", o);
  EXPECT_EQ(s.code(), StatusCode::kUnimplemented);
  EXPECT_TRUE(HasAll(s, {"neox.gguf", "gptneox"}));
  // Required key missing / wrong type / absurd values.
  o = {};
  o.meta_skip = {"llama.block_count"};
  s = load("no-blocks.gguf", o);
  EXPECT_EQ(s.code(), StatusCode::kNotFound);
  EXPECT_TRUE(HasAll(s, {"no-blocks.gguf", "llama.block_count"}));
  o = {};
  o.meta_override["llama.attention.head_count"] = GgufStr("two");
  s = load("heads-string.gguf", o);
  EXPECT_TRUE(HasAll(s, {"heads-string.gguf", "llama.attention.head_count"}));
  o = {};
  o.meta_override["llama.attention.head_count"] = GgufU32(0);
  s = load("heads-zero.gguf", o);
  EXPECT_TRUE(HasAll(s, {"heads-zero.gguf", "llama.attention.head_count"}));
  o = {};
  o.meta_override["llama.attention.head_count"] = GgufU32(3);
  s = load("heads-3.gguf", o);
  EXPECT_TRUE(HasAll(s, {"heads-3.gguf", "head_count"}));
  o = {};
  o.meta_override["tokenizer.ggml.eos_token_id"] = GgufU32(1000);
  s = load("eos.gguf", o);
  EXPECT_TRUE(HasAll(s, {"eos.gguf", "tokenizer.ggml.eos_token_id"}));
  o = {};
  o.meta_override["llama.rope.scaling.type"] = GgufStr("linear");
  o.meta_override["llama.rope.scaling.factor"] = GgufF32(4.0f);
  s = load("rope-scaling.gguf", o);
  EXPECT_EQ(s.code(), StatusCode::kUnimplemented);
  EXPECT_TRUE(HasAll(s, {"rope-scaling.gguf", "linear"}));
}


// --- Tensors the declared architecture does not use; overlapping tensors ----

TEST_F(GgufCheckpointTest, ABlockCountBelowTheFilesLayersIsRefused) {
  ModelWeights w = testing::RandomWeights(LlamaConfig(), 41);  // 2 layers
  const std::string path = dir_ + "/fewer-layers.gguf";
  WriteOptions o;
  o.meta_override["llama.block_count"] = GgufU32(1);
  WriteModel(path, w, o);
  auto loaded = LoadModel(path);
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.status().code(), StatusCode::kInvalidArgument);
  // Tensors are written in canonical order: blk.1's first one is the first unused.
  EXPECT_EQ(loaded.status().message(),
            path + ": tensor 'blk.1.attn_norm.weight' is not used by the declared architecture (llama, 1 layer)");

  ModelWeights g = testing::RandomWeights(testing::TinyConfig(Architecture::kGpt2), 42);
  const std::string gpath = dir_ + "/fewer-layers-gpt2.gguf";
  o.meta_override = {{"gpt2.block_count", GgufU32(1)}};
  WriteModel(gpath, g, o);
  loaded = LoadModel(gpath);
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.status().message(),
            gpath + ": tensor 'blk.1.attn_norm.weight' is not used by the declared architecture (gpt2, 1 layer)");
}

TEST_F(GgufCheckpointTest, LoadModelRefusesAnUnknownExtraTensor) {
  ModelWeights w = testing::RandomWeights(LlamaConfig(), 43);
  const std::string path = dir_ + "/extra.gguf";
  WriteOptions o;
  const float x[32] = {};
  o.extra_tensors.push_back({"blk.0.mystery.weight", {32}, 0, GgufF32Bytes(x, 32)});
  WriteModel(path, w, o);
  auto loaded = LoadModel(path);
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.status().message(),
            path + ": tensor 'blk.0.mystery.weight' is not used by the declared architecture (llama, 2 layers)");
  // CheckTensor counts as use: after checking every tensor only the extra one is left.
  auto reader = OpenGgufCheckpoint(path);
  ASSERT_TRUE(reader.ok());
  auto table = BuildTensorTable((*reader)->config());
  ASSERT_TRUE(table.ok());
  for (const TensorSpec& spec : table->specs) ASSERT_TRUE((*reader)->CheckTensor(spec).ok());
  EXPECT_EQ((*reader)->UnusedTensors(), std::vector<std::string>{"blk.0.mystery.weight"});
  EXPECT_EQ(CheckAllTensorsUsed(**reader).message(), loaded.status().message());
}

TEST_F(GgufCheckpointTest, OverlappingTensorDataIsRefusedNamingBoth) {
  const std::string src = dir_ + "/overlap-src.gguf";
  std::string file = WriteSmall(src);
  auto g = GgufFile::Open(src);
  ASSERT_TRUE(g.ok());
  const GgufTensorInfo* q = g->FindTensor("blk.0.attn_q.weight");
  const GgufTensorInfo* k = g->FindTensor("blk.0.attn_k.weight");
  ASSERT_TRUE(q && k);
  ASSERT_LT(q->offset, k->offset);
  // Move attn_k's data into the middle of attn_q's (keeping the alignment).
  const uint64_t moved = q->offset + 32;
  ASSERT_LT(moved, q->offset + q->nbytes);
  Patch<uint64_t>(&file, After(file, "blk.0.attn_k.weight") + 4 + 16 + 4, moved);
  const std::string path = dir_ + "/overlap.gguf";
  ASSERT_TRUE(WriteStringToFile(path, file).ok());
  auto r = GgufFile::Open(path);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(r.status().message(),
            fmt::format("{}: tensors 'blk.0.attn_q.weight' [{}, {}) and 'blk.0.attn_k.weight' [{}, {}) overlap in the "
                        "data section",
                        path, q->offset, q->offset + q->nbytes, moved, moved + k->nbytes));
  EXPECT_FALSE(LoadModel(path).ok());
  // Two tensors at the same offset (one aliasing the other) as well.
  Patch<uint64_t>(&file, After(file, "blk.0.attn_k.weight") + 4 + 16 + 4, q->offset);
  ASSERT_TRUE(WriteStringToFile(path, file).ok());
  r = GgufFile::Open(path);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(HasAll(r.status(), {path, "'blk.0.attn_q.weight'", "'blk.0.attn_k.weight'", "overlap"}));
}

}  // namespace
}  // namespace seedtune
