#include "ledger/ledger.h"

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include <set>

#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include "core/mapped_file.h"
#include "ledger/crc32c.h"
#include "support/fixtures.h"

namespace seedtune {
namespace {

TEST(Crc32cTest, KnownCheckValue) {
  EXPECT_EQ(Crc32c("123456789", 9), 0xE3069283u);
  EXPECT_EQ(Crc32c("", 0), 0u);
}

LedgerHeader Header() {
  LedgerHeader h;
  h.base_fingerprint = "0123456789abcdef";
  h.algorithm = "mezo";
  h.hyperparameters = R"({"lr":1e-6,"eps":0.001})";
  h.run_seed = 42;
  return h;
}

LedgerRecord Record(uint64_t round) {
  LedgerRecord r;
  r.round = round;
  for (uint64_t k = 0; k < round % 3 + 1; ++k) r.updates.push_back({StepSeed(42, round, k), -1e-6f * (k + 1), 1.0f});
  r.participants = {static_cast<uint32_t>(round % 5), 7};
  r.has_fingerprint = round % 2 == 0;
  r.fingerprint = round * 0x9e3779b97f4a7c15ull;
  // Aux bytes on odd rounds, with NULs and high bytes in them (format 2).
  if (round % 2 == 1)
    for (uint64_t i = 0; i < 5 * round + 3; ++i) r.aux.push_back(static_cast<char>((round * 131 + i * 197) & 0xff));
  return r;
}

// The snapshot references WriteLedger puts after records 2 and 3.
LedgerSnapshot Snapshot(uint64_t round) {
  return LedgerSnapshot{round, round * 0xc2b2ae3d27d4eb4full + 1,
                        "run.ledger.snapshots/round-" + std::to_string(round) + ".safetensors"};
}
bool HasSnapshotAfter(uint64_t round) { return round == 2 || round == 3; }

void ExpectSameSnapshot(const LedgerSnapshot& a, const LedgerSnapshot& b) {
  EXPECT_EQ(a.round, b.round);
  EXPECT_EQ(a.fingerprint, b.fingerprint);
  EXPECT_EQ(a.path, b.path);
}

// Framing by hand (the layout in docs/ledger.md), for files the writer does
// not produce: format 1, and frames that break the rules.
void PutU32(std::string* s, uint32_t v) {
  for (int i = 0; i < 4; ++i) s->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void PutU64(std::string* s, uint64_t v) {
  for (int i = 0; i < 8; ++i) s->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void PutF32(std::string* s, float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  PutU32(s, u);
}
std::string Frame(const std::string& payload) {
  std::string f;
  PutU32(&f, static_cast<uint32_t>(payload.size()));
  PutU32(&f, Crc32c(payload.data(), payload.size()));
  return f + payload;
}
std::string Preamble(uint32_t format_version) {
  std::string s("STLEDGR\0", 8);
  PutU32(&s, format_version);
  PutU32(&s, 1);  // RNG spec version
  return s + Frame(R"(H{"base_fingerprint":"0123456789abcdef","algorithm":"mezo","hyperparameters":"{}",)"
                   R"("run_seed":42,"distribution":"gauss"})");
}

void ExpectSameRecord(const LedgerRecord& a, const LedgerRecord& b) {
  EXPECT_EQ(a.round, b.round);
  ASSERT_EQ(a.updates.size(), b.updates.size());
  for (size_t i = 0; i < a.updates.size(); ++i) {
    EXPECT_EQ(a.updates[i].seed, b.updates[i].seed);
    EXPECT_EQ(a.updates[i].alpha, b.updates[i].alpha);
    EXPECT_EQ(a.updates[i].decay, b.updates[i].decay);
  }
  EXPECT_EQ(a.participants, b.participants);
  EXPECT_EQ(a.has_fingerprint, b.has_fingerprint);
  if (a.has_fingerprint) {
    EXPECT_EQ(a.fingerprint, b.fingerprint);
  }
  EXPECT_EQ(a.aux, b.aux);
}

// Records 1..n with aux bytes on odd rounds, and snapshot references after
// records 2 and 3.
std::string WriteLedger(const std::string& path, int records) {
  auto w = LedgerWriter::Create(path, Header(), Durability::kNoFsync);
  EXPECT_TRUE(w.ok()) << w.status().ToString();
  for (int i = 1; i <= records; ++i) {
    EXPECT_TRUE((*w)->Write(Record(i)).ok());
    if (HasSnapshotAfter(i)) {
      EXPECT_TRUE((*w)->WriteSnapshotRef(Snapshot(i)).ok());
    }
  }
  EXPECT_TRUE((*w)->Close().ok());
  return *ReadFileToString(path);
}

// What a reader returns must be a prefix of what WriteLedger wrote: records
// 1..k, and exactly the snapshot references that followed them.
void ExpectPrefixOfWritten(const LedgerContents& c) {
  for (size_t i = 0; i < c.records.size(); ++i) ExpectSameRecord(c.records[i], Record(i + 1));
  ASSERT_EQ(c.snapshots.size(), c.snapshot_after.size());
  size_t want = 0;
  for (size_t k = 1; k < c.records.size(); ++k) want += HasSnapshotAfter(k);  // refs before the last record
  ASSERT_GE(c.snapshots.size(), want);
  ASSERT_LE(c.snapshots.size(), want + HasSnapshotAfter(c.records.size()));
  for (size_t j = 0; j < c.snapshots.size(); ++j) {
    ExpectSameSnapshot(c.snapshots[j], Snapshot(c.snapshots[j].round));
    EXPECT_EQ(c.snapshot_after[j], c.snapshots[j].round);  // record k has round k
  }
}

TEST(LedgerTest, RoundTripAndRefusesToOverwrite) {
  const std::string path = testing::MakeTempDir("ledger") + "/run.ledger";
  WriteLedger(path, 6);
  auto c = ReadLedger(path);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_TRUE(c->tail_problem.empty()) << c->tail_problem;
  EXPECT_EQ(c->header.algorithm, "mezo");
  EXPECT_EQ(c->header.run_seed, 42u);
  EXPECT_EQ(c->header.hyperparameters, Header().hyperparameters);
  EXPECT_EQ(c->header.format_version, 2u);
  ASSERT_EQ(c->records.size(), 6u);
  for (int i = 0; i < 6; ++i) ExpectSameRecord(c->records[i], Record(i + 1));
  ASSERT_EQ(c->snapshots.size(), 2u);
  ExpectSameSnapshot(c->snapshots[0], Snapshot(2));
  ExpectSameSnapshot(c->snapshots[1], Snapshot(3));
  EXPECT_EQ(c->snapshot_after, (std::vector<size_t>{2, 3}));
  EXPECT_EQ(c->valid_bytes, c->file_bytes);
  EXPECT_FALSE(LedgerWriter::Create(path, Header()).ok()) << "must not clobber an existing ledger";
}

// A write that fails part-way (here: the file-size limit, as a full disk)
// leaves no torn frame behind, and the writer appends nothing after it (a
// later record would be dropped behind the torn frame, or skip a round).
TEST(LedgerTest, AFailedWriteLeavesAValidPrefixAndStopsTheWriter) {
  const std::string path = testing::MakeTempDir("ledger-failed-write") + "/run.ledger";
  auto w = LedgerWriter::Create(path, Header(), Durability::kNoFsync);
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  for (uint64_t r = 1; r <= 3; ++r) ASSERT_TRUE((*w)->Write(Record(r)).ok());
  const auto good_size = std::filesystem::file_size(path);
  LedgerRecord big = Record(4);
  big.updates.assign(4096, ZUpdate{1, 1e-6f, 1.0f});  // 64 KiB: crosses the limit below
  struct sigaction ignore {}, old {};
  ignore.sa_handler = SIG_IGN;
  ASSERT_EQ(sigaction(SIGXFSZ, &ignore, &old), 0);
  rlimit saved{};
  ASSERT_EQ(getrlimit(RLIMIT_FSIZE, &saved), 0);
  rlimit small = saved;
  small.rlim_cur = good_size + 1000;  // part of the frame fits, then EFBIG
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &small), 0);
  Status failed = (*w)->Write(big);
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &saved), 0);
  ASSERT_EQ(sigaction(SIGXFSZ, &old, nullptr), 0);
  ASSERT_FALSE(failed.ok());
  EXPECT_NE(failed.message().find("write failed"), std::string::npos) << failed.ToString();
  EXPECT_EQ(std::filesystem::file_size(path), good_size) << "the partial frame was left in the file";
  Status after = (*w)->Write(Record(4));
  EXPECT_FALSE(after.ok()) << "the writer appended after a failed write";
  EXPECT_NE(after.message().find("an earlier write failed"), std::string::npos) << after.ToString();
  ASSERT_TRUE((*w)->Close().ok());
  auto c = ReadLedger(path);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_TRUE(c->tail_problem.empty()) << c->tail_problem;
  EXPECT_EQ(c->records.size(), 3u);
}

