#include "ledger/ledger.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/little_endian.h"
#include "core/mapped_file.h"
#include "ledger/crc32c.h"

namespace seedtune {

namespace {

constexpr char kMagic[8] = {'S', 'T', 'L', 'E', 'D', 'G', 'R', '\0'};
constexpr uint64_t kPreambleBytes = 16;               // magic + format version + rng spec version
constexpr uint32_t kMaxFrameBytes = 256u << 20;       // a length beyond this is corruption, not data
// How far past an incomplete frame the reader looks for a later valid frame
// before it calls the tail torn (beyond this it does not claim so).
constexpr uint64_t kTornScanBytes = uint64_t{16} << 20;

// Whether a whole frame with a valid CRC and a record / snapshot payload
// starts at byte `at` (used to tell a torn tail from damage mid-file).
bool ValidFrameAt(const uint8_t* p, uint64_t size, uint64_t at) {
  if (size - at < 9) return false;
  const uint32_t len = GetU32(p + at);
  if (len == 0 || len > size - at - 8) return false;
  const uint8_t kind = p[at + 8];
  return (kind == 'R' || kind == 'S') && Crc32c(p + at + 8, len) == GetU32(p + at + 4);
}

// The pid holding a BSD lock on the file open at fd, from /proc/locks (0 if
// not found there).
long LockHolderPid(int fd) {
  struct stat st;
  if (::fstat(fd, &st) != 0) return 0;
  std::ifstream locks("/proc/locks");
  std::string line;
  while (std::getline(locks, line)) {
    std::istringstream in(line);
    std::string id, type, mode, access, dev_inode;
    long pid = 0;
    if (!(in >> id >> type)) continue;
    if (type == "->") in >> type;  // a waiter's line
    if (!(in >> mode >> access >> pid >> dev_inode) || type != "FLOCK") continue;
    unsigned maj = 0, min = 0;
    unsigned long long ino = 0;
    if (std::sscanf(dev_inode.c_str(), "%x:%x:%llu", &maj, &min, &ino) == 3 && ino == st.st_ino &&
        maj == major(st.st_dev) && min == minor(st.st_dev))
      return pid;
  }
  return 0;
}

// An exclusive lock on the ledger open at fd, held until fd is closed: two
// writers would interleave their records.
Status LockLedger(int fd, const std::string& path) {
  if (::flock(fd, LOCK_EX | LOCK_NB) == 0) return Status::Ok();
  if (errno != EWOULDBLOCK) return IoError("{}: cannot lock the ledger: {}", path, std::strerror(errno));
  const long pid = LockHolderPid(fd);
  return FailedPrecondition("{}: another process{} is writing this ledger; two writers would interleave their "
                            "records (stop it first, or use another --ledger)",
                            path, pid > 0 ? fmt::format(" (pid {})", pid) : std::string());
}


std::string Frame(const std::string& payload) {
  std::string f;
  PutU32(&f, static_cast<uint32_t>(payload.size()));
  PutU32(&f, Crc32c(payload.data(), payload.size()));
  return f + payload;
}

std::string EncodeHeader(const LedgerHeader& h) {
  nlohmann::ordered_json j{{"base_fingerprint", h.base_fingerprint}, {"algorithm", h.algorithm},
                           {"hyperparameters", h.hyperparameters},   {"run_seed", h.run_seed},
                           {"distribution", h.distribution}};
  std::string payload = "H";  // (not "H" + dump(): GCC 12 reports a false -Wrestrict there)
  payload += j.dump();
  return payload;
}

Status WriteAll(int fd, const std::string& bytes, const std::string& path) {
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t w = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (w < 0) {
      if (errno == EINTR) continue;
      return IoError("{}: write failed: {}", path, std::strerror(errno));
    }
    done += static_cast<size_t>(w);
  }
  return Status::Ok();
}

Status SyncDirectoryOf(const std::string& path) {
  const std::string dir = std::filesystem::path(path).parent_path().string();
  const int fd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Status::Ok();  // best effort
  ::fsync(fd);
  ::close(fd);
  return Status::Ok();
}

}  // namespace

