#include "fed/client_trainer.h"

#include "data/sampling.h"
#include "fed/algorithms/fedkseed.h"
#include "fed/algorithms/participants.h"
#include "train/mezo.h"

namespace seedtune {

ClientTrainer::ClientTrainer(int id, std::span<const EncodedExample> data, Objective objective,
                             const FedOptions& options, bool byzantine)
    : id_(id), data_(data), objective_(objective), o_(WithDefaultParams(options)), byzantine_(byzantine) {
  if (IsFedKSeed(o_.algo)) candidates_ = FedKSeedCandidates(o_.seed, FedKSeedNumSeeds(o_));
}

uint64_t ClientTrainer::DataSeed() const { return StepSeed(o_.seed, static_cast<uint64_t>(id_), 0xc1e27u); }

uint64_t ClientTrainer::AttackSeed(int64_t round) const {
  return StepSeed(o_.seed, static_cast<uint64_t>(round), 0xbad0000u + static_cast<uint32_t>(id_));
}

BatchOptions ClientTrainer::batch_options() const {
  BatchOptions b;
  b.gold_only = objective_ == Objective::kLanguageModel;
  return b;
}

std::vector<EncodedExample> ClientTrainer::Batch(int64_t step, int batch_size) const {
  std::vector<EncodedExample> batch;
  for (int64_t i : StepBatch(DataSeed(), step, batch_size, static_cast<int64_t>(data_.size())))
    batch.push_back(data_[static_cast<size_t>(i)]);
  return batch;
}

StatusOr<ClientTrainer::SharedPair> ClientTrainer::PairAtSharedModel(ComputeBackend& global_view, int64_t step,
                                                                     uint64_t seed) const {
  auto pairs = EvaluateMezoPairs(global_view, Batch(step, o_.batch_size), objective_,
                                 std::span<const uint64_t>(&seed, 1), o_.eps, o_.dist, step);
  if (!pairs.ok()) return FailedPrecondition("client {}: {}", id_, pairs.status().message());
  return SharedPair{pairs->g[0], pairs->loss};
}

StatusOr<ClientReply> ClientTrainer::Train(const RoundPlan& plan, const ModelWeights& global, ComputeBackend& global_view,
                                           ModelWeights* work, ThreadingContext& ctx) const {
  if (data_.empty()) return FailedPrecondition("client {} has no data", id_);
  for (const ParticipantRegistration& r : RegisteredParticipants())
    if (r.algo == o_.algo) return r.train(*this, ParticipantRound{plan, global, global_view, work, ctx});
  return Unimplemented("no participant side is registered for {}", FedAlgorithmName(o_.algo));
}

}  // namespace seedtune