TEST(LedgerTest, EveryTruncationKeepsTheValidPrefix) {
  const std::string dir = testing::MakeTempDir("ledger-trunc");
  const std::string full = WriteLedger(dir + "/full.ledger", 4);
  // Byte offsets where each record ends (from a clean read of growing prefixes).
  auto whole = ReadLedger(dir + "/full.ledger");
  ASSERT_TRUE(whole.ok());
  const std::string cut = dir + "/cut.ledger";
  int reported = 0;
  std::set<size_t> snapshot_counts;
  for (size_t n = 0; n < full.size(); ++n) {
    ASSERT_TRUE(WriteStringToFile(cut, full.substr(0, n)).ok());
    auto c = ReadLedger(cut);
    if (!c.ok()) {
      EXPECT_NE(c.status().message().find("cut.ledger"), std::string::npos) << c.status().message();
      continue;  // cut inside the preamble or the header: refused with a reason
    }
    EXPECT_LE(c->records.size(), 4u);
    snapshot_counts.insert(c->snapshots.size());
    ExpectPrefixOfWritten(*c);
    if (c->valid_bytes != n) {
      EXPECT_FALSE(c->tail_problem.empty()) << "torn tail at " << n << " bytes not reported";
      ++reported;
    }
  }
  EXPECT_GT(reported, 0);
  EXPECT_EQ(snapshot_counts, (std::set<size_t>{0, 1, 2})) << "cuts before, between and after the snapshot frames";
}

