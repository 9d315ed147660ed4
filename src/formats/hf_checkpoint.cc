// Hugging Face checkpoint reader (OpenHuggingFaceCheckpoint) and writer.
#include "formats/hf_checkpoint.h"

#include <algorithm>
#include <deque>
#include <filesystem>
#include <regex>
#include <set>
#include <unordered_map>

#include <nlohmann/json.hpp>

#include "core/mapped_file.h"
#include "formats/checkpoint.h"
#include "formats/hf_config.h"

namespace seedtune {

namespace {

namespace fs = std::filesystem;

constexpr const char* kConfigFile = "config.json";
constexpr const char* kSingleFile = "model.safetensors";
constexpr const char* kIndexFile = "model.safetensors.index.json";

std::string ShapeStr(const std::vector<int64_t>& s) {
  std::string r = "[";
  for (size_t i = 0; i < s.size(); ++i) r += (i ? ", " : "") + std::to_string(s[i]);
  return r + "]";
}

// Names under which a canonical tensor may appear in a file: the canonical
// name, then common prefix-less variants (OPT "decoder.layers...", original
// GPT-2 "h.0.attn...", "wte.weight").
std::vector<std::string> NameVariants(const std::string& name) {
  std::vector<std::string> v{name};
  for (const char* prefix : {"model.", "transformer."}) {
    const std::string p(prefix);
    if (name.compare(0, p.size(), p) == 0) v.push_back(name.substr(p.size()));
  }
  return v;
}

class HfCheckpointReader final : public CheckpointReader {
 public:
  static StatusOr<std::unique_ptr<CheckpointReader>> Open(const std::string& dir);

  CheckpointFormat format() const override { return CheckpointFormat::kHuggingFace; }
  const std::string& path() const override { return dir_; }
  const ModelConfig& config() const override { return config_; }
  Status ReadTensor(const TensorSpec& spec, float* dst) override;
  Status CheckTensor(const TensorSpec& spec) override {
    std::pair<const Loc*, std::string> found;
    RETURN_IF_ERROR(Locate(spec, &found));
    used_.insert(found.second);
    return Status::Ok();
  }
  std::vector<std::string> UnusedTensors() const override;
  std::string TensorFile(const std::string& name) const override {
    auto it = tensors_.find(name);
    return it == tensors_.end() ? where_ : files_[it->second.file].path();
  }
  void ReleasePages() override {
    for (const auto& f : files_) f.DropPages();
  }

 private:
  struct Loc;
  // The file tensor for `spec` (also under its name variants) with its shape
  // checked; *found (if given) gets it and the name it was found under.
  Status Locate(const TensorSpec& spec, std::pair<const Loc*, std::string>* found) const;
  struct Loc {
    size_t file = 0;
    const SafetensorsTensor* tensor = nullptr;
  };
  Status AddFile(SafetensorsFile file);

