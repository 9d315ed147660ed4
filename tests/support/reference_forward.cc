// Reference forward pass: see reference_forward.h. Every step is a literal
// transcription of the corresponding Hugging Face module's forward (inference
// mode, dropout off), in double precision.
#include "support/reference_forward.h"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "core/check.h"

namespace seedtune::testing {
namespace {

using Vec = std::vector<double>;
using Seq = std::vector<Vec>;  // [T][features]

// Pointer to tensor `idx` of the table; -1 (absent) gives nullptr.
const float* Tensor(const ModelWeights& w, int idx) {
  if (idx < 0) return nullptr;
  SEEDTUNE_CHECK(static_cast<size_t>(idx) < w.num_tensors());
  return w.data(static_cast<size_t>(idx));
}

// torch.nn.Linear: y = x W^T + b with W stored [out, in] row-major (GPT-2's
// Conv1D weights are already transposed to [out, in] by the loaders).
Vec Linear(const Vec& x, const float* W, const float* b, int64_t out, int64_t in) {
  SEEDTUNE_CHECK(W != nullptr);
  SEEDTUNE_CHECK(static_cast<int64_t>(x.size()) == in);
  Vec y(static_cast<size_t>(out));
  for (int64_t o = 0; o < out; ++o) {
    double acc = b ? static_cast<double>(b[o]) : 0.0;
    const float* row = W + o * in;
    for (int64_t i = 0; i < in; ++i) acc += static_cast<double>(row[i]) * x[static_cast<size_t>(i)];
    y[static_cast<size_t>(o)] = acc;
  }
  return y;
}

// LlamaRMSNorm: variance = mean(x^2); x * rsqrt(variance + eps) * weight.
Vec RmsNorm(const Vec& x, const float* weight, double eps) {
  SEEDTUNE_CHECK(weight != nullptr);
  double ms = 0.0;
  for (double v : x) ms += v * v;
  ms /= static_cast<double>(x.size());
  const double inv = 1.0 / std::sqrt(ms + eps);
  Vec y(x.size());
  for (size_t i = 0; i < x.size(); ++i) y[i] = x[i] * inv * static_cast<double>(weight[i]);
  return y;
}

// torch.nn.LayerNorm: (x - mean) / sqrt(var + eps) * weight + bias, with the
// biased (population) variance.
Vec LayerNorm(const Vec& x, const float* weight, const float* bias, double eps) {
  SEEDTUNE_CHECK(weight != nullptr);
  const double n = static_cast<double>(x.size());
  double mean = 0.0;
  for (double v : x) mean += v;
  mean /= n;
  double var = 0.0;
  for (double v : x) var += (v - mean) * (v - mean);
  var /= n;
  const double inv = 1.0 / std::sqrt(var + eps);
  Vec y(x.size());
  for (size_t i = 0; i < x.size(); ++i)
    y[i] = (x[i] - mean) * inv * static_cast<double>(weight[i]) + (bias ? static_cast<double>(bias[i]) : 0.0);
  return y;
}

// transformers.activations.ACT2FN: "silu" (SiLUActivation / nn.SiLU), "relu",
// "gelu_new" / "gelu_pytorch_tanh" (tanh approximation), "gelu" (exact erf).
double Activate(Activation a, double x) {
  switch (a) {
    case Activation::kSilu: return x / (1.0 + std::exp(-x));
    case Activation::kRelu: return x > 0.0 ? x : 0.0;
    case Activation::kGeluTanh: {
      const double c = std::sqrt(2.0 / std::numbers::pi);
      return 0.5 * x * (1.0 + std::tanh(c * (x + 0.044715 * x * x * x)));
    }
    case Activation::kGeluErf: return 0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0)));
  }
  SEEDTUNE_CHECK_MSG(false, "unknown activation");
  return 0.0;
}

