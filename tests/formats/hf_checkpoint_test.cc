#include <sys/resource.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/mapped_file.h"
#include "formats/checkpoint.h"
#include "formats/hf_checkpoint.h"
#include "formats/hf_config.h"
#include "formats/safetensors.h"
#include "support/fixtures.h"

namespace seedtune {
namespace {

namespace fs = std::filesystem;
using ::seedtune::testing::ConfigsEqual;
using ::seedtune::testing::MakeTempDir;
using ::seedtune::testing::RandomWeights;
using ::seedtune::testing::TinyConfig;
using ::seedtune::testing::WeightsEqual;
using ::seedtune::testing::WeightsEqualMapped;

const Architecture kArchs[] = {Architecture::kLlama, Architecture::kOpt, Architecture::kGpt2, Architecture::kNeox};

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

std::vector<std::string> ShardFiles(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string n = e.path().filename().string();
    if (n.rfind("model-", 0) == 0) out.push_back(n);
  }
  std::sort(out.begin(), out.end());
  return out;
}

struct Variant {
  const char* label;
  TensorDtype dtype;
  uint64_t shard_bytes;
};
void PrintTo(const Variant& v, std::ostream* os) { *os << v.label; }

class HfRoundTripTest : public ::testing::TestWithParam<std::tuple<Architecture, Variant>> {};

TEST_P(HfRoundTripTest, WriteThenLoad) {
  const auto [arch, variant] = GetParam();
  const ModelConfig config = TinyConfig(arch);
  const ModelWeights w = RandomWeights(config, 1234 + static_cast<int>(arch));
  const std::string dir = MakeTempDir(std::string("hf-rt-") + ArchitectureName(arch) + "-" + variant.label);
  HfWriteOptions opts;
  opts.dtype = variant.dtype;
  opts.max_shard_bytes = variant.shard_bytes;
  opts.metadata["seedtune.note"] = "round trip";
  ASSERT_TRUE(WriteHuggingFaceCheckpoint(w, dir, opts).ok());

  if (variant.shard_bytes > 0) {
    EXPECT_FALSE(fs::exists(dir + "/model.safetensors"));
    ASSERT_TRUE(fs::exists(dir + "/model.safetensors.index.json"));
    const auto shards = ShardFiles(dir);
    EXPECT_GT(shards.size(), 2u);
    auto index = nlohmann::json::parse(*ReadFileToString(dir + "/model.safetensors.index.json"));
    EXPECT_EQ(index.at("weight_map").size(), w.num_tensors());
    uint64_t total = 0;
    for (const auto& s : shards) {
      auto f = SafetensorsFile::Open(dir + "/" + s);
      ASSERT_TRUE(f.ok()) << f.status().ToString();
      for (const auto& t : f->tensors()) total += t.nbytes();
      EXPECT_EQ(f->metadata().at("format"), "pt");
      // A shard exceeds the limit only when it holds one tensor bigger than it.
      uint64_t shard_bytes = 0;
      for (const auto& t : f->tensors()) shard_bytes += t.nbytes();
      if (f->tensors().size() > 1) {
        EXPECT_LE(shard_bytes, variant.shard_bytes) << s;
      }
    }
    EXPECT_EQ(index.at("metadata").at("total_size").get<uint64_t>(), total);
  } else {
    auto f = SafetensorsFile::Open(dir + "/model.safetensors");
    ASSERT_TRUE(f.ok()) << f.status().ToString();
    EXPECT_EQ(f->metadata().at("format"), "pt");
    EXPECT_EQ(f->metadata().at("seedtune.note"), "round trip");
    EXPECT_EQ(f->tensors().size(), w.num_tensors());
    for (const auto& t : f->tensors()) EXPECT_EQ(t.dtype, TensorDtypeName(variant.dtype)) << t.name;
  }

  auto reader = OpenHuggingFaceCheckpoint(dir);
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  EXPECT_TRUE(ConfigsEqual(config, (*reader)->config()));
  auto loaded = LoadModel(dir);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_TRUE(ConfigsEqual(config, loaded->config()));
  const TensorDtype dt = variant.dtype;
  EXPECT_TRUE(WeightsEqualMapped(w, *loaded, [dt](size_t, float v) { return RoundToDtype(v, dt); }));
  if (dt == TensorDtype::kF32) {
    EXPECT_TRUE(WeightsEqual(w, *loaded));
  }

  // Every tensor of the file was consumed.
  std::vector<float> buf;
  for (const auto& spec : loaded->specs()) {
    buf.resize(static_cast<size_t>(spec.numel()));
    ASSERT_TRUE((*reader)->ReadTensor(spec, buf.data()).ok()) << spec.name;
  }
  EXPECT_TRUE((*reader)->UnusedTensors().empty());
}

INSTANTIATE_TEST_SUITE_P(
    AllArchitectures, HfRoundTripTest,
    ::testing::Combine(::testing::ValuesIn(kArchs),
                       ::testing::Values(Variant{"f32", TensorDtype::kF32, 0}, Variant{"f16", TensorDtype::kF16, 0},
                                         Variant{"bf16", TensorDtype::kBF16, 0},
                                         Variant{"sharded", TensorDtype::kF32, 20000},
                                         Variant{"sharded_bf16", TensorDtype::kBF16, 9000})),
    [](const auto& info) {
      return std::string(ArchitectureName(std::get<0>(info.param))) + "_" + std::get<1>(info.param).label;
    });

TEST(HfCheckpointTest, Gpt2Conv1dWeightsAreStoredTransposed) {
  const ModelWeights w = RandomWeights(TinyConfig(Architecture::kGpt2), 7);
  const std::string dir = MakeTempDir("hf-conv1d");
  ASSERT_TRUE(WriteHuggingFaceCheckpoint(w, dir).ok());
  auto f = SafetensorsFile::Open(dir + "/model.safetensors");
  ASSERT_TRUE(f.ok());
  const auto idx = w.table().Find("transformer.h.1.attn.c_attn.weight");
  ASSERT_TRUE(idx.has_value());
  const SafetensorsTensor* t = f->Find("transformer.h.1.attn.c_attn.weight");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->shape, (std::vector<int64_t>{64, 192}));  // [in, out]
  std::vector<float> file(static_cast<size_t>(t->numel()));
  ASSERT_TRUE(f->ReadFloat(*t, file.data()).ok());
  const float* internal = w.data(*idx);  // [out=192, in=64]
  for (int o = 0; o < 192; o += 7)
    for (int i = 0; i < 64; i += 5) ASSERT_EQ(file[i * 192 + o], internal[o * 64 + i]) << o << "," << i;
  // Tied: no lm_head in the file.
  EXPECT_EQ(f->Find("lm_head.weight"), nullptr);
}

