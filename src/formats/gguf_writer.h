// Minimal GGUF v3 writer (alignment 32), for tests and tools: metadata in the
// given order, then the tensor directory and the aligned tensor data.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"
#include "formats/gguf.h"

namespace seedtune {

struct GgufMetadataEntry {
  std::string key;
  GgufValue value;
};

struct GgufWriterTensor {
  std::string name;            // GGUF name, e.g. "blk.0.attn_q.weight"
  std::vector<int64_t> shape;  // internal row-major shape; written reversed (ggml order)
  uint32_t type = 0;           // GgmlType value
  std::string data;            // raw bytes: GgmlRowBytes(type, shape.back()) * rows
};

// Writes a GGUF v3 file. Validates every value (array element types, sizes)
// and that each tensor's byte count matches its shape and type.
Status WriteGguf(const std::string& path, const std::vector<GgufMetadataEntry>& metadata,
                 const std::vector<GgufWriterTensor>& tensors);

// GgufValue builders.
GgufValue GgufU32(uint32_t v);
GgufValue GgufI32(int32_t v);
GgufValue GgufU64(uint64_t v);
GgufValue GgufF32(float v);
GgufValue GgufBool(bool v);
GgufValue GgufStr(std::string v);
GgufValue GgufStrArray(const std::vector<std::string>& v);
GgufValue GgufF32Array(const std::vector<float>& v);
GgufValue GgufI32Array(const std::vector<int32_t>& v);

// Bytes of fp32 values (for F32 tensors).
std::string GgufF32Bytes(const float* v, size_t n);

}  // namespace seedtune
