#include "fed/strategy.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/little_endian.h"
#include "data/sampling.h"
#include "fed/messages.h"
#include "ledger/ledger.h"

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
  if (!(o.eps > 0.0f) || !std::isfinite(o.eps)) return InvalidArgument("eps must be positive, not {}", o.eps);
  if (!std::isfinite(o.lr)) return InvalidArgument("learning rate must be finite");
  if (o.batch_size <= 0) return InvalidArgument("batch size must be positive, not {}", o.batch_size);
  if (!(o.max_abs_scalar > 0.0) || !std::isfinite(o.max_abs_scalar))
    return InvalidArgument("the scalar bound must be a finite number > 0, not {}", o.max_abs_scalar);
  // The largest coefficient a round can then publish (FedKSeed: tau pairs on
  // one seed) must pass the ledger's own bound, or the run's ledger would not
  // read back.
  const double steps = IsFedKSeed(o.algo) ? std::max(o.local_steps, 1) : 1;
  const double largest = std::fabs(static_cast<double>(o.lr)) * steps * o.max_abs_scalar;
  if (o.algo != FedAlgorithm::kFeedSign && largest > kDefaultMaxAbsAlpha)
    return InvalidArgument("lr {} x {} steps x scalar bound {:g} admits update coefficients up to {:g}, over the "
                           "ledger's bound {:g}: lower the scalar bound",
                           o.lr, steps, o.max_abs_scalar, largest, kDefaultMaxAbsAlpha);
  if (IsFedKSeed(o.algo)) {
    if (o.num_seeds <= 0 || o.num_seeds > 65536)
      return InvalidArgument("FedKSeed needs 0 < K <= 65536 (u16 seed indices), not {}", o.num_seeds);
    if (o.local_steps <= 0) return InvalidArgument("FedKSeed needs tau > 0 local steps, not {}", o.local_steps);
    if (!(o.client_fraction > 0.0 && o.client_fraction <= 1.0))
      return InvalidArgument("client fraction must be in (0, 1], not {}", o.client_fraction);
  }
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
  // FedKSeed's local steps take one example each; the others draw a batch
  // from each client's shard, which must hold it.
  if (!IsFedKSeed(options.algo)) {
    for (size_t k = 0; k < client_examples.size(); ++k)
      if (client_examples[k] < options.batch_size)
        return InvalidArgument("batch {} exceeds client {}'s {} training examples", options.batch_size, k,
                               client_examples[k]);
  }
  if (options.algo == FedAlgorithm::kMezo && client_examples.size() != 1)
    return InvalidArgument("mezo is centralized: one client holding all data, not {}", client_examples.size());
  std::unique_ptr<Strategy> s(new Strategy(options));
  s->examples_ = std::move(client_examples);
  if (IsFedKSeed(options.algo)) {
    s->candidates_ = FedKSeedCandidates(options.seed, options.num_seeds);
    s->abs_sum_.assign(static_cast<size_t>(options.num_seeds), 0.0);
    s->count_.assign(static_cast<size_t>(options.num_seeds), 1);  // history starts at [0]
  }
  return s;
}

RoundPlan Strategy::ConfigureRound(int64_t round, std::span<const int> available) const {
  RoundPlan plan;
  plan.round = round;
  if (IsFedKSeed(o_.algo)) {
    // Sampled without replacement by a permutation seeded with (run, round);
    // with every client available this is the simulation's sample.
    const int n = static_cast<int>(available.size());
    const int total = num_clients();
    const int m = std::min(n, std::max(1, static_cast<int>(o_.client_fraction * total)));
    auto perm = SeededPermutation(n, StepSeed(o_.seed, static_cast<uint64_t>(round), 0x5a3u));
    for (int i = 0; i < m; ++i) plan.participants.push_back(available[static_cast<size_t>(perm[i])]);
    std::sort(plan.participants.begin(), plan.participants.end());
    if (o_.algo == FedAlgorithm::kFedKSeedPro) plan.seed_probabilities = ProProbabilities(abs_sum_, count_);
  } else {
    plan.participants.assign(available.begin(), available.end());
    plan.step_seed = StepSeed(o_.seed, static_cast<uint64_t>(round));
  }
  return plan;
}

