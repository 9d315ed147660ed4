#include "fed/algorithms/strategies.h"

#include "fed/algorithms/decomfl.h"
#include "fed/algorithms/fedkseed.h"

namespace seedtune {

// Each defined in its algorithm's file.
std::unique_ptr<Strategy> MakeMezoStrategy(const FedOptions& o, std::vector<int64_t> examples);
std::unique_ptr<Strategy> MakeFeedSignStrategy(const FedOptions& o, std::vector<int64_t> examples);
std::unique_ptr<Strategy> MakeZoFedSgdStrategy(const FedOptions& o, std::vector<int64_t> examples);
std::unique_ptr<Strategy> MakeFedKSeedStrategy(const FedOptions& o, std::vector<int64_t> examples);

std::span<const StrategyRegistration> RegisteredStrategies() {
  // name, summary, networked, local copy, option table, coordinator side
  static const StrategyRegistration table[] = {
      {FedAlgorithm::kMezo, "centralized MeZO (one client holding all data)", false, false, {}, MakeMezoStrategy},
      {FedAlgorithm::kFeedSign, "1 bit up (the sign of g), majority vote down", true, false, {}, MakeFeedSignStrategy},
      {FedAlgorithm::kZoFedSgd, "each client's g along its own seed, mean / median / trimmed", true, false, {},
       MakeZoFedSgdStrategy},
      {FedAlgorithm::kFedKSeed, "tau local steps on K candidate seeds, (index, g) pairs up", true, true, FedKSeedOptions(),
       MakeFedKSeedStrategy},
      // Pro: the same class, seeds drawn from its history
      {FedAlgorithm::kFedKSeedPro, "FedKSeed with seeds drawn by their history", true, true, FedKSeedOptions(),
       MakeFedKSeedStrategy},
      DeComFlStrategyRegistration(),
  };
  return table;
}

std::string NetworkedAlgorithmNames() {
  std::string s;
  for (const StrategyRegistration& r : RegisteredStrategies())
    if (r.networked) s += std::string(s.empty() ? "" : ", ") + r.algo.name();
  return s;
}

const StrategyRegistration* FindStrategyRegistration(FedAlgorithm algo) {
  for (const StrategyRegistration& r : RegisteredStrategies())
    if (r.algo == algo) return &r;
  return nullptr;
}

}  // namespace seedtune
