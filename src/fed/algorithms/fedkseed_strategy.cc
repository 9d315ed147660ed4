// FedKSeed and FedKSeed-Pro (Qin et al.): sampled clients run tau local MeZO
// steps along seeds drawn from K candidates and upload (seed index, g) pairs;
// the server accumulates them weighted by data share and broadcasts the
// changed seeds' deltas. Pro draws the seeds from probabilities over the
// history of |g| per seed, which the ledger keeps as each round's aux bytes.
#include <algorithm>
#include <cmath>

#include "core/little_endian.h"
#include "fed/algorithms/fedkseed.h"
#include "fed/messages.h"
#include "fed/strategy.h"
#include "zo/update.h"

namespace seedtune {

namespace {

class FedKSeedStrategy final : public Strategy {
 public:
  FedKSeedStrategy(const FedOptions& o, std::vector<int64_t> examples)
      : Strategy(o, std::move(examples)), num_seeds_(FedKSeedNumSeeds(o_)),
        local_steps_(FedKSeedLocalSteps(o_)),
        candidates_(FedKSeedCandidates(o.seed, num_seeds_)) {
    abs_sum_.assign(static_cast<size_t>(num_seeds_), 0.0);
    count_.assign(static_cast<size_t>(num_seeds_), 1);  // history starts at [0]
  }

  const std::vector<uint64_t>& candidates() const override { return candidates_; }

  RoundPlan ConfigureRound(int64_t round, std::span<const int> available) const override {
    // Sampled without replacement by a permutation seeded with (run, round);
    // with every client available this is the simulation's sample.
    const int m = std::max(1, static_cast<int>(FedKSeedClientFraction(o_) * num_clients()));
    RoundPlan plan = PlanSampledClients(round, available, m, StepSeed(o_.seed, static_cast<uint64_t>(round), 0x5a3u));
    if (pro()) plan.seed_probabilities = ProProbabilities(abs_sum_, count_);
    return plan;
  }

