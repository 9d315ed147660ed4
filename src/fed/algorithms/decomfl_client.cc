// DeComFL's participant: K local MeZO steps from the global model, step k on
// its own minibatch, P central-difference pairs along the round's shared
// directions (k, 0..P-1), then the step -lr * g_j / P along each; the reply
// is the K x P scalars, step-major. One step trains on the global model's
// view; more steps train on the working copy.
#include <cmath>
#include <cstring>

#include "fed/aggregate.h"
#include "fed/algorithms/decomfl.h"
#include "fed/algorithms/participants.h"

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
    ModelWeights* work = round.work;
    if (work == nullptr) return InvalidArgument("client {}: DeComFL with {} local steps needs a working copy", id, steps);
    if (work->buffer_floats() != round.global.buffer_floats())
      return InvalidArgument("client {}: working copy has another shape than the global model", id);
    std::memcpy(work->buffer(), round.global.buffer(), round.global.buffer_floats() * sizeof(float));
    ASSIGN_OR_RETURN(local, MakeBackend(round.global_view.kind(), *work, round.ctx));
    model = local.get();
  }
  const uint64_t attack_seed = client.AttackSeed(t);
  ClientReply reply;
  reply.client = id;
  reply.round = t;
  double loss = 0.0;
  std::vector<ZUpdate> step_updates;
  for (int k = 0; k < steps; ++k) {
    // Minibatches continue across rounds: round t's step k is the client's
    // step (t - 1) K + k + 1.
    const auto batch = client.Batch((t - 1) * steps + k + 1, o.batch_size);
    step_updates.clear();
    for (int j = 0; j < perturbations; ++j) {
      const uint64_t seed = DeComFlDirectionSeed(o.seed, t, k, j);
      ASSIGN_OR_RETURN(auto pair,
                       EvaluateBatchPair(*model, batch, client.objective(), seed, o.eps, o.dist, client.batch_options()));
      double g = (pair[0].mean_loss - pair[1].mean_loss) / (2.0 * o.eps);
      if (!std::isfinite(g))
        return FailedPrecondition("round {}: client {} has a non-finite projected gradient (step {}, direction {})", t,
                                  id, k, j);
      if (client.byzantine())
        g = CorruptScalar(g, o.byzantine, StepSeed(attack_seed, static_cast<uint64_t>(k * perturbations + j)));
      const float gf = static_cast<float>(g);  // what travels, and what the client applies
      reply.scalars.push_back(gf);
      step_updates.push_back(ZUpdate{seed, DeComFlCoefficient(o.lr, gf, perturbations), 1.0f});
      loss += pair[0].mean_loss;
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
