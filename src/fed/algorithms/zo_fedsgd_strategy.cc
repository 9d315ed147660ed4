// ZO-FedSGD: each client evaluates its own direction StepSeed(run, t, c + 1)
// at the shared model and sends g; the scalar rule (mean, median, trimmed)
// weights the replies.
#include "fed/aggregate.h"
#include "fed/strategy.h"
#include "zo/update.h"

namespace seedtune {

namespace {

class ZoFedSgdStrategy final : public Strategy {
 public:
  ZoFedSgdStrategy(const FedOptions& o, std::vector<int64_t> examples) : Strategy(o, std::move(examples)) {}

  RoundPlan ConfigureRound(int64_t round, std::span<const int> available) const override {
    return PlanEveryAvailableClient(round, available);
  }

 protected:
  Status CheckReply(const ClientReply& r) const override { return CheckReplyScalar(r); }
  Status AggregateReplies(const RoundPlan& plan, const std::vector<ClientReply>& replies,
                          AggregatedRound* out) override {
    for (const auto& r : replies) out->client_values.push_back(r.scalar);
    const auto w = ScalarWeights(out->client_values, o_.rule, o_.trim_fraction);
    for (size_t i = 0; i < replies.size(); ++i)
      if (w[i] != 0.0)
        out->updates.push_back(ZUpdate{ZoFedSgdSeed(o_.seed, plan.round, replies[i].client),
                                       static_cast<float>(-o_.lr * w[i] * out->client_values[i]), 1.0f});
    // Up: the f32 scalar only (every participant derives the client's seed,
    // StepSeed(run, t, c + 1)); down: every contributor's scalar (the
    // record's participant list says whose; the rule's weights follow from
    // the scalars).
    out->traffic = Traffic{32, 32ull * replies.size()};
    return Status::Ok();
  }
};

}  // namespace

std::unique_ptr<Strategy> MakeZoFedSgdStrategy(const FedOptions& o, std::vector<int64_t> examples) {
  return std::make_unique<ZoFedSgdStrategy>(o, std::move(examples));
}

}  // namespace seedtune