std::string EncodeLedgerRecord(const LedgerRecord& r, uint32_t format_version) {
  std::string s = "R";
  PutU64(&s, r.round);
  PutU32(&s, static_cast<uint32_t>(r.updates.size()));
  for (const auto& u : r.updates) {
    PutU64(&s, u.seed);
    PutU32(&s, FloatToBits(u.alpha));
    PutU32(&s, FloatToBits(u.decay));
  }
  PutU32(&s, static_cast<uint32_t>(r.participants.size()));
  for (uint32_t p : r.participants) PutU32(&s, p);
  s.push_back(r.has_fingerprint ? 1 : 0);
  if (r.has_fingerprint) PutU64(&s, r.fingerprint);
  if (format_version >= 2) {
    PutU32(&s, static_cast<uint32_t>(r.aux.size()));
    s += r.aux;
  }
  return s;
}

StatusOr<LedgerRecord> DecodeLedgerRecord(const std::string& payload, uint32_t format_version) {
  const auto* p = reinterpret_cast<const uint8_t*>(payload.data());
  const size_t n = payload.size();
  size_t at = 0;
  auto need = [&](size_t k) { return k <= n - at; };
  if (n < 1 || p[0] != 'R') return DataLoss("not an update record");
  at = 1;
  LedgerRecord r;
  if (!need(12)) return DataLoss("record truncated in its round number");
  r.round = GetU64(p + at);
  const uint32_t nu = GetU32(p + at + 8);
  at += 12;
  if (static_cast<uint64_t>(nu) * 16 > n - at) return DataLoss("record claims {} updates in {} bytes", nu, n - at);
  r.updates.reserve(nu);
  for (uint32_t i = 0; i < nu; ++i, at += 16) {
    const ZUpdate u{GetU64(p + at), BitsToFloat(GetU32(p + at + 8)), BitsToFloat(GetU32(p + at + 12))};
    if (!std::isfinite(u.alpha) || !std::isfinite(u.decay)) return DataLoss("update {} has a non-finite coefficient", i);
    r.updates.push_back(u);
  }
  if (!need(4)) return DataLoss("record truncated before its participants");
  const uint32_t np = GetU32(p + at);
  at += 4;
  if (static_cast<uint64_t>(np) * 4 > n - at) return DataLoss("record claims {} participants in {} bytes", np, n - at);
  r.participants.reserve(np);
  for (uint32_t i = 0; i < np; ++i, at += 4) r.participants.push_back(GetU32(p + at));
  if (!need(1)) return DataLoss("record truncated before its fingerprint flag");
  const uint8_t flag = p[at++];
  if (flag > 1) return DataLoss("record has fingerprint flag {} (0 or 1)", flag);
  r.has_fingerprint = flag != 0;
  if (r.has_fingerprint) {
    if (!need(8)) return DataLoss("record truncated in its fingerprint");
    r.fingerprint = GetU64(p + at);
    at += 8;
  }
  if (format_version >= 2) {
    if (!need(4)) return DataLoss("record truncated before its aux length");
    const uint32_t na = GetU32(p + at);
    at += 4;
    if (na > n - at) return DataLoss("record claims {} aux bytes in {} bytes", na, n - at);
    r.aux.assign(payload, at, na);
    at += na;
  }
  if (at != n) return DataLoss("record has {} unexpected trailing bytes", n - at);
  return r;
}

Status CheckSnapshotPath(const std::string& path) {
  if (path.empty()) return InvalidArgument("snapshot path is empty");
  if (path.size() > kMaxSnapshotPathBytes)
    return InvalidArgument("snapshot path of {} bytes (at most {})", path.size(), kMaxSnapshotPathBytes);
  if (path.find('\0') != std::string::npos) return InvalidArgument("snapshot path contains a NUL byte");
  if (path[0] == '/') return InvalidArgument("snapshot path '{}' is absolute (must be relative to the ledger)", path);
  size_t begin = 0;
  while (begin <= path.size()) {
    size_t end = path.find('/', begin);
    if (end == std::string::npos) end = path.size();
    if (path.compare(begin, end - begin, "..") == 0)
      return InvalidArgument("snapshot path '{}' has a '..' component", path);
    begin = end + 1;
  }
  return Status::Ok();
}

