// In-process simulation of the per-step federated algorithms over many
// clients that share one read-only global model (docs/federated.md):
//   mezo       one client holding all data: the centralized reference
//   feedsign   (arXiv 2501.17610) shared seed StepSeed(run, t); each client
//              uploads sign(g_k) (1 bit); the server broadcasts the majority
//              vote (1 bit); everyone applies theta -= lr * vote * z(seed_t)
//   zo-fedsgd  (FeedSign's baseline) each client its own seed
//              StepSeed(run, t, k + 1); uploads (seed tag, g_k) (32 + 32 bits);
//              everyone applies theta -= lr * sum_k w_k g_k z(s_k)
//              (w from the aggregation rule: mean, median, trimmed mean)
//   fedkseed   (Qin et al., ICML 2024) K candidate seeds StepSeed(run, j, "seed");
//              a sampled fraction of clients each run tau local MeZO steps
//              (batch 1) on a working copy, each with a seed index drawn
//              uniformly; they upload (u16 index, f32 g) pairs; the server adds
//              w_c * g to the seed's accumulator (w_c = client data share);
//              the round's list is (s_j, -lr * dG_j) for every seed whose
//              accumulator changed, in index order, broadcast to every client
//              (dense K x f32 or sparse (u16, f32), whichever is smaller)
//   fedkseed-pro  seeds drawn with p = softmax(minmax(mean |clip(history)|))
//              (the paper's code: clip 1000, history starts at [0]); the K
//              probabilities are sent to the sampled clients
// The coordinator's logic is fed/strategy.h and each client's is
// fed/client_trainer.h; this file is the in-memory transport between them.
// Each round ends as an ordered ZUpdate list. With `replicas`, every client
// also keeps its own copy and applies the broadcast list; the engine compares
// every copy's fingerprint with the global one after every round and fails if
// any differs.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "core/status.h"
#include "core/threading.h"
#include "data/encode.h"
#include "data/objective.h"
#include "fed/aggregate.h"
#include "fed/strategy.h"
#include "model/weights.h"
#include "zo/update.h"

namespace seedtune {

struct SimulationOptions : FedOptions {
  int64_t rounds = 100;     // last round to run (one step per round except FedKSeed)
  int64_t first_round = 1;  // resume: the global model already holds rounds < first_round
  // resume: the ledger's aux bytes of rounds 1 .. first_round - 1, in order
  // (FedKSeed-Pro's history), folded into the strategy before round first_round
  std::vector<std::string> restore_aux;
  int64_t eval_every = 0;  // dev evaluation every N rounds (0: only at the end)
  int eval_batch = 16;
  bool replicas = false;   // every client keeps and updates its own copy (fingerprint check)
  BackendKind backend = BackendKind::kCpu;  // runs the models, updates and fingerprints
};

struct RoundLog {
  int64_t round = 0;
  double loss = 0.0;  // mean over honest clients of L(theta + eps z) on their batches
  std::vector<double> client_grads;  // what each client reported (after any attack)
  int vote = 0;                      // FeedSign
  std::vector<int> sampled;          // the clients the round asked to train (its plan)
  std::vector<ZUpdate> updates;      // the round's list, in application order
  std::string aux;                   // strategy state for the ledger (FedKSeed-Pro)
  Traffic traffic;                   // per participating client
  std::string fingerprint;           // of the global model after the round
  double seconds = 0.0;
};

struct SimEvalLog {
  int64_t round = 0;
  EvalResult dev;
};

struct SimulationResult {
  std::vector<RoundLog> rounds;
  std::vector<SimEvalLog> evals;
  std::string final_fingerprint;
  uint64_t total_up_bits = 0, total_down_bits = 0;  // summed over clients and rounds
};

struct SimulationCallbacks {
  std::function<void(const RoundLog&)> on_round;
  std::function<void(const SimEvalLog&)> on_eval;
};

StatusOr<SimulationResult> RunSimulation(ModelWeights* global, ThreadingContext& ctx,
                                         const std::vector<std::vector<EncodedExample>>& clients,
                                         std::span<const EncodedExample> dev, Objective objective,
                                         const SimulationOptions& options, const SimulationCallbacks& callbacks = {});

}  // namespace seedtune
