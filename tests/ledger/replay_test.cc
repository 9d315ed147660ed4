#include "ledger/replay.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <random>

#include "core/mapped_file.h"
#include "ledger/snapshot.h"
#include "support/fixtures.h"
#include "zo/fingerprint.h"

namespace seedtune {
namespace {

bool Contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

// A run of 8 rounds on a small random Llama: 1-3 random updates per round
// (some with weight decay), fingerprints on even rounds, snapshots after
// rounds 3 and 6. Keeps the base and the fingerprint after every round.
struct LedgerRun {
  std::string dir, ledger;
  ModelWeights base;
  std::vector<uint64_t> fp_after;  // fp_after[r]: after round r (0: base)
};

LedgerRun MakeRun(ThreadingContext& ctx, const std::string& tag,
                  const std::vector<uint64_t>& snapshot_rounds = {3, 6}) {
  LedgerRun run;
  run.dir = testing::MakeTempDir(tag);
  run.ledger = run.dir + "/run.ledger";
  run.base = testing::RandomWeights(testing::TinyConfig(Architecture::kLlama), 1234);
  ModelWeights live = run.base.Clone();
  run.fp_after.push_back(ModelFingerprint(live, ctx));
  LedgerHeader h;
  h.base_fingerprint = FingerprintHex(run.fp_after[0]);
  h.algorithm = "fedkseed";
  h.run_seed = 99;
  auto w = LedgerWriter::Create(run.ledger, h, Durability::kNoFsync);
  EXPECT_TRUE(w.ok()) << w.status().ToString();
  std::mt19937_64 rng(17);
  std::uniform_real_distribution<float> alpha(-2e-3f, 2e-3f);
  for (uint64_t round = 1; round <= 8; ++round) {
    LedgerRecord r;
    r.round = round;
    for (uint32_t k = 0; k <= rng() % 3; ++k)
      r.updates.push_back({StepSeed(99, round, k), alpha(rng), k == 1 ? 0.999f : 1.0f});
    ApplyUpdates(&live, r.updates, ZDistribution::kGaussian, ctx);
    run.fp_after.push_back(ModelFingerprint(live, ctx));
    r.participants = {static_cast<uint32_t>(round % 3)};
    r.has_fingerprint = round % 2 == 0;
    r.fingerprint = run.fp_after.back();
    r.aux = std::string(round, static_cast<char>('a' + round));
    EXPECT_TRUE((*w)->Write(r).ok());
    for (uint64_t s : snapshot_rounds)
      if (s == round) {
        Status st = SnapshotAfterRound(w->get(), run.ledger, round, live, ctx);
        EXPECT_TRUE(st.ok()) << st.ToString();
      }
  }
  EXPECT_TRUE((*w)->Close().ok());
  return run;
}

std::string SnapshotFile(const LedgerRun& run, uint64_t round) {
  return ResolveSnapshotPath(run.ledger, SnapshotRelativePath(run.ledger, round));
}

void FlipDataByte(const std::string& path, uint64_t seed) {
  std::string b = *ReadFileToString(path);
  uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= static_cast<uint64_t>(static_cast<uint8_t>(b[i])) << (8 * i);
  const size_t at = 8 + n + seed % (b.size() - 8 - n);
  b[at] = static_cast<char>(b[at] ^ 0x10);
  ASSERT_TRUE(WriteStringToFile(path, b).ok());
}

TEST(ReplayTest, FromASnapshotEqualsTheFullReplayBitForBit) {
  ThreadingContext ctx(2);
  LedgerRun run = MakeRun(ctx, "replay-snap");
  auto c = ReadLedger(run.ledger);
  ASSERT_TRUE(c.ok());
  ASSERT_EQ(c->snapshots.size(), 2u);
  ModelWeights full = run.base.Clone();
  auto r = ReplayLedger(*c, &full, ctx, ReplayOptions{});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_FALSE(r->from_snapshot);
  EXPECT_EQ(r->records_applied, 8);
  EXPECT_EQ(r->fingerprints_checked, 4);
  EXPECT_EQ(r->final_fingerprint, run.fp_after[8]);
  EXPECT_EQ(r->last_round, 8u);

  ReplayOptions o;
  o.use_snapshots = true;
  o.ledger_path = run.ledger;
  ModelWeights snap = run.base.Clone();
  int64_t last_progress = 0;
  r = ReplayLedger(*c, &snap, ctx, o, [&](int64_t d, int64_t t) {
    EXPECT_EQ(t, 8);
    EXPECT_GT(d, last_progress);
    last_progress = d;
  });
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->from_snapshot);
  EXPECT_EQ(r->snapshot_round, 6u);
  EXPECT_EQ(r->snapshot_path, SnapshotFile(run, 6));
  EXPECT_EQ(r->records_skipped, 6);
  EXPECT_EQ(r->records_applied, 2);
  EXPECT_TRUE(r->snapshot_problem.empty()) << r->snapshot_problem;
  EXPECT_EQ(r->final_fingerprint, run.fp_after[8]);
  EXPECT_EQ(last_progress, 8);
  EXPECT_TRUE(testing::WeightsEqual(full, snap));

