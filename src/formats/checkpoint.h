// Checkpoint readers: one per file format, each turning a file (or directory)
// into a ModelConfig plus tensors converted to fp32 in the internal layout.
// LoadModel() drives them with one walk over the architecture's tensor table.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/status.h"
#include "model/arch.h"
#include "model/config.h"
#include "model/weights.h"

namespace seedtune {

enum class CheckpointFormat { kHuggingFace, kGguf, kLlama2c };
const char* CheckpointFormatName(CheckpointFormat f);

class CheckpointReader {
 public:
  virtual ~CheckpointReader() = default;
  virtual CheckpointFormat format() const = 0;
  // The file or directory this reader reads (used in error messages).
  virtual const std::string& path() const = 0;
  // The configuration read from the checkpoint's metadata.
  virtual const ModelConfig& config() const = 0;
  // Converts the tensor described by `spec` (internal name, shape, layout)
  // into `dst` (spec.numel() floats). Errors name the file and the tensor:
  // NotFound when it is absent, InvalidArgument on a shape mismatch,
  // DataLoss when its bytes lie past the end of the file, Unimplemented for
  // an unsupported dtype.
  virtual Status ReadTensor(const TensorSpec& spec, float* dst) = 0;
  // Every check ReadTensor makes before it reads data (present, shape, dtype),
  // without reading: LoadModel runs it on every tensor before it allocates,
  // so a config declaring more than the files hold fails without allocating.
  virtual Status CheckTensor(const TensorSpec& spec) = 0;
  // Names of tensors in the file that no spec asked for (reported, not fatal).
  virtual std::vector<std::string> UnusedTensors() const { return {}; }
  // Called after each tensor has been read: a memory-mapped reader drops the
  // file pages it touched, so loading peaks at the fp32 weights plus one
  // tensor's worth of file, not plus the whole file.
  virtual void ReleasePages() {}
};

// Detects the format: a directory is a Hugging Face model directory; a file
// starting with "GGUF" is GGUF; anything else is tried as a llama2.c checkpoint.
StatusOr<CheckpointFormat> DetectCheckpointFormat(const std::string& path);

// Opens `path` with the reader for its format.
StatusOr<std::unique_ptr<CheckpointReader>> OpenCheckpoint(const std::string& path);

// Format-specific openers (implemented in hf_checkpoint.cc, gguf_checkpoint.cc,
// llama2c_checkpoint.cc).
StatusOr<std::unique_ptr<CheckpointReader>> OpenHuggingFaceCheckpoint(const std::string& dir);
StatusOr<std::unique_ptr<CheckpointReader>> OpenGgufCheckpoint(const std::string& path);
StatusOr<std::unique_ptr<CheckpointReader>> OpenLlama2cCheckpoint(const std::string& path);

struct LoadOptions {
  // Warn (stderr) about tensors the checkpoint has but the architecture does not use.
  bool report_unused = false;
};

// Loads a model: opens the checkpoint, allocates the weights for its config,
// reads every tensor of the table in canonical order, and rejects non-finite
// values. Errors name the file and the tensor.
StatusOr<ModelWeights> LoadModel(const std::string& path, const LoadOptions& options = {});

}  // namespace seedtune