// Rotary position embedding applied in place to one head vector `v` (length
// >= rotary_dim) at position `pos`. Only the first rotary_dim dims rotate; the
// rest pass through (GPT-NeoX partial rotary: query_rot / query_pass).
// Frequencies as in HF's rotary embedding: inv_freq_i = theta^(-2i/rotary_dim),
// angle = pos * inv_freq_i, i in [0, rotary_dim/2).
//  - kRotateHalf (HF apply_rotary_pos_emb): out = v*cos + rotate_half(v)*sin,
//    rotate_half([a, b]) = [-b, a] and cos/sin = cat(freqs, freqs), i.e. the
//    pair (i, i + rotary_dim/2) rotates by angle_i.
//  - kInterleaved (llama2.c): the pair (2i, 2i+1) rotates by angle_i:
//    v0' = v0*cos - v1*sin, v1' = v0*sin + v1*cos.
void ApplyRope(double* v, RopeLayout layout, int64_t rotary_dim, double theta, int64_t pos) {
  const int64_t half = rotary_dim / 2;
  for (int64_t i = 0; i < half; ++i) {
    const double inv_freq = std::pow(theta, -2.0 * static_cast<double>(i) / static_cast<double>(rotary_dim));
    const double angle = static_cast<double>(pos) * inv_freq;
    const double c = std::cos(angle), s = std::sin(angle);
    int64_t a = 0, b = 0;  // the two dims of the rotating pair
    switch (layout) {
      case RopeLayout::kRotateHalf: a = i; b = i + half; break;
      case RopeLayout::kInterleaved: a = 2 * i; b = 2 * i + 1; break;
      case RopeLayout::kNone: SEEDTUNE_CHECK_MSG(false, "ApplyRope without a rotary layout"); break;
    }
    const double x0 = v[a], x1 = v[b];
    v[a] = x0 * c - x1 * s;
    v[b] = x0 * s + x1 * c;
  }
}

// Causal scaled-dot-product attention (HF eager_attention_forward):
// scores = q k^T * scale, masked to keys s <= t, softmax over keys, times v.
// q: [T][num_heads*head_dim], k/v: [T][num_kv_heads*head_dim]. Grouped-query
// attention as HF repeat_kv: query head h reads kv head h / (num_heads/num_kv_heads).
Seq CausalAttention(const Seq& q, const Seq& k, const Seq& v, int64_t num_heads, int64_t num_kv_heads,
                    int64_t head_dim, double scale) {
  SEEDTUNE_CHECK(num_kv_heads > 0 && num_heads % num_kv_heads == 0);
  const int64_t group = num_heads / num_kv_heads;
  const size_t T = q.size();
  Seq out(T, Vec(static_cast<size_t>(num_heads * head_dim), 0.0));
  for (size_t t = 0; t < T; ++t) {
    for (int64_t h = 0; h < num_heads; ++h) {
      const int64_t kvh = h / group;
      const double* qh = q[t].data() + h * head_dim;
      Vec scores(t + 1);
      double max_score = -INFINITY;
      for (size_t s = 0; s <= t; ++s) {
        const double* kh = k[s].data() + kvh * head_dim;
        double dot = 0.0;
        for (int64_t d = 0; d < head_dim; ++d) dot += qh[d] * kh[d];
        scores[s] = dot * scale;
        max_score = std::max(max_score, scores[s]);
      }
      double denom = 0.0;
      for (size_t s = 0; s <= t; ++s) {
        scores[s] = std::exp(scores[s] - max_score);
        denom += scores[s];
      }
      double* oh = out[t].data() + h * head_dim;
      for (size_t s = 0; s <= t; ++s) {
        const double p = scores[s] / denom;
        const double* vh = v[s].data() + kvh * head_dim;
        for (int64_t d = 0; d < head_dim; ++d) oh[d] += p * vh[d];
      }
    }
  }
  return out;
}

void AddInPlace(Vec& x, const Vec& y) {
  SEEDTUNE_CHECK(x.size() == y.size());
  for (size_t i = 0; i < x.size(); ++i) x[i] += y[i];
}