// Writes `w` with names transformed by `rename`, plus `extra` tensors, and config.json.
void WriteCustom(const ModelWeights& w, const std::string& dir,
                 const std::function<std::string(const std::string&)>& rename,
                 const std::vector<std::pair<std::string, std::vector<int64_t>>>& extra) {
  std::vector<SafetensorsWriteTensor> ts;
  std::vector<std::vector<float>> storage;
  storage.reserve(w.num_tensors() + extra.size());
  for (size_t i = 0; i < w.num_tensors(); ++i) {
    const TensorSpec& s = w.specs()[i];
    const float* p = w.data(i);
    std::vector<int64_t> shape = s.shape;
    if (s.hf_conv1d) {  // independent transpose to [in, out]
      auto& t = storage.emplace_back(static_cast<size_t>(s.numel()));
      for (int64_t o = 0; o < s.shape[0]; ++o)
        for (int64_t k = 0; k < s.shape[1]; ++k) t[static_cast<size_t>(k * s.shape[0] + o)] = p[o * s.shape[1] + k];
      p = t.data();
      shape = {s.shape[1], s.shape[0]};
    }
    ts.push_back({rename(s.name), shape, TensorDtype::kF32, p});
  }
  for (const auto& [name, shape] : extra) {
    int64_t n = 1;
    for (auto d : shape) n *= d;
    auto& t = storage.emplace_back(static_cast<size_t>(n), 0.5f);
    ts.push_back({name, shape, TensorDtype::kF32, t.data()});
  }
  ASSERT_TRUE(WriteSafetensors(dir + "/model.safetensors", ts, {{"format", "pt"}}).ok());
  ASSERT_TRUE(WriteHfConfig(w.config(), dir + "/config.json").ok());
}

