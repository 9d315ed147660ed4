// Writes the seed corpora of the fuzz targets: small valid files made with
// the project's own writers (tiny models of every architecture as GGUF,
// safetensors and llama2.c checkpoints, config.json files, tokenizers, wire
// messages of every kind), plus shrunken copies of the real assets when they
// are present (the SmolLM2 GGUF's metadata and tokenizer.json, with their
// vocabularies cut to a few hundred tokens). Every seed stays under 64 KB.
//
//   fuzz_seeds OUT_DIR   ->  OUT_DIR/<target>/<name>
//
// Built by CMake (tests/CMakeLists.txt) beside the tests; scripts/fuzz.sh
// runs it when a target's seed directory is empty.
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/assets.h"
#include "core/mapped_file.h"
#include "fed/messages.h"
#include "formats/dequant.h"
#include "formats/gguf.h"
#include "formats/gguf_writer.h"
#include "formats/hf_checkpoint.h"
#include "formats/hf_config.h"
#include "formats/llama2c.h"
#include "formats/safetensors.h"
#include "fuzz/wire_fuzz.h"
#include "net/peer_wire.h"
#include "net/wire.h"
#include "support/fixtures.h"
#include "support/quantize_ref.h"

namespace seedtune {
namespace {

namespace fs = std::filesystem;

constexpr size_t kMaxSeedBytes = 64 << 10;
std::string g_out;
int g_written = 0;

void Put(const std::string& target, const std::string& name, const std::string& bytes) {
  if (bytes.size() > kMaxSeedBytes) {
    std::fprintf(stderr, "fuzz_seeds: %s/%s is %zu bytes, over the limit; not written\n", target.c_str(),
                 name.c_str(), bytes.size());
    return;
  }
  fs::create_directories(fs::path(g_out) / target);
  Status s = WriteStringToFile((fs::path(g_out) / target / name).string(), bytes);
  if (!s.ok()) {
    std::fprintf(stderr, "fuzz_seeds: %s\n", s.ToString().c_str());
    std::exit(1);
  }
  ++g_written;
}

std::string Slurp(const std::string& path) {
  auto s = ReadFileToString(path);
  if (!s.ok()) {
    std::fprintf(stderr, "fuzz_seeds: %s\n", s.status().ToString().c_str());
    std::exit(1);
  }
  return *s;
}

std::string Scratch() {
  static const std::string dir = testing::MakeTempDir("fuzz-seeds");
  return dir;
}

// A config small enough that every tensor of a model fits a seed: hidden 32
// (one Q8_0 block per row), 1 layer, 2 heads (1 KV head for Llama).
ModelConfig SmallConfig(Architecture arch, int64_t vocab = 32) {
  ModelConfig c = testing::TinyConfig(arch);
  c.hidden_size = 32;
  c.num_layers = 1;
  c.num_heads = 2;
  c.num_kv_heads = arch == Architecture::kLlama ? 1 : 2;
  c.head_dim = 16;
  c.intermediate_size = 32;
  c.vocab_size = vocab;
  c.max_positions = 16;
  if (arch == Architecture::kLlama || arch == Architecture::kNeox) c.rotary_dim = arch == Architecture::kLlama ? 16 : 8;
  c.bos_token_id = 1;
  c.eos_token_id = 2;
  c.pad_token_id = arch == Architecture::kOpt ? 0 : -1;
  return c;
}

// --- GGUF --------------------------------------------------------------------

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
      {"transformer.wte.weight", "token_embd.weight"},   {"transformer.wpe.weight", "position_embd.weight"},
      {"transformer.ln_f.weight", "output_norm.weight"}, {"transformer.ln_f.bias", "output_norm.bias"},
      {"lm_head.weight", "output.weight"},               {"ln_1.weight", "attn_norm.weight"},
      {"ln_1.bias", "attn_norm.bias"},                   {"attn.c_attn.weight", "attn_qkv.weight"},
      {"attn.c_attn.bias", "attn_qkv.bias"},             {"attn.c_proj.weight", "attn_output.weight"},
      {"attn.c_proj.bias", "attn_output.bias"},          {"ln_2.weight", "ffn_norm.weight"},
      {"ln_2.bias", "ffn_norm.bias"},                    {"mlp.c_fc.weight", "ffn_up.weight"},
      {"mlp.c_fc.bias", "ffn_up.bias"},                  {"mlp.c_proj.weight", "ffn_down.weight"},
      {"mlp.c_proj.bias", "ffn_down.bias"},
  };
  const auto& table = arch == Architecture::kLlama ? kLlama : kGpt2;
  if (auto it = table.find(name); it != table.end()) return it->second;
  const std::string prefix = arch == Architecture::kLlama ? "model.layers." : "transformer.h.";
  const size_t dot = name.find('.', prefix.size());
  return "blk." + name.substr(prefix.size(), dot - prefix.size()) + "." + table.at(name.substr(dot + 1));
}

