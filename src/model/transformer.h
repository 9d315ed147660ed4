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

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "core/aligned.h"
#include "core/status.h"
#include "core/threading.h"
#include "kernels/cpu.h"
#include "kernels/random.h"
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

// A forward pass at theta + scale * z(seed) instead of theta. The fp32 master
// weights are never written: each tensor is materialised perturbed into
// scratch right before it is used (z regenerated from the seed by canonical
// element index, kernels/random.h), embedding rows as they are looked up,
// and the output projection one vocabulary tile at a time.
struct Perturbation {
  uint64_t seed = 0;
  float scale = 0.0f;
  ZDistribution dist = ZDistribution::kGaussian;
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

// The CPU forward pass. Code outside backend/ reaches it through a
// ComputeBackend (backend/backend.h), which pairs it with the update and
// fingerprint primitives.
class Transformer {
 public:
  // Keeps references: `weights` and `ctx` must outlive the Transformer. Runs
  // on ActiveSimdLevel() as it is at construction.
  Transformer(const ModelWeights& weights, ThreadingContext& ctx);
  // Runs its GEMMs and row kernels on `level` (capped at DetectedSimdLevel()),
  // whatever the process-wide level is; kScalar also computes decoding's
  // matrix-vector products with the GEMM contract's plain loop instead of
  // OpenBLAS, so a scalar Transformer runs on reference code only. z is
  // generated through the process-wide path (kernels/random.h: every path
  // gives the same bits).
  Transformer(const ModelWeights& weights, ThreadingContext& ctx, SimdLevel level);

  const ModelConfig& config() const { return weights_.config(); }
  const ModelWeights& weights() const { return weights_; }
  SimdLevel simd_level() const { return level_; }

  // Batched forward. Validates token ids, positions and lengths (an error
  // names the sequence and the offending value).
  StatusOr<std::vector<SequenceOutput>> Forward(std::span<const SequenceRequest> batch,
                                                const Perturbation* perturbation = nullptr);

  // The two SPSA evaluations of one batch, at theta + eps z(seed) ([0]) and
  // theta - eps z(seed) ([1]), run side by side so z is generated once per
  // tensor. Each result is bit-identical to Forward with the matching
  // Perturbation.
  StatusOr<std::array<std::vector<SequenceOutput>, 2>> ForwardPair(std::span<const SequenceRequest> batch,
                                                                   uint64_t seed, float eps,
                                                                   ZDistribution dist = ZDistribution::kGaussian);


  // Appends `tokens` to the cache and returns the logits after the last one.
  Status Decode(KvCache& cache, std::span<const int32_t> tokens, std::vector<float>* last_logits);

  // Multiply-adds of one forward pass over sequences of these lengths with
  // `output_rows` vocabulary projections (for throughput reports).
  double ForwardMacs(std::span<const int64_t> lengths, int64_t output_rows) const;

  // (stream, sequence) tasks the last pass ran its blocks as (0: layer by
  // layer); see RunBlocksBySequence.
  int64_t last_sequence_tasks() const { return last_sequence_tasks_; }

 private:
  struct SeqSpan {
    int64_t row = 0;   // first row in the packed matrix
    int64_t len = 0;   // new tokens
    int64_t past = 0;  // positions already in the cache (0 without cache)
  };
  // Scratch slots for materialised perturbed vectors: up to two (bias, or
  // LayerNorm weight + bias) are alive at once. Matrices go to packed_.
  enum Slot { kVectorSlotA = 0, kVectorSlotB = 1, kNumSlots = 2 };

