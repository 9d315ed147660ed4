#include "fed/algorithms/participants.h"

#include "fed/algorithms/decomfl.h"

namespace seedtune {

// Each defined in its algorithm's *_client.cc.
StatusOr<ClientReply> TrainMezoClient(const ClientTrainer& client, const ParticipantRound& round);
StatusOr<ClientReply> TrainFeedSignClient(const ClientTrainer& client, const ParticipantRound& round);
StatusOr<ClientReply> TrainZoFedSgdClient(const ClientTrainer& client, const ParticipantRound& round);
StatusOr<ClientReply> TrainFedKSeedClient(const ClientTrainer& client, const ParticipantRound& round);

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