std::string StripPrefix(const std::string& name, const std::string& prefix) {
  return name.rfind(prefix, 0) == 0 ? name.substr(prefix.size()) : name;
}

TEST(HfCheckpointTest, AcceptsPrefixlessOptAndGpt2NamesAndReportsUnused) {
  {
    const ModelWeights w = RandomWeights(TinyConfig(Architecture::kOpt), 11);
    const std::string dir = MakeTempDir("hf-opt-prefix");
    // Tied OPT file that stores lm_head anyway, with "decoder.layers..." names.
    WriteCustom(w, dir, [](const std::string& n) { return StripPrefix(n, "model."); },
                {{"lm_head.weight", {101, 64}}});
    auto reader = OpenHuggingFaceCheckpoint(dir);
    ASSERT_TRUE(reader.ok()) << reader.status().ToString();
    auto loaded = LoadModel(dir);
    ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
    EXPECT_TRUE(WeightsEqual(w, *loaded));
    for (size_t i = 0; i < loaded->num_tensors(); ++i)
      ASSERT_TRUE((*reader)->ReadTensor(loaded->specs()[i], loaded->data(i)).ok());
    EXPECT_TRUE((*reader)->UnusedTensors().empty());  // the tied lm_head copy is expected, not "unused"
  }
  {
    const ModelWeights w = RandomWeights(TinyConfig(Architecture::kGpt2), 12);
    const std::string dir = MakeTempDir("hf-gpt2-prefix");
    // Original gpt2 file layout: "h.0.attn...", "wte.weight", plus attention-mask buffers.
    WriteCustom(w, dir, [](const std::string& n) { return StripPrefix(n, "transformer."); },
                {{"h.0.attn.bias", {1, 1, 64, 64}}, {"h.1.attn.masked_bias", {}}});
    auto reader = OpenHuggingFaceCheckpoint(dir);
    ASSERT_TRUE(reader.ok()) << reader.status().ToString();
    auto loaded = ModelWeights::Allocate((*reader)->config());
    ASSERT_TRUE(loaded.ok());
    for (size_t i = 0; i < loaded->num_tensors(); ++i)
      ASSERT_TRUE((*reader)->ReadTensor(loaded->specs()[i], loaded->data(i)).ok()) << loaded->specs()[i].name;
    EXPECT_TRUE(WeightsEqual(w, *loaded));
    const auto unused = (*reader)->UnusedTensors();
    EXPECT_EQ(unused, (std::vector<std::string>{"h.0.attn.bias", "h.1.attn.masked_bias"}));
  }
  {
    const ModelWeights w = RandomWeights(TinyConfig(Architecture::kLlama), 13);
    const std::string dir = MakeTempDir("hf-llama-invfreq");
    WriteCustom(w, dir, [](const std::string& n) { return n; },
                {{"model.layers.0.self_attn.rotary_emb.inv_freq", {8}}});
    auto reader = OpenHuggingFaceCheckpoint(dir);
    ASSERT_TRUE(reader.ok());
    auto loaded = ModelWeights::Allocate((*reader)->config());
    ASSERT_TRUE(loaded.ok());
    for (size_t i = 0; i < loaded->num_tensors(); ++i)
      ASSERT_TRUE((*reader)->ReadTensor(loaded->specs()[i], loaded->data(i)).ok());
    EXPECT_TRUE(WeightsEqual(w, *loaded));
    EXPECT_EQ((*reader)->UnusedTensors(),
              (std::vector<std::string>{"model.layers.0.self_attn.rotary_emb.inv_freq"}));
  }
}

