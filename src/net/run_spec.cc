#include "net/run_spec.h"

#include "core/limits.h"
#include "fed/algorithms/strategies.h"
#include "fed/run_header.h"

namespace seedtune {

Status ValidateRunSpec(const RunSpec& s) {
  const StrategyRegistration* algo = FindStrategyRegistration(s.fed.algo);
  if (algo != nullptr && !algo->networked)
    return InvalidArgument("{} runs in simulate only; the network runs {}", s.fed.algo.name(), NetworkedAlgorithmNames());
  RETURN_IF_ERROR(ValidateFedOptions(s.fed));
  if (s.fed.byzantine.fraction != 0.0) return InvalidArgument("Byzantine clients are a simulation-only experiment");
  if (s.clients() <= 0) return InvalidArgument("a run needs at least one client, not {}", s.clients());
  if (s.rounds <= 0) return InvalidArgument("a run needs at least one round, not {}", s.rounds);
  if (s.data.seed != s.fed.seed) return InvalidArgument("the data seed must be the run seed");
  if (!s.base_fingerprint.empty() && !IsFingerprintHex(s.base_fingerprint))
    return InvalidArgument("base fingerprint '{}' is not 16 hex digits", s.base_fingerprint);
  if (!s.tokens_digest.empty() && !IsFingerprintHex(s.tokens_digest))
    return InvalidArgument("tokens digest '{}' is not 16 hex digits", s.tokens_digest);
  if (!IsValidTimeout(s.heartbeat_interval_s))
    return InvalidArgument("heartbeat interval {} s must be in (0, {:g}]", s.heartbeat_interval_s, kMaxTimeoutSeconds);
  return Status::Ok();
}

LedgerHeader RunLedgerHeader(const RunSpec& s) {
  return FederatedLedgerHeader(s.fed, s.data, s.aggregate, s.rounds, s.data_digest, s.base_fingerprint,
                               s.tokens_digest);
}

bool IsFingerprintHex(const std::string& s) {
  if (s.size() != 16) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

}  // namespace seedtune
