#include "support/fixtures.h"

#include "core/assets.h"
#include "data/task.h"
#include "formats/checkpoint.h"
#include "runtime/model_source.h"

#include <fstream>

#include <stdlib.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <random>
#include <vector>
#include <filesystem>

namespace seedtune::testing {

ModelConfig TinyConfig(Architecture arch) {
  ModelConfig c;
  c.arch = arch;
  c.name = std::string("tiny-") + ArchitectureName(arch);
  c.vocab_size = 101;
  c.hidden_size = 64;
  c.num_layers = 2;
  c.num_heads = 4;
  c.num_kv_heads = 4;
  c.head_dim = 16;
  c.intermediate_size = 96;
  c.max_positions = 64;
  c.norm_eps = 1e-5f;
  c.rope_theta = 10000.0f;
  switch (arch) {
    case Architecture::kLlama:
      c.num_kv_heads = 2;
      c.activation = Activation::kSilu;
      c.rope_layout = RopeLayout::kRotateHalf;
      c.rotary_dim = 16;
      c.tie_word_embeddings = false;
      c.bos_token_id = 1;
      c.eos_token_id = 2;
      break;
    case Architecture::kOpt:
      c.activation = Activation::kRelu;
      c.rope_layout = RopeLayout::kNone;
      c.tie_word_embeddings = true;
      c.do_layer_norm_before = true;
      c.position_offset = 2;
      c.bos_token_id = 2;
      c.eos_token_id = 2;
      c.pad_token_id = 1;
      break;
    case Architecture::kGpt2:
      c.activation = Activation::kGeluTanh;
      c.rope_layout = RopeLayout::kNone;
      c.tie_word_embeddings = true;
      c.bos_token_id = 100;
      c.eos_token_id = 100;
      break;
    case Architecture::kNeox:
      c.activation = Activation::kGeluErf;
      c.rope_layout = RopeLayout::kRotateHalf;
      c.rotary_dim = 8;  // rotary_pct 0.5
      c.tie_word_embeddings = false;
      c.use_parallel_residual = true;
      c.bos_token_id = 0;
      c.eos_token_id = 0;
      break;
  }
  return c;
}

namespace {

uint64_t SplitMix64(uint64_t* state) {
  uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// Uniform in [-1, 1) with 24 random bits (exact in float).
float Symmetric(uint64_t* state) {
  const uint32_t bits = static_cast<uint32_t>(SplitMix64(state) >> 40);
  return static_cast<float>(bits) * (2.0f / 16777216.0f) - 1.0f;
}

}  // namespace

void FillRandom(ModelWeights* weights, uint64_t seed, float scale) {
  for (size_t i = 0; i < weights->num_tensors(); ++i) {
    const TensorSpec& s = weights->specs()[i];
    uint64_t state = seed * 0x2545f4914f6cdd1dull + i * 0x9e3779b97f4a7c15ull + 1;
    SplitMix64(&state);
    float* p = weights->data(i);
    const int64_t n = s.numel();
    for (int64_t j = 0; j < n; ++j) {
      const float u = Symmetric(&state);
      switch (s.role) {
        case TensorRole::kNormWeight: p[j] = 1.0f + 0.1f * u; break;
        case TensorRole::kNormBias:
        case TensorRole::kLinearBias: p[j] = 0.2f * scale * u; break;
        default: p[j] = scale * u; break;
      }
    }
  }
}

ModelWeights RandomWeights(const ModelConfig& config, uint64_t seed, float scale) {
  auto w = ModelWeights::Allocate(config);
  if (!w.ok()) {
    ADD_FAILURE() << "RandomWeights: " << w.status().ToString();
    return ModelWeights();
  }
  FillRandom(&*w, seed, scale);
  return std::move(w).value();
}

std::string MakeTempDir(const std::string& tag) {
  namespace fs = std::filesystem;
  std::string base = "/tmp";
  if (const char* env = std::getenv("SEEDTUNE_TEST_TMP"); env != nullptr && *env != '\0') base = env;
  std::error_code ec;
  fs::create_directories(base, ec);
  std::string safe_tag;
  for (char ch : tag) safe_tag += (std::isalnum(static_cast<unsigned char>(ch)) || ch == '-' || ch == '_') ? ch : '_';
  std::string templ = (fs::path(base) / ("seedtune-" + safe_tag + "-XXXXXX")).string();
  std::vector<char> buf(templ.begin(), templ.end());
  buf.push_back('\0');
  if (::mkdtemp(buf.data()) == nullptr) {
    ADD_FAILURE() << "MakeTempDir: mkdtemp(" << templ << ") failed: " << std::strerror(errno);
    return templ;
  }
  return std::string(buf.data());
}

::testing::AssertionResult ConfigsEqual(const ModelConfig& a, const ModelConfig& b) {
#define SEEDTUNE_CMP(field)                                                                     \
  if (!(a.field == b.field))                                                                    \
    return ::testing::AssertionFailure() << "config field " #field " differs: " << a.field << " vs " << b.field;
  SEEDTUNE_CMP(vocab_size);
  SEEDTUNE_CMP(hidden_size);
  SEEDTUNE_CMP(num_layers);
  SEEDTUNE_CMP(num_heads);
  SEEDTUNE_CMP(num_kv_heads);
  SEEDTUNE_CMP(head_dim);
  SEEDTUNE_CMP(intermediate_size);
  SEEDTUNE_CMP(max_positions);
  SEEDTUNE_CMP(norm_eps);
  SEEDTUNE_CMP(rope_theta);
  SEEDTUNE_CMP(rotary_dim);
  SEEDTUNE_CMP(tie_word_embeddings);
  SEEDTUNE_CMP(attention_bias);
  SEEDTUNE_CMP(do_layer_norm_before);
  SEEDTUNE_CMP(position_offset);
  SEEDTUNE_CMP(use_parallel_residual);
  SEEDTUNE_CMP(bos_token_id);
  SEEDTUNE_CMP(eos_token_id);
  SEEDTUNE_CMP(pad_token_id);
#undef SEEDTUNE_CMP
  if (a.arch != b.arch)
    return ::testing::AssertionFailure() << "arch differs: " << ArchitectureName(a.arch) << " vs "
                                         << ArchitectureName(b.arch);
  if (a.activation != b.activation)
    return ::testing::AssertionFailure() << "activation differs: " << ActivationName(a.activation) << " vs "
                                         << ActivationName(b.activation);
  if (a.rope_layout != b.rope_layout)
    return ::testing::AssertionFailure() << "rope_layout differs: " << RopeLayoutName(a.rope_layout) << " vs "
                                         << RopeLayoutName(b.rope_layout);
  return ::testing::AssertionSuccess();
}

::testing::AssertionResult WeightsEqualMapped(const ModelWeights& original, const ModelWeights& actual,
                                              const std::function<float(size_t tensor, float value)>& expected_of) {
  if (original.num_tensors() != actual.num_tensors())
    return ::testing::AssertionFailure() << "tensor count " << original.num_tensors() << " vs "
                                         << actual.num_tensors();
  for (size_t i = 0; i < original.num_tensors(); ++i) {
    const TensorSpec& a = original.specs()[i];
    const TensorSpec& b = actual.specs()[i];
    if (a.name != b.name || a.shape != b.shape)
      return ::testing::AssertionFailure() << "tensor " << i << ": " << a.name << " " << a.ShapeString() << " vs "
                                           << b.name << " " << b.ShapeString();
    auto x = original.tensor(i);
    auto y = actual.tensor(i);
    for (size_t j = 0; j < x.size(); ++j) {
      const float e = expected_of(i, x[j]);
      uint32_t eb, yb;
      std::memcpy(&eb, &e, 4);
      std::memcpy(&yb, &y[j], 4);
      if (eb != yb)
        return ::testing::AssertionFailure() << "tensor " << a.name << " element " << j << ": expected " << e
                                             << " (from " << x[j] << "), got " << y[j];
    }
  }
  return ::testing::AssertionSuccess();
}

::testing::AssertionResult WeightsEqual(const ModelWeights& expected, const ModelWeights& actual) {
  return WeightsEqualMapped(expected, actual, [](size_t, float v) { return v; });
}

std::optional<std::string> WriteSst2SentencesFile(const std::string& tag, int n) {
  auto sst2 = FindAsset("data/sst2/train.tsv");
  if (!sst2) return std::nullopt;
  const std::string path = MakeTempDir(tag) + "/sentences.txt";
  std::ifstream in(*sst2);
  std::ofstream out(path);
  std::string line;
  std::getline(in, line);  // header
  for (int i = 0; i < n && std::getline(in, line); ++i) out << line.substr(0, line.find('\t')) << "\n";
  return path;
}

std::vector<float> UniformFloats(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(rng);
  return v;
}

std::string Stories() {
  auto p = FindAsset("models/stories260K/stories260K.bin");
  return p ? *p : "";
}

std::optional<std::string> WriteStories260kTokenizerWithOtherMerges(const std::string& tag) {
  auto src = FindAsset("models/stories260K/tok512.bin");
  if (!src) return std::nullopt;
  std::ifstream in(*src, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // int32 max_token_length, then per piece: f32 score, int32 length, bytes.
  for (size_t pos = 4; pos + 8 <= bytes.size();) {
    float score;
    int32_t len;
    std::memcpy(&score, &bytes[pos], 4);
    std::memcpy(&len, &bytes[pos + 4], 4);
    score = -score;
    std::memcpy(&bytes[pos], &score, 4);
    pos += 8 + static_cast<size_t>(len);
  }
  const std::string path = MakeTempDir(tag) + "/tok512-other-merges.bin";
  std::ofstream(path, std::ios::binary) << bytes;
  return path;
}

std::optional<StoriesLmTask> LoadStoriesLmTask(const std::string& tag, int sentences, int train_n, int dev_n, int eval_n,
                                               int max_length) {
  auto model = FindAsset("models/stories260K/stories260K.bin");
  auto text = WriteSst2SentencesFile(tag, sentences);
  if (!model || !text) return std::nullopt;
  auto w = LoadModel(*model);
  if (!w.ok()) return std::nullopt;
  auto tok = LoadTokenizerForModel(*model, w->config(), "");
  TaskOptions opts;
  opts.train_n = train_n;
  opts.dev_n = dev_n;
  opts.eval_n = eval_n;
  auto task = LoadTask("text:" + *text, "", opts);
  if (!tok.ok() || !task.ok()) return std::nullopt;
  auto train = EncodeExamples(task->train, **tok, max_length);
  auto dev = EncodeExamples(task->dev, **tok, max_length);
  auto eval = EncodeExamples(task->eval, **tok, max_length);
  if (!train.ok() || !dev.ok() || !eval.ok()) return std::nullopt;
  return StoriesLmTask{std::move(*w), std::move(*train), std::move(*dev), std::move(*eval)};
}

}  // namespace seedtune::testing