TEST(HfCheckpointTest, ShapeDisagreeingWithConfigNamesFileAndTensor) {
  const ModelWeights w = RandomWeights(TinyConfig(Architecture::kLlama), 21);
  const std::string dir = MakeTempDir("hf-shape");
  ASSERT_TRUE(WriteHuggingFaceCheckpoint(w, dir).ok());
  ModelConfig other = w.config();
  other.intermediate_size = 80;
  ASSERT_TRUE(WriteHfConfig(other, dir + "/config.json").ok());
  auto loaded = LoadModel(dir);
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.status().code(), StatusCode::kInvalidArgument);
  const std::string& m = loaded.status().message();
  EXPECT_TRUE(Contains(m, dir + "/model.safetensors")) << m;
  EXPECT_TRUE(Contains(m, "model.layers.0.mlp.gate_proj.weight")) << m;
  EXPECT_TRUE(Contains(m, "[96, 64]")) << m;
  EXPECT_TRUE(Contains(m, "[80, 64]")) << m;
  EXPECT_TRUE(Contains(m, "config.json")) << m;

  // GPT-2 Conv1D stored untransposed ([out, in]) is a shape error too.
  const ModelWeights g = RandomWeights(TinyConfig(Architecture::kGpt2), 22);
  const std::string gdir = MakeTempDir("hf-shape-gpt2");
  std::vector<SafetensorsWriteTensor> ts;
  for (size_t i = 0; i < g.num_tensors(); ++i) ts.push_back({g.specs()[i].name, g.specs()[i].shape, TensorDtype::kF32, g.data(i)});
  ASSERT_TRUE(WriteSafetensors(gdir + "/model.safetensors", ts).ok());
  ASSERT_TRUE(WriteHfConfig(g.config(), gdir + "/config.json").ok());
  auto bad = LoadModel(gdir);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(Contains(bad.status().message(), "transformer.h.0.attn.c_attn.weight")) << bad.status().ToString();
  EXPECT_TRUE(Contains(bad.status().message(), "Conv1D")) << bad.status().ToString();
}

long MaxRssKib() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss;
}

TEST(HfCheckpointTest, AConfigDeclaringMoreThanTheFilesHoldFailsBeforeAllocating) {
  // A tiny directory whose config.json declares about 2.7 GB of fp32 weights:
  // the shape error must come before the weights are allocated (and zeroed).
  const ModelWeights w = RandomWeights(TinyConfig(Architecture::kLlama), 24);
  const std::string dir = MakeTempDir("hf-bomb");
  ASSERT_TRUE(WriteHuggingFaceCheckpoint(w, dir).ok());
  ModelConfig huge = w.config();
  huge.hidden_size = 4096;
  huge.head_dim = huge.hidden_size / huge.num_heads;
  huge.intermediate_size = 16384;
  huge.num_layers = 2;
  huge.vocab_size = 32000;
  huge.rotary_dim = huge.head_dim;
  Status wrote = WriteHfConfig(huge, dir + "/config.json");
  ASSERT_TRUE(wrote.ok()) << wrote.ToString();
  const long before = MaxRssKib();
  auto loaded = LoadModel(dir);
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.status().code(), StatusCode::kInvalidArgument) << loaded.status().ToString();
  EXPECT_TRUE(Contains(loaded.status().message(), "model.embed_tokens.weight")) << loaded.status().ToString();
  EXPECT_LT(MaxRssKib() - before, 256 * 1024) << "the declared weights were allocated before the check";
}

