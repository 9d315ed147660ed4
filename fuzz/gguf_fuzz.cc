// libFuzzer target for the GGUF reader (formats/gguf.cc), the GGUF checkpoint
// reader behind LoadModel (formats/gguf_checkpoint.cc) and the embedded
// tokenizer loader (tokenizer/gguf_tokenizer.cc). Every input is written to a
// scratch file and:
//  1. GgufFile::Open either rejects it with a Status or accepts a file whose
//     directory is consistent: version 2/3, a power-of-two alignment, an
//     aligned data section inside the file, every tensor's bytes aligned,
//     inside the file, sized as its type and dims say, not overlapping any
//     other tensor, found by name; every key found by name;
//  2. an accepted file re-encodes with formats/gguf_writer.cc (its only
//     alignment is 32, so another alignment key is left out) to a file that
//     reads back with the same metadata (keys in order, types, values) and
//     the same tensors (names, dims, types, bytes);
//  3. the checkpoint reader and LoadModel agree (fuzz/model_checks.h);
//  4. an embedded tokenizer, when it loads, has the properties of
//     fuzz/tokenizer_checks.h.
// Built and run by scripts/fuzz.sh (target "gguf").
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "formats/checkpoint.h"
#include "formats/dequant.h"
#include "formats/gguf.h"
#include "formats/gguf_writer.h"
#include "fuzz/fuzz_util.h"
#include "fuzz/model_checks.h"
#include "fuzz/tokenizer_checks.h"
#include "tokenizer/gguf_tokenizer.h"

namespace {

using seedtune::GgufFile;
using seedtune::GgufValue;
using seedtune::GgufValueType;

bool SameValue(const GgufValue& a, const GgufValue& b) {
  if (a.type != b.type) return false;
  switch (a.type) {
    case GgufValueType::kFloat32:
    case GgufValueType::kFloat64: return seedtune::fuzz::SameFloat(a.f, b.f);
    case GgufValueType::kBool: return a.b == b.b;
    case GgufValueType::kString: return a.s == b.s;
    case GgufValueType::kArray:
      if (a.array_type != b.array_type || a.array.size() != b.array.size()) return false;
      for (size_t i = 0; i < a.array.size(); ++i)
        if (!SameValue(a.array[i], b.array[i])) return false;
      return true;
    default: return a.i == b.i;
  }
}

void CheckDirectory(const GgufFile& g) {
  FUZZ_CHECK(g.version() == 2 || g.version() == 3);
  const uint64_t align = g.alignment();
  FUZZ_CHECK(align >= 1 && (align & (align - 1)) == 0);
  FUZZ_CHECK(g.data_offset() % align == 0);
  if (!g.tensors().empty()) FUZZ_CHECK(g.data_offset() <= g.file_size());
  for (const std::string& key : g.keys()) FUZZ_CHECK(g.Find(key) != nullptr);
  FUZZ_CHECK(std::count(g.keys().begin(), g.keys().end(), std::string()) == 0);
  std::vector<std::pair<uint64_t, uint64_t>> ranges;
  for (const auto& t : g.tensors()) {
    FUZZ_CHECK(g.FindTensor(t.name) == &t);
    FUZZ_CHECK(!t.dims.empty() && t.dims.size() <= 4);
    int64_t numel = 1;
    for (int64_t d : t.dims) {
      FUZZ_CHECK(d > 0);
      numel *= d;  // the reader excluded overflow
    }
    FUZZ_CHECK(t.numel() == numel);
    FUZZ_CHECK(t.offset % align == 0);
    auto row = seedtune::GgmlRowBytes(t.type, t.dims[0]);
    FUZZ_CHECK(row.ok());
    FUZZ_CHECK(static_cast<uint64_t>(numel / t.dims[0]) * *row == t.nbytes);
    FUZZ_CHECK(t.offset <= g.file_size() - g.data_offset() && t.nbytes <= g.file_size() - g.data_offset() - t.offset);
    ranges.emplace_back(t.offset, t.offset + t.nbytes);
  }
  std::sort(ranges.begin(), ranges.end());
  for (size_t i = 1; i < ranges.size(); ++i) FUZZ_CHECK(ranges[i].first >= ranges[i - 1].second);
}

void CheckReencode(const GgufFile& g) {
  std::vector<seedtune::GgufMetadataEntry> metadata;
  for (const std::string& key : g.keys()) {
    if (key == "general.alignment" && g.alignment() != 32) continue;  // the writer only writes 32
    metadata.push_back({key, *g.Find(key)});
  }
  std::vector<seedtune::GgufWriterTensor> tensors;
  for (const auto& t : g.tensors()) {
    seedtune::GgufWriterTensor w;
    w.name = t.name;
    w.shape.assign(t.dims.rbegin(), t.dims.rend());
    w.type = t.type;
    w.data.assign(reinterpret_cast<const char*>(t.data), t.nbytes);
    tensors.push_back(std::move(w));
  }
  const std::string again = seedtune::fuzz::ScratchDir() + "/again.gguf";
  const seedtune::Status written = seedtune::WriteGguf(again, metadata, tensors);
  FUZZ_CHECK_MSG(written.ok(), written.ToString());
  auto h = GgufFile::Open(again);
  FUZZ_CHECK_MSG(h.ok(), h.status().ToString());
  FUZZ_CHECK(h->keys().size() == metadata.size());
  for (size_t i = 0; i < metadata.size(); ++i) {
    FUZZ_CHECK(h->keys()[i] == metadata[i].key);
    FUZZ_CHECK(SameValue(*h->Find(metadata[i].key), metadata[i].value));
  }
  FUZZ_CHECK(h->tensors().size() == g.tensors().size());
  for (size_t i = 0; i < tensors.size(); ++i) {
    const auto& a = g.tensors()[i];
    const auto& b = h->tensors()[i];
    FUZZ_CHECK(a.name == b.name && a.dims == b.dims && a.type == b.type && a.nbytes == b.nbytes);
    FUZZ_CHECK(a.nbytes == 0 || std::memcmp(a.data, b.data, a.nbytes) == 0);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = seedtune::fuzz::WriteScratch("input.gguf", data, size);
  auto g = GgufFile::Open(path);
  if (!g.ok()) {
    // What the GGUF reader refuses, LoadModel refuses too (a file without the
    // magic goes to the llama2.c reader instead).
    if (size >= 4 && std::memcmp(data, "GGUF", 4) == 0) FUZZ_CHECK(!seedtune::LoadModel(path).ok());
    return 0;
  }
  CheckDirectory(*g);
  CheckReencode(*g);
  (void)seedtune::fuzz::CheckLoad(path);
  auto tok = seedtune::tok::LoadGgufTokenizer(*g);
  if (tok.ok()) {
    seedtune::fuzz::CheckTokenizer(**tok, std::string_view(reinterpret_cast<const char*>(data), size));
  }
  return 0;
}
