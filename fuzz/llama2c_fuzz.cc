// libFuzzer target for the llama2.c checkpoint reader (formats/llama2c.cc,
// formats/llama2c_checkpoint.cc). Every input is written to a scratch file
// and:
//  1. the header parser and the checkpoint reader either reject it with a
//     Status or accept a file exactly as large as its header implies, whose
//     tensors (Llama2cLayout) are contiguous from the end of the header to
//     the end of the file;
//  2. the checkpoint reader and LoadModel agree (fuzz/model_checks.h);
//  3. a loaded version 0 / 1 (fp32) checkpoint re-encodes with WriteLlama2c
//     to the same bytes (the header fields, and every tensor but the v0 RoPE
//     tables, which the writer recomputes), and reads back bit for bit; a
//     version 2 (Q8_0) one re-encodes to a file that reads back with the same
//     config.
// Built and run by scripts/fuzz.sh (target "llama2c").
#include <cstring>
#include <string>

#include "core/mapped_file.h"
#include "formats/checkpoint.h"
#include "formats/llama2c.h"
#include "fuzz/fuzz_util.h"
#include "fuzz/model_checks.h"

namespace {

using seedtune::Llama2cHeader;

void CheckRewrite(const uint8_t* data, size_t size, const Llama2cHeader& h, const std::string& path) {
  auto w = seedtune::LoadModel(path);
  if (!w.ok()) return;
  if (h.version == 2 && h.dim % h.group_size != 0) return;  // WriteLlama2c needs a group size dividing dim
  const std::string again = seedtune::fuzz::ScratchDir() + "/again.bin";
  const seedtune::Status s = seedtune::WriteLlama2c(*w, again, h.version, h.group_size);
  FUZZ_CHECK_MSG(s.ok(), s.ToString());
  auto bytes = seedtune::ReadFileToString(again);
  FUZZ_CHECK(bytes.ok());
  FUZZ_CHECK(bytes->size() >= h.header_bytes);
  auto back = seedtune::LoadModel(again);
  FUZZ_CHECK_MSG(back.ok(), back.status().ToString());
  FUZZ_CHECK(seedtune::fuzz::SameConfig(back->config(), w->config()));
  if (h.version == 2) return;  // Q8_0 re-quantizes: not bit-exact
  FUZZ_CHECK(bytes->size() == size);
  const size_t fields = h.version == 0 ? 28 : 37;  // v1: magic, version, 7 ints, shared flag; then zero padding
  FUZZ_CHECK(std::memcmp(bytes->data(), data, fields) == 0);
  for (const auto& t : seedtune::Llama2cLayout(h)) {
    if (t.name == "freq_cis_real" || t.name == "freq_cis_imag") continue;
    FUZZ_CHECK(std::memcmp(bytes->data() + t.offset, data + t.offset, t.nbytes) == 0);
  }
  for (size_t i = 0; i < w->num_tensors(); ++i) {
    const auto a = w->tensor(i);
    const auto b = back->tensor(i);
    FUZZ_CHECK(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = seedtune::fuzz::WriteScratch("input.bin", data, size);
  auto reader = seedtune::OpenLlama2cCheckpoint(path);
  auto h = seedtune::ParseLlama2cHeader(data, size, "input.bin");
  if (!h.ok()) {
    FUZZ_CHECK(!reader.ok());
    return 0;
  }
  auto expected = seedtune::Llama2cFileSize(*h, "input.bin");
  if (!expected.ok() || *expected != size) {
    FUZZ_CHECK(!reader.ok());
    return 0;
  }
  if (!reader.ok()) return 0;  // e.g. a config that fails validation
  uint64_t at = h->header_bytes;
  for (const auto& t : seedtune::Llama2cLayout(*h)) {
    FUZZ_CHECK(t.offset == at);
    uint64_t numel = 1;
    for (int64_t d : t.shape) numel *= static_cast<uint64_t>(d);
    FUZZ_CHECK(t.nbytes == (t.q8 ? numel + numel / static_cast<uint64_t>(h->group_size) * 4 : 4 * numel));
    at += t.nbytes;
  }
  FUZZ_CHECK(at == size);
  if (size < 4 || std::memcmp(data, "GGUF", 4) != 0) {  // what LoadModel would take for GGUF
    (void)seedtune::fuzz::CheckLoad(path);
    CheckRewrite(data, size, *h, path);
  }
  return 0;
}
