// fp32 master weights: every tensor of the table in one contiguous, 64-byte
// aligned buffer, in canonical order. Tensor i starts at offset(i) floats;
// offsets are padded to 16 floats, and canonical_index(i) gives the element
// index of the tensor's first element in the unpadded canonical parameter
// order (what shared-randomness counters are derived from).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/status.h"
#include "model/arch.h"
#include "model/config.h"

namespace seedtune {

struct AlignedFree {
  void operator()(float* p) const;
};
using AlignedFloats = std::unique_ptr<float[], AlignedFree>;
// 64-byte aligned, uninitialised.
AlignedFloats AllocateAlignedFloats(size_t n);

class ModelWeights {
 public:
  // Builds the tensor table for `config` and a zero-filled buffer.
  static StatusOr<ModelWeights> Allocate(const ModelConfig& config);

  ModelWeights() = default;
  ModelWeights(ModelWeights&&) = default;
  ModelWeights& operator=(ModelWeights&&) = default;

  // Deep copy (separate buffer).
  ModelWeights Clone() const;

  const ModelConfig& config() const { return config_; }
  const TensorTable& table() const { return table_; }
  const std::vector<TensorSpec>& specs() const { return table_.specs; }
  const ModelTensors& index() const { return table_.index; }
  size_t num_tensors() const { return table_.specs.size(); }

  float* data(size_t i) { return buffer_.get() + offsets_[i]; }
  const float* data(size_t i) const { return buffer_.get() + offsets_[i]; }
  std::span<float> tensor(size_t i) { return {data(i), static_cast<size_t>(table_.specs[i].numel())}; }
  std::span<const float> tensor(size_t i) const { return {data(i), static_cast<size_t>(table_.specs[i].numel())}; }
  size_t offset(size_t i) const { return offsets_[i]; }
  int64_t canonical_index(size_t i) const { return canonical_[i]; }

  int64_t num_params() const { return num_params_; }
  size_t buffer_floats() const { return buffer_floats_; }
  float* buffer() { return buffer_.get(); }
  const float* buffer() const { return buffer_.get(); }

  // Non-finite values are a load error: returns the first offending tensor and element.
  Status CheckFinite() const;

 private:
  ModelConfig config_;
  TensorTable table_;
  std::vector<size_t> offsets_;
  std::vector<int64_t> canonical_;
  int64_t num_params_ = 0;
  size_t buffer_floats_ = 0;
  AlignedFloats buffer_;
};

}  // namespace seedtune