// Tokenizer metadata: a byte-level BPE ("gpt2") or SentencePiece-style
// ("llama") vocabulary of `n` tokens.
void AddTokenizer(std::vector<GgufMetadataEntry>* meta, const std::string& model, int64_t n) {
  std::vector<std::string> tokens;
  std::vector<std::string> merges;
  std::vector<float> scores;
  std::vector<int32_t> types;
  if (model == "gpt2") {
    const char* base[] = {"<|endoftext|>", "<|im_start|>", "<|im_end|>", "a", "b", "c", "d", "e", "h", "l", "o", "\xc4\xa0", "w", "r", "1", "2"};
    for (const char* t : base) tokens.push_back(t);
    const char* m[][2] = {{"h", "e"}, {"l", "l"}, {"he", "ll"}, {"hell", "o"}, {"\xc4\xa0", "w"}, {"o", "r"}, {"\xc4\xa0w", "or"}, {"1", "2"}};
    for (const auto& p : m) {
      merges.push_back(std::string(p[0]) + " " + p[1]);
      tokens.push_back(std::string(p[0]) + p[1]);
    }
    for (size_t i = 0; i < tokens.size(); ++i) types.push_back(i < 3 ? 3 : 1);
  } else {
    tokens = {"<unk>", "<s>", "</s>"};
    types = {2, 3, 3};
    for (int b = 0; b < 8; ++b) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "<0x%02X>", 0x20 + b);
      tokens.push_back(buf);
      types.push_back(6);
    }
    for (const char* t : {"\xe2\x96\x81", "a", "b", "\xe2\x96\x81" "a", "ab", "\xe2\x96\x81" "ab", "c", "<|user|>"}) {
      tokens.push_back(t);
      types.push_back(std::string(t) == "<|user|>" ? 4 : 1);
    }
    for (size_t i = 0; i < tokens.size(); ++i) scores.push_back(-static_cast<float>(i));
  }
  while (static_cast<int64_t>(tokens.size()) < n) {
    tokens.push_back("t" + std::to_string(tokens.size()));
    types.push_back(1);
    scores.push_back(-static_cast<float>(tokens.size()));
  }
  tokens.resize(static_cast<size_t>(n));
  types.resize(static_cast<size_t>(n));
  meta->push_back({"tokenizer.ggml.model", GgufStr(model)});
  meta->push_back({"tokenizer.ggml.tokens", GgufStrArray(tokens)});
  meta->push_back({"tokenizer.ggml.token_type", GgufI32Array(types)});
  if (model == "gpt2") {
    meta->push_back({"tokenizer.ggml.merges", GgufStrArray(merges)});
    meta->push_back({"tokenizer.ggml.pre", GgufStr("smollm")});
  } else {
    scores.resize(static_cast<size_t>(n));
    meta->push_back({"tokenizer.ggml.scores", GgufF32Array(scores)});
    meta->push_back({"tokenizer.ggml.add_space_prefix", GgufBool(true)});
  }
  meta->push_back({"tokenizer.ggml.bos_token_id", GgufU32(1)});
  meta->push_back({"tokenizer.ggml.eos_token_id", GgufU32(2)});
}

