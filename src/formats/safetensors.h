// safetensors (https://huggingface.co/docs/safetensors): an 8-byte little-endian
// header length N, N bytes of JSON header
//   {"name": {"dtype": "F32", "shape": [d0, d1], "data_offsets": [begin, end]},
//    "__metadata__": {"key": "value"}}
// and then the data section; offsets are relative to the data section.
//
// The reader memory-maps the file and validates every entry up front (dtype
// known, shape non-negative, offsets inside the data section, byte size ==
// numel * dtype size, no two tensors overlapping), so reading a tensor later
// can never touch bytes outside the mapping. F32 / F16 / BF16 convert to fp32;
// other valid dtypes (F64, integers, F8) are Unimplemented when read.
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/mapped_file.h"
#include "core/status.h"

namespace seedtune {

// Element dtypes seedtune writes.
enum class TensorDtype { kF32, kF16, kBF16 };
const char* TensorDtypeName(TensorDtype d);  // "F32", "F16", "BF16"
size_t TensorDtypeSize(TensorDtype d);
// Rounds one value as storing it in `d` and reading it back would.
float RoundToDtype(float v, TensorDtype d);

// Size in bytes of one element of a safetensors dtype string, or 0 when the
// dtype is not one safetensors defines.
size_t SafetensorsDtypeSize(std::string_view dtype);

struct SafetensorsTensor {
  std::string name;
  std::string dtype;            // as in the file: "F32", "BF16", "I64", ...
  std::vector<int64_t> shape;   // as in the file (row-major)
  uint64_t begin = 0, end = 0;  // relative to the data section
  const uint8_t* data = nullptr;  // absolute pointer into the mapping (validated)
  int64_t numel() const;
  uint64_t nbytes() const { return end - begin; }
};

class SafetensorsFile {
 public:
  // Maps and validates the file. Errors name the file (and the tensor).
  static StatusOr<SafetensorsFile> Open(const std::string& path);

  SafetensorsFile() = default;
  SafetensorsFile(SafetensorsFile&&) = default;
  SafetensorsFile& operator=(SafetensorsFile&&) = default;

  const std::string& path() const { return file_.path(); }
  uint64_t header_size() const { return header_size_; }
  // Tensors in data-offset order.
  const std::vector<SafetensorsTensor>& tensors() const { return tensors_; }
  const SafetensorsTensor* Find(std::string_view name) const;
  const std::map<std::string, std::string>& metadata() const { return metadata_; }

  // Converts `t` (a tensor of this file) to fp32 in the file's own layout;
  // `dst` holds t.numel() floats. Unimplemented (naming file, tensor and
  // dtype) for dtypes other than F32/F16/BF16.
  Status ReadFloat(const SafetensorsTensor& t, float* dst) const;
  // Drops the mapped pages already read (the mapping stays valid).
  void DropPages() const { file_.DropPages(); }

 private:
  MappedFile file_;
  uint64_t header_size_ = 0;
  std::vector<SafetensorsTensor> tensors_;
  std::unordered_map<std::string, size_t> index_;
  std::map<std::string, std::string> metadata_;
};

struct SafetensorsWriteTensor {
  std::string name;
  std::vector<int64_t> shape;
  TensorDtype dtype = TensorDtype::kF32;
  const float* data = nullptr;  // numel floats, row-major; must outlive the call
};

// Writes a safetensors file: tensors in the given order, contiguous, header
// padded with spaces to a multiple of 8 bytes. Writes `path`.tmp and renames
// it over `path`, so a failed write never leaves a partial file at `path`.
Status WriteSafetensors(const std::string& path, const std::vector<SafetensorsWriteTensor>& tensors,
                        const std::map<std::string, std::string>& metadata = {});

// Bytes WriteSafetensors would use for the tensor data of `t`.
uint64_t SafetensorsDataBytes(const SafetensorsWriteTensor& t);

}  // namespace seedtune
