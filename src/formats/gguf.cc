// GGUF v2/v3 parser. Layout (little-endian):
//   "GGUF" u32 version, u64 tensor_count, u64 kv_count
//   kv_count x { string key, u32 value_type, value }
//   tensor_count x { string name, u32 n_dims, u64 dims[n_dims], u32 ggml_type, u64 offset }
//   padding to general.alignment (default 32), then the tensor data section;
//   each tensor's offset is relative to it and a multiple of the alignment.
// string = u64 length + bytes (no terminator); array = u32 element type,
// u64 count, elements.
//
// Hostile input: every length and count is checked against the bytes left in
// the file before anything is allocated, so a file can never make the parser
// allocate more than a small multiple of its own size, and the total number of
// metadata values is capped as well.
#include "formats/gguf.h"

#include <algorithm>
#include <cstring>
#include <limits>

#include "formats/dequant.h"

namespace seedtune {

const char* GgufValueTypeName(GgufValueType type) {
  switch (type) {
    case GgufValueType::kUint8: return "uint8";
    case GgufValueType::kInt8: return "int8";
    case GgufValueType::kUint16: return "uint16";
    case GgufValueType::kInt16: return "int16";
    case GgufValueType::kUint32: return "uint32";
    case GgufValueType::kInt32: return "int32";
    case GgufValueType::kFloat32: return "float32";
    case GgufValueType::kBool: return "bool";
    case GgufValueType::kString: return "string";
    case GgufValueType::kArray: return "array";
    case GgufValueType::kUint64: return "uint64";
    case GgufValueType::kInt64: return "int64";
    case GgufValueType::kFloat64: return "float64";
  }
  return "unknown";
}

int64_t GgufTensorInfo::numel() const {
  int64_t n = 1;
  for (int64_t d : dims) n *= d;  // overflow excluded at parse time
  return n;
}

namespace {

constexpr uint32_t kMaxDims = 4;             // GGML_MAX_DIMS
constexpr int kMaxArrayDepth = 3;            // arrays of arrays of arrays
constexpr uint64_t kMaxValues = 1ull << 24;  // metadata values in one file (real files: ~1-2M)
constexpr uint64_t kMaxAlignment = 1ull << 20;

// Size of a scalar value type, 0 for string/array, -1 for an unknown type.
int ScalarSize(uint32_t t) {
  switch (static_cast<GgufValueType>(t)) {
    case GgufValueType::kUint8:
    case GgufValueType::kInt8:
    case GgufValueType::kBool: return 1;
    case GgufValueType::kUint16:
    case GgufValueType::kInt16: return 2;
    case GgufValueType::kUint32:
    case GgufValueType::kInt32:
    case GgufValueType::kFloat32: return 4;
    case GgufValueType::kUint64:
    case GgufValueType::kInt64:
    case GgufValueType::kFloat64: return 8;
    case GgufValueType::kString:
    case GgufValueType::kArray: return 0;
  }
  return -1;
}

// Smallest number of bytes a value of type t takes in a file.
uint64_t MinValueBytes(uint32_t t) {
  const int s = ScalarSize(t);
  if (s > 0) return static_cast<uint64_t>(s);
  if (t == static_cast<uint32_t>(GgufValueType::kString)) return 8;
  return 12;  // array: u32 type + u64 count
}

bool IsInteger(GgufValueType t) {
  switch (t) {
    case GgufValueType::kUint8:
    case GgufValueType::kInt8:
    case GgufValueType::kUint16:
    case GgufValueType::kInt16:
    case GgufValueType::kUint32:
    case GgufValueType::kInt32:
    case GgufValueType::kUint64:
    case GgufValueType::kInt64: return true;
    default: return false;
  }
}
bool IsFloat(GgufValueType t) { return t == GgufValueType::kFloat32 || t == GgufValueType::kFloat64; }

class Parser {
 public:
  Parser(const std::string& path, const uint8_t* data, size_t size) : path_(path), p_(data), size_(size) {}

  uint64_t pos() const { return pos_; }
  uint64_t left() const { return size_ - pos_; }
  uint64_t values() const { return values_; }

