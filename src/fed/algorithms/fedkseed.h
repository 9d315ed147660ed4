// FedKSeed and FedKSeed-Pro (Qin et al.): what both sides and the wire derive
// from the run's options. Its option table (fedkseed_strategy.cc) is the
// only place K, tau and the client fraction are declared.
#pragma once

#include <span>

#include "fed/strategy.h"

namespace seedtune {

inline constexpr char kFedKSeedNumSeeds[] = "K";
inline constexpr char kFedKSeedLocalSteps[] = "local-steps";
inline constexpr char kFedKSeedClientFraction[] = "client-fraction";

// The table both FedKSeed and FedKSeed-Pro register.
std::span<const AlgorithmOption> FedKSeedOptions();

// K: the candidate seeds (u16 indices on the wire).
inline int FedKSeedNumSeeds(const FedOptions& o) { return static_cast<int>(AlgorithmParam(o, kFedKSeedNumSeeds)); }
// tau: local MeZO steps per sampled client and round.
inline int FedKSeedLocalSteps(const FedOptions& o) { return static_cast<int>(AlgorithmParam(o, kFedKSeedLocalSteps)); }
// The fraction of the clients sampled per round (at least one).
inline double FedKSeedClientFraction(const FedOptions& o) { return AlgorithmParam(o, kFedKSeedClientFraction); }

}  // namespace seedtune
