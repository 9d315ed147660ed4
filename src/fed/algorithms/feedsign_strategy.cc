// FeedSign (1 bit up, 1 bit down): every client evaluates the step's shared
// direction and sends sign(g); the update is -eta * majority vote along it.
#include "fed/aggregate.h"
#include "fed/strategy.h"
#include "zo/update.h"

namespace seedtune {

namespace {

class FeedSignStrategy final : public Strategy {
 public:
  FeedSignStrategy(const FedOptions& o, std::vector<int64_t> examples) : Strategy(o, std::move(examples)) {}

  RoundPlan ConfigureRound(int64_t round, std::span<const int> available) const override {
    return PlanEveryAvailableClient(round, available);
  }

 protected:
  Status CheckReply(const ClientReply& r) const override {
    if (r.sign != 1 && r.sign != -1) return InvalidArgument("client {}: sign must be +1 or -1, not {}", r.client, r.sign);
    return Status::Ok();
  }
  Status AggregateReplies(const RoundPlan& plan, const std::vector<ClientReply>& replies,
                          AggregatedRound* out) override {
    std::vector<int> signs;
    for (const auto& r : replies) {
      signs.push_back(r.sign);
      out->client_values.push_back(r.sign);
    }
    out->vote = MajorityVote(signs, plan.step_seed);
    out->updates.push_back(ZUpdate{plan.step_seed, static_cast<float>(-o_.lr * out->vote), 1.0f});
    out->traffic = Traffic{1, 1};  // one sign up, one vote down
    return Status::Ok();
  }
};

}  // namespace

std::unique_ptr<Strategy> MakeFeedSignStrategy(const FedOptions& o, std::vector<int64_t> examples) {
  return std::make_unique<FeedSignStrategy>(o, std::move(examples));
}

}  // namespace seedtune
