#include "fed/onebyte.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <set>

#include "backend/cpu_backend.h"
#include "core/assets.h"
#include "data/partition.h"
#include "data/task.h"
#include "formats/checkpoint.h"
#include "runtime/model_source.h"
#include "support/fixtures.h"
#include "zo/fingerprint.h"

namespace seedtune {
namespace {

TEST(OneByteCodeTest, TableValuesSignsAndError) {
  EXPECT_EQ(DequantizeOneByte(64), 1.0f);
  EXPECT_EQ(DequantizeOneByte(72), 2.0f);
  EXPECT_EQ(DequantizeOneByte(56), 0.5f);
  EXPECT_EQ(DequantizeOneByte(0x80 | 64), -1.0f);
  EXPECT_EQ(DequantizeOneByte(0), 0.0f);
  EXPECT_EQ(QuantizeOneByte(0.0), 0);
  EXPECT_EQ(QuantizeOneByte(NAN), 0);
  EXPECT_EQ(QuantizeOneByte(1e9) & 0x7f, 127);    // clamped
  EXPECT_EQ(QuantizeOneByte(1e-9) & 0x7f, 1);     // smallest non-zero code
  for (int q = 2; q < 128; ++q) EXPECT_GT(DequantizeOneByte(q), DequantizeOneByte(q - 1));
  for (double g : {0.013, -0.2, 0.999, 3.7, -55.0, 180.0}) {
    const float back = DequantizeOneByte(QuantizeOneByte(g));
    EXPECT_EQ(back < 0, g < 0);
    EXPECT_LE(std::fabs(back - g) / std::fabs(g), 0.0445) << g;  // half a 2^(1/8) step
  }
}

TEST(OneByteUpdatesTest, CanonicalOrderAndScale) {
  std::vector<OneByteRecord> recs = {{1, 2, 0, 30, QuantizeOneByte(1.0)},
                                     {1, 0, 1, 11, QuantizeOneByte(-2.0)},
                                     {1, 0, 0, 10, QuantizeOneByte(4.0)},
                                     {1, 1, 0, 20, 0}};
  auto ups = OneByteUpdates(recs, 1.0f);
  ASSERT_EQ(ups.size(), 3u);  // the zero byte applies nothing
  EXPECT_EQ(ups[0].seed, 10u);
  EXPECT_EQ(ups[1].seed, 11u);
  EXPECT_EQ(ups[2].seed, 30u);
  EXPECT_FLOAT_EQ(ups[0].alpha, -4.0f / 2.0f);  // lr / sqrt(4 bytes)
  EXPECT_FLOAT_EQ(ups[1].alpha, 2.0f / 2.0f);
}

TEST(OneByteSimTest, FourPeersWithJoinAndLeaveStayIdenticalAndLearn) {
  auto fixture = testing::LoadStoriesLmTask("onebyte", 600, 240, 0, 100, 96);
  if (!fixture) GTEST_SKIP() << "stories260K or SST-2 not in the asset roots";
  const ModelWeights* base = &fixture->base;
  const auto& train = fixture->train;
  const auto& eval = fixture->eval;
  auto shards = *PartitionIid(static_cast<int64_t>(train.size()), 4, 1);
  std::vector<std::vector<EncodedExample>> data(4);
  for (int m = 0; m < 4; ++m)
    for (int64_t i : shards[m]) data[m].push_back(train[i]);

  OneByteOptions o;
  o.iterations = 30;
  o.samples = 2;
  o.batch_size = 8;
  o.lr = 6e-5f;
  o.seed = 5;
  o.join = {1, 1, 1, 11};   // machine 3 joins after iteration 10
  o.leave = {0, 0, 20, 0};  // machine 2 leaves at iteration 20
  ThreadingContext ctx(2);
  std::vector<ModelWeights> finals;
  auto logs = RunOneByte(*base, ctx, data, Objective::kLanguageModel, o, &finals);
  ASSERT_TRUE(logs.ok()) << logs.status().ToString();  // fails itself if live machines ever differ
  for (const auto& it : *logs) {
    EXPECT_EQ(it.fingerprints.count(3) == 1, it.iteration >= 11) << it.iteration;
    EXPECT_EQ(it.fingerprints.count(2) == 1, it.iteration < 20) << it.iteration;
    std::set<std::string> distinct;
    for (const auto& [m, fp] : it.fingerprints) distinct.insert(fp);
    EXPECT_EQ(distinct.size(), 1u) << "iteration " << it.iteration;
    EXPECT_EQ(it.records.size(), it.live.size() * 2);  // one byte per projected gradient
  }
  ASSERT_EQ(finals.size(), 3u);
  // Replay of the byte log from the base gives the survivors' model.
  ModelWeights replay = base->Clone();
  for (const auto& it : *logs) ApplyUpdates(&replay, OneByteUpdates(it.records, o.lr), o.dist, ctx);
  EXPECT_EQ(0, std::memcmp(replay.buffer(), finals[0].buffer(), replay.buffer_floats() * 4));
  // It learns: held-out loss goes down.
  auto eval_loss = [&](ModelWeights& w) {
    CpuBackend m(w, ctx);
    return EvaluateDataset(m, eval, Objective::kLanguageModel, 32)->mean_loss;
  };
  ModelWeights b = base->Clone();
  const double before = eval_loss(b), after = eval_loss(finals[0]);
  EXPECT_LT(after, before - 0.05) << before << " -> " << after;
}

}  // namespace
}  // namespace seedtune
