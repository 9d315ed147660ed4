#include "train/mezo.h"

#include <chrono>
#include <cmath>

#include "zo/fingerprint.h"

namespace seedtune {

bool IsBetterEvaluation(const MezoEvalLog& a, const MezoEvalLog& b) {
  if (a.metric != b.metric) return a.metric > b.metric;
  return a.dev.mean_loss < b.dev.mean_loss;  // a tied accuracy: the lower dev loss
}

double ScheduledLr(const MezoOptions& o, int64_t step) {
  if (o.schedule == LrSchedule::kLinear && o.steps > 0)
    return o.lr * std::max(0.0, 1.0 - static_cast<double>(step - 1) / static_cast<double>(o.steps));
  return o.lr;
}

StatusOr<MezoPairs> EvaluateMezoPairs(ComputeBackend& model, std::span<const EncodedExample> batch, Objective objective,
                                      std::span<const uint64_t> seeds, float eps, ZDistribution dist, int64_t step) {
  BatchOptions bopts;
  bopts.gold_only = objective == Objective::kLanguageModel;
  MezoPairs out;
  for (size_t k = 0; k < seeds.size(); ++k) {
    ASSIGN_OR_RETURN(auto pair, EvaluateBatchPair(model, batch, objective, seeds[k], eps, dist, bopts));
    const double g = (pair[0].mean_loss - pair[1].mean_loss) / (2.0 * eps);
    if (!std::isfinite(g))
      return FailedPrecondition("step {}: non-finite projected gradient (losses {} and {}); lower lr or eps", step,
                                pair[0].mean_loss, pair[1].mean_loss);
    if (k == 0) {
      out.loss = pair[0].mean_loss;
      out.loss_minus = pair[1].mean_loss;
    }
    out.g.push_back(g);
    out.loss_plus.push_back(pair[0].mean_loss);
  }
  return out;
}

std::vector<uint64_t> MezoStepSeeds(uint64_t run_seed, int64_t step, int q) {
  std::vector<uint64_t> seeds;
  for (int k = 0; k < q; ++k) seeds.push_back(StepSeed(run_seed, static_cast<uint64_t>(step), static_cast<uint32_t>(k)));
  return seeds;
}

std::vector<EncodedExample> MezoStepBatch(std::span<const EncodedExample> train, uint64_t run_seed, int64_t step,
                                          int batch_size) {
  std::vector<EncodedExample> batch;
  for (int64_t i : StepBatch(run_seed, step, batch_size, static_cast<int64_t>(train.size())))
    batch.push_back(train[static_cast<size_t>(i)]);
  return batch;
}

namespace {

StatusOr<MezoEvalLog> Evaluate(ComputeBackend& model, std::span<const EncodedExample> dev, Objective objective,
                               const MezoOptions& o, int64_t step) {
  ASSIGN_OR_RETURN(EvalResult r, EvaluateDataset(model, dev, objective, o.eval_batch));
  MezoEvalLog log;
  log.step = step;
  log.dev = r;
  log.metric = objective == Objective::kLanguageModel ? -r.mean_loss : r.accuracy;
  log.fingerprint = FingerprintHex(model.Fingerprint(model.weights()));
  return log;
}

}  // namespace

StatusOr<MezoResult> TrainMezo(ModelWeights* weights, ThreadingContext& ctx, std::span<const EncodedExample> train,
                               std::span<const EncodedExample> dev, Objective objective, const MezoOptions& o,
                               const MezoCallbacks& cb) {
  if (train.empty()) return InvalidArgument("MeZO: no training examples");
  if (o.batch_size <= 0 || o.directions <= 0 || o.steps < 0)
    return InvalidArgument("MeZO: batch_size, directions must be positive and steps non-negative");
  if (!(o.eps > 0.0f)) return InvalidArgument("MeZO: eps must be positive, got {}", o.eps);
  // A batch larger than the data only repeats examples (and sizes every
  // activation buffer by the batch).
  if (static_cast<size_t>(o.batch_size) > train.size())
    return InvalidArgument("MeZO: batch {} exceeds the {} training examples", o.batch_size, train.size());
  // One backend for the whole run, dev evaluations included: updates change
  // the weights in place, and its workspaces and perturbation scratch are
  // allocated once (a second view would hold a second workspace).
  ASSIGN_OR_RETURN(std::unique_ptr<ComputeBackend> model, MakeBackend(o.backend, *weights, ctx));
  MezoResult result;
  size_t best = 0;  // index into result.evals of the best so far (when any)
  auto evaluate = [&](int64_t step) -> Status {
    if (dev.empty()) return Status::Ok();
    ASSIGN_OR_RETURN(MezoEvalLog log, Evaluate(*model, dev, objective, o, step));
    const bool better = result.evals.empty() || IsBetterEvaluation(log, result.evals[best]);
    if (cb.on_eval) cb.on_eval(log);
    result.evals.push_back(std::move(log));
    if (better) {
      best = result.evals.size() - 1;
      result.best_step = step;
    }
    return Status::Ok();
  };
  if (o.eval_every > 0 && o.first_step <= 1) RETURN_IF_ERROR(evaluate(0));

  for (int64_t step = std::max<int64_t>(1, o.first_step); step <= o.steps; ++step) {
    const auto t0 = std::chrono::steady_clock::now();
    MezoStepLog log;
    log.step = step;
    log.lr = ScheduledLr(o, step);
    const auto seeds = MezoStepSeeds(o.seed, step, o.directions);
    auto pairs_or =
        EvaluateMezoPairs(*model, MezoStepBatch(train, o.seed, step, o.batch_size), objective, seeds, o.eps, o.dist, step);
    if (!pairs_or.ok()) return FailedPrecondition("MeZO {}", pairs_or.status().message());
    const MezoPairs& pairs = *pairs_or;
    log.loss = pairs.loss;
    log.loss_minus = pairs.loss_minus;
    double g_sum = 0.0;
    for (double g : pairs.g) g_sum += g;
    log.projected_grad = g_sum / o.directions;
    log.updates = MezoStepUpdates(seeds, pairs.g, log.lr, o.weight_decay);
    model->ApplyUpdates(weights, log.updates, o.dist);
    log.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (cb.on_step) cb.on_step(log);
    result.steps.push_back(std::move(log));
    if (o.eval_every > 0 && step % o.eval_every == 0 && step != o.steps) RETURN_IF_ERROR(evaluate(step));
  }
  if (o.steps > 0 || o.eval_every == 0) RETURN_IF_ERROR(evaluate(o.steps));
  if (o.first_step > 1 && o.keep_best && result.best_step < o.first_step)
    return FailedPrecondition("MeZO keep_best across a resume needs the full step log; use --no-keep-best");

  // Keep the best state: rebuild it from the base by replaying the log.
  if (o.keep_best && !result.evals.empty() && result.best_step != o.steps) {
    if (!cb.load_base) return FailedPrecondition("MeZO keep_best: no way to reload the base weights");
    // The trained state is not needed to rebuild the best one; releasing it
    // first keeps the peak at one copy of the weights.
    *weights = ModelWeights();
    ASSIGN_OR_RETURN(ModelWeights base, cb.load_base());
    std::vector<ZUpdate> replay;
    for (const auto& s : result.steps)
      if (s.step <= result.best_step) replay.insert(replay.end(), s.updates.begin(), s.updates.end());
    model->ApplyUpdates(&base, replay, o.dist);
    *weights = std::move(base);
  }
  result.final_fingerprint = FingerprintHex(model->Fingerprint(*weights));
  return result;
}

}  // namespace seedtune