TEST(HfCheckpointTest, MissingTensorNamesTensor) {
  const ModelWeights w = RandomWeights(TinyConfig(Architecture::kNeox), 31);
  const std::string dir = MakeTempDir("hf-missing");
  std::vector<SafetensorsWriteTensor> ts;
  for (size_t i = 0; i < w.num_tensors(); ++i)
    if (w.specs()[i].name != "gpt_neox.layers.1.mlp.dense_4h_to_h.bias")
      ts.push_back({w.specs()[i].name, w.specs()[i].shape, TensorDtype::kF32, w.data(i)});
  ASSERT_TRUE(WriteSafetensors(dir + "/model.safetensors", ts).ok());
  ASSERT_TRUE(WriteHfConfig(w.config(), dir + "/config.json").ok());
  auto loaded = LoadModel(dir);
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(Contains(loaded.status().message(), "gpt_neox.layers.1.mlp.dense_4h_to_h.bias"))
      << loaded.status().ToString();
  EXPECT_TRUE(Contains(loaded.status().message(), dir + "/model.safetensors")) << loaded.status().ToString();
}

TEST(HfCheckpointTest, NanIsRejectedNamingTensor) {
  ModelWeights w = RandomWeights(TinyConfig(Architecture::kOpt), 41);
  const size_t idx = *w.table().Find("model.decoder.layers.1.fc1.bias");
  w.data(idx)[5] = std::nanf("");
  const std::string dir = MakeTempDir("hf-nan");
  ASSERT_TRUE(WriteHuggingFaceCheckpoint(w, dir).ok());
  auto loaded = LoadModel(dir);
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.status().code(), StatusCode::kDataLoss);
  EXPECT_TRUE(Contains(loaded.status().message(), "model.decoder.layers.1.fc1.bias")) << loaded.status().ToString();
  EXPECT_TRUE(Contains(loaded.status().message(), dir)) << loaded.status().ToString();
}

TEST(HfCheckpointTest, MissingOrBrokenConfigAndWeights) {
  const ModelWeights w = RandomWeights(TinyConfig(Architecture::kLlama), 51);
  const std::string dir = MakeTempDir("hf-config");
  ASSERT_TRUE(WriteHuggingFaceCheckpoint(w, dir).ok());
  const std::string config_text = *ReadFileToString(dir + "/config.json");

  fs::remove(dir + "/config.json");
  auto r = LoadModel(dir);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(Contains(r.status().message(), dir + "/config.json")) << r.status().ToString();

  // Truncated config.json at every offset: an error naming the file, never a crash.
  ASSERT_TRUE(WriteStringToFile(dir + "/config.json", config_text).ok());
  for (size_t n = config_text.size() - 1; n-- > 0;) {
    fs::resize_file(dir + "/config.json", n);
    auto t = LoadModel(dir);
    ASSERT_FALSE(t.ok()) << n;
    ASSERT_TRUE(Contains(t.status().message(), "config.json")) << t.status().ToString();
  }
  ASSERT_TRUE(WriteStringToFile(dir + "/config.json", config_text).ok());
  ASSERT_TRUE(LoadModel(dir).ok());

  fs::remove(dir + "/model.safetensors");
  r = LoadModel(dir);
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound) << r.status().ToString();
  EXPECT_TRUE(Contains(r.status().message(), "model.safetensors")) << r.status().ToString();

  EXPECT_EQ(LoadModel(dir + "/nope").status().code(), StatusCode::kNotFound);
}

TEST(HfCheckpointTest, BadDtypesInModelFile) {
  const ModelWeights w = RandomWeights(TinyConfig(Architecture::kLlama), 61);
  const std::string dir = MakeTempDir("hf-dtype");
  ASSERT_TRUE(WriteHuggingFaceCheckpoint(w, dir).ok());
  const std::string path = dir + "/model.safetensors";
  const std::string original = *ReadFileToString(path);
  // The header lists tensors in canonical order; the first is the embedding.
  const size_t at = original.find("\"dtype\":\"F32\"");
  ASSERT_NE(at, std::string::npos);

  std::string unknown = original;
  unknown.replace(at, 13, "\"dtype\":\"X32\"");
  ASSERT_TRUE(WriteStringToFile(path, unknown).ok());
  auto r = LoadModel(dir);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(Contains(r.status().message(), "model.embed_tokens.weight")) << r.status().ToString();
  EXPECT_TRUE(Contains(r.status().message(), "X32")) << r.status().ToString();
  EXPECT_TRUE(Contains(r.status().message(), path)) << r.status().ToString();

  std::string ints = original;
  ints.replace(at, 13, "\"dtype\":\"I32\"");
  ASSERT_TRUE(WriteStringToFile(path, ints).ok());
  r = LoadModel(dir);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnimplemented);
  EXPECT_TRUE(Contains(r.status().message(), "model.embed_tokens.weight")) << r.status().ToString();
  EXPECT_TRUE(Contains(r.status().message(), "I32")) << r.status().ToString();
  EXPECT_TRUE(Contains(r.status().message(), path)) << r.status().ToString();
}