  // `what` describes where we are ("header", "key 'x'", "tensor 'y'").
  // `part` names the field within `what` (no string building on the hot path).
  Status Need(uint64_t n, const std::string& what, const char* part = "") const {
    if (n > left())
      return DataLoss("{}: truncated GGUF file: {}{} needs {} bytes at offset {}, but only {} remain", path_, what,
                      part, n, pos_, left());
    return Status::Ok();
  }
  template <typename T>
  StatusOr<T> Read(const std::string& what, const char* part = "") {
    RETURN_IF_ERROR(Need(sizeof(T), what, part));
    T v;
    std::memcpy(&v, p_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }
  StatusOr<std::string> ReadString(const std::string& what) {
    ASSIGN_OR_RETURN(uint64_t len, Read<uint64_t>(what, " (string length)"));
    if (len > left())
      return DataLoss("{}: {}: string length {} at offset {} exceeds the {} bytes left in the file", path_, what, len,
                      pos_ - 8, left());
    std::string s(reinterpret_cast<const char*>(p_ + pos_), static_cast<size_t>(len));
    pos_ += len;
    return s;
  }

  Status ReadValue(uint32_t raw_type, int depth, const std::string& what, GgufValue* out) {
    if (ScalarSize(raw_type) < 0)
      return InvalidArgument("{}: {}: unknown GGUF value type {}", path_, what, raw_type);
    if (++values_ > kMaxValues)
      return InvalidArgument("{}: {}: more than {} metadata values in the file", path_, what, kMaxValues);
    const auto type = static_cast<GgufValueType>(raw_type);
    out->type = type;
    switch (type) {
      case GgufValueType::kUint8: { ASSIGN_OR_RETURN(uint8_t v, Read<uint8_t>(what)); out->i = v; break; }
      case GgufValueType::kInt8: { ASSIGN_OR_RETURN(int8_t v, Read<int8_t>(what)); out->i = v; break; }
      case GgufValueType::kUint16: { ASSIGN_OR_RETURN(uint16_t v, Read<uint16_t>(what)); out->i = v; break; }
      case GgufValueType::kInt16: { ASSIGN_OR_RETURN(int16_t v, Read<int16_t>(what)); out->i = v; break; }
      case GgufValueType::kUint32: { ASSIGN_OR_RETURN(uint32_t v, Read<uint32_t>(what)); out->i = v; break; }
      case GgufValueType::kInt32: { ASSIGN_OR_RETURN(int32_t v, Read<int32_t>(what)); out->i = v; break; }
      case GgufValueType::kInt64: { ASSIGN_OR_RETURN(int64_t v, Read<int64_t>(what)); out->i = v; break; }
      case GgufValueType::kUint64: {
        ASSIGN_OR_RETURN(uint64_t v, Read<uint64_t>(what));
        if (v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
          return InvalidArgument("{}: {}: uint64 value {} is out of range", path_, what, v);
        out->i = static_cast<int64_t>(v);
        break;
      }
      case GgufValueType::kFloat32: { ASSIGN_OR_RETURN(float v, Read<float>(what)); out->f = v; break; }
      case GgufValueType::kFloat64: { ASSIGN_OR_RETURN(double v, Read<double>(what)); out->f = v; break; }
      case GgufValueType::kBool: {
        ASSIGN_OR_RETURN(uint8_t v, Read<uint8_t>(what));
        if (v > 1) return InvalidArgument("{}: {}: bool value {} is neither 0 nor 1", path_, what, v);
        out->b = v != 0;
        break;
      }
      case GgufValueType::kString: { ASSIGN_OR_RETURN(out->s, ReadString(what)); break; }
      case GgufValueType::kArray: {
        if (depth >= kMaxArrayDepth)
          return InvalidArgument("{}: {}: arrays nested deeper than {} levels", path_, what, kMaxArrayDepth);
        ASSIGN_OR_RETURN(uint32_t et, Read<uint32_t>(what, " (array element type)"));
        if (ScalarSize(et) < 0)
          return InvalidArgument("{}: {}: unknown GGUF array element type {}", path_, what, et);
        ASSIGN_OR_RETURN(uint64_t count, Read<uint64_t>(what, " (array length)"));
        const uint64_t min_bytes = MinValueBytes(et);
        if (count > left() / min_bytes)
          return DataLoss("{}: {}: array of {} {} values at offset {} cannot fit in the {} bytes left in the file",
                          path_, what, count, GgufValueTypeName(static_cast<GgufValueType>(et)), pos_ - 8, left());
        if (count > kMaxValues - values_)
          return InvalidArgument("{}: {}: array of {} values exceeds the limit of {} metadata values", path_, what,
                                 count, kMaxValues);
        out->array_type = static_cast<GgufValueType>(et);
        out->array.resize(static_cast<size_t>(count));
        for (uint64_t k = 0; k < count; ++k) {
          Status s = ReadValue(et, depth + 1, what, &out->array[k]);
          if (!s.ok()) return Status(s.code(), fmt::format("{} (array element {})", s.message(), k));
        }
        break;
      }
    }
    return Status::Ok();
  }

  Status Skip(uint64_t n, const std::string& what) {
    RETURN_IF_ERROR(Need(n, what));
    pos_ += n;
    return Status::Ok();
  }

 private:
  const std::string& path_;
  const uint8_t* p_;
  uint64_t size_;
  uint64_t pos_ = 0;
  uint64_t values_ = 0;
};

}  // namespace

StatusOr<GgufFile> GgufFile::Open(const std::string& path) {
  GgufFile g;
  ASSIGN_OR_RETURN(g.file_, MappedFile::Open(path));
  const uint8_t* base = g.file_.data();
  const uint64_t size = g.file_.size();
  Parser p(path, base, size);

  if (size < 4 || std::memcmp(base, "GGUF", 4) != 0)
    return InvalidArgument("{}: not a GGUF file (bad magic)", path);
  RETURN_IF_ERROR(p.Skip(4, "magic"));
  ASSIGN_OR_RETURN(uint32_t version, p.Read<uint32_t>("header", " (version)"));
  if (version == 0x02000000u || version == 0x03000000u)
    return Unimplemented("{}: big-endian GGUF files are not supported", path);
  if (version == 1) return Unimplemented("{}: GGUF version 1 is not supported (only 2 and 3)", path);
  if (version != 2 && version != 3) return InvalidArgument("{}: unsupported GGUF version {}", path, version);
  g.version_ = version;
  ASSIGN_OR_RETURN(uint64_t n_tensors, p.Read<uint64_t>("header", " (tensor count)"));
  ASSIGN_OR_RETURN(uint64_t n_kv, p.Read<uint64_t>("header", " (metadata count)"));
  // A key/value takes at least 8 + 1 + 4 + 1 bytes, a tensor info 8 + 1 + 4 + 4 + 8.
  if (n_kv > p.left() / 14)
    return DataLoss("{}: header claims {} metadata entries, more than the {} bytes left can hold", path, n_kv,
                    p.left());
  if (n_tensors > p.left() / 25)
    return DataLoss("{}: header claims {} tensors, more than the {} bytes left can hold", path, n_tensors, p.left());

  for (uint64_t k = 0; k < n_kv; ++k) {
    const std::string what = fmt::format("metadata entry {}", k);
    ASSIGN_OR_RETURN(std::string key, p.ReadString(what));
    if (key.empty()) return InvalidArgument("{}: {} has an empty key", path, what);
    const std::string kwhat = fmt::format("key '{}'", key);
    if (g.kv_.count(key)) return InvalidArgument("{}: duplicate {}", path, kwhat);
    ASSIGN_OR_RETURN(uint32_t type, p.Read<uint32_t>(kwhat, " (value type)"));
    GgufValue v;
    RETURN_IF_ERROR(p.ReadValue(type, 0, kwhat, &v));
    g.key_order_.push_back(key);
    g.kv_.emplace(std::move(key), std::move(v));
  }

  if (const GgufValue* a = g.Find("general.alignment")) {
    if (!IsInteger(a->type))
      return InvalidArgument("{}: key 'general.alignment' has type {}, expected an integer", path,
                             GgufValueTypeName(a->type));
    if (a->i <= 0 || static_cast<uint64_t>(a->i) > kMaxAlignment || (a->i & (a->i - 1)) != 0)
      return InvalidArgument("{}: key 'general.alignment' = {} is not a power of two in [1, {}]", path, a->i,
                             kMaxAlignment);
    g.alignment_ = static_cast<uint64_t>(a->i);
  }

  g.tensors_.reserve(static_cast<size_t>(n_tensors));
  for (uint64_t t = 0; t < n_tensors; ++t) {
    GgufTensorInfo info;
    ASSIGN_OR_RETURN(info.name, p.ReadString(fmt::format("tensor info {} (name)", t)));
    const std::string what = fmt::format("tensor '{}'", info.name);
    if (g.tensor_index_.count(info.name)) return InvalidArgument("{}: duplicate {}", path, what);
    ASSIGN_OR_RETURN(uint32_t n_dims, p.Read<uint32_t>(what, " (n_dims)"));
    if (n_dims == 0 || n_dims > kMaxDims)
      return InvalidArgument("{}: {} has {} dimensions (expected 1..{})", path, what, n_dims, kMaxDims);
    int64_t numel = 1;
    for (uint32_t d = 0; d < n_dims; ++d) {
      ASSIGN_OR_RETURN(uint64_t dim, p.Read<uint64_t>(what, " (dims)"));
      if (dim == 0 || dim > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
        return InvalidArgument("{}: {} has invalid dimension {} = {}", path, what, d, dim);
      if (numel > std::numeric_limits<int64_t>::max() / static_cast<int64_t>(dim))
        return InvalidArgument("{}: {}: the product of its dimensions overflows", path, what);
      numel *= static_cast<int64_t>(dim);
      info.dims.push_back(static_cast<int64_t>(dim));
    }
    ASSIGN_OR_RETURN(info.type, p.Read<uint32_t>(what, " (type)"));
    ASSIGN_OR_RETURN(info.offset, p.Read<uint64_t>(what, " (offset)"));
    auto block = GgmlBlockSize(info.type);
    if (!block) return InvalidArgument("{}: {} has unknown ggml type {}", path, what, info.type);
    if (info.dims[0] % block->block_elems != 0)
      return InvalidArgument("{}: {}: row length {} is not a multiple of the {} block size {}", path, what,
                             info.dims[0], GgmlTypeName(info.type), block->block_elems);
    const int64_t blocks = numel / block->block_elems;
    if (blocks > std::numeric_limits<int64_t>::max() / block->block_bytes)
      return InvalidArgument("{}: {}: byte size overflows", path, what);
    info.nbytes = static_cast<uint64_t>(blocks * block->block_bytes);
    if (info.offset % g.alignment_ != 0)
      return InvalidArgument("{}: {}: data offset {} is not a multiple of the alignment {}", path, what, info.offset,
                             g.alignment_);
    g.tensor_index_.emplace(info.name, g.tensors_.size());
    g.tensors_.push_back(std::move(info));
  }

  // Data section: aligned offset after the tensor directory.
  const uint64_t end_of_infos = p.pos();
  const uint64_t data_offset = (end_of_infos + g.alignment_ - 1) / g.alignment_ * g.alignment_;
  if (n_tensors > 0 && data_offset > size)
    return DataLoss("{}: truncated GGUF file: the data section would start at offset {}, past the end ({} bytes)",
                    path, data_offset, size);
  g.data_offset_ = data_offset;
  for (auto& info : g.tensors_) {
    const uint64_t room = size >= data_offset ? size - data_offset : 0;
    if (info.offset > room || info.nbytes > room - info.offset)
      return DataLoss(
          "{}: tensor '{}' ({} bytes at data offset {}) runs past the end of the file (data section holds {} bytes)",
          path, info.name, info.nbytes, info.offset, room);
    info.data = base + data_offset + info.offset;
  }
  // No two tensors may share bytes: a writer never produces that, and a
  // reader that accepted it would hand out aliased tensors (the safetensors
  // reader refuses overlaps too).
  std::vector<const GgufTensorInfo*> by_offset;
  by_offset.reserve(g.tensors_.size());
  for (const auto& info : g.tensors_) by_offset.push_back(&info);
  std::sort(by_offset.begin(), by_offset.end(), [](const GgufTensorInfo* a, const GgufTensorInfo* b) {
    return a->offset != b->offset ? a->offset < b->offset : a->nbytes < b->nbytes;
  });
  for (size_t i = 1; i < by_offset.size(); ++i) {
    const GgufTensorInfo& prev = *by_offset[i - 1];
    const GgufTensorInfo& cur = *by_offset[i];
    if (cur.offset < prev.offset + prev.nbytes)
      return InvalidArgument("{}: tensors '{}' [{}, {}) and '{}' [{}, {}) overlap in the data section", path, prev.name,
                             prev.offset, prev.offset + prev.nbytes, cur.name, cur.offset, cur.offset + cur.nbytes);
  }
  return g;
}

bool GgufFile::Has(std::string_view key) const { return Find(key) != nullptr; }

const GgufValue* GgufFile::Find(std::string_view key) const {
  auto it = kv_.find(std::string(key));
  return it == kv_.end() ? nullptr : &it->second;
}

const GgufTensorInfo* GgufFile::FindTensor(std::string_view name) const {
  auto it = tensor_index_.find(std::string(name));
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

namespace {

Status Missing(const std::string& path, std::string_view key) {
  return NotFound("{}: metadata key '{}' not found", path, key);
}
Status WrongType(const std::string& path, std::string_view key, const GgufValue& v, const char* expected) {
  std::string got = GgufValueTypeName(v.type);
  if (v.type == GgufValueType::kArray) got += fmt::format(" of {}", GgufValueTypeName(v.array_type));
  return InvalidArgument("{}: metadata key '{}' has type {}, expected {}", path, key, got, expected);
}

}  // namespace

StatusOr<std::string> GgufFile::GetString(std::string_view key) const {
  const GgufValue* v = Find(key);
  if (!v) return Missing(path(), key);
  if (v->type != GgufValueType::kString) return WrongType(path(), key, *v, "string");
  return v->s;
}

StatusOr<int64_t> GgufFile::GetInt(std::string_view key) const {
  const GgufValue* v = Find(key);
  if (!v) return Missing(path(), key);
  if (!IsInteger(v->type)) return WrongType(path(), key, *v, "an integer");
  return v->i;
}

StatusOr<double> GgufFile::GetFloat(std::string_view key) const {
  const GgufValue* v = Find(key);
  if (!v) return Missing(path(), key);
  if (IsFloat(v->type)) return v->f;
  if (IsInteger(v->type)) return static_cast<double>(v->i);
  return WrongType(path(), key, *v, "a number");
}

StatusOr<bool> GgufFile::GetBool(std::string_view key) const {
  const GgufValue* v = Find(key);
  if (!v) return Missing(path(), key);
  if (v->type != GgufValueType::kBool) return WrongType(path(), key, *v, "bool");
  return v->b;
}

StatusOr<std::vector<std::string>> GgufFile::GetStringArray(std::string_view key) const {
  const GgufValue* v = Find(key);
  if (!v) return Missing(path(), key);
  if (v->type != GgufValueType::kArray || v->array_type != GgufValueType::kString)
    return WrongType(path(), key, *v, "array of string");
  std::vector<std::string> out;
  out.reserve(v->array.size());
  for (const auto& e : v->array) out.push_back(e.s);
  return out;
}

StatusOr<std::vector<double>> GgufFile::GetFloatArray(std::string_view key) const {
  const GgufValue* v = Find(key);
  if (!v) return Missing(path(), key);
  if (v->type != GgufValueType::kArray || !(IsFloat(v->array_type) || IsInteger(v->array_type)))
    return WrongType(path(), key, *v, "array of numbers");
  std::vector<double> out;
  out.reserve(v->array.size());
  for (const auto& e : v->array) out.push_back(IsFloat(e.type) ? e.f : static_cast<double>(e.i));
  return out;
}

StatusOr<std::vector<int64_t>> GgufFile::GetIntArray(std::string_view key) const {
  const GgufValue* v = Find(key);
  if (!v) return Missing(path(), key);
  if (v->type != GgufValueType::kArray || !IsInteger(v->array_type))
    return WrongType(path(), key, *v, "array of integers");
  std::vector<int64_t> out;
  out.reserve(v->array.size());
  for (const auto& e : v->array) out.push_back(e.i);
  return out;
}

}  // namespace seedtune
