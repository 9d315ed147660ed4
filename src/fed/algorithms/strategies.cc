#include "fed/algorithms/strategies.h"

namespace seedtune {

// Each defined in its algorithm's file.
std::unique_ptr<Strategy> MakeMezoStrategy(const FedOptions& o, std::vector<int64_t> examples);
std::unique_ptr<Strategy> MakeFeedSignStrategy(const FedOptions& o, std::vector<int64_t> examples);
std::unique_ptr<Strategy> MakeZoFedSgdStrategy(const FedOptions& o, std::vector<int64_t> examples);
std::unique_ptr<Strategy> MakeFedKSeedStrategy(const FedOptions& o, std::vector<int64_t> examples);

std::span<const StrategyRegistration> RegisteredStrategies() {
  static const StrategyRegistration table[] = {
      {FedAlgorithm::kMezo, MakeMezoStrategy},
      {FedAlgorithm::kFeedSign, MakeFeedSignStrategy},
      {FedAlgorithm::kZoFedSgd, MakeZoFedSgdStrategy},
      {FedAlgorithm::kFedKSeed, MakeFedKSeedStrategy},
      {FedAlgorithm::kFedKSeedPro, MakeFedKSeedStrategy},  // Pro: the same class, seeds drawn from its history
  };
  return table;
}

}  // namespace seedtune
