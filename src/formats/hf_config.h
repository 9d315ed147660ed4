// Hugging Face config.json <-> ModelConfig for the supported model types:
// "llama", "opt", "gpt2", "gpt_neox". Keys, defaults and derived values
// follow the transformers configuration classes of each family.
#pragma once

#include <string>

#include "core/status.h"
#include "model/config.h"

namespace seedtune {

// Parses config.json text. `source` (the file path) prefixes error messages.
// InvalidArgument for malformed JSON or missing / mistyped keys (naming the
// key); Unimplemented for valid configurations seedtune does not support
// (unknown model_type, rope_scaling, OPT word_embed_proj_dim != hidden_size, ...).
StatusOr<ModelConfig> ParseHfConfig(const std::string& json_text, const std::string& source);
// Reads and parses `path`.
StatusOr<ModelConfig> ReadHfConfig(const std::string& path);

// Serializes `config` as a config.json that transformers accepts for its
// family (architectures, model_type, every key ParseHfConfig reads).
// `torch_dtype` is written as given ("float32", "float16", "bfloat16").
// FailedPrecondition when the config cannot be expressed (e.g. Llama with
// interleaved RoPE: convert with ConvertRopeLayout first).
StatusOr<std::string> HfConfigToJson(const ModelConfig& config, const std::string& torch_dtype = "float32");
Status WriteHfConfig(const ModelConfig& config, const std::string& path, const std::string& torch_dtype = "float32");

}  // namespace seedtune