TEST(HfCheckpointTest, TruncatedModelFileIsAnErrorAtEveryOffset) {
  const ModelWeights w = RandomWeights(TinyConfig(Architecture::kGpt2), 71);
  const std::string dir = MakeTempDir("hf-trunc");
  ASSERT_TRUE(WriteHuggingFaceCheckpoint(w, dir, {TensorDtype::kBF16, 0, {}}).ok());
  const std::string path = dir + "/model.safetensors";
  const std::string full = *ReadFileToString(path);
  auto f = SafetensorsFile::Open(path);
  ASSERT_TRUE(f.ok());
  const size_t header_end = 8 + f->header_size();
  std::vector<size_t> cuts;
  for (size_t n = 0; n < header_end + 64; ++n) cuts.push_back(n);  // every offset through the header
  for (size_t n = header_end + 64; n < full.size(); n += 997) cuts.push_back(n);
  cuts.push_back(full.size() - 1);
  std::sort(cuts.rbegin(), cuts.rend());
  for (size_t n : cuts) {
    fs::resize_file(path, n);  // descending: shrink in place
    auto r = LoadModel(dir);
    ASSERT_FALSE(r.ok()) << "truncated at " << n;
    ASSERT_TRUE(Contains(r.status().message(), path)) << r.status().ToString();
  }
  ASSERT_TRUE(WriteStringToFile(path, full).ok());
  EXPECT_TRUE(LoadModel(dir).ok());
}

TEST(HfCheckpointTest, BrokenShardIndex) {
  const ModelWeights w = RandomWeights(TinyConfig(Architecture::kLlama), 81);
  const std::string dir = MakeTempDir("hf-index");
  ASSERT_TRUE(WriteHuggingFaceCheckpoint(w, dir, {TensorDtype::kF32, 30000, {}}).ok());
  const std::string index_path = dir + "/model.safetensors.index.json";
  const std::string index_text = *ReadFileToString(index_path);
  const auto shards = ShardFiles(dir);
  ASSERT_GE(shards.size(), 2u);

  ASSERT_TRUE(WriteStringToFile(index_path, "{\"weight_map\": {").ok());
  auto r = LoadModel(dir);
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << r.status().ToString();
  EXPECT_TRUE(Contains(r.status().message(), index_path)) << r.status().ToString();

  ASSERT_TRUE(WriteStringToFile(index_path, R"({"weight_map": {"model.norm.weight": "../../etc/passwd"}})").ok());
  r = LoadModel(dir);
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << r.status().ToString();

  // Tensor moved to a shard that does not hold it.
  auto j = nlohmann::json::parse(index_text);
  j["weight_map"]["model.norm.weight"] = shards[0];
  j["weight_map"]["model.embed_tokens.weight"] = shards.back();
  ASSERT_TRUE(WriteStringToFile(index_path, j.dump()).ok());
  r = LoadModel(dir);
  EXPECT_EQ(r.status().code(), StatusCode::kDataLoss) << r.status().ToString();

  ASSERT_TRUE(WriteStringToFile(index_path, index_text).ok());
  ASSERT_TRUE(LoadModel(dir).ok());
  fs::remove(dir + "/" + shards[1]);
  r = LoadModel(dir);
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound) << r.status().ToString();
  EXPECT_TRUE(Contains(r.status().message(), shards[1])) << r.status().ToString();
}

