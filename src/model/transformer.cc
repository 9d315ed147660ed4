#include "model/transformer.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>

#include "core/check.h"
#include "kernels/gemm.h"
#include "kernels/gemv.h"
#include "kernels/ops.h"

namespace seedtune {

namespace {

// Row chunk for row-wise kernels: fixed, so the split never depends on the
// number of threads (each row is computed by the same code either way).
constexpr int64_t kRowChunk = 16;
// Vocabulary rows of the output projection per tile (the LM head is computed
// tile by tile with an online log-sum-exp; a perturbed tile is materialised
// once for all rows).
constexpr int64_t kVocabTile = 512;
// Rows of the up projection held at once (ff2_), folded into the gate rows
// chunk by chunk; large enough that the GEMM's tiles stay full.
constexpr int64_t kUpRows = 512;
// Largest set of materialised block tensors (all streams) for which a pass
// runs as one task per (stream, sequence) rather than layer by layer.
constexpr size_t kSequenceTaskMaxBytes = size_t{8} << 20;
// Elements per task when materialising a perturbed tensor (a multiple of the
// 64-element z group, so tasks start on group boundaries).
constexpr int64_t kPerturbChunk = 16384;
// Up to this many rows (and unperturbed), a linear layer is a matrix-vector
// product on the master weights.
constexpr int64_t kGemvRows = 2;

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

template <typename V>
void Grow(V& v, size_t n) {
  if (v.size() < n) v.resize(n);
}

}  // namespace

KvCache::KvCache(const ModelConfig& config, int64_t capacity)
    : kv_dim_(config.num_kv_heads * config.head_dim), capacity_(capacity) {
  k_.assign(static_cast<size_t>(config.num_layers * capacity * kv_dim_), 0.0f);
  v_.assign(k_.size(), 0.0f);
}

Transformer::Transformer(const ModelWeights& weights, ThreadingContext& ctx)
    : Transformer(weights, ctx, ActiveSimdLevel()) {}

Transformer::Transformer(const ModelWeights& weights, ThreadingContext& ctx, SimdLevel level)
    : weights_(weights),
      ctx_(ctx),
      level_(std::min(level, DetectedSimdLevel())),
      nr_(GemmGeometryFor(level_).nr) {}

void Transformer::EnsureWorkspace(int64_t rows, int64_t rows_per_stream, int64_t max_keys) {
  const ModelConfig& c = config();
  const int64_t d = c.hidden_size, qd = c.num_heads * c.head_dim, kvd = c.num_kv_heads * c.head_dim;
  const ModelTensors& ix = weights_.index();
  const bool fused_qkv = !ix.blocks.empty() && ix.blocks[0].qkv_w >= 0;
  const bool gated = !ix.blocks.empty() && ix.blocks[0].gate_w >= 0;
  const bool parallel_residual = c.arch == Architecture::kNeox && c.use_parallel_residual;
  const auto r = static_cast<size_t>(rows);
  // Sized to what each buffer holds, since the pair's two streams make the
  // workspace the largest allocation after the weights: q_ also receives the
  // attention output (each query row is read before its output row is
  // written), h_ also the attention output unless a parallel residual
  // still needs it beside the MLP input, hidden_ also the MLP output (it holds the final states only
  // after the last block), and the up projection runs one stream at a time.
  Grow(x_, r * d);
  Grow(h_, r * d);
  Grow(q_, r * qd);
  Grow(k_, r * kvd);
  Grow(v_, r * kvd);
  if (fused_qkv || parallel_residual) Grow(tmp_, r * (fused_qkv ? std::max<int64_t>(3 * d, qd + 2 * kvd) : d));
  Grow(ff1_, r * c.intermediate_size);
  if (gated) Grow(ff2_, static_cast<size_t>(std::min(rows_per_stream, kUpRows) * c.intermediate_size));
  Grow(rope_, r * std::max<int64_t>(c.rotary_dim, 1));
  Grow(scores_, static_cast<size_t>(ctx_.num_threads() * max_keys));
  Grow(hidden_, r * d);
  Grow(positions_, r);
}

const float* Transformer::Weight(int tensor, int stream, Slot slot) {
  if (prepared_parent_ != nullptr) return prepared_parent_->prepared_[tensor][prepared_stream_];
  if (!perturbed_) return weights_.data(tensor);
  if (slot_tensor_[slot] != tensor) {
    const int64_t n = weights_.specs()[tensor].numel();
    float* dst[2];
    for (int s = 0; s < streams_; ++s) {
      Grow(slot_buf_[slot][s], static_cast<size_t>(n));
      dst[s] = slot_buf_[slot][s].data();
    }
    PerturbRange(tensor, 0, n, dst);
    slot_tensor_[slot] = tensor;
  }
  return slot_buf_[slot][stream].data();
}

std::array<const float*, 2> Transformer::PackedWeight(int tensor) {
  if (prepared_parent_ != nullptr) return {prepared_parent_->prepared_[tensor][prepared_stream_], nullptr};
  const TensorSpec& spec = weights_.specs()[tensor];
  const int64_t rows = spec.shape[0], cols = spec.numel() / rows;
  float* dst[2] = {nullptr, nullptr};
  for (int s = 0; s < streams_; ++s) {
    Grow(packed_[s], PackedWeightFloats(rows, cols, nr_));
    dst[s] = packed_[s].data();
  }
  PackRows(tensor, 0, rows, cols, dst);
  return {dst[0], dst[1]};
}

void Transformer::PerturbElements(uint64_t first, int64_t n, const float* theta, float* const* dst) {
  if (streams_ == 2 && scale_[1] == -scale_[0]) {
    PerturbPairZ(seed_, first, n, dist_, scale_[0], theta, dst[0], dst[1]);
  } else {
    for (int s = 0; s < streams_; ++s) PerturbZ(seed_, first, n, dist_, scale_[s], theta, dst[s]);
  }
}

void Transformer::PackRows(int tensor, int64_t row0, int64_t rows, int64_t k, float* const* dst) {
  const float* theta = weights_.data(tensor) + row0 * k;
  const uint64_t canon = static_cast<uint64_t>(weights_.canonical_index(tensor) + row0 * k);
  // Whole panels per task, about kPerturbChunk elements each.
  const int64_t panels = (rows + nr_ - 1) / nr_;
  const int64_t per_task = std::max<int64_t>(1, kPerturbChunk / std::max<int64_t>(1, nr_ * k));
  const size_t tasks = static_cast<size_t>((panels + per_task - 1) / per_task);
  if (perturbed_) {
    for (auto& per_thread : pack_scratch_)
      for (int s = 0; s < streams_; ++s) Grow(per_thread[s], static_cast<size_t>(per_task * nr_ * k));
  }
  ctx_.ParallelFor(tasks, [&](size_t t, int thread) {
    const int64_t r0 = static_cast<int64_t>(t) * per_task * nr_;
    const int64_t n = std::min(per_task * nr_, rows - r0), len = n * k;
    if (!perturbed_) {
      for (int s = 0; s < streams_; ++s) PackWeightRows(theta + r0 * k, n, k, nr_, r0, dst[s]);
      return;
    }
    // theta + s*eps*z of these rows in the canonical order, then into panels
    // (the scratch is a thread's own and stays in its cache).
    float* src[2] = {pack_scratch_[thread][0].data(), pack_scratch_[thread][1].data()};
    PerturbElements(canon + static_cast<uint64_t>(r0 * k), len, theta + r0 * k, src);
    for (int s = 0; s < streams_; ++s) PackWeightRows(src[s], n, k, nr_, r0, dst[s]);
  });
}

void Transformer::PerturbRange(int tensor, int64_t first, int64_t n, float* const* dst) {
  const float* theta = weights_.data(tensor) + first;
  const uint64_t canon = static_cast<uint64_t>(weights_.canonical_index(tensor) + first);
  const size_t tasks = static_cast<size_t>((n + kPerturbChunk - 1) / kPerturbChunk);
  ctx_.ParallelFor(tasks, [&](size_t t, int) {
    const int64_t lo = static_cast<int64_t>(t) * kPerturbChunk, len = std::min(kPerturbChunk, n - lo);
    float* part[2] = {dst[0] + lo, streams_ == 2 ? dst[1] + lo : nullptr};
    PerturbElements(canon + static_cast<uint64_t>(lo), len, theta + lo, part);
  });
}

void Transformer::Norm(int w, int b, const float* in, float* out, int64_t rows) {
  const ModelConfig& c = config();
  const int64_t d = c.hidden_size;
  for (int s = 0; s < streams_; ++s) {
    const float* wp = Weight(w, s, kVectorSlotA);
    const float* src = in + s * rows * d;
    float* dst = out + s * rows * d;
    if (c.arch == Architecture::kLlama) {
      ForRowChunks(ctx_, rows,
                   [&](int64_t r0, int64_t n) { RmsNorm(level_, src + r0 * d, wp, n, d, c.norm_eps, dst + r0 * d); });
    } else {
      const float* bp = Weight(b, s, kVectorSlotB);
      ForRowChunks(ctx_, rows, [&](int64_t r0, int64_t n) {
        LayerNorm(level_, src + r0 * d, wp, bp, n, d, c.norm_eps, dst + r0 * d);
      });
    }
  }
}

void Transformer::MasterGemv(int w, int b, const float* in, int64_t rows, int64_t in_dim, int64_t out_dim,
                             float* out) {
  const float* bias = b >= 0 ? weights_.data(b) : nullptr;
  Gemv(ctx_, level_, in, rows, in_dim, weights_.data(w), out_dim, bias, out);
}

void Transformer::Linear(int w, int b, const float* in, int64_t rows, int64_t in_dim, int64_t out_dim, float* out) {
  if (!perturbed_ && prepared_parent_ == nullptr && rows <= kGemvRows) {
    // Decoding a token or two: a matrix-vector product streams the master
    // weights once; packing them first would read them twice.
    MasterGemv(w, b, in, rows, in_dim, out_dim, out);
    return;
  }
  const std::array<const float*, 2> packed = PackedWeight(w);
  for (int s = 0; s < streams_; ++s) {
    const float* bp = b >= 0 ? Weight(b, s, kVectorSlotA) : nullptr;
    GemmPacked(ctx_, level_, in + s * rows * in_dim, rows, in_dim, packed[s], out_dim, bp, out + s * rows * out_dim);
  }
}

void Transformer::Attention(int64_t layer, std::span<const SeqSpan> spans, KvCache* cache) {
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
    AttentionHead(level_, q_.data() + s.row * qd + h * hd, qd, kbase, vbase, kvd, s.past, s.len, hd, scale,
                  q_.data() + s.row * qd + h * hd, qd, scores_.data() + thread * max_keys);
  });
}