TEST(LedgerTest, EverySingleBitFlipIsDetected) {
  const std::string dir = testing::MakeTempDir("ledger-flip");
  const std::string full = WriteLedger(dir + "/full.ledger", 3);
  const std::string bad = dir + "/bad.ledger";
  for (size_t byte = 0; byte < full.size(); ++byte) {
    for (int bit : {0, 3, 7}) {
      std::string b = full;
      b[byte] = static_cast<char>(b[byte] ^ (1 << bit));
      ASSERT_TRUE(WriteStringToFile(bad, b).ok());
      auto c = ReadLedger(bad);
      if (!c.ok()) continue;  // preamble/header damage: refused
      // Whatever is returned must be exactly a prefix of the true frames
      // (records and snapshot references), and the damage must be reported.
      EXPECT_LT(c->records.size() + c->snapshots.size(), 5u)
          << "flip at byte " << byte << " bit " << bit << " not detected";
      EXPECT_LT(c->valid_bytes, full.size());
      EXPECT_FALSE(c->tail_problem.empty());
      ExpectPrefixOfWritten(*c);
    }
  }
}

TEST(LedgerTest, AppendAfterATornTailContinuesCleanly) {
  const std::string dir = testing::MakeTempDir("ledger-append");
  const std::string path = dir + "/run.ledger";
  const std::string full = WriteLedger(path, 3);  // ... R3 S3
  const size_t s3 = 8 + EncodeLedgerSnapshot(Snapshot(3)).size();
  ASSERT_TRUE(WriteStringToFile(path, full.substr(0, full.size() - s3 - 5)).ok());  // torn R3, S3 gone
  auto w = LedgerWriter::Append(path, Durability::kFsyncEachRecord);
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  EXPECT_EQ((*w)->format_version(), 2u);
  EXPECT_FALSE((*w)->WriteSnapshotRef(Snapshot(3)).ok()) << "round 3 is not the last record any more";
  ASSERT_TRUE((*w)->Write(Record(3)).ok());
  ASSERT_TRUE((*w)->Write(Record(4)).ok());
  ASSERT_TRUE((*w)->WriteSnapshotRef(Snapshot(4)).ok());
  ASSERT_TRUE((*w)->Close().ok());
  auto c = ReadLedger(path);
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(c->tail_problem.empty()) << c->tail_problem;
  ASSERT_EQ(c->records.size(), 4u);
  for (int i = 0; i < 4; ++i) ExpectSameRecord(c->records[i], Record(i + 1));
  ASSERT_EQ(c->snapshots.size(), 2u);
  ExpectSameSnapshot(c->snapshots[0], Snapshot(2));
  ExpectSameSnapshot(c->snapshots[1], Snapshot(4));
  EXPECT_EQ(c->snapshot_after, (std::vector<size_t>{2, 4}));
}

