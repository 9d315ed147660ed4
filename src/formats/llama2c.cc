#include "formats/llama2c.h"

#include "core/mapped_file.h"

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

namespace seedtune {

static_assert(std::endian::native == std::endian::little, "llama2.c files are little-endian");

namespace {

int32_t ReadI32(const uint8_t* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

std::string Layer(int l) { return "model.layers." + std::to_string(l) + "."; }

}  // namespace

StatusOr<Llama2cHeader> ParseLlama2cHeader(const uint8_t* data, uint64_t size, const std::string& path) {
  Llama2cHeader h;
  if (size < 4) return DataLoss("{}: file is {} bytes, too short for a llama2.c header", path, size);
  uint32_t magic;
  std::memcpy(&magic, data, 4);
  const uint8_t* p = data;
  if (magic == kLlama2cMagic) {
    if (size < 256)
      return DataLoss("{}: file is {} bytes, too short for a llama2.c v1/v2 header (256 bytes)", path, size);
    h.version = ReadI32(data + 4);
    if (h.version != 1 && h.version != 2)
      return Unimplemented("{}: llama2.c checkpoint version {} is not supported (0, 1, 2)", path, h.version);
    h.header_bytes = 256;
    p = data + 8;
  } else {
    if (size < 28) return DataLoss("{}: file is {} bytes, too short for a llama2.c header (28 bytes)", path, size);
    h.version = 0;
    h.header_bytes = 28;
  }
  h.dim = ReadI32(p);
  h.hidden_dim = ReadI32(p + 4);
  h.n_layers = ReadI32(p + 8);
  h.n_heads = ReadI32(p + 12);
  h.n_kv_heads = ReadI32(p + 16);
  h.vocab_size = ReadI32(p + 20);
  h.seq_len = ReadI32(p + 24);
  if (h.version == 0) {
    h.shared_classifier = h.vocab_size > 0;
    h.vocab_size = std::abs(h.vocab_size);
  } else {
    const uint8_t shared = p[28];
    if (shared > 1) return InvalidArgument("{}: shared_classifier flag is {}, expected 0 or 1", path, shared);
    h.shared_classifier = shared == 1;
    if (h.version == 2) h.group_size = ReadI32(p + 29);
  }
  auto positive = [&](int64_t v, const char* field) -> Status {
    if (v <= 0) return InvalidArgument("{}: llama2.c header: {} must be positive, got {}", path, field, v);
    return Status::Ok();
  };
  RETURN_IF_ERROR(positive(h.dim, "dim"));
  RETURN_IF_ERROR(positive(h.hidden_dim, "hidden_dim"));
  RETURN_IF_ERROR(positive(h.n_layers, "n_layers"));
  RETURN_IF_ERROR(positive(h.n_heads, "n_heads"));
  RETURN_IF_ERROR(positive(h.n_kv_heads, "n_kv_heads"));
  RETURN_IF_ERROR(positive(h.vocab_size, "vocab_size"));
  RETURN_IF_ERROR(positive(h.seq_len, "seq_len"));
  if (h.version == 2) RETURN_IF_ERROR(positive(h.group_size, "group_size"));
  if (h.dim % h.n_heads != 0)
    return InvalidArgument("{}: llama2.c header: n_heads {} does not divide dim {}", path, h.n_heads, h.dim);
  if (h.n_kv_heads > h.n_heads || h.n_heads % h.n_kv_heads != 0)
    return InvalidArgument("{}: llama2.c header: n_kv_heads {} does not divide n_heads {}", path, h.n_kv_heads,
                           h.n_heads);
  if (h.head_dim() % 2 != 0)
    return InvalidArgument("{}: llama2.c header: head dim {} (dim / n_heads) must be even for RoPE", path, h.head_dim());
  return h;
}

StatusOr<uint64_t> Llama2cFileSize(const Llama2cHeader& h, const std::string& path) {
  using u128 = unsigned __int128;
  const u128 d = static_cast<u128>(h.dim), f = static_cast<u128>(h.hidden_dim), L = static_cast<u128>(h.n_layers),
             v = static_cast<u128>(h.vocab_size), kv = static_cast<u128>(h.n_kv_heads * h.head_dim()),
             seq = static_cast<u128>(h.seq_len), hd = static_cast<u128>(h.head_dim());
  const u128 norms = 2 * L * d + d;
  const u128 classifier = h.shared_classifier ? 0 : v * d;
  // Per layer: wq, wk, wv, wo, w1, w2, w3.
  const u128 layer_mats[7] = {d * d, kv * d, kv * d, d * d, f * d, d * f, f * d};
  u128 total = h.header_bytes;
  if (h.version < 2) {
    u128 floats = norms + v * d + classifier;
    for (u128 m : layer_mats) floats += L * m;
    if (h.version == 0) floats += 2 * seq * (hd / 2);
    total += 4 * floats;
  } else {
    const u128 gs = static_cast<u128>(h.group_size);
    auto q8 = [&](u128 n, const char* what) -> StatusOr<u128> {
      if (n % gs != 0)
        return InvalidArgument("{}: llama2.c v2: {} has {} elements, not a multiple of group_size {}", path, what,
                               static_cast<uint64_t>(n), h.group_size);
      return n + n / gs * 4;
    };
    static const char* kNames[7] = {"wq", "wk", "wv", "wo", "w1", "w2", "w3"};
    total += 4 * norms;
    ASSIGN_OR_RETURN(u128 emb, q8(v * d, "token_embedding"));
    total += emb;
    for (int i = 0; i < 7; ++i) {
      ASSIGN_OR_RETURN(u128 m, q8(layer_mats[i], kNames[i]));
      total += L * m;
    }
    if (classifier) {
      ASSIGN_OR_RETURN(u128 c, q8(classifier, "wcls"));
      total += c;
    }
  }
  if (total > (static_cast<u128>(1) << 62))
    return InvalidArgument("{}: llama2.c header (dim={} hidden_dim={} n_layers={} vocab_size={}) implies an impossibly "
                           "large file",
                           path, h.dim, h.hidden_dim, h.n_layers, h.vocab_size);
  return static_cast<uint64_t>(total);
}

std::vector<Llama2cTensor> Llama2cLayout(const Llama2cHeader& h) {
  std::vector<Llama2cTensor> out;
  uint64_t off = h.header_bytes;
  const int64_t d = h.dim, f = h.hidden_dim, kv = h.n_kv_heads * h.head_dim(), v = h.vocab_size;
  const int L = static_cast<int>(h.n_layers);

  auto add = [&](std::string name, std::vector<int64_t> shape, bool q8) {
    uint64_t n = 1;
    for (int64_t s : shape) n *= static_cast<uint64_t>(s);
    Llama2cTensor t;
    t.name = std::move(name);
    t.shape = std::move(shape);
    t.q8 = q8;
    t.offset = off;
    t.nbytes = q8 ? n + n / static_cast<uint64_t>(h.group_size) * 4 : n * 4;
    off += t.nbytes;
    out.push_back(std::move(t));
  };
  auto per_layer = [&](const char* suffix, const std::vector<int64_t>& shape, bool q8) {
    for (int l = 0; l < L; ++l) add(Layer(l) + suffix, shape, q8);
  };
  const char* kEmb = "model.embed_tokens.weight";
  const char* kAttnNorm = "input_layernorm.weight";
  const char* kFfnNorm = "post_attention_layernorm.weight";
  auto matrices = [&](bool q8) {
    per_layer("self_attn.q_proj.weight", {d, d}, q8);
    per_layer("self_attn.k_proj.weight", {kv, d}, q8);
    per_layer("self_attn.v_proj.weight", {kv, d}, q8);
    per_layer("self_attn.o_proj.weight", {d, d}, q8);
    if (h.version == 0) per_layer(kFfnNorm, {d}, false);
    per_layer("mlp.gate_proj.weight", {f, d}, q8);  // w1
    per_layer("mlp.down_proj.weight", {d, f}, q8);  // w2
    per_layer("mlp.up_proj.weight", {f, d}, q8);    // w3
  };
  if (h.version == 0) {
    add(kEmb, {v, d}, false);
    per_layer(kAttnNorm, {d}, false);
    matrices(false);
    add("model.norm.weight", {d}, false);
    add("freq_cis_real", {h.seq_len, h.head_dim() / 2}, false);
    add("freq_cis_imag", {h.seq_len, h.head_dim() / 2}, false);
    if (!h.shared_classifier) add("lm_head.weight", {v, d}, false);
  } else {
    const bool q8 = h.version == 2;
    per_layer(kAttnNorm, {d}, false);
    per_layer(kFfnNorm, {d}, false);
    add("model.norm.weight", {d}, false);
    add(kEmb, {v, d}, q8);
    matrices(q8);
    if (!h.shared_classifier) add("lm_head.weight", {v, d}, q8);
  }
  return out;
}

ModelConfig Llama2cConfig(const Llama2cHeader& h, const std::string& name) {
  ModelConfig c;
  c.arch = Architecture::kLlama;
  c.name = name;
  c.vocab_size = h.vocab_size;
  c.hidden_size = h.dim;
  c.num_layers = h.n_layers;
  c.num_heads = h.n_heads;
  c.num_kv_heads = h.n_kv_heads;
  c.head_dim = h.head_dim();
  c.intermediate_size = h.hidden_dim;
  c.max_positions = h.seq_len;
  c.norm_eps = 1e-5f;
  c.activation = Activation::kSilu;
  c.rope_layout = RopeLayout::kInterleaved;
  c.rope_theta = 10000.0f;
  c.rotary_dim = c.head_dim;
  c.tie_word_embeddings = h.shared_classifier;
  c.attention_bias = false;
  c.bos_token_id = 1;
  c.eos_token_id = 2;
  c.pad_token_id = -1;
  return c;
}

void QuantizeQ8(const float* w, int64_t n, int64_t group_size, int8_t* q, float* scales) {
  for (int64_t g = 0; g * group_size < n; ++g) {
    const float* x = w + g * group_size;
    float wmax = 0.0f;
    for (int64_t i = 0; i < group_size; ++i) wmax = std::max(wmax, std::fabs(x[i]));
    const float scale = wmax / 127.0f;
    scales[g] = scale;
    for (int64_t i = 0; i < group_size; ++i) {
      float r = scale > 0.0f ? std::nearbyint(x[i] / scale) : 0.0f;
      r = std::min(127.0f, std::max(-127.0f, r));
      q[g * group_size + i] = static_cast<int8_t>(r);
    }
  }
}

Status WriteLlama2c(const ModelWeights& weights, const std::string& path, int version, int64_t group_size) {
  const ModelConfig& c = weights.config();
  if (version < 0 || version > 2) return InvalidArgument("{}: llama2.c version {} (0, 1 or 2)", path, version);
  if (c.arch != Architecture::kLlama)
    return FailedPrecondition("{}: llama2.c holds llama models only, not {}", path, ArchitectureName(c.arch));
  if (c.rope_layout != RopeLayout::kInterleaved)
    return FailedPrecondition("{}: llama2.c uses interleaved RoPE but the weights are {}; convert with ConvertRopeLayout",
                              path, RopeLayoutName(c.rope_layout));
  if (c.rotary_dim != c.head_dim)
    return FailedPrecondition("{}: llama2.c rotates the whole head (rotary_dim {} != head_dim {})", path, c.rotary_dim,
                              c.head_dim);
  if (c.attention_bias) return FailedPrecondition("{}: llama2.c has no attention biases", path);
  if (c.activation != Activation::kSilu) return FailedPrecondition("{}: llama2.c uses SiLU only", path);
  if (c.rope_theta != 10000.0f)
    return FailedPrecondition("{}: llama2.c hard-codes rope_theta 10000, the model uses {}", path, c.rope_theta);
  if (c.norm_eps != 1e-5f)
    return FailedPrecondition("{}: llama2.c hard-codes norm_eps 1e-5, the model uses {}", path, c.norm_eps);
  for (int64_t v : {c.hidden_size, c.intermediate_size, c.num_layers, c.num_heads, c.num_kv_heads, c.vocab_size,
                    c.max_positions})
    if (v > INT32_MAX) return FailedPrecondition("{}: model dimension {} does not fit llama2.c's int32 header", path, v);

  Llama2cHeader h;
  h.version = version;
  h.dim = c.hidden_size;
  h.hidden_dim = c.intermediate_size;
  h.n_layers = c.num_layers;
  h.n_heads = c.num_heads;
  h.n_kv_heads = c.num_kv_heads;
  h.vocab_size = c.vocab_size;
  h.seq_len = c.max_positions;
  h.shared_classifier = c.tie_word_embeddings;
  h.header_bytes = version == 0 ? 28 : 256;
  if (version == 2) {
    if (group_size == 0) {
      group_size = 64;
      while (h.dim % group_size != 0) group_size /= 2;
    }
    if (group_size <= 0 || h.dim % group_size != 0)
      return InvalidArgument("{}: group_size {} does not divide dim {}", path, group_size, h.dim);
    h.group_size = group_size;
  }
  ASSIGN_OR_RETURN(uint64_t total, Llama2cFileSize(h, path));
  (void)total;
  const std::vector<Llama2cTensor> layout = Llama2cLayout(h);

  std::string header(h.header_bytes, '\0');
  auto put32 = [&](size_t at, int32_t v) { std::memcpy(header.data() + at, &v, 4); };
  size_t at = 0;
  if (version > 0) {
    put32(0, static_cast<int32_t>(kLlama2cMagic));
    put32(4, version);
    at = 8;
  }
  const int32_t params[7] = {
      static_cast<int32_t>(h.dim),      static_cast<int32_t>(h.hidden_dim), static_cast<int32_t>(h.n_layers),
      static_cast<int32_t>(h.n_heads),  static_cast<int32_t>(h.n_kv_heads),
      static_cast<int32_t>(version == 0 && !h.shared_classifier ? -h.vocab_size : h.vocab_size),
      static_cast<int32_t>(h.seq_len)};
  for (int i = 0; i < 7; ++i) put32(at + 4 * i, params[i]);
  if (version > 0) {
    header[at + 28] = h.shared_classifier ? 1 : 0;
    if (version == 2) {
      const int32_t gs = static_cast<int32_t>(h.group_size);
      std::memcpy(header.data() + at + 29, &gs, 4);
    }
  }

  const std::string tmp = path + ".tmp";
  std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
  if (!out) return IoError("{}: cannot open for writing: {}", tmp, std::strerror(errno));
  out.write(header.data(), static_cast<std::streamsize>(header.size()));
  std::vector<float> fbuf;
  std::vector<int8_t> qbuf;
  for (const auto& t : layout) {
    int64_t n = 1;
    for (int64_t s : t.shape) n *= s;
    const float* src = nullptr;
    if (t.name == "freq_cis_real" || t.name == "freq_cis_imag") {
      // As export.py: freqs = 1 / theta^(2i / head_dim), angle = pos * freq, all fp32.
      const int64_t hd = h.head_dim(), half = hd / 2;
      const bool real = t.name == "freq_cis_real";
      fbuf.resize(static_cast<size_t>(n));
      for (int64_t pos = 0; pos < h.seq_len; ++pos) {
        for (int64_t i = 0; i < half; ++i) {
          const float freq = 1.0f / std::pow(10000.0f, static_cast<float>(2 * i) / static_cast<float>(hd));
          const float angle = static_cast<float>(pos) * freq;
          fbuf[static_cast<size_t>(pos * half + i)] = real ? std::cos(angle) : std::sin(angle);
        }
      }
      src = fbuf.data();
    } else {
      auto idx = weights.table().Find(t.name);
      if (!idx) return InternalError("{}: tensor {} missing from the model table", path, t.name);
      src = weights.data(*idx);
    }
    if (!t.q8) {
      out.write(reinterpret_cast<const char*>(src), static_cast<std::streamsize>(n * 4));
    } else {
      qbuf.resize(static_cast<size_t>(n));
      fbuf.resize(static_cast<size_t>(n / h.group_size));
      QuantizeQ8(src, n, h.group_size, qbuf.data(), fbuf.data());
      out.write(reinterpret_cast<const char*>(qbuf.data()), static_cast<std::streamsize>(n));
      out.write(reinterpret_cast<const char*>(fbuf.data()), static_cast<std::streamsize>(fbuf.size() * 4));
    }
  }
  out.close();
  if (!out) {
    std::remove(tmp.c_str());
    return IoError("{}: write failed", tmp);
  }
  return RenameIntoPlace(tmp, path);
}

}  // namespace seedtune
