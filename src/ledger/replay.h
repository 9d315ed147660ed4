// Rebuilding a model from its base and a ledger: every record's updates in
// order (ApplyUpdates), checking each recorded fingerprint as it goes.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "core/status.h"
#include "core/threading.h"
#include "ledger/ledger.h"
#include "model/weights.h"

namespace seedtune {

struct ReplayReport {
  int64_t records_applied = 0;
  int64_t fingerprints_checked = 0;
  uint64_t final_fingerprint = 0;
};

// Applies the records of `ledger` to `weights` (the base model). The base's
// fingerprint must equal the header's. With verify, a recorded fingerprint
// that differs from the replayed model's is an error naming the record and
// round. upto > 0 stops after the record with that round number.
StatusOr<ReplayReport> ReplayLedger(const LedgerContents& ledger, ModelWeights* weights, ThreadingContext& ctx,
                                    bool verify = true, uint64_t upto = 0,
                                    const std::function<void(int64_t done, int64_t total)>& progress = {});

// A 64-bit hash of the ledger's valid bytes (header + records), hex; names the
// ledger in exported models.
StatusOr<std::string> LedgerHash(const std::string& path, uint64_t valid_bytes);

}  // namespace seedtune
