// What the commands call a MODEL: a Hugging Face directory, a .gguf file, a
// llama2.c .bin, an asset-relative path (e.g. models/stories260K/stories260K.bin),
// or "random:NAME[:SEED]" for a real shape with random weights. This layer
// resolves it, loads the weights, and finds the matching tokenizer.
#pragma once

#include <memory>
#include <string>

#include "core/status.h"
#include "model/weights.h"
#include "tokenizer/tokenizer.h"

namespace seedtune {

// Resolves a model argument to an existing path (as given, or under an asset
// root); random: specs are returned unchanged. NotFound lists where it looked.
StatusOr<std::string> ResolveModelPath(const std::string& spec);

// Loads weights for a model argument.
StatusOr<ModelWeights> LoadModelSpec(const std::string& spec);

// The tokenizer for a model: `tokenizer_path` when given; otherwise the one
// that belongs to the model (GGUF: embedded; HF directory: its tokenizer
// files; llama2.c: tokenizer.bin or tok<vocab>.bin beside it; random GPT-2 /
// OPT / Pythia shapes: the GPT-2 vocabulary from the assets).
StatusOr<std::unique_ptr<Tokenizer>> LoadTokenizerForModel(const std::string& model_spec,
                                                           const ModelConfig& config,
                                                           const std::string& tokenizer_path);

}  // namespace seedtune
