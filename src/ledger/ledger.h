// The seed ledger (docs/ledger.md): an append-only file that describes a
// fine-tuned model as its base model plus the ordered update lists applied to
// it. Every record is framed with its length and a CRC32C; a torn or corrupted
// tail is detected on open, the valid prefix kept and the rest reported.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/status.h"
#include "zo/update.h"

namespace seedtune {

inline constexpr uint32_t kLedgerFormatVersion = 1;
inline constexpr uint32_t kRngSpecVersion = 1;  // docs/rng.md

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
  // Opens an existing ledger for appending after its valid prefix (a torn
  // tail is truncated away; the caller learns about it from LedgerReader first).
  static StatusOr<std::unique_ptr<LedgerWriter>> Append(const std::string& path,
                                                        Durability durability = Durability::kFsyncEachRecord,
                                                        int every_n = 16);
  ~LedgerWriter();
  Status Write(const LedgerRecord& record);
  Status Close();

 private:
  LedgerWriter(int fd, std::string path, Durability d, int n) : fd_(fd), path_(std::move(path)), durability_(d), every_n_(n) {}
  Status WriteFrame(const std::string& payload);
  int fd_;
  std::string path_;
  Durability durability_;
  int every_n_;
  int unsynced_ = 0;
};

struct LedgerContents {
  LedgerHeader header;
  std::vector<LedgerRecord> records;  // the valid prefix
  uint64_t valid_bytes = 0;           // header + valid records
  uint64_t file_bytes = 0;
  std::string tail_problem;           // empty when the whole file is valid
};

// Reads and validates a ledger. A bad magic / header is an error; a torn or
// corrupted record ends the valid prefix (reported in tail_problem, naming
// the record index and byte offset), never an error and never applied.
StatusOr<LedgerContents> ReadLedger(const std::string& path);
// The same on bytes already in memory; `name` is used in messages.
StatusOr<LedgerContents> ParseLedger(const std::string& bytes, const std::string& name);

// Encoding of one record's payload (exposed for tests and tools).
std::string EncodeLedgerRecord(const LedgerRecord& r);
StatusOr<LedgerRecord> DecodeLedgerRecord(const std::string& payload);

}  // namespace seedtune
