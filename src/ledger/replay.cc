#include "ledger/replay.h"

#include <cstring>
#include <optional>
#include <vector>

#include "core/mapped_file.h"
#include "ledger/snapshot.h"
#include "zo/fingerprint.h"

namespace seedtune {

namespace {

std::string JoinProblems(const std::vector<std::string>& problems) {
  std::string s;
  for (const auto& p : problems) s += (s.empty() ? "" : "; ") + p;
  return s;
}

}  // namespace

StatusOr<ReplayReport> ReplayLedger(const LedgerContents& ledger, ModelWeights* weights, ThreadingContext& ctx,
                                    const ReplayOptions& o, const std::function<void(int64_t, int64_t)>& progress) {
  ReplayReport report;
  const std::string base = FingerprintHex(ModelFingerprint(*weights, ctx));
  if (base != ledger.header.base_fingerprint)
    return FailedPrecondition("base model fingerprint {} does not match the ledger's base {}", base,
                              ledger.header.base_fingerprint);
  const ZDistribution dist =
      ledger.header.distribution == "rademacher" ? ZDistribution::kRademacher : ZDistribution::kGaussian;
  const size_t total = ledger.records.size();
  size_t end = total;  // records [start, end) are applied
  if (o.upto > 0) {
    for (size_t i = 0; i < total; ++i)
      if (ledger.records[i].round > o.upto) {
        end = i;
        break;
      }
  }
  std::vector<std::string> problems;
  size_t start = 0;
  std::optional<uint64_t> fp;  // of the model as it is now, when known
  if (o.use_snapshots) {
    for (size_t j = ledger.snapshots.size(); j-- > 0;) {
      const LedgerSnapshot& s = ledger.snapshots[j];
      if (ledger.snapshot_after[j] > end) continue;  // past --upto
      const std::string file = ResolveSnapshotPath(o.ledger_path, s.path);
      auto info = CheckWeightsSnapshot(file, *weights);
      if (!info.ok()) {
        problems.push_back(fmt::format("snapshot of round {}: {}", s.round, info.status().message()));
        continue;
      }
      if (info->fingerprint != s.fingerprint || info->round != s.round) {
        problems.push_back(fmt::format("snapshot of round {}: {} holds round {} with fingerprint {}, but the ledger "
                                       "references round {} with fingerprint {}",
                                       s.round, file, info->round, FingerprintHex(info->fingerprint), s.round,
                                       FingerprintHex(s.fingerprint)));
        continue;
      }
      // The file checked out; from here on the base is overwritten.
      Status st = LoadWeightsSnapshot(file, weights, ctx);
      if (!st.ok()) return st.WithContext(fmt::format("loading the snapshot of round {}", s.round));
      report.from_snapshot = true;
      report.snapshot_round = s.round;
      report.snapshot_path = file;
      fp = s.fingerprint;  // LoadWeightsSnapshot recomputed and compared it
      start = ledger.snapshot_after[j];
      break;
    }
  }
  report.records_skipped = static_cast<int64_t>(start);
  if (start > 0 && progress) progress(static_cast<int64_t>(start), static_cast<int64_t>(total));
  // Snapshot references to check: those after the starting point.
  size_t next_ref = 0;
  while (next_ref < ledger.snapshots.size() && ledger.snapshot_after[next_ref] <= start) ++next_ref;
  for (size_t i = start; i < end; ++i) {
    const LedgerRecord& r = ledger.records[i];
    ApplyUpdates(weights, r.updates, dist, ctx);
    fp.reset();
    ++report.records_applied;
    if (o.verify && r.has_fingerprint) {
      fp = ModelFingerprint(*weights, ctx);
      ++report.fingerprints_checked;
      if (*fp != r.fingerprint)
        return DataLoss("record {} (round {}): replayed fingerprint {} differs from the recorded {}", i, r.round,
                        FingerprintHex(*fp), FingerprintHex(r.fingerprint));
    }
    for (; o.check_snapshots && next_ref < ledger.snapshots.size() && ledger.snapshot_after[next_ref] == i + 1;
         ++next_ref) {
      const LedgerSnapshot& s = ledger.snapshots[next_ref];
      if (!fp) fp = ModelFingerprint(*weights, ctx);
      if (*fp != s.fingerprint)
        return DataLoss("snapshot reference of round {} ({}): the replayed model's fingerprint {} differs from the "
                        "reference's {}",
                        s.round, s.path, FingerprintHex(*fp), FingerprintHex(s.fingerprint));
      ++report.snapshots_checked;
      const std::string file = ResolveSnapshotPath(o.ledger_path, s.path);
      auto info = CheckWeightsSnapshot(file, *weights);
      if (!info.ok()) {
        problems.push_back(fmt::format("snapshot of round {}: {}", s.round, info.status().message()));
      } else if (info->fingerprint != s.fingerprint || info->round != s.round) {
        problems.push_back(fmt::format("snapshot of round {}: {} holds round {} with fingerprint {}, not the "
                                       "referenced model {}",
                                       s.round, file, info->round, FingerprintHex(info->fingerprint),
                                       FingerprintHex(s.fingerprint)));
      }
    }
    if (progress) progress(static_cast<int64_t>(i + 1), static_cast<int64_t>(total));
  }
  report.last_round = end > 0 ? ledger.records[end - 1].round : 0;
  report.final_fingerprint = fp ? *fp : ModelFingerprint(*weights, ctx);
  report.snapshot_problem = JoinProblems(problems);
  return report;
}

StatusOr<ReplayReport> ReplayLedger(const LedgerContents& ledger, ModelWeights* weights, ThreadingContext& ctx,
                                    bool verify, uint64_t upto,
                                    const std::function<void(int64_t, int64_t)>& progress) {
  ReplayOptions o;
  o.verify = verify;
  o.upto = upto;
  return ReplayLedger(ledger, weights, ctx, o, progress);
}

StatusOr<std::string> LedgerHash(const std::string& path, uint64_t valid_bytes) {
  ASSIGN_OR_RETURN(std::string bytes, ReadFileToString(path));
  bytes.resize(std::min<uint64_t>(bytes.size(), valid_bytes));
  std::vector<float> words((bytes.size() + 3) / 4, 0.0f);
  std::memcpy(words.data(), bytes.data(), bytes.size());
  return FingerprintHex(HashFloats(words.data(), static_cast<int64_t>(words.size())) ^ bytes.size());
}

}  // namespace seedtune