std::string EncodeLedgerSnapshot(const LedgerSnapshot& snap) {
  std::string s = "S";
  PutU64(&s, snap.round);
  PutU64(&s, snap.fingerprint);
  PutU32(&s, static_cast<uint32_t>(snap.path.size()));
  s += snap.path;
  return s;
}

StatusOr<LedgerSnapshot> DecodeLedgerSnapshot(const std::string& payload) {
  const auto* p = reinterpret_cast<const uint8_t*>(payload.data());
  const size_t n = payload.size();
  if (n < 1 || p[0] != 'S') return DataLoss("not a snapshot reference");
  if (n < 21) return DataLoss("snapshot reference truncated ({} bytes)", n);
  LedgerSnapshot s;
  s.round = GetU64(p + 1);
  s.fingerprint = GetU64(p + 9);
  const uint32_t len = GetU32(p + 17);
  if (len != n - 21) return DataLoss("snapshot reference claims a {}-byte path in {} bytes", len, n - 21);
  s.path.assign(payload, 21, len);
  Status ok = CheckSnapshotPath(s.path);
  if (!ok.ok()) return DataLoss("snapshot reference: {}", ok.message());
  return s;
}

StatusOr<std::unique_ptr<LedgerWriter>> LedgerWriter::Create(const std::string& path, const LedgerHeader& header,
                                                             Durability durability, int every_n) {
  if (header.format_version != kLedgerFormatVersion)
    return InvalidArgument("{}: this build writes ledger format {}, not {}", path, kLedgerFormatVersion,
                           header.format_version);
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) {
    if (errno == EEXIST) return FailedPrecondition("{}: ledger already exists (use --resume to continue it)", path);
    return IoError("{}: cannot create: {}", path, std::strerror(errno));
  }
  std::unique_ptr<LedgerWriter> w(new LedgerWriter(fd, path, durability, every_n, kLedgerFormatVersion));
  RETURN_IF_ERROR(LockLedger(fd, path));
  std::string pre(kMagic, 8);
  PutU32(&pre, kLedgerFormatVersion);
  PutU32(&pre, header.rng_spec_version);
  RETURN_IF_ERROR(WriteAll(fd, pre + Frame(EncodeHeader(header)), path));
  if (durability != Durability::kNoFsync) {
    if (::fsync(fd) != 0) return IoError("{}: fsync failed: {}", path, std::strerror(errno));
    RETURN_IF_ERROR(SyncDirectoryOf(path));
  }
  return w;
}

StatusOr<std::unique_ptr<LedgerWriter>> LedgerWriter::Append(const std::string& path, Durability durability,
                                                             int every_n) {
  // Lock first, then read: what is checked is what no one else can change.
  const int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  if (fd < 0) return IoError("{}: cannot open for appending: {}", path, std::strerror(errno));
  std::unique_ptr<LedgerWriter> w(new LedgerWriter(fd, path, durability, every_n, kLedgerFormatVersion));
  RETURN_IF_ERROR(LockLedger(fd, path));
  ASSIGN_OR_RETURN(LedgerContents contents, ReadLedger(path));
  RETURN_IF_ERROR(CheckAppendable(contents, path));
  if (contents.valid_bytes < contents.file_bytes && ::ftruncate(fd, static_cast<off_t>(contents.valid_bytes)) != 0)
    return IoError("{}: cannot drop the torn tail: {}", path, std::strerror(errno));
  w->version_ = contents.header.format_version;
  if (!contents.records.empty()) {
    w->has_record_ = true;
    w->last_round_ = contents.records.back().round;
  }
  return w;
}

LedgerWriter::~LedgerWriter() { (void)Close(); }