  std::string dir_;
  std::string config_path_;
  std::string where_;  // what "not found" errors name: the single file or the index
  ModelConfig config_;
  std::deque<SafetensorsFile> files_;  // deque: tensor pointers stay valid
  std::unordered_map<std::string, Loc> tensors_;
  std::vector<std::string> order_;  // every tensor name, in file order
  std::set<std::string> used_;
};

Status HfCheckpointReader::AddFile(SafetensorsFile file) {
  files_.push_back(std::move(file));
  const size_t idx = files_.size() - 1;
  for (const auto& t : files_.back().tensors()) {
    if (tensors_.emplace(t.name, Loc{idx, &t}).second) order_.push_back(t.name);
  }
  return Status::Ok();
}

StatusOr<std::unique_ptr<CheckpointReader>> HfCheckpointReader::Open(const std::string& dir) {
  std::error_code ec;
  if (!fs::exists(dir, ec)) return NotFound("{}: no such directory", dir);
  if (!fs::is_directory(dir, ec)) return InvalidArgument("{}: not a Hugging Face model directory", dir);
  auto r = std::make_unique<HfCheckpointReader>();
  r->dir_ = dir;
  r->config_path_ = (fs::path(dir) / kConfigFile).string();
  if (!fs::exists(r->config_path_, ec)) return NotFound("{}: missing config.json ({})", dir, r->config_path_);
  ASSIGN_OR_RETURN(r->config_, ReadHfConfig(r->config_path_));

  const std::string single = (fs::path(dir) / kSingleFile).string();
  const std::string index = (fs::path(dir) / kIndexFile).string();
  if (fs::exists(single, ec)) {
    r->where_ = single;
    ASSIGN_OR_RETURN(SafetensorsFile f, SafetensorsFile::Open(single));
    RETURN_IF_ERROR(r->AddFile(std::move(f)));
    return std::unique_ptr<CheckpointReader>(std::move(r));
  }
  if (!fs::exists(index, ec)) {
    if (fs::exists(fs::path(dir) / "pytorch_model.bin", ec))
      return Unimplemented("{}: only pytorch_model.bin (pickle) found; convert it to safetensors", dir);
    return NotFound("{}: neither {} nor {} found", dir, kSingleFile, kIndexFile);
  }
  r->where_ = index;
  ASSIGN_OR_RETURN(std::string text, ReadFileToString(index));
  // weight_map: tensor -> shard file name.
  std::vector<std::pair<std::string, std::string>> weight_map;
  try {
    const nlohmann::json j = nlohmann::json::parse(text);
    if (!j.is_object()) return InvalidArgument("{}: index is not a JSON object", index);
    auto wm = j.find("weight_map");
    if (wm == j.end() || !wm->is_object()) return InvalidArgument("{}: missing or non-object \"weight_map\"", index);
    for (auto it = wm->begin(); it != wm->end(); ++it) {
      if (!it->is_string())
        return InvalidArgument("{}: weight_map entry for tensor {} is not a file name", index, it.key());
      weight_map.emplace_back(it.key(), it->get<std::string>());
    }
  } catch (const nlohmann::json::exception& e) {
    return InvalidArgument("{}: invalid JSON: {}", index, e.what());
  }
  if (weight_map.empty()) return InvalidArgument("{}: weight_map is empty", index);
  std::map<std::string, size_t> file_index;
  std::vector<std::string> shard_names;
  for (const auto& [tensor, file] : weight_map) {
    if (file_index.count(file)) continue;
    const fs::path p(file);
    bool bad = file.empty() || p.is_absolute();
    for (const auto& part : p) bad = bad || part == "..";
    if (bad) return InvalidArgument("{}: tensor {}: shard file name \"{}\" must be relative to the directory", index,
                                    tensor, file);
    file_index[file] = 0;
    shard_names.push_back(file);
  }
  std::sort(shard_names.begin(), shard_names.end());
  for (const auto& name : shard_names) {
    const std::string path = (fs::path(dir) / name).string();
    auto f = SafetensorsFile::Open(path);
    if (!f.ok()) {
      if (f.status().code() == StatusCode::kNotFound)
        return NotFound("{}: shard {} listed in {} is missing", dir, path, index);
      return f.status();
    }
    file_index[name] = r->files_.size();
    RETURN_IF_ERROR(r->AddFile(std::move(f).value()));
  }
  // The index decides which shard holds each tensor it lists.
  for (const auto& [tensor, file] : weight_map) {
    const SafetensorsFile& f = r->files_[file_index[file]];
    const SafetensorsTensor* t = f.Find(tensor);
    if (t == nullptr)
      return DataLoss("{}: weight_map puts tensor {} in {}, but that file has no such tensor", index, tensor, f.path());
    r->tensors_[tensor] = Loc{file_index[file], t};
  }
  return std::unique_ptr<CheckpointReader>(std::move(r));
}

Status HfCheckpointReader::Locate(const TensorSpec& spec, std::pair<const Loc*, std::string>* found) const {
  const std::vector<std::string> names = NameVariants(spec.name);
  const Loc* loc = nullptr;
  std::string found_name;
  for (const auto& n : names) {
    auto it = tensors_.find(n);
    if (it != tensors_.end()) {
      loc = &it->second;
      found_name = n;
      break;
    }
  }
  if (loc == nullptr) {
    std::string tried;
    for (size_t i = 1; i < names.size(); ++i) tried += (i > 1 ? ", " : "") + names[i];
    return NotFound("{}: tensor {} {} not found{}", where_, spec.name, spec.ShapeString(),
                    tried.empty() ? "" : " (also tried " + tried + ")");
  }
  const SafetensorsFile& file = files_[loc->file];
  const SafetensorsTensor& t = *loc->tensor;
  const bool transpose = spec.hf_conv1d && spec.shape.size() == 2;
  const std::vector<int64_t> expected = transpose ? std::vector<int64_t>{spec.shape[1], spec.shape[0]} : spec.shape;
  if (t.shape != expected)
    return InvalidArgument("{}: tensor {}: shape {} in the file, but {} expects {}{}", file.path(), found_name,
                           ShapeStr(t.shape), config_path_, ShapeStr(expected),
                           transpose ? " (GPT-2 Conv1D weights are stored [in, out])" : "");
  if (found != nullptr) *found = {loc, found_name};
  return Status::Ok();
}

Status HfCheckpointReader::ReadTensor(const TensorSpec& spec, float* dst) {
  std::pair<const Loc*, std::string> found;
  RETURN_IF_ERROR(Locate(spec, &found));
  const Loc* loc = found.first;
  const std::string& found_name = found.second;
  const SafetensorsFile& file = files_[loc->file];
  const SafetensorsTensor& t = *loc->tensor;
  const bool transpose = spec.hf_conv1d && spec.shape.size() == 2;
  const std::vector<int64_t> expected = transpose ? std::vector<int64_t>{spec.shape[1], spec.shape[0]} : spec.shape;
  if (!transpose) {
    RETURN_IF_ERROR(file.ReadFloat(t, dst));
  } else {
    std::vector<float> tmp(static_cast<size_t>(t.numel()));
    RETURN_IF_ERROR(file.ReadFloat(t, tmp.data()));
    const int64_t rows = expected[0], cols = expected[1];  // file [in, out] -> internal [out, in]
    for (int64_t i = 0; i < rows; ++i)
      for (int64_t j = 0; j < cols; ++j) dst[j * rows + i] = tmp[static_cast<size_t>(i * cols + j)];
  }
  used_.insert(found_name);
  return Status::Ok();
}

std::vector<std::string> HfCheckpointReader::UnusedTensors() const {
  std::vector<std::string> out;
  const bool tied = config_.tie_word_embeddings;
  for (const auto& n : order_) {
    if (used_.count(n)) continue;
    // A tied output projection that the file stores anyway duplicates the embedding.
    if (tied && (n == "lm_head.weight" || n == "embed_out.weight")) continue;
    out.push_back(n);
  }
  return out;
}

// Removes files of an earlier write that could shadow the new ones.
Status RemoveStaleFiles(const std::string& dir) {
  static const std::regex kShard(R"(model-\d{5}-of-\d{5}\.safetensors)");
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name == kSingleFile || name == kIndexFile || std::regex_match(name, kShard)) {
      fs::remove(entry.path(), ec);
      if (ec) return IoError("{}: cannot remove stale {}: {}", dir, name, ec.message());
    }
  }
  if (ec) return IoError("{}: cannot list directory: {}", dir, ec.message());
  return Status::Ok();
}