// Two-layer MLP with biases: down(act(up(x))). OPT fc1/fc2, GPT-2 c_fc/c_proj,
// GPT-NeoX dense_h_to_4h/dense_4h_to_h.
Vec BiasMlp(const ModelWeights& w, const BlockTensors& bt, const Vec& x) {
  const ModelConfig& c = w.config();
  Vec hmid = Linear(x, Tensor(w, bt.up_w), Tensor(w, bt.up_b), c.intermediate_size, c.hidden_size);
  for (double& v : hmid) v = Activate(c.activation, v);
  return Linear(hmid, Tensor(w, bt.down_w), Tensor(w, bt.down_b), c.hidden_size, c.intermediate_size);
}

// ---------------------------------------------------------------- Llama ----
// LlamaDecoderLayer: x += o_proj(attn(input_layernorm(x)));
//                    x += down_proj(act(gate_proj(h)) * up_proj(h)), h = post_attention_layernorm(x).
void LlamaBlock(const ModelWeights& w, const BlockTensors& bt, Seq& x) {
  const ModelConfig& c = w.config();
  const int64_t d = c.hidden_size, hd = c.head_dim, nq = c.num_heads * hd, nkv = c.num_kv_heads * hd;
  const double eps = c.norm_eps;
  const size_t T = x.size();
  Seq q(T), k(T), v(T);
  for (size_t t = 0; t < T; ++t) {
    const Vec h = RmsNorm(x[t], Tensor(w, bt.attn_norm_w), eps);
    q[t] = Linear(h, Tensor(w, bt.q_w), Tensor(w, bt.q_b), nq, d);  // q/k/v biases iff attention_bias
    k[t] = Linear(h, Tensor(w, bt.k_w), Tensor(w, bt.k_b), nkv, d);
    v[t] = Linear(h, Tensor(w, bt.v_w), Tensor(w, bt.v_b), nkv, d);
    // RoPE on q and k (after the bias, as HF applies it to the projected states).
    for (int64_t h2 = 0; h2 < c.num_heads; ++h2)
      ApplyRope(q[t].data() + h2 * hd, c.rope_layout, c.rotary_dim, c.rope_theta, static_cast<int64_t>(t));
    for (int64_t h2 = 0; h2 < c.num_kv_heads; ++h2)
      ApplyRope(k[t].data() + h2 * hd, c.rope_layout, c.rotary_dim, c.rope_theta, static_cast<int64_t>(t));
  }
  // LlamaAttention.scaling = head_dim ** -0.5.
  const Seq attn = CausalAttention(q, k, v, c.num_heads, c.num_kv_heads, hd, 1.0 / std::sqrt(static_cast<double>(hd)));
  for (size_t t = 0; t < T; ++t) {
    AddInPlace(x[t], Linear(attn[t], Tensor(w, bt.o_w), Tensor(w, bt.o_b), d, nq));
    const Vec h = RmsNorm(x[t], Tensor(w, bt.mlp_norm_w), eps);
    const Vec g = Linear(h, Tensor(w, bt.gate_w), nullptr, c.intermediate_size, d);
    Vec u = Linear(h, Tensor(w, bt.up_w), nullptr, c.intermediate_size, d);
    for (size_t i = 0; i < u.size(); ++i) u[i] *= Activate(c.activation, g[i]);  // LlamaMLP: act(gate) * up
    AddInPlace(x[t], Linear(u, Tensor(w, bt.down_w), nullptr, d, c.intermediate_size));
  }
}

