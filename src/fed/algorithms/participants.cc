#include "fed/algorithms/participants.h"

#include <cstring>

#include "fed/algorithms/decomfl.h"

namespace seedtune {

// Each defined in its algorithm's *_client.cc.
StatusOr<ClientReply> TrainMezoClient(const ClientTrainer& client, const ParticipantRound& round);
StatusOr<ClientReply> TrainFeedSignClient(const ClientTrainer& client, const ParticipantRound& round);
StatusOr<ClientReply> TrainZoFedSgdClient(const ClientTrainer& client, const ParticipantRound& round);
StatusOr<ClientReply> TrainFedKSeedClient(const ClientTrainer& client, const ParticipantRound& round);

StatusOr<std::unique_ptr<ComputeBackend>> StartFromGlobal(const ParticipantRound& round, int client) {
  ModelWeights* work = round.work;
  if (work == nullptr) return InvalidArgument("client {}: local steps need a working copy", client);
  if (work->buffer_floats() != round.global.buffer_floats())
    return InvalidArgument("client {}: working copy has another shape than the global model", client);
  std::memcpy(work->buffer(), round.global.buffer(), round.global.buffer_floats() * sizeof(float));
  return MakeBackend(round.global_view.kind(), *work, round.ctx);
}

std::span<const ParticipantRegistration> RegisteredParticipants() {
  static const ParticipantRegistration table[] = {
      {FedAlgorithm::kMezo, TrainMezoClient},
      {FedAlgorithm::kFeedSign, TrainFeedSignClient},
      {FedAlgorithm::kZoFedSgd, TrainZoFedSgdClient},
      {FedAlgorithm::kFedKSeed, TrainFedKSeedClient},
      {FedAlgorithm::kFedKSeedPro, TrainFedKSeedClient},
      DeComFlParticipantRegistration(),
  };
  return table;
}

}  // namespace seedtune
