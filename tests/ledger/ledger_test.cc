#include "ledger/ledger.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

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
  return r;
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
}

std::string WriteLedger(const std::string& path, int records) {
  auto w = LedgerWriter::Create(path, Header(), Durability::kNoFsync);
  EXPECT_TRUE(w.ok()) << w.status().ToString();
  for (int i = 1; i <= records; ++i) EXPECT_TRUE((*w)->Write(Record(i)).ok());
  EXPECT_TRUE((*w)->Close().ok());
  return *ReadFileToString(path);
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
  ASSERT_EQ(c->records.size(), 6u);
  for (int i = 0; i < 6; ++i) ExpectSameRecord(c->records[i], Record(i + 1));
  EXPECT_EQ(c->valid_bytes, c->file_bytes);
  EXPECT_FALSE(LedgerWriter::Create(path, Header()).ok()) << "must not clobber an existing ledger";
}

TEST(LedgerTest, EveryTruncationKeepsTheValidPrefix) {
  const std::string dir = testing::MakeTempDir("ledger-trunc");
  const std::string full = WriteLedger(dir + "/full.ledger", 4);
  // Byte offsets where each record ends (from a clean read of growing prefixes).
  auto whole = ReadLedger(dir + "/full.ledger");
  ASSERT_TRUE(whole.ok());
  const std::string cut = dir + "/cut.ledger";
  int reported = 0;
  for (size_t n = 0; n < full.size(); ++n) {
    ASSERT_TRUE(WriteStringToFile(cut, full.substr(0, n)).ok());
    auto c = ReadLedger(cut);
    if (!c.ok()) {
      EXPECT_NE(c.status().message().find("cut.ledger"), std::string::npos) << c.status().message();
      continue;  // cut inside the preamble or the header: refused with a reason
    }
    EXPECT_LE(c->records.size(), 4u);
    for (size_t i = 0; i < c->records.size(); ++i) ExpectSameRecord(c->records[i], Record(i + 1));
    if (c->valid_bytes != n) {
      EXPECT_FALSE(c->tail_problem.empty()) << "torn tail at " << n << " bytes not reported";
      ++reported;
    }
  }
  EXPECT_GT(reported, 0);
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
      // Whatever is returned must be exactly a prefix of the true records,
      // and the damage must be reported.
      EXPECT_LT(c->records.size(), 3u) << "flip at byte " << byte << " bit " << bit << " not detected";
      EXPECT_FALSE(c->tail_problem.empty());
      for (size_t i = 0; i < c->records.size(); ++i) ExpectSameRecord(c->records[i], Record(i + 1));
    }
  }
}

TEST(LedgerTest, AppendAfterATornTailContinuesCleanly) {
  const std::string dir = testing::MakeTempDir("ledger-append");
  const std::string path = dir + "/run.ledger";
  const std::string full = WriteLedger(path, 3);
  ASSERT_TRUE(WriteStringToFile(path, full.substr(0, full.size() - 5)).ok());  // torn last record
  auto w = LedgerWriter::Append(path, Durability::kFsyncEachRecord);
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  ASSERT_TRUE((*w)->Write(Record(3)).ok());
  ASSERT_TRUE((*w)->Write(Record(4)).ok());
  ASSERT_TRUE((*w)->Close().ok());
  auto c = ReadLedger(path);
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(c->tail_problem.empty()) << c->tail_problem;
  ASSERT_EQ(c->records.size(), 4u);
  for (int i = 0; i < 4; ++i) ExpectSameRecord(c->records[i], Record(i + 1));
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
}

}  // namespace
}  // namespace seedtune
