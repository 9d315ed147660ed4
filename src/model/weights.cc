#include "model/weights.h"

#include <cmath>
#include <cstdlib>
#include <cstring>

#include "core/check.h"

namespace seedtune {

void AlignedFree::operator()(float* p) const { std::free(p); }

AlignedFloats AllocateAlignedFloats(size_t n) {
  size_t bytes = ((n * sizeof(float) + 63) / 64) * 64;
  if (bytes == 0) bytes = 64;
  void* p = std::aligned_alloc(64, bytes);
  SEEDTUNE_CHECK_MSG(p != nullptr, "out of memory");
  return AlignedFloats(static_cast<float*>(p));
}

StatusOr<ModelWeights> ModelWeights::Allocate(const ModelConfig& config) {
  ModelWeights w;
  w.config_ = config;
  ASSIGN_OR_RETURN(w.table_, BuildTensorTable(config));
  size_t off = 0;
  int64_t canon = 0;
  for (const auto& s : w.table_.specs) {
    w.offsets_.push_back(off);
    w.canonical_.push_back(canon);
    const int64_t n = s.numel();
    canon += n;
    off += static_cast<size_t>((n + 15) / 16 * 16);
  }
  w.num_params_ = canon;
  w.buffer_floats_ = off;
  w.buffer_ = AllocateAlignedFloats(off);
  std::memset(w.buffer_.get(), 0, off * sizeof(float));
  return w;
}

ModelWeights ModelWeights::Clone() const {
  ModelWeights w;
  w.config_ = config_;
  w.table_ = table_;
  w.offsets_ = offsets_;
  w.canonical_ = canonical_;
  w.num_params_ = num_params_;
  w.buffer_floats_ = buffer_floats_;
  w.buffer_ = AllocateAlignedFloats(buffer_floats_);
  std::memcpy(w.buffer_.get(), buffer_.get(), buffer_floats_ * sizeof(float));
  return w;
}

Status ModelWeights::CheckFinite() const {
  for (size_t i = 0; i < num_tensors(); ++i) {
    auto t = tensor(i);
    for (size_t j = 0; j < t.size(); ++j) {
      if (!std::isfinite(t[j]))
        return DataLoss("tensor {} {} has a non-finite value ({}) at element {}", specs()[i].name,
                        specs()[i].ShapeString(), t[j], j);
    }
  }
  return Status::Ok();
}

}  // namespace seedtune