  Status Restore(const std::string& aux) override {
    if (!pro()) return Strategy::Restore(aux);
    if (aux.size() < 4) return DataLoss("FedKSeed-Pro round state truncated ({} bytes)", aux.size());
    const uint32_t n = GetU32(aux, 0);
    size_t at = 4;
    std::vector<std::vector<std::pair<uint16_t, float>>> uploads;
    for (uint32_t i = 0; i < n; ++i) {
      if (aux.size() - at < 8) return DataLoss("FedKSeed-Pro round state truncated in reply {}", i);
      const uint32_t bytes = GetU32(aux, at + 4);
      at += 8;
      if (aux.size() - at < bytes) return DataLoss("FedKSeed-Pro round state truncated in reply {}", i);
      ASSIGN_OR_RETURN(auto pairs, DecodeSeedScalars(aux.substr(at, bytes), num_seeds_));
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

  // A client whose every local step was skipped (non-finite losses) sends no
  // pairs and has measured nothing.
  bool ReplyHasLoss(const ClientReply& r) const override { return !r.pairs.empty(); }

 protected:
  // The local steps take one example each.
  Status CheckShards() const override { return Status::Ok(); }

  Status CheckReply(const ClientReply& r) const override {
    if (r.pairs.size() > static_cast<size_t>(local_steps_))
      return InvalidArgument("client {}: {} (seed, scalar) pairs for tau = {}", r.client, r.pairs.size(), local_steps_);
    for (size_t i = 0; i < r.pairs.size(); ++i) {
      if (r.pairs[i].first >= num_seeds_)
        return InvalidArgument("client {}: pair {} has seed index {} >= K = {}", r.client, i, r.pairs[i].first,
                               num_seeds_);
      if (!std::isfinite(r.pairs[i].second))
        return InvalidArgument("client {}: pair {} has a non-finite scalar", r.client, i);
      if (std::fabs(r.pairs[i].second) > o_.max_abs_scalar)
        return InvalidArgument("client {}: pair {} has scalar {:g}, over the run's scalar bound {:g}", r.client, i,
                               r.pairs[i].second, o_.max_abs_scalar);
    }
    return Status::Ok();
  }

  Status AggregateReplies(const RoundPlan& plan, const std::vector<ClientReply>& replies,
                          AggregatedRound* out) override {
    const uint64_t n = replies.size();
    // Server accumulators (Qin et al.): each reply's scalars weighted by the
    // client's share of the replying clients' data.
    int64_t examples = 0;
    for (const auto& r : replies) {
      if (r.client < 0 || r.client >= num_clients())
        return InvalidArgument("round {}: unknown client {}", plan.round, r.client);
      examples += examples_[static_cast<size_t>(r.client)];
    }
    std::vector<double> delta(static_cast<size_t>(num_seeds_), 0.0);
    std::vector<char> changed(static_cast<size_t>(num_seeds_), 0);
    for (const auto& r : replies) {
      const double wc = static_cast<double>(examples_[static_cast<size_t>(r.client)]) / static_cast<double>(examples);
      for (const auto& [j, g] : r.pairs) {
        delta[j] += wc * static_cast<double>(g);
        changed[j] = 1;
      }
      out->client_values.push_back(static_cast<double>(r.pairs.size()));
      out->traffic.up_bits = std::max<uint64_t>(out->traffic.up_bits, 8ull * EncodeSeedScalars(r.pairs).size());
    }
    if (pro()) {
      // aux: u32 n_replies, then per reply u32 client, u32 bytes, its upload.
      PutU32(&out->aux, static_cast<uint32_t>(n));
      for (const auto& r : replies) {
        const std::string up = EncodeSeedScalars(r.pairs);
        PutU32(&out->aux, static_cast<uint32_t>(r.client));
        PutU32(&out->aux, static_cast<uint32_t>(up.size()));
        out->aux += up;
      }
      RETURN_IF_ERROR(Restore(out->aux));
    }
    // The round's list is what the broadcast decodes to, so every
    // participant applies exactly the float deltas that travel.
    out->broadcast = EncodeRoundDeltas(delta, changed);
    ASSIGN_OR_RETURN(auto deltas, DecodeRoundDeltas(out->broadcast, num_seeds_));
    for (const auto& [j, d] : deltas) out->updates.push_back(ZUpdate{candidates_[j], -o_.lr * d, 1.0f});
    // Down: the broadcast, plus the K probabilities (f32) for Pro.
    out->traffic.down_bits =
        8ull * out->broadcast.size() + (pro() ? 32ull * static_cast<uint64_t>(num_seeds_) : 0);
    return Status::Ok();
  }

 private:
  bool pro() const { return o_.algo == FedAlgorithm::kFedKSeedPro; }

  int num_seeds_;    // K
  int local_steps_;  // tau
  std::vector<uint64_t> candidates_;
  // Pro: per seed, sum of |clip(g, -1000, 1000)| and count over every g
  // reported (the paper's code starts each history at [0]).
  std::vector<double> abs_sum_;
  std::vector<int64_t> count_;
};

}  // namespace

std::span<const AlgorithmOption> FedKSeedOptions() {
  // The paper's K = 4096, tau = 200, 5% of the clients per round.
  static const AlgorithmOption table[] = {
      {kFedKSeedNumSeeds, "candidate seeds K (u16 indices)", 4096, 1, 65536, true},
      {kFedKSeedLocalSteps, "local MeZO steps tau (batch 1) per sampled client", 200, 1, 1 << 20, true},
      {kFedKSeedClientFraction, "clients sampled per round (at least one)", 0.05, 0, 1, false, /*min_exclusive=*/true},
  };
  return table;
}

std::unique_ptr<Strategy> MakeFedKSeedStrategy(const FedOptions& o, std::vector<int64_t> examples) {
  return std::make_unique<FedKSeedStrategy>(o, std::move(examples));
}

}  // namespace seedtune