TEST(LedgerTest, EveryCutIsATornTailThatAppendDrops) {
  const std::string dir = testing::MakeTempDir("ledger-torn");
  const std::string full = WriteLedger(dir + "/full.ledger", 4);
  const std::string cut = dir + "/cut.ledger";
  int torn = 0;
  for (size_t n = 0; n < full.size(); ++n) {
    ASSERT_TRUE(WriteStringToFile(cut, full.substr(0, n)).ok());
    auto c = ReadLedger(cut);
    if (!c.ok() || c->tail_problem.empty()) continue;
    EXPECT_TRUE(c->tail_torn) << "a cut at byte " << n << " is an incomplete last frame: " << c->tail_problem;
    EXPECT_TRUE(CheckAppendable(*c, cut).ok());
    auto w = LedgerWriter::Append(cut, Durability::kNoFsync);
    ASSERT_TRUE(w.ok()) << "cut at " << n << ": " << w.status().ToString();
    ASSERT_TRUE((*w)->Close().ok());
    EXPECT_EQ(ReadFileToString(cut)->size(), c->valid_bytes) << "only the torn frame is dropped";
    ++torn;
  }
  EXPECT_GT(torn, 0);
}

// The bytes of frame `k` (0-based, header excluded) of a ledger: its offset.
size_t FrameOffset(const std::string& bytes, int k) {
  size_t at = 16;
  for (int i = -1; i < k; ++i) {
    uint32_t len;
    std::memcpy(&len, bytes.data() + at, 4);
    at += 8 + len;
  }
  return at;
}

TEST(LedgerTest, DamageBeforeTheEndStopsAppendAndKeepsEveryByte) {
  const std::string dir = testing::MakeTempDir("ledger-damage");
  const std::string full = WriteLedger(dir + "/full.ledger", 6);  // R1 R2 S2 R3 S3 R4 R5 R6
  const std::string path = dir + "/run.ledger";
  const size_t r2 = FrameOffset(full, 1);
  // A flipped payload bit, and a flipped high bit of a length field (the
  // frame then claims to run past the end, as a torn last frame would).
  for (size_t where : {r2 + 8 + 3, r2 + 3}) {
    std::string bad = full;
    bad[where] = static_cast<char>(bad[where] ^ 0x40);
    ASSERT_TRUE(WriteStringToFile(path, bad).ok());
    auto c = ReadLedger(path);
    ASSERT_TRUE(c.ok());
    EXPECT_EQ(c->records.size(), 1u);
    EXPECT_FALSE(c->tail_torn) << c->tail_problem;
    EXPECT_NE(c->tail_problem.find("byte " + std::to_string(r2)), std::string::npos) << c->tail_problem;
    auto w = LedgerWriter::Append(path, Durability::kNoFsync);
    ASSERT_FALSE(w.ok()) << "appending would drop the intact records after the damage";
    EXPECT_NE(w.status().message().find("ledger repair"), std::string::npos) << w.status().message();
    EXPECT_EQ(*ReadFileToString(path), bad) << "not a byte may change";
  }
}

