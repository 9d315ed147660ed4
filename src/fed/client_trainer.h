// A participant's side of a federated run: given the round's plan and the
// current global model, compute the reply (fed/strategy.h). The simulation
// runs many of these in one process; `seedtune client` runs one.
#pragma once

#include <span>
#include <vector>

#include "backend/backend.h"
#include "core/status.h"
#include "core/threading.h"
#include "data/encode.h"
#include "data/objective.h"
#include "fed/strategy.h"
#include "model/weights.h"

namespace seedtune {

// One participant; what it computes for a round is its algorithm's
// (fed/algorithms/participants.h), given this client's data and options.
class ClientTrainer {
 public:
  // `data` is the client's shard (it must outlive the trainer). `byzantine`
  // makes the client report what options.byzantine.attack says instead of
  // its honest value (experiments).
  ClientTrainer(int id, std::span<const EncodedExample> data, Objective objective, const FedOptions& options,
                bool byzantine);

  int id() const { return id_; }
  int64_t num_examples() const { return static_cast<int64_t>(data_.size()); }
  bool byzantine() const { return byzantine_; }
  const FedOptions& options() const { return o_; }
  Objective objective() const { return objective_; }
  std::span<const EncodedExample> data() const { return data_; }
  // FedKSeed's K candidate seeds (empty for the other algorithms).
  const std::vector<uint64_t>& candidates() const { return candidates_; }

  // The client's reply to `plan`. `global_view` is a backend serving the
  // current global weights `global` (MeZO / FeedSign / ZO-FedSGD evaluate
  // perturbed forwards through it; perturbations never change the weights).
  // FedKSeed trains tau local steps on `*work`, a scratch model that is
  // overwritten with `global` first (one scratch serves every client in turn),
  // through a backend of the same kind as `global_view`.
  StatusOr<ClientReply> Train(const RoundPlan& plan, const ModelWeights& global, ComputeBackend& global_view,
                              ModelWeights* work, ThreadingContext& ctx) const;

  // Client k's minibatch of a step: its own seeded epoch permutations.
  std::vector<EncodedExample> Batch(int64_t step, int batch_size) const;
  // The seed of this client's own example order (StepBatch), and of its
  // Byzantine draws in `round` (docs/protocol.md).
  uint64_t DataSeed() const;
  uint64_t AttackSeed(int64_t round) const;

  struct SharedPair {
    double g = 0.0;     // (L+ - L-) / (2 eps), finite
    double loss = 0.0;  // mean L(theta + eps z) over the batch
  };
  // One SPSA pair along `seed` at the shared model, over the batch of step
  // `step` (MeZO, FeedSign, ZO-FedSGD).
  StatusOr<SharedPair> PairAtSharedModel(ComputeBackend& global_view, int64_t step, uint64_t seed) const;
  BatchOptions batch_options() const;

 private:
  int id_;
  std::span<const EncodedExample> data_;
  Objective objective_;
  FedOptions o_;
  bool byzantine_;
  std::vector<uint64_t> candidates_;  // FedKSeed
};

}  // namespace seedtune
