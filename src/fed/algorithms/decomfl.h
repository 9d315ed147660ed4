// DeComFL (Li et al., "Achieving dimension-free communication in federated
// learning via zeroth-order optimization"): what both sides of the algorithm
// derive, so the coordinator (decomfl_strategy.cc) and the participant
// (decomfl_client.cc) agree on it. docs/protocol.md lists the constants.
#pragma once

#include <cstdint>
#include <span>

#include "fed/strategy.h"
#include "zo/update.h"

namespace seedtune {

inline constexpr FedAlgorithm kDeComFl{"decomfl"};

// Its entries in the two registries (strategies.cc, participants.cc): the
// coordinator side with its option table (decomfl_strategy.cc) and the
// participant side (decomfl_client.cc).
struct StrategyRegistration;
struct ParticipantRegistration;
StrategyRegistration DeComFlStrategyRegistration();
ParticipantRegistration DeComFlParticipantRegistration();
// Its option table.
std::span<const AlgorithmOption> DeComFlOptions();
// Its option table's names (AlgorithmOption): P, K and m of the paper.
inline constexpr char kDeComFlPerturbations[] = "perturbations";
inline constexpr char kDeComFlSteps[] = "steps-per-round";
inline constexpr char kDeComFlSampledClients[] = "sampled-clients";

// The seed of direction j (0 <= j < P) of local step k (0 <= k < K) in round
// t; every sampled client of the round uses the same K x P seeds.
inline uint64_t DeComFlDirectionSeed(uint64_t run_seed, int64_t round, int step, int j) {
  return StepSeed(StepSeed(run_seed, static_cast<uint64_t>(round), 0xdec0u), static_cast<uint64_t>(step),
                  static_cast<uint32_t>(j));
}

// The seed of round t's client sample (a SeededPermutation over the
// available clients).
inline uint64_t DeComFlSampleSeed(uint64_t run_seed, int64_t round) {
  return StepSeed(run_seed, static_cast<uint64_t>(round), 0xdec1u);
}

// The coefficient of direction (k, j) given its scalar g (a client's own in
// a local step, the round's f32 mean in the global update): one expression,
// so a one-client round lands exactly where that client's steps went.
inline float DeComFlCoefficient(float lr, float g, int perturbations) {
  return -lr * g / static_cast<float>(perturbations);
}

}  // namespace seedtune
