// MeZO's participant: train's step (train/mezo.h) on the one client's data,
// the same minibatch StepBatch(run, t) and direction StepSeed(run, t, 0), so
// `simulate --algo mezo` with one client computes what `train` computes; g
// stays with the one client, unrounded.
#include "fed/aggregate.h"
#include "fed/algorithms/participants.h"
#include "train/mezo.h"

namespace seedtune {

StatusOr<ClientReply> TrainMezoClient(const ClientTrainer& client, const ParticipantRound& round) {
  const FedOptions& o = client.options();
  const int64_t t = round.plan.round;
  const uint64_t seed = round.plan.step_seed;
  ASSIGN_OR_RETURN(MezoPairs pairs,
                   EvaluateMezoPairs(round.global_view, MezoStepBatch(client.data(), o.seed, t, o.batch_size),
                                     client.objective(), std::span<const uint64_t>(&seed, 1), o.eps, o.dist, t));
  ClientReply reply;
  reply.client = client.id();
  reply.round = t;
  reply.loss = pairs.loss;
  reply.scalar = client.byzantine() ? CorruptScalar(pairs.g[0], o.byzantine, client.AttackSeed(t)) : pairs.g[0];
  return reply;
}

}  // namespace seedtune