TEST(LedgerTest, RepairKeepsTheOriginalAndContinuesFromTheValidPrefix) {
  const std::string dir = testing::MakeTempDir("ledger-repair");
  const std::string path = dir + "/run.ledger";
  std::string bad = WriteLedger(path, 5);
  EXPECT_FALSE(RepairLedger(path).ok()) << "a whole ledger has nothing to repair";
  const size_t r4 = FrameOffset(bad, 5);  // R1 R2 S2 R3 S3 [R4] R5
  bad[r4 + 12] = static_cast<char>(bad[r4 + 12] ^ 1);
  ASSERT_TRUE(WriteStringToFile(path, bad).ok());
  auto kept = RepairLedger(path);
  ASSERT_TRUE(kept.ok()) << kept.status().ToString();
  EXPECT_EQ(*kept, path + ".damaged-1");
  EXPECT_EQ(*ReadFileToString(*kept), bad);
  EXPECT_EQ(*ReadFileToString(path), bad.substr(0, r4));
  auto c = ReadLedger(path);
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(c->tail_problem.empty()) << c->tail_problem;
  EXPECT_EQ(c->records.size(), 3u);
  auto w = LedgerWriter::Append(path, Durability::kNoFsync);
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  ASSERT_TRUE((*w)->Write(Record(4)).ok());
  ASSERT_TRUE((*w)->Close().ok());
  // A second repair of another damage keeps the first original too.
  std::string again = *ReadFileToString(path);
  again[FrameOffset(again, 1) + 10] ^= 2;
  ASSERT_TRUE(WriteStringToFile(path, again).ok());
  auto kept2 = RepairLedger(path);
  ASSERT_TRUE(kept2.ok());
  EXPECT_EQ(*kept2, path + ".damaged-2");
  EXPECT_EQ(*ReadFileToString(*kept), bad);
}

TEST(LedgerTest, ASecondWriterIsRefusedNamingTheHolder) {
  const std::string path = testing::MakeTempDir("ledger-lock") + "/run.ledger";
  auto first = LedgerWriter::Create(path, Header(), Durability::kNoFsync);
  ASSERT_TRUE(first.ok());
  ASSERT_TRUE((*first)->Write(Record(1)).ok());
  auto second = LedgerWriter::Append(path, Durability::kNoFsync);
  ASSERT_FALSE(second.ok());
  EXPECT_NE(second.status().message().find("pid " + std::to_string(::getpid())), std::string::npos)
      << second.status().message();
  EXPECT_FALSE(RepairLedger(path).ok());
  ASSERT_TRUE((*first)->Write(Record(2)).ok());
  ASSERT_TRUE((*first)->Close().ok());
  auto later = LedgerWriter::Append(path, Durability::kNoFsync);
  ASSERT_TRUE(later.ok()) << later.status().ToString();
  EXPECT_EQ((*later)->last_round(), 2u);
}

TEST(LedgerTest, RecordsValidByCrcButNotByMeaningAreDamage) {
  const std::string dir = testing::MakeTempDir("ledger-meaning");
  struct Case {
    std::vector<uint64_t> rounds;
    float alpha, decay;
    std::string hyperparameters, expect;
    size_t valid;
  };
  const std::vector<Case> cases = {
      {{1, 2, 3, 7}, -1e-6f, 1.0f, "{}", "round 7, expected 4", 3},
      {{5, 3, 3, 1}, -1e-6f, 1.0f, "{}", "round 5, expected 1", 0},
      {{1, 2, 2}, -1e-6f, 1.0f, "{}", "round 2, expected 3", 2},
      {{1, 2}, 3e38f, 1.0f, "{}", "alpha", 0},
      {{1, 2}, std::nanf(""), 1.0f, "{}", "non-finite", 0},
      {{1, 2}, -1e-6f, 0.0f, "{}", "decay", 0},
      {{1, 2}, -1e-6f, -1.0f, "{}", "decay", 0},
      {{1, 2}, 2.0f, 1.0f, R"({"max_abs_alpha":1.5})", "|alpha| <= 1.5", 0},
  };
  for (const Case& k : cases) {
    const std::string path = dir + "/case.ledger";
    std::filesystem::remove(path);
    LedgerHeader h = Header();
    h.hyperparameters = k.hyperparameters;
    {
      auto w = LedgerWriter::Create(path, h, Durability::kNoFsync);
      ASSERT_TRUE(w.ok());
      for (uint64_t r : k.rounds) {
        LedgerRecord rec = Record(r);
        for (auto& u : rec.updates) u.alpha = k.alpha, u.decay = k.decay;
        ASSERT_TRUE((*w)->Write(rec).ok());
      }
    }
    auto c = ReadLedger(path);
    ASSERT_TRUE(c.ok());
    EXPECT_EQ(c->records.size(), k.valid) << k.expect;
    EXPECT_NE(c->tail_problem.find(k.expect), std::string::npos) << c->tail_problem;
    EXPECT_FALSE(c->tail_torn);
    EXPECT_FALSE(LedgerWriter::Append(path, Durability::kNoFsync).ok()) << k.expect;
  }
  // A bound the run states admits what the default would refuse.
  const std::string path = dir + "/wide.ledger";
  LedgerHeader h = Header();
  h.hyperparameters = R"({"max_abs_alpha":1e6})";
  {
    auto w = LedgerWriter::Create(path, h, Durability::kNoFsync);
    LedgerRecord rec = Record(1);
    rec.updates[0].alpha = 5e5f;
    ASSERT_TRUE((*w)->Write(rec).ok());
  }
  auto c = ReadLedger(path);
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(c->tail_problem.empty()) << c->tail_problem;
}

