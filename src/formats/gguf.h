// GGUF (v2/v3) container: metadata key/values and the tensor directory, read
// from a memory-mapped file with every offset and length bounds-checked.
// Used by the GGUF checkpoint reader and by the embedded-tokenizer loader.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <variant>
#include <vector>

#include "core/mapped_file.h"
#include "core/status.h"

namespace seedtune {

enum class GgufValueType : uint32_t {
  kUint8 = 0, kInt8 = 1, kUint16 = 2, kInt16 = 3, kUint32 = 4, kInt32 = 5, kFloat32 = 6,
  kBool = 7, kString = 8, kArray = 9, kUint64 = 10, kInt64 = 11, kFloat64 = 12,
};

// ggml tensor types that seedtune reads (numbering from ggml).
enum class GgmlType : uint32_t {
  kF32 = 0, kF16 = 1, kQ4_0 = 2, kQ4_1 = 3, kQ5_0 = 6, kQ5_1 = 7, kQ8_0 = 8, kQ8_1 = 9,
  kQ2_K = 10, kQ3_K = 11, kQ4_K = 12, kQ5_K = 13, kQ6_K = 14, kQ8_K = 15, kBF16 = 30,
};
// "Q4_K", "F32", ... or "unknown" (defined in formats/dequant.cc).
const char* GgmlTypeName(uint32_t type);
// "uint32", "string", ... or "unknown".
const char* GgufValueTypeName(GgufValueType type);

struct GgufValue;
using GgufArray = std::vector<GgufValue>;
struct GgufValue {
  GgufValueType type = GgufValueType::kUint8;
  // Integers (any width, signed or not) are held in `i` (uint64 values above
  // INT64_MAX are rejected at parse time), floats in `f`, bool in `b`.
  int64_t i = 0;
  double f = 0.0;
  bool b = false;
  std::string s;
  GgufValueType array_type = GgufValueType::kUint8;  // element type when type == kArray
  GgufArray array;
};

struct GgufTensorInfo {
  std::string name;
  std::vector<int64_t> dims;  // GGUF order: dims[0] is the fastest-varying (row length)
  uint32_t type = 0;          // GgmlType value
  uint64_t offset = 0;        // relative to the data section
  const uint8_t* data = nullptr;  // absolute pointer into the mapping (validated)
  uint64_t nbytes = 0;
  int64_t numel() const;
};

class GgufFile {
 public:
  // Parses header, metadata and tensor directory; validates every length,
  // that each tensor's bytes lie inside the file and that no two tensors'
  // bytes overlap. Errors name the file and the offending key or tensor(s).
  static StatusOr<GgufFile> Open(const std::string& path);

  const std::string& path() const { return file_.path(); }
  uint32_t version() const { return version_; }
  uint64_t alignment() const { return alignment_; }
  // Absolute file offset of the tensor data section, and the file size.
  uint64_t data_offset() const { return data_offset_; }
  uint64_t file_size() const { return file_.size(); }

  bool Has(std::string_view key) const;
  const GgufValue* Find(std::string_view key) const;
  // Typed getters; errors name the key and the file.
  StatusOr<std::string> GetString(std::string_view key) const;
  StatusOr<int64_t> GetInt(std::string_view key) const;  // any integer type
  StatusOr<double> GetFloat(std::string_view key) const;  // float32/64 (or integer)
  StatusOr<bool> GetBool(std::string_view key) const;
  StatusOr<std::vector<std::string>> GetStringArray(std::string_view key) const;
  StatusOr<std::vector<double>> GetFloatArray(std::string_view key) const;
  StatusOr<std::vector<int64_t>> GetIntArray(std::string_view key) const;
  const std::vector<std::string>& keys() const { return key_order_; }

  const std::vector<GgufTensorInfo>& tensors() const { return tensors_; }
  const GgufTensorInfo* FindTensor(std::string_view name) const;

  // Releases the page cache of the mapping (after dequantizing everything).
  void DropPages() const { file_.DropPages(); }

 private:
  MappedFile file_;
  uint32_t version_ = 0;
  uint64_t alignment_ = 32;
  uint64_t data_offset_ = 0;
  std::unordered_map<std::string, GgufValue> kv_;
  std::vector<std::string> key_order_;
  std::vector<GgufTensorInfo> tensors_;
  std::unordered_map<std::string, size_t> tensor_index_;
};

}  // namespace seedtune
