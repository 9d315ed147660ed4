// DeComFL's coordinator: each round samples m clients, which run K local
// MeZO steps along the round's K x P shared directions and upload the K x P
// projected gradients; the mean over the replies becomes the round's update
// list, (seed_{k,j}, -lr * mean g_{k,j} / P) for k, then j. That list is all
// any participant needs to follow the global model, so up and down carry
// K x P scalars and no model (dimension-free communication).
#include <algorithm>
#include <cmath>

#include "fed/algorithms/decomfl.h"
#include "fed/algorithms/strategies.h"
#include "fed/strategy.h"
#include "zo/update.h"

namespace seedtune {

namespace {

class DeComFlStrategy final : public Strategy {
 public:
  DeComFlStrategy(const FedOptions& o, std::vector<int64_t> examples)
      : Strategy(o, std::move(examples)),
        perturbations_(static_cast<int>(AlgorithmParam(o_, kDeComFlPerturbations))),
        steps_(static_cast<int>(AlgorithmParam(o_, kDeComFlSteps))),
        sampled_(static_cast<int>(AlgorithmParam(o_, kDeComFlSampledClients))) {}

  RoundPlan ConfigureRound(int64_t round, std::span<const int> available) const override {
    const int m = sampled_ == 0 ? static_cast<int>(available.size()) : sampled_;
    RoundPlan plan = PlanSampledClients(round, available, m, DeComFlSampleSeed(o_.seed, round));
    plan.step_seed = DeComFlDirectionSeed(o_.seed, round, 0, 0);
    return plan;
  }

 protected:
  bool TakesScalarList() const override { return true; }

  Status CheckReply(const ClientReply& r) const override {
    const size_t want = static_cast<size_t>(steps_) * static_cast<size_t>(perturbations_);
    if (r.scalars.size() != want)
      return InvalidArgument("client {}: {} scalars for K x P = {} x {}", r.client, r.scalars.size(), steps_,
                             perturbations_);
    for (size_t i = 0; i < r.scalars.size(); ++i) {
      if (!std::isfinite(r.scalars[i])) return InvalidArgument("client {}: scalar {} is not finite", r.client, i);
      if (std::fabs(r.scalars[i]) > o_.max_abs_scalar)
        return InvalidArgument("client {}: scalar {} is {:g}, over the run's scalar bound {:g}", r.client, i,
                               r.scalars[i], o_.max_abs_scalar);
    }
    return Status::Ok();
  }

  Status AggregateReplies(const RoundPlan& plan, const std::vector<ClientReply>& replies,
                          AggregatedRound* out) override {
    const size_t kp = static_cast<size_t>(steps_) * static_cast<size_t>(perturbations_);
    // The mean in double, over the replies in client-id order, rounded to
    // f32: what the broadcast carries and every participant applies.
    std::vector<double> sum(kp, 0.0);
    for (const auto& r : replies) {
      double client_sum = 0.0;
      for (size_t i = 0; i < kp; ++i) {
        sum[i] += static_cast<double>(r.scalars[i]);
        client_sum += static_cast<double>(r.scalars[i]);
      }
      out->client_values.push_back(client_sum / static_cast<double>(kp));
    }
    for (int k = 0; k < steps_; ++k)
      for (int j = 0; j < perturbations_; ++j) {
        const size_t i = static_cast<size_t>(k) * static_cast<size_t>(perturbations_) + static_cast<size_t>(j);
        const float mean = static_cast<float>(sum[i] / static_cast<double>(replies.size()));
        out->updates.push_back(ZUpdate{DeComFlDirectionSeed(o_.seed, plan.round, k, j),
                                       DeComFlCoefficient(o_.lr, mean, perturbations_), 1.0f});
      }
    // Up: K x P f32 per client; down: the K x P f32 means (the seeds follow
    // from run and round).
    out->traffic = Traffic{32ull * kp, 32ull * kp};
    return Status::Ok();
  }

 private:
  int perturbations_, steps_, sampled_;
};

}  // namespace

std::span<const AlgorithmOption> DeComFlOptions() {
  // The defaults are the authors' LLM runs (P = 5, K = 1, m = 2).
  static const AlgorithmOption table[] = {
      {kDeComFlPerturbations, "directions P per local step (P pairs of forwards)", 5, 1, 1024, true},
      {kDeComFlSteps, "local steps K per sampled client and round", 1, 1, 1000, true},
      {kDeComFlSampledClients, "clients m sampled per round (0: every available one)", 2, 0, 65536, true},
  };
  return table;
}

StrategyRegistration DeComFlStrategyRegistration() {
  return {kDeComFl, "K local steps on P shared directions each, K x P scalars up and down", /*networked=*/true,
          /*local_copy=*/true, DeComFlOptions(),
          [](const FedOptions& o, std::vector<int64_t> examples) -> std::unique_ptr<Strategy> {
            return std::make_unique<DeComFlStrategy>(o, std::move(examples));
          }};
}

}  // namespace seedtune