Status Strategy::ValidateReply(const RoundPlan& plan, const ClientReply& r) const {
  if (r.round != plan.round) return InvalidArgument("client {}: reply for round {} in round {}", r.client, r.round, plan.round);
  if (!std::binary_search(plan.participants.begin(), plan.participants.end(), r.client))
    return InvalidArgument("client {} is not a participant of round {}", r.client, plan.round);
  if (!std::isfinite(r.loss)) return InvalidArgument("client {}: non-finite loss", r.client);
  switch (o_.algo) {
    case FedAlgorithm::kFeedSign:
      if (r.sign != 1 && r.sign != -1) return InvalidArgument("client {}: sign must be +1 or -1, not {}", r.client, r.sign);
      break;
    case FedAlgorithm::kMezo:
    case FedAlgorithm::kZoFedSgd:
      if (!std::isfinite(r.scalar)) return InvalidArgument("client {}: non-finite projected gradient", r.client);
      if (std::fabs(r.scalar) > o_.max_abs_scalar)
        return InvalidArgument("client {}: projected gradient {:g} exceeds the run's scalar bound {:g}", r.client,
                               r.scalar, o_.max_abs_scalar);
      break;
    case FedAlgorithm::kFedKSeed:
    case FedAlgorithm::kFedKSeedPro:
      if (r.pairs.size() > static_cast<size_t>(o_.local_steps))
        return InvalidArgument("client {}: {} (seed, scalar) pairs for tau = {}", r.client, r.pairs.size(), o_.local_steps);
      for (size_t i = 0; i < r.pairs.size(); ++i) {
        if (r.pairs[i].first >= o_.num_seeds)
          return InvalidArgument("client {}: pair {} has seed index {} >= K = {}", r.client, i, r.pairs[i].first,
                                 o_.num_seeds);
        if (!std::isfinite(r.pairs[i].second))
          return InvalidArgument("client {}: pair {} has a non-finite scalar", r.client, i);
        if (std::fabs(r.pairs[i].second) > o_.max_abs_scalar)
          return InvalidArgument("client {}: pair {} has scalar {:g}, over the run's scalar bound {:g}", r.client, i,
                                 r.pairs[i].second, o_.max_abs_scalar);
      }
      break;
  }
  return Status::Ok();
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
  const uint64_t n = replies.size();
  switch (o_.algo) {
    case FedAlgorithm::kMezo: {
      out.client_values.push_back(replies[0].scalar);
      out.updates.push_back(ZUpdate{plan.step_seed, static_cast<float>(-o_.lr * replies[0].scalar), 1.0f});
      break;
    }
    case FedAlgorithm::kFeedSign: {
      std::vector<int> signs;
      for (const auto& r : replies) {
        signs.push_back(r.sign);
        out.client_values.push_back(r.sign);
      }
      out.vote = MajorityVote(signs, plan.step_seed);
      out.updates.push_back(ZUpdate{plan.step_seed, static_cast<float>(-o_.lr * out.vote), 1.0f});
      out.traffic = Traffic{1, 1};  // one sign up, one vote down
      break;
    }
    case FedAlgorithm::kZoFedSgd: {
      for (const auto& r : replies) out.client_values.push_back(r.scalar);
      const auto w = ScalarWeights(out.client_values, o_.rule, o_.trim_fraction);
      for (size_t i = 0; i < replies.size(); ++i)
        if (w[i] != 0.0)
          out.updates.push_back(ZUpdate{ZoFedSgdSeed(o_.seed, plan.round, replies[i].client),
                                        static_cast<float>(-o_.lr * w[i] * out.client_values[i]), 1.0f});
      // Up: the f32 scalar only (every participant derives the client's seed,
      // StepSeed(run, t, c + 1)); down: every contributor's scalar (the
      // record's participant list says whose; the rule's weights follow from
      // the scalars).
      out.traffic = Traffic{32, 32ull * n};
      break;
    }
    case FedAlgorithm::kFedKSeed:
    case FedAlgorithm::kFedKSeedPro: {
      // Server accumulators (Qin et al.): each reply's scalars weighted by the
      // client's share of the replying clients' data.
      int64_t examples = 0;
      for (const auto& r : replies) {
        if (r.client < 0 || r.client >= num_clients())
          return InvalidArgument("round {}: unknown client {}", plan.round, r.client);
        examples += examples_[static_cast<size_t>(r.client)];
      }
      std::vector<double> delta(static_cast<size_t>(o_.num_seeds), 0.0);
      std::vector<char> changed(static_cast<size_t>(o_.num_seeds), 0);
      for (const auto& r : replies) {
        const double wc = static_cast<double>(examples_[static_cast<size_t>(r.client)]) / static_cast<double>(examples);
        for (const auto& [j, g] : r.pairs) {
          delta[j] += wc * static_cast<double>(g);
          changed[j] = 1;
        }
        out.client_values.push_back(static_cast<double>(r.pairs.size()));
        out.traffic.up_bits = std::max<uint64_t>(out.traffic.up_bits, 8ull * EncodeSeedScalars(r.pairs).size());
      }
      if (o_.algo == FedAlgorithm::kFedKSeedPro) {
        // aux: u32 n_replies, then per reply u32 client, u32 bytes, its upload.
        PutU32(&out.aux, static_cast<uint32_t>(n));
        for (const auto& r : replies) {
          const std::string up = EncodeSeedScalars(r.pairs);
          PutU32(&out.aux, static_cast<uint32_t>(r.client));
          PutU32(&out.aux, static_cast<uint32_t>(up.size()));
          out.aux += up;
        }
        RETURN_IF_ERROR(Restore(out.aux));
      }
      // The round's list is what the broadcast decodes to, so every
      // participant applies exactly the float deltas that travel.
      out.broadcast = EncodeRoundDeltas(delta, changed);
      ASSIGN_OR_RETURN(auto deltas, DecodeRoundDeltas(out.broadcast, o_.num_seeds));
      for (const auto& [j, d] : deltas) out.updates.push_back(ZUpdate{candidates_[j], -o_.lr * d, 1.0f});
      // Down: the broadcast, plus the K probabilities (f32) for Pro.
      out.traffic.down_bits = 8ull * out.broadcast.size() +
                              (o_.algo == FedAlgorithm::kFedKSeedPro ? 32ull * static_cast<uint64_t>(o_.num_seeds) : 0);
      break;
    }
  }
  return out;
}

