// MeZO objectives against hand computations from Forward's token log-probs.
#include "data/objective.h"

#include <cmath>
#include <random>

#include <gtest/gtest.h>

#include "backend/cpu_backend.h"
#include "support/fixtures.h"

namespace seedtune {
namespace {

using testing::RandomWeights;
using testing::TinyConfig;

SequenceRequest Seq(const std::vector<int32_t>& tokens, int cand_len) {
  SequenceRequest r;
  r.tokens = tokens;
  r.score_end = static_cast<int32_t>(tokens.size()) - 1;
  r.score_begin = r.score_end - cand_len;
  return r;
}

// A prompt shared by the candidates plus a candidate of 1..3 tokens.
std::vector<EncodedExample> RandomExamples(int n, int num_candidates, int vocab, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<EncodedExample> out;
  for (int i = 0; i < n; ++i) {
    std::vector<int32_t> prompt(static_cast<size_t>(3 + rng() % 8));
    for (auto& t : prompt) t = static_cast<int32_t>(rng() % vocab);
    EncodedExample ex;
    for (int c = 0; c < num_candidates; ++c) {
      std::vector<int32_t> tokens = prompt;
      const int len = 1 + static_cast<int>(rng() % 3);
      for (int k = 0; k < len; ++k) tokens.push_back(static_cast<int32_t>(rng() % vocab));
      ex.candidates.push_back(Seq(tokens, len));
    }
    ex.label = static_cast<int>(rng() % num_candidates);
    out.push_back(std::move(ex));
  }
  return out;
}

// Mean token log-prob of one sequence, run alone, from Forward's log-probs.
double AloneScore(ComputeBackend& model, const SequenceRequest& r) {
  std::vector<SequenceRequest> one = {r};
  auto out = model.Forward(one);
  EXPECT_TRUE(out.ok()) << out.status().ToString();
  const auto& lp = (*out)[0].token_logprobs;
  double s = 0.0;
  for (float v : lp) s += v;
  return s / static_cast<double>(lp.size());
}

class ObjectiveTest : public ::testing::Test {
 protected:
  ObjectiveTest() : weights_(RandomWeights(TinyConfig(Architecture::kLlama), 11, 0.5f)), ctx_(2), model_(weights_, ctx_) {}
  ModelWeights weights_;
  ThreadingContext ctx_;
  CpuBackend model_;
};

TEST_F(ObjectiveTest, ClassificationLossIsSoftmaxCrossEntropyOfMeanLogProbs) {
  const auto batch = RandomExamples(5, 3, static_cast<int>(weights_.config().vocab_size), 1);
  auto res = EvaluateBatch(model_, batch, Objective::kCandidateClassification);
  ASSERT_TRUE(res.ok()) << res.status().ToString();
  ASSERT_EQ(res->predictions.size(), 5u);
  double total = 0.0;
  int correct = 0;
  for (size_t i = 0; i < batch.size(); ++i) {
    std::vector<double> s;
    for (const auto& r : batch[i].candidates) s.push_back(AloneScore(model_, r));
    double z = 0.0;
    for (double v : s) z += std::exp(v);
    const double loss = std::log(z) - s[static_cast<size_t>(batch[i].label)];
    EXPECT_NEAR(res->losses[i], loss, 1e-5) << i;
    for (size_t c = 0; c < s.size(); ++c) EXPECT_NEAR(res->scores[i][c], s[c], 1e-5);
    int argmax = 0;
    for (int c = 1; c < static_cast<int>(s.size()); ++c)
      if (s[c] > s[argmax]) argmax = c;
    EXPECT_EQ(res->predictions[i], argmax) << i;
    correct += argmax == batch[i].label;
    total += loss;
  }
  EXPECT_NEAR(res->mean_loss, total / 5.0, 1e-5);
  EXPECT_EQ(res->correct, correct);
  // The scores differ between candidates (the test is not vacuous).
  EXPECT_GT(std::abs(res->scores[0][0] - res->scores[0][1]), 1e-4);
}

TEST_F(ObjectiveTest, LanguageModelLossIsGoldMeanNll) {
  const auto batch = RandomExamples(4, 2, static_cast<int>(weights_.config().vocab_size), 2);
  auto res = EvaluateBatch(model_, batch, Objective::kLanguageModel);
  ASSERT_TRUE(res.ok()) << res.status().ToString();
  double total = 0.0;
  for (size_t i = 0; i < batch.size(); ++i) {
    const double gold = AloneScore(model_, batch[i].candidates[static_cast<size_t>(batch[i].label)]);
    EXPECT_NEAR(res->losses[i], -gold, 1e-5);
    total += -gold;
    const double other = AloneScore(model_, batch[i].candidates[static_cast<size_t>(1 - batch[i].label)]);
    EXPECT_EQ(res->predictions[i], gold >= other ? batch[i].label : 1 - batch[i].label);
  }
  EXPECT_NEAR(res->mean_loss, total / 4.0, 1e-5);

  // Training form: only the gold candidates run, same loss.
  BatchOptions gold_only;
  gold_only.gold_only = true;
  auto train = EvaluateBatch(model_, batch, Objective::kLanguageModel, gold_only);
  ASSERT_TRUE(train.ok()) << train.status().ToString();
  EXPECT_NEAR(train->mean_loss, res->mean_loss, 1e-5);
  EXPECT_EQ(train->predictions, std::vector<int>(4, -1));
  EXPECT_EQ(train->correct, 0);
}

TEST(ObjectiveMathTest, TiesPredictTheLowestIndex) {
  // (Identical sequences in one packed batch need not score bit-identically,
  // so ties are tested on the helpers EvaluateBatch uses.)
  EXPECT_EQ(ArgmaxLowestIndex({-1.0, -1.0}), 0);
  EXPECT_EQ(ArgmaxLowestIndex({-2.0, -0.5, -0.5, -3.0}), 1);
  EXPECT_EQ(ArgmaxLowestIndex({-2.0}), 0);
  EXPECT_NEAR(CandidateCrossEntropy({-1.0, -1.0}, 1), std::log(2.0), 1e-15);
  // By hand: scores (-1, -2, -4), label 1: log(e^-1 + e^-2 + e^-4) + 2.
  EXPECT_NEAR(CandidateCrossEntropy({-1.0, -2.0, -4.0}, 1),
              std::log(std::exp(-1.0) + std::exp(-2.0) + std::exp(-4.0)) + 2.0, 1e-14);
  // Stable for very negative scores.
  EXPECT_NEAR(CandidateCrossEntropy({-1000.0, -1001.0}, 0), std::log(1.0 + std::exp(-1.0)), 1e-12);
}

TEST_F(ObjectiveTest, PerturbedPairMatchesSinglePerturbedForwards) {
  const auto batch = RandomExamples(3, 2, static_cast<int>(weights_.config().vocab_size), 6);
  const uint64_t seed = 1234;
  const float eps = 1e-2f;
  auto pair = EvaluateBatchPair(model_, batch, Objective::kCandidateClassification, seed, eps);
  ASSERT_TRUE(pair.ok()) << pair.status().ToString();
  auto base = EvaluateBatch(model_, batch, Objective::kCandidateClassification);
  ASSERT_TRUE(base.ok());
  for (int k = 0; k < 2; ++k) {
    Perturbation p;
    p.seed = seed;
    p.scale = k == 0 ? eps : -eps;
    BatchOptions opts;
    opts.perturbation = &p;
    auto single = EvaluateBatch(model_, batch, Objective::kCandidateClassification, opts);
    ASSERT_TRUE(single.ok()) << single.status().ToString();
    EXPECT_EQ((*pair)[k].losses, single->losses) << k;  // bit-identical (ForwardPair's contract)
    EXPECT_EQ((*pair)[k].predictions, single->predictions) << k;
    EXPECT_NE(single->mean_loss, base->mean_loss) << "the perturbation had no effect";
  }
  EXPECT_NE((*pair)[0].mean_loss, (*pair)[1].mean_loss);
  Perturbation p;
  BatchOptions bad;
  bad.perturbation = &p;
  EXPECT_FALSE(EvaluateBatchPair(model_, batch, Objective::kCandidateClassification, seed, eps,
                                 ZDistribution::kGaussian, bad)
                   .ok());
}

TEST_F(ObjectiveTest, DatasetAggregatesBatches) {
  const auto examples = RandomExamples(7, 2, static_cast<int>(weights_.config().vocab_size), 4);
  auto whole = EvaluateBatch(model_, examples, Objective::kCandidateClassification);
  ASSERT_TRUE(whole.ok());
  std::vector<int64_t> progress;
  auto res = EvaluateDataset(model_, examples, Objective::kCandidateClassification, 3,
                             [&](int64_t done, int64_t total) {
                               EXPECT_EQ(total, 7);
                               progress.push_back(done);
                             });
  ASSERT_TRUE(res.ok()) << res.status().ToString();
  EXPECT_EQ(progress, (std::vector<int64_t>{3, 6, 7}));
  EXPECT_EQ(res->count, 7);
  EXPECT_EQ(res->correct, whole->correct);
  EXPECT_NEAR(res->mean_loss, whole->mean_loss, 1e-5);
  const double p = static_cast<double>(whole->correct) / 7.0;
  EXPECT_DOUBLE_EQ(res->accuracy, p);
  EXPECT_DOUBLE_EQ(res->accuracy_stderr, std::sqrt(p * (1 - p) / 7.0));
}

TEST_F(ObjectiveTest, RejectsBadInput) {
  std::vector<EncodedExample> empty;
  EXPECT_FALSE(EvaluateBatch(model_, empty, Objective::kCandidateClassification).ok());
  auto batch = RandomExamples(2, 2, static_cast<int>(weights_.config().vocab_size), 5);
  batch[1].label = 2;
  EXPECT_FALSE(EvaluateBatch(model_, batch, Objective::kCandidateClassification).ok());
  batch[1].label = 0;
  batch[1].candidates[0].tokens[0] = 100000;  // outside the vocabulary: Forward's error
  EXPECT_FALSE(EvaluateBatch(model_, batch, Objective::kCandidateClassification).ok());
  EXPECT_FALSE(EvaluateDataset(model_, batch, Objective::kCandidateClassification, 0).ok());
}

}  // namespace
}  // namespace seedtune
