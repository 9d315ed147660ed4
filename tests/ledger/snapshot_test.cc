#include "ledger/snapshot.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <random>

#include "core/mapped_file.h"
#include "formats/safetensors.h"
#include "support/fixtures.h"
#include "zo/fingerprint.h"

namespace seedtune {
namespace {

bool Contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

// Byte offset of the safetensors data section in `bytes`.
size_t DataStart(const std::string& bytes) {
  uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= static_cast<uint64_t>(static_cast<uint8_t>(bytes[i])) << (8 * i);
  return 8 + n;
}

TEST(SnapshotTest, WriteAndLoadAreBitExactWithTheModelsOwnLayout) {
  ThreadingContext ctx(2);
  const std::string dir = testing::MakeTempDir("snapshot-rt");
  for (Architecture arch : {Architecture::kLlama, Architecture::kGpt2, Architecture::kNeox}) {
    const ModelConfig config = testing::TinyConfig(arch);
    const ModelWeights w = testing::RandomWeights(config, 7);
    const std::string path = dir + "/s" + std::to_string(static_cast<int>(arch)) + ".safetensors";
    uint64_t written_fp = 0;
    ASSERT_TRUE(WriteWeightsSnapshot(w, path, 41, ctx, &written_fp).ok());
    EXPECT_EQ(written_fp, ModelFingerprint(w, ctx));
    EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
    auto f = SafetensorsFile::Open(path);
    ASSERT_TRUE(f.ok()) << f.status().ToString();
    EXPECT_EQ(f->metadata().at("seedtune.fingerprint"), FingerprintHex(written_fp));
    EXPECT_EQ(f->metadata().at("seedtune.round"), "41");
    EXPECT_EQ(f->metadata().at("seedtune.kind"), "weights-snapshot");
    // One F32 tensor per table entry, in canonical order, internal names and shapes.
    ASSERT_EQ(f->tensors().size(), w.num_tensors());
    for (size_t i = 0; i < w.num_tensors(); ++i) {
      const auto& t = f->tensors()[i];
      EXPECT_EQ(t.name, w.specs()[i].name);
      EXPECT_EQ(t.shape, w.specs()[i].shape);
      EXPECT_EQ(t.dtype, "F32");
      EXPECT_EQ(t.begin, static_cast<uint64_t>(w.canonical_index(i)) * 4);
      std::vector<float> v(static_cast<size_t>(t.numel()));
      ASSERT_TRUE(f->ReadFloat(t, v.data()).ok());
      EXPECT_EQ(0, std::memcmp(v.data(), w.data(i), v.size() * 4)) << t.name;
    }
    ModelWeights into = testing::RandomWeights(config, 8);  // other values, same table
    ASSERT_FALSE(testing::WeightsEqual(w, into));
    Status s = LoadWeightsSnapshot(path, &into, ctx);
    ASSERT_TRUE(s.ok()) << s.ToString();
    EXPECT_TRUE(testing::WeightsEqual(w, into));
    auto info = CheckWeightsSnapshot(path, into);
    ASSERT_TRUE(info.ok()) << info.status().ToString();
    EXPECT_EQ(info->round, 41u);
    EXPECT_EQ(info->fingerprint, written_fp);
  }
}

TEST(SnapshotTest, TamperedBytesAreCaughtByTheFingerprint) {
  ThreadingContext ctx(2);
  const std::string dir = testing::MakeTempDir("snapshot-tamper");
  const ModelConfig config = testing::TinyConfig(Architecture::kLlama);
  const ModelWeights w = testing::RandomWeights(config, 21);
  const std::string path = dir + "/round-3.safetensors";
  ASSERT_TRUE(WriteWeightsSnapshot(w, path, 3, ctx).ok());
  const std::string good = *ReadFileToString(path);
  const size_t data = DataStart(good);
  std::mt19937_64 rng(5);
  std::vector<size_t> offsets = {data, good.size() - 1};
  for (int i = 0; i < 6; ++i) offsets.push_back(data + rng() % (good.size() - data));
  for (size_t at : offsets) {
    std::string bad = good;
    bad[at] = static_cast<char>(bad[at] ^ (1 << (rng() % 8)));
    const std::string bad_path = dir + "/bad.safetensors";
    ASSERT_TRUE(WriteStringToFile(bad_path, bad).ok());
    auto info = CheckWeightsSnapshot(bad_path, w);
    ASSERT_FALSE(info.ok()) << "byte " << at;
    EXPECT_EQ(info.status().code(), StatusCode::kDataLoss);
    EXPECT_TRUE(Contains(info.status().message(), bad_path)) << info.status().message();
    ModelWeights into = testing::RandomWeights(config, 1);
    Status s = LoadWeightsSnapshot(bad_path, &into, ctx);
    ASSERT_FALSE(s.ok()) << "byte " << at;
    EXPECT_EQ(s.code(), StatusCode::kDataLoss);
    EXPECT_TRUE(Contains(s.message(), bad_path) && Contains(s.message(), "fingerprint")) << s.message();
  }
  // A snapshot whose metadata names another model.
  std::string meta = good;
  const size_t fp_at = meta.find(FingerprintHex(ModelFingerprint(w, ctx)));
  ASSERT_NE(fp_at, std::string::npos);
  meta[fp_at] = meta[fp_at] == '0' ? '1' : '0';
  ASSERT_TRUE(WriteStringToFile(dir + "/meta.safetensors", meta).ok());
  EXPECT_FALSE(CheckWeightsSnapshot(dir + "/meta.safetensors", w).ok());
  // Not there at all: the error names the file.
  auto missing = CheckWeightsSnapshot(dir + "/nope.safetensors", w);
  ASSERT_FALSE(missing.ok());
  EXPECT_TRUE(Contains(missing.status().message(), "nope.safetensors")) << missing.status().message();
}

TEST(SnapshotTest, AnotherTableIsRefusedNamingTheTensor) {
  ThreadingContext ctx(2);
  const std::string dir = testing::MakeTempDir("snapshot-shape");
  const ModelConfig config = testing::TinyConfig(Architecture::kLlama);
  ModelConfig wider = config;
  wider.intermediate_size = config.intermediate_size + 32;
  const ModelWeights w = testing::RandomWeights(config, 3);
  const ModelWeights other = testing::RandomWeights(wider, 3);
  ASSERT_TRUE(WriteWeightsSnapshot(other, dir + "/wider.safetensors", 1, ctx).ok());
  std::string first_diff;
  for (size_t i = 0; i < w.num_tensors() && first_diff.empty(); ++i)
    if (w.specs()[i].shape != other.specs()[i].shape) first_diff = w.specs()[i].name;
  ASSERT_FALSE(first_diff.empty());
  ModelWeights into = w.Clone();
  Status s = LoadWeightsSnapshot(dir + "/wider.safetensors", &into, ctx);
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(Contains(s.message(), first_diff) && Contains(s.message(), "wider.safetensors") &&
              Contains(s.message(), "shape"))
      << s.message();
  EXPECT_TRUE(testing::WeightsEqual(w, into)) << "refused before any value was read";

  // Missing tensor, wrong dtype, extra tensor, non-canonical order: all refused by name.
  const std::map<std::string, std::string> md{{"seedtune.fingerprint", FingerprintHex(ModelFingerprint(w, ctx))},
                                              {"seedtune.round", "1"}};
  auto tensors = [&](size_t skip, TensorDtype dtype_of_1) {
    std::vector<SafetensorsWriteTensor> t;
    for (size_t i = 0; i < w.num_tensors(); ++i)
      if (i != skip)
        t.push_back({w.specs()[i].name, w.specs()[i].shape, i == 1 ? dtype_of_1 : TensorDtype::kF32, w.data(i)});
    return t;
  };
  const std::string name1 = w.specs()[1].name, name2 = w.specs()[2].name;
  ASSERT_TRUE(WriteSafetensors(dir + "/missing.safetensors", tensors(2, TensorDtype::kF32), md).ok());
  s = LoadWeightsSnapshot(dir + "/missing.safetensors", &into, ctx);
  EXPECT_TRUE(!s.ok() && Contains(s.message(), name2) && Contains(s.message(), "missing")) << s.message();
  ASSERT_TRUE(WriteSafetensors(dir + "/f16.safetensors", tensors(w.num_tensors(), TensorDtype::kF16), md).ok());
  s = LoadWeightsSnapshot(dir + "/f16.safetensors", &into, ctx);
  EXPECT_TRUE(!s.ok() && Contains(s.message(), name1) && Contains(s.message(), "F16")) << s.message();
  auto extra = tensors(w.num_tensors(), TensorDtype::kF32);
  std::vector<float> one(3, 1.0f);
  extra.push_back({"extra.weight", {3}, TensorDtype::kF32, one.data()});
  ASSERT_TRUE(WriteSafetensors(dir + "/extra.safetensors", extra, md).ok());
  s = LoadWeightsSnapshot(dir + "/extra.safetensors", &into, ctx);
  EXPECT_TRUE(!s.ok() && Contains(s.message(), "extra.weight")) << s.message();
  auto swapped = tensors(w.num_tensors(), TensorDtype::kF32);
  std::swap(swapped[1], swapped[2]);
  ASSERT_TRUE(WriteSafetensors(dir + "/order.safetensors", swapped, md).ok());
  s = LoadWeightsSnapshot(dir + "/order.safetensors", &into, ctx);
  EXPECT_TRUE(!s.ok() && Contains(s.message(), "canonical")) << s.message();
  ASSERT_TRUE(WriteSafetensors(dir + "/nometa.safetensors", tensors(w.num_tensors(), TensorDtype::kF32)).ok());
  s = LoadWeightsSnapshot(dir + "/nometa.safetensors", &into, ctx);
  EXPECT_TRUE(!s.ok() && Contains(s.message(), "seedtune.fingerprint")) << s.message();
  EXPECT_TRUE(testing::WeightsEqual(w, into));
}

TEST(SnapshotTest, PathsBesideTheLedger) {
  EXPECT_EQ(SnapshotRelativePath("/data/runs/a.ledger", 12), "a.ledger.snapshots/round-12.safetensors");
  EXPECT_EQ(SnapshotRelativePath("a.ledger", 0), "a.ledger.snapshots/round-0.safetensors");
  EXPECT_EQ(ResolveSnapshotPath("/data/runs/a.ledger", "a.ledger.snapshots/round-12.safetensors"),
            "/data/runs/a.ledger.snapshots/round-12.safetensors");
  EXPECT_EQ(ResolveSnapshotPath("a.ledger", "a.ledger.snapshots/round-1.safetensors"),
            "a.ledger.snapshots/round-1.safetensors");
  EXPECT_TRUE(CheckSnapshotPath(SnapshotRelativePath("/x/y/run.ledger", 99)).ok());
}

TEST(SnapshotTest, SnapshotAfterRoundWritesTheFileThenTheReference) {
  ThreadingContext ctx(2);
  const std::string dir = testing::MakeTempDir("snapshot-after");
  const std::string ledger = dir + "/run.ledger";
  const ModelWeights w = testing::RandomWeights(testing::TinyConfig(Architecture::kOpt), 9);
  LedgerHeader h;
  h.base_fingerprint = FingerprintHex(ModelFingerprint(w, ctx));
  h.algorithm = "mezo";
  auto writer = LedgerWriter::Create(ledger, h, Durability::kNoFsync);
  ASSERT_TRUE(writer.ok());
  EXPECT_FALSE(SnapshotAfterRound(writer->get(), ledger, 1, w, ctx).ok()) << "no record of round 1 yet";
  EXPECT_FALSE(std::filesystem::exists(dir + "/run.ledger.snapshots")) << "refused before writing anything";
  LedgerRecord r;
  r.round = 1;
  r.updates = {{StepSeed(1, 1), 1e-3f, 1.0f}};
  ASSERT_TRUE((*writer)->Write(r).ok());
  EXPECT_FALSE(SnapshotAfterRound(writer->get(), ledger, 2, w, ctx).ok());
  Status s = SnapshotAfterRound(writer->get(), ledger, 1, w, ctx);
  ASSERT_TRUE(s.ok()) << s.ToString();
  ASSERT_TRUE((*writer)->Close().ok());
  auto c = ReadLedger(ledger);
  ASSERT_TRUE(c.ok());
  ASSERT_EQ(c->snapshots.size(), 1u);
  EXPECT_EQ(c->snapshots[0].round, 1u);
  EXPECT_EQ(c->snapshots[0].path, "run.ledger.snapshots/round-1.safetensors");
  EXPECT_EQ(c->snapshots[0].fingerprint, ModelFingerprint(w, ctx));
  auto info = CheckWeightsSnapshot(dir + "/run.ledger.snapshots/round-1.safetensors", w);
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_EQ(info->fingerprint, c->snapshots[0].fingerprint);
}

}  // namespace
}  // namespace seedtune
