#include "fed/simulation.h"

#include <chrono>
#include <cmath>

#include "model/transformer.h"
#include "train/mezo.h"
#include "zo/fingerprint.h"

namespace seedtune {

StatusOr<FedAlgorithm> ParseFedAlgorithm(const std::string& name) {
  if (name == "mezo") return FedAlgorithm::kMezo;
  if (name == "feedsign") return FedAlgorithm::kFeedSign;
  if (name == "zo-fedsgd") return FedAlgorithm::kZoFedSgd;
  return InvalidArgument("unknown algorithm '{}' (mezo, feedsign, zo-fedsgd)", name);
}

const char* FedAlgorithmName(FedAlgorithm algo) {
  switch (algo) {
    case FedAlgorithm::kMezo: return "mezo";
    case FedAlgorithm::kFeedSign: return "feedsign";
    case FedAlgorithm::kZoFedSgd: return "zo-fedsgd";
  }
  return "unknown";
}

namespace {

// Client k's minibatch of round t: its own seeded epoch permutations.
std::vector<EncodedExample> ClientBatch(const std::vector<EncodedExample>& data, uint64_t run_seed, int client,
                                        int64_t round, int batch_size) {
  std::vector<EncodedExample> batch;
  const uint64_t client_seed = StepSeed(run_seed, static_cast<uint64_t>(client), 0xc1e27u);
  for (int64_t i : StepBatch(client_seed, round, batch_size, static_cast<int64_t>(data.size()))) batch.push_back(data[i]);
  return batch;
}

double Mean(std::span<const double> v) {
  double s = 0.0;
  for (double x : v) s += x;
  return v.empty() ? 0.0 : s / static_cast<double>(v.size());
}

}  // namespace

StatusOr<SimulationResult> RunSimulation(ModelWeights* global, ThreadingContext& ctx,
                                         const std::vector<std::vector<EncodedExample>>& clients,
                                         std::span<const EncodedExample> dev, Objective objective,
                                         const SimulationOptions& o, const SimulationCallbacks& cb) {
  const int n = static_cast<int>(clients.size());
  if (n == 0) return InvalidArgument("simulation: no clients");
  for (int k = 0; k < n; ++k)
    if (clients[k].empty()) return InvalidArgument("simulation: client {} has no data", k);
  if (o.algo == FedAlgorithm::kMezo && n != 1)
    return InvalidArgument("simulation: mezo is centralized: one client holding all data, not {}", n);
  if (!(o.eps > 0.0f) || o.batch_size <= 0) return InvalidArgument("simulation: eps and batch size must be positive");
  const std::vector<bool> byzantine = ByzantineClients(n, o.byzantine.fraction, StepSeed(o.seed, 0, 0xb12u));
  std::vector<ModelWeights> replicas;
  if (o.replicas)
    for (int k = 0; k < n; ++k) replicas.push_back(global->Clone());
  BatchOptions bopts;
  bopts.gold_only = objective == Objective::kLanguageModel;

  SimulationResult result;
  auto evaluate = [&](int64_t round) -> Status {
    if (dev.empty()) return Status::Ok();
    Transformer model(*global, ctx);
    ASSIGN_OR_RETURN(EvalResult r, EvaluateDataset(model, dev, objective, o.eval_batch));
    SimEvalLog log{round, r};
    if (cb.on_eval) cb.on_eval(log);
    result.evals.push_back(log);
    return Status::Ok();
  };
  if (o.eval_every > 0) RETURN_IF_ERROR(evaluate(0));

  for (int64_t t = 1; t <= o.rounds; ++t) {
    const auto t0 = std::chrono::steady_clock::now();
    RoundLog log;
    log.round = t;
    std::vector<double> honest_losses;
    Transformer model(*global, ctx);
    if (o.algo == FedAlgorithm::kFeedSign || o.algo == FedAlgorithm::kMezo) {
      // One shared direction: every client's batch goes through one SPSA pair.
      const uint64_t seed = StepSeed(o.seed, static_cast<uint64_t>(t));
      std::vector<EncodedExample> all;
      std::vector<size_t> begin(static_cast<size_t>(n) + 1, 0);
      for (int k = 0; k < n; ++k) {
        auto b = ClientBatch(clients[k], o.seed, k, t, o.batch_size);
        all.insert(all.end(), b.begin(), b.end());
        begin[k + 1] = all.size();
      }
      ASSIGN_OR_RETURN(auto pair, EvaluateBatchPair(model, all, objective, seed, o.eps, o.dist, bopts));
      std::vector<int> signs;
      for (int k = 0; k < n; ++k) {
        std::span<const double> lp(pair[0].losses.data() + begin[k], begin[k + 1] - begin[k]);
        std::span<const double> lm(pair[1].losses.data() + begin[k], begin[k + 1] - begin[k]);
        double g = (Mean(lp) - Mean(lm)) / (2.0 * o.eps);
        if (!std::isfinite(g)) return FailedPrecondition("round {}: client {} has a non-finite projected gradient", t, k);
        if (!byzantine[k]) honest_losses.push_back(Mean(lp));
        if (o.algo == FedAlgorithm::kMezo) {
          log.client_grads.push_back(g);
          log.updates.push_back(ZUpdate{seed, static_cast<float>(-o.lr * g), 1.0f});
        } else {
          int sign = g >= 0.0 ? 1 : -1;
          if (byzantine[k]) sign = CorruptSign(sign, o.byzantine);
          signs.push_back(sign);
          log.client_grads.push_back(sign);
        }
      }
      if (o.algo == FedAlgorithm::kFeedSign) {
        log.vote = MajorityVote(signs, seed);
        log.updates.push_back(ZUpdate{seed, static_cast<float>(-o.lr * log.vote), 1.0f});
        log.traffic = Traffic{1, 1};  // one sign up, one vote down
      }
    } else {  // ZO-FedSGD: each client its own direction
      std::vector<uint64_t> seeds;
      for (int k = 0; k < n; ++k) {
        const uint64_t seed = StepSeed(o.seed, static_cast<uint64_t>(t), static_cast<uint32_t>(k + 1));
        auto batch = ClientBatch(clients[k], o.seed, k, t, o.batch_size);
        ASSIGN_OR_RETURN(auto pair, EvaluateBatchPair(model, batch, objective, seed, o.eps, o.dist, bopts));
        double g = (pair[0].mean_loss - pair[1].mean_loss) / (2.0 * o.eps);
        if (!std::isfinite(g)) return FailedPrecondition("round {}: client {} has a non-finite projected gradient", t, k);
        if (byzantine[k]) {
          g = CorruptScalar(g, o.byzantine, StepSeed(o.seed, static_cast<uint64_t>(t), 0xbad0000u + k));
        } else {
          honest_losses.push_back(pair[0].mean_loss);
        }
        seeds.push_back(seed);
        log.client_grads.push_back(g);
      }
      const auto w = ScalarWeights(log.client_grads, o.rule, o.trim_fraction);
      for (int k = 0; k < n; ++k)
        if (w[k] != 0.0)
          log.updates.push_back(ZUpdate{seeds[k], static_cast<float>(-o.lr * w[k] * log.client_grads[k]), 1.0f});
      // Up: (32-bit seed tag, 32-bit scalar); down: every client's pair.
      log.traffic = Traffic{64, 64ull * static_cast<uint64_t>(n)};
    }
    log.loss = Mean(honest_losses);
    ApplyUpdates(global, log.updates, o.dist, ctx);
    const uint64_t fp = ModelFingerprint(*global, ctx);
    log.fingerprint = FingerprintHex(fp);
    for (int k = 0; k < static_cast<int>(replicas.size()); ++k) {
      ApplyUpdates(&replicas[k], log.updates, o.dist, ctx);
      const uint64_t rfp = ModelFingerprint(replicas[k], ctx);
      if (rfp != fp)
        return InternalError("round {}: client {} holds fingerprint {} but the global model is {}", t, k,
                             FingerprintHex(rfp), log.fingerprint);
    }
    result.total_up_bits += log.traffic.up_bits * static_cast<uint64_t>(n);
    result.total_down_bits += log.traffic.down_bits * static_cast<uint64_t>(n);
    log.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (cb.on_round) cb.on_round(log);
    result.rounds.push_back(std::move(log));
    if (o.eval_every > 0 && t % o.eval_every == 0 && t != o.rounds) RETURN_IF_ERROR(evaluate(t));
  }
  RETURN_IF_ERROR(evaluate(o.rounds));
  result.final_fingerprint = FingerprintHex(ModelFingerprint(*global, ctx));
  return result;
}

}  // namespace seedtune
