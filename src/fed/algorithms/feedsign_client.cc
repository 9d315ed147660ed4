// FeedSign's participant: sign(g) along the step's shared seed, through
// randomized response when the DP variant is on.
#include "fed/aggregate.h"
#include "fed/algorithms/participants.h"

namespace seedtune {

StatusOr<ClientReply> TrainFeedSignClient(const ClientTrainer& client, const ParticipantRound& round) {
  const FedOptions& o = client.options();
  const int64_t t = round.plan.round;
  ASSIGN_OR_RETURN(auto pair, client.PairAtSharedModel(round.global_view, t, round.plan.step_seed));
  ClientReply reply;
  reply.client = client.id();
  reply.round = t;
  reply.loss = pair.loss;
  reply.sign = pair.g >= 0.0 ? 1 : -1;
  if (o.dp_epsilon > 0.0)
    reply.sign = RandomizedResponse(reply.sign, o.dp_epsilon,
                                    StepSeed(o.seed, static_cast<uint64_t>(t), 0xd1f0000u + static_cast<uint32_t>(client.id())));
  if (client.byzantine()) reply.sign = CorruptSign(reply.sign, o.byzantine);
  return reply;
}

}  // namespace seedtune