  StatusOr<std::vector<SequenceOutput>> Run(std::span<const SequenceRequest> batch, int streams);
  // Runs embeddings + all blocks + final norm over packed rows, for every
  // stream (stream s owns rows [s*T, (s+1)*T)); leaves the normalized final
  // hidden states in hidden_.
  void RunBody(std::span<const int32_t> tokens, std::span<const SeqSpan> spans, KvCache* cache);
  // The transformer blocks over x_ (T rows per stream), layer by layer, each
  // operation parallel over all rows.
  void RunBlocks(std::span<const SeqSpan> spans, int64_t T, KvCache* cache);
  // Small models: every block tensor is materialised (packed, perturbed) once
  // up front, then each (stream, sequence) runs all blocks as one task on its
  // own rows, so a pass costs one hand-off instead of a few per operation.
  // Bit-identical to RunBlocks: every operation is row-independent within a
  // sequence, and the GEMM's chains do not depend on the batch.
  bool UseSequenceTasks(int64_t T, int64_t sequences) const;
  void RunBlocksBySequence(std::span<const SeqSpan> spans, int64_t T);
  // A child view's part of RunBlocksBySequence: `len` rows of stream `stream`
  // at `rows` (in and out) through every block, with the parent's weights.
  void RunPreparedBlocks(const Transformer& parent, int stream, float* rows, int64_t len);
  void Attention(int64_t layer, std::span<const SeqSpan> spans, KvCache* cache);
  void Norm(int w, int b, const float* in, float* out, int64_t rows_per_stream);
  // rows x in_dim times the master weight matrix w (and bias b): decoding's
  // matrix-vector product (OpenBLAS, or the plain loop on the scalar path).
  void MasterGemv(int w, int b, const float* in, int64_t rows, int64_t in_dim, int64_t out_dim, float* out);
  void Linear(int w, int b, const float* in, int64_t rows_per_stream, int64_t in_dim, int64_t out_dim, float* out);
  // The tensor as stream `stream` sees it (master, or perturbed in a slot).
  const float* Weight(int tensor, int stream, Slot slot);
  // The matrix `tensor` in the GEMM's packed layout, one copy per stream
  // (perturbed when the run is), packed anew at each use.
  std::array<const float*, 2> PackedWeight(int tensor);
  // theta + scale_s * z for canonical elements [first, first + n), theta
  // pointing at element `first`, into dst[s] for every stream; z is generated
  // once for a +-eps pair.
  void PerturbElements(uint64_t first, int64_t n, const float* theta, float* const* dst);
  // Rows [row0, row0 + rows) of matrix `tensor` (k columns), as every stream
  // sees them, packed into dst[s] (panel rows relative to row0). A perturbed
  // row block is generated in the canonical order into per-thread scratch and
  // packed from there, so z is generated once for both streams of a pair.
  void PackRows(int tensor, int64_t row0, int64_t rows, int64_t k, float* const* dst);
  // theta + scale_s * z for elements [first, first + n) of tensor `tensor`
  // (canonical offsets), for every stream, into dst[s] (n floats each).
  void PerturbRange(int tensor, int64_t first, int64_t n, float* const* dst);
  void EnsureWorkspace(int64_t rows, int64_t rows_per_stream, int64_t max_keys);

  const ModelWeights& weights_;
  ThreadingContext& ctx_;
  // Perturbation state of the run in progress.
  int streams_ = 1;
  bool perturbed_ = false;
  uint64_t seed_ = 0;
  ZDistribution dist_ = ZDistribution::kGaussian;
  float scale_[2] = {0.0f, 0.0f};
  int slot_tensor_[kNumSlots] = {-1, -1};
  std::vector<float> slot_buf_[kNumSlots][2];
  // SIMD path of the GEMMs and row kernels, and its packed panel width.
  const SimdLevel level_;
  const int nr_;
  AlignedVector<float> packed_[2];
  std::vector<std::array<AlignedVector<float>, 2>> pack_scratch_;  // per thread, per stream
  // Sequence tasks: every block tensor as each stream sees it (packed
  // matrices, vectors), per tensor; children are per-thread serial views.
  std::vector<std::array<AlignedVector<float>, 2>> prepared_store_;
  std::vector<std::array<const float*, 2>> prepared_;
  const Transformer* prepared_parent_ = nullptr;  // set while a child runs
  int prepared_stream_ = 0;
  std::vector<std::unique_ptr<ThreadingContext>> serial_ctx_;
  std::vector<std::unique_ptr<Transformer>> children_;
  int64_t last_sequence_tasks_ = 0;
  // Workspace, grown on demand (rows x width).
  int64_t ws_keys_ = 0;
  std::vector<float> x_, h_, q_, k_, v_, tmp_, ff1_, ff2_, rope_, scores_, hidden_, logits_;
  AlignedVector<float> out_tile_[2];
  std::vector<int64_t> positions_;
};

}  // namespace seedtune