// ------------------------------------------------------------------ OPT ----
// OPTAttention: q = q_proj(x) * head_dim^-0.5 (scaling applied after the bias),
// k = k_proj(x), v = v_proj(x); unscaled causal softmax(q k^T) v; out_proj.
Seq OptAttention(const ModelWeights& w, const BlockTensors& bt, const Seq& x) {
  const ModelConfig& c = w.config();
  const int64_t d = c.hidden_size, hd = c.head_dim;
  const double scaling = 1.0 / std::sqrt(static_cast<double>(hd));
  const size_t T = x.size();
  Seq q(T), k(T), v(T);
  for (size_t t = 0; t < T; ++t) {
    q[t] = Linear(x[t], Tensor(w, bt.q_w), Tensor(w, bt.q_b), d, d);
    for (double& e : q[t]) e *= scaling;
    k[t] = Linear(x[t], Tensor(w, bt.k_w), Tensor(w, bt.k_b), d, d);
    v[t] = Linear(x[t], Tensor(w, bt.v_w), Tensor(w, bt.v_b), d, d);
  }
  const Seq attn = CausalAttention(q, k, v, c.num_heads, c.num_heads, hd, /*scale=*/1.0);
  Seq out(T);
  for (size_t t = 0; t < T; ++t) out[t] = Linear(attn[t], Tensor(w, bt.o_w), Tensor(w, bt.o_b), d, d);
  return out;
}

// OPTDecoderLayer (do_layer_norm_before selects pre-LN vs post-LN (OPT-350m)):
//   residual = x; if pre: x = self_attn_layer_norm(x); x = residual + attn(x);
//   if post: x = self_attn_layer_norm(x);
//   residual = x; if pre: x = final_layer_norm(x); x = residual + fc2(act(fc1(x)));
//   if post: x = final_layer_norm(x).
void OptBlock(const ModelWeights& w, const BlockTensors& bt, Seq& x) {
  const ModelConfig& c = w.config();
  const double eps = c.norm_eps;
  const bool pre = c.do_layer_norm_before;
  const size_t T = x.size();
  Seq attn_in(T);
  for (size_t t = 0; t < T; ++t)
    attn_in[t] = pre ? LayerNorm(x[t], Tensor(w, bt.attn_norm_w), Tensor(w, bt.attn_norm_b), eps) : x[t];
  const Seq attn = OptAttention(w, bt, attn_in);
  for (size_t t = 0; t < T; ++t) {
    AddInPlace(x[t], attn[t]);
    if (!pre) x[t] = LayerNorm(x[t], Tensor(w, bt.attn_norm_w), Tensor(w, bt.attn_norm_b), eps);
    const Vec mlp_in = pre ? LayerNorm(x[t], Tensor(w, bt.mlp_norm_w), Tensor(w, bt.mlp_norm_b), eps) : x[t];
    AddInPlace(x[t], BiasMlp(w, bt, mlp_in));
    if (!pre) x[t] = LayerNorm(x[t], Tensor(w, bt.mlp_norm_w), Tensor(w, bt.mlp_norm_b), eps);
  }
}

// ---------------------------------------------------------------- GPT-2 ----
// GPT2Block: x += c_proj(attn(ln_1(x))); x += mlp.c_proj(act(c_fc(ln_2(x)))).
// GPT2Attention: c_attn gives [q | k | v] (each hidden_size wide; internal
// weight [3d, d], rows 0..d-1 = q); heads are consecutive head_dim chunks
// (_split_heads); scores / sqrt(head_dim) (scale_attn_weights).
void Gpt2Block(const ModelWeights& w, const BlockTensors& bt, Seq& x) {
  const ModelConfig& c = w.config();
  const int64_t d = c.hidden_size, hd = c.head_dim;
  const double eps = c.norm_eps;
  const size_t T = x.size();
  Seq q(T), k(T), v(T);
  for (size_t t = 0; t < T; ++t) {
    const Vec h = LayerNorm(x[t], Tensor(w, bt.attn_norm_w), Tensor(w, bt.attn_norm_b), eps);
    const Vec qkv = Linear(h, Tensor(w, bt.qkv_w), Tensor(w, bt.qkv_b), 3 * d, d);
    q[t].assign(qkv.begin(), qkv.begin() + d);
    k[t].assign(qkv.begin() + d, qkv.begin() + 2 * d);
    v[t].assign(qkv.begin() + 2 * d, qkv.end());
  }
  const Seq attn = CausalAttention(q, k, v, c.num_heads, c.num_heads, hd, 1.0 / std::sqrt(static_cast<double>(hd)));
  for (size_t t = 0; t < T; ++t) {
    AddInPlace(x[t], Linear(attn[t], Tensor(w, bt.o_w), Tensor(w, bt.o_b), d, d));
    const Vec h = LayerNorm(x[t], Tensor(w, bt.mlp_norm_w), Tensor(w, bt.mlp_norm_b), eps);
    AddInPlace(x[t], BiasMlp(w, bt, h));
  }
}

