#include "formats/safetensors.h"

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "core/half.h"

namespace seedtune {

static_assert(std::endian::native == std::endian::little, "safetensors data is little-endian");

const char* TensorDtypeName(TensorDtype d) {
  switch (d) {
    case TensorDtype::kF32: return "F32";
    case TensorDtype::kF16: return "F16";
    case TensorDtype::kBF16: return "BF16";
  }
  return "unknown";
}

size_t TensorDtypeSize(TensorDtype d) { return d == TensorDtype::kF32 ? 4 : 2; }

float RoundToDtype(float v, TensorDtype d) {
  switch (d) {
    case TensorDtype::kF32: return v;
    case TensorDtype::kF16: return Fp16ToFloat(FloatToFp16(v));
    case TensorDtype::kBF16: return Bf16ToFloat(FloatToBf16(v));
  }
  return v;
}

size_t SafetensorsDtypeSize(std::string_view dtype) {
  static const std::pair<std::string_view, size_t> kSizes[] = {
      {"BOOL", 1}, {"U8", 1},      {"I8", 1},      {"F8_E5M2", 1}, {"F8_E4M3", 1}, {"F8_E8M0", 1},
      {"I16", 2},  {"U16", 2},     {"F16", 2},     {"BF16", 2},    {"I32", 4},     {"U32", 4},
      {"F32", 4},  {"F64", 8},     {"I64", 8},     {"U64", 8},
  };
  for (const auto& [name, size] : kSizes)
    if (name == dtype) return size;
  return 0;
}

int64_t SafetensorsTensor::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

namespace {

uint64_t ReadLe64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

std::string ShapeStr(const std::vector<int64_t>& s) {
  std::string r = "[";
  for (size_t i = 0; i < s.size(); ++i) r += (i ? ", " : "") + std::to_string(s[i]);
  return r + "]";
}

// Parses one tensor entry of the header. `data_size` is the size of the data section.
Status ParseEntry(const std::string& path, const std::string& name, const nlohmann::json& e, uint64_t data_size,
                  SafetensorsTensor* t) {
  t->name = name;
  if (!e.is_object()) return InvalidArgument("{}: tensor {}: header entry is not a JSON object", path, name);
  auto dt = e.find("dtype");
  if (dt == e.end() || !dt->is_string()) return InvalidArgument("{}: tensor {}: missing or non-string dtype", path, name);
  t->dtype = dt->get<std::string>();
  const size_t esize = SafetensorsDtypeSize(t->dtype);
  if (esize == 0) return InvalidArgument("{}: tensor {}: unknown dtype \"{}\"", path, name, t->dtype);

  auto sh = e.find("shape");
  if (sh == e.end() || !sh->is_array()) return InvalidArgument("{}: tensor {}: missing or non-array shape", path, name);
  uint64_t numel = 1;
  bool overflow = false;
  for (const auto& d : *sh) {
    if (!d.is_number_integer() || (d.is_number_integer() && !d.is_number_unsigned() && d.get<int64_t>() < 0))
      return InvalidArgument("{}: tensor {}: shape entries must be non-negative integers, got {}", path, name,
                             sh->dump());
    const uint64_t v = d.get<uint64_t>();
    if (v > static_cast<uint64_t>(INT64_MAX)) return InvalidArgument("{}: tensor {}: dimension {} too large", path, name, v);
    t->shape.push_back(static_cast<int64_t>(v));
    uint64_t prod;
    if (__builtin_mul_overflow(numel, v, &prod)) overflow = true;
    numel = prod;
  }
  uint64_t expected_bytes;
  if (overflow || numel > static_cast<uint64_t>(INT64_MAX) || __builtin_mul_overflow(numel, esize, &expected_bytes))
    return InvalidArgument("{}: tensor {}: shape {} is too large", path, name, ShapeStr(t->shape));

  auto off = e.find("data_offsets");
  if (off == e.end() || !off->is_array() || off->size() != 2 || !(*off)[0].is_number_unsigned() ||
      !(*off)[1].is_number_unsigned())
    return InvalidArgument("{}: tensor {}: data_offsets must be two non-negative integers", path, name);
  t->begin = (*off)[0].get<uint64_t>();
  t->end = (*off)[1].get<uint64_t>();
  if (t->end < t->begin)
    return InvalidArgument("{}: tensor {}: data_offsets [{}, {}] end before begin", path, name, t->begin, t->end);
  if (t->end > data_size)
    return DataLoss("{}: tensor {}: data_offsets [{}, {}] lie past the end of the data section ({} bytes; file truncated?)",
                    path, name, t->begin, t->end, data_size);
  if (t->end - t->begin != expected_bytes)
    return InvalidArgument("{}: tensor {}: {} bytes in file, but dtype {} shape {} needs {}", path, name,
                           t->end - t->begin, t->dtype, ShapeStr(t->shape), expected_bytes);
  return Status::Ok();
}

}  // namespace

StatusOr<SafetensorsFile> SafetensorsFile::Open(const std::string& path) {
  SafetensorsFile f;
  ASSIGN_OR_RETURN(f.file_, MappedFile::Open(path));
  const uint8_t* base = f.file_.data();
  const uint64_t size = f.file_.size();
  if (size < 8) return DataLoss("{}: file is {} bytes, too short for a safetensors header", path, size);
  const uint64_t n = ReadLe64(base);
  if (n > size - 8)
    return DataLoss("{}: header length {} lies past the end of the file ({} bytes)", path, n, size);
  if (n < 2) return InvalidArgument("{}: header length {} is too short for a JSON object", path, n);
  f.header_size_ = n;
  const uint64_t data_start = 8 + n;
  const uint64_t data_size = size - data_start;

  nlohmann::json header;
  try {
    header = nlohmann::json::parse(reinterpret_cast<const char*>(base + 8), reinterpret_cast<const char*>(base + 8 + n));
  } catch (const nlohmann::json::exception& e) {
    return InvalidArgument("{}: invalid JSON header: {}", path, e.what());
  }
  if (!header.is_object()) return InvalidArgument("{}: JSON header is not an object", path);

  for (auto it = header.begin(); it != header.end(); ++it) {
    if (it.key() == "__metadata__") {
      if (it->is_null()) continue;
      if (!it->is_object()) return InvalidArgument("{}: __metadata__ is not a JSON object", path);
      for (auto m = it->begin(); m != it->end(); ++m) {
        if (!m->is_string())
          return InvalidArgument("{}: __metadata__ value for key \"{}\" is not a string", path, m.key());
        f.metadata_[m.key()] = m->get<std::string>();
      }
      continue;
    }
    SafetensorsTensor t;
    RETURN_IF_ERROR(ParseEntry(path, it.key(), *it, data_size, &t));
    t.data = base + data_start + t.begin;
    f.tensors_.push_back(std::move(t));
  }
  std::sort(f.tensors_.begin(), f.tensors_.end(), [](const SafetensorsTensor& a, const SafetensorsTensor& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  for (size_t i = 1; i < f.tensors_.size(); ++i) {
    const auto& prev = f.tensors_[i - 1];
    const auto& cur = f.tensors_[i];
    if (cur.begin < prev.end)
      return InvalidArgument("{}: tensors {} [{}, {}) and {} [{}, {}) overlap", path, prev.name, prev.begin, prev.end,
                             cur.name, cur.begin, cur.end);
  }
  for (size_t i = 0; i < f.tensors_.size(); ++i) f.index_[f.tensors_[i].name] = i;
  return f;
}

const SafetensorsTensor* SafetensorsFile::Find(std::string_view name) const {
  auto it = index_.find(std::string(name));
  return it == index_.end() ? nullptr : &tensors_[it->second];
}

Status SafetensorsFile::ReadFloat(const SafetensorsTensor& t, float* dst) const {
  const size_t n = static_cast<size_t>(t.numel());
  const uint8_t* p = t.data;
  if (t.dtype == "F32") {
    if (n > 0) std::memcpy(dst, p, n * 4);
  } else if (t.dtype == "F16") {
    for (size_t i = 0; i < n; ++i) dst[i] = Fp16ToFloat(static_cast<uint16_t>(p[2 * i] | (p[2 * i + 1] << 8)));
  } else if (t.dtype == "BF16") {
    for (size_t i = 0; i < n; ++i) dst[i] = Bf16ToFloat(static_cast<uint16_t>(p[2 * i] | (p[2 * i + 1] << 8)));
  } else {
    return Unimplemented("{}: tensor {}: dtype {} is not supported (supported: F32, F16, BF16)", path(), t.name,
                         t.dtype);
  }
  return Status::Ok();
}

uint64_t SafetensorsDataBytes(const SafetensorsWriteTensor& t) {
  uint64_t n = 1;
  for (int64_t d : t.shape) n *= static_cast<uint64_t>(d);
  return n * TensorDtypeSize(t.dtype);
}

Status WriteSafetensors(const std::string& path, const std::vector<SafetensorsWriteTensor>& tensors,
                        const std::map<std::string, std::string>& metadata) {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) {
    nlohmann::ordered_json m = nlohmann::ordered_json::object();
    for (const auto& [k, v] : metadata) m[k] = v;
    header["__metadata__"] = m;
  }
  uint64_t offset = 0;
  for (const auto& t : tensors) {
    if (t.name == "__metadata__" || t.name.empty()) return InvalidArgument("{}: invalid tensor name \"{}\"", path, t.name);
    if (header.contains(t.name)) return InvalidArgument("{}: duplicate tensor name {}", path, t.name);
    for (int64_t d : t.shape)
      if (d < 0) return InvalidArgument("{}: tensor {}: negative dimension", path, t.name);
    const uint64_t bytes = SafetensorsDataBytes(t);
    if (bytes > 0 && t.data == nullptr) return InvalidArgument("{}: tensor {}: no data", path, t.name);
    header[t.name] = {{"dtype", TensorDtypeName(t.dtype)}, {"shape", t.shape}, {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  std::string json;
  try {
    json = header.dump();
  } catch (const nlohmann::json::exception& e) {  // e.g. invalid UTF-8 in a name or metadata
    return InvalidArgument("{}: cannot encode header: {}", path, e.what());
  }
  json.append((8 - json.size() % 8) % 8, ' ');

  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) return IoError("{}: cannot open for writing: {}", tmp, std::strerror(errno));
    uint8_t len[8];
    uint64_t n = json.size();
    for (int i = 0; i < 8; ++i) len[i] = static_cast<uint8_t>(n >> (8 * i));
    out.write(reinterpret_cast<const char*>(len), 8);
    out.write(json.data(), static_cast<std::streamsize>(json.size()));
    std::vector<uint8_t> buf;
    for (const auto& t : tensors) {
      const uint64_t bytes = SafetensorsDataBytes(t);
      const size_t numel = bytes / TensorDtypeSize(t.dtype);
      if (t.dtype == TensorDtype::kF32) {
        out.write(reinterpret_cast<const char*>(t.data), static_cast<std::streamsize>(bytes));
        continue;
      }
      buf.resize(bytes);
      for (size_t i = 0; i < numel; ++i) {
        const uint16_t h = t.dtype == TensorDtype::kF16 ? FloatToFp16(t.data[i]) : FloatToBf16(t.data[i]);
        buf[2 * i] = static_cast<uint8_t>(h & 0xff);
        buf[2 * i + 1] = static_cast<uint8_t>(h >> 8);
      }
      out.write(reinterpret_cast<const char*>(buf.data()), static_cast<std::streamsize>(bytes));
    }
    out.close();
    if (!out) {
      std::remove(tmp.c_str());
      return IoError("{}: write failed", tmp);
    }
  }
  return RenameIntoPlace(tmp, path);
}

}  // namespace seedtune