Status LedgerWriter::WriteFrame(const std::string& payload) {
  if (fd_ < 0) return FailedPrecondition("{}: ledger writer is closed", path_);
  // After a failed write nothing more is appended: a record behind a torn
  // frame would be dropped on read, and a skipped one breaks the rounds.
  if (!failed_.ok())
    return FailedPrecondition("{}: an earlier write failed ({}); the writer appends nothing after it", path_,
                              failed_.message());
  const off_t start = ::lseek(fd_, 0, SEEK_END);
  Status s = start < 0 ? IoError("{}: cannot seek: {}", path_, std::strerror(errno)) : WriteAll(fd_, Frame(payload), path_);
  if (s.ok()) {
    ++unsynced_;
    const bool sync = durability_ == Durability::kFsyncEachRecord ||
                      (durability_ == Durability::kFsyncEveryN && unsynced_ >= every_n_);
    if (sync) {
      if (::fsync(fd_) == 0) unsynced_ = 0;
      else s = IoError("{}: fsync failed: {}", path_, std::strerror(errno));
    }
  }
  if (!s.ok()) {
    failed_ = s;
    // Drop the partial frame so the file stays a valid prefix (best effort:
    // a torn tail is what the reader tolerates anyway).
    if (start >= 0 && ::ftruncate(fd_, start) == 0) (void)::fsync(fd_);
  }
  return s;
}

Status LedgerWriter::Write(const LedgerRecord& record) {
  if (version_ < 2 && !record.aux.empty())
    return FailedPrecondition("{}: a format-{} ledger cannot hold aux bytes (record of round {})", path_, version_,
                              record.round);
  RETURN_IF_ERROR(WriteFrame(EncodeLedgerRecord(record, version_)));
  has_record_ = true;
  last_round_ = record.round;
  return Status::Ok();
}

Status LedgerWriter::WriteSnapshotRef(const LedgerSnapshot& snapshot) {
  if (version_ < 2)
    return FailedPrecondition("{}: a format-{} ledger cannot hold snapshot references", path_, version_);
  if (!has_record_ || snapshot.round != last_round_)
    return FailedPrecondition("{}: a snapshot reference must follow the record of its round ({}); the last record "
                              "is {}",
                              path_, snapshot.round, has_record_ ? fmt::format("round {}", last_round_) : "none");
  Status ok = CheckSnapshotPath(snapshot.path);
  if (!ok.ok()) return ok.WithContext(path_);
  return WriteFrame(EncodeLedgerSnapshot(snapshot));
}

Status LedgerWriter::Close() {
  if (fd_ < 0) return Status::Ok();
  Status s;
  if (durability_ != Durability::kNoFsync && unsynced_ > 0 && ::fsync(fd_) != 0)
    s = IoError("{}: fsync failed: {}", path_, std::strerror(errno));
  ::close(fd_);
  fd_ = -1;
  return s;
}

Status CheckAppendable(const LedgerContents& contents, const std::string& path) {
  if (contents.tail_problem.empty() || contents.tail_torn) return Status::Ok();
  return DataLoss("{}: damaged after its first {} records: {}. This is not a torn tail, so nothing was changed and "
                  "nothing will be appended (the bytes after the damage may hold intact records). `seedtune ledger "
                  "repair {}` keeps the original under a new name and continues the ledger from its valid prefix",
                  path, contents.records.size(), contents.tail_problem, path);
}