Status Strategy::Restore(const std::string& aux) {
  if (o_.algo != FedAlgorithm::kFedKSeedPro) {
    if (!aux.empty()) return InvalidArgument("{} keeps no per-round state, but the record has {} aux bytes",
                                             FedAlgorithmName(o_.algo), aux.size());
    return Status::Ok();
  }
  if (aux.size() < 4) return DataLoss("FedKSeed-Pro round state truncated ({} bytes)", aux.size());
  const uint32_t n = GetU32(aux, 0);
  size_t at = 4;
  std::vector<std::vector<std::pair<uint16_t, float>>> uploads;
  for (uint32_t i = 0; i < n; ++i) {
    if (aux.size() - at < 8) return DataLoss("FedKSeed-Pro round state truncated in reply {}", i);
    const uint32_t bytes = GetU32(aux, at + 4);
    at += 8;
    if (aux.size() - at < bytes) return DataLoss("FedKSeed-Pro round state truncated in reply {}", i);
    ASSIGN_OR_RETURN(auto pairs, DecodeSeedScalars(aux.substr(at, bytes), o_.num_seeds));
    uploads.push_back(std::move(pairs));
    at += bytes;
  }
  if (at != aux.size()) return DataLoss("FedKSeed-Pro round state has {} trailing bytes", aux.size() - at);
  // Only after the whole blob decoded: fold it in (FedKSeed server.py clips to +-1000).
  for (const auto& pairs : uploads)
    for (const auto& [j, g] : pairs) {
      abs_sum_[j] += std::fabs(std::clamp(static_cast<double>(g), -1000.0, 1000.0));
      ++count_[j];
    }
  return Status::Ok();
}

}  // namespace seedtune
