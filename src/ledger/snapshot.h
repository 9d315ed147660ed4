// Full-weight snapshots referenced from a seed ledger (docs/ledger.md,
// "Snapshots"): the fp32 master weights after some round, as a safetensors
// file beside the ledger, so that replay can start there instead of at the
// base model.
//
// File: safetensors, one F32 tensor per entry of the model's tensor table, in
// canonical order and stored contiguously (the data section is exactly the
// canonical parameter vector), with the model's own internal names and layout
// (no RoPE permutation, linear weights [out, in]). Metadata:
//   seedtune.kind         "weights-snapshot"
//   seedtune.fingerprint  16 hex digits (ModelFingerprint of the weights)
//   seedtune.round        decimal round number
#pragma once

#include <cstdint>
#include <string>

#include "core/status.h"
#include "core/threading.h"
#include "ledger/ledger.h"
#include "model/weights.h"

namespace seedtune {

// Writes `w` as a snapshot of round `round` (atomically: `path`.tmp, then a
// rename). When `fingerprint` is not null it receives the fingerprint written
// into the metadata.
Status WriteWeightsSnapshot(const ModelWeights& w, const std::string& path, uint64_t round, ThreadingContext& ctx,
                            uint64_t* fingerprint = nullptr);

// Loads a snapshot into `into`, which already holds the tensor table of the
// same config (the base model): every tensor name, shape and dtype must match
// the table (errors name the file and the tensor); the values are read into
// the buffer, then the fingerprint is recomputed and compared with the
// metadata (DataLoss naming the file on a mismatch). On an error `into` may
// hold a mix of old and new values.
Status LoadWeightsSnapshot(const std::string& path, ModelWeights* into, ThreadingContext& ctx);

struct SnapshotInfo {
  uint64_t round = 0;
  uint64_t fingerprint = 0;  // recomputed from the file's data (equal to the metadata's)
};

// Checks a snapshot file against the tensor table of `like` and recomputes
// the fingerprint of its data without touching any weights, so a caller can
// decide whether to load it. Same checks and errors as LoadWeightsSnapshot.
StatusOr<SnapshotInfo> CheckWeightsSnapshot(const std::string& path, const ModelWeights& like);

// "<ledger file name>.snapshots/round-<round>.safetensors": where a ledger's
// snapshot of `round` lives, relative to the ledger's directory.
std::string SnapshotRelativePath(const std::string& ledger_path, uint64_t round);
// The file a snapshot reference of the ledger at `ledger_path` names.
std::string ResolveSnapshotPath(const std::string& ledger_path, const std::string& relative);

// Writes the snapshot of round `round` beside the ledger (creating the
// directory), fsyncs the file and its directory, then appends the 'S'
// reference to the ledger. `round` must be the round of the last record
// written. A crash before the reference is written leaves at most an
// unreferenced file.
Status SnapshotAfterRound(LedgerWriter* writer, const std::string& ledger_path, uint64_t round, const ModelWeights& w,
                          ThreadingContext& ctx);

}  // namespace seedtune
