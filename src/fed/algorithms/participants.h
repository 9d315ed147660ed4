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

}  // namespace seedtune
