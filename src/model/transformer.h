// The batched forward pass over the fp32 master weights, for every
// architecture of model/arch.h.
//
// Variable-length batches are packed, not padded: the sequences' tokens are
// concatenated into one [total_tokens, hidden] activation matrix (every
// linear layer is one GEMM over all of them) and attention runs per
// sequence over its own rows with a causal mask. This is exactly what padding
// plus an attention mask computes, without spending work on pad positions.
//
// Outputs are produced only where asked: the vocabulary projection (the
// largest GEMM of a small model) runs on the rows that need logits or
// next-token log-probabilities, in chunks, so a classification candidate is
// scored without paying for the full vocabulary at every position.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "core/status.h"
#include "core/threading.h"
#include "model/weights.h"

namespace seedtune {

struct SequenceRequest {
  std::vector<int32_t> tokens;
  // Positions whose full logits are returned (negative: from the end, -1 = last).
  std::vector<int32_t> logit_positions;
  // Next-token log-probabilities log p(tokens[p+1] | tokens[0..p]) for p in
  // [score_begin, score_end); requires score_end <= tokens.size() - 1.
  int32_t score_begin = 0;
  int32_t score_end = 0;
};

struct SequenceOutput {
  std::vector<std::vector<float>> logits;  // one row per logit_positions entry
  std::vector<float> token_logprobs;       // score_end - score_begin values
};

// Keys and values of one sequence for incremental decoding.
class KvCache {
 public:
  KvCache(const ModelConfig& config, int64_t capacity);
  int64_t length() const { return length_; }
  int64_t capacity() const { return capacity_; }
  void Clear() { length_ = 0; }
  float* keys(int64_t layer) { return k_.data() + layer * capacity_ * kv_dim_; }
  float* values(int64_t layer) { return v_.data() + layer * capacity_ * kv_dim_; }

 private:
  friend class Transformer;
  int64_t kv_dim_, capacity_, length_ = 0;
  std::vector<float> k_, v_;
};

class Transformer {
 public:
  // Keeps references: `weights` and `ctx` must outlive the Transformer.
  Transformer(const ModelWeights& weights, ThreadingContext& ctx);

  const ModelConfig& config() const { return weights_.config(); }
  const ModelWeights& weights() const { return weights_; }

  // Batched forward. Validates token ids, positions and lengths (an error
  // names the sequence and the offending value).
  StatusOr<std::vector<SequenceOutput>> Forward(std::span<const SequenceRequest> batch);

  // Mean next-token cross-entropy of each sequence over its scored range
  // (convenience over Forward).
  StatusOr<std::vector<double>> SequenceLosses(std::span<const SequenceRequest> batch);

  // Appends `tokens` to the cache and returns the logits after the last one.
  Status Decode(KvCache& cache, std::span<const int32_t> tokens, std::vector<float>* last_logits);

  // Multiply-adds of one forward pass over sequences of these lengths with
  // `output_rows` vocabulary projections (for throughput reports).
  double ForwardMacs(std::span<const int64_t> lengths, int64_t output_rows) const;

 private:
  struct SeqSpan {
    int64_t row = 0;   // first row in the packed matrix
    int64_t len = 0;   // new tokens
    int64_t past = 0;  // positions already in the cache (0 without cache)
  };
  // Runs embeddings + all blocks + final norm over packed rows; leaves the
  // normalized final hidden states in hidden_.
  void RunBody(std::span<const int32_t> tokens, std::span<const SeqSpan> spans, KvCache* cache);
  void Attention(int64_t layer, int64_t total, std::span<const SeqSpan> spans, KvCache* cache);
  void Norm(int w, int b, const float* in, float* out, int64_t rows);
  void Linear(int w, int b, const float* in, int64_t rows, int64_t in_dim, int64_t out_dim, float* out);
  void EnsureWorkspace(int64_t rows, int64_t max_keys);

  const ModelWeights& weights_;
  ThreadingContext& ctx_;
  // Workspace, grown on demand (rows x width).
  int64_t ws_rows_ = 0, ws_keys_ = 0;
  std::vector<float> x_, h_, q_, k_, v_, attn_, tmp_, ff1_, ff2_, rope_, scores_, hidden_, logits_;
  std::vector<int64_t> positions_;
};

}  // namespace seedtune
