// MeZO as the one-client case of the federated engine: the client takes
// train's step (one SPSA pair along StepSeed(run, t) on train's minibatch)
// and reports g; the update list is train's (MezoStepUpdates).
#include "fed/strategy.h"
#include "zo/update.h"

namespace seedtune {

namespace {

class MezoStrategy final : public Strategy {
 public:
  MezoStrategy(const FedOptions& o, std::vector<int64_t> examples) : Strategy(o, std::move(examples)) {}

  RoundPlan ConfigureRound(int64_t round, std::span<const int> available) const override {
    return PlanEveryAvailableClient(round, available);
  }

 protected:
  Status CheckShards() const override {
    if (examples_.size() != 1)
      return InvalidArgument("mezo is centralized: one client holding all data, not {}", examples_.size());
    return Strategy::CheckShards();
  }
  Status CheckReply(const ClientReply& r) const override { return CheckReplyScalar(r); }
  Status AggregateReplies(const RoundPlan& plan, const std::vector<ClientReply>& replies,
                          AggregatedRound* out) override {
    // train's step list (zo/update.h), one direction, no weight decay.
    out->client_values.push_back(replies[0].scalar);
    const double g = replies[0].scalar;
    out->updates = MezoStepUpdates(std::span<const uint64_t>(&plan.step_seed, 1), std::span<const double>(&g, 1), o_.lr,
                                   0.0f);
    return Status::Ok();
  }
};

}  // namespace

std::unique_ptr<Strategy> MakeMezoStrategy(const FedOptions& o, std::vector<int64_t> examples) {
  return std::make_unique<MezoStrategy>(o, std::move(examples));
}

}  // namespace seedtune