// The model's tensors in `matrix_type` (2-D tensors whose rows fit) or F32.
std::vector<GgufWriterTensor> GgufTensors(const ModelWeights& w, uint32_t matrix_type, bool duplicate_output = false) {
  std::vector<GgufWriterTensor> tensors;
  for (size_t i = 0; i < w.num_tensors(); ++i) {
    const TensorSpec& spec = w.specs()[i];
    uint32_t type = static_cast<uint32_t>(GgmlType::kF32);
    const int64_t row = spec.shape.back();
    if (spec.shape.size() == 2 && row % GgmlBlockSize(matrix_type)->block_elems == 0) type = matrix_type;
    GgufWriterTensor t{GgufName(w.config().arch, spec.name), spec.shape, type, ""};
    for (int64_t r = 0; r < spec.numel() / row; ++r) t.data += *testing::QuantizeRow(type, w.data(i) + r * row, row);
    tensors.push_back(std::move(t));
    if (duplicate_output && spec.role == TensorRole::kTokenEmbedding) {
      GgufWriterTensor dup = tensors.back();
      dup.name = "output.weight";
      tensors.push_back(std::move(dup));
    }
  }
  return tensors;
}

std::vector<GgufMetadataEntry> ModelMetadata(const ModelConfig& c) {
  const std::string a = c.arch == Architecture::kLlama ? "llama" : "gpt2";
  std::vector<GgufMetadataEntry> meta = {
      {"general.architecture", GgufStr(a)},
      {"general.name", GgufStr("fuzz-seed")},
      {"general.alignment", GgufU32(32)},
      {a + ".context_length", GgufU32(static_cast<uint32_t>(c.max_positions))},
      {a + ".embedding_length", GgufU32(static_cast<uint32_t>(c.hidden_size))},
      {a + ".block_count", GgufU32(static_cast<uint32_t>(c.num_layers))},
      {a + ".feed_forward_length", GgufU32(static_cast<uint32_t>(c.intermediate_size))},
      {a + ".attention.head_count", GgufU32(static_cast<uint32_t>(c.num_heads))},
      {a + ".attention.head_count_kv", GgufU32(static_cast<uint32_t>(c.num_kv_heads))},
  };
  if (c.arch == Architecture::kLlama) {
    meta.push_back({a + ".rope.dimension_count", GgufU32(static_cast<uint32_t>(c.rotary_dim))});
    meta.push_back({a + ".rope.freq_base", GgufF32(c.rope_theta)});
    meta.push_back({a + ".attention.layer_norm_rms_epsilon", GgufF32(c.norm_eps)});
  } else {
    meta.push_back({a + ".attention.layer_norm_epsilon", GgufF32(c.norm_eps)});
  }
  return meta;
}

std::string GgufBytes(const std::vector<GgufMetadataEntry>& meta, const std::vector<GgufWriterTensor>& tensors) {
  const std::string path = Scratch() + "/seed.gguf";
  Status s = WriteGguf(path, meta, tensors);
  if (!s.ok()) {
    std::fprintf(stderr, "fuzz_seeds: %s\n", s.ToString().c_str());
    std::exit(1);
  }
  return Slurp(path);
}

ModelConfig GgufLlama() {
  ModelConfig c = SmallConfig(Architecture::kLlama);
  c.rope_layout = RopeLayout::kInterleaved;
  return c;
}

