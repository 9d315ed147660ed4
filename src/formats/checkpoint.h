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
  // A tensor that passes counts as used (see UnusedTensors).
  virtual Status CheckTensor(const TensorSpec& spec) = 0;
  // Names of tensors in the file (file order) that no spec asked for through
  // ReadTensor or CheckTensor. A tied output projection stored anyway counts
  // as used.
  virtual std::vector<std::string> UnusedTensors() const { return {}; }
  // The file that holds tensor `name`, for messages (path() unless the
  // checkpoint spans several files).
  virtual std::string TensorFile(const std::string& name) const { return path(); }
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

// Whether a checkpoint of `format` for `config` may carry tensor `name`
// although the architecture never reads it, because it is a buffer the model
// recomputes (RoPE frequency tables, attention masks). The list is short and
// explicit (checkpoint.cc says why each entry is harmless).
bool IsIgnorableTensor(CheckpointFormat format, const ModelConfig& config, const std::string& name);

// OK unless the reader holds a tensor that no spec has used (ReadTensor or
// CheckTensor) and that is not ignorable; then InvalidArgument naming the
// file and the first such tensor in file order, e.g. "<dir>/model.safetensors:
// tensor 'model.layers.30.mlp.up_proj.weight' is not used by the declared
// architecture (llama, 30 layers)". A config declaring fewer layers than the
// file holds is refused this way instead of silently dropping the rest.
Status CheckAllTensorsUsed(const CheckpointReader& reader);

struct LoadOptions {
  // Warn (stderr) about the ignorable tensors the checkpoint has but the
  // architecture does not use (any other unused tensor is an error).
  bool report_unused = false;
};

// Loads a model: opens the checkpoint, checks every tensor of the table
// (present, shape, type) and that the file holds no tensor the table does not
// use (CheckAllTensorsUsed), allocates the weights for its config, reads every
// tensor in canonical order, and rejects non-finite values. Errors name the
// file and the tensor.
StatusOr<ModelWeights> LoadModel(const std::string& path, const LoadOptions& options = {});

}  // namespace seedtune