TEST(HfCheckpointTest, RewritingADirectoryRemovesStaleFiles) {
  const ModelWeights a = RandomWeights(TinyConfig(Architecture::kNeox), 91);
  const ModelWeights b = RandomWeights(TinyConfig(Architecture::kNeox), 92);
  const std::string dir = MakeTempDir("hf-stale");
  ASSERT_TRUE(WriteHuggingFaceCheckpoint(a, dir).ok());
  ASSERT_TRUE(WriteHuggingFaceCheckpoint(b, dir, {TensorDtype::kF32, 20000, {}}).ok());
  EXPECT_FALSE(fs::exists(dir + "/model.safetensors"));
  auto lb = LoadModel(dir);
  ASSERT_TRUE(lb.ok()) << lb.status().ToString();
  EXPECT_TRUE(WeightsEqual(b, *lb));
  ASSERT_TRUE(WriteHuggingFaceCheckpoint(a, dir).ok());
  EXPECT_TRUE(ShardFiles(dir).empty());
  EXPECT_FALSE(fs::exists(dir + "/model.safetensors.index.json"));
  auto la = LoadModel(dir);
  ASSERT_TRUE(la.ok()) << la.status().ToString();
  EXPECT_TRUE(WeightsEqual(a, *la));
}

TEST(HfCheckpointTest, WriterRefusesInterleavedLlama) {
  ModelConfig c = TinyConfig(Architecture::kLlama);
  c.rope_layout = RopeLayout::kInterleaved;
  const ModelWeights w = RandomWeights(c, 5);
  const std::string dir = MakeTempDir("hf-interleaved");
  Status s = WriteHuggingFaceCheckpoint(w, dir + "/out");
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition) << s.ToString();
  EXPECT_FALSE(fs::exists(dir + "/out"));
}


// --- Tensors the declared architecture does not use --------------------------

// The first tensor of layer `layer` in the canonical table of `w`.
std::string FirstTensorOfLayer(const ModelWeights& w, int layer) {
  for (const TensorSpec& s : w.specs())
    if (s.layer == layer) return s.name;
  ADD_FAILURE() << "no tensor of layer " << layer;
  return "";
}

TEST(HfCheckpointTest, AConfigDeclaringFewerLayersThanTheFileHoldsIsRefused) {
  for (Architecture arch : kArchs) {
    SCOPED_TRACE(ArchitectureName(arch));
    const ModelWeights w = RandomWeights(TinyConfig(arch), 31);  // 2 layers
    const std::string dir = MakeTempDir("hf-fewer-layers");
    ASSERT_TRUE(WriteHuggingFaceCheckpoint(w, dir).ok());
    ModelConfig one = w.config();
    one.num_layers = 1;
    ASSERT_TRUE(WriteHfConfig(one, dir + "/config.json").ok());
    auto loaded = LoadModel(dir);
    ASSERT_FALSE(loaded.ok());
    EXPECT_EQ(loaded.status().code(), StatusCode::kInvalidArgument);
    // The file writes tensors in canonical order: layer 1's first one is the first unused.
    EXPECT_EQ(loaded.status().message(),
              fmt::format("{}/model.safetensors: tensor '{}' is not used by the declared architecture ({}, 1 layer)",
                          dir, FirstTensorOfLayer(w, 1), ArchitectureName(arch)));
  }
}

