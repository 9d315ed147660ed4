// The coordinator side of every algorithm, registered in one table
// (strategies.cc): Strategy::Create looks the run's algorithm up here. Adding
// an algorithm is a new file in this folder and one line in that table (and
// its participant side, fed/algorithms/participants.h).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "fed/strategy.h"

namespace seedtune {

struct StrategyRegistration {
  FedAlgorithm algo;
  std::unique_ptr<Strategy> (*make)(const FedOptions& options, std::vector<int64_t> client_examples);
};

std::span<const StrategyRegistration> RegisteredStrategies();

}  // namespace seedtune
