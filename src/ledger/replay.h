// Rebuilding a model from its base and a ledger: every record's updates in
// order (ApplyUpdates), checking each recorded fingerprint as it goes, and
// optionally starting from a full-weight snapshot the ledger references
// (docs/ledger.md, "Replay").
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "core/status.h"
#include "core/threading.h"
#include "ledger/ledger.h"
#include "model/weights.h"

namespace seedtune {

struct ReplayOptions {
  // Check every recorded fingerprint against the replayed model.
  bool verify = true;
  // > 0: stop after the record with this round number.
  uint64_t upto = 0;
  // Start from the latest usable snapshot with round <= upto (or the last
  // one): load it, check its fingerprint against the reference, skip the
  // records it covers. A missing or corrupt snapshot file is not an error: it
  // is reported in ReplayReport::snapshot_problem and the previous snapshot
  // (or the base) is used instead.
  bool use_snapshots = false;
  // For every snapshot reference met while replaying: compare its fingerprint
  // with the replayed model's (a mismatch is an error: the ledger contradicts
  // itself), and check its file (a missing or corrupt file is reported in
  // snapshot_problem).
  bool check_snapshots = false;
  // The ledger's own path: snapshot references are relative to its directory.
  std::string ledger_path;
};

struct ReplayReport {
  int64_t records_applied = 0;
  int64_t records_skipped = 0;  // covered by the snapshot replay started from
  int64_t fingerprints_checked = 0;
  int64_t snapshots_checked = 0;  // check_snapshots: references compared with the replayed model
  uint64_t final_fingerprint = 0;
  uint64_t last_round = 0;  // round of the last record applied or skipped (0: none)
  bool from_snapshot = false;
  uint64_t snapshot_round = 0;  // the snapshot replay started from (0 with from_snapshot false: the base)
  std::string snapshot_path;    // its file
  // Snapshot files that could not be used or failed their check ("; "-joined;
  // empty when none).
  std::string snapshot_problem;
};

// Applies the records of `ledger` to `weights` (the base model). The base's
// fingerprint must equal the header's. With verify, a recorded fingerprint
// that differs from the replayed model's is an error naming the record and
// round. `progress` gets (records done, total records), counting skipped ones.
StatusOr<ReplayReport> ReplayLedger(const LedgerContents& ledger, ModelWeights* weights, ThreadingContext& ctx,
                                    const ReplayOptions& options,
                                    const std::function<void(int64_t done, int64_t total)>& progress = {});

// The same from the base, without snapshots.
StatusOr<ReplayReport> ReplayLedger(const LedgerContents& ledger, ModelWeights* weights, ThreadingContext& ctx,
                                    bool verify = true, uint64_t upto = 0,
                                    const std::function<void(int64_t done, int64_t total)>& progress = {});

// A 64-bit hash of the ledger's valid bytes (header + records), hex; names the
// ledger in exported models.
StatusOr<std::string> LedgerHash(const std::string& path, uint64_t valid_bytes);

}  // namespace seedtune
