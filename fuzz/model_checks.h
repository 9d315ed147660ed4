// Properties of a checkpoint loaded through LoadModel, shared by the GGUF,
// safetensors (Hugging Face directory) and llama2.c fuzz targets.
#pragma once

#include <cmath>
#include <string>

#include "formats/checkpoint.h"
#include "fuzz/fuzz_util.h"
#include "model/arch.h"
#include "model/config.h"

namespace seedtune::fuzz {

// Every field but the free-form name.
inline bool SameConfig(const ModelConfig& a, const ModelConfig& b) {
  return a.arch == b.arch && a.vocab_size == b.vocab_size && a.hidden_size == b.hidden_size &&
         a.num_layers == b.num_layers && a.num_heads == b.num_heads && a.num_kv_heads == b.num_kv_heads &&
         a.head_dim == b.head_dim && a.intermediate_size == b.intermediate_size &&
         a.max_positions == b.max_positions && SameFloat(a.norm_eps, b.norm_eps) && a.activation == b.activation &&
         a.rope_layout == b.rope_layout && SameFloat(a.rope_theta, b.rope_theta) && a.rotary_dim == b.rotary_dim &&
         a.tie_word_embeddings == b.tie_word_embeddings && a.attention_bias == b.attention_bias &&
         a.do_layer_norm_before == b.do_layer_norm_before && a.position_offset == b.position_offset &&
         a.use_parallel_residual == b.use_parallel_residual && a.bos_token_id == b.bos_token_id &&
         a.eos_token_id == b.eos_token_id && a.pad_token_id == b.pad_token_id;
}

// Opens `path` with a reader and loads it with LoadModel; checks that the two
// agree: LoadModel succeeds exactly when every tensor of the architecture's
// table passes CheckTensor, no tensor of the file is left unused (other than
// the known-harmless ones) and every value is finite; what it returns has the
// reader's config and a finite value everywhere. Returns the loaded weights'
// status.
inline Status CheckLoad(const std::string& path) {
  auto reader = OpenCheckpoint(path);
  auto loaded = LoadModel(path);
  if (!reader.ok()) {
    FUZZ_CHECK(!loaded.ok());
    return loaded.status();
  }
  const ModelConfig& config = (*reader)->config();
  FUZZ_CHECK_MSG(config.Validate().ok(), config.Validate().ToString());
  auto table = BuildTensorTable(config);
  FUZZ_CHECK(table.ok());  // a validated config always has a table
  bool all_present = true;
  for (const TensorSpec& spec : table->specs) all_present = all_present && (*reader)->CheckTensor(spec).ok();
  if (!all_present) {
    FUZZ_CHECK(!loaded.ok());
    return loaded.status();
  }
  const Status used = CheckAllTensorsUsed(**reader);
  if (!used.ok()) {
    FUZZ_CHECK(!loaded.ok());
    FUZZ_CHECK_MSG(loaded.status().message() == used.message(), loaded.status().message());
    return loaded.status();
  }
  if (!loaded.ok()) {
    // Everything was there and used: only bad values may fail the load.
    FUZZ_CHECK_MSG(loaded.status().code() == StatusCode::kDataLoss ||
                       loaded.status().code() == StatusCode::kUnimplemented,
                   loaded.status().ToString());
    return loaded.status();
  }
  FUZZ_CHECK(SameConfig(loaded->config(), config));
  FUZZ_CHECK(loaded->num_tensors() == table->specs.size());
  for (size_t i = 0; i < loaded->num_tensors(); ++i) {
    FUZZ_CHECK(loaded->specs()[i].name == table->specs[i].name && loaded->specs()[i].shape == table->specs[i].shape);
    for (float v : loaded->tensor(i)) FUZZ_CHECK(std::isfinite(v));
  }
  return Status::Ok();
}

}  // namespace seedtune::fuzz
