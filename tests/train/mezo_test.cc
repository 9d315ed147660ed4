// MeZO on the real stories260K with a language-model objective: it learns,
// it is deterministic, and its step log replays to the same weights.
#include "train/mezo.h"

#include <gtest/gtest.h>

#include <cstring>
#include <fstream>

#include "backend/cpu_backend.h"
#include "core/assets.h"
#include "data/encode.h"
#include "data/task.h"
#include "formats/checkpoint.h"
#include "runtime/model_source.h"
#include "support/fixtures.h"
#include "zo/fingerprint.h"

namespace seedtune {
namespace {

// SST-2 training sentences as plain text (an LM objective stories260K can learn).
std::optional<testing::StoriesLmTask> Load() { return testing::LoadStoriesLmTask("mezo", 1200, 400, 100, 200, 128); }

MezoOptions Options() {
  MezoOptions o;
  o.steps = 120;
  o.batch_size = 16;
  o.lr = 3e-5f;  // stories260K diverges above ~3e-5 (measured, see the issue)
  o.eps = 1e-3f;
  o.seed = 7;
  o.keep_best = false;
  return o;
}

double EvalLoss(ModelWeights& w, ThreadingContext& ctx, std::span<const EncodedExample> ex) {
  CpuBackend model(w, ctx);
  auto r = EvaluateDataset(model, ex, Objective::kLanguageModel, 32);
  EXPECT_TRUE(r.ok());
  return r.ok() ? r->mean_loss : 1e9;
}

TEST(MezoStories260kTest, LearnsDeterministicallyAndReplaysFromItsLog) {
  auto f = Load();
  if (!f) GTEST_SKIP() << "stories260K or SST-2 not in the asset roots";
  ThreadingContext ctx(2);
  const ModelWeights base = f->base.Clone();
  const double before = EvalLoss(f->base, ctx, f->eval);

  ModelWeights a = base.Clone();
  auto ra = TrainMezo(&a, ctx, f->train, f->dev, Objective::kLanguageModel, Options());
  ASSERT_TRUE(ra.ok()) << ra.status().ToString();
  const double after = EvalLoss(a, ctx, f->eval);
  EXPECT_LT(after, before - 0.1) << "held-out loss " << before << " -> " << after;

  // Same seed, different thread count: identical loss curve and fingerprint.
  ThreadingContext one(1);
  ModelWeights b = base.Clone();
  auto rb = TrainMezo(&b, one, f->train, f->dev, Objective::kLanguageModel, Options());
  ASSERT_TRUE(rb.ok());
  ASSERT_EQ(ra->steps.size(), rb->steps.size());
  for (size_t i = 0; i < ra->steps.size(); ++i) {
    ASSERT_EQ(ra->steps[i].loss, rb->steps[i].loss) << "step " << i;
    ASSERT_EQ(ra->steps[i].projected_grad, rb->steps[i].projected_grad) << "step " << i;
  }
  EXPECT_EQ(ra->final_fingerprint, rb->final_fingerprint);
  EXPECT_NE(ra->final_fingerprint, FingerprintHex(ModelFingerprint(base, ctx)));

  // A different seed gives a different run.
  MezoOptions other = Options();
  other.seed = 8;
  other.steps = 5;
  ModelWeights c = base.Clone();
  auto rc = TrainMezo(&c, ctx, f->train, f->dev, Objective::kLanguageModel, other);
  ASSERT_TRUE(rc.ok());
  EXPECT_NE(rc->steps[0].loss, ra->steps[0].loss);

  // Replaying the logged (seed, alpha, decay) updates on the base reproduces
  // the trained weights bit for bit.
  std::vector<ZUpdate> log;
  for (const auto& s : ra->steps) log.insert(log.end(), s.updates.begin(), s.updates.end());
  ModelWeights replayed = base.Clone();
  ApplyUpdates(&replayed, log, ZDistribution::kGaussian, ctx);
  EXPECT_EQ(FingerprintHex(ModelFingerprint(replayed, ctx)), ra->final_fingerprint);
  EXPECT_EQ(0, std::memcmp(replayed.buffer(), a.buffer(), a.buffer_floats() * 4));
}

TEST(MezoStories260kTest, KeepBestRebuildsTheBestDevStateByReplay) {
  auto f = Load();
  if (!f) GTEST_SKIP() << "stories260K or SST-2 not in the asset roots";
  ThreadingContext ctx(2);
  const ModelWeights base = f->base.Clone();
  MezoOptions o = Options();
  o.steps = 40;
  o.lr = 3e-3f;  // far too large: the dev loss gets worse, so the best state is an early one
  o.eval_every = 10;
  o.keep_best = true;
  MezoCallbacks cb;
  cb.load_base = [&]() -> StatusOr<ModelWeights> { return base.Clone(); };
  ModelWeights w = base.Clone();
  auto r = TrainMezo(&w, ctx, f->train, f->dev, Objective::kLanguageModel, o, cb);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_LT(r->best_step, o.steps) << "setup: expected divergence";
  for (const auto& e : r->evals) {
    if (e.step == r->best_step) {
      EXPECT_EQ(e.fingerprint, r->final_fingerprint);
    }
  }
}

// Keep-best on a tie: dev accuracy often ties on a small dev set, and the
// earliest evaluation (the untrained step 0) used to win, so --out wrote the
// base model although the dev loss had fallen. The lower dev loss breaks it.
TEST(MezoKeepBestTest, ATiedAccuracyIsBrokenByTheLowerDevLoss) {
  auto eval = [](double accuracy, double loss) {
    MezoEvalLog e;
    e.metric = accuracy;
    e.dev.accuracy = accuracy;
    e.dev.mean_loss = loss;
    return e;
  };
  EXPECT_TRUE(IsBetterEvaluation(eval(0.75, 0.60), eval(0.75, 0.70)));
  EXPECT_FALSE(IsBetterEvaluation(eval(0.75, 0.70), eval(0.75, 0.60)));
  EXPECT_TRUE(IsBetterEvaluation(eval(0.80, 0.90), eval(0.75, 0.60))) << "accuracy first";
  EXPECT_FALSE(IsBetterEvaluation(eval(0.75, 0.60), eval(0.75, 0.60))) << "a full tie keeps the earlier";
}

}  // namespace
}  // namespace seedtune