TEST(LedgerTest, AuxAndSnapshotRefsRoundTripExactly) {
  LedgerRecord r = Record(7);
  for (const std::string& aux : {std::string(), std::string("\0\0x\xff", 4), std::string(100000, '\x5a')}) {
    r.aux = aux;
    const std::string bytes = EncodeLedgerRecord(r);
    EXPECT_EQ(bytes.size(), EncodeLedgerRecord(r, 1).size() + 4 + aux.size()) << "u32 length + bytes after v1's";
    auto back = DecodeLedgerRecord(bytes);
    ASSERT_TRUE(back.ok()) << back.status().ToString();
    ExpectSameRecord(*back, r);
    EXPECT_EQ(EncodeLedgerRecord(*back), bytes);
    // Without its aux length a format-2 record is truncated; one aux byte short is refused.
    EXPECT_FALSE(DecodeLedgerRecord(EncodeLedgerRecord(r, 1)).ok());
    EXPECT_FALSE(DecodeLedgerRecord(bytes.substr(0, bytes.size() - 1)).ok());
    EXPECT_FALSE(DecodeLedgerRecord(bytes + "x").ok());
  }
  const LedgerSnapshot s{12345678901ull, 0xfedcba9876543210ull, "dir/round-1.safetensors"};
  const std::string sb = EncodeLedgerSnapshot(s);
  EXPECT_EQ(sb.size(), 1u + 8 + 8 + 4 + s.path.size());
  auto sback = DecodeLedgerSnapshot(sb);
  ASSERT_TRUE(sback.ok()) << sback.status().ToString();
  ExpectSameSnapshot(*sback, s);
  for (size_t n = 0; n < sb.size(); ++n) EXPECT_FALSE(DecodeLedgerSnapshot(sb.substr(0, n)).ok()) << n;
  EXPECT_FALSE(DecodeLedgerSnapshot(sb + "x").ok());
  EXPECT_FALSE(DecodeLedgerRecord(sb).ok());
  EXPECT_FALSE(DecodeLedgerSnapshot(EncodeLedgerRecord(r)).ok());
}

