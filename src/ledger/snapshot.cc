#include "ledger/snapshot.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <map>
#include <vector>

#include "formats/safetensors.h"
#include "zo/fingerprint.h"

namespace seedtune {

namespace {

constexpr const char* kKindKey = "seedtune.kind";
constexpr const char* kKind = "weights-snapshot";
constexpr const char* kFingerprintKey = "seedtune.fingerprint";
constexpr const char* kRoundKey = "seedtune.round";

std::string ShapeString(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

// The metadata and the tensor table of `f` against `like`'s; on success
// `*data` points at the data section (the canonical parameter vector).
Status Validate(const SafetensorsFile& f, const ModelWeights& like, SnapshotInfo* meta, const uint8_t** data) {
  const std::string& path = f.path();
  const auto& md = f.metadata();
  auto fp = md.find(kFingerprintKey);
  auto round = md.find(kRoundKey);
  if (fp == md.end() || round == md.end())
    return InvalidArgument("{}: not a seedtune weights snapshot (no {} / {} metadata)", path, kFingerprintKey,
                           kRoundKey);
  const std::string& fph = fp->second;
  auto r1 = std::from_chars(fph.data(), fph.data() + fph.size(), meta->fingerprint, 16);
  if (fph.size() != 16 || r1.ec != std::errc() || r1.ptr != fph.data() + fph.size())
    return InvalidArgument("{}: {} is '{}', not 16 hex digits", path, kFingerprintKey, fph);
  const std::string& rs = round->second;
  auto r2 = std::from_chars(rs.data(), rs.data() + rs.size(), meta->round, 10);
  if (rs.empty() || r2.ec != std::errc() || r2.ptr != rs.data() + rs.size())
    return InvalidArgument("{}: {} is '{}', not a round number", path, kRoundKey, rs);

  for (size_t i = 0; i < like.num_tensors(); ++i) {
    const TensorSpec& spec = like.specs()[i];
    const SafetensorsTensor* t = f.Find(spec.name);
    if (t == nullptr) return NotFound("{}: tensor {} of the model is missing from the snapshot", path, spec.name);
    if (t->dtype != "F32")
      return InvalidArgument("{}: tensor {}: dtype {} (snapshots are F32)", path, spec.name, t->dtype);
    if (t->shape != spec.shape)
      return InvalidArgument("{}: tensor {}: shape {} in the snapshot, but the model's is {}", path, spec.name,
                             ShapeString(t->shape), spec.ShapeString());
    const uint64_t want = static_cast<uint64_t>(like.canonical_index(i)) * 4;
    if (t->begin != want)
      return InvalidArgument("{}: tensor {} is at byte {} of the data section, not at its canonical position {}", path,
                             spec.name, t->begin, want);
  }
  if (f.tensors().size() != like.num_tensors()) {
    for (const auto& t : f.tensors())
      if (!like.table().Find(t.name))
        return InvalidArgument("{}: tensor {} is not in the model's tensor table", path, t.name);
    return InvalidArgument("{}: {} tensors, the model has {}", path, f.tensors().size(), like.num_tensors());
  }
  *data = nullptr;
  if (!f.tensors().empty()) {
    const auto& first = f.tensors().front();
    *data = first.data - first.begin;
    if (reinterpret_cast<uintptr_t>(*data) % alignof(float) != 0)
      return InvalidArgument("{}: data section is not 4-byte aligned", path);
  }
  return Status::Ok();
}

Status FsyncPath(const std::string& path, bool directory) {
  const int fd = ::open(path.empty() ? "." : path.c_str(), O_RDONLY | O_CLOEXEC | (directory ? O_DIRECTORY : 0));
  if (fd < 0) return IoError("{}: cannot open to fsync: {}", path, std::strerror(errno));
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  if (rc != 0 && !directory) return IoError("{}: fsync failed: {}", path, std::strerror(err));
  return Status::Ok();  // a directory fsync is best effort
}

}  // namespace

Status WriteWeightsSnapshot(const ModelWeights& w, const std::string& path, uint64_t round, ThreadingContext& ctx,
                            uint64_t* fingerprint) {
  const uint64_t fp = ModelFingerprint(w, ctx);
  std::vector<SafetensorsWriteTensor> tensors;
  tensors.reserve(w.num_tensors());
  for (size_t i = 0; i < w.num_tensors(); ++i)
    tensors.push_back({w.specs()[i].name, w.specs()[i].shape, TensorDtype::kF32, w.data(i)});
  const std::map<std::string, std::string> metadata{
      {kKindKey, kKind}, {kFingerprintKey, FingerprintHex(fp)}, {kRoundKey, std::to_string(round)}};
  RETURN_IF_ERROR(WriteSafetensors(path, tensors, metadata));
  if (fingerprint != nullptr) *fingerprint = fp;
  return Status::Ok();
}

StatusOr<SnapshotInfo> CheckWeightsSnapshot(const std::string& path, const ModelWeights& like) {
  ASSIGN_OR_RETURN(SafetensorsFile f, SafetensorsFile::Open(path));
  SnapshotInfo meta;
  const uint8_t* data = nullptr;
  RETURN_IF_ERROR(Validate(f, like, &meta, &data));
  const uint64_t fp = HashFloats(reinterpret_cast<const float*>(data), like.num_params());
  f.DropPages();
  if (fp != meta.fingerprint)
    return DataLoss("{}: the weights' fingerprint {} differs from the recorded {} (the file is corrupted)", path,
                    FingerprintHex(fp), FingerprintHex(meta.fingerprint));
  return meta;
}

Status LoadWeightsSnapshot(const std::string& path, ModelWeights* into, ThreadingContext& ctx) {
  ASSIGN_OR_RETURN(SafetensorsFile f, SafetensorsFile::Open(path));
  SnapshotInfo meta;
  const uint8_t* data = nullptr;
  RETURN_IF_ERROR(Validate(f, *into, &meta, &data));
  std::vector<Status> errors(into->num_tensors());
  ctx.ParallelFor(into->num_tensors(), [&](size_t i, int) {
    errors[i] = f.ReadFloat(*f.Find(into->specs()[i].name), into->data(i));
  });
  for (const Status& s : errors) RETURN_IF_ERROR(s);
  f.DropPages();
  const uint64_t fp = ModelFingerprint(*into, ctx);
  if (fp != meta.fingerprint)
    return DataLoss("{}: the loaded weights' fingerprint {} differs from the recorded {} (the file is corrupted)", path,
                    FingerprintHex(fp), FingerprintHex(meta.fingerprint));
  return Status::Ok();
}

std::string SnapshotRelativePath(const std::string& ledger_path, uint64_t round) {
  return std::filesystem::path(ledger_path).filename().string() + ".snapshots/round-" + std::to_string(round) +
         ".safetensors";
}

std::string ResolveSnapshotPath(const std::string& ledger_path, const std::string& relative) {
  const std::filesystem::path dir = std::filesystem::path(ledger_path).parent_path();
  return dir.empty() ? relative : (dir / relative).string();
}

Status SnapshotAfterRound(LedgerWriter* writer, const std::string& ledger_path, uint64_t round, const ModelWeights& w,
                          ThreadingContext& ctx) {
  if (!writer->has_record() || writer->last_round() != round)
    return FailedPrecondition("{}: a snapshot of round {} must follow the record of its round (the last record is {})",
                              ledger_path, round,
                              writer->has_record() ? fmt::format("round {}", writer->last_round()) : "none");
  if (writer->format_version() < 2)
    return FailedPrecondition("{}: a format-{} ledger cannot reference snapshots", ledger_path,
                              writer->format_version());
  const std::string rel = SnapshotRelativePath(ledger_path, round);
  const std::string file = ResolveSnapshotPath(ledger_path, rel);
  const std::string dir = std::filesystem::path(file).parent_path().string();
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return IoError("{}: cannot create the snapshot directory: {}", dir, ec.message());
  uint64_t fp = 0;
  RETURN_IF_ERROR(WriteWeightsSnapshot(w, file, round, ctx, &fp));
  RETURN_IF_ERROR(FsyncPath(file, /*directory=*/false));
  RETURN_IF_ERROR(FsyncPath(dir, /*directory=*/true));
  RETURN_IF_ERROR(FsyncPath(std::filesystem::path(dir).parent_path().string(), /*directory=*/true));
  return writer->WriteSnapshotRef(LedgerSnapshot{round, fp, rel});
}

}  // namespace seedtune
