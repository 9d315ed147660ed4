// libFuzzer target for the safetensors reader (formats/safetensors.cc) and,
// through it, the Hugging Face checkpoint reader behind LoadModel
// (formats/hf_checkpoint.cc). Every input is written to a scratch file and:
//  1. SafetensorsFile::Open either rejects it with a Status or accepts a file
//     whose directory is consistent: the header inside the file, tensors in
//     data-offset order, each one's bytes inside the data section, sized as
//     dtype and shape say, not overlapping the next, found by name;
//  2. every F32 / F16 / BF16 tensor converts to fp32; another dtype is
//     Unimplemented;
//  3. when every tensor is F32 / F16 / BF16, the file re-encodes with
//     WriteSafetensors (same dtypes, same metadata) to a file that reads back
//     with the same names, shapes, dtypes, metadata and values;
//  4. when the header's __metadata__ holds a "config" entry, the input is
//     also loaded as a Hugging Face directory (that entry as config.json, the
//     input as model.safetensors): the reader and LoadModel agree
//     (fuzz/model_checks.h).
// Built and run by scripts/fuzz.sh (target "safetensors").
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "formats/checkpoint.h"
#include "formats/safetensors.h"
#include "fuzz/fuzz_util.h"
#include "fuzz/model_checks.h"

namespace {

using seedtune::SafetensorsFile;

bool Convertible(const std::string& dtype) { return dtype == "F32" || dtype == "F16" || dtype == "BF16"; }

seedtune::TensorDtype DtypeOf(const std::string& dtype) {
  if (dtype == "F16") return seedtune::TensorDtype::kF16;
  if (dtype == "BF16") return seedtune::TensorDtype::kBF16;
  return seedtune::TensorDtype::kF32;
}

void CheckDirectory(const SafetensorsFile& f, uint64_t size) {
  FUZZ_CHECK(f.header_size() <= size - 8);
  const uint64_t data_size = size - 8 - f.header_size();
  const auto& ts = f.tensors();
  for (size_t i = 0; i < ts.size(); ++i) {
    const auto& t = ts[i];
    FUZZ_CHECK(f.Find(t.name) == &t);
    FUZZ_CHECK(t.name != "__metadata__");
    FUZZ_CHECK(t.begin <= t.end && t.end <= data_size);
    const size_t esize = seedtune::SafetensorsDtypeSize(t.dtype);
    FUZZ_CHECK(esize > 0);
    uint64_t numel = 1;
    for (int64_t d : t.shape) {
      FUZZ_CHECK(d >= 0);
      numel *= static_cast<uint64_t>(d);  // the reader excluded overflow
    }
    FUZZ_CHECK(t.nbytes() == numel * esize);
    FUZZ_CHECK(static_cast<uint64_t>(t.numel()) == numel);
    if (i > 0) {
      FUZZ_CHECK(ts[i - 1].begin <= t.begin);
      FUZZ_CHECK(t.begin >= ts[i - 1].end);
    }
  }
}

// Reads every tensor as fp32; returns false if one has a dtype the reader
// cannot convert.
bool ReadAll(const SafetensorsFile& f, std::vector<std::vector<float>>* out) {
  bool all = true;
  for (const auto& t : f.tensors()) {
    std::vector<float> v(static_cast<size_t>(t.numel()));
    const seedtune::Status s = f.ReadFloat(t, v.data());
    if (Convertible(t.dtype)) {
      FUZZ_CHECK_MSG(s.ok(), s.ToString());
    } else {
      FUZZ_CHECK(s.code() == seedtune::StatusCode::kUnimplemented);
      all = false;
    }
    out->push_back(std::move(v));
  }
  return all;
}

void CheckReencode(const SafetensorsFile& f, const std::vector<std::vector<float>>& values) {
  std::vector<seedtune::SafetensorsWriteTensor> ts;
  for (size_t i = 0; i < f.tensors().size(); ++i) {
    const auto& t = f.tensors()[i];
    ts.push_back({t.name, t.shape, DtypeOf(t.dtype), values[i].data()});
  }
  const std::string again = seedtune::fuzz::ScratchDir() + "/again.safetensors";
  const seedtune::Status written = seedtune::WriteSafetensors(again, ts, f.metadata());
  FUZZ_CHECK_MSG(written.ok(), written.ToString());
  auto g = SafetensorsFile::Open(again);
  FUZZ_CHECK_MSG(g.ok(), g.status().ToString());
  FUZZ_CHECK(g->metadata() == f.metadata());
  FUZZ_CHECK(g->tensors().size() == f.tensors().size());
  for (const auto& t : f.tensors()) {
    const auto* u = g->Find(t.name);
    FUZZ_CHECK(u != nullptr);
    FUZZ_CHECK(u->dtype == t.dtype && u->shape == t.shape && u->nbytes() == t.nbytes());
  }
  std::vector<std::vector<float>> back;
  FUZZ_CHECK(ReadAll(*g, &back));
  for (size_t i = 0; i < f.tensors().size(); ++i) {
    const auto* u = g->Find(f.tensors()[i].name);
    const std::vector<float>& b = back[static_cast<size_t>(u - g->tensors().data())];
    FUZZ_CHECK(b.size() == values[i].size());
    for (size_t k = 0; k < b.size(); ++k) FUZZ_CHECK(seedtune::fuzz::SameFloat(b[k], values[i][k]));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = seedtune::fuzz::WriteScratch("input.safetensors", data, size);
  auto f = SafetensorsFile::Open(path);
  if (!f.ok()) return 0;
  CheckDirectory(*f, size);
  std::vector<std::vector<float>> values;
  if (ReadAll(*f, &values)) CheckReencode(*f, values);

  auto config = f->metadata().find("config");
  if (config != f->metadata().end()) {
    const std::string dir = seedtune::fuzz::ScratchDir() + "/hf";
    std::filesystem::create_directories(dir);
    seedtune::fuzz::WriteScratch("hf/config.json", config->second);
    seedtune::fuzz::WriteScratch("hf/model.safetensors", data, size);
    (void)seedtune::fuzz::CheckLoad(dir);
  }
  return 0;
}