void GgufSeeds() {
  const uint32_t q8 = static_cast<uint32_t>(GgmlType::kQ8_0);
  {
    ModelWeights w = testing::RandomWeights(GgufLlama(), 1);
    auto meta = ModelMetadata(w.config());
    AddTokenizer(&meta, "llama", w.config().vocab_size);
    Put("gguf", "llama-q8_0-spm.gguf", GgufBytes(meta, GgufTensors(w, q8)));
  }
  {
    ModelConfig c = GgufLlama();
    c.tie_word_embeddings = true;
    ModelWeights w = testing::RandomWeights(c, 2);
    auto meta = ModelMetadata(c);
    AddTokenizer(&meta, "gpt2", c.vocab_size);
    for (GgmlType type : {GgmlType::kQ4_0, GgmlType::kQ4_1, GgmlType::kF16, GgmlType::kBF16}) {
      const auto t = static_cast<uint32_t>(type);
      Put("gguf", std::string("llama-tied-bpe-") + GgmlTypeName(t) + ".gguf", GgufBytes(meta, GgufTensors(w, t)));
    }
  }
  {
    ModelWeights w = testing::RandomWeights(SmallConfig(Architecture::kGpt2), 3);
    auto meta = ModelMetadata(w.config());
    AddTokenizer(&meta, "gpt2", w.config().vocab_size);
    Put("gguf", "gpt2-q8_0-dup-output.gguf", GgufBytes(meta, GgufTensors(w, q8, /*duplicate_output=*/true)));
  }
  // Metadata only, every value type (the tensor directory empty).
  {
    std::vector<GgufMetadataEntry> meta = {{"general.architecture", GgufStr("llama")}};
    GgufValue v;
    for (auto t : {GgufValueType::kUint8, GgufValueType::kInt8, GgufValueType::kUint16, GgufValueType::kInt16,
                   GgufValueType::kInt64, GgufValueType::kFloat64}) {
      v = GgufValue();
      v.type = t;
      v.i = 7;
      v.f = 0.5;
      meta.push_back({std::string("test.") + GgufValueTypeName(t), v});
    }
    GgufValue nested;
    nested.type = GgufValueType::kArray;
    nested.array_type = GgufValueType::kArray;
    nested.array = {GgufI32Array({1, 2}), GgufI32Array({3})};
    meta.push_back({"test.nested", nested});
    meta.push_back({"test.bool", GgufBool(false)});
    Put("gguf", "metadata-only.gguf", GgufBytes(meta, {}));
  }
  // The real SmolLM2 file's metadata, its vocabulary cut to 300 tokens (and
  // the merges to those among them), over a tiny model.
  if (auto real = FindAsset("models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")) {
    auto g = GgufFile::Open(*real);
    if (!g.ok()) {
      std::fprintf(stderr, "fuzz_seeds: %s\n", g.status().ToString().c_str());
      std::exit(1);
    }
    constexpr int64_t kVocab = 300;
    ModelConfig c = GgufLlama();
    c.vocab_size = kVocab;
    c.tie_word_embeddings = true;
    ModelWeights w = testing::RandomWeights(c, 4);
    std::vector<GgufMetadataEntry> meta;
    std::set<std::string> kept;
    for (const std::string& key : g->keys()) {
      if (key.rfind("llama.", 0) == 0) continue;  // the tiny model's own shape keys replace these
      GgufValue v = *g->Find(key);
      if (key == "tokenizer.ggml.tokens")
        for (int64_t i = 0; i < kVocab; ++i) kept.insert(v.array[static_cast<size_t>(i)].s);
      if (v.type == GgufValueType::kArray && key != "tokenizer.ggml.merges" &&
          v.array.size() > static_cast<size_t>(kVocab))
        v.array.resize(static_cast<size_t>(kVocab));
      meta.push_back({key, v});
    }
    for (auto& e : meta) {
      if (e.key == "tokenizer.ggml.merges") {
        std::vector<GgufValue> merges;
        for (const auto& m : e.value.array) {
          const size_t sp = m.s.find(' ', 1);
          if (sp == std::string::npos) continue;
          const std::string a = m.s.substr(0, sp), b = m.s.substr(sp + 1);
          if (kept.count(a) && kept.count(b) && kept.count(a + b)) merges.push_back(m);
        }
        e.value.array = merges;
      }
    }
    for (const auto& [k, v] : ModelMetadata(c)) {
      bool replaced = false;
      for (auto& e : meta)
        if (e.key == k) e.value = v, replaced = true;
      if (!replaced) meta.push_back({k, v});
    }
    Put("gguf", "smollm2-metadata-tiny-model.gguf", GgufBytes(meta, GgufTensors(w, q8)));
  }
}

