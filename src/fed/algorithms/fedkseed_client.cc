// FedKSeed(-Pro)'s participant: tau local MeZO steps (batch 1, as the paper)
// on a working copy, each along a candidate seed drawn uniformly (Pro: from
// the plan's probabilities); the reply is the (seed index, g) list.
#include <cmath>

#include "data/sampling.h"
#include "fed/aggregate.h"
#include "fed/algorithms/fedkseed.h"
#include "fed/algorithms/participants.h"

namespace seedtune {

namespace {

// Index drawn from `p` (cumulative search on one uniform), or uniformly when p is empty.
int DrawSeedIndex(PortableRng& rng, const std::vector<float>& p, int k) {
  if (p.empty()) return static_cast<int>(rng.Below(static_cast<uint64_t>(k)));
  const double u = static_cast<double>(rng.Next() >> 11) * 0x1.0p-53;
  double cum = 0.0;
  for (int j = 0; j < k; ++j) {
    cum += static_cast<double>(p[j]);
    if (u < cum) return j;
  }
  return k - 1;
}

}  // namespace

StatusOr<ClientReply> TrainFedKSeedClient(const ClientTrainer& client, const ParticipantRound& round) {
  const FedOptions& o = client.options();
  const RoundPlan& plan = round.plan;
  const int64_t t = plan.round;
  const int id = client.id();
  const auto& candidates = client.candidates();
  const auto data = client.data();
  if (!plan.seed_probabilities.empty() && plan.seed_probabilities.size() != candidates.size())
    return InvalidArgument("round {}: {} seed probabilities for K = {}", t, plan.seed_probabilities.size(),
                           candidates.size());
  ASSIGN_OR_RETURN(std::unique_ptr<ComputeBackend> local, StartFromGlobal(round, id));
  PortableRng pick(StepSeed(o.seed, static_cast<uint64_t>(t), 0x70000u + static_cast<uint32_t>(id)));
  const uint64_t attack_seed = client.AttackSeed(t);
  const BatchOptions bopts = client.batch_options();
  const int tau = FedKSeedLocalSteps(o);
  const int64_t base_step = (t - 1) * tau;
  ClientReply reply;
  reply.client = id;
  reply.round = t;
  double loss = 0.0;
  for (int step = 1; step <= tau; ++step) {
    const int j = DrawSeedIndex(pick, plan.seed_probabilities, static_cast<int>(candidates.size()));
    const auto idx = StepBatch(client.DataSeed(), base_step + step, 1, static_cast<int64_t>(data.size()));
    const EncodedExample& one = data[static_cast<size_t>(idx[0])];
    ASSIGN_OR_RETURN(auto pair, EvaluateBatchPair(*local, std::span<const EncodedExample>(&one, 1), client.objective(),
                                                  candidates[j], o.eps, o.dist, bopts));
    double g = (pair[0].mean_loss - pair[1].mean_loss) / (2.0 * o.eps);
    if (!std::isfinite(g)) continue;  // the paper's code skips NaN losses
    if (client.byzantine()) g = CorruptScalar(g, o.byzantine, StepSeed(attack_seed, static_cast<uint64_t>(step)));
    const float gf = static_cast<float>(g);  // what travels, and what the client applies
    const ZUpdate u{candidates[j], -o.lr * gf, 1.0f};
    local->ApplyUpdates(round.work, std::span<const ZUpdate>(&u, 1), o.dist);
    reply.pairs.emplace_back(static_cast<uint16_t>(j), gf);
    loss += pair[0].mean_loss;
  }
  reply.loss = reply.pairs.empty() ? 0.0 : loss / static_cast<double>(reply.pairs.size());
  return reply;
}

}  // namespace seedtune
