#include <cmath>
#include <span>
#include <utility>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "core/assets.h"
#include "core/mapped_file.h"
#include "formats/checkpoint.h"
#include "formats/llama2c.h"
#include "support/fixtures.h"

namespace seedtune {
namespace {

namespace fs = std::filesystem;
using ::seedtune::testing::ConfigsEqual;
using ::seedtune::testing::MakeTempDir;
using ::seedtune::testing::RandomWeights;
using ::seedtune::testing::TinyConfig;
using ::seedtune::testing::WeightsEqual;

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

ModelConfig Llama2cTiny(bool tied) {
  ModelConfig c = TinyConfig(Architecture::kLlama);
  c.rope_layout = RopeLayout::kInterleaved;
  c.tie_word_embeddings = tied;
  return c;
}

// A very small model, so that truncating at every byte offset is cheap.
ModelConfig Llama2cMicro(bool tied) {
  ModelConfig c = Llama2cTiny(tied);
  c.hidden_size = 8;
  c.intermediate_size = 12;
  c.num_layers = 1;
  c.num_heads = 2;
  c.num_kv_heads = 1;
  c.head_dim = 4;
  c.rotary_dim = 4;
  c.vocab_size = 7;
  c.max_positions = 4;
  return c;
}

// What export.py's Q8_0 round trip gives, computed independently of the writer.
ModelWeights QuantizedCopy(const ModelWeights& w, int64_t group) {
  ModelWeights q = w.Clone();
  for (size_t i = 0; i < q.num_tensors(); ++i) {
    if (q.specs()[i].role == TensorRole::kNormWeight) continue;
    auto t = q.tensor(i);
    for (size_t g = 0; g < t.size(); g += static_cast<size_t>(group)) {
      float m = 0.0f;
      for (int64_t k = 0; k < group; ++k) m = std::max(m, std::fabs(t[g + k]));
      const float s = m / 127.0f;
      for (int64_t k = 0; k < group; ++k) t[g + k] = static_cast<float>(static_cast<int>(std::round(t[g + k] / s))) * s;
    }
  }
  return q;
}

class Llama2cRoundTripTest : public ::testing::TestWithParam<std::tuple<int, bool>> {};

TEST_P(Llama2cRoundTripTest, WriteThenLoad) {
  const auto [version, tied] = GetParam();
  const ModelWeights w = RandomWeights(Llama2cTiny(tied), 100 + version * 2 + tied);
  const std::string path = MakeTempDir("l2c-rt") + "/model.bin";
  ASSERT_TRUE(WriteLlama2c(w, path, version).ok());

  // Header facts read independently.
  const std::string bytes = *ReadFileToString(path);
  int32_t h[9];
  std::memcpy(h, bytes.data(), sizeof(h));
  if (version == 0) {
    EXPECT_EQ(h[0], 64);
    EXPECT_EQ(h[5], tied ? 101 : -101);
  } else {
    EXPECT_EQ(static_cast<uint32_t>(h[0]), 0x616b3432u);
    EXPECT_EQ(h[1], version);
    EXPECT_EQ(h[2], 64);
    EXPECT_EQ(h[7], 101);
    EXPECT_EQ(static_cast<uint8_t>(bytes[36]), tied ? 1 : 0);
    if (version == 2) {
      int32_t gs;
      std::memcpy(&gs, bytes.data() + 37, 4);
      EXPECT_EQ(gs, 64);
    }
  }

  // A few tensors found at offsets computed here from the format description.
  if (version > 0) {
    const int64_t L = 2, d = 64, v = 101, kv = 32, f = 96;
    const uint64_t norms = 256 + 4 * (2 * L * d + d);  // attention norms, ffn norms, final norm
    const size_t emb = *w.table().Find("model.embed_tokens.weight");
    const size_t ffn1 = *w.table().Find("model.layers.1.post_attention_layernorm.weight");
    const size_t gate0 = *w.table().Find("model.layers.0.mlp.gate_proj.weight");
    const size_t up1 = *w.table().Find("model.layers.1.mlp.up_proj.weight");
    float x;
    std::memcpy(&x, bytes.data() + 256 + 4 * (L * d + d), 4);
    EXPECT_EQ(x, w.data(ffn1)[0]);
    if (version == 1) {
      std::memcpy(&x, bytes.data() + norms, 4);
      EXPECT_EQ(x, w.data(emb)[0]);
      const uint64_t gate_at = norms + 4 * (v * d + L * (d * d + 2 * kv * d + d * d));
      std::memcpy(&x, bytes.data() + gate_at, 4);
      EXPECT_EQ(x, w.data(gate0)[0]);
      const uint64_t up1_last = gate_at + 4 * (2 * L * f * d + 2 * f * d - 1);
      std::memcpy(&x, bytes.data() + up1_last, 4);
      EXPECT_EQ(x, w.data(up1)[f * d - 1]);
    } else {
      // Embedding: v*d int8 then v*d/64 scales; element 0 = q[0] * scale[0].
      float scale;
      std::memcpy(&scale, bytes.data() + norms + v * d, 4);
      const float e0 = static_cast<float>(static_cast<int8_t>(bytes[norms])) * scale;
      EXPECT_NEAR(e0, w.data(emb)[0], scale * 0.5f + 1e-9f);
      EXPECT_EQ(bytes.size(),
                norms + (v * d + v * d / 16) * (tied ? 1 : 2) +
                    L * (d * d + kv * d * 2 + d * d + 3 * f * d) * (1 + 4 / 64.0));
    }
  }

  auto loaded = LoadModel(path);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  ModelConfig expected_config = w.config();
  EXPECT_TRUE(ConfigsEqual(expected_config, loaded->config()));
  if (version < 2) {
    EXPECT_TRUE(WeightsEqual(w, *loaded));
  } else {
    EXPECT_TRUE(WeightsEqual(QuantizedCopy(w, 64), *loaded));
    // Quantization error is at most half a step.
    for (size_t i = 0; i < w.num_tensors(); ++i) {
      std::span<const float> a = w.tensor(i), b = std::as_const(*loaded).tensor(i);
      for (size_t j = 0; j < a.size(); ++j) ASSERT_LE(std::fabs(a[j] - b[j]), 0.05f / 127 * 0.5f * 1.0001f);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Versions, Llama2cRoundTripTest,
                         ::testing::Combine(::testing::Values(0, 1, 2), ::testing::Bool()),
                         [](const auto& info) {
                           return fmt::format("v{}_{}", std::get<0>(info.param),
                                              std::get<1>(info.param) ? "shared" : "unshared");
                         });

TEST(Llama2cTest, ExplicitGroupSize) {
  const ModelWeights w = RandomWeights(Llama2cTiny(false), 7);
  const std::string path = MakeTempDir("l2c-gs") + "/m.bin";
  ASSERT_TRUE(WriteLlama2c(w, path, 2, 32).ok());
  auto loaded = LoadModel(path);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_TRUE(WeightsEqual(QuantizedCopy(w, 32), *loaded));
  EXPECT_EQ(WriteLlama2c(w, path, 2, 48).code(), StatusCode::kInvalidArgument);
}

TEST(Llama2cTest, WriterPreconditions) {
  const std::string dir = MakeTempDir("l2c-pre");
  const ModelWeights rh = RandomWeights(TinyConfig(Architecture::kLlama), 1);  // rotate-half
  EXPECT_EQ(WriteLlama2c(rh, dir + "/a.bin", 0).code(), StatusCode::kFailedPrecondition);
  const ModelWeights opt = RandomWeights(TinyConfig(Architecture::kOpt), 1);
  EXPECT_EQ(WriteLlama2c(opt, dir + "/b.bin", 1).code(), StatusCode::kFailedPrecondition);
  ModelConfig theta = Llama2cTiny(true);
  theta.rope_theta = 500000.0f;
  EXPECT_EQ(WriteLlama2c(RandomWeights(theta, 1), dir + "/c.bin", 0).code(), StatusCode::kFailedPrecondition);
  ModelConfig bias = Llama2cTiny(true);
  bias.attention_bias = true;
  EXPECT_EQ(WriteLlama2c(RandomWeights(bias, 1), dir + "/d.bin", 0).code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(WriteLlama2c(RandomWeights(Llama2cTiny(true), 1), dir + "/e.bin", 3).code(), StatusCode::kInvalidArgument);
  EXPECT_FALSE(fs::exists(dir + "/a.bin"));
}

// --- stories260K (a real llama2.c v0 export) -------------------------------

std::vector<float> RawFloats(const std::string& path, uint64_t offset, size_t n) {
  std::ifstream in(path, std::ios::binary);
  in.seekg(static_cast<std::streamoff>(offset));
  std::vector<float> v(n);
  in.read(reinterpret_cast<char*>(v.data()), static_cast<std::streamsize>(n * 4));
  EXPECT_TRUE(in.good());
  return v;
}

TEST(Llama2cTest, Stories260KLoads) {
  const auto path = FindAsset("models/stories260K/stories260K.bin");
  if (!path) GTEST_SKIP() << "models/stories260K/stories260K.bin not found";
  auto reader = OpenLlama2cCheckpoint(*path);
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  const ModelConfig& c = (*reader)->config();
  EXPECT_EQ(c.arch, Architecture::kLlama);
  EXPECT_EQ(c.hidden_size, 64);
  EXPECT_EQ(c.intermediate_size, 172);
  EXPECT_EQ(c.num_layers, 5);
  EXPECT_EQ(c.num_heads, 8);
  EXPECT_EQ(c.num_kv_heads, 4);
  EXPECT_EQ(c.head_dim, 8);
  EXPECT_EQ(c.rotary_dim, 8);
  EXPECT_EQ(c.vocab_size, 512);
  EXPECT_EQ(c.max_positions, 512);
  EXPECT_TRUE(c.tie_word_embeddings);
  EXPECT_EQ(c.rope_layout, RopeLayout::kInterleaved);
  EXPECT_FLOAT_EQ(c.rope_theta, 10000.0f);
  EXPECT_FLOAT_EQ(c.norm_eps, 1e-5f);
  EXPECT_EQ(c.bos_token_id, 1);
  EXPECT_EQ(c.eos_token_id, 2);
  EXPECT_EQ(c.name, "stories260K");

  auto w = ModelWeights::Allocate(c);
  ASSERT_TRUE(w.ok());
  for (size_t i = 0; i < w->num_tensors(); ++i)
    ASSERT_TRUE((*reader)->ReadTensor(w->specs()[i], w->data(i)).ok()) << w->specs()[i].name;
  EXPECT_EQ((*reader)->UnusedTensors(), (std::vector<std::string>{"freq_cis_real", "freq_cis_imag"}));
  EXPECT_TRUE(w->CheckFinite().ok());

  // Offsets (in floats after the 28-byte header), from run.c's layout:
  // embedding 512*64 = 32768, rms_att 5*64 = 320, wq 5*64*64 = 20480,
  // wk 5*32*64 = 10240, wv 10240, wo 20480, rms_ffn 320, w1/w2/w3 5*172*64 = 55040 each,
  // rms_final 64, freq_cis 2 * 512*4.
  const uint64_t kEmb = 0, kWq = 32768 + 320, kW2 = kWq + 20480 + 10240 + 10240 + 20480 + 320 + 55040,
                 kFinal = kW2 + 2 * 55040, kFreq = kFinal + 64;
  const size_t emb = *w->table().Find("model.embed_tokens.weight");
  auto first = RawFloats(*path, 28 + 4 * kEmb, 4);
  auto last = RawFloats(*path, 28 + 4 * (kEmb + 32768 - 4), 4);
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(w->tensor(emb)[i], first[i]);
    EXPECT_EQ(w->tensor(emb)[32768 - 4 + i], last[i]);
  }
  EXPECT_NE(first[0], 0.0f);
  const size_t k1 = *w->table().Find("model.layers.1.self_attn.k_proj.weight");
  EXPECT_EQ(w->tensor(k1)[0], RawFloats(*path, 28 + 4 * (kWq + 20480 + 2048), 1)[0]);
  const size_t v0 = *w->table().Find("model.layers.0.self_attn.v_proj.weight");
  EXPECT_EQ(w->tensor(v0)[5], RawFloats(*path, 28 + 4 * (kWq + 20480 + 10240 + 5), 1)[0]);
  const size_t gate0 = *w->table().Find("model.layers.0.mlp.gate_proj.weight");  // w1
  EXPECT_EQ(w->tensor(gate0)[0], RawFloats(*path, 28 + 4 * (kW2 - 55040), 1)[0]);
  const size_t up0 = *w->table().Find("model.layers.0.mlp.up_proj.weight");  // w3
  EXPECT_EQ(w->tensor(up0)[0], RawFloats(*path, 28 + 4 * (kW2 + 55040), 1)[0]);
  const size_t ffn_norm2 = *w->table().Find("model.layers.2.post_attention_layernorm.weight");
  EXPECT_EQ(w->tensor(ffn_norm2)[0], RawFloats(*path, 28 + 4 * (kW2 - 55040 - 320 + 128), 1)[0]);
  const size_t q0 = *w->table().Find("model.layers.0.self_attn.q_proj.weight");
  EXPECT_EQ(w->tensor(q0)[0], RawFloats(*path, 28 + 4 * kWq, 1)[0]);
  const size_t down4 = *w->table().Find("model.layers.4.mlp.down_proj.weight");
  EXPECT_EQ(w->tensor(down4)[55040 / 5 - 1], RawFloats(*path, 28 + 4 * (kW2 + 55040 - 1), 1)[0]);
  const size_t fin = *w->table().Find("model.norm.weight");
  auto final_norm = RawFloats(*path, 28 + 4 * kFinal, 64);
  for (int i = 0; i < 64; ++i) EXPECT_EQ(w->tensor(fin)[i], final_norm[i]);
  // The RoPE table export.py wrote: cos(pos / 10000^(2i/8)); e.g. pos 1, i 0 -> cos(1).
  auto freq = RawFloats(*path, 28 + 4 * kFreq, 8);
  EXPECT_FLOAT_EQ(freq[0], 1.0f);
  EXPECT_NEAR(freq[4], std::cos(1.0), 1e-6);
  EXPECT_NEAR(freq[5], std::cos(0.1), 1e-6);
}

TEST(Llama2cTest, Stories260KRewritesAsV0AndOtherVersions) {
  const auto path = FindAsset("models/stories260K/stories260K.bin");
  if (!path) GTEST_SKIP() << "models/stories260K/stories260K.bin not found";
  auto w = LoadModel(*path);
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  const std::string dir = MakeTempDir("l2c-stories");
  ASSERT_TRUE(WriteLlama2c(*w, dir + "/v0.bin", 0).ok());
  const std::string original = *ReadFileToString(*path);
  const std::string rewritten = *ReadFileToString(dir + "/v0.bin");
  ASSERT_EQ(original.size(), rewritten.size());
  // Identical bytes up to the freq_cis tables; those agree to float rounding.
  const size_t freq_begin = 28 + 4 * 260032, freq_end = freq_begin + 4 * 4096;
  EXPECT_EQ(original.compare(0, freq_begin, rewritten, 0, freq_begin), 0);
  for (size_t off = freq_begin; off < freq_end; off += 4) {
    float a, b;
    std::memcpy(&a, original.data() + off, 4);
    std::memcpy(&b, rewritten.data() + off, 4);
    ASSERT_NEAR(a, b, 2e-6) << "freq_cis float " << (off - freq_begin) / 4;
  }
  for (int v : {1, 2}) {
    const std::string p = dir + "/v" + std::to_string(v) + ".bin";
    ASSERT_TRUE(WriteLlama2c(*w, p, v).ok());
    auto back = LoadModel(p);
    ASSERT_TRUE(back.ok()) << back.status().ToString();
    if (v == 1) {
      EXPECT_TRUE(WeightsEqual(*w, *back));
    } else {
      EXPECT_TRUE(WeightsEqual(QuantizedCopy(*w, 64), *back));
    }
  }
}

TEST(Llama2cTest, Stories260KTruncatedReportsExpectedAndActualSize) {
  const auto path = FindAsset("models/stories260K/stories260K.bin");
  if (!path) GTEST_SKIP() << "models/stories260K/stories260K.bin not found";
  const std::string original = *ReadFileToString(*path);
  ASSERT_EQ(original.size(), 1056540u);
  const std::string cut = MakeTempDir("l2c-stories-cut") + "/cut.bin";
  for (size_t n : {size_t{28}, size_t{1000}, original.size() / 2, original.size() - 4, original.size() - 1}) {
    ASSERT_TRUE(WriteStringToFile(cut, original.substr(0, n)).ok());
    auto r = LoadModel(cut);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), StatusCode::kDataLoss) << r.status().ToString();
    EXPECT_TRUE(Contains(r.status().message(), "1056540")) << r.status().ToString();
    EXPECT_TRUE(Contains(r.status().message(), std::to_string(n) + " bytes")) << r.status().ToString();
    EXPECT_TRUE(Contains(r.status().message(), cut)) << r.status().ToString();
  }
  ASSERT_TRUE(WriteStringToFile(cut, original + std::string(4, '\0')).ok());
  auto r = LoadModel(cut);
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << r.status().ToString();
  EXPECT_TRUE(Contains(r.status().message(), "trailing")) << r.status().ToString();
}

// --- malformed files -------------------------------------------------------

TEST(Llama2cTest, TruncationAtEveryOffsetIsAnError) {
  const std::string dir = MakeTempDir("l2c-trunc");
  for (int version : {0, 1, 2}) {
    for (bool tied : {false, true}) {
      SCOPED_TRACE(fmt::format("v{} {}", version, tied ? "tied" : "untied"));
      const ModelWeights w = RandomWeights(Llama2cMicro(tied), 3);
      const std::string full_path = dir + "/full.bin";
      ASSERT_TRUE(WriteLlama2c(w, full_path, version).ok());
      auto ok = LoadModel(full_path);
      ASSERT_TRUE(ok.ok()) << ok.status().ToString();
      const std::string full = *ReadFileToString(full_path);
      const std::string path = dir + "/cut.bin";
      ASSERT_TRUE(WriteStringToFile(path, full).ok());
      for (size_t n = full.size(); n-- > 0;) {
        fs::resize_file(path, n);  // shrinking in place: every prefix, no rewrites
        auto r = LoadModel(path);
        ASSERT_FALSE(r.ok()) << "truncated to " << n;
        ASSERT_EQ(r.status().code(), StatusCode::kDataLoss) << r.status().ToString();
        ASSERT_TRUE(Contains(r.status().message(), path)) << r.status().ToString();
        if (n >= (version == 0 ? 28u : 256u)) {
          ASSERT_TRUE(Contains(r.status().message(), std::to_string(full.size()) + " bytes")) << r.status().ToString();
          ASSERT_TRUE(Contains(r.status().message(), std::to_string(n) + " bytes")) << r.status().ToString();
        }
      }
    }
  }
}

std::string V0Header(std::vector<int32_t> p) {
  return std::string(reinterpret_cast<const char*>(p.data()), p.size() * 4);
}

std::string V1Header(int32_t version, std::vector<int32_t> p, uint8_t shared, int32_t group) {
  std::string h(256, '\0');
  const uint32_t magic = 0x616b3432;
  std::memcpy(h.data(), &magic, 4);
  std::memcpy(h.data() + 4, &version, 4);
  std::memcpy(h.data() + 8, p.data(), 28);
  h[36] = static_cast<char>(shared);
  std::memcpy(h.data() + 37, &group, 4);
  return h;
}

TEST(Llama2cTest, RejectsBadHeaders) {
  const std::string dir = MakeTempDir("l2c-header");
  struct Case {
    const char* label;
    std::string bytes;
    StatusCode code;
    const char* mention;
  };
  const std::vector<Case> cases = {
      {"zero dim", V0Header({0, 12, 1, 2, 1, 7, 4}), StatusCode::kInvalidArgument, "dim"},
      {"negative layers", V0Header({8, 12, -1, 2, 1, 7, 4}), StatusCode::kInvalidArgument, "n_layers"},
      {"heads do not divide dim", V0Header({8, 12, 1, 3, 1, 7, 4}), StatusCode::kInvalidArgument, "n_heads"},
      {"kv heads do not divide heads", V0Header({8, 12, 1, 2, 3, 7, 4}), StatusCode::kInvalidArgument, "n_kv_heads"},
      {"odd head dim", V0Header({6, 12, 1, 2, 1, 7, 4}), StatusCode::kInvalidArgument, "even"},
      {"zero seq_len", V0Header({8, 12, 1, 2, 1, 7, 0}), StatusCode::kInvalidArgument, "seq_len"},
      {"huge", V0Header({1 << 30, 1 << 30, 1 << 30, 2, 1, 7, 4}), StatusCode::kInvalidArgument, "large"},
      {"version 3", V1Header(3, {8, 12, 1, 2, 1, 7, 4}, 1, 0), StatusCode::kUnimplemented, "version 3"},
      {"shared flag", V1Header(1, {8, 12, 1, 2, 1, 7, 4}, 2, 0), StatusCode::kInvalidArgument, "shared"},
      {"v2 zero group", V1Header(2, {8, 12, 1, 2, 1, 7, 4}, 1, 0), StatusCode::kInvalidArgument, "group_size"},
      {"v2 group does not divide", V1Header(2, {8, 12, 1, 2, 1, 7, 4}, 1, 5), StatusCode::kInvalidArgument,
       "group_size"},
      {"short v1 header", V1Header(1, {8, 12, 1, 2, 1, 7, 4}, 1, 0).substr(0, 100), StatusCode::kDataLoss, "256"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.label);
    const std::string path = dir + "/h.bin";
    ASSERT_TRUE(WriteStringToFile(path, c.bytes + std::string(c.code == StatusCode::kDataLoss ? 0 : 4096, '\0')).ok());
    auto r = OpenLlama2cCheckpoint(path);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), c.code) << r.status().ToString();
    EXPECT_TRUE(Contains(r.status().message(), c.mention)) << r.status().ToString();
    EXPECT_TRUE(Contains(r.status().message(), path)) << r.status().ToString();
  }
}