void Transformer::RunBlocks(std::span<const SeqSpan> spans, int64_t T, KvCache* cache) {
  const ModelConfig& c = config();
  const ModelTensors& ix = weights_.index();
  const int64_t S = streams_, R = S * T;
  const int64_t d = c.hidden_size, hd = c.head_dim, nh = c.num_heads, kvh = c.num_kv_heads;
  const int64_t qd = nh * hd, kvd = kvh * hd, f = c.intermediate_size;
  // Rotary table for the T rows of one stream: rotary_dim/2 cosines then sines.
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

  // Row-wise helpers over all R rows. Element-wise kernels run one row at a
  // time so a row's values never depend on where it sits in the batch.
  auto add_rows = [&](const float* src, float* dst) {
    ForRowChunks(ctx_, R, [&](int64_t r0, int64_t n) { AddInPlace(level_, src + r0 * d, dst + r0 * d, n * d); });
  };
  auto mlp = [&](const BlockTensors& b, const float* in, float* out) {
    if (b.gate_w >= 0) {
      Linear(b.gate_w, -1, in, T, d, f, ff1_.data());
      // The up projection kUpRows rows at a time into ff2_, each chunk folded
      // into its gate rows right away.
      const bool gemv = !perturbed_ && prepared_parent_ == nullptr && T <= kGemvRows;  // as in Linear
      std::array<const float*, 2> up = {nullptr, nullptr};
      if (!gemv) up = PackedWeight(b.up_w);
      for (int64_t st = 0; st < S; ++st) {
        for (int64_t c0 = 0; c0 < T; c0 += kUpRows) {
          const int64_t rows = std::min(kUpRows, T - c0);
          const float* x = in + (st * T + c0) * d;
          if (gemv) {
            MasterGemv(b.up_w, -1, x, rows, d, f, ff2_.data());
          } else {
            GemmPacked(ctx_, level_, x, rows, d, up[st], f, nullptr, ff2_.data());
          }
          float* gate = ff1_.data() + (st * T + c0) * f;
          ForRowChunks(ctx_, rows, [&](int64_t r0, int64_t n) {
            for (int64_t r = r0; r < r0 + n; ++r) SiluMul(level_, gate + r * f, ff2_.data() + r * f, f, gate + r * f);
          });
        }
      }
    } else {
      Linear(b.up_w, b.up_b, in, T, d, f, ff1_.data());
      ForRowChunks(ctx_, R, [&](int64_t r0, int64_t n) {
        for (int64_t r = r0; r < r0 + n; ++r) Activate(level_, act, ff1_.data() + r * f, f);
      });
    }
    Linear(b.down_w, b.down_b, ff1_.data(), T, f, d, out);
  };

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
      ForRowChunks(ctx_, R, [&](int64_t r0, int64_t n) {
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
      for (int64_t st = 0; st < S; ++st) {
        float* q = q_.data() + st * T * qd;
        float* k = k_.data() + st * T * kvd;
        ForRowChunks(ctx_, T, [&](int64_t r0, int64_t n) {
          ApplyRope(q + r0 * qd, n, qd, nh, hd, rot, interleaved, rope_.data() + r0 * rot);
          ApplyRope(k + r0 * kvd, n, kvd, kvh, hd, rot, interleaved, rope_.data() + r0 * rot);
        });
      }
    }
    if (cache != nullptr) {
      const SeqSpan& sp = spans[0];
      std::memcpy(cache->keys(l) + sp.past * kvd, k_.data(), T * kvd * sizeof(float));
      std::memcpy(cache->values(l) + sp.past * kvd, v_.data(), T * kvd * sizeof(float));
    }
    Attention(l, spans, cache);
    // The attention input (h_) is dead once q, k, v are projected.
    const bool parallel_residual = c.arch == Architecture::kNeox && c.use_parallel_residual;
    float* attn_out = parallel_residual ? tmp_.data() : h_.data();
    Linear(b.o_w, b.o_b, q_.data(), T, qd, d, attn_out);

    // ---- residual + MLP
    if (post_ln) {  // OPT-350m: x = LN(x + attn(x)); x = LN(x + mlp(x))
      add_rows(attn_out, x_.data());
      Norm(b.attn_norm_w, b.attn_norm_b, x_.data(), h_.data(), T);
      mlp(b, h_.data(), hidden_.data());
      add_rows(hidden_.data(), h_.data());
      Norm(b.mlp_norm_w, b.mlp_norm_b, h_.data(), x_.data(), T);
    } else if (parallel_residual) {
      // x = x + attn(ln1(x)) + mlp(ln2(x)), summed as HF does: (mlp + attn) + x.
      Norm(b.mlp_norm_w, b.mlp_norm_b, x_.data(), h_.data(), T);
      mlp(b, h_.data(), hidden_.data());
      add_rows(attn_out, hidden_.data());
      add_rows(hidden_.data(), x_.data());
    } else {
      add_rows(attn_out, x_.data());
      Norm(b.mlp_norm_w, b.mlp_norm_b, x_.data(), h_.data(), T);
      mlp(b, h_.data(), hidden_.data());
      add_rows(hidden_.data(), x_.data());
    }
  }

}

