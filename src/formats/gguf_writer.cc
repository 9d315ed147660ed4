#include "formats/gguf_writer.h"

#include <cstring>
#include <fstream>
#include <unordered_set>

#include "formats/dequant.h"

namespace seedtune {
namespace {

constexpr uint64_t kAlignment = 32;

class Out {
 public:
  template <typename T>
  void Put(T v) {
    char b[sizeof(T)];
    std::memcpy(b, &v, sizeof(T));
    buf_.append(b, sizeof(T));
  }
  void PutString(const std::string& s) {
    Put<uint64_t>(s.size());
    buf_ += s;
  }
  void Pad(uint64_t alignment) {
    while (buf_.size() % alignment) buf_.push_back('\0');
  }
  std::string& buf() { return buf_; }

 private:
  std::string buf_;
};

Status PutValue(Out& o, const GgufValue& v, GgufValueType type, const std::string& key) {
  switch (type) {
    case GgufValueType::kUint8: o.Put<uint8_t>(static_cast<uint8_t>(v.i)); break;
    case GgufValueType::kInt8: o.Put<int8_t>(static_cast<int8_t>(v.i)); break;
    case GgufValueType::kUint16: o.Put<uint16_t>(static_cast<uint16_t>(v.i)); break;
    case GgufValueType::kInt16: o.Put<int16_t>(static_cast<int16_t>(v.i)); break;
    case GgufValueType::kUint32: o.Put<uint32_t>(static_cast<uint32_t>(v.i)); break;
    case GgufValueType::kInt32: o.Put<int32_t>(static_cast<int32_t>(v.i)); break;
    case GgufValueType::kUint64: o.Put<uint64_t>(static_cast<uint64_t>(v.i)); break;
    case GgufValueType::kInt64: o.Put<int64_t>(v.i); break;
    case GgufValueType::kFloat32: o.Put<float>(static_cast<float>(v.f)); break;
    case GgufValueType::kFloat64: o.Put<double>(v.f); break;
    case GgufValueType::kBool: o.Put<uint8_t>(v.b ? 1 : 0); break;
    case GgufValueType::kString: o.PutString(v.s); break;
    case GgufValueType::kArray:
      o.Put<uint32_t>(static_cast<uint32_t>(v.array_type));
      o.Put<uint64_t>(v.array.size());
      for (const auto& e : v.array) {
        if (e.type != v.array_type)
          return InvalidArgument("gguf writer: key '{}': array element of type {} in an array of {}", key,
                                 GgufValueTypeName(e.type), GgufValueTypeName(v.array_type));
        RETURN_IF_ERROR(PutValue(o, e, v.array_type, key));
      }
      break;
    default: return InvalidArgument("gguf writer: key '{}': unknown value type {}", key, static_cast<uint32_t>(type));
  }
  return Status::Ok();
}

}  // namespace

Status WriteGguf(const std::string& path, const std::vector<GgufMetadataEntry>& metadata,
                 const std::vector<GgufWriterTensor>& tensors) {
  Out o;
  o.buf() += "GGUF";
  o.Put<uint32_t>(3);
  o.Put<uint64_t>(tensors.size());
  o.Put<uint64_t>(metadata.size());
  std::unordered_set<std::string> seen;
  for (const auto& e : metadata) {
    if (!seen.insert(e.key).second) return InvalidArgument("gguf writer: duplicate key '{}'", e.key);
    if (e.key == "general.alignment" && (e.value.i != static_cast<int64_t>(kAlignment)))
      return InvalidArgument("gguf writer: only alignment {} is supported", kAlignment);
    o.PutString(e.key);
    o.Put<uint32_t>(static_cast<uint32_t>(e.value.type));
    RETURN_IF_ERROR(PutValue(o, e.value, e.value.type, e.key));
  }
  uint64_t offset = 0;
  std::vector<uint64_t> offsets;
  seen.clear();
  for (const auto& t : tensors) {
    if (!seen.insert(t.name).second) return InvalidArgument("gguf writer: duplicate tensor '{}'", t.name);
    if (t.shape.empty() || t.shape.size() > 4)
      return InvalidArgument("gguf writer: tensor '{}' has {} dimensions", t.name, t.shape.size());
    int64_t rows = 1;
    for (size_t d = 0; d + 1 < t.shape.size(); ++d) rows *= t.shape[d];
    auto row_bytes = GgmlRowBytes(t.type, t.shape.back());
    if (!row_bytes.ok()) return row_bytes.status().WithContext("gguf writer: tensor '" + t.name + "'");
    if (static_cast<uint64_t>(rows) * *row_bytes != t.data.size())
      return InvalidArgument("gguf writer: tensor '{}' has {} bytes, its shape and type need {}", t.name,
                             t.data.size(), static_cast<uint64_t>(rows) * *row_bytes);
    o.PutString(t.name);
    o.Put<uint32_t>(static_cast<uint32_t>(t.shape.size()));
    for (auto it = t.shape.rbegin(); it != t.shape.rend(); ++it) o.Put<uint64_t>(static_cast<uint64_t>(*it));
    o.Put<uint32_t>(t.type);
    o.Put<uint64_t>(offset);
    offsets.push_back(offset);
    offset += (t.data.size() + kAlignment - 1) / kAlignment * kAlignment;
  }
  o.Pad(kAlignment);
  for (const auto& t : tensors) {
    o.buf() += t.data;
    o.Pad(kAlignment);
  }
  return WriteStringToFile(path, o.buf());
}

GgufValue GgufU32(uint32_t v) { GgufValue x; x.type = GgufValueType::kUint32; x.i = v; return x; }
GgufValue GgufI32(int32_t v) { GgufValue x; x.type = GgufValueType::kInt32; x.i = v; return x; }
GgufValue GgufU64(uint64_t v) { GgufValue x; x.type = GgufValueType::kUint64; x.i = static_cast<int64_t>(v); return x; }
GgufValue GgufF32(float v) { GgufValue x; x.type = GgufValueType::kFloat32; x.f = v; return x; }
GgufValue GgufBool(bool v) { GgufValue x; x.type = GgufValueType::kBool; x.b = v; return x; }
GgufValue GgufStr(std::string v) { GgufValue x; x.type = GgufValueType::kString; x.s = std::move(v); return x; }

GgufValue GgufStrArray(const std::vector<std::string>& v) {
  GgufValue x;
  x.type = GgufValueType::kArray;
  x.array_type = GgufValueType::kString;
  for (const auto& s : v) x.array.push_back(GgufStr(s));
  return x;
}
GgufValue GgufF32Array(const std::vector<float>& v) {
  GgufValue x;
  x.type = GgufValueType::kArray;
  x.array_type = GgufValueType::kFloat32;
  for (float f : v) x.array.push_back(GgufF32(f));
  return x;
}
GgufValue GgufI32Array(const std::vector<int32_t>& v) {
  GgufValue x;
  x.type = GgufValueType::kArray;
  x.array_type = GgufValueType::kInt32;
  for (int32_t i : v) x.array.push_back(GgufI32(i));
  return x;
}

std::string GgufF32Bytes(const float* v, size_t n) {
  return std::string(reinterpret_cast<const char*>(v), n * sizeof(float));
}

}  // namespace seedtune