// --- safetensors / config.json ----------------------------------------------

void HfSeeds() {
  struct Case {
    Architecture arch;
    TensorDtype dtype;
    uint64_t shard_bytes;
  };
  const Case cases[] = {{Architecture::kLlama, TensorDtype::kF32, 0},
                        {Architecture::kLlama, TensorDtype::kBF16, 2048},
                        {Architecture::kOpt, TensorDtype::kF16, 0},
                        {Architecture::kGpt2, TensorDtype::kBF16, 0},
                        {Architecture::kNeox, TensorDtype::kF32, 0}};
  int n = 0;
  for (const Case& k : cases) {
    ModelConfig c = SmallConfig(k.arch, 24);
    c.hidden_size = 16;
    c.head_dim = 8;
    c.intermediate_size = 24;
    if (c.rope_layout != RopeLayout::kNone) c.rotary_dim = k.arch == Architecture::kLlama ? 8 : 4;
    ModelWeights w = testing::RandomWeights(c, 10 + n);
    auto config = HfConfigToJson(c);
    if (!config.ok()) {
      std::fprintf(stderr, "fuzz_seeds: %s\n", config.status().ToString().c_str());
      std::exit(1);
    }
    const std::string tag = std::string(ArchitectureName(k.arch)) + "-" + TensorDtypeName(k.dtype);
    Put("hf_config", tag + ".json", *config);
    const std::string dir = Scratch() + "/hf-" + std::to_string(n++);
    HfWriteOptions o;
    o.dtype = k.dtype;
    o.max_shard_bytes = k.shard_bytes;
    o.metadata["config"] = *config;  // safetensors_fuzz loads the file as a model directory with it
    Status s = WriteHuggingFaceCheckpoint(w, dir, o);
    if (!s.ok()) {
      std::fprintf(stderr, "fuzz_seeds: %s\n", s.ToString().c_str());
      std::exit(1);
    }
    for (const auto& e : fs::directory_iterator(dir)) {
      const std::string name = e.path().filename().string();
      if (name.size() > 12 && name.substr(name.size() - 12) == ".safetensors") Put("safetensors", tag + "-" + name, Slurp(e.path().string()));
    }
  }
  // Dtypes the reader maps but cannot convert, empty shapes, metadata only.
  Put("safetensors", "mixed-dtypes.safetensors", [] {
    const std::string header =
        R"({"__metadata__":{"format":"pt"},"a":{"dtype":"I64","shape":[2],"data_offsets":[0,16]},)"
        R"("b":{"dtype":"F32","shape":[],"data_offsets":[16,20]},"c":{"dtype":"U8","shape":[0],"data_offsets":[20,20]},)"
        R"("d":{"dtype":"F8_E4M3","shape":[2,2],"data_offsets":[20,24]}})";
    std::string s(8, '\0');
    for (int i = 0; i < 8; ++i) s[i] = static_cast<char>((header.size() >> (8 * i)) & 0xff);
    return s + header + std::string(24, '\x01');
  }());
  if (auto real = FindAsset("tokenizers/smollm2/config.json")) Put("hf_config", "smollm2-config.json", Slurp(*real));
  Put("hf_config", "llama-defaults.json",
      R"({"model_type":"llama","hidden_size":64,"intermediate_size":96,"num_hidden_layers":2,)"
      R"("num_attention_heads":4,"vocab_size":101,"rope_scaling":null,"eos_token_id":[2,3],"pad_token_id":null,)"
      R"("max_position_embeddings":2048.0})");
}

// --- llama2.c ------------------------------------------------------------------