bool Transformer::UseSequenceTasks(int64_t T, int64_t sequences) const {
  if (ctx_.num_threads() < 2 || sequences < 2 || T <= kGemvRows) return false;
  // Block tensors as every stream sees them must stay small (cache-sized).
  const ModelTensors& ix = weights_.index();
  size_t floats = 0;
  for (size_t t = 0; t < weights_.num_tensors(); ++t) {
    const int ti = static_cast<int>(t);
    if (ti == ix.token_embedding || ti == ix.position_embedding || ti == ix.output) continue;
    const TensorSpec& spec = weights_.specs()[t];
    floats += spec.shape.size() == 2 ? PackedWeightFloats(spec.shape[0], spec.numel() / spec.shape[0], nr_)
                                     : static_cast<size_t>(spec.numel());
  }
  return floats * sizeof(float) * static_cast<size_t>(streams_) <= kSequenceTaskMaxBytes;
}

void Transformer::RunBlocksBySequence(std::span<const SeqSpan> spans_one, int64_t T) {
  const ModelTensors& ix = weights_.index();
  const int64_t d = config().hidden_size;
  // Every block tensor once, in the canonical z of each (same values as the
  // layer-by-layer pass materialises at each use).
  prepared_store_.resize(weights_.num_tensors());
  prepared_.assign(weights_.num_tensors(), {nullptr, nullptr});
  for (size_t t = 0; t < weights_.num_tensors(); ++t) {
    const int ti = static_cast<int>(t);
    if (ti == ix.token_embedding || ti == ix.position_embedding || ti == ix.output) continue;
    const TensorSpec& spec = weights_.specs()[t];
    float* dst[2] = {nullptr, nullptr};
    if (spec.shape.size() == 2) {
      const int64_t rows = spec.shape[0], cols = spec.numel() / rows;
      for (int st = 0; st < streams_; ++st) {
        Grow(prepared_store_[t][st], PackedWeightFloats(rows, cols, nr_));
        dst[st] = prepared_store_[t][st].data();
      }
      PackRows(ti, 0, rows, cols, dst);
    } else if (perturbed_) {
      for (int st = 0; st < streams_; ++st) {
        Grow(prepared_store_[t][st], static_cast<size_t>(spec.numel()));
        dst[st] = prepared_store_[t][st].data();
      }
      PerturbRange(ti, 0, spec.numel(), dst);
    } else {
      dst[0] = const_cast<float*>(weights_.data(ti));
    }
    prepared_[t] = {dst[0], dst[1]};
  }
  while (children_.size() < static_cast<size_t>(ctx_.num_threads())) {
    serial_ctx_.push_back(std::make_unique<ThreadingContext>(1));
    children_.push_back(std::make_unique<Transformer>(weights_, *serial_ctx_.back(), level_));
  }
  const size_t nseq = spans_one.size();
  last_sequence_tasks_ = static_cast<int64_t>(streams_ * nseq);
  ctx_.ParallelFor(streams_ * nseq, [&](size_t task, int thread) {
    const int st = static_cast<int>(task / nseq);
    const SeqSpan& sp = spans_one[task % nseq];
    children_[thread]->RunPreparedBlocks(*this, st, x_.data() + (st * T + sp.row) * d, sp.len);
  });
}

