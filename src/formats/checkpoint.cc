#include "formats/checkpoint.h"

#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

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

StatusOr<ModelWeights> LoadModel(const std::string& path, const LoadOptions& options) {
  ASSIGN_OR_RETURN(auto reader, OpenCheckpoint(path));
  {
    ASSIGN_OR_RETURN(TensorTable table, BuildTensorTable(reader->config()));
    for (const TensorSpec& spec : table.specs) RETURN_IF_ERROR(reader->CheckTensor(spec));
  }
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
      std::fprintf(stderr, "warning: %s: tensor %s is not used by the %s architecture\n", path.c_str(),
                   name.c_str(), ArchitectureName(weights.config().arch));
  }
  return weights;
}

}  // namespace seedtune