void Llama2cSeeds() {
  ModelConfig c = SmallConfig(Architecture::kLlama, 24);
  c.hidden_size = 16;
  c.head_dim = 8;
  c.rotary_dim = 8;
  c.intermediate_size = 24;
  c.rope_layout = RopeLayout::kInterleaved;
  for (bool tied : {true, false}) {
    c.tie_word_embeddings = tied;
    ModelWeights w = testing::RandomWeights(c, tied ? 20 : 21);
    for (int version : {0, 1, 2}) {
      const std::string path = Scratch() + "/l2c.bin";
      Status s = WriteLlama2c(w, path, version);
      if (!s.ok()) {
        std::fprintf(stderr, "fuzz_seeds: %s\n", s.ToString().c_str());
        std::exit(1);
      }
      Put("llama2c", std::string("v") + std::to_string(version) + (tied ? "-shared" : "-unshared") + ".bin", Slurp(path));
    }
  }
  if (auto real = FindAsset("models/stories260K/stories260K.bin")) Put("llama2c", "stories260K-head.bin", Slurp(*real).substr(0, 1024));
  if (auto real = FindAsset("models/stories260K/tok512.bin")) Put("llama2c_tokenizer", "tok512.bin", Slurp(*real));
  std::string tok;
  auto put32 = [&](int32_t v) { tok.append(reinterpret_cast<const char*>(&v), 4); };
  put32(8);
  int i = 0;
  for (const char* p : {"<unk>", "\n<s>\n", "\n</s>\n", " ", "a", "b", " a", "ab", " ab", "\xc3\xa9"}) {
    const float score = -static_cast<float>(i++);
    tok.append(reinterpret_cast<const char*>(&score), 4);
    put32(static_cast<int32_t>(std::strlen(p)));
    tok += p;
  }
  Put("llama2c_tokenizer", "tiny.bin", tok);
}

// --- tokenizer.json -------------------------------------------------------------

void TokenizerJsonSeeds() {
  Put("tokenizer_json", "minimal.json",
      R"({"version":"1.0","added_tokens":[{"id":0,"content":"<|endoftext|>","special":true}],)"
      R"("normalizer":null,"pre_tokenizer":{"type":"ByteLevel","add_prefix_space":false,"use_regex":true},)"
      R"("post_processor":null,"decoder":{"type":"ByteLevel"},"model":{"type":"BPE","unk_token":null,)"
      R"("vocab":{"<|endoftext|>":0,"a":1,"b":2,"ab":3,"\u0120":4,"\u0120ab":5},"merges":["a b",["\u0120","ab"]]}})");
  Put("tokenizer_json", "split-digits-template.json",
      R"({"added_tokens":[{"id":0,"content":"<s>","special":true,"lstrip":true},{"id":6,"content":"<x>","special":false,"rstrip":true}],)"
      R"("pre_tokenizer":{"type":"Sequence","pretokenizers":[{"type":"Digits","individual_digits":true},)"
      R"({"type":"Split","pattern":{"Regex":"\\s+"},"behavior":"MergedWithNext","invert":false},)"
      R"({"type":"Split","pattern":{"String":"-"},"behavior":"Removed"},{"type":"ByteLevel","add_prefix_space":true}]},)"
      R"("post_processor":{"type":"TemplateProcessing","single":[{"SpecialToken":{"id":"<s>","type_id":0}},{"Sequence":{"id":"A","type_id":0}}]},)"
      R"("decoder":{"type":"ByteLevel"},"model":{"type":"BPE","ignore_merges":true,)"
      R"("vocab":{"<s>":0,"1":1,"2":2,"12":3,"\u0120":4,"\u01201":5},"merges":["1 2","\u0120 1"]}})");
  // The real SmolLM2 tokenizer.json with its vocabulary cut to 400 tokens.
  if (auto real = FindAsset("tokenizers/smollm2/tokenizer.json")) {
    nlohmann::ordered_json j = nlohmann::ordered_json::parse(Slurp(*real));
    constexpr int kVocab = 400;
    nlohmann::ordered_json vocab = nlohmann::ordered_json::object();
    for (auto it = j["model"]["vocab"].begin(); it != j["model"]["vocab"].end(); ++it)
      if (it.value().get<int>() < kVocab) vocab[it.key()] = it.value();
    nlohmann::ordered_json merges = nlohmann::ordered_json::array();
    for (const auto& m : j["model"]["merges"]) {
      std::string a, b;
      if (m.is_string()) {
        const std::string s = m.get<std::string>();
        const size_t sp = s.find(' ');
        if (sp == std::string::npos) continue;
        a = s.substr(0, sp), b = s.substr(sp + 1);
      } else {
        a = m[0].get<std::string>(), b = m[1].get<std::string>();
      }
      if (vocab.contains(a) && vocab.contains(b) && vocab.contains(a + b)) merges.push_back(m);
    }
    j["model"]["vocab"] = vocab;
    j["model"]["merges"] = merges;
    nlohmann::ordered_json added = nlohmann::ordered_json::array();
    for (const auto& a : j["added_tokens"])
      if (a["id"].get<int>() < kVocab) added.push_back(a);
    j["added_tokens"] = added;
    Put("tokenizer_json", "smollm2-400.json", j.dump());
  }
}

