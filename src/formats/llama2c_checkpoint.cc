// llama2.c checkpoint reader (OpenLlama2cCheckpoint); the format is described
// in formats/llama2c.h.
#include <cstring>
#include <filesystem>
#include <set>
#include <unordered_map>

#include "core/mapped_file.h"
#include "formats/checkpoint.h"
#include "formats/llama2c.h"

namespace seedtune {

namespace {

std::string ShapeStr(const std::vector<int64_t>& s) {
  std::string r = "[";
  for (size_t i = 0; i < s.size(); ++i) r += (i ? ", " : "") + std::to_string(s[i]);
  return r + "]";
}

class Llama2cReader final : public CheckpointReader {
 public:
  static StatusOr<std::unique_ptr<CheckpointReader>> Open(const std::string& path);

  CheckpointFormat format() const override { return CheckpointFormat::kLlama2c; }
  const std::string& path() const override { return file_.path(); }
  const ModelConfig& config() const override { return config_; }
  Status ReadTensor(const TensorSpec& spec, float* dst) override;
  // The file is exactly as large as its header implies (checked at open), so
  // present and shaped right is all there is to check.
  Status CheckTensor(const TensorSpec& spec) override {
    ASSIGN_OR_RETURN(const Llama2cTensor* t, Locate(spec));
    used_.insert(t->name);
    return Status::Ok();
  }
  std::vector<std::string> UnusedTensors() const override;
  void ReleasePages() override { file_.DropPages(); }

 private:
  MappedFile file_;
  Llama2cHeader header_;
  ModelConfig config_;
  std::vector<Llama2cTensor> layout_;
  std::unordered_map<std::string, size_t> index_;
  std::set<std::string> used_;

  StatusOr<const Llama2cTensor*> Locate(const TensorSpec& spec) const;
};

StatusOr<std::unique_ptr<CheckpointReader>> Llama2cReader::Open(const std::string& path) {
  auto r = std::make_unique<Llama2cReader>();
  ASSIGN_OR_RETURN(r->file_, MappedFile::Open(path));
  ASSIGN_OR_RETURN(r->header_, ParseLlama2cHeader(r->file_.data(), r->file_.size(), path));
  const Llama2cHeader& h = r->header_;
  ASSIGN_OR_RETURN(const uint64_t expected, Llama2cFileSize(h, path));
  const uint64_t actual = r->file_.size();
  if (actual != expected) {
    const std::string what = fmt::format(
        "{}: llama2.c v{} header (dim={} hidden_dim={} n_layers={} n_heads={} n_kv_heads={} vocab_size={} seq_len={}{}{}) "
        "implies {} bytes, but the file has {} bytes",
        path, h.version, h.dim, h.hidden_dim, h.n_layers, h.n_heads, h.n_kv_heads, h.vocab_size, h.seq_len,
        h.shared_classifier ? " shared classifier" : " unshared classifier",
        h.version == 2 ? fmt::format(" group_size={}", h.group_size) : "", expected, actual);
    if (actual < expected) return DataLoss("{} (truncated)", what);
    return InvalidArgument("{} ({} trailing bytes)", what, actual - expected);
  }
  const std::string stem = std::filesystem::path(path).stem().string();
  r->config_ = Llama2cConfig(h, stem);
  r->layout_ = Llama2cLayout(h);
  Status v = r->config_.Validate();
  if (!v.ok()) return v.WithContext(path);
  for (size_t i = 0; i < r->layout_.size(); ++i) r->index_[r->layout_[i].name] = i;
  return std::unique_ptr<CheckpointReader>(std::move(r));
}

StatusOr<const Llama2cTensor*> Llama2cReader::Locate(const TensorSpec& spec) const {
  auto it = index_.find(spec.name);
  if (it == index_.end())
    return NotFound("{}: tensor {} {} is not part of a llama2.c v{} checkpoint", path(), spec.name, spec.ShapeString(),
                    header_.version);
  const Llama2cTensor& t = layout_[it->second];
  if (t.shape != spec.shape)
    return InvalidArgument("{}: tensor {}: shape {} in the file, expected {}", path(), spec.name, ShapeStr(t.shape),
                           spec.ShapeString());
  return &t;
}

Status Llama2cReader::ReadTensor(const TensorSpec& spec, float* dst) {
  ASSIGN_OR_RETURN(const Llama2cTensor* found, Locate(spec));
  const Llama2cTensor& t = *found;
  const int64_t n = spec.numel();
  // Offsets come from the validated layout: the file is exactly as large as it implies.
  const uint8_t* p = file_.data() + t.offset;
  if (!t.q8) {
    std::memcpy(dst, p, static_cast<size_t>(n) * 4);
  } else {
    const int64_t gs = header_.group_size;
    const uint8_t* scales = p + n;
    for (int64_t g = 0; g < n / gs; ++g) {
      float s;
      std::memcpy(&s, scales + 4 * g, 4);
      for (int64_t i = g * gs; i < (g + 1) * gs; ++i) dst[i] = static_cast<float>(static_cast<int8_t>(p[i])) * s;
    }
  }
  used_.insert(spec.name);
  return Status::Ok();
}

std::vector<std::string> Llama2cReader::UnusedTensors() const {
  std::vector<std::string> out;
  for (const auto& t : layout_)
    if (!used_.count(t.name)) out.push_back(t.name);
  return out;
}

}  // namespace

StatusOr<std::unique_ptr<CheckpointReader>> OpenLlama2cCheckpoint(const std::string& path) {
  return Llama2cReader::Open(path);
}

}  // namespace seedtune