const char* TorchDtypeName(TensorDtype d) {
  switch (d) {
    case TensorDtype::kF32: return "float32";
    case TensorDtype::kF16: return "float16";
    case TensorDtype::kBF16: return "bfloat16";
  }
  return "float32";
}

}  // namespace

StatusOr<std::unique_ptr<CheckpointReader>> OpenHuggingFaceCheckpoint(const std::string& dir) {
  return HfCheckpointReader::Open(dir);
}

Status WriteHuggingFaceCheckpoint(const ModelWeights& weights, const std::string& dir, const HfWriteOptions& options) {
  // Fails early (before touching the directory) if the config has no HF form.
  auto config_text = HfConfigToJson(weights.config(), TorchDtypeName(options.dtype));
  if (!config_text.ok()) return config_text.status().WithContext(dir);

  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return IoError("{}: cannot create directory: {}", dir, ec.message());
  RETURN_IF_ERROR(RemoveStaleFiles(dir));

  std::deque<std::vector<float>> transposed;
  std::vector<SafetensorsWriteTensor> tensors;
  for (size_t i = 0; i < weights.num_tensors(); ++i) {
    const TensorSpec& s = weights.specs()[i];
    SafetensorsWriteTensor t{s.name, s.shape, options.dtype, weights.data(i)};
    if (s.hf_conv1d && s.shape.size() == 2) {
      const int64_t out = s.shape[0], in = s.shape[1];
      auto& buf = transposed.emplace_back(static_cast<size_t>(out * in));
      const float* src = weights.data(i);
      for (int64_t o = 0; o < out; ++o)
        for (int64_t k = 0; k < in; ++k) buf[static_cast<size_t>(k * out + o)] = src[o * in + k];
      t.shape = {in, out};
      t.data = buf.data();
    }
    tensors.push_back(std::move(t));
  }
  std::map<std::string, std::string> metadata = options.metadata;
  metadata["format"] = "pt";

  if (options.max_shard_bytes == 0) {
    RETURN_IF_ERROR(WriteSafetensors((fs::path(dir) / kSingleFile).string(), tensors, metadata));
  } else {
    std::vector<std::vector<SafetensorsWriteTensor>> shards;
    uint64_t current = 0, total = 0;
    for (auto& t : tensors) {
      const uint64_t bytes = SafetensorsDataBytes(t);
      total += bytes;
      if (shards.empty() || (current > 0 && current + bytes > options.max_shard_bytes)) {
        shards.emplace_back();
        current = 0;
      }
      shards.back().push_back(t);
      current += bytes;
    }
    if (shards.size() > 99999) return InvalidArgument("{}: {} shards is too many", dir, shards.size());
    nlohmann::ordered_json weight_map = nlohmann::ordered_json::object();
    for (size_t s = 0; s < shards.size(); ++s) {
      const std::string name = fmt::format("model-{:05d}-of-{:05d}.safetensors", s + 1, shards.size());
      RETURN_IF_ERROR(WriteSafetensors((fs::path(dir) / name).string(), shards[s], metadata));
      for (const auto& t : shards[s]) weight_map[t.name] = name;
    }
    nlohmann::ordered_json index;
    index["metadata"] = {{"total_size", total}};
    index["weight_map"] = weight_map;
    RETURN_IF_ERROR(WriteStringToFile((fs::path(dir) / kIndexFile).string(), index.dump(2) + "\n"));
  }
  return WriteStringToFile((fs::path(dir) / kConfigFile).string(), *config_text);
}

}  // namespace seedtune
