#include "formats/checkpoint.h"

#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string_view>

namespace seedtune {

const char* CheckpointFormatName(CheckpointFormat f) {
  switch (f) {
    case CheckpointFormat::kHuggingFace: return "huggingface";
    case CheckpointFormat::kGguf: return "gguf";
    case CheckpointFormat::kLlama2c: return "llama2c";
  }
  return "unknown";
}

StatusOr<CheckpointFormat> DetectCheckpointFormat(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::exists(path, ec)) return NotFound("{}: no such file or directory", path);
  if (fs::is_directory(path, ec)) return CheckpointFormat::kHuggingFace;
  std::ifstream in(path, std::ios::binary);
  if (!in) return IoError("{}: cannot open", path);
  char magic[4] = {0, 0, 0, 0};
  in.read(magic, 4);
  if (in.gcount() == 4 && std::memcmp(magic, "GGUF", 4) == 0) return CheckpointFormat::kGguf;
  return CheckpointFormat::kLlama2c;
}

StatusOr<std::unique_ptr<CheckpointReader>> OpenCheckpoint(const std::string& path) {
  ASSIGN_OR_RETURN(CheckpointFormat format, DetectCheckpointFormat(path));
  switch (format) {
    case CheckpointFormat::kHuggingFace: return OpenHuggingFaceCheckpoint(path);
    case CheckpointFormat::kGguf: return OpenGgufCheckpoint(path);
    case CheckpointFormat::kLlama2c: return OpenLlama2cCheckpoint(path);
  }
  return InternalError("unreachable");
}

namespace {

bool EndsWith(const std::string& s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

bool IsIgnorableTensor(CheckpointFormat format, const ModelConfig& config, const std::string& name) {
  switch (format) {
    case CheckpointFormat::kHuggingFace:
      // transformers saved the rotary frequency buffer of each attention layer
      // in older Llama / GPT-NeoX checkpoints; it is 1 / theta^(2i / rotary_dim),
      // recomputed from config.json.
      if ((config.arch == Architecture::kLlama || config.arch == Architecture::kNeox) &&
          EndsWith(name, ".rotary_emb.inv_freq"))
        return true;
      // The causal-mask buffers GPT-2 ("h.N.attn.bias", "h.N.attn.masked_bias")
      // and GPT-NeoX ("layers.N.attention.bias" / ".masked_bias") checkpoints
      // carry: constants the forward pass does not read. The layers' real
      // biases are attn.c_attn.bias / attention.query_key_value.bias.
      if (config.arch == Architecture::kGpt2 && (EndsWith(name, ".attn.bias") || EndsWith(name, ".attn.masked_bias")))
        return true;
      if (config.arch == Architecture::kNeox &&
          (EndsWith(name, ".attention.bias") || EndsWith(name, ".attention.masked_bias")))
        return true;
      return false;
    case CheckpointFormat::kGguf:
      // None: llama.cpp's converters write only parameters, a tied output
      // projection written anyway counts as used (gguf_checkpoint.cc), and
      // rope_freqs.weight (Llama-3 RoPE scaling) is refused at open because
      // ignoring it would compute another model.
      return false;
    case CheckpointFormat::kLlama2c:
      // Version 0 files carry the RoPE tables run.c once read; they hold
      // cos/sin of pos / 10000^(2i / head_dim), which the model computes itself.
      return name == "freq_cis_real" || name == "freq_cis_imag";
  }
  return false;
}

Status CheckAllTensorsUsed(const CheckpointReader& reader) {
  const ModelConfig& c = reader.config();
  for (const std::string& name : reader.UnusedTensors()) {
    if (IsIgnorableTensor(reader.format(), c, name)) continue;
    return InvalidArgument("{}: tensor '{}' is not used by the declared architecture ({}, {} layer{})",
                           reader.TensorFile(name), name, ArchitectureName(c.arch), c.num_layers,
                           c.num_layers == 1 ? "" : "s");
  }
  return Status::Ok();
}

StatusOr<ModelWeights> LoadModel(const std::string& path, const LoadOptions& options) {
  ASSIGN_OR_RETURN(auto reader, OpenCheckpoint(path));
  {
    ASSIGN_OR_RETURN(TensorTable table, BuildTensorTable(reader->config()));
    for (const TensorSpec& spec : table.specs) RETURN_IF_ERROR(reader->CheckTensor(spec));
  }
  RETURN_IF_ERROR(CheckAllTensorsUsed(*reader));
  ASSIGN_OR_RETURN(ModelWeights weights, ModelWeights::Allocate(reader->config()));
  for (size_t i = 0; i < weights.num_tensors(); ++i) {
    const TensorSpec& spec = weights.specs()[i];
    Status s = reader->ReadTensor(spec, weights.data(i));
    if (!s.ok()) return s;
    reader->ReleasePages();
    auto t = weights.tensor(i);
    for (size_t j = 0; j < t.size(); ++j) {
      if (!std::isfinite(t[j]))
        return DataLoss("{}: tensor {} {} has a non-finite value ({}) at element {}", path, spec.name,
                        spec.ShapeString(), t[j], j);
    }
  }
  if (options.report_unused) {
    for (const auto& name : reader->UnusedTensors())
      std::fprintf(stderr, "warning: %s: ignoring tensor %s (a buffer the %s architecture recomputes)\n",
                   path.c_str(), name.c_str(), ArchitectureName(weights.config().arch));
  }
  return weights;
}

}  // namespace seedtune
