#include "net/run_spec.h"

#include <nlohmann/json.hpp>

#include "core/limits.h"

namespace seedtune {

Status ValidateRunSpec(const RunSpec& s) {
  switch (s.fed.algo) {
    case FedAlgorithm::kFeedSign:
    case FedAlgorithm::kZoFedSgd:
    case FedAlgorithm::kFedKSeed:
    case FedAlgorithm::kFedKSeedPro:
      break;
    case FedAlgorithm::kMezo:
      return InvalidArgument("mezo is centralized; the network runs feedsign, zo-fedsgd, fedkseed, fedkseed-pro");
  }
  RETURN_IF_ERROR(ValidateFedOptions(s.fed));
  if (s.fed.byzantine.fraction != 0.0) return InvalidArgument("Byzantine clients are a simulation-only experiment");
  if (s.clients() <= 0) return InvalidArgument("a run needs at least one client, not {}", s.clients());
  if (s.rounds <= 0) return InvalidArgument("a run needs at least one round, not {}", s.rounds);
  if (s.data.seed != s.fed.seed) return InvalidArgument("the data seed must be the run seed");
  if (!s.base_fingerprint.empty() && !IsFingerprintHex(s.base_fingerprint))
    return InvalidArgument("base fingerprint '{}' is not 16 hex digits", s.base_fingerprint);
  if (!IsValidTimeout(s.heartbeat_interval_s))
    return InvalidArgument("heartbeat interval {} s must be in (0, {:g}]", s.heartbeat_interval_s, kMaxTimeoutSeconds);
  return Status::Ok();
}

LedgerHeader RunLedgerHeader(const RunSpec& s) {
  LedgerHeader h;
  h.base_fingerprint = s.base_fingerprint;
  h.algorithm = FedAlgorithmName(s.fed.algo);
  // Same keys, order and types as cmd_simulate.cc (nlohmann::json sorts keys).
  nlohmann::json hyper{{"lr", s.fed.lr},
                       {"eps", s.fed.eps},
                       {"batch", s.fed.batch_size},
                       {"clients", s.data.clients},
                       {"partition", s.data.partition},
                       {"K", s.fed.num_seeds},
                       {"local_steps", s.fed.local_steps},
                       {"client_fraction", s.fed.client_fraction},
                       {"byzantine", 0.0},
                       {"attack", "none"},
                       {"aggregate", s.aggregate},
                       {"task", s.data.task},
                       {"rounds", s.rounds},
                       {"train_n", s.data.train_n},
                       {"dev_n", s.data.dev_n},
                       {"max_length", s.data.max_length},
                       {"min_per_client", s.data.min_per_client}};
  // Recorded only when not the default, so ledgers written before the bound
  // existed still describe the same run.
  if (s.fed.max_abs_scalar != kDefaultMaxAbsScalar) hyper["max_scalar"] = s.fed.max_abs_scalar;
  h.hyperparameters = hyper.dump();
  h.run_seed = s.fed.seed;
  h.distribution = s.fed.dist == ZDistribution::kGaussian ? "gauss" : "rademacher";
  return h;
}

Status CheckSameRun(const LedgerHeader& recorded, const LedgerHeader& expected) {
  if (recorded.algorithm != expected.algorithm)
    return FailedPrecondition("the ledger records algorithm {}, this run is {}", recorded.algorithm, expected.algorithm);
  if (recorded.hyperparameters != expected.hyperparameters)
    return FailedPrecondition("the ledger records hyperparameters {}, this run has {}", recorded.hyperparameters,
                              expected.hyperparameters);
  if (recorded.run_seed != expected.run_seed)
    return FailedPrecondition("the ledger records run seed {}, this run has {}", recorded.run_seed, expected.run_seed);
  if (recorded.distribution != expected.distribution)
    return FailedPrecondition("the ledger records z distribution {}, this run has {}", recorded.distribution,
                              expected.distribution);
  return Status::Ok();
}

bool IsFingerprintHex(const std::string& s) {
  if (s.size() != 16) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

}  // namespace seedtune