void Transformer::RunPreparedBlocks(const Transformer& parent, int stream, float* rows, int64_t len) {
  const int64_t d = config().hidden_size;
  prepared_parent_ = &parent;
  prepared_stream_ = stream;
  streams_ = 1;
  perturbed_ = false;
  EnsureWorkspace(len, len, len);
  ws_keys_ = len;
  for (int64_t i = 0; i < len; ++i) positions_[i] = i;
  std::memcpy(x_.data(), rows, static_cast<size_t>(len * d) * sizeof(float));
  const SeqSpan one{0, len, 0};
  RunBlocks(std::span<const SeqSpan>(&one, 1), len, nullptr);
  std::memcpy(rows, x_.data(), static_cast<size_t>(len * d) * sizeof(float));
  prepared_parent_ = nullptr;
}

void Transformer::RunBody(std::span<const int32_t> tokens, std::span<const SeqSpan> spans_one, KvCache* cache) {
  const ModelConfig& c = config();
  const ModelTensors& ix = weights_.index();
  const int64_t T = static_cast<int64_t>(tokens.size());  // rows per stream
  const int64_t S = streams_, R = S * T;                   // all rows
  const int64_t d = c.hidden_size;
  int64_t max_keys = 0;
  for (const auto& s : spans_one) max_keys = std::max(max_keys, s.past + s.len);
  EnsureWorkspace(R, T, max_keys);
  ws_keys_ = max_keys;
  for (int& t : slot_tensor_) t = -1;
  if (pack_scratch_.size() != static_cast<size_t>(ctx_.num_threads())) pack_scratch_.resize(ctx_.num_threads());
  // Spans of every stream: stream s's copy of a sequence starts s*T rows later.
  std::vector<SeqSpan> spans;
  for (int64_t st = 0; st < S; ++st)
    for (const auto& sp : spans_one) spans.push_back(SeqSpan{sp.row + st * T, sp.len, sp.past});

  for (const auto& sp : spans_one)
    for (int64_t i = 0; i < sp.len; ++i) positions_[sp.row + i] = sp.past + i;

  // Embeddings (+ learned positions); perturbed rows come from z of exactly
  // the rows looked up.
  const int emb = ix.token_embedding, pos = ix.position_embedding;
  ForRowChunks(ctx_, R, [&](int64_t r0, int64_t n) {
    for (int64_t r = r0; r < r0 + n; ++r) {
      const int64_t t = r % T, st = r / T;
      float* xr = x_.data() + r * d;
      const int64_t erow = static_cast<int64_t>(tokens[t]) * d;
      if (perturbed_) {
        PerturbZ(seed_, static_cast<uint64_t>(weights_.canonical_index(emb) + erow), d, dist_, scale_[st],
                 weights_.data(emb) + erow, xr);
      } else {
        std::memcpy(xr, weights_.data(emb) + erow, d * sizeof(float));
      }
      if (pos >= 0) {
        const int64_t prow = (positions_[t] + c.position_offset) * d;
        if (perturbed_) {
          thread_local std::vector<float> prow_buf;
          prow_buf.resize(static_cast<size_t>(d));
          float* pr = prow_buf.data();
          PerturbZ(seed_, static_cast<uint64_t>(weights_.canonical_index(pos) + prow), d, dist_, scale_[st],
                   weights_.data(pos) + prow, pr);
          AddInPlace(level_, pr, xr, d);
        } else {
          AddInPlace(level_, weights_.data(pos) + prow, xr, d);
        }
      }
    }
  });

  last_sequence_tasks_ = 0;
  if (cache == nullptr && UseSequenceTasks(T, static_cast<int64_t>(spans_one.size()))) {
    RunBlocksBySequence(spans_one, T);
  } else {
    RunBlocks(spans, T, cache);
  }

  if (ix.final_norm_w >= 0) {
    Norm(ix.final_norm_w, ix.final_norm_b, x_.data(), hidden_.data(), T);
  } else {
    std::memcpy(hidden_.data(), x_.data(), R * d * sizeof(float));
  }
}