  // --upto picks the latest snapshot at or before it, and stops there.
  for (uint64_t upto : {1, 2, 3, 4, 5, 6, 7}) {
    o.upto = upto;
    ModelWeights part = run.base.Clone();
    r = ReplayLedger(*c, &part, ctx, o);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->final_fingerprint, run.fp_after[upto]) << upto;
    EXPECT_EQ(r->snapshot_round, upto >= 6 ? 6u : upto >= 3 ? 3u : 0u) << upto;
    EXPECT_EQ(r->from_snapshot, upto >= 3);
    EXPECT_EQ(r->last_round, upto);
    ModelWeights base_part = run.base.Clone();
    auto f = ReplayLedger(*c, &base_part, ctx, true, upto);
    ASSERT_TRUE(f.ok());
    EXPECT_TRUE(testing::WeightsEqual(base_part, part)) << upto;
  }
}

TEST(ReplayTest, AMissingOrCorruptSnapshotFallsBackAndIsReported) {
  ThreadingContext ctx(2);
  LedgerRun run = MakeRun(ctx, "replay-fallback");
  auto c = ReadLedger(run.ledger);
  ASSERT_TRUE(c.ok());
  ReplayOptions o;
  o.use_snapshots = true;
  o.ledger_path = run.ledger;
  std::filesystem::remove(SnapshotFile(run, 6));
  ModelWeights w = run.base.Clone();
  auto r = ReplayLedger(*c, &w, ctx, o);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->snapshot_round, 3u);
  EXPECT_EQ(r->records_applied, 5);
  EXPECT_TRUE(Contains(r->snapshot_problem, "round 6") && Contains(r->snapshot_problem, "round-6.safetensors"))
      << r->snapshot_problem;
  EXPECT_EQ(r->final_fingerprint, run.fp_after[8]);

  FlipDataByte(SnapshotFile(run, 3), 12345);
  w = run.base.Clone();
  r = ReplayLedger(*c, &w, ctx, o);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_FALSE(r->from_snapshot);
  EXPECT_EQ(r->records_applied, 8);
  EXPECT_TRUE(Contains(r->snapshot_problem, "round-6.safetensors") &&
              Contains(r->snapshot_problem, "round-3.safetensors") && Contains(r->snapshot_problem, "fingerprint"))
      << r->snapshot_problem;
  EXPECT_EQ(r->final_fingerprint, run.fp_after[8]) << "the base was not touched by the corrupt snapshot";

  // A snapshot of another round under a referenced name is not used either.
  LedgerRun other = MakeRun(ctx, "replay-fallback2");
  std::filesystem::copy_file(SnapshotFile(other, 3), SnapshotFile(run, 6),
                             std::filesystem::copy_options::overwrite_existing);
  w = run.base.Clone();
  r = ReplayLedger(*c, &w, ctx, o);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->from_snapshot);
  EXPECT_TRUE(Contains(r->snapshot_problem, "holds round 3")) << r->snapshot_problem;
  EXPECT_EQ(r->final_fingerprint, run.fp_after[8]);
}

TEST(ReplayTest, CheckingSnapshotsComparesReferencesAndFiles) {
  ThreadingContext ctx(2);
  LedgerRun run = MakeRun(ctx, "replay-check");
  auto c = ReadLedger(run.ledger);
  ASSERT_TRUE(c.ok());
  ReplayOptions o;
  o.check_snapshots = true;
  o.ledger_path = run.ledger;
  ModelWeights w = run.base.Clone();
  auto r = ReplayLedger(*c, &w, ctx, o);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->snapshots_checked, 2);
  EXPECT_TRUE(r->snapshot_problem.empty()) << r->snapshot_problem;
  // From a snapshot only what follows it is checked.
  o.use_snapshots = true;
  w = run.base.Clone();
  r = ReplayLedger(*c, &w, ctx, o);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->snapshot_round, 6u);
  EXPECT_EQ(r->snapshots_checked, 0);
  o.use_snapshots = false;

  // A damaged file is reported, not fatal: the ledger itself is consistent.
  FlipDataByte(SnapshotFile(run, 6), 777);
  w = run.base.Clone();
  r = ReplayLedger(*c, &w, ctx, o);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->snapshots_checked, 2);
  EXPECT_TRUE(Contains(r->snapshot_problem, "round-6.safetensors")) << r->snapshot_problem;
  EXPECT_FALSE(Contains(r->snapshot_problem, "round-3.safetensors")) << r->snapshot_problem;

  // A reference whose fingerprint contradicts the replayed model is an error.
  LedgerContents lying = *c;
  lying.snapshots[0].fingerprint ^= 1;
  w = run.base.Clone();
  r = ReplayLedger(lying, &w, ctx, o);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(Contains(r.status().message(), "snapshot reference of round 3")) << r.status().message();
  // ... and such a snapshot is never started from.
  ReplayOptions from;
  from.use_snapshots = true;
  from.ledger_path = run.ledger;
  lying.snapshots[1].fingerprint ^= 1;
  w = run.base.Clone();
  r = ReplayLedger(lying, &w, ctx, from);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->from_snapshot);
  EXPECT_EQ(r->final_fingerprint, run.fp_after[8]);

  // The wrong base is refused before anything else.
  ModelWeights wrong = testing::RandomWeights(testing::TinyConfig(Architecture::kLlama), 1);
  r = ReplayLedger(*c, &wrong, ctx, from);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(Contains(r.status().message(), "does not match")) << r.status().message();
}

}  // namespace
}  // namespace seedtune
