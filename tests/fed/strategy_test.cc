// The coordinator's strategy on its own: plans, reply validation, aggregation
// independent of arrival order, and FedKSeed-Pro's state rebuilt from the
// ledger's aux bytes.
#include "fed/strategy.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "fed/messages.h"

namespace seedtune {
namespace {

FedOptions KSeedOptions(FedAlgorithm algo) {
  FedOptions o;
  o.algo = algo;
  if (IsFedKSeed(algo)) o.params = {{"K", 64}, {"local-steps", 20}, {"client-fraction", 0.5}};
  o.lr = 1e-3f;
  o.seed = 5;
  return o;
}

ClientReply RandomPairsReply(const RoundPlan& plan, int client, std::mt19937& rng, int k, int n) {
  ClientReply r;
  r.client = client;
  r.round = plan.round;
  r.loss = 1.0;
  std::uniform_int_distribution<int> idx(0, k - 1);
  std::normal_distribution<float> g(0.0f, 30.0f);
  for (int i = 0; i < n; ++i) r.pairs.emplace_back(static_cast<uint16_t>(idx(rng)), g(rng));
  return r;
}

TEST(StrategyTest, FedKSeedSamplesAFractionOfTheAvailableClients) {
  auto s = Strategy::Create(KSeedOptions(FedAlgorithm::kFedKSeed), std::vector<int64_t>(10, 7));
  ASSERT_TRUE(s.ok());
  const std::vector<int> all = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
  const RoundPlan p = (*s)->ConfigureRound(3, all);
  EXPECT_EQ(p.participants.size(), 5u);
  EXPECT_TRUE(std::is_sorted(p.participants.begin(), p.participants.end()));
  EXPECT_EQ((*s)->ConfigureRound(3, all).participants, p.participants) << "seeded by (run, round)";
  const std::vector<int> few = {2, 8};
  const RoundPlan q = (*s)->ConfigureRound(3, few);
  EXPECT_EQ(q.participants, few) << "never more than are alive";
  EXPECT_TRUE(p.seed_probabilities.empty()) << "plain FedKSeed samples seeds uniformly";
}

TEST(StrategyTest, ValidateReplyNamesWhatIsWrong) {
  auto s = Strategy::Create(KSeedOptions(FedAlgorithm::kFedKSeed), std::vector<int64_t>(4, 7));
  ASSERT_TRUE(s.ok());
  const std::vector<int> all = {0, 1, 2, 3};
  const RoundPlan p = (*s)->ConfigureRound(1, all);
  std::mt19937 rng(1);
  ClientReply good = RandomPairsReply(p, p.participants[0], rng, 64, 20);
  EXPECT_TRUE((*s)->ValidateReply(p, good).ok());
  ClientReply bad = good;
  bad.pairs[3].first = 64;
  EXPECT_NE((*s)->ValidateReply(p, bad).message().find("seed index 64"), std::string::npos);
  bad = good;
  bad.pairs[0].second = NAN;
  EXPECT_NE((*s)->ValidateReply(p, bad).message().find("non-finite"), std::string::npos);
  bad = good;
  bad.round = 2;
  EXPECT_FALSE((*s)->ValidateReply(p, bad).ok());
  bad = good;
  bad.pairs.resize(21, {1, 1.0f});
  EXPECT_FALSE((*s)->ValidateReply(p, bad).ok()) << "more pairs than tau";
  int outsider = 0;
  while (std::binary_search(p.participants.begin(), p.participants.end(), outsider)) ++outsider;
  bad = good;
  bad.client = outsider;
  EXPECT_NE((*s)->ValidateReply(p, bad).message().find("not a participant"), std::string::npos);
  EXPECT_FALSE((*s)->Aggregate(p, {good, good}).ok()) << "duplicate replies";

  FedOptions fs;
  fs.algo = FedAlgorithm::kFeedSign;
  fs.batch_size = 4;
  auto sign = Strategy::Create(fs, std::vector<int64_t>(3, 7));
  ASSERT_TRUE(sign.ok());
  const std::vector<int> three = {0, 1, 2};
  const RoundPlan sp = (*sign)->ConfigureRound(1, three);
  ClientReply vote;
  vote.client = 1;
  vote.round = 1;
  vote.loss = 0.5;
  vote.sign = 0;
  EXPECT_FALSE((*sign)->ValidateReply(sp, vote).ok()) << "a sign is +1 or -1";
}

// An insider's reply is bounded by the run config: one client's huge but
// finite scalars are refused before they reach the aggregate, which the
// honest replies alone then make finite.
TEST(StrategyTest, ScalarsBeyondTheRunsBoundAreRefused) {
  auto s = Strategy::Create(KSeedOptions(FedAlgorithm::kFedKSeed), std::vector<int64_t>(3, 7));
  ASSERT_TRUE(s.ok());
  const RoundPlan p = (*s)->ConfigureRound(1, std::vector<int>{0, 1, 2});
  ASSERT_FALSE(p.participants.empty());
  ClientReply huge;
  huge.client = p.participants[0];
  huge.round = 1;
  huge.loss = 1.0;
  huge.pairs = {{0, 3.4e38f}, {0, 3.4e38f}, {0, 3.4e38f}, {0, 3.4e38f}, {0, 3.4e38f}};
  Status refused = (*s)->ValidateReply(p, huge);
  EXPECT_NE(refused.message().find("over the run's scalar bound 10000"), std::string::npos) << refused.ToString();
  huge.pairs = {{1, 10001.0f}};
  EXPECT_FALSE((*s)->ValidateReply(p, huge).ok()) << "just over the bound";
  huge.pairs = {{1, -10000.0f}};
  EXPECT_TRUE((*s)->ValidateReply(p, huge).ok()) << "the bound itself is allowed";

  FedOptions zo;
  zo.algo = FedAlgorithm::kZoFedSgd;
  zo.batch_size = 2;
  zo.max_abs_scalar = 50.0;
  auto z = Strategy::Create(zo, std::vector<int64_t>(2, 4));
  ASSERT_TRUE(z.ok()) << z.status().ToString();
  const RoundPlan zp = (*z)->ConfigureRound(1, std::vector<int>{0, 1});
  ClientReply scalar;
  scalar.client = 0;
  scalar.round = 1;
  scalar.loss = 1.0;
  scalar.scalar = -50.5;
  EXPECT_NE((*z)->ValidateReply(zp, scalar).message().find("exceeds the run's scalar bound 50"), std::string::npos);
  scalar.scalar = 49.0;
  EXPECT_TRUE((*z)->ValidateReply(zp, scalar).ok());
}

TEST(StrategyTest, OptionsThatCouldOverflowTheLedgerOrTheShardsAreRefused) {
  FedOptions o = KSeedOptions(FedAlgorithm::kFedKSeed);
  o.lr = 1.0f;
  o.params["local-steps"] = 5;  // 1 x 5 x 1e4 = 5e4 > the ledger's 1e4
  auto big = Strategy::Create(o, std::vector<int64_t>(2, 7));
  ASSERT_FALSE(big.ok());
  EXPECT_NE(big.status().message().find("over the ledger's bound"), std::string::npos) << big.status().ToString();
  o.max_abs_scalar = 1000.0;
  EXPECT_TRUE(Strategy::Create(o, std::vector<int64_t>(2, 7)).ok());
  for (double bad : {0.0, -1.0, std::nan(""), static_cast<double>(INFINITY)}) {
    o.max_abs_scalar = bad;
    EXPECT_FALSE(Strategy::Create(o, std::vector<int64_t>(2, 7)).ok()) << bad;
  }

  FedOptions fs;
  fs.algo = FedAlgorithm::kFeedSign;
  fs.batch_size = 16;
  auto small = Strategy::Create(fs, {16, 9, 30});
  ASSERT_FALSE(small.ok());
  EXPECT_EQ(small.status().message(), "batch 16 exceeds client 1's 9 training examples");
  fs.batch_size = 9;
  EXPECT_TRUE(Strategy::Create(fs, {16, 9, 30}).ok());
}

// --aggregate weights ZO-FedSGD's replies; FedKSeed and FeedSign ignored it
// silently.
TEST(StrategyTest, AScalarRuleIsRefusedWhereItWouldBeIgnored) {
  FedOptions o = KSeedOptions(FedAlgorithm::kFedKSeed);
  o.rule = ScalarRule::kMedian;
  auto k = Strategy::Create(o, std::vector<int64_t>(2, 7));
  ASSERT_FALSE(k.ok());
  EXPECT_EQ(k.status().message(), "the aggregation rule median applies to zo-fedsgd only (fedkseed aggregates by its "
                                  "own weighted mean)");
  o.algo = FedAlgorithm::kZoFedSgd;
  o.params.clear();  // FedKSeed's K, tau and fraction are not ZO-FedSGD's
  o.batch_size = 4;
  auto zo = Strategy::Create(o, std::vector<int64_t>(2, 7));
  EXPECT_TRUE(zo.ok()) << "ZO-FedSGD takes it: " << zo.status().ToString();
}

TEST(StrategyTest, AggregateIsIndependentOfArrivalOrder) {
  for (FedAlgorithm algo : {FedAlgorithm::kFedKSeed, FedAlgorithm::kFedKSeedPro}) {
    auto a = Strategy::Create(KSeedOptions(algo), {5, 9, 13, 2, 40, 8});
    auto b = Strategy::Create(KSeedOptions(algo), {5, 9, 13, 2, 40, 8});
    ASSERT_TRUE(a.ok() && b.ok());
    const std::vector<int> all = {0, 1, 2, 3, 4, 5};
    std::mt19937 rng(7);
    for (int64_t t = 1; t <= 3; ++t) {
      const RoundPlan p = (*a)->ConfigureRound(t, all);
      EXPECT_EQ(p.seed_probabilities, (*b)->ConfigureRound(t, all).seed_probabilities);
      std::vector<ClientReply> replies;
      for (int c : p.participants) replies.push_back(RandomPairsReply(p, c, rng, 64, 20));
      std::vector<ClientReply> shuffled(replies.rbegin(), replies.rend());
      auto ra = (*a)->Aggregate(p, replies);
      auto rb = (*b)->Aggregate(p, shuffled);
      ASSERT_TRUE(ra.ok() && rb.ok());
      ASSERT_EQ(ra->updates.size(), rb->updates.size());
      for (size_t i = 0; i < ra->updates.size(); ++i) {
        EXPECT_EQ(ra->updates[i].seed, rb->updates[i].seed);
        EXPECT_EQ(ra->updates[i].alpha, rb->updates[i].alpha);
      }
      EXPECT_EQ(ra->aux, rb->aux);
      EXPECT_LE(ra->traffic.up_bits, 20u * 6u * 8u);
    }
  }
}

TEST(StrategyTest, ProStateIsRebuiltFromTheLedgerAux) {
  auto live = Strategy::Create(KSeedOptions(FedAlgorithm::kFedKSeedPro), std::vector<int64_t>(6, 10));
  ASSERT_TRUE(live.ok());
  const std::vector<int> all = {0, 1, 2, 3, 4, 5};
  std::mt19937 rng(11);
  std::vector<std::string> aux;
  for (int64_t t = 1; t <= 4; ++t) {
    const RoundPlan p = (*live)->ConfigureRound(t, all);
    std::vector<ClientReply> replies;
    for (int c : p.participants) replies.push_back(RandomPairsReply(p, c, rng, 64, 20));
    auto r = (*live)->Aggregate(p, replies);
    ASSERT_TRUE(r.ok());
    ASSERT_FALSE(r->aux.empty());
    aux.push_back(r->aux);
  }
  auto resumed = Strategy::Create(KSeedOptions(FedAlgorithm::kFedKSeedPro), std::vector<int64_t>(6, 10));
  ASSERT_TRUE(resumed.ok());
  for (const auto& x : aux) ASSERT_TRUE((*resumed)->Restore(x).ok());
  const auto p_live = (*live)->ConfigureRound(5, all).seed_probabilities;
  const auto p_resumed = (*resumed)->ConfigureRound(5, all).seed_probabilities;
  ASSERT_EQ(p_live.size(), 64u);
  EXPECT_EQ(p_live, p_resumed);
  const float pmax = *std::max_element(p_live.begin(), p_live.end());
  const float pmin = *std::min_element(p_live.begin(), p_live.end());
  EXPECT_GT(pmax, pmin) << "the history differentiates the seeds";

  // A fresh strategy (no history) samples uniformly-ish: different from the live one.
  auto fresh = Strategy::Create(KSeedOptions(FedAlgorithm::kFedKSeedPro), std::vector<int64_t>(6, 10));
  EXPECT_NE((*fresh)->ConfigureRound(5, all).seed_probabilities, p_live);
  // Corrupt aux is refused without touching the state.
  std::string torn = aux[0].substr(0, aux[0].size() - 3);
  EXPECT_FALSE((*fresh)->Restore(torn).ok());
  EXPECT_EQ((*fresh)->ConfigureRound(5, all).seed_probabilities,
            (*Strategy::Create(KSeedOptions(FedAlgorithm::kFedKSeedPro), std::vector<int64_t>(6, 10)))
                ->ConfigureRound(5, all)
                .seed_probabilities);
  auto plain = Strategy::Create(KSeedOptions(FedAlgorithm::kFedKSeed), std::vector<int64_t>(6, 10));
  EXPECT_FALSE((*plain)->Restore(aux[0]).ok()) << "FedKSeed keeps no per-round state";
}

TEST(StrategyTest, FeedSignDpFlipsSignsAtTheRandomizedResponseRate) {
  for (double eps : {0.5, 1.0, 3.0}) {
    const double q = RandomizedResponseFlipProbability(eps);
    EXPECT_NEAR(q, 1.0 / (1.0 + std::exp(eps)), 1e-15);
    int flips = 0;
    const int n = 40000;
    for (int i = 0; i < n; ++i) flips += RandomizedResponse(i % 2 ? 1 : -1, eps, StepSeed(9, i, 0xd1f0000u)) != (i % 2 ? 1 : -1);
    // 5 binomial standard errors
    EXPECT_NEAR(static_cast<double>(flips) / n, q, 5.0 * std::sqrt(q * (1 - q) / n)) << "eps " << eps;
  }
  EXPECT_EQ(RandomizedResponse(1, 2.0, 77), RandomizedResponse(1, 2.0, 77)) << "seeded";
  FedOptions o;
  o.algo = FedAlgorithm::kFeedSign;
  o.dp_epsilon = 1.0;
  EXPECT_TRUE(ValidateFedOptions(o).ok());
  o.dp_epsilon = -1.0;
  EXPECT_FALSE(ValidateFedOptions(o).ok());
  o.algo = FedAlgorithm::kZoFedSgd;
  o.dp_epsilon = 1.0;
  EXPECT_NE(ValidateFedOptions(o).message().find("FeedSign"), std::string::npos);
}

}  // namespace
}  // namespace seedtune