// ------------------------------------------------------------ GPT-NeoX ----
// GPTNeoXAttention: qkv = query_key_value(x) viewed as [num_heads, 3*head_dim]
// (per head: q, k, v chunks of head_dim); rotary on the first rotary_ndims dims
// of q and k (query_rot / query_pass), rotate_half layout; scores / sqrt(head_dim);
// dense output projection.
Seq NeoxAttention(const ModelWeights& w, const BlockTensors& bt, const Seq& x_normed) {
  const ModelConfig& c = w.config();
  const int64_t d = c.hidden_size, hd = c.head_dim, nh = c.num_heads;
  const size_t T = x_normed.size();
  Seq q(T, Vec(static_cast<size_t>(d))), k(T, Vec(static_cast<size_t>(d))), v(T, Vec(static_cast<size_t>(d)));
  for (size_t t = 0; t < T; ++t) {
    const Vec qkv = Linear(x_normed[t], Tensor(w, bt.qkv_w), Tensor(w, bt.qkv_b), 3 * d, d);
    for (int64_t h = 0; h < nh; ++h) {
      for (int64_t e = 0; e < hd; ++e) {
        q[t][static_cast<size_t>(h * hd + e)] = qkv[static_cast<size_t>(h * 3 * hd + e)];
        k[t][static_cast<size_t>(h * hd + e)] = qkv[static_cast<size_t>(h * 3 * hd + hd + e)];
        v[t][static_cast<size_t>(h * hd + e)] = qkv[static_cast<size_t>(h * 3 * hd + 2 * hd + e)];
      }
      ApplyRope(q[t].data() + h * hd, c.rope_layout, c.rotary_dim, c.rope_theta, static_cast<int64_t>(t));
      ApplyRope(k[t].data() + h * hd, c.rope_layout, c.rotary_dim, c.rope_theta, static_cast<int64_t>(t));
    }
  }
  const Seq attn = CausalAttention(q, k, v, nh, nh, hd, 1.0 / std::sqrt(static_cast<double>(hd)));
  Seq out(T);
  for (size_t t = 0; t < T; ++t) out[t] = Linear(attn[t], Tensor(w, bt.o_w), Tensor(w, bt.o_b), d, d);
  return out;
}

// GPTNeoXLayer: parallel:   x = x + attn(input_layernorm(x)) + mlp(post_attention_layernorm(x))
//               sequential: x = x + attn(input_layernorm(x)); x = x + mlp(post_attention_layernorm(x))
void NeoxBlock(const ModelWeights& w, const BlockTensors& bt, Seq& x) {
  const ModelConfig& c = w.config();
  const double eps = c.norm_eps;
  const size_t T = x.size();
  Seq h(T);
  for (size_t t = 0; t < T; ++t) h[t] = LayerNorm(x[t], Tensor(w, bt.attn_norm_w), Tensor(w, bt.attn_norm_b), eps);
  const Seq attn = NeoxAttention(w, bt, h);
  for (size_t t = 0; t < T; ++t) {
    if (c.use_parallel_residual) {
      const Vec mlp = BiasMlp(w, bt, LayerNorm(x[t], Tensor(w, bt.mlp_norm_w), Tensor(w, bt.mlp_norm_b), eps));
      AddInPlace(x[t], attn[t]);
      AddInPlace(x[t], mlp);
    } else {
      AddInPlace(x[t], attn[t]);
      AddInPlace(x[t], BiasMlp(w, bt, LayerNorm(x[t], Tensor(w, bt.mlp_norm_w), Tensor(w, bt.mlp_norm_b), eps)));
    }
  }
}

}  // namespace

