// The coordinator side of every algorithm, registered in one table
// (strategies.cc): Strategy::Create looks the run's algorithm up here. Adding
// an algorithm is its own files in this folder, one line in that table and one
// in the participant table (participants.cc; kept apart so that a coordinator
// links no model code).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "fed/strategy.h"

namespace seedtune {

// One algorithm: its name, what it is, where it runs, its option table and
// its coordinator side.
struct StrategyRegistration {
  FedAlgorithm algo;
  const char* summary;  // one line, for --help
  bool networked;       // runs over gRPC (server / client); false: simulate only
  bool local_copy;      // its participant trains on a working copy of the model
  std::span<const AlgorithmOption> options;
  std::unique_ptr<Strategy> (*make)(const FedOptions& options, std::vector<int64_t> client_examples);
};

std::span<const StrategyRegistration> RegisteredStrategies();
// The registration of `algo`, or nullptr.
const StrategyRegistration* FindStrategyRegistration(FedAlgorithm algo);
// "feedsign, zo-fedsgd, ...": the algorithms a server runs.
std::string NetworkedAlgorithmNames();

}  // namespace seedtune
