// MeZO's participant: one SPSA pair along the step's seed; g stays with the
// one client, unrounded.
#include "fed/aggregate.h"
#include "fed/algorithms/participants.h"

namespace seedtune {

StatusOr<ClientReply> TrainMezoClient(const ClientTrainer& client, const ParticipantRound& round) {
  const int64_t t = round.plan.round;
  ASSIGN_OR_RETURN(auto pair, client.PairAtSharedModel(round.global_view, t, round.plan.step_seed));
  ClientReply reply;
  reply.client = client.id();
  reply.round = t;
  reply.loss = pair.loss;
  reply.scalar = client.byzantine() ? CorruptScalar(pair.g, client.options().byzantine, client.AttackSeed(t)) : pair.g;
  return reply;
}

}  // namespace seedtune
