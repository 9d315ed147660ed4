// libFuzzer target for the ledger reader (format 2, and 1). Every input is
// used twice:
//  1. as a file: it must either be rejected with a Status or yield a valid
//     prefix whose frames (records with their aux bytes, snapshot references,
//     in file order) re-encode to exactly the bytes they were read from, and
//     whose snapshot references follow the records of their rounds;
//  2. as a recipe for a valid format-2 ledger (records with aux bytes and
//     snapshot references, some with bad paths): the reader must return what
//     was written, and a truncated or bit-flipped copy must yield a strict
//     prefix of it.
// A custom mutator rewrites the frames' CRCs half of the time, so mutations
// reach the payload decoders instead of stopping at the checksum.
// Built and run by scripts/fuzz.sh (target "ledger").
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "ledger/crc32c.h"
#include "ledger/ledger.h"

extern "C" size_t LLVMFuzzerMutate(uint8_t* data, size_t size, size_t max_size);

namespace {

using seedtune::LedgerContents;
using seedtune::LedgerRecord;
using seedtune::LedgerSnapshot;

void Check(bool ok) {
  if (!ok) std::abort();
}

uint32_t GetU32(const uint8_t* p) { return p[0] | p[1] << 8 | p[2] << 16 | static_cast<uint32_t>(p[3]) << 24; }
void PutU32(std::string* s, uint32_t v) {
  for (int i = 0; i < 4; ++i) s->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
std::string Frame(const std::string& payload) {
  std::string f;
  PutU32(&f, static_cast<uint32_t>(payload.size()));
  PutU32(&f, seedtune::Crc32c(payload.data(), payload.size()));
  return f + payload;
}

bool SameRecord(const LedgerRecord& a, const LedgerRecord& b) {
  if (a.round != b.round || a.updates.size() != b.updates.size() || a.participants != b.participants ||
      a.has_fingerprint != b.has_fingerprint || (a.has_fingerprint && a.fingerprint != b.fingerprint) || a.aux != b.aux)
    return false;
  for (size_t i = 0; i < a.updates.size(); ++i)
    if (a.updates[i].seed != b.updates[i].seed || std::memcmp(&a.updates[i].alpha, &b.updates[i].alpha, 4) != 0 ||
        std::memcmp(&a.updates[i].decay, &b.updates[i].decay, 4) != 0)
      return false;
  return true;
}
bool SameSnapshot(const LedgerSnapshot& a, const LedgerSnapshot& b) {
  return a.round == b.round && a.fingerprint == b.fingerprint && a.path == b.path;
}

// Mode 1: any bytes.
void CheckFile(const std::string& bytes) {
  auto c = seedtune::ParseLedger(bytes, "fuzz-input");
  if (!c.ok()) return;
  Check(c->valid_bytes <= bytes.size());
  Check(c->tail_problem.empty() == (c->valid_bytes == bytes.size()));
  Check(c->snapshots.size() == c->snapshot_after.size());
  const uint32_t version = c->header.format_version;
  Check(version == 1 || version == 2);
  if (version == 1) Check(c->snapshots.empty());
  for (size_t j = 0; j < c->snapshots.size(); ++j) {
    const size_t after = c->snapshot_after[j];
    Check(after >= 1 && after <= c->records.size());
    Check(j == 0 || c->snapshot_after[j - 1] <= after);
    Check(c->records[after - 1].round == c->snapshots[j].round);
    Check(seedtune::CheckSnapshotPath(c->snapshots[j].path).ok());
  }
  // Frames after the header, re-encoded in file order, are the valid bytes.
  const auto* p = reinterpret_cast<const uint8_t*>(bytes.data());
  const size_t frames_start = 16 + 8 + GetU32(p + 16);
  Check(frames_start <= c->valid_bytes);
  std::string again;
  size_t j = 0;
  for (size_t i = 0; i < c->records.size(); ++i) {
    if (version == 1) Check(c->records[i].aux.empty());
    again += Frame(seedtune::EncodeLedgerRecord(c->records[i], version));
    for (; j < c->snapshots.size() && c->snapshot_after[j] == i + 1; ++j)
      again += Frame(seedtune::EncodeLedgerSnapshot(c->snapshots[j]));
  }
  Check(j == c->snapshots.size());
  Check(again == bytes.substr(frames_start, c->valid_bytes - frames_start));
}

class Recipe {
 public:
  Recipe(const uint8_t* data, size_t size) : p_(data), n_(size) {}
  uint8_t U8() { return at_ < n_ ? p_[at_++] : 0; }
  uint64_t U64() {
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v |= static_cast<uint64_t>(U8()) << (8 * i);
    return v;
  }
  float F32() {
    uint32_t u = static_cast<uint32_t>(U64());
    float f;
    std::memcpy(&f, &u, 4);
    return std::isfinite(f) ? f : 0.5f;
  }
  std::string Bytes(size_t n) {
    std::string s;
    for (size_t i = 0; i < n; ++i) s.push_back(static_cast<char>(U8()));
    return s;
  }

 private:
  const uint8_t* p_;
  size_t n_, at_ = 0;
};

// Mode 2: a valid format-2 ledger built from the input.
void CheckRecipe(const uint8_t* data, size_t size) {
  Recipe in(data, size);
  std::string file("STLEDGR\0", 8);
  PutU32(&file, seedtune::kLedgerFormatVersion);
  PutU32(&file, seedtune::kRngSpecVersion);
  file += Frame(R"(H{"base_fingerprint":"0123456789abcdef","algorithm":"fedkseed-pro","hyperparameters":"{}",)"
                R"("run_seed":7,"distribution":"gauss"})");
  std::vector<LedgerRecord> records;
  std::vector<LedgerSnapshot> snapshots;
  size_t frames = 0;
  bool broken = false;  // a bad snapshot path was appended: nothing after it counts
  const int n = in.U8() % 12;
  uint64_t round = 0;
  for (int f = 0; f < n && !broken; ++f) {
    if (!records.empty() && in.U8() % 3 == 0) {
      LedgerSnapshot s{records.back().round, in.U64(), ""};
      const char alphabet[] = "ab./-_0\\";
      const int len = in.U8() % 24;
      for (int i = 0; i < len; ++i) s.path.push_back(alphabet[in.U8() % 9]);  // index 8: NUL
      file += Frame(seedtune::EncodeLedgerSnapshot(s));
      if (seedtune::CheckSnapshotPath(s.path).ok()) {
        snapshots.push_back(s);
        ++frames;
      } else {
        broken = true;
      }
      continue;
    }
    LedgerRecord r;
    // What the reader accepts: rounds 1, 2, 3, ...; finite alpha within the
    // default bound; decay in (0, 2].
    r.round = ++round;
    for (int k = in.U8() % 5; k > 0; --k) {
      const float alpha = std::fmod(in.F32(), 1e4f);
      const float decay = 0.25f + static_cast<float>(in.U8()) / 160.0f;
      r.updates.push_back({in.U64(), alpha, decay});
    }
    for (int k = in.U8() % 4; k > 0; --k) r.participants.push_back(static_cast<uint32_t>(in.U64()));
    r.has_fingerprint = in.U8() & 1;
    if (r.has_fingerprint) r.fingerprint = in.U64();
    r.aux = in.Bytes(in.U8() % 48);
    file += Frame(seedtune::EncodeLedgerRecord(r));
    records.push_back(r);
    ++frames;
  }
  auto c = seedtune::ParseLedger(file, "recipe");
  Check(c.ok());
  Check(c->tail_problem.empty() != broken);
  Check(c->records.size() == records.size() && c->snapshots.size() == snapshots.size());
  for (size_t i = 0; i < records.size(); ++i) Check(SameRecord(c->records[i], records[i]));
  for (size_t j = 0; j < snapshots.size(); ++j) Check(SameSnapshot(c->snapshots[j], snapshots[j]));
  CheckFile(file);
  // Damaged copies: a strict prefix of the frames, never anything else.
  auto check_prefix = [&](const std::string& damaged) {
    auto d = seedtune::ParseLedger(damaged, "damaged");
    if (!d.ok()) return;
    Check(d->records.size() <= records.size() && d->snapshots.size() <= snapshots.size());
    for (size_t i = 0; i < d->records.size(); ++i) Check(SameRecord(d->records[i], records[i]));
    for (size_t j = 0; j < d->snapshots.size(); ++j) Check(SameSnapshot(d->snapshots[j], snapshots[j]));
    CheckFile(damaged);
  };
  const size_t cut = static_cast<size_t>(in.U64() % (file.size() + 1));
  check_prefix(file.substr(0, cut));
  std::string flipped = file;
  const size_t at = static_cast<size_t>(in.U64() % file.size());
  flipped[at] = static_cast<char>(flipped[at] ^ (1 << (in.U8() % 8)));
  auto d = seedtune::ParseLedger(flipped, "flipped");
  if (d.ok() && !broken) Check(d->records.size() + d->snapshots.size() < frames);  // detected
  check_prefix(flipped);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  CheckFile(std::string(reinterpret_cast<const char*>(data), size));
  CheckRecipe(data, size);
  return 0;
}

// Half of the mutations get their frames' CRCs rewritten, so that the decoders
// behind the checksum see them.
extern "C" size_t LLVMFuzzerCustomMutator(uint8_t* data, size_t size, size_t max_size, unsigned int seed) {
  size = LLVMFuzzerMutate(data, size, max_size);
  if (seed % 2 == 0) return size;
  size_t at = 16;
  while (at + 8 <= size) {
    const uint32_t len = GetU32(data + at);
    if (len > size - at - 8) break;
    const uint32_t crc = seedtune::Crc32c(data + at + 8, len);
    for (int i = 0; i < 4; ++i) data[at + 4 + i] = static_cast<uint8_t>(crc >> (8 * i));
    at += 8 + len;
  }
  return size;
}
