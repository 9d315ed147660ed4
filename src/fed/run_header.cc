#include "fed/run_header.h"

#include <nlohmann/json.hpp>

#include <algorithm>

namespace seedtune {

LedgerHeader FederatedLedgerHeader(const FedOptions& fed, const FederatedDataOptions& data,
                                   const std::string& aggregate, int64_t rounds, const std::string& data_digest,
                                   const std::string& base_fingerprint, const std::string& tokens_digest) {
  LedgerHeader h;
  h.base_fingerprint = base_fingerprint;
  h.algorithm = FedAlgorithmName(fed.algo);
  // Everything that changes what a round computes.
  nlohmann::json hyper{{"lr", fed.lr},
                       {"eps", fed.eps},
                       {"batch", fed.batch_size},
                       {"clients", data.clients},
                       {"partition", data.partition},
                       {"byzantine", fed.byzantine.fraction},
                       {"attack", AttackName(fed.byzantine.attack)},
                       {"aggregate", aggregate},
                       {"task", data.task},
                       {"rounds", rounds},
                       // the data every shard is derived from, and what it held
                       {"train_n", data.train_n},
                       {"dev_n", data.dev_n},
                       {"max_length", data.max_length},
                       {"min_per_client", data.min_per_client},
                       {"data", data_digest}};
  // Recorded only when not the default, so ledgers written before these
  // options existed describe the same run.
  if (fed.dp_epsilon > 0.0) hyper["dp_epsilon"] = fed.dp_epsilon;
  for (const auto& [key, value] : data.user.HeaderKeys()) hyper[key] = value;
  if (fed.max_abs_scalar != kDefaultMaxAbsScalar) hyper["max_scalar"] = fed.max_abs_scalar;
  if (!tokens_digest.empty()) hyper["tokens"] = tokens_digest;
  // The algorithm's own option table, every entry (defaults included).
  const auto table = AlgorithmOptions(fed.algo);
  for (const auto& param : WithDefaultParams(fed).params) {
    const std::string& name = param.first;  // not a structured binding: clang < 16 cannot capture one
    const double value = param.second;
    const bool integer = std::any_of(table.begin(), table.end(),
                                     [&](const AlgorithmOption& o) { return name == o.name && o.integer; });
    if (integer) hyper[name] = static_cast<int64_t>(value);
    else hyper[name] = value;
  }
  h.hyperparameters = hyper.dump();
  h.run_seed = fed.seed;
  h.distribution = fed.dist == ZDistribution::kGaussian ? "gauss" : "rademacher";
  return h;
}

}  // namespace seedtune