std::vector<std::vector<float>> ReferenceLogits(const ModelWeights& w, const std::vector<int32_t>& tokens) {
  const ModelConfig& c = w.config();
  const ModelTensors& idx = w.index();
  const int64_t d = c.hidden_size;
  const size_t T = tokens.size();
  SEEDTUNE_CHECK(static_cast<int64_t>(idx.blocks.size()) == c.num_layers);

  // Embeddings.
  const float* embed = Tensor(w, idx.token_embedding);
  const float* pos_table = Tensor(w, idx.position_embedding);
  int64_t pos_offset = 0;
  if (c.arch == Architecture::kOpt) {
    // OPTLearnedPositionalEmbedding: (unpadded) position p reads row p + offset (2).
    pos_offset = c.position_offset;
    SEEDTUNE_CHECK_MSG(pos_table != nullptr, "OPT needs embed_positions");
  } else if (c.arch == Architecture::kGpt2) {
    SEEDTUNE_CHECK_MSG(pos_table != nullptr, "GPT-2 needs wpe");  // wpe[p], no offset
  }
  if (pos_table != nullptr) {
    const int64_t rows = w.specs()[static_cast<size_t>(idx.position_embedding)].shape[0];
    SEEDTUNE_CHECK_MSG(static_cast<int64_t>(T) + pos_offset <= rows, "sequence longer than the position table");
  }
  Seq x(T, Vec(static_cast<size_t>(d)));
  for (size_t t = 0; t < T; ++t) {
    SEEDTUNE_CHECK_MSG(tokens[t] >= 0 && tokens[t] < c.vocab_size, "token id out of range");
    const float* e = embed + static_cast<int64_t>(tokens[t]) * d;
    // OPT: embed_tokens(ids) + embed_positions (no embedding scale, no
    // project_in: word_embed_proj_dim == hidden_size is assumed by the table).
    // GPT-2: wte(ids) + wpe(positions). Llama / NeoX: token embedding only.
    const float* p = pos_table ? pos_table + (static_cast<int64_t>(t) + pos_offset) * d : nullptr;
    for (int64_t i = 0; i < d; ++i)
      x[t][static_cast<size_t>(i)] = static_cast<double>(e[i]) + (p ? static_cast<double>(p[i]) : 0.0);
  }

  // Blocks.
  for (const BlockTensors& bt : idx.blocks) {
    switch (c.arch) {
      case Architecture::kLlama: LlamaBlock(w, bt, x); break;
      case Architecture::kOpt: OptBlock(w, bt, x); break;
      case Architecture::kGpt2: Gpt2Block(w, bt, x); break;
      case Architecture::kNeox: NeoxBlock(w, bt, x); break;
    }
  }

  // Final norm (Llama: model.norm RMSNorm; OPT: final_layer_norm only when
  // present, i.e. do_layer_norm_before; GPT-2: ln_f; NeoX: final_layer_norm),
  // then lm_head / embed_out (the token embedding when tied).
  const float* out_w = Tensor(w, idx.output);
  std::vector<std::vector<float>> logits(T, std::vector<float>(static_cast<size_t>(c.vocab_size)));
  for (size_t t = 0; t < T; ++t) {
    Vec h = x[t];
    if (idx.final_norm_w >= 0) {
      h = c.arch == Architecture::kLlama
              ? RmsNorm(h, Tensor(w, idx.final_norm_w), c.norm_eps)
              : LayerNorm(h, Tensor(w, idx.final_norm_w), Tensor(w, idx.final_norm_b), c.norm_eps);
    }
    const Vec l = Linear(h, out_w, nullptr, c.vocab_size, d);
    for (size_t i = 0; i < l.size(); ++i) logits[t][i] = static_cast<float>(l[i]);
  }
  return logits;
}

}  // namespace seedtune::testing
