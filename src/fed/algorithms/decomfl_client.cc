// DeComFL's participant: K local MeZO steps from the global model, step k on
// its own minibatch, P central-difference pairs along the round's shared
// directions (k, 0..P-1), then the step -lr * g_j / P along each; the reply
// is the K x P scalars, step-major. One step trains on the global model's
// view; more steps train on the working copy.
#include <vector>

#include "fed/aggregate.h"
#include "fed/algorithms/decomfl.h"
#include "fed/algorithms/participants.h"
#include "train/mezo.h"

namespace seedtune {

namespace {

StatusOr<ClientReply> TrainDeComFlClient(const ClientTrainer& client, const ParticipantRound& round) {
  const FedOptions& o = client.options();
  const int64_t t = round.plan.round;
  const int id = client.id();
  const int perturbations = static_cast<int>(AlgorithmParam(o, kDeComFlPerturbations));
  const int steps = static_cast<int>(AlgorithmParam(o, kDeComFlSteps));
  ComputeBackend* model = &round.global_view;
  std::unique_ptr<ComputeBackend> local;
  if (steps > 1) {
    ASSIGN_OR_RETURN(local, StartFromGlobal(round, id));
    model = local.get();
  }
  const uint64_t attack_seed = client.AttackSeed(t);
  ClientReply reply;
  reply.client = id;
  reply.round = t;
  double loss = 0.0;
  std::vector<uint64_t> seeds(static_cast<size_t>(perturbations));
  std::vector<ZUpdate> step_updates;
  for (int k = 0; k < steps; ++k) {
    // Minibatches continue across rounds: round t's step k is the client's
    // step (t - 1) K + k + 1.
    const int64_t client_step = (t - 1) * steps + k + 1;
    for (int j = 0; j < perturbations; ++j) seeds[static_cast<size_t>(j)] = DeComFlDirectionSeed(o.seed, t, k, j);
    auto pairs = EvaluateMezoPairs(*model, client.Batch(client_step, o.batch_size), client.objective(), seeds, o.eps,
                                   o.dist, client_step);
    if (!pairs.ok()) return FailedPrecondition("client {}, round {}: {}", id, t, pairs.status().message());
    step_updates.clear();
    for (int j = 0; j < perturbations; ++j) {
      double g = pairs->g[static_cast<size_t>(j)];
      if (client.byzantine())
        g = CorruptScalar(g, o.byzantine, StepSeed(attack_seed, static_cast<uint64_t>(k * perturbations + j)));
      const float gf = static_cast<float>(g);  // what travels, and what the client applies
      reply.scalars.push_back(gf);
      step_updates.push_back(ZUpdate{seeds[static_cast<size_t>(j)], DeComFlCoefficient(o.lr, gf, perturbations), 1.0f});
      loss += pairs->loss_plus[static_cast<size_t>(j)];
    }
    // The last step's update is the round's business (the coordinator's mean).
    if (k + 1 < steps) local->ApplyUpdates(round.work, step_updates, o.dist);
  }
  reply.loss = loss / static_cast<double>(steps * perturbations);
  return reply;
}

}  // namespace

ParticipantRegistration DeComFlParticipantRegistration() { return {kDeComFl, TrainDeComFlClient}; }

}  // namespace seedtune
