#include "runtime/model_source.h"

#include <filesystem>

#include "core/assets.h"
#include "formats/checkpoint.h"
#include "model/presets.h"

namespace seedtune {

namespace fs = std::filesystem;

StatusOr<std::string> ResolveModelPath(const std::string& spec) {
  if (IsRandomModelSpec(spec)) return spec;
  std::error_code ec;
  if (fs::exists(spec, ec)) return spec;
  if (auto p = FindAsset(spec)) return *p;
  if (auto p = FindAsset("models/" + spec)) return *p;
  std::string roots;
  for (const auto& r : AssetRoots()) roots += " " + r;
  return NotFound("model '{}' not found (as a path, or under the asset roots:{})", spec,
                  roots.empty() ? " none; set SEEDTUNE_ASSETS" : roots);
}

StatusOr<ModelWeights> LoadModelSpec(const std::string& spec) {
  if (IsRandomModelSpec(spec)) return RandomModel(spec);
  ASSIGN_OR_RETURN(std::string path, ResolveModelPath(spec));
  ASSIGN_OR_RETURN(ModelWeights w, LoadModel(path));
  return w;
}

StatusOr<std::unique_ptr<Tokenizer>> LoadTokenizerForModel(const std::string& model_spec,
                                                           const ModelConfig& config,
                                                           const std::string& tokenizer_path) {
  if (!tokenizer_path.empty()) {
    std::error_code ec;
    if (fs::exists(tokenizer_path, ec)) return LoadTokenizer(tokenizer_path);
    if (auto p = FindAsset(tokenizer_path)) return LoadTokenizer(*p);
    if (auto p = FindAsset("tokenizers/" + tokenizer_path)) return LoadTokenizer(*p);
    return NotFound("tokenizer '{}' not found", tokenizer_path);
  }
  if (IsRandomModelSpec(model_spec)) {
    const std::string name = model_spec.substr(7);
    std::string rel = "tokenizers/gpt2/encoder.json";
    if (name.rfind("smollm2", 0) == 0) rel = "tokenizers/smollm2/tokenizer.json";
    if (auto p = FindAsset(rel)) return LoadTokenizer(*p);
    return NotFound("no tokenizer for {}: asset {} is missing (pass --tokenizer)", model_spec, rel);
  }
  ASSIGN_OR_RETURN(std::string path, ResolveModelPath(model_spec));
  ASSIGN_OR_RETURN(CheckpointFormat format, DetectCheckpointFormat(path));
  switch (format) {
    case CheckpointFormat::kGguf:
    case CheckpointFormat::kHuggingFace:
      return LoadTokenizer(path);
    case CheckpointFormat::kLlama2c: {
      const fs::path dir = fs::path(path).parent_path();
      for (const std::string& name : {std::string("tokenizer.bin"), "tok" + std::to_string(config.vocab_size) + ".bin"}) {
        std::error_code ec;
        if (fs::exists(dir / name, ec)) return LoadTokenizer((dir / name).string());
      }
      return NotFound("{}: no tokenizer.bin or tok{}.bin beside the llama2.c checkpoint (pass --tokenizer)", path,
                      config.vocab_size);
    }
  }
  return InternalError("unreachable");
}

}  // namespace seedtune
