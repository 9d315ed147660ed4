// The participant side of every algorithm, registered in one table
// (participants.cc): ClientTrainer::Train looks the run's algorithm up here.
// (Kept apart from strategies.h so a coordinator links no model code.)
#pragma once

#include <span>

#include "backend/backend.h"
#include "core/threading.h"
#include "fed/client_trainer.h"
#include "fed/strategy.h"
#include "model/weights.h"

namespace seedtune {

// What a participant computes a round's reply from (ClientTrainer::Train's
// arguments).
struct ParticipantRound {
  const RoundPlan& plan;
  const ModelWeights& global;
  ComputeBackend& global_view;
  ModelWeights* work;
  ThreadingContext& ctx;
};

struct ParticipantRegistration {
  FedAlgorithm algo;
  StatusOr<ClientReply> (*train)(const ClientTrainer& client, const ParticipantRound& round);
};

std::span<const ParticipantRegistration> RegisteredParticipants();

// For the algorithms that train on a working copy (local steps): overwrites
// round.work with the global weights and returns a backend over it, of the
// global view's kind. InvalidArgument naming `client` when there is no
// working copy or it has another shape.
StatusOr<std::unique_ptr<ComputeBackend>> StartFromGlobal(const ParticipantRound& round, int client);

}  // namespace seedtune
