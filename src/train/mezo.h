// MeZO (Malladi et al. 2023): zeroth-order SGD with SPSA gradient estimates.
// One step, on one minibatch and in eval mode (no dropout here anyway):
//   for k < q:  seed_k = StepSeed(run_seed, step, k)
//               L± = mean loss at theta ± eps z(seed_k)   (one ForwardPair)
//               g_k = (L+ - L-) / (2 eps)
//   theta <- theta * (1 - lr wd) [weight-decayed tensors only] - (lr / q) sum_k g_k z(seed_k)
// applied through the backend's ApplyUpdates, so a step is fully described by
// its (seed, alpha, decay) list: replaying the log reproduces the fingerprint.
// Forward passes, updates and fingerprints all go through one ComputeBackend
// (backend/backend.h) of options.backend serving the trained weights.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "core/status.h"
#include "backend/backend.h"
#include "core/threading.h"
#include "data/encode.h"
#include "data/objective.h"
#include "data/task.h"
#include "model/weights.h"
#include "zo/update.h"

namespace seedtune {

enum class LrSchedule { kConstant, kLinear };

struct MezoOptions {
  int64_t steps = 1000;
  int batch_size = 16;
  float lr = 1e-6f;
  float eps = 1e-3f;
  float weight_decay = 0.0f;
  int directions = 1;  // q: SPSA directions per step (n-SPSA)
  LrSchedule schedule = LrSchedule::kConstant;
  uint64_t seed = 0;   // run seed: step seeds and minibatch order derive from it
  ZDistribution dist = ZDistribution::kGaussian;
  int64_t eval_every = 0;  // evaluate on dev every N steps (0: only at the end)
  int eval_batch = 16;
  bool keep_best = true;   // end with the weights of the best dev evaluation
  // Resume: steps before first_step are already applied to the weights (the
  // data order and seeds of every step depend only on (seed, step), so a
  // resumed run continues exactly as an uninterrupted one).
  int64_t first_step = 1;
  // Where the model runs (not part of the run's identity: every backend
  // applies the same updates bit for bit; losses, and so the updates chosen,
  // may differ in the last bits).
  BackendKind backend = BackendKind::kCpu;
};

struct MezoStepLog {
  int64_t step = 0;        // 1-based
  double loss = 0.0;       // L(theta + eps z) of the first direction (as MeZO logs it)
  double loss_minus = 0.0;
  double projected_grad = 0.0;  // mean over directions
  double lr = 0.0;
  std::vector<ZUpdate> updates;  // what the step applied, in order
  double seconds = 0.0;
};

struct MezoEvalLog {
  int64_t step = 0;
  EvalResult dev;
  double metric = 0.0;  // accuracy (classification) or -loss (language model)
  std::string fingerprint;
};

struct MezoResult {
  std::vector<MezoStepLog> steps;
  std::vector<MezoEvalLog> evals;
  int64_t best_step = 0;
  std::string final_fingerprint;
};

struct MezoCallbacks {
  std::function<void(const MezoStepLog&)> on_step;
  std::function<void(const MezoEvalLog&)> on_eval;
  // Returns the base weights again (for keep_best when the best evaluation is
  // not the last: the best state is rebuilt by replaying the step log).
  std::function<StatusOr<ModelWeights>()> load_base;
};

// The SPSA pairs of one step at the model's current weights, one per seed, on
// `batch`: g_k = (L+ - L-) / (2 eps). FailedPrecondition naming the step when
// a g is not finite. Every participant's pairs are these: `train`, and the
// federated MeZO, FeedSign, ZO-FedSGD and DeComFL participants.
struct MezoPairs {
  std::vector<double> g;          // per seed
  std::vector<double> loss_plus;  // per seed: L(theta + eps z)
  double loss = 0.0;         // L(theta + eps z) of the first seed
  double loss_minus = 0.0;   // L(theta - eps z) of the first seed
};
StatusOr<MezoPairs> EvaluateMezoPairs(ComputeBackend& model, std::span<const EncodedExample> batch, Objective objective,
                                      std::span<const uint64_t> seeds, float eps, ZDistribution dist, int64_t step);
// Step `step`'s q direction seeds, StepSeed(run, step, k) for k < q, and its
// minibatch, StepBatch(run, step, batch, n) (docs/protocol.md).
std::vector<uint64_t> MezoStepSeeds(uint64_t run_seed, int64_t step, int q);
std::vector<EncodedExample> MezoStepBatch(std::span<const EncodedExample> train, uint64_t run_seed, int64_t step,
                                          int batch_size);

// Whether evaluation `a` beats `b` for keep-best: the higher metric, and on a
// tie (dev accuracy often ties on small dev sets) the lower dev loss; a full
// tie keeps the earlier one.
bool IsBetterEvaluation(const MezoEvalLog& a, const MezoEvalLog& b);

// The learning rate of `step` (1-based) under the schedule.
double ScheduledLr(const MezoOptions& options, int64_t step);

// Trains `weights` in place on `train`; evaluates on `dev`.
StatusOr<MezoResult> TrainMezo(ModelWeights* weights, ThreadingContext& ctx, std::span<const EncodedExample> train,
                               std::span<const EncodedExample> dev, Objective objective, const MezoOptions& options,
                               const MezoCallbacks& callbacks = {});

}  // namespace seedtune
