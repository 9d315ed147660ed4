// docs/protocol.md's test vectors (computed by an independent Python
// implementation of its definitions) against the code, and a scan of src/
// for seed-derivation constants the page does not list.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "data/task.h"
#include "fed/algorithms/decomfl.h"
#include "fed/strategy.h"
#include "kernels/random.h"
#include "train/mezo.h"
#include "support/fixtures.h"
#include "zo/fingerprint.h"
#include "zo/update.h"

namespace seedtune {
namespace {

std::string ReadAll(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(ProtocolTest, TestVectorsOfDocsProtocolMd) {
  EXPECT_EQ(SplitMix64(0), 0xe220a8397b1dcdafull);
  EXPECT_EQ(StepSeed(42, 1), 0x93be8420bb55b94cull);
  EXPECT_EQ(StepSeed(42, 1, 1), 0x56f806fa1c91f122ull);
  EXPECT_EQ(ZoFedSgdSeed(42, 1, 0), 0x56f806fa1c91f122ull);
  EXPECT_EQ(StepSeed(42, 3, 0), 0x2ce02c4ee4d2ea09ull);
  PortableRng rng(42);
  EXPECT_EQ(rng.Next(), 0x15780b2e0c2ec716ull);
  EXPECT_EQ(rng.Next(), 0x6104d9866d113a7eull);
  EXPECT_EQ(rng.Next(), 0xae17533239e499a1ull);
  EXPECT_EQ(SeededPermutation(10, 42), (std::vector<int64_t>{7, 3, 8, 9, 5, 6, 4, 1, 0, 2}));
  EXPECT_EQ(FedKSeedCandidates(42, 3),
            (std::vector<uint64_t>{0x6db0ccac4fa87ae7ull, 0x981f43574b4ee251ull, 0xe45d7dd9430678c5ull}));
  EXPECT_EQ(StepBatch(42, 1, 4, 10), (std::vector<int64_t>{5, 7, 0, 4}));
  EXPECT_EQ(StepBatch(42, 3, 4, 10), (std::vector<int64_t>{9, 8, 3, 1}));
  const uint64_t client2 = StepSeed(42, 2, 0xc1e27);
  EXPECT_EQ(client2, 0x994797a2c2a98f2cull);
  EXPECT_EQ(StepBatch(client2, 1, 3, 7), (std::vector<int64_t>{5, 0, 4}));
  EXPECT_EQ(SeededPermutation(6, StepSeed(42, 1, 0x5a3)), (std::vector<int64_t>{0, 3, 1, 5, 2, 4}));
  EXPECT_EQ(StepSeed(42, 5, 1 * 65536 + 2), 0xb3fdc0560e3c0bffull);
  EXPECT_EQ(StepSeed(42, 1, 0x1b7e), 0x88872ed52e7c693bull);
  EXPECT_EQ(StepSeed(42, 0, 0xb12), 0xde180ddaf9ebff9cull);
  EXPECT_EQ(SeededPermutation(8, kHoldoutSplitSeed), (std::vector<int64_t>{6, 7, 0, 4, 3, 2, 1, 5}));
  float z[4];
  GenerateZReference(StepSeed(42, 1), 0, 4, ZDistribution::kGaussian, z);
  const float want[4] = {0.14397446811199188f, -0.4140881896018982f, -0.41490688920021057f, 1.0933891534805298f};
  for (int i = 0; i < 4; ++i) EXPECT_EQ(z[i], want[i]) << i;
}

// The page's round vectors (also printed by scripts/protocol_vectors.py, an
// implementation of the page's definitions in plain Python): DeComFL's seeds
// and sample, a round's update list from given replies, and the fingerprint
// of a canonical vector before and after the list (Rademacher z).
TEST(ProtocolTest, ARoundsUpdateListAndTheFingerprintAfterIt) {
  EXPECT_EQ(DeComFlDirectionSeed(42, 1, 0, 0), 0x238379bdb2719a56ull);
  EXPECT_EQ(DeComFlDirectionSeed(42, 1, 0, 1), 0x7c23cbb7ef056c2bull);
  EXPECT_EQ(DeComFlDirectionSeed(42, 1, 1, 0), 0x217ca34985b80e63ull);

  FedOptions o;
  o.algo = kDeComFl;
  o.seed = 42;
  o.lr = 1e-3f;
  o.params = {{kDeComFlPerturbations, 2}, {kDeComFlSteps, 1}, {kDeComFlSampledClients, 2}};
  auto strategy = Strategy::Create(o, std::vector<int64_t>(6, 32));
  ASSERT_TRUE(strategy.ok()) << strategy.status().ToString();
  const RoundPlan plan = (*strategy)->ConfigureRound(1, std::vector<int>{0, 1, 2, 3, 4, 5});
  ASSERT_EQ(plan.participants, (std::vector<int>{0, 1}));
  std::vector<ClientReply> replies(2);
  const std::vector<float> scalars[2] = {{1.5f, -2.0f}, {0.25f, 4.0f}};
  for (int c = 0; c < 2; ++c) {
    replies[c].client = c;
    replies[c].round = 1;
    replies[c].scalars = scalars[c];
  }
  auto round = (*strategy)->Aggregate(plan, replies);
  ASSERT_TRUE(round.ok()) << round.status().ToString();
  ASSERT_EQ(round->updates.size(), 2u);
  const uint64_t seeds[2] = {0x238379bdb2719a56ull, 0x7c23cbb7ef056c2bull};
  const uint32_t alpha_bits[2] = {0xb9e56042u, 0xba03126fu};
  for (int j = 0; j < 2; ++j) {
    EXPECT_EQ(round->updates[j].seed, seeds[j]);
    uint32_t bits;
    std::memcpy(&bits, &round->updates[j].alpha, 4);
    EXPECT_EQ(bits, alpha_bits[j]) << "update " << j;
    EXPECT_EQ(round->updates[j].decay, 1.0f);
  }

  // A model whose canonical vector is theta_i = (i mod 1024) 2^-10.
  auto w = ModelWeights::Allocate(testing::TinyConfig(Architecture::kLlama));
  ASSERT_TRUE(w.ok());
  ASSERT_EQ(w->num_params(), 74688);
  for (size_t t = 0; t < w->num_tensors(); ++t) {
    auto x = w->tensor(t);
    for (size_t e = 0; e < x.size(); ++e)
      x[e] = static_cast<float>((w->canonical_index(t) + static_cast<int64_t>(e)) % 1024) * 0x1.0p-10f;
  }
  ThreadingContext ctx(2);
  EXPECT_EQ(FingerprintHex(ModelFingerprint(*w, ctx)), "c47d4ab903540767");
  ApplyUpdates(&*w, round->updates, ZDistribution::kRademacher, ctx);
  EXPECT_EQ(FingerprintHex(ModelFingerprint(*w, ctx)), "14fe01cd423c47bc");
}

// Every domain tag passed to StepSeed in src/ (a hex constant in the call)
// must be listed in docs/protocol.md, so the page stays complete.
TEST(ProtocolTest, EverySeedConstantInSrcIsDocumented) {
  const std::string doc = ReadAll("docs/protocol.md");
  ASSERT_FALSE(doc.empty()) << "run from the source root (ctest does)";
  std::string lower_doc = doc;
  for (char& c : lower_doc) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  const std::regex call(R"(StepSeed\([^;]*?(0x[0-9a-fA-F]+)u?)");
  std::set<std::string> found;
  for (const auto& e : std::filesystem::recursive_directory_iterator("src")) {
    if (!e.is_regular_file() || (e.path().extension() != ".cc" && e.path().extension() != ".h")) continue;
    const std::string text = ReadAll(e.path());
    for (std::sregex_iterator it(text.begin(), text.end(), call), end; it != end; ++it) {
      std::string k = (*it)[1].str();
      for (char& c : k) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      found.insert(k);
      EXPECT_NE(lower_doc.find(k), std::string::npos)
          << e.path() << " derives seeds with " << k << ", which docs/protocol.md does not list";
    }
  }
  EXPECT_GE(found.size(), 8u) << "the scan found too few constants to be working";
  EXPECT_NE(lower_doc.find("0x5eed5eed0da7a5e7"), std::string::npos) << "the hold-out split seed";
}

}  // namespace
}  // namespace seedtune
