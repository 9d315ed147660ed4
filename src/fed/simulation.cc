#include "fed/simulation.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <memory>

#include "fed/algorithms/strategies.h"
#include "fed/client_trainer.h"
#include "zo/fingerprint.h"

namespace seedtune {

StatusOr<SimulationResult> RunSimulation(ModelWeights* global, ThreadingContext& ctx,
                                         const std::vector<std::vector<EncodedExample>>& clients,
                                         std::span<const EncodedExample> dev, Objective objective,
                                         const SimulationOptions& o, const SimulationCallbacks& cb) {
  const int n = static_cast<int>(clients.size());
  if (n == 0) return InvalidArgument("simulation: no clients");
  std::vector<int64_t> sizes;
  for (int k = 0; k < n; ++k) {
    if (clients[k].empty()) return InvalidArgument("simulation: client {} has no data", k);
    sizes.push_back(static_cast<int64_t>(clients[k].size()));
  }
  if (o.first_round < 1) return InvalidArgument("simulation: first round must be >= 1, not {}", o.first_round);
  auto strategy_or = Strategy::Create(o, sizes);
  if (!strategy_or.ok()) return InvalidArgument("simulation: {}", strategy_or.status().message());
  Strategy& strategy = **strategy_or;
  if (static_cast<int64_t>(o.restore_aux.size()) != o.first_round - 1)
    return InvalidArgument("simulation: resuming at round {} needs the state of {} rounds, got {}", o.first_round,
                           o.first_round - 1, o.restore_aux.size());
  for (size_t i = 0; i < o.restore_aux.size(); ++i) {
    Status s = strategy.Restore(o.restore_aux[i]);
    if (!s.ok()) return DataLoss("simulation: state of round {}: {}", i + 1, s.message());
  }
  const std::vector<bool> byzantine = ByzantineClients(n, o.byzantine.fraction, StepSeed(o.seed, 0, 0xb12u));
  std::vector<ClientTrainer> trainers;
  for (int k = 0; k < n; ++k) trainers.emplace_back(k, clients[k], objective, o, byzantine[k]);
  std::vector<int> everyone(static_cast<size_t>(n));
  for (int k = 0; k < n; ++k) everyone[k] = k;
  std::vector<ModelWeights> replicas;
  if (o.replicas)
    for (int k = 0; k < n; ++k) replicas.push_back(global->Clone());
  const StrategyRegistration* algo = FindStrategyRegistration(o.algo);
  const bool local_copy = algo != nullptr && algo->local_copy;

  // One backend serving the global model for the run (rounds update it in
  // place), so workspaces and perturbation scratch are allocated once; one
  // working copy serves every FedKSeed client in turn (memory does not grow
  // with clients).
  ASSIGN_OR_RETURN(std::unique_ptr<ComputeBackend> model, MakeBackend(o.backend, *global, ctx));
  SimulationResult result;
  auto evaluate = [&](int64_t round) -> Status {
    if (dev.empty()) return Status::Ok();
    ASSIGN_OR_RETURN(EvalResult r, EvaluateDataset(*model, dev, objective, o.eval_batch));
    SimEvalLog log{round, r};
    if (cb.on_eval) cb.on_eval(log);
    result.evals.push_back(log);
    return Status::Ok();
  };
  if (o.eval_every > 0) RETURN_IF_ERROR(evaluate(o.first_round - 1));

  ModelWeights work;
  if (local_copy) work = global->Clone();
  for (int64_t t = o.first_round; t <= o.rounds; ++t) {
    const auto t0 = std::chrono::steady_clock::now();
    const RoundPlan plan = strategy.ConfigureRound(t, everyone);
    std::vector<ClientReply> replies;
    std::vector<double> honest_losses;
    for (int k : plan.participants) {
      ASSIGN_OR_RETURN(ClientReply reply, trainers[k].Train(plan, *global, *model, local_copy ? &work : nullptr, ctx));
      if (!byzantine[k] && strategy.ReplyHasLoss(reply)) honest_losses.push_back(reply.loss);
      replies.push_back(std::move(reply));
    }
    ASSIGN_OR_RETURN(AggregatedRound agg, strategy.Aggregate(plan, std::move(replies)));
    RoundLog log;
    log.round = t;
    log.client_grads = agg.client_values;
    log.vote = agg.vote;
    log.sampled = plan.participants;
    log.updates = std::move(agg.updates);
    log.aux = std::move(agg.aux);
    log.traffic = agg.traffic;
    double loss_sum = 0.0;
    for (double l : honest_losses) loss_sum += l;
    log.loss = honest_losses.empty() ? 0.0 : loss_sum / static_cast<double>(honest_losses.size());
    model->ApplyUpdates(global, log.updates, o.dist);
    const uint64_t fp = model->Fingerprint(*global);
    log.fingerprint = FingerprintHex(fp);
    for (int k = 0; k < static_cast<int>(replicas.size()); ++k) {
      model->ApplyUpdates(&replicas[k], log.updates, o.dist);
      const uint64_t rfp = model->Fingerprint(replicas[k]);
      if (rfp != fp)
        return InternalError("round {}: client {} holds fingerprint {} but the global model is {}", t, k,
                             FingerprintHex(rfp), log.fingerprint);
    }
    const uint64_t uploaders = agg.contributors.size();
    result.total_up_bits += log.traffic.up_bits * uploaders;
    result.total_down_bits += log.traffic.down_bits * static_cast<uint64_t>(n);
    log.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (cb.on_round) cb.on_round(log);
    result.rounds.push_back(std::move(log));
    if (o.eval_every > 0 && t % o.eval_every == 0 && t != o.rounds) RETURN_IF_ERROR(evaluate(t));
  }
  RETURN_IF_ERROR(evaluate(o.rounds));
  result.final_fingerprint = FingerprintHex(model->Fingerprint(*global));
  return result;
}

}  // namespace seedtune
