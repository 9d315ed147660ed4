#include "fed/client_trainer.h"

#include <cmath>
#include <cstring>

#include "data/task.h"
#include "data/sampling.h"

namespace seedtune {

namespace {

double Mean(const std::vector<double>& v) {
  double s = 0.0;
  for (double x : v) s += x;
  return v.empty() ? 0.0 : s / static_cast<double>(v.size());
}

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

ClientTrainer::ClientTrainer(int id, std::span<const EncodedExample> data, Objective objective,
                             const FedOptions& options, bool byzantine)
    : id_(id), data_(data), objective_(objective), o_(options), byzantine_(byzantine) {
  if (IsFedKSeed(o_.algo)) candidates_ = FedKSeedCandidates(o_.seed, o_.num_seeds);
}

std::vector<EncodedExample> ClientTrainer::Batch(int64_t step, int batch_size) const {
  std::vector<EncodedExample> batch;
  const uint64_t client_seed = StepSeed(o_.seed, static_cast<uint64_t>(id_), 0xc1e27u);
  for (int64_t i : StepBatch(client_seed, step, batch_size, static_cast<int64_t>(data_.size())))
    batch.push_back(data_[static_cast<size_t>(i)]);
  return batch;
}

StatusOr<ClientReply> ClientTrainer::Train(const RoundPlan& plan, const ModelWeights& global, ComputeBackend& global_view,
                                           ModelWeights* work, ThreadingContext& ctx) const {
  if (data_.empty()) return FailedPrecondition("client {} has no data", id_);
  ClientReply reply;
  reply.client = id_;
  reply.round = plan.round;
  const int64_t t = plan.round;
  BatchOptions bopts;
  bopts.gold_only = objective_ == Objective::kLanguageModel;
  const uint64_t attack_seed = StepSeed(o_.seed, static_cast<uint64_t>(t), 0xbad0000u + static_cast<uint32_t>(id_));

  if (!IsFedKSeed(o_.algo)) {
    const uint64_t seed = o_.algo == FedAlgorithm::kZoFedSgd ? ZoFedSgdSeed(o_.seed, t, id_) : plan.step_seed;
    const auto batch = Batch(t, o_.batch_size);
    ASSIGN_OR_RETURN(auto pair, EvaluateBatchPair(global_view, batch, objective_, seed, o_.eps, o_.dist, bopts));
    double g = (Mean(pair[0].losses) - Mean(pair[1].losses)) / (2.0 * o_.eps);
    if (!std::isfinite(g))
      return FailedPrecondition("round {}: client {} has a non-finite projected gradient", t, id_);
    reply.loss = Mean(pair[0].losses);
    if (o_.algo == FedAlgorithm::kFeedSign) {
      reply.sign = g >= 0.0 ? 1 : -1;
      if (o_.dp_epsilon > 0.0)
        reply.sign = RandomizedResponse(reply.sign, o_.dp_epsilon,
                                        StepSeed(o_.seed, static_cast<uint64_t>(t), 0xd1f0000u + static_cast<uint32_t>(id_)));
      if (byzantine_) reply.sign = CorruptSign(reply.sign, o_.byzantine);
    } else {
      if (byzantine_) g = CorruptScalar(g, o_.byzantine, attack_seed);
      // ZO-FedSGD's scalar travels as f32; MeZO's stays with the one client.
      reply.scalar = o_.algo == FedAlgorithm::kZoFedSgd ? static_cast<double>(static_cast<float>(g)) : g;
    }
    return reply;
  }

  // FedKSeed: tau local MeZO steps (batch 1, as the paper) on the working
  // copy, each along a candidate seed drawn uniformly (Pro: from the plan's
  // probabilities); the reply is the (seed index, g) list.
  if (work == nullptr) return InvalidArgument("client {}: FedKSeed needs a working copy", id_);
  if (work->buffer_floats() != global.buffer_floats())
    return InvalidArgument("client {}: working copy has another shape than the global model", id_);
  std::memcpy(work->buffer(), global.buffer(), global.buffer_floats() * sizeof(float));
  if (!plan.seed_probabilities.empty() && plan.seed_probabilities.size() != candidates_.size())
    return InvalidArgument("round {}: {} seed probabilities for K = {}", t, plan.seed_probabilities.size(),
                           candidates_.size());
  ASSIGN_OR_RETURN(std::unique_ptr<ComputeBackend> local, MakeBackend(global_view.kind(), *work, ctx));
  PortableRng pick(StepSeed(o_.seed, static_cast<uint64_t>(t), 0x70000u + static_cast<uint32_t>(id_)));
  const uint64_t client_seed = StepSeed(o_.seed, static_cast<uint64_t>(id_), 0xc1e27u);
  const int64_t base_step = (t - 1) * o_.local_steps;
  double loss = 0.0;
  for (int step = 1; step <= o_.local_steps; ++step) {
    const int j = DrawSeedIndex(pick, plan.seed_probabilities, o_.num_seeds);
    const auto idx = StepBatch(client_seed, base_step + step, 1, static_cast<int64_t>(data_.size()));
    const EncodedExample& one = data_[static_cast<size_t>(idx[0])];
    ASSIGN_OR_RETURN(auto pair, EvaluateBatchPair(*local, std::span<const EncodedExample>(&one, 1), objective_,
                                                  candidates_[j], o_.eps, o_.dist, bopts));
    double g = (pair[0].mean_loss - pair[1].mean_loss) / (2.0 * o_.eps);
    if (!std::isfinite(g)) continue;  // the paper's code skips NaN losses
    if (byzantine_)
      g = CorruptScalar(g, o_.byzantine, StepSeed(attack_seed, static_cast<uint64_t>(step)));
    const float gf = static_cast<float>(g);  // what travels, and what the client applies
    const ZUpdate u{candidates_[j], -o_.lr * gf, 1.0f};
    local->ApplyUpdates(work, std::span<const ZUpdate>(&u, 1), o_.dist);
    reply.pairs.emplace_back(static_cast<uint16_t>(j), gf);
    loss += pair[0].mean_loss;
  }
  reply.loss = reply.pairs.empty() ? 0.0 : loss / static_cast<double>(reply.pairs.size());
  return reply;
}

}  // namespace seedtune