StatusOr<std::string> RepairLedger(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return IoError("{}: cannot open: {}", path, std::strerror(errno));
  Status locked = LockLedger(fd, path);
  if (!locked.ok()) {
    ::close(fd);
    return locked;
  }
  auto done = [fd](auto result) {
    ::close(fd);
    return result;
  };
  auto bytes = ReadFileToString(path);
  if (!bytes.ok()) return done(StatusOr<std::string>(bytes.status()));
  auto contents = ParseLedger(*bytes, path);
  if (!contents.ok()) return done(StatusOr<std::string>(contents.status()));
  if (contents->tail_problem.empty())
    return done(StatusOr<std::string>(FailedPrecondition("{}: the ledger is whole; nothing to repair", path)));
  std::string kept;
  for (int n = 1; kept.empty(); ++n) {
    const std::string candidate = fmt::format("{}.damaged-{}", path, n);
    if (!std::filesystem::exists(candidate)) kept = candidate;
  }
  const std::string tmp = path + ".repair-tmp";
  const int out = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (out < 0) return done(StatusOr<std::string>(IoError("{}: cannot create: {}", tmp, std::strerror(errno))));
  Status wrote = WriteAll(out, bytes->substr(0, contents->valid_bytes), tmp);
  if (wrote.ok() && ::fsync(out) != 0) wrote = IoError("{}: fsync failed: {}", tmp, std::strerror(errno));
  ::close(out);
  // The original keeps its inode under the new name (a hard link), then the
  // repaired copy atomically takes the ledger's name.
  if (wrote.ok() && ::link(path.c_str(), kept.c_str()) != 0)
    wrote = IoError("{}: cannot keep the original as {}: {}", path, kept, std::strerror(errno));
  if (wrote.ok() && ::rename(tmp.c_str(), path.c_str()) != 0)
    wrote = IoError("{}: cannot put the repaired ledger in place: {}", path, std::strerror(errno));
  if (!wrote.ok()) {
    ::unlink(tmp.c_str());
    return done(StatusOr<std::string>(wrote));
  }
  (void)SyncDirectoryOf(path);
  return done(StatusOr<std::string>(kept));
}

StatusOr<LedgerContents> ReadLedger(const std::string& path) {
  ASSIGN_OR_RETURN(std::string bytes, ReadFileToString(path));
  return ParseLedger(bytes, path);
}

