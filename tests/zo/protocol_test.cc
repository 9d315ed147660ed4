// docs/protocol.md's test vectors (computed by an independent Python
// implementation of its definitions) against the code, and a scan of src/
// for seed-derivation constants the page does not list.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "data/task.h"
#include "fed/strategy.h"
#include "kernels/random.h"
#include "train/mezo.h"
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
    if (!e.is_regular_file() || e.path().extension() != ".cc") continue;
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