// --- wire ------------------------------------------------------------------------

template <typename M>
std::string Ser(const M& m) {
  return m.SerializeAsString();
}

void WireSeeds() {
  using fuzz::WireInput;
  using fuzz::WireKind;
  // Contexts v % 5: feedsign, zo-fedsgd, fedkseed, fedkseed-pro, decomfl (fuzz/wire_fuzz.h);
  // + 5*15 + 80*2: K = 16, tau = 3; decomfl + 5*2 + 20*1: P = 3, K = 2.
  for (uint8_t ctx : {uint8_t(0), uint8_t(1), uint8_t(2 + 5 * 15 + 80 * 2), uint8_t(3 + 5 * 15 + 80 * 2),
                      uint8_t(4 + 5 * 2 + 20 * 1)}) {
    const RunSpec spec = fuzz::WireContext(ctx);
    const std::string tag = std::string(FedAlgorithmName(spec.fed.algo));
    wire::RunConfig rc;
    RunSpec with_rule = spec;
    if (spec.fed.algo == FedAlgorithm::kZoFedSgd) {
      with_rule.aggregate = "trimmed:0.2";
      with_rule.fed.rule = ScalarRule::kTrimmedMean;
    }
    ToWire(with_rule, &rc);
    Put("wire", tag + "-run-config", WireInput(WireKind::kRunConfig, ctx, Ser(rc)));

    RoundPlan plan;
    plan.round = 3;
    plan.participants = {0, 2, 5};
    plan.step_seed = 99;
    if (spec.fed.algo == FedAlgorithm::kFedKSeedPro) plan.seed_probabilities.assign(FedKSeedNumSeeds(spec.fed), 1.0f / 16);
    wire::RoundPlan wp;
    ToWire(plan, &wp);
    Put("wire", tag + "-plan", WireInput(WireKind::kRoundPlan, ctx, Ser(wp)));

    ClientReply reply;
    reply.client = 2;
    reply.round = 3;
    reply.loss = 0.7;
    if (spec.fed.algo == FedAlgorithm::kFeedSign) reply.sign = -1;
    if (spec.fed.algo == FedAlgorithm::kZoFedSgd) reply.scalar = 0.25f;
    if (IsFedKSeed(spec.fed.algo)) reply.pairs = {{3, 0.5f}, {15, -1.25f}, {0, 2.0f}};
    if (spec.fed.algo == kDeComFl) reply.scalars = {0.5f, -1.25f, 2.0f, 0.0f, -3.5f, 1e-3f};
    wire::SubmitReplyRequest wr;
    ToWire(reply, &wr);
    Put("wire", tag + "-reply", WireInput(WireKind::kSubmitReply, ctx, Ser(wr)));

    const auto candidates =
        IsFedKSeed(spec.fed.algo) ? FedKSeedCandidates(spec.fed.seed, FedKSeedNumSeeds(spec.fed)) : std::vector<uint64_t>{};
    LedgerRecord rec;
    rec.round = 3;
    rec.participants = {0, 2, 5};
    rec.has_fingerprint = true;
    rec.fingerprint = 0x0123456789abcdefull;
    if (!candidates.empty()) {
      rec.updates = {{candidates[3], 0.5f, 1.0f}, {candidates[15], -0.25f, 1.0f}};
    } else {
      rec.updates = {{12345, -1e-3f, 1.0f}, {777, 2e-3f, 0.999f}};
    }
    wire::RoundRecord wrec;
    ToWire(rec, candidates, &wrec);
    Put("wire", tag + "-record", WireInput(WireKind::kRoundRecord, ctx, Ser(wrec)));
    wire::FetchUpdatesResponse fetch;
    *fetch.add_records() = wrec;
    rec.round = 4;
    rec.has_fingerprint = false;
    rec.fingerprint = 0;
    ToWire(rec, {}, fetch.add_records());
    fetch.set_completed_round(4);
    Put("wire", tag + "-fetch", WireInput(WireKind::kFetchUpdates, ctx, Ser(fetch)));
  }
  const uint8_t k16 = 2 + 4 * 15;
  Put("wire", "unpack-updates", WireInput(WireKind::kUnpackUpdates, 0, PackUpdates({{1, 0.5f, 1.0f}, {2, -2.0f, 0.75f}})));
  Put("wire", "seed-scalars", WireInput(WireKind::kSeedScalars, k16, EncodeSeedScalars({{0, 1.0f}, {15, -0.5f}})));
  std::vector<double> delta(16, 0.0);
  std::vector<char> changed(16, 0);
  delta[4] = 0.5, changed[4] = 1;
  Put("wire", "round-deltas-sparse", WireInput(WireKind::kRoundDeltas, k16, EncodeRoundDeltas(delta, changed)));
  for (int j = 0; j < 16; ++j) delta[j] = 0.125 * j, changed[j] = 1;
  Put("wire", "round-deltas-dense", WireInput(WireKind::kRoundDeltas, k16, EncodeRoundDeltas(delta, changed)));

  PeerRunSpec ps;
  ps.onebyte.iterations = 5;
  ps.onebyte.samples = fuzz::kPeerSamples;
  ps.onebyte.seed = 9;
  ps.data.clients = fuzz::kPeerClients;
  ps.data.seed = 9;
  ps.data.partition = "iid";
  ps.base_fingerprint = "fedcba9876543210";
  ps.founder_id = 0;
  ps.founder_address = "localhost:7000";
  pwire::PeerRunConfig prc;
  ToWire(ps, &prc);
  Put("wire", "peer-run-config", WireInput(WireKind::kPeerRunConfig, 0, Ser(prc)));

  pwire::GetHistoryResponse h;
  {
    auto* e = h.add_entries();
    e->set_iteration(0);
    auto* c = e->add_contributions();
    c->set_iteration(0);
    c->set_machine(0);
    auto* j = c->add_joins();
    j->set_id(3);
    j->set_address("peer3:7003");
  }
  {
    auto* e = h.add_entries();
    e->set_iteration(1);
    for (int m : {0, 3}) {
      auto* c = e->add_contributions();
      c->set_iteration(1);
      c->set_machine(m);
      c->set_bytes(std::string("\x01\x7f\x80", fuzz::kPeerSamples));
      if (m == 3) c->set_last(true);
    }
  }
  h.set_completed_iteration(1);
  Put("wire", "peer-history", WireInput(WireKind::kPeerHistory, 0, Ser(h)));
}

}  // namespace
}  // namespace seedtune

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s OUT_DIR\n", argv[0]);
    return 2;
  }
  seedtune::g_out = argv[1];
  seedtune::GgufSeeds();
  seedtune::HfSeeds();
  seedtune::Llama2cSeeds();
  seedtune::TokenizerJsonSeeds();
  seedtune::WireSeeds();
  std::error_code ec;
  std::filesystem::remove_all(seedtune::Scratch(), ec);
  std::printf("fuzz_seeds: wrote %d seeds under %s\n", seedtune::g_written, argv[1]);
  return 0;
}