// A format-1 file, framed byte by byte as version 1 of the spec describes it.
TEST(LedgerTest, ReadsFormatVersion1Files) {
  const std::string dir = testing::MakeTempDir("ledger-v1");
  std::string file = Preamble(1);
  std::string rec = "R";
  PutU64(&rec, 1);  // round
  PutU32(&rec, 2);  // updates
  PutU64(&rec, 0x1122334455667788ull);
  PutF32(&rec, -2.5e-6f);
  PutF32(&rec, 0.999f);
  PutU64(&rec, 77);
  PutF32(&rec, 3e-7f);
  PutF32(&rec, 1.0f);
  PutU32(&rec, 1);  // participants
  PutU32(&rec, 4);
  rec.push_back(1);  // has fingerprint
  PutU64(&rec, 0xabcdef0123456789ull);
  std::string rec2 = "R";
  PutU64(&rec2, 2);
  PutU32(&rec2, 0);
  PutU32(&rec2, 0);
  rec2.push_back(0);
  file += Frame(rec) + Frame(rec2);
  ASSERT_TRUE(WriteStringToFile(dir + "/v1.ledger", file).ok());
  auto c = ReadLedger(dir + "/v1.ledger");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_TRUE(c->tail_problem.empty()) << c->tail_problem;
  EXPECT_EQ(c->header.format_version, 1u);
  EXPECT_EQ(c->header.run_seed, 42u);
  ASSERT_EQ(c->records.size(), 2u);
  const LedgerRecord& r = c->records[0];
  EXPECT_EQ(r.round, 1u);
  ASSERT_EQ(r.updates.size(), 2u);
  EXPECT_EQ(r.updates[0].seed, 0x1122334455667788ull);
  EXPECT_EQ(r.updates[0].alpha, -2.5e-6f);
  EXPECT_EQ(r.updates[0].decay, 0.999f);
  EXPECT_EQ(r.updates[1].seed, 77u);
  EXPECT_EQ(r.updates[1].alpha, 3e-7f);
  EXPECT_EQ(r.participants, std::vector<uint32_t>{4});
  EXPECT_TRUE(r.has_fingerprint);
  EXPECT_EQ(r.fingerprint, 0xabcdef0123456789ull);
  EXPECT_TRUE(r.aux.empty());
  EXPECT_EQ(c->records[1].round, 2u);
  EXPECT_FALSE(c->records[1].has_fingerprint);
  EXPECT_TRUE(c->snapshots.empty());
  EXPECT_EQ(EncodeLedgerRecord(r, 1), rec) << "format-1 encoding is unchanged";

  // Format 1 has no snapshot references: an 'S' frame ends the valid prefix.
  ASSERT_TRUE(WriteStringToFile(dir + "/v1s.ledger", file + Frame(EncodeLedgerSnapshot(Snapshot(10)))).ok());
  c = ReadLedger(dir + "/v1s.ledger");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->records.size(), 2u);
  EXPECT_TRUE(c->snapshots.empty());
  EXPECT_NE(c->tail_problem.find("unknown frame kind"), std::string::npos) << c->tail_problem;

  // Appending keeps format 1: plain records only.
  auto w = LedgerWriter::Append(dir + "/v1.ledger", Durability::kNoFsync);
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  EXPECT_EQ((*w)->format_version(), 1u);
  LedgerRecord r3 = Record(3);
  EXPECT_FALSE((*w)->Write(r3).ok()) << "aux bytes in a format-1 ledger";
  r3.aux.clear();
  ASSERT_TRUE((*w)->Write(r3).ok());
  EXPECT_FALSE((*w)->WriteSnapshotRef(Snapshot(3)).ok());
  ASSERT_TRUE((*w)->Close().ok());
  c = ReadLedger(dir + "/v1.ledger");
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(c->tail_problem.empty()) << c->tail_problem;
  ASSERT_EQ(c->records.size(), 3u);
  ExpectSameRecord(c->records[2], r3);

  // Versions this build does not know are refused, naming the file.
  for (uint32_t v : {0u, 3u}) {
    ASSERT_TRUE(WriteStringToFile(dir + "/vx.ledger", Preamble(v)).ok());
    auto bad = ReadLedger(dir + "/vx.ledger");
    ASSERT_FALSE(bad.ok()) << v;
    EXPECT_NE(bad.status().message().find("vx.ledger"), std::string::npos);
  }
  LedgerHeader h = Header();
  h.format_version = 1;
  EXPECT_FALSE(LedgerWriter::Create(dir + "/new.ledger", h).ok()) << "the writer writes format 2 only";
}

TEST(LedgerTest, SnapshotPathsAreChecked) {
  for (const std::string& ok : {std::string("a.safetensors"), std::string("x.snapshots/round-3.safetensors"),
                                std::string("a..b/..c/c.."), std::string("./a"), std::string(4096, 'p')})
    EXPECT_TRUE(CheckSnapshotPath(ok).ok()) << ok;
  const std::vector<std::string> bad = {"",       "/abs/round-1.safetensors", "..", "../x", "a/../x", "a/..",
                                        "a/b/..", std::string("a\0b", 3),      std::string(4097, 'p')};
  const std::string dir = testing::MakeTempDir("ledger-paths");
  auto w = LedgerWriter::Create(dir + "/run.ledger", Header(), Durability::kNoFsync);
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE((*w)->Write(Record(1)).ok());
  for (const auto& p : bad) {
    EXPECT_FALSE(CheckSnapshotPath(p).ok()) << p;
    EXPECT_FALSE((*w)->WriteSnapshotRef({1, 5, p}).ok()) << p;
    EXPECT_FALSE(DecodeLedgerSnapshot(EncodeLedgerSnapshot({1, 5, p})).ok()) << p;
  }
  ASSERT_TRUE((*w)->Close().ok());
  const std::string good = *ReadFileToString(dir + "/run.ledger");
  // In a file, a reference with a bad path ends the valid prefix.
  for (const auto& p : bad) {
    ASSERT_TRUE(WriteStringToFile(dir + "/bad.ledger", good + Frame(EncodeLedgerSnapshot({1, 5, p})) +
                                                           Frame(EncodeLedgerRecord(Record(2))))
                    .ok());
    auto c = ReadLedger(dir + "/bad.ledger");
    ASSERT_TRUE(c.ok());
    EXPECT_EQ(c->records.size(), 1u) << p;
    EXPECT_TRUE(c->snapshots.empty()) << p;
    EXPECT_EQ(c->valid_bytes, good.size()) << p;
    EXPECT_NE(c->tail_problem.find("snapshot reference"), std::string::npos) << c->tail_problem;
  }
}

