// The seed ledger (docs/ledger.md): an append-only file that describes a
// fine-tuned model as its base model plus the ordered update lists applied to
// it. Every record is framed with its length and a CRC32C. On open, a torn
// tail (an incomplete last frame, nothing valid after it: what a crash during
// a write leaves) may be dropped; damage anywhere else stops every writer and
// keeps every byte (`seedtune ledger repair` saves the valid prefix to a new
// file and keeps the original). A process writing a ledger holds an exclusive
// lock on it for as long as the writer is open.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/status.h"
#include "zo/update.h"

namespace seedtune {

// The writer writes version 2; the reader also reads version 1 (no aux bytes,
// no snapshot references).
inline constexpr uint32_t kLedgerFormatVersion = 2;
inline constexpr uint32_t kLedgerOldestFormatVersion = 1;
inline constexpr uint32_t kRngSpecVersion = 1;  // docs/rng.md
inline constexpr size_t kMaxSnapshotPathBytes = 4096;

struct LedgerHeader {
  uint32_t format_version = kLedgerFormatVersion;
  uint32_t rng_spec_version = kRngSpecVersion;
  std::string base_fingerprint;  // 16 hex digits
  std::string algorithm;         // mezo, feedsign, zo-fedsgd, fedkseed, ...
  std::string hyperparameters;   // JSON object (lr, eps, K, tau, ...)
  uint64_t run_seed = 0;
  std::string distribution = "gauss";  // z: gauss | rademacher
};

struct LedgerRecord {
  uint64_t round = 0;                 // round or step number (1-based)
  std::vector<ZUpdate> updates;       // in application order
  std::vector<uint32_t> participants; // client / machine ids
  bool has_fingerprint = false;
  uint64_t fingerprint = 0;           // of the model after this record
  // Opaque algorithm-specific bytes the strategy needs to resume (FedKSeed-Pro:
  // the round's per-client uploads). Format 2 only; empty in format 1.
  std::string aux;
};

// A full-weight snapshot of the model after round `round` (frame kind 'S',
// format 2). It follows the record of its round in the file: its round equals
// the round of the last record before it.
struct LedgerSnapshot {
  uint64_t round = 0;
  uint64_t fingerprint = 0;  // of the model after that round (== the file's)
  std::string path;          // relative to the ledger file's directory
};

enum class Durability {
  kFsyncEachRecord,  // default: a record is on disk when Append returns
  kFsyncEveryN,      // fsync after every n records (and on Close)
  kNoFsync,          // leave it to the OS (tests, benchmarks)
};

class LedgerWriter {
 public:
  // Creates `path` (failing if it exists) and writes the header.
  static StatusOr<std::unique_ptr<LedgerWriter>> Create(const std::string& path, const LedgerHeader& header,
                                                        Durability durability = Durability::kFsyncEachRecord,
                                                        int every_n = 16);
  // Opens an existing ledger for appending after its valid prefix. A torn tail
  // is truncated away; any other damage is refused (CheckAppendable), and so
  // is a ledger another process is writing.
  static StatusOr<std::unique_ptr<LedgerWriter>> Append(const std::string& path,
                                                        Durability durability = Durability::kFsyncEachRecord,
                                                        int every_n = 16);
  ~LedgerWriter();
  // Appends an update record. A format-1 ledger (opened by Append) cannot hold
  // aux bytes: a record with aux is refused there.
  Status Write(const LedgerRecord& record);
  // Appends a snapshot reference ('S' frame). Its round must equal the round of
  // the last record written (or read, for Append); the path must pass
  // CheckSnapshotPath. Refused on a format-1 ledger.
  Status WriteSnapshotRef(const LedgerSnapshot& snapshot);
  Status Close();

  const std::string& path() const { return path_; }
  uint32_t format_version() const { return version_; }
  // Whether a record has been written (or read, for Append), and the last one's round.
  bool has_record() const { return has_record_; }
  uint64_t last_round() const { return last_round_; }

 private:
  LedgerWriter(int fd, std::string path, Durability d, int n, uint32_t version)
      : fd_(fd), path_(std::move(path)), durability_(d), every_n_(n), version_(version) {}
  Status WriteFrame(const std::string& payload);
  int fd_;
  Status failed_;  // the first failed write; nothing is appended after it
  std::string path_;
  Durability durability_;
  int every_n_;
  uint32_t version_;
  int unsynced_ = 0;
  bool has_record_ = false;
  uint64_t last_round_ = 0;
};

struct LedgerContents {
  LedgerHeader header;
  std::vector<LedgerRecord> records;  // the valid prefix
  std::vector<LedgerSnapshot> snapshots;  // snapshot references in the valid prefix, in file order
  // snapshot_after[i]: how many records precede snapshots[i] in the file (>= 1;
  // records[snapshot_after[i] - 1] is the record of its round).
  std::vector<size_t> snapshot_after;
  uint64_t valid_bytes = 0;           // header + valid records
  uint64_t file_bytes = 0;
  std::string tail_problem;           // empty when the whole file is valid
  // The problem is a torn tail: the last frame is incomplete and no valid
  // frame starts anywhere after it, so dropping it loses nothing written whole.
  bool tail_torn = false;
};

// Bounds a record must keep to be read as valid (docs/ledger.md): rounds
// 1, 2, 3, ... in order; alpha and decay finite, |alpha| at most the run's
// bound (hyperparameter "max_abs_alpha" when the header states one, else
// kDefaultMaxAbsAlpha); decay in (0, 2].
inline constexpr double kDefaultMaxAbsAlpha = 1e4;

// OK for a whole ledger or one whose only problem is a torn tail; otherwise
// an error naming the damage, saying that nothing was changed and how to
// repair it. Every resume checks this before it replays anything.
Status CheckAppendable(const LedgerContents& contents, const std::string& path);

// `ledger repair`: writes the valid prefix of `path` (header, records and
// snapshot references) to a fresh file that then takes its name; the
// original is kept, renamed to `*.damaged-N` (N: the first free number),
// and its new name is returned. Refused when the ledger has no problem or is
// being written.
StatusOr<std::string> RepairLedger(const std::string& path);

// Reads and validates a ledger. A bad magic / header is an error; a torn or
// corrupted record ends the valid prefix (reported in tail_problem, naming
// the record index and byte offset), never an error and never applied.
StatusOr<LedgerContents> ReadLedger(const std::string& path);
// The same on bytes already in memory; `name` is used in messages.
StatusOr<LedgerContents> ParseLedger(const std::string& bytes, const std::string& name);

// Encoding of one record's payload (exposed for tests and tools). Format 1
// has no aux field (EncodeLedgerRecord drops it; the writer refuses it).
std::string EncodeLedgerRecord(const LedgerRecord& r, uint32_t format_version = kLedgerFormatVersion);
StatusOr<LedgerRecord> DecodeLedgerRecord(const std::string& payload, uint32_t format_version = kLedgerFormatVersion);
// Encoding of a snapshot reference's payload ('S', format 2). Decoding checks
// the path with CheckSnapshotPath.
std::string EncodeLedgerSnapshot(const LedgerSnapshot& s);
StatusOr<LedgerSnapshot> DecodeLedgerSnapshot(const std::string& payload);

// A snapshot path must be relative to the ledger's directory: not empty, at
// most kMaxSnapshotPathBytes, no NUL, not absolute, no ".." component.
Status CheckSnapshotPath(const std::string& path);

}  // namespace seedtune