StatusOr<std::vector<SequenceOutput>> Transformer::Forward(std::span<const SequenceRequest> batch,
                                                           const Perturbation* perturbation) {
  streams_ = 1;
  perturbed_ = perturbation != nullptr;
  if (perturbed_) {
    seed_ = perturbation->seed;
    dist_ = perturbation->dist;
    scale_[0] = perturbation->scale;
  }
  auto out = Run(batch, 1);
  perturbed_ = false;
  if (!out.ok()) return out.status();
  return out;
}

StatusOr<std::array<std::vector<SequenceOutput>, 2>> Transformer::ForwardPair(std::span<const SequenceRequest> batch,
                                                                              uint64_t seed, float eps,
                                                                              ZDistribution dist) {
  streams_ = 2;
  perturbed_ = true;
  seed_ = seed;
  dist_ = dist;
  scale_[0] = eps;
  scale_[1] = -eps;
  auto out = Run(batch, 2);
  perturbed_ = false;
  streams_ = 1;
  if (!out.ok()) return out.status();
  std::array<std::vector<SequenceOutput>, 2> pair;
  const size_t n = batch.size();
  pair[0].assign(std::make_move_iterator(out->begin()), std::make_move_iterator(out->begin() + n));
  pair[1].assign(std::make_move_iterator(out->begin() + n), std::make_move_iterator(out->end()));
  return pair;
}

