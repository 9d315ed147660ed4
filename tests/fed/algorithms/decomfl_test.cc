// DeComFL through the algorithm seam: its plan, reply checks, update list and
// option table on their own, and on the real stories260K a one-client round
// that lands exactly where that client's local steps went, and a federated
// run whose every replica keeps the global fingerprint while the loss falls.
#include "fed/algorithms/decomfl.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>

#include "backend/cpu_backend.h"
#include "core/assets.h"
#include "data/partition.h"
#include "data/task.h"
#include "formats/checkpoint.h"
#include "fed/client_trainer.h"
#include "fed/simulation.h"
#include "runtime/model_source.h"
#include "support/fixtures.h"
#include "zo/fingerprint.h"

namespace seedtune {
namespace {

FedOptions DeComFlOptions(int perturbations, int steps, int sampled) {
  FedOptions o;
  o.algo = kDeComFl;
  o.lr = 1e-3f;
  o.seed = 9;
  o.params = {{kDeComFlPerturbations, perturbations}, {kDeComFlSteps, steps}, {kDeComFlSampledClients, sampled}};
  return o;
}

ClientReply RandomReply(int64_t round, int client, size_t n, std::mt19937& rng) {
  std::normal_distribution<float> g(0.0f, 20.0f);
  ClientReply r;
  r.client = client;
  r.round = round;
  r.loss = 2.0;
  for (size_t i = 0; i < n; ++i) r.scalars.push_back(g(rng));
  return r;
}

TEST(DeComFlTest, SamplesMOfTheAvailableClientsBySeed) {
  auto s = Strategy::Create(DeComFlOptions(5, 1, 3), std::vector<int64_t>(10, 20));
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  const std::vector<int> all = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
  int changed = 0;
  for (int64_t t = 1; t <= 20; ++t) {
    const RoundPlan p = (*s)->ConfigureRound(t, all);
    ASSERT_EQ(p.participants.size(), 3u);
    EXPECT_TRUE(std::is_sorted(p.participants.begin(), p.participants.end()));
    EXPECT_EQ(p.participants, (*s)->ConfigureRound(t, all).participants);  // a function of (run, round)
    if (p.participants != (*s)->ConfigureRound(t + 1, all).participants) ++changed;
  }
  EXPECT_GT(changed, 10);  // rounds draw different samples
  const std::vector<int> two = {3, 8};
  EXPECT_EQ((*s)->ConfigureRound(1, two).participants, two);  // fewer available than m: all of them

  auto every = Strategy::Create(DeComFlOptions(5, 1, 0), std::vector<int64_t>(10, 20));
  ASSERT_TRUE(every.ok());
  EXPECT_EQ((*every)->ConfigureRound(4, all).participants, all);  // m = 0: every available client
}

TEST(DeComFlTest, RepliesOfTheWrongShapeOrValueAreRefused) {
  auto s = Strategy::Create(DeComFlOptions(4, 3, 2), std::vector<int64_t>(4, 20));
  ASSERT_TRUE(s.ok());
  const RoundPlan plan = (*s)->ConfigureRound(1, std::vector<int>{0, 1, 2, 3});
  std::mt19937 rng(1);
  ClientReply ok = RandomReply(1, plan.participants[0], 12, rng);
  EXPECT_TRUE((*s)->ValidateReply(plan, ok).ok());

  ClientReply short_reply = ok;
  short_reply.scalars.pop_back();
  EXPECT_NE((*s)->ValidateReply(plan, short_reply).message().find("11 scalars for K x P = 3 x 4"), std::string::npos);
  ClientReply nan = ok;
  nan.scalars[5] = std::nanf("");
  EXPECT_NE((*s)->ValidateReply(plan, nan).message().find("scalar 5 is not finite"), std::string::npos);
  ClientReply huge = ok;
  huge.scalars[2] = 1e6f;
  EXPECT_NE((*s)->ValidateReply(plan, huge).message().find("over the run's scalar bound"), std::string::npos);

  // Another algorithm refuses a scalar list outright.
  FedOptions fs;
  fs.algo = FedAlgorithm::kFeedSign;
  auto feedsign = Strategy::Create(fs, std::vector<int64_t>(4, 20));
  ASSERT_TRUE(feedsign.ok());
  const RoundPlan fplan = (*feedsign)->ConfigureRound(1, std::vector<int>{0, 1, 2, 3});
  ClientReply listed = ok;
  listed.client = 0;
  listed.sign = 1;
  EXPECT_NE((*feedsign)->ValidateReply(fplan, listed).message().find("a list of scalars in a feedsign reply"),
            std::string::npos);
}

TEST(DeComFlTest, TheUpdateListIsTheMeanAlongEachSharedDirection) {
  const int P = 3, K = 2;
  const FedOptions o = DeComFlOptions(P, K, 0);
  auto s = Strategy::Create(o, std::vector<int64_t>(3, 20));
  ASSERT_TRUE(s.ok());
  const RoundPlan plan = (*s)->ConfigureRound(7, std::vector<int>{0, 1, 2});
  std::mt19937 rng(3);
  std::vector<ClientReply> replies;
  for (int c = 0; c < 3; ++c) replies.push_back(RandomReply(7, c, K * P, rng));
  auto a = (*s)->Aggregate(plan, replies);
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  ASSERT_EQ(a->updates.size(), static_cast<size_t>(K * P));
  for (int k = 0; k < K; ++k)
    for (int j = 0; j < P; ++j) {
      const size_t i = static_cast<size_t>(k * P + j);
      const double mean = (static_cast<double>(replies[0].scalars[i]) + replies[1].scalars[i] + replies[2].scalars[i]) / 3;
      // Seeds: StepSeed(StepSeed(run, t, 0xdec0), k, j) (docs/protocol.md).
      EXPECT_EQ(a->updates[i].seed, StepSeed(StepSeed(9, 7, 0xdec0u), static_cast<uint64_t>(k), static_cast<uint32_t>(j)));
      EXPECT_EQ(a->updates[i].alpha, -1e-3f * static_cast<float>(mean) / 3.0f);
    }
  EXPECT_EQ(a->traffic.up_bits, 32u * K * P);
  EXPECT_EQ(a->traffic.down_bits, 32u * K * P);
  // Arrival order does not matter.
  std::vector<ClientReply> reversed(replies.rbegin(), replies.rend());
  auto b = (*s)->Aggregate(plan, reversed);
  ASSERT_TRUE(b.ok());
  for (size_t i = 0; i < a->updates.size(); ++i) EXPECT_EQ(a->updates[i].alpha, b->updates[i].alpha);
}

TEST(DeComFlTest, OptionsOutsideTheTableAreRefused) {
  FedOptions o = DeComFlOptions(5, 1, 2);
  EXPECT_TRUE(ValidateFedOptions(o).ok());
  o.params[kDeComFlPerturbations] = 0;
  EXPECT_NE(ValidateFedOptions(o).message().find("perturbations must be an integer in [1, 1024], not 0"), std::string::npos);
  o.params[kDeComFlPerturbations] = 2.5;
  EXPECT_NE(ValidateFedOptions(o).message().find("must be an integer in [1, 1024], not 2.5"), std::string::npos);
  o = DeComFlOptions(5, 1, 2);
  o.params["K"] = 4;
  EXPECT_NE(ValidateFedOptions(o).message().find("decomfl has no option 'K'"), std::string::npos);
  // Absent entries take the table's defaults (the authors' P = 5, K = 1, m = 2).
  FedOptions bare;
  bare.algo = kDeComFl;
  EXPECT_EQ(AlgorithmParam(bare, kDeComFlPerturbations), 5);
  EXPECT_EQ(AlgorithmParam(bare, kDeComFlSteps), 1);
  EXPECT_EQ(AlgorithmParam(bare, kDeComFlSampledClients), 2);
}

std::optional<testing::StoriesLmTask> LoadStories() {
  return testing::LoadStoriesLmTask("decomfl", 600, 200, 0, 100, 64);
}

// With one client the round's mean is that client's own f32 scalars, so the
// global model must land bit for bit where the client's K local steps went;
// the trajectory here is recomputed from the definition (docs/federated.md).
TEST(DeComFlTest, AOneClientRoundIsExactlyThatClientsLocalSteps) {
  auto f = LoadStories();
  if (!f) GTEST_SKIP() << "stories260K or SST-2 not in the asset roots";
  ThreadingContext ctx(2);
  const int P = 2, K = 3;
  SimulationOptions o;
  static_cast<FedOptions&>(o) = DeComFlOptions(P, K, 2);
  o.lr = 5e-4f;
  o.batch_size = 4;
  o.rounds = 2;
  const std::vector<std::vector<EncodedExample>> shards = {f->train};
  ModelWeights global = f->base.Clone();
  auto r = RunSimulation(&global, ctx, shards, {}, Objective::kLanguageModel, o);
  ASSERT_TRUE(r.ok()) << r.status().ToString();

  ClientTrainer client(0, shards[0], Objective::kLanguageModel, o, false);
  ModelWeights mine = f->base.Clone();
  for (int64_t t = 1; t <= 2; ++t)
    for (int k = 0; k < K; ++k) {
      CpuBackend view(mine, ctx);
      const auto batch = client.Batch((t - 1) * K + k + 1, o.batch_size);
      std::vector<ZUpdate> step;
      for (int j = 0; j < P; ++j) {
        const uint64_t seed = StepSeed(StepSeed(o.seed, static_cast<uint64_t>(t), 0xdec0u), static_cast<uint64_t>(k),
                                       static_cast<uint32_t>(j));
        auto pair = EvaluateBatchPair(view, batch, Objective::kLanguageModel, seed, o.eps, o.dist, client.batch_options());
        ASSERT_TRUE(pair.ok());
        const float g = static_cast<float>(((*pair)[0].mean_loss - (*pair)[1].mean_loss) / (2.0 * o.eps));
        step.push_back(ZUpdate{seed, -o.lr * g / static_cast<float>(P), 1.0f});
      }
      ApplyUpdates(&mine, step, o.dist, ctx);
    }
  EXPECT_EQ(FingerprintHex(ModelFingerprint(mine, ctx)), r->final_fingerprint);
  EXPECT_EQ(0, std::memcmp(mine.buffer(), global.buffer(), global.buffer_floats() * sizeof(float)));
  EXPECT_NE(0, std::memcmp(f->base.buffer(), global.buffer(), global.buffer_floats() * sizeof(float)));
}

TEST(DeComFlTest, FederatedRunKeepsEveryReplicaOnTheGlobalModelAndLearns) {
  auto f = LoadStories();
  if (!f) GTEST_SKIP() << "stories260K or SST-2 not in the asset roots";
  ThreadingContext ctx(2);
  SimulationOptions o;
  static_cast<FedOptions&>(o) = DeComFlOptions(3, 2, 2);
  o.lr = 3e-4f;
  o.batch_size = 8;
  o.rounds = 40;
  o.replicas = true;  // each client follows the broadcast lists; the engine checks fingerprints every round
  auto shards = PartitionIid(static_cast<int64_t>(f->train.size()), 5, 3);
  ASSERT_TRUE(shards.ok());
  std::vector<std::vector<EncodedExample>> data(5);
  for (int c = 0; c < 5; ++c)
    for (int64_t i : (*shards)[c]) data[c].push_back(f->train[static_cast<size_t>(i)]);
  ModelWeights global = f->base.Clone();
  auto loss = [&](ModelWeights& w) {
    CpuBackend m(w, ctx);
    auto e = EvaluateDataset(m, f->eval, Objective::kLanguageModel, 32);
    return e.ok() ? e->mean_loss : 1e9;
  };
  const double before = loss(global);
  auto r = RunSimulation(&global, ctx, data, {}, Objective::kLanguageModel, o);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->rounds.size(), 40u);
  for (const auto& round : r->rounds) {
    EXPECT_EQ(round.sampled.size(), 2u);
    EXPECT_EQ(round.updates.size(), 6u);
  }
  const double after = loss(global);
  EXPECT_LT(after, before - 0.05) << "held-out loss " << before << " -> " << after;
  ModelWeights replayed = f->base.Clone();
  for (const auto& round : r->rounds) ApplyUpdates(&replayed, round.updates, o.dist, ctx);
  EXPECT_EQ(FingerprintHex(ModelFingerprint(replayed, ctx)), r->final_fingerprint);
}

}  // namespace
}  // namespace seedtune