TEST(Llama2cTest, NanIsRejectedNamingTensor) {
  ModelWeights w = RandomWeights(Llama2cTiny(true), 9);
  w.data(*w.table().Find("model.layers.1.mlp.up_proj.weight"))[17] = INFINITY;
  const std::string path = MakeTempDir("l2c-nan") + "/nan.bin";
  ASSERT_TRUE(WriteLlama2c(w, path, 1).ok());
  auto r = LoadModel(path);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kDataLoss);
  EXPECT_TRUE(Contains(r.status().message(), "model.layers.1.mlp.up_proj.weight")) << r.status().ToString();
  EXPECT_TRUE(Contains(r.status().message(), path)) << r.status().ToString();
}


// A llama2.c header fixes every tensor of the file, so the only tensors the
// model does not read are the v0 RoPE tables, which are known to be harmless.
TEST(Llama2cTest, TheV0RopeTablesAreTheOnlyIgnorableTensors) {
  const ModelWeights w = RandomWeights(Llama2cMicro(false), 12);
  const std::string dir = MakeTempDir("l2c-unused");
  for (int version : {0, 1, 2}) {
    SCOPED_TRACE(version);
    const std::string path = dir + "/v" + std::to_string(version) + ".bin";
    ASSERT_TRUE(WriteLlama2c(w, path, version, version == 2 ? 4 : 0).ok());
    auto reader = OpenLlama2cCheckpoint(path);
    ASSERT_TRUE(reader.ok()) << reader.status().ToString();
    auto table = BuildTensorTable((*reader)->config());
    ASSERT_TRUE(table.ok());
    for (const TensorSpec& spec : table->specs) ASSERT_TRUE((*reader)->CheckTensor(spec).ok()) << spec.name;
    const std::vector<std::string> rope_tables = {"freq_cis_real", "freq_cis_imag"};
    EXPECT_EQ((*reader)->UnusedTensors(), version == 0 ? rope_tables : std::vector<std::string>());
    EXPECT_TRUE(CheckAllTensorsUsed(**reader).ok());
    EXPECT_TRUE(LoadModel(path).ok());
  }
  const ModelConfig& c = w.config();
  EXPECT_TRUE(IsIgnorableTensor(CheckpointFormat::kLlama2c, c, "freq_cis_real"));
  EXPECT_TRUE(IsIgnorableTensor(CheckpointFormat::kLlama2c, c, "freq_cis_imag"));
  EXPECT_FALSE(IsIgnorableTensor(CheckpointFormat::kLlama2c, c, "model.layers.0.mlp.up_proj.weight"));
  EXPECT_FALSE(IsIgnorableTensor(CheckpointFormat::kGguf, c, "freq_cis_real"));
  EXPECT_FALSE(IsIgnorableTensor(CheckpointFormat::kGguf, c, "rope_freqs.weight"));
}

}  // namespace
}  // namespace seedtune