StatusOr<std::vector<SequenceOutput>> Transformer::Run(std::span<const SequenceRequest> batch, int streams) {
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
    if (req.score_begin < 0 || req.score_end < req.score_begin ||
        (req.score_end > req.score_begin && req.score_end > n - 1))
      return InvalidArgument("sequence {}: score range [{}, {}) invalid for {} tokens", s, req.score_begin,
                             req.score_end, n);
    for (int32_t p : req.logit_positions) {
      if (p >= n || p < -n) return InvalidArgument("sequence {}: logit position {} outside {} tokens", s, p, n);
    }
    spans.push_back(SeqSpan{static_cast<int64_t>(tokens.size()), n, 0});
    tokens.insert(tokens.end(), req.tokens.begin(), req.tokens.end());
  }
  const size_t nseq = batch.size();
  std::vector<SequenceOutput> out(nseq * static_cast<size_t>(streams));
  if (batch.empty()) return out;
  RunBody(tokens, spans, nullptr);
  const int64_t T = static_cast<int64_t>(tokens.size());

  // Rows that need the vocabulary projection (the same for every stream).
  struct OutRow {
    int64_t row;  // row within one stream
    size_t seq;
    std::vector<size_t> logit_slots;
    int64_t score_slot = -1;
    int32_t target = -1;
  };
  std::vector<OutRow> rows;
  for (size_t s = 0; s < nseq; ++s) {
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
      r.target = req.tokens[p + 1];
    }
    for (auto& [p, r] : by_pos) rows.push_back(std::move(r));
    for (int st = 0; st < streams; ++st) {
      out[st * nseq + s].logits.resize(req.logit_positions.size());
      for (auto& lg : out[st * nseq + s].logits) lg.resize(static_cast<size_t>(V));
      out[st * nseq + s].token_logprobs.resize(static_cast<size_t>(req.score_end - req.score_begin));
    }
  }
  const int64_t nr = static_cast<int64_t>(rows.size());
  if (nr == 0) return out;

  // Vocabulary-tiled LM head: logits of tile j for all output rows, one
  // log-sum-exp per (row, tile), combined in tile order at the end.
  const int output = weights_.index().output;
  const int64_t tiles = (V + kVocabTile - 1) / kVocabTile;
  Grow(h_, static_cast<size_t>(streams * nr * d));
  for (int st = 0; st < streams; ++st)
    for (int64_t i = 0; i < nr; ++i)
      std::memcpy(h_.data() + (st * nr + i) * d, hidden_.data() + (st * T + rows[i].row) * d, d * sizeof(float));
  Grow(logits_, static_cast<size_t>(nr * kVocabTile));  // one stream's tile at a time
  std::vector<float> tile_lse(static_cast<size_t>(streams * nr * tiles));
  std::vector<float> target_logit(static_cast<size_t>(streams * nr), 0.0f);
  for (int64_t j = 0; j < tiles; ++j) {
    const int64_t v0 = j * kVocabTile, vn = std::min(kVocabTile, V - v0);
    // The tile, perturbed or not, straight into the GEMM's packed layout.
    float* dst[2];
    for (int st = 0; st < streams; ++st) {
      Grow(out_tile_[st], PackedWeightFloats(kVocabTile, d, nr_));
      dst[st] = out_tile_[st].data();
    }
    PackRows(output, v0, vn, d, dst);
    for (int st = 0; st < streams; ++st) {
      GemmPacked(ctx_, level_, h_.data() + st * nr * d, nr, d, dst[st], vn, nullptr, logits_.data());
      ctx_.ParallelFor(static_cast<size_t>(nr), [&](size_t task, int) {
        const int64_t i = static_cast<int64_t>(task);
        const OutRow& r = rows[i];
        const float* lg = logits_.data() + i * vn;
        SequenceOutput& o = out[st * nseq + r.seq];
        for (size_t slot : r.logit_slots) std::memcpy(o.logits[slot].data() + v0, lg, vn * sizeof(float));
        if (r.score_slot >= 0) {
          tile_lse[(st * nr + i) * tiles + j] = LogSumExp(level_, lg, vn);
          if (r.target >= v0 && r.target < v0 + vn) target_logit[st * nr + i] = lg[r.target - v0];
        }
      });
    }
  }
  for (int64_t st = 0; st < streams; ++st) {
    for (int64_t i = 0; i < nr; ++i) {
      const OutRow& r = rows[i];
      if (r.score_slot < 0) continue;
      const float* l = tile_lse.data() + (st * nr + i) * tiles;
      double mx = l[0];
      for (int64_t j = 1; j < tiles; ++j) mx = std::max<double>(mx, l[j]);
      double sum = 0.0;
      for (int64_t j = 0; j < tiles; ++j) sum += std::exp(static_cast<double>(l[j]) - mx);
      const double lse = mx + std::log(sum);
      out[st * nseq + r.seq].token_logprobs[r.score_slot] =
          static_cast<float>(static_cast<double>(target_logit[st * nr + i]) - lse);
    }
  }
  return out;
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
  streams_ = 1;
  perturbed_ = false;
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
