// ZO-FedSGD's participant: one SPSA pair along its own seed
// StepSeed(run, t, c + 1); g travels as f32.
#include "fed/aggregate.h"
#include "fed/algorithms/participants.h"

namespace seedtune {

StatusOr<ClientReply> TrainZoFedSgdClient(const ClientTrainer& client, const ParticipantRound& round) {
  const FedOptions& o = client.options();
  const int64_t t = round.plan.round;
  ASSIGN_OR_RETURN(auto pair, client.PairAtSharedModel(round.global_view, t, ZoFedSgdSeed(o.seed, t, client.id())));
  ClientReply reply;
  reply.client = client.id();
  reply.round = t;
  reply.loss = pair.loss;
  const double g = client.byzantine() ? CorruptScalar(pair.g, o.byzantine, client.AttackSeed(t)) : pair.g;
  reply.scalar = static_cast<double>(static_cast<float>(g));  // what travels
  return reply;
}

}  // namespace seedtune