StatusOr<LedgerContents> ParseLedger(const std::string& bytes, const std::string& path) {
  const auto* p = reinterpret_cast<const uint8_t*>(bytes.data());
  LedgerContents c;
  c.file_bytes = bytes.size();
  if (bytes.size() < kPreambleBytes || std::memcmp(p, kMagic, 8) != 0)
    return InvalidArgument("{}: not a seedtune ledger (bad magic)", path);
  c.header.format_version = GetU32(p + 8);
  c.header.rng_spec_version = GetU32(p + 12);
  const uint32_t version = c.header.format_version;
  if (version < kLedgerOldestFormatVersion || version > kLedgerFormatVersion)
    return Unimplemented("{}: ledger format version {} (this build reads {} to {})", path, version,
                         kLedgerOldestFormatVersion, kLedgerFormatVersion);
  if (c.header.rng_spec_version != kRngSpecVersion)
    return Unimplemented("{}: RNG spec version {} (this build implements {})", path, c.header.rng_spec_version,
                         kRngSpecVersion);
  uint64_t at = kPreambleBytes;
  double max_abs_alpha = kDefaultMaxAbsAlpha;
  int64_t index = -1;  // -1: the header frame; then frames 0, 1, ... (records and snapshot references)
  while (at < bytes.size()) {
    const std::string what = index < 0 ? "header" : fmt::format("frame {}", index);
    std::string problem;
    bool incomplete = false;  // the frame runs past the end of the file
    if (bytes.size() - at < 8) {
      problem = fmt::format("{} at byte {}: truncated frame ({} bytes)", what, at, bytes.size() - at);
      incomplete = true;
    } else {
      const uint32_t len = GetU32(p + at), crc = GetU32(p + at + 4);
      if (len > kMaxFrameBytes || len > bytes.size() - at - 8) {
        problem = fmt::format("{} at byte {}: frame of {} bytes runs past the end of the file", what, at, len);
        incomplete = len <= kMaxFrameBytes;
      } else if (Crc32c(p + at + 8, len) != crc) {
        problem = fmt::format("{} at byte {}: CRC32C mismatch", what, at);
      } else {
        const std::string payload(bytes.data() + at + 8, len);
        if (index < 0) {
          if (payload.empty() || payload[0] != 'H') return DataLoss("{}: first frame is not the header", path);
          try {
            auto j = nlohmann::json::parse(payload.substr(1));
            c.header.base_fingerprint = j.at("base_fingerprint").get<std::string>();
            c.header.algorithm = j.at("algorithm").get<std::string>();
            c.header.hyperparameters = j.at("hyperparameters").get<std::string>();
            c.header.run_seed = j.at("run_seed").get<uint64_t>();
            c.header.distribution = j.at("distribution").get<std::string>();
            const auto hp = nlohmann::json::parse(c.header.hyperparameters, nullptr, /*allow_exceptions=*/false);
            if (hp.is_object() && hp.contains("max_abs_alpha") && hp["max_abs_alpha"].is_number())
              max_abs_alpha = hp["max_abs_alpha"].get<double>();
          } catch (const std::exception& e) {
            return DataLoss("{}: malformed ledger header: {}", path, e.what());
          }
        } else if (!payload.empty() && payload[0] == 'R') {
          auto rec = DecodeLedgerRecord(payload, version);
          std::string wrong;
          if (rec.ok()) {
            const uint64_t expected = c.records.size() + 1;
            if (rec->round != expected) wrong = fmt::format("round {}, expected {} (rounds are 1, 2, 3, ...)", rec->round, expected);
            for (size_t u = 0; u < rec->updates.size() && wrong.empty(); ++u) {
              const ZUpdate& z = rec->updates[u];
              if (!std::isfinite(z.alpha) || std::fabs(z.alpha) > max_abs_alpha)
                wrong = fmt::format("update {} has alpha {} (finite, |alpha| <= {} in this run)", u, z.alpha,
                                    max_abs_alpha);
              else if (!std::isfinite(z.decay) || !(z.decay > 0.0f) || z.decay > 2.0f)
                wrong = fmt::format("update {} has decay {} (in (0, 2])", u, z.decay);
            }
          }
          if (!rec.ok()) {
            problem = fmt::format("{} (record {}) at byte {}: {}", what, c.records.size(), at, rec.status().message());
          } else if (!wrong.empty()) {
            problem = fmt::format("{} (record {}) at byte {}: {}", what, c.records.size(), at, wrong);
          } else {
            c.records.push_back(std::move(*rec));
          }
        } else if (!payload.empty() && payload[0] == 'S' && version >= 2) {
          auto snap = DecodeLedgerSnapshot(payload);
          if (!snap.ok()) {
            problem = fmt::format("{} (snapshot reference) at byte {}: {}", what, at, snap.status().message());
          } else if (c.records.empty() || c.records.back().round != snap->round) {
            problem = fmt::format("{} (snapshot reference) at byte {}: round {} does not follow the record of its "
                                  "round (the last record is {})",
                                  what, at, snap->round,
                                  c.records.empty() ? std::string("none")
                                                    : fmt::format("round {}", c.records.back().round));
          } else {
            c.snapshots.push_back(std::move(*snap));
            c.snapshot_after.push_back(c.records.size());
          }
        } else {
          problem = fmt::format("{} at byte {}: unknown frame kind {} in a format-{} ledger", what, at,
                                payload.empty() ? std::string("(empty)")
                                                : fmt::format("0x{:02x}", static_cast<uint8_t>(payload[0])),
                                version);
        }
        if (problem.empty()) {
          at += 8 + len;
          ++index;
          c.valid_bytes = at;
          continue;
        }
      }
    }
    if (index < 0) return DataLoss("{}: {}", path, problem);  // without a header nothing can be trusted
    // Torn: incomplete, and no whole valid frame starts anywhere after it
    // (a damaged length field mid-file would also read as incomplete).
    if (incomplete && bytes.size() - at <= kTornScanBytes) {
      c.tail_torn = true;
      for (uint64_t q = at + 1; q < bytes.size() && c.tail_torn; ++q)
        if (ValidFrameAt(p, bytes.size(), q)) c.tail_torn = false;
    }
    c.tail_problem = fmt::format("{}; {} bytes after it{}", problem, bytes.size() - at,
                                 c.tail_torn ? " (a torn tail: an incomplete last write)" : "");
    break;
  }
  if (index < 0) return DataLoss("{}: no header record", path);
  return c;
}

}  // namespace seedtune
