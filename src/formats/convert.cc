#include "formats/convert.h"

#include <cstring>
#include <vector>

#include "formats/llama2c.h"

namespace seedtune {

namespace {

// RoPE rotates pairs of dimensions of each head. With rotary_dim = rot
// (rot <= head_dim = hd, rot even) the two conventions pair:
//   interleaved (llama2.c, GGUF, Meta):  (2i, 2i+1)      for i < rot/2
//   rotate-half (Hugging Face):          (i, i + rot/2)  for i < rot/2
// Dimension j of head h comes from row r = h*hd + j of the Q (or K)
// projection, so permuting those rows (and the bias entries) within each head
// turns one convention into the other without changing attention scores:
//   interleaved row 2i   <-> rotate-half row i
//   interleaved row 2i+1 <-> rotate-half row i + rot/2
// i.e. to rotate-half: new[i] = old[2i], new[i + rot/2] = old[2i + 1];
//      to interleaved: new[2i] = old[i], new[2i + 1] = old[i + rot/2].
// Rows j >= rot (NeoX partial rotary) do not rotate and stay in place.
// (This is the permutation HF's convert_llama_weights_to_hf applies to Meta
// checkpoints, written as a view [heads, rot/2, 2, in] -> transpose(1, 2).)
void PermuteHeadRows(float* data, int64_t row_len, int64_t first_row, int64_t rot, RopeLayout target,
                     std::vector<float>* scratch) {
  const int64_t half = rot / 2;
  const size_t row_bytes = static_cast<size_t>(row_len) * sizeof(float);
  float* block = data + first_row * row_len;
  scratch->assign(block, block + rot * row_len);
  const float* old = scratch->data();
  for (int64_t i = 0; i < half; ++i) {
    if (target == RopeLayout::kRotateHalf) {
      std::memcpy(block + i * row_len, old + (2 * i) * row_len, row_bytes);
      std::memcpy(block + (i + half) * row_len, old + (2 * i + 1) * row_len, row_bytes);
    } else {
      std::memcpy(block + (2 * i) * row_len, old + i * row_len, row_bytes);
      std::memcpy(block + (2 * i + 1) * row_len, old + (i + half) * row_len, row_bytes);
    }
  }
}

}  // namespace

StatusOr<ModelWeights> ConvertRopeLayout(const ModelWeights& weights, RopeLayout target) {
  const ModelConfig& c = weights.config();
  const RopeLayout source = c.rope_layout;
  if (source == target) return weights.Clone();
  if (source == RopeLayout::kNone || target == RopeLayout::kNone)
    return InvalidArgument("cannot convert RoPE layout of a {} model from {} to {}", ArchitectureName(c.arch),
                           RopeLayoutName(source), RopeLayoutName(target));
  if (c.arch != Architecture::kLlama && c.arch != Architecture::kNeox)
    return InvalidArgument("RoPE layout conversion is not defined for {}", ArchitectureName(c.arch));

  ModelConfig nc = c;
  nc.rope_layout = target;
  ASSIGN_OR_RETURN(ModelWeights out, ModelWeights::Allocate(nc));
  if (out.buffer_floats() != weights.buffer_floats())
    return InternalError("tensor table changed with the RoPE layout");
  std::memcpy(out.buffer(), weights.buffer(), weights.buffer_floats() * sizeof(float));

  const int64_t hd = c.head_dim, rot = c.rotary_dim, d = c.hidden_size;
  std::vector<float> scratch;
  // Permutes the rotary rows of `heads` heads of tensor `idx` whose head h
  // starts at row h * stride + offset.
  auto permute = [&](int idx, int64_t row_len, int64_t heads, int64_t stride, int64_t offset) {
    if (idx < 0) return;
    for (int64_t h = 0; h < heads; ++h)
      PermuteHeadRows(out.data(static_cast<size_t>(idx)), row_len, h * stride + offset, rot, target, &scratch);
  };
  for (const BlockTensors& b : out.index().blocks) {
    if (c.arch == Architecture::kLlama) {
      permute(b.q_w, d, c.num_heads, hd, 0);
      permute(b.q_b, 1, c.num_heads, hd, 0);
      permute(b.k_w, d, c.num_kv_heads, hd, 0);
      permute(b.k_b, 1, c.num_kv_heads, hd, 0);
    } else {
      // NeoX query_key_value rows: head h holds [q (hd rows), k (hd), v (hd)].
      permute(b.qkv_w, d, c.num_heads, 3 * hd, 0);
      permute(b.qkv_w, d, c.num_heads, 3 * hd, hd);
      permute(b.qkv_b, 1, c.num_heads, 3 * hd, 0);
      permute(b.qkv_b, 1, c.num_heads, 3 * hd, hd);
    }
  }
  return out;
}

Status ExportModel(const ModelWeights& weights, const std::string& out, ExportFormat format,
                   const ExportOptions& options) {
  const ModelConfig& c = weights.config();
  if (format == ExportFormat::kHuggingFace) {
    if (c.rope_layout == RopeLayout::kInterleaved) {
      ASSIGN_OR_RETURN(ModelWeights converted, ConvertRopeLayout(weights, RopeLayout::kRotateHalf));
      return WriteHuggingFaceCheckpoint(converted, out, options.hf);
    }
    return WriteHuggingFaceCheckpoint(weights, out, options.hf);
  }
  if (c.arch != Architecture::kLlama)
    return FailedPrecondition("{}: llama2.c holds llama models only, not {}", out, ArchitectureName(c.arch));
  if (c.rope_layout == RopeLayout::kRotateHalf) {
    ASSIGN_OR_RETURN(ModelWeights converted, ConvertRopeLayout(weights, RopeLayout::kInterleaved));
    return WriteLlama2c(converted, out, options.llama2c_version, options.llama2c_group_size);
  }
  return WriteLlama2c(weights, out, options.llama2c_version, options.llama2c_group_size);
}

}  // namespace seedtune
