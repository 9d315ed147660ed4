// Hugging Face model directories: config.json plus model.safetensors, or
// shards listed by model.safetensors.index.json. The reader is
// OpenHuggingFaceCheckpoint() (formats/checkpoint.h); this header declares the
// writer.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "core/status.h"
#include "formats/safetensors.h"
#include "model/weights.h"

namespace seedtune {

struct HfWriteOptions {
  TensorDtype dtype = TensorDtype::kF32;
  // 0: one model.safetensors. Otherwise shards of at most this many data bytes
  // (a tensor larger than the limit gets a shard of its own), named
  // model-00001-of-0000N.safetensors, plus model.safetensors.index.json.
  uint64_t max_shard_bytes = 0;
  // Extra string metadata for each file's "__metadata__" ("format": "pt" is
  // always present, as transformers requires).
  std::map<std::string, std::string> metadata;
};

// Writes config.json and the safetensors file(s) into `dir` (created if
// needed). Tensors keep their canonical names; GPT-2 Conv1D weights are
// written transposed ([in, out]) as transformers expects; a tied output
// projection is not written. Llama / NeoX weights must use rotate-half RoPE
// (see formats/convert.h). Removes model*.safetensors* files of an earlier
// write to `dir` that would otherwise shadow or confuse the new ones.
Status WriteHuggingFaceCheckpoint(const ModelWeights& weights, const std::string& dir,
                                  const HfWriteOptions& options = {});

}  // namespace seedtune
