#include "fed/simulation.h"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "data/task.h"
#include "fed/messages.h"
#include "model/transformer.h"
#include "train/mezo.h"
#include "zo/fingerprint.h"

namespace seedtune {

StatusOr<FedAlgorithm> ParseFedAlgorithm(const std::string& name) {
  if (name == "mezo") return FedAlgorithm::kMezo;
  if (name == "feedsign") return FedAlgorithm::kFeedSign;
  if (name == "zo-fedsgd") return FedAlgorithm::kZoFedSgd;
  if (name == "fedkseed") return FedAlgorithm::kFedKSeed;
  if (name == "fedkseed-pro") return FedAlgorithm::kFedKSeedPro;
  return InvalidArgument("unknown algorithm '{}' (mezo, feedsign, zo-fedsgd, fedkseed, fedkseed-pro)", name);
}

const char* FedAlgorithmName(FedAlgorithm algo) {
  switch (algo) {
    case FedAlgorithm::kMezo: return "mezo";
    case FedAlgorithm::kFeedSign: return "feedsign";
    case FedAlgorithm::kZoFedSgd: return "zo-fedsgd";
    case FedAlgorithm::kFedKSeed: return "fedkseed";
    case FedAlgorithm::kFedKSeedPro: return "fedkseed-pro";
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

// FedKSeed-Pro's seed probabilities (FedKSeed server.calculate_probabilities):
// a_j = mean |clip(history_j, -1000, 1000)|, p = softmax((a - min) / (max - min + 1e-10)).
std::vector<double> ProProbabilities(const std::vector<std::vector<double>>& history) {
  const size_t k = history.size();
  std::vector<double> a(k);
  for (size_t j = 0; j < k; ++j) {
    double s = 0.0;
    for (double g : history[j]) s += std::fabs(std::clamp(g, -1000.0, 1000.0));
    a[j] = s / static_cast<double>(history[j].size());
  }
  const double lo = *std::min_element(a.begin(), a.end()), hi = *std::max_element(a.begin(), a.end());
  double sum = 0.0;
  for (size_t j = 0; j < k; ++j) sum += a[j] = std::exp((a[j] - lo) / (hi - lo + 1e-10));
  for (double& v : a) v /= sum;
  return a;
}

// Index drawn from `p` (cumulative search on one uniform), or uniformly when p is empty.
int DrawSeedIndex(PortableRng& rng, const std::vector<double>& p, int k) {
  if (p.empty()) return static_cast<int>(rng.Below(static_cast<uint64_t>(k)));
  const double u = static_cast<double>(rng.Next() >> 11) * 0x1.0p-53;
  double cum = 0.0;
  for (int j = 0; j < k; ++j) {
    cum += p[j];
    if (u < cum) return j;
  }
  return k - 1;
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

  const bool fedkseed = o.algo == FedAlgorithm::kFedKSeed || o.algo == FedAlgorithm::kFedKSeedPro;
  if (fedkseed && (o.num_seeds <= 0 || o.num_seeds > 65536 || o.local_steps <= 0))
    return InvalidArgument("simulation: FedKSeed needs 0 < K <= 65536 (u16 indices) and tau > 0");
  std::vector<uint64_t> candidates;
  std::vector<std::vector<double>> history;  // Pro: per seed, every g reported (starts at [0])
  if (fedkseed) {
    for (int j = 0; j < o.num_seeds; ++j) candidates.push_back(StepSeed(o.seed, static_cast<uint64_t>(j), 0x5eedu));
    history.assign(static_cast<size_t>(o.num_seeds), std::vector<double>{0.0});
  }
  int64_t total_examples = 0;
  for (const auto& c : clients) total_examples += static_cast<int64_t>(c.size());

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

  // One view of the global model for the run (rounds update it in place), so
  // workspaces and perturbation scratch are allocated once.
  Transformer model(*global, ctx);
  for (int64_t t = 1; t <= o.rounds; ++t) {
    const auto t0 = std::chrono::steady_clock::now();
    RoundLog log;
    log.round = t;
    std::vector<double> honest_losses;
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
    } else if (fedkseed) {
      // Clients sampled for this round (seeded, without replacement).
      const int m = std::max(1, static_cast<int>(o.client_fraction * n));
      auto perm = SeededPermutation(n, StepSeed(o.seed, static_cast<uint64_t>(t), 0x5a3u));
      std::vector<int> sampled(perm.begin(), perm.begin() + m);
      std::sort(sampled.begin(), sampled.end());
      std::vector<double> probs;
      if (o.algo == FedAlgorithm::kFedKSeedPro) probs = ProProbabilities(history);
      int64_t sampled_examples = 0;
      for (int c : sampled) sampled_examples += static_cast<int64_t>(clients[c].size());
      std::vector<double> delta(static_cast<size_t>(o.num_seeds), 0.0);
      std::vector<char> changed(static_cast<size_t>(o.num_seeds), 0);
      for (int c : sampled) {
        // tau local MeZO steps, batch 1, on a working copy of the global model.
        ModelWeights work = global->Clone();
        Transformer local(work, ctx);
        PortableRng pick(StepSeed(o.seed, static_cast<uint64_t>(t), 0x70000u + static_cast<uint32_t>(c)));
        const uint64_t client_seed = StepSeed(o.seed, static_cast<uint64_t>(c), 0xc1e27u);
        const int64_t base_step = (t - 1) * o.local_steps;
        const double wc = static_cast<double>(clients[c].size()) / static_cast<double>(sampled_examples);
        double client_loss = 0.0;
        int used = 0;
        std::vector<std::pair<uint16_t, float>> upload;
        for (int step = 1; step <= o.local_steps; ++step) {
          const int j = DrawSeedIndex(pick, probs, o.num_seeds);
          const auto idx = StepBatch(client_seed, base_step + step, 1, static_cast<int64_t>(clients[c].size()));
          std::vector<EncodedExample> one = {clients[c][idx[0]]};
          ASSIGN_OR_RETURN(auto pair, EvaluateBatchPair(local, one, objective, candidates[j], o.eps, o.dist, bopts));
          double g = (pair[0].mean_loss - pair[1].mean_loss) / (2.0 * o.eps);
          if (!std::isfinite(g)) continue;  // the paper's code skips NaN losses
          if (byzantine[c]) g = CorruptScalar(g, o.byzantine, StepSeed(o.seed, static_cast<uint64_t>(t), 0xbad0000u + c));
          const ZUpdate u{candidates[j], static_cast<float>(-o.lr * g), 1.0f};
          ApplyUpdates(&work, std::span<const ZUpdate>(&u, 1), o.dist, ctx);
          upload.emplace_back(static_cast<uint16_t>(j), static_cast<float>(g));
          delta[j] += wc * g;
          changed[j] = 1;
          history[j].push_back(g);
          client_loss += pair[0].mean_loss;
          ++used;
        }
        if (!byzantine[c] && used > 0) honest_losses.push_back(client_loss / used);
        log.traffic.up_bits = std::max<uint64_t>(log.traffic.up_bits, 8ull * EncodeSeedScalars(upload).size());
        log.client_grads.push_back(static_cast<double>(used));
      }
      // The round's list is what the broadcast message decodes to (so every
      // participant applies exactly the float deltas that travel).
      const std::string broadcast = EncodeRoundDeltas(delta, changed);
      ASSIGN_OR_RETURN(auto deltas, DecodeRoundDeltas(broadcast, o.num_seeds));
      for (const auto& [j, d] : deltas) log.updates.push_back(ZUpdate{candidates[j], -o.lr * d, 1.0f});
      log.sampled = sampled;
      // Up (largest over the sampled clients): tau (u16 index, f32 g) pairs.
      // Down: the broadcast, plus the K probabilities (f32) for Pro.
      log.traffic.down_bits = 8ull * broadcast.size() + (probs.empty() ? 0 : 32ull * static_cast<uint64_t>(o.num_seeds));
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
    const uint64_t uploaders = fedkseed ? static_cast<uint64_t>(log.sampled.size()) : static_cast<uint64_t>(n);
    result.total_up_bits += log.traffic.up_bits * uploaders;
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
