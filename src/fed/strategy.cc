#include "fed/strategy.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/little_endian.h"
#include "data/sampling.h"
#include "fed/algorithms/fedkseed.h"
#include "fed/algorithms/strategies.h"
#include "fed/messages.h"
#include "ledger/ledger.h"

namespace seedtune {

StatusOr<FedAlgorithm> ParseFedAlgorithm(const std::string& name) {
  std::string names;
  for (const StrategyRegistration& r : RegisteredStrategies()) {
    if (name == r.algo.name()) return r.algo;
    names += names.empty() ? "" : ", ";
    names += r.algo.name();
  }
  return InvalidArgument("unknown algorithm '{}' ({})", name, names);
}

std::span<const AlgorithmOption> AlgorithmOptions(FedAlgorithm algo) {
  const StrategyRegistration* r = FindStrategyRegistration(algo);
  return r == nullptr ? std::span<const AlgorithmOption>() : r->options;
}

bool AlgorithmOption::Admits(double x) const {
  return std::isfinite(x) && x <= max && (min_exclusive ? x > min : x >= min) && (!integer || x == std::floor(x));
}

std::string AlgorithmOption::RangeText() const {
  return fmt::format("{} in {}{:.10g}, {:.10g}]", integer ? "an integer" : "a number", min_exclusive ? "(" : "[", min,
                     max);
}

FedOptions WithDefaultParams(FedOptions o) {
  for (const AlgorithmOption& opt : AlgorithmOptions(o.algo)) o.params.emplace(opt.name, opt.default_value);
  return o;
}

double AlgorithmParam(const FedOptions& o, const char* name) {
  auto it = o.params.find(name);
  if (it != o.params.end()) return it->second;
  for (const AlgorithmOption& opt : AlgorithmOptions(o.algo))
    if (std::strcmp(opt.name, name) == 0) return opt.default_value;
  return 0.0;  // not declared: ValidateFedOptions refuses such a run first
}

double RandomizedResponseFlipProbability(double epsilon) { return 1.0 / (1.0 + std::exp(epsilon)); }

int RandomizedResponse(int sign, double epsilon, uint64_t draw_seed) {
  PortableRng rng(draw_seed);
  const double u = static_cast<double>(rng.Next() >> 11) * 0x1.0p-53;
  return u < RandomizedResponseFlipProbability(epsilon) ? -sign : sign;
}

Status ValidateFedOptions(const FedOptions& o) {
  if (!(o.dp_epsilon >= 0.0) || !std::isfinite(o.dp_epsilon))
    return InvalidArgument("the DP epsilon must be a finite number >= 0, not {}", o.dp_epsilon);
  if (o.dp_epsilon > 0.0 && o.algo != FedAlgorithm::kFeedSign)
    return InvalidArgument("the DP variant (randomized response on the sign) is FeedSign's; {} has none",
                           FedAlgorithmName(o.algo));
  // The scalar rules weight ZO-FedSGD's replies; any other algorithm would
  // silently ignore one.
  if (o.rule != ScalarRule::kMean && o.algo != FedAlgorithm::kZoFedSgd)
    return InvalidArgument("the aggregation rule {} applies to zo-fedsgd only ({} aggregates {})", ScalarRuleName(o.rule),
                           FedAlgorithmName(o.algo),
                           o.algo == FedAlgorithm::kFeedSign ? "by majority vote" : "by its own weighted mean");
  if (FindStrategyRegistration(o.algo) == nullptr)
    return InvalidArgument("no algorithm '{}' is registered", FedAlgorithmName(o.algo));
  const auto table = AlgorithmOptions(o.algo);
  for (const auto& param : o.params) {
    // Named copies: a lambda may not capture a structured binding before C++20 in clang < 16.
    const std::string& name = param.first;
    const double value = param.second;
    auto opt = std::find_if(table.begin(), table.end(), [&](const AlgorithmOption& a) { return name == a.name; });
    if (opt == table.end()) return InvalidArgument("{} has no option '{}'", FedAlgorithmName(o.algo), name);
    if (!opt->Admits(value))
      return InvalidArgument("{} {} must be {}, not {:g}", FedAlgorithmName(o.algo), name, opt->RangeText(), value);
  }
  if (!(o.eps > 0.0f) || !std::isfinite(o.eps)) return InvalidArgument("eps must be positive, not {}", o.eps);
  if (!std::isfinite(o.lr)) return InvalidArgument("learning rate must be finite");
  if (o.batch_size <= 0) return InvalidArgument("batch size must be positive, not {}", o.batch_size);
  if (!(o.max_abs_scalar > 0.0) || !std::isfinite(o.max_abs_scalar))
    return InvalidArgument("the scalar bound must be a finite number > 0, not {}", o.max_abs_scalar);
  // The largest coefficient a round can then publish (FedKSeed: tau pairs on
  // one seed) must pass the ledger's own bound, or the run's ledger would not
  // read back.
  const double steps = IsFedKSeed(o.algo) ? std::max(FedKSeedLocalSteps(o), 1) : 1;
  const double largest = std::fabs(static_cast<double>(o.lr)) * steps * o.max_abs_scalar;
  if (o.algo != FedAlgorithm::kFeedSign && largest > kDefaultMaxAbsAlpha)
    return InvalidArgument("lr {} x {} steps x scalar bound {:g} admits update coefficients up to {:g}, over the "
                           "ledger's bound {:g}: lower the scalar bound",
                           o.lr, steps, o.max_abs_scalar, largest, kDefaultMaxAbsAlpha);
  return Status::Ok();
}

std::vector<uint64_t> FedKSeedCandidates(uint64_t run_seed, int k) {
  std::vector<uint64_t> c;
  c.reserve(static_cast<size_t>(std::max(k, 0)));
  for (int j = 0; j < k; ++j) c.push_back(StepSeed(run_seed, static_cast<uint64_t>(j), 0x5eedu));
  return c;
}

uint64_t ZoFedSgdSeed(uint64_t run_seed, int64_t round, int client) {
  return StepSeed(run_seed, static_cast<uint64_t>(round), static_cast<uint32_t>(client + 1));
}

std::vector<float> ProProbabilities(std::span<const double> abs_sum, std::span<const int64_t> count) {
  const size_t k = abs_sum.size();
  std::vector<double> a(k);
  for (size_t j = 0; j < k; ++j) a[j] = abs_sum[j] / static_cast<double>(count[j]);
  const double lo = *std::min_element(a.begin(), a.end()), hi = *std::max_element(a.begin(), a.end());
  double sum = 0.0;
  for (size_t j = 0; j < k; ++j) sum += a[j] = std::exp((a[j] - lo) / (hi - lo + 1e-10));
  std::vector<float> p(k);
  for (size_t j = 0; j < k; ++j) p[j] = static_cast<float>(a[j] / sum);  // f32 is what travels
  return p;
}

StatusOr<std::unique_ptr<Strategy>> Strategy::Create(const FedOptions& options, std::vector<int64_t> client_examples) {
  RETURN_IF_ERROR(ValidateFedOptions(options));
  if (client_examples.empty()) return InvalidArgument("a federated run needs at least one client");
  for (size_t k = 0; k < client_examples.size(); ++k)
    if (client_examples[k] <= 0) return InvalidArgument("client {} has no training examples", k);
  const StrategyRegistration* r = FindStrategyRegistration(options.algo);
  if (r == nullptr) return Unimplemented("no strategy is registered for {}", FedAlgorithmName(options.algo));
  std::unique_ptr<Strategy> s = r->make(WithDefaultParams(options), std::move(client_examples));
  RETURN_IF_ERROR(s->CheckShards());
  return s;
}

bool Strategy::ReplyHasLoss(const ClientReply&) const { return true; }
bool Strategy::TakesScalarList() const { return false; }

const std::vector<uint64_t>& Strategy::candidates() const {
  static const std::vector<uint64_t> none;
  return none;
}

Status Strategy::CheckShards() const {
  for (size_t k = 0; k < examples_.size(); ++k)
    if (examples_[k] < o_.batch_size)
      return InvalidArgument("batch {} exceeds client {}'s {} training examples", o_.batch_size, k, examples_[k]);
  return Status::Ok();
}

RoundPlan Strategy::PlanSampledClients(int64_t round, std::span<const int> available, int m,
                                       uint64_t sample_seed) const {
  RoundPlan plan;
  plan.round = round;
  const int n = static_cast<int>(available.size());
  const auto perm = SeededPermutation(n, sample_seed);
  for (int i = 0; i < std::min(n, m); ++i) plan.participants.push_back(available[static_cast<size_t>(perm[i])]);
  std::sort(plan.participants.begin(), plan.participants.end());
  return plan;
}

RoundPlan Strategy::PlanEveryAvailableClient(int64_t round, std::span<const int> available) const {
  RoundPlan plan;
  plan.round = round;
  plan.participants.assign(available.begin(), available.end());
  plan.step_seed = StepSeed(o_.seed, static_cast<uint64_t>(round));
  return plan;
}

Status Strategy::CheckReplyScalar(const ClientReply& r) const {
  if (!std::isfinite(r.scalar)) return InvalidArgument("client {}: non-finite projected gradient", r.client);
  if (std::fabs(r.scalar) > o_.max_abs_scalar)
    return InvalidArgument("client {}: projected gradient {:g} exceeds the run's scalar bound {:g}", r.client, r.scalar,
                           o_.max_abs_scalar);
  return Status::Ok();
}

Status Strategy::ValidateReply(const RoundPlan& plan, const ClientReply& r) const {
  if (r.round != plan.round) return InvalidArgument("client {}: reply for round {} in round {}", r.client, r.round, plan.round);
  if (!std::binary_search(plan.participants.begin(), plan.participants.end(), r.client))
    return InvalidArgument("client {} is not a participant of round {}", r.client, plan.round);
  if (!std::isfinite(r.loss)) return InvalidArgument("client {}: non-finite loss", r.client);
  if (!r.scalars.empty() && !TakesScalarList())
    return InvalidArgument("client {}: a list of scalars in a {} reply", r.client, FedAlgorithmName(o_.algo));
  return CheckReply(r);
}

StatusOr<AggregatedRound> Strategy::Aggregate(const RoundPlan& plan, std::vector<ClientReply> replies) {
  if (replies.empty()) return FailedPrecondition("round {}: no replies to aggregate", plan.round);
  std::sort(replies.begin(), replies.end(), [](const ClientReply& a, const ClientReply& b) { return a.client < b.client; });
  for (size_t i = 0; i < replies.size(); ++i) {
    RETURN_IF_ERROR(ValidateReply(plan, replies[i]));
    if (i > 0 && replies[i].client == replies[i - 1].client)
      return InvalidArgument("round {}: two replies from client {}", plan.round, replies[i].client);
  }
  AggregatedRound out;
  out.round = plan.round;
  for (const auto& r : replies) out.contributors.push_back(r.client);
  RETURN_IF_ERROR(AggregateReplies(plan, replies, &out));
  return out;
}

Status Strategy::Restore(const std::string& aux) {
  if (!aux.empty())
    return InvalidArgument("{} keeps no per-round state, but the record has {} aux bytes", FedAlgorithmName(o_.algo),
                           aux.size());
  return Status::Ok();
}

}  // namespace seedtune