TEST(HfCheckpointTest, AnUnusedTensorInAShardIsRefusedNamingTheShard) {
  const ModelWeights w = RandomWeights(TinyConfig(Architecture::kLlama), 32);
  const std::string dir = MakeTempDir("hf-fewer-layers-sharded");
  HfWriteOptions o;
  o.max_shard_bytes = 40000;
  ASSERT_TRUE(WriteHuggingFaceCheckpoint(w, dir, o).ok());
  ASSERT_GT(ShardFiles(dir).size(), 1u);
  ModelConfig one = w.config();
  one.num_layers = 1;
  ASSERT_TRUE(WriteHfConfig(one, dir + "/config.json").ok());
  // Which shard holds the first tensor of layer 1, per the index.
  const auto index = nlohmann::json::parse(*ReadFileToString(dir + "/model.safetensors.index.json"));
  const std::string first = FirstTensorOfLayer(w, 1);
  const std::string shard = index["weight_map"][first].get<std::string>();
  auto loaded = LoadModel(dir);
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.status().message(),
            fmt::format("{}/{}: tensor '{}' is not used by the declared architecture (llama, 1 layer)", dir, shard,
                        first));
}

TEST(HfCheckpointTest, AnUnknownExtraTensorIsRefusedAndKnownBuffersAreNot) {
  {
    const ModelWeights w = RandomWeights(TinyConfig(Architecture::kLlama), 33);
    const std::string dir = MakeTempDir("hf-extra");
    WriteCustom(w, dir, [](const std::string& n) { return n; }, {{"model.layers.0.mlp.extra_proj.weight", {4, 4}}});
    auto loaded = LoadModel(dir);
    ASSERT_FALSE(loaded.ok());
    EXPECT_EQ(loaded.status().message(),
              fmt::format("{}/model.safetensors: tensor 'model.layers.0.mlp.extra_proj.weight' is not used by the "
                          "declared architecture (llama, 2 layers)",
                          dir));
  }
  {
    // A second copy of a tensor under a prefix-less name: the canonical name wins, the copy is unused.
    const ModelWeights w = RandomWeights(TinyConfig(Architecture::kLlama), 34);
    const std::string dir = MakeTempDir("hf-extra-alias");
    WriteCustom(w, dir, [](const std::string& n) { return n; }, {{"norm.weight", {64}}});
    auto loaded = LoadModel(dir);
    ASSERT_FALSE(loaded.ok());
    EXPECT_TRUE(Contains(loaded.status().message(), "tensor 'norm.weight' is not used")) << loaded.status().ToString();
  }
  // Buffers the models recompute load, per architecture.
  struct Case {
    Architecture arch;
    std::vector<std::pair<std::string, std::vector<int64_t>>> extra;
  };
  const Case ok[] = {
      {Architecture::kLlama, {{"model.layers.1.self_attn.rotary_emb.inv_freq", {8}}}},
      {Architecture::kGpt2, {{"transformer.h.0.attn.bias", {1, 1, 64, 64}}, {"transformer.h.1.attn.masked_bias", {}}}},
      {Architecture::kNeox,
       {{"gpt_neox.layers.0.attention.bias", {1, 1, 64, 64}},
        {"gpt_neox.layers.0.attention.masked_bias", {}},
        {"gpt_neox.layers.1.attention.rotary_emb.inv_freq", {4}}}},
      {Architecture::kOpt, {{"lm_head.weight", {101, 64}}}},  // tied, stored anyway
  };
  for (const Case& k : ok) {
    SCOPED_TRACE(ArchitectureName(k.arch));
    const ModelWeights w = RandomWeights(TinyConfig(k.arch), 35);
    const std::string dir = MakeTempDir("hf-buffers");
    WriteCustom(w, dir, [](const std::string& n) { return n; }, k.extra);
    auto loaded = LoadModel(dir);
    ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
    EXPECT_TRUE(WeightsEqual(w, *loaded));
  }
  // ... but only for the architecture that has them.
  const ModelWeights w = RandomWeights(TinyConfig(Architecture::kLlama), 36);
  const std::string dir = MakeTempDir("hf-buffers-wrong-arch");
  WriteCustom(w, dir, [](const std::string& n) { return n; }, {{"model.layers.0.attn.bias", {4}}});
  auto loaded = LoadModel(dir);
  ASSERT_FALSE(loaded.ok());
  EXPECT_TRUE(Contains(loaded.status().message(), "tensor 'model.layers.0.attn.bias' is not used"))
      << loaded.status().ToString();
}

}  // namespace
}  // namespace seedtune
