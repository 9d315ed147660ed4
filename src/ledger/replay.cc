#include "ledger/replay.h"

#include <cstring>

#include "core/mapped_file.h"
#include "zo/fingerprint.h"

namespace seedtune {

StatusOr<ReplayReport> ReplayLedger(const LedgerContents& ledger, ModelWeights* weights, ThreadingContext& ctx,
                                    bool verify, uint64_t upto,
                                    const std::function<void(int64_t, int64_t)>& progress) {
  ReplayReport report;
  const std::string base = FingerprintHex(ModelFingerprint(*weights, ctx));
  if (base != ledger.header.base_fingerprint)
    return FailedPrecondition("base model fingerprint {} does not match the ledger's base {}", base,
                              ledger.header.base_fingerprint);
  const ZDistribution dist =
      ledger.header.distribution == "rademacher" ? ZDistribution::kRademacher : ZDistribution::kGaussian;
  const int64_t total = static_cast<int64_t>(ledger.records.size());
  for (int64_t i = 0; i < total; ++i) {
    const LedgerRecord& r = ledger.records[i];
    if (upto > 0 && r.round > upto) break;
    ApplyUpdates(weights, r.updates, dist, ctx);
    ++report.records_applied;
    if (verify && r.has_fingerprint) {
      const uint64_t fp = ModelFingerprint(*weights, ctx);
      ++report.fingerprints_checked;
      if (fp != r.fingerprint)
        return DataLoss("record {} (round {}): replayed fingerprint {} differs from the recorded {}", i, r.round,
                        FingerprintHex(fp), FingerprintHex(r.fingerprint));
    }
    if (progress) progress(i + 1, total);
  }
  report.final_fingerprint = ModelFingerprint(*weights, ctx);
  return report;
}

StatusOr<std::string> LedgerHash(const std::string& path, uint64_t valid_bytes) {
  ASSIGN_OR_RETURN(std::string bytes, ReadFileToString(path));
  bytes.resize(std::min<uint64_t>(bytes.size(), valid_bytes));
  std::vector<float> words((bytes.size() + 3) / 4, 0.0f);
  std::memcpy(words.data(), bytes.data(), bytes.size());
  return FingerprintHex(HashFloats(words.data(), static_cast<int64_t>(words.size())) ^ bytes.size());
}

}  // namespace seedtune