TEST(LedgerTest, SnapshotRefsFollowTheRecordOfTheirRound) {
  const std::string dir = testing::MakeTempDir("ledger-order");
  auto w = LedgerWriter::Create(dir + "/run.ledger", Header(), Durability::kNoFsync);
  ASSERT_TRUE(w.ok());
  EXPECT_FALSE((*w)->WriteSnapshotRef(Snapshot(1)).ok()) << "no record yet";
  ASSERT_TRUE((*w)->Write(Record(1)).ok());
  EXPECT_FALSE((*w)->WriteSnapshotRef(Snapshot(2)).ok()) << "round 2 has no record yet";
  EXPECT_TRUE((*w)->WriteSnapshotRef(Snapshot(1)).ok());
  ASSERT_TRUE((*w)->Close().ok());
  const std::string good = *ReadFileToString(dir + "/run.ledger");
  // A hand-framed reference to a round other than the last record's ends the valid prefix.
  const std::string with_bad = good + Frame(EncodeLedgerRecord(Record(2))) + Frame(EncodeLedgerSnapshot(Snapshot(1)));
  ASSERT_TRUE(WriteStringToFile(dir + "/bad.ledger", with_bad).ok());
  auto c = ReadLedger(dir + "/bad.ledger");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->records.size(), 2u);
  EXPECT_EQ(c->snapshots.size(), 1u);
  EXPECT_EQ(c->valid_bytes, with_bad.size() - 8 - EncodeLedgerSnapshot(Snapshot(1)).size());
  EXPECT_NE(c->tail_problem.find("does not follow"), std::string::npos) << c->tail_problem;
  // As does one before any record.
  const std::string first = Preamble(2) + Frame(EncodeLedgerSnapshot(Snapshot(1)));
  ASSERT_TRUE(WriteStringToFile(dir + "/first.ledger", first).ok());
  c = ReadLedger(dir + "/first.ledger");
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(c->snapshots.empty());
  EXPECT_FALSE(c->tail_problem.empty());
}

TEST(LedgerTest, RejectsForeignFilesAndBadRecords) {
  const std::string dir = testing::MakeTempDir("ledger-bad");
  ASSERT_TRUE(WriteStringToFile(dir + "/x", "definitely not a ledger").ok());
  auto c = ReadLedger(dir + "/x");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("bad magic"), std::string::npos);
  EXPECT_FALSE(DecodeLedgerRecord("R").ok());
  LedgerRecord nan_rec = Record(1);
  nan_rec.updates[0].alpha = NAN;
  EXPECT_FALSE(DecodeLedgerRecord(EncodeLedgerRecord(nan_rec)).ok());
  // The fingerprint flag is 0 or 1, so that every valid record re-encodes to its own bytes.
  const LedgerRecord r2 = Record(2);
  std::string flag2 = EncodeLedgerRecord(r2);
  const size_t flag_at = 1 + 8 + 4 + 16 * r2.updates.size() + 4 + 4 * r2.participants.size();
  ASSERT_EQ(flag2[flag_at], 1);
  EXPECT_TRUE(DecodeLedgerRecord(flag2).ok());
  flag2[flag_at] = 2;
  EXPECT_FALSE(DecodeLedgerRecord(flag2).ok());
}

}  // namespace
}  // namespace seedtune
