#include "model/transformer.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>

#include "core/check.h"
#include "kernels/matmul.h"
#include "kernels/ops.h"

namespace seedtune {

namespace {

// Row chunk for row-wise kernels: fixed, so the split never depends on the
// number of threads (each row is computed by the same code either way).
constexpr int64_t kRowChunk = 16;
// Rows of the vocabulary projection computed at once (bounds the logits
// buffer to kOutputChunk x vocab floats).
constexpr int64_t kOutputChunk = 128;

template <typename F>
void ForRowChunks(ThreadingContext& ctx, int64_t rows, F&& f) {
  const size_t tasks = static_cast<size_t>((rows + kRowChunk - 1) / kRowChunk);
  ctx.ParallelFor(tasks, [&](size_t t, int) {
    const int64_t r0 = static_cast<int64_t>(t) * kRowChunk;
    f(r0, std::min(kRowChunk, rows - r0));
  });
}

KernelActivation ToKernel(Activation a) {
  switch (a) {
    case Activation::kSilu: return KernelActivation::kSilu;
    case Activation::kRelu: return KernelActivation::kRelu;
    case Activation::kGeluTanh: return KernelActivation::kGeluTanh;
    case Activation::kGeluErf: return KernelActivation::kGeluErf;
  }
  return KernelActivation::kSilu;
}

template <typename T>
void Grow(std::vector<T>& v, size_t n) {
  if (v.size() < n) v.resize(n);
}

}  // namespace

KvCache::KvCache(const ModelConfig& config, int64_t capacity)
    : kv_dim_(config.num_kv_heads * config.head_dim), capacity_(capacity) {
  k_.assign(static_cast<size_t>(config.num_layers * capacity * kv_dim_), 0.0f);
  v_.assign(k_.size(), 0.0f);
}

Transformer::Transformer(const ModelWeights& weights, ThreadingContext& ctx) : weights_(weights), ctx_(ctx) {
  InitBlasSingleThreaded();
}

void Transformer::EnsureWorkspace(int64_t rows, int64_t max_keys) {
  const ModelConfig& c = config();
  const int64_t d = c.hidden_size, qd = c.num_heads * c.head_dim, kvd = c.num_kv_heads * c.head_dim;
  const auto r = static_cast<size_t>(rows);
  Grow(x_, r * d);
  Grow(h_, r * d);
  Grow(q_, r * qd);
  Grow(k_, r * kvd);
  Grow(v_, r * kvd);
  Grow(attn_, r * qd);
  Grow(tmp_, r * std::max<int64_t>(3 * d, qd + 2 * kvd));
  Grow(ff1_, r * c.intermediate_size);
  Grow(ff2_, r * std::max<int64_t>(c.intermediate_size, d));
  Grow(rope_, r * std::max<int64_t>(c.rotary_dim, 1));
  Grow(scores_, static_cast<size_t>(ctx_.num_threads() * max_keys));
  Grow(hidden_, r * d);
  Grow(positions_, r);
}

void Transformer::Norm(int w, int b, const float* in, float* out, int64_t rows) {
  const ModelConfig& c = config();
  const int64_t d = c.hidden_size;
  const float* wp = weights_.data(w);
  if (c.arch == Architecture::kLlama) {
    ForRowChunks(ctx_, rows, [&](int64_t r0, int64_t n) { RmsNorm(in + r0 * d, wp, n, d, c.norm_eps, out + r0 * d); });
  } else {
    const float* bp = weights_.data(b);
    ForRowChunks(ctx_, rows,
                 [&](int64_t r0, int64_t n) { LayerNorm(in + r0 * d, wp, bp, n, d, c.norm_eps, out + r0 * d); });
  }
}

void Transformer::Linear(int w, int b, const float* in, int64_t rows, int64_t in_dim, int64_t out_dim, float* out) {
  MatMulTransB(ctx_, in, rows, in_dim, weights_.data(w), out_dim, b >= 0 ? weights_.data(b) : nullptr, out);
}

void Transformer::Attention(int64_t layer, int64_t total, std::span<const SeqSpan> spans, KvCache* cache) {
  const ModelConfig& c = config();
  const int64_t hd = c.head_dim, nh = c.num_heads, qd = nh * hd, kvd = c.num_kv_heads * hd;
  const int64_t group = nh / c.num_kv_heads;
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
  const int64_t max_keys = ws_keys_;
  ctx_.ParallelFor(spans.size() * static_cast<size_t>(nh), [&](size_t task, int thread) {
    const SeqSpan& s = spans[task / nh];
    const int64_t h = static_cast<int64_t>(task % nh), kvh = h / group;
    const float* kbase;
    const float* vbase;
    if (cache != nullptr) {
      kbase = cache->keys(layer) + kvh * hd;
      vbase = cache->values(layer) + kvh * hd;
    } else {
      kbase = k_.data() + s.row * kvd + kvh * hd;
      vbase = v_.data() + s.row * kvd + kvh * hd;
    }
    AttentionHead(q_.data() + s.row * qd + h * hd, qd, kbase, vbase, kvd, s.past, s.len, hd, scale,
                  attn_.data() + s.row * qd + h * hd, qd, scores_.data() + thread * max_keys);
  });
  (void)total;
}

void Transformer::RunBody(std::span<const int32_t> tokens, std::span<const SeqSpan> spans, KvCache* cache) {
  const ModelConfig& c = config();
  const ModelTensors& ix = weights_.index();
  const int64_t T = static_cast<int64_t>(tokens.size());
  const int64_t d = c.hidden_size, hd = c.head_dim, nh = c.num_heads, kvh = c.num_kv_heads;
  const int64_t qd = nh * hd, kvd = kvh * hd, f = c.intermediate_size;
  int64_t max_keys = 0;
  for (const auto& s : spans) max_keys = std::max(max_keys, s.past + s.len);
  EnsureWorkspace(T, max_keys);
  ws_keys_ = max_keys;

  for (const auto& s : spans)
    for (int64_t i = 0; i < s.len; ++i) positions_[s.row + i] = s.past + i;

  // Embeddings (+ learned positions).
  const float* emb = weights_.data(ix.token_embedding);
  const float* pos_emb = ix.position_embedding >= 0 ? weights_.data(ix.position_embedding) : nullptr;
  ForRowChunks(ctx_, T, [&](int64_t r0, int64_t n) {
    for (int64_t r = r0; r < r0 + n; ++r) {
      std::memcpy(x_.data() + r * d, emb + static_cast<int64_t>(tokens[r]) * d, d * sizeof(float));
      if (pos_emb != nullptr) AddInPlace(pos_emb + (positions_[r] + c.position_offset) * d, x_.data() + r * d, d);
    }
  });

  // Rotary table: per row, rotary_dim/2 cosines then sines.
  const bool rotary = c.rope_layout != RopeLayout::kNone;
  const int64_t rot = c.rotary_dim;
  if (rotary) {
    for (int64_t r = 0; r < T; ++r) {
      float* cs = rope_.data() + r * rot;
      for (int64_t i = 0; i < rot / 2; ++i) {
        const double inv_freq = std::pow(static_cast<double>(c.rope_theta), -2.0 * static_cast<double>(i) / rot);
        const double angle = static_cast<double>(positions_[r]) * inv_freq;
        cs[i] = static_cast<float>(std::cos(angle));
        cs[rot / 2 + i] = static_cast<float>(std::sin(angle));
      }
    }
  }
  const bool interleaved = c.rope_layout == RopeLayout::kInterleaved;
  const KernelActivation act = ToKernel(c.activation);
  const bool post_ln = c.arch == Architecture::kOpt && !c.do_layer_norm_before;

  for (int64_t l = 0; l < c.num_layers; ++l) {
    const BlockTensors& b = ix.blocks[l];
    // ---- attention input
    const float* attn_in = x_.data();
    if (!post_ln) {
      Norm(b.attn_norm_w, b.attn_norm_b, x_.data(), h_.data(), T);
      attn_in = h_.data();
    }
    if (b.qkv_w >= 0) {
      Linear(b.qkv_w, b.qkv_b, attn_in, T, d, 3 * d, tmp_.data());
      const bool neox = c.arch == Architecture::kNeox;
      ForRowChunks(ctx_, T, [&](int64_t r0, int64_t n) {
        for (int64_t r = r0; r < r0 + n; ++r) {
          const float* src = tmp_.data() + r * 3 * d;
          if (neox) {  // per head: [q | k | v] of head_dim each
            for (int64_t h = 0; h < nh; ++h) {
              std::memcpy(q_.data() + r * qd + h * hd, src + h * 3 * hd, hd * sizeof(float));
              std::memcpy(k_.data() + r * kvd + h * hd, src + h * 3 * hd + hd, hd * sizeof(float));
              std::memcpy(v_.data() + r * kvd + h * hd, src + h * 3 * hd + 2 * hd, hd * sizeof(float));
            }
          } else {  // GPT-2: [q (d) | k (d) | v (d)]
            std::memcpy(q_.data() + r * qd, src, d * sizeof(float));
            std::memcpy(k_.data() + r * kvd, src + d, d * sizeof(float));
            std::memcpy(v_.data() + r * kvd, src + 2 * d, d * sizeof(float));
          }
        }
      });
    } else {
      Linear(b.q_w, b.q_b, attn_in, T, d, qd, q_.data());
      Linear(b.k_w, b.k_b, attn_in, T, d, kvd, k_.data());
      Linear(b.v_w, b.v_b, attn_in, T, d, kvd, v_.data());
    }
    if (rotary) {
      ForRowChunks(ctx_, T, [&](int64_t r0, int64_t n) {
        ApplyRope(q_.data() + r0 * qd, n, qd, nh, hd, rot, interleaved, rope_.data() + r0 * rot);
        ApplyRope(k_.data() + r0 * kvd, n, kvd, kvh, hd, rot, interleaved, rope_.data() + r0 * rot);
      });
    }
    if (cache != nullptr) {
      const SeqSpan& s = spans[0];
      std::memcpy(cache->keys(l) + s.past * kvd, k_.data(), T * kvd * sizeof(float));
      std::memcpy(cache->values(l) + s.past * kvd, v_.data(), T * kvd * sizeof(float));
    }
    Attention(l, T, spans, cache);
    Linear(b.o_w, b.o_b, attn_.data(), T, qd, d, tmp_.data());

    // ---- residual + MLP
    auto mlp = [&](const float* in, float* out) {
      if (b.gate_w >= 0) {
        Linear(b.gate_w, -1, in, T, d, f, ff1_.data());
        Linear(b.up_w, -1, in, T, d, f, ff2_.data());
        ForRowChunks(ctx_, T, [&](int64_t r0, int64_t n) {
          SiluMul(ff1_.data() + r0 * f, ff2_.data() + r0 * f, n * f, ff1_.data() + r0 * f);
        });
      } else {
        Linear(b.up_w, b.up_b, in, T, d, f, ff1_.data());
        ForRowChunks(ctx_, T, [&](int64_t r0, int64_t n) { Activate(act, ff1_.data() + r0 * f, n * f); });
      }
      Linear(b.down_w, b.down_b, ff1_.data(), T, f, d, out);
    };
    auto add_rows = [&](const float* src, float* dst) {
      ForRowChunks(ctx_, T, [&](int64_t r0, int64_t n) { AddInPlace(src + r0 * d, dst + r0 * d, n * d); });
    };

    if (post_ln) {  // OPT-350m: x = LN(x + attn(x)); x = LN(x + mlp(x))
      add_rows(tmp_.data(), x_.data());
      Norm(b.attn_norm_w, b.attn_norm_b, x_.data(), h_.data(), T);
      mlp(h_.data(), ff2_.data());
      add_rows(ff2_.data(), h_.data());
      Norm(b.mlp_norm_w, b.mlp_norm_b, h_.data(), x_.data(), T);
    } else if (c.arch == Architecture::kNeox && c.use_parallel_residual) {
      // x = x + attn(ln1(x)) + mlp(ln2(x)), with the sum taken as HF does: (mlp + attn) + x.
      Norm(b.mlp_norm_w, b.mlp_norm_b, x_.data(), h_.data(), T);
      mlp(h_.data(), ff2_.data());
      add_rows(tmp_.data(), ff2_.data());
      add_rows(ff2_.data(), x_.data());
    } else {
      add_rows(tmp_.data(), x_.data());
      Norm(b.mlp_norm_w, b.mlp_norm_b, x_.data(), h_.data(), T);
      mlp(h_.data(), ff2_.data());
      add_rows(ff2_.data(), x_.data());
    }
  }

  if (ix.final_norm_w >= 0) {
    Norm(ix.final_norm_w, ix.final_norm_b, x_.data(), hidden_.data(), T);
  } else {
    std::memcpy(hidden_.data(), x_.data(), T * d * sizeof(float));
  }
}

StatusOr<std::vector<SequenceOutput>> Transformer::Forward(std::span<const SequenceRequest> batch) {
  const ModelConfig& c = config();
  const int64_t V = c.vocab_size, d = c.hidden_size;
  std::vector<int32_t> tokens;
  std::vector<SeqSpan> spans;
  for (size_t s = 0; s < batch.size(); ++s) {
    const SequenceRequest& req = batch[s];
    const int64_t n = static_cast<int64_t>(req.tokens.size());
    if (n == 0) return InvalidArgument("sequence {} of the batch is empty", s);
    if (n > c.max_positions)
      return InvalidArgument("sequence {} has {} tokens, more than the model's context of {}", s, n, c.max_positions);
    for (int64_t i = 0; i < n; ++i) {
      if (req.tokens[i] < 0 || req.tokens[i] >= V)
        return InvalidArgument("sequence {} position {}: token id {} outside the vocabulary [0, {})", s, i,
                               req.tokens[i], V);
    }
    if (req.score_begin < 0 || req.score_end < req.score_begin || (req.score_end > req.score_begin && req.score_end > n - 1))
      return InvalidArgument("sequence {}: score range [{}, {}) invalid for {} tokens", s, req.score_begin,
                             req.score_end, n);
    for (int32_t p : req.logit_positions) {
      if (p >= n || p < -n) return InvalidArgument("sequence {}: logit position {} outside {} tokens", s, p, n);
    }
    spans.push_back(SeqSpan{static_cast<int64_t>(tokens.size()), n, 0});
    tokens.insert(tokens.end(), req.tokens.begin(), req.tokens.end());
  }
  std::vector<SequenceOutput> out(batch.size());
  if (batch.empty()) return out;
  RunBody(tokens, spans, nullptr);

  // Rows that need the vocabulary projection.
  struct OutRow {
    int64_t row;
    size_t seq;
    std::vector<size_t> logit_slots;
    int64_t score_slot = -1;
  };
  std::vector<OutRow> rows;
  for (size_t s = 0; s < batch.size(); ++s) {
    const SequenceRequest& req = batch[s];
    const int64_t n = static_cast<int64_t>(req.tokens.size());
    std::map<int64_t, OutRow> by_pos;
    for (size_t j = 0; j < req.logit_positions.size(); ++j) {
      const int64_t p = req.logit_positions[j] < 0 ? n + req.logit_positions[j] : req.logit_positions[j];
      auto& r = by_pos[p];
      r.row = spans[s].row + p;
      r.seq = s;
      r.logit_slots.push_back(j);
    }
    for (int64_t p = req.score_begin; p < req.score_end; ++p) {
      auto& r = by_pos[p];
      r.row = spans[s].row + p;
      r.seq = s;
      r.score_slot = p - req.score_begin;
    }
    for (auto& [p, r] : by_pos) rows.push_back(std::move(r));
    out[s].logits.resize(req.logit_positions.size());
    out[s].token_logprobs.resize(static_cast<size_t>(req.score_end - req.score_begin));
  }

  Grow(logits_, static_cast<size_t>(kOutputChunk * V));
  const int output = weights_.index().output;
  for (size_t c0 = 0; c0 < rows.size(); c0 += kOutputChunk) {
    const int64_t nrows = std::min<int64_t>(kOutputChunk, static_cast<int64_t>(rows.size() - c0));
    for (int64_t i = 0; i < nrows; ++i)
      std::memcpy(h_.data() + i * d, hidden_.data() + rows[c0 + i].row * d, d * sizeof(float));
    Linear(output, -1, h_.data(), nrows, d, V, logits_.data());
    ctx_.ParallelFor(static_cast<size_t>(nrows), [&](size_t i, int) {
      const OutRow& r = rows[c0 + i];
      const float* lg = logits_.data() + static_cast<int64_t>(i) * V;
      for (size_t slot : r.logit_slots) out[r.seq].logits[slot].assign(lg, lg + V);
      if (r.score_slot >= 0) {
        const SequenceRequest& req = batch[r.seq];
        const int32_t target = req.tokens[req.score_begin + r.score_slot + 1];
        out[r.seq].token_logprobs[r.score_slot] = lg[target] - LogSumExp(lg, V);
      }
    });
  }
  return out;
}

StatusOr<std::vector<double>> Transformer::SequenceLosses(std::span<const SequenceRequest> batch) {
  ASSIGN_OR_RETURN(auto outputs, Forward(batch));
  std::vector<double> losses;
  for (const auto& o : outputs) {
    double sum = 0.0;
    for (float lp : o.token_logprobs) sum -= lp;
    losses.push_back(o.token_logprobs.empty() ? 0.0 : sum / static_cast<double>(o.token_logprobs.size()));
  }
  return losses;
}

Status Transformer::Decode(KvCache& cache, std::span<const int32_t> tokens, std::vector<float>* last_logits) {
  const ModelConfig& c = config();
  const int64_t n = static_cast<int64_t>(tokens.size());
  if (n == 0) return InvalidArgument("Decode: no tokens");
  if (cache.length_ + n > cache.capacity_)
    return InvalidArgument("Decode: {} + {} tokens exceed the KV cache capacity {}", cache.length_, n,
                           cache.capacity_);
  if (cache.length_ + n > c.max_positions)
    return InvalidArgument("Decode: {} tokens exceed the model's context of {}", cache.length_ + n, c.max_positions);
  for (int32_t t : tokens)
    if (t < 0 || t >= c.vocab_size) return InvalidArgument("Decode: token id {} outside [0, {})", t, c.vocab_size);
  SeqSpan span{0, n, cache.length_};
  RunBody(tokens, std::span<const SeqSpan>(&span, 1), &cache);
  cache.length_ += n;
  const int64_t d = c.hidden_size;
  last_logits->resize(static_cast<size_t>(c.vocab_size));
  Linear(weights_.index().output, -1, hidden_.data() + (n - 1) * d, 1, d, c.vocab_size, last_logits->data());
  return Status::Ok();
}

double Transformer::ForwardMacs(std::span<const int64_t> lengths, int64_t output_rows) const {
  const ModelConfig& c = config();
  double per_token = 0.0;
  for (const auto& s : weights_.specs())
    if (s.role == TensorRole::kLinearWeight) per_token += static_cast<double>(s.numel());
  double total = 0.0;
  for (int64_t n : lengths) {
    total += per_token * n;
    // QK^T and PV: each query attends to (i + 1) keys, per head.
    total += 2.0 * c.num_layers * c.num_heads * c.head_dim * (static_cast<double>(n) * (n + 1) / 2.0);
  }
  total += static_cast<double>(output_rows) * c.vocab_size * c.hidden_size;
  return total;
}

}  // namespace seedtune
