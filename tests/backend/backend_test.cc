// The compute backends against each other. What must hold bit for bit on
// every backend (backend/backend.h): perturbed weights, updated masters and
// fingerprints. What holds bit for bit here although the interface does not
// demand it: the cpu backend on the scalar path equals the scalar backend,
// the scalar backend does not depend on the process-wide SIMD level, and its
// KV-cache decoding equals its full forward. What is only close: the cpu
// backend's forward values against the scalar backend's (the AVX2 row
// kernels round differently from the references; the GEMM does not).
#include "backend/backend.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "backend/cpu_backend.h"
#include "backend/scalar_backend.h"
#include "data/objective.h"
#include "fed/simulation.h"
#include "kernels/cpu.h"
#include "kernels/random.h"
#include "support/fixtures.h"
#include "support/reference_forward.h"
#include "train/mezo.h"
#include "zo/fingerprint.h"

namespace seedtune {
namespace {

using testing::RandomWeights;
using testing::TinyConfig;
using testing::WeightsEqual;

std::vector<int32_t> RandomTokens(int n, int64_t vocab, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<int32_t> t(static_cast<size_t>(n));
  for (auto& x : t) x = static_cast<int32_t>(rng() % static_cast<uint32_t>(vocab));
  return t;
}

std::vector<SequenceRequest> Batch(int64_t vocab) {
  std::vector<SequenceRequest> batch;
  for (int len : {9, 1, 23, 4}) {
    SequenceRequest r;
    r.tokens = RandomTokens(len, vocab, 100 + len);
    r.logit_positions = {-1, 0};
    r.score_end = len - 1;
    batch.push_back(r);
  }
  return batch;
}

std::unique_ptr<ComputeBackend> Make(BackendKind kind, const ModelWeights& w, ThreadingContext& ctx) {
  auto b = MakeBackend(kind, w, ctx);
  EXPECT_TRUE(b.ok()) << b.status().ToString();
  return b.ok() ? std::move(*b) : nullptr;
}

::testing::AssertionResult SameBits(const std::vector<float>& a, const std::vector<float>& b) {
  if (a.size() != b.size()) return ::testing::AssertionFailure() << a.size() << " vs " << b.size() << " values";
  for (size_t i = 0; i < a.size(); ++i)
    if (std::memcmp(&a[i], &b[i], 4) != 0)
      return ::testing::AssertionFailure() << "value " << i << ": " << a[i] << " vs " << b[i];
  return ::testing::AssertionSuccess();
}

::testing::AssertionResult SameOutputs(const std::vector<SequenceOutput>& a, const std::vector<SequenceOutput>& b) {
  if (a.size() != b.size()) return ::testing::AssertionFailure() << a.size() << " vs " << b.size() << " sequences";
  for (size_t s = 0; s < a.size(); ++s) {
    if (a[s].logits.size() != b[s].logits.size()) return ::testing::AssertionFailure() << "seq " << s;
    for (size_t j = 0; j < a[s].logits.size(); ++j)
      if (auto r = SameBits(a[s].logits[j], b[s].logits[j]); !r) return r << " (seq " << s << " logits " << j << ")";
    if (auto r = SameBits(a[s].token_logprobs, b[s].token_logprobs); !r) return r << " (seq " << s << " log-probs)";
  }
  return ::testing::AssertionSuccess();
}

// Largest |a - b| over every logit and log-prob.
double MaxDifference(const std::vector<SequenceOutput>& a, const std::vector<SequenceOutput>& b) {
  double d = 0.0;
  for (size_t s = 0; s < a.size(); ++s) {
    for (size_t j = 0; j < a[s].logits.size(); ++j)
      for (size_t v = 0; v < a[s].logits[j].size(); ++v)
        d = std::max(d, static_cast<double>(std::fabs(a[s].logits[j][v] - b[s].logits[j][v])));
    for (size_t j = 0; j < a[s].token_logprobs.size(); ++j)
      d = std::max(d, static_cast<double>(std::fabs(a[s].token_logprobs[j] - b[s].token_logprobs[j])));
  }
  return d;
}

// Restores the process-wide SIMD level when a test is done.
class SimdLevelGuard {
 public:
  SimdLevelGuard() : saved_(ActiveSimdLevel()) {}
  ~SimdLevelGuard() { SetActiveSimdLevel(saved_); }

 private:
  SimdLevel saved_;
};

// ---------------------------------------------------------------- registry

TEST(BackendRegistryTest, NamesParseAndMakeTheirKind) {
  const std::vector<std::string> names = BackendNames();
  ASSERT_EQ(names, (std::vector<std::string>{"cpu", "scalar"}));
  ModelWeights w = RandomWeights(TinyConfig(Architecture::kLlama), 1);
  ThreadingContext ctx(1);
  for (const std::string& name : names) {
    auto kind = ParseBackendKind(name);
    ASSERT_TRUE(kind.ok()) << name;
    EXPECT_EQ(BackendKindName(*kind), name);
    auto b = MakeBackend(name, w, ctx);
    ASSERT_TRUE(b.ok()) << b.status().ToString();
    EXPECT_EQ((*b)->kind(), *kind);
    EXPECT_EQ((*b)->name().rfind(name, 0), 0u) << (*b)->name();
    EXPECT_EQ(&(*b)->weights(), &w);
  }
  EXPECT_NE(BackendHelp().find("scalar"), std::string::npos);
}

TEST(BackendRegistryTest, UnknownNameIsAClearError) {
  ModelWeights w = RandomWeights(TinyConfig(Architecture::kLlama), 1);
  ThreadingContext ctx(1);
  for (const char* bad : {"gpu", "", "CPU", "cpu "}) {
    auto b = MakeBackend(std::string(bad), w, ctx);
    ASSERT_FALSE(b.ok()) << "'" << bad << "'";
    EXPECT_EQ(b.status().code(), StatusCode::kInvalidArgument);
    const std::string msg = b.status().message();
    std::string quoted = "'";  // (built in steps: GCC 12 warns falsely on "'" + std::string)
    quoted.append(bad).append("'");
    EXPECT_NE(msg.find(quoted), std::string::npos) << msg;
    EXPECT_NE(msg.find("cpu, scalar"), std::string::npos) << msg;
  }
}

// ---------------------------------------------------------------- forward

class BackendArchTest : public ::testing::TestWithParam<Architecture> {};

TEST_P(BackendArchTest, CpuForwardIsCloseToScalarAndScalarToTheIndependentReference) {
  const ModelConfig cfg = TinyConfig(GetParam());
  ModelWeights w = RandomWeights(cfg, 7, 0.08f);
  ThreadingContext ctx(2);
  auto cpu = Make(BackendKind::kCpu, w, ctx);
  auto scalar = Make(BackendKind::kScalar, w, ctx);
  const auto batch = Batch(cfg.vocab_size);
  auto a = cpu->Forward(batch);
  auto b = scalar->Forward(batch);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_LT(MaxDifference(*a, *b), 1e-4);
  auto pa = cpu->ForwardPair(batch, 99, 1e-2f, ZDistribution::kGaussian);
  auto pb = scalar->ForwardPair(batch, 99, 1e-2f, ZDistribution::kGaussian);
  ASSERT_TRUE(pa.ok() && pb.ok());
  EXPECT_LT(MaxDifference((*pa)[0], (*pb)[0]), 1e-4);
  EXPECT_LT(MaxDifference((*pa)[1], (*pb)[1]), 1e-4);
  // The perturbation is visible (the comparison above is not of equal inputs).
  EXPECT_GT(MaxDifference((*pb)[0], (*pb)[1]), 1e-3);

  // The scalar backend against tests/support's plain forward pass.
  SequenceRequest req;
  req.tokens = RandomTokens(13, cfg.vocab_size, 5);
  for (int p = 0; p < 13; ++p) req.logit_positions.push_back(p);
  auto out = scalar->Forward(std::span<const SequenceRequest>(&req, 1));
  ASSERT_TRUE(out.ok());
  const auto ref = testing::ReferenceLogits(w, req.tokens);
  double err = 0.0;
  for (int p = 0; p < 13; ++p)
    for (int64_t v = 0; v < cfg.vocab_size; ++v)
      err = std::max(err, static_cast<double>(std::fabs((*out)[0].logits[p][v] - ref[p][v])));
  EXPECT_LT(err, 2e-4);
}

TEST_P(BackendArchTest, CpuOnTheScalarPathIsBitIdenticalToTheScalarBackend) {
  const ModelConfig cfg = TinyConfig(GetParam());
  ModelWeights w = RandomWeights(cfg, 8, 0.08f);
  ThreadingContext ctx(2);
  auto scalar = Make(BackendKind::kScalar, w, ctx);
  const auto batch = Batch(cfg.vocab_size);
  auto want = scalar->Forward(batch);
  auto want_pair = scalar->ForwardPair(batch, 5, 1e-2f, ZDistribution::kRademacher);
  ASSERT_TRUE(want.ok() && want_pair.ok());
  SimdLevelGuard guard;
  SetActiveSimdLevel(SimdLevel::kScalar);
  auto cpu = Make(BackendKind::kCpu, w, ctx);
  EXPECT_EQ(cpu->name(), "cpu (scalar)");
  auto got = cpu->Forward(batch);
  auto got_pair = cpu->ForwardPair(batch, 5, 1e-2f, ZDistribution::kRademacher);
  ASSERT_TRUE(got.ok() && got_pair.ok());
  EXPECT_TRUE(SameOutputs(*want, *got));
  EXPECT_TRUE(SameOutputs((*want_pair)[0], (*got_pair)[0]));
  EXPECT_TRUE(SameOutputs((*want_pair)[1], (*got_pair)[1]));
}

TEST_P(BackendArchTest, ScalarBackendIgnoresTheProcessWideSimdLevel) {
  const ModelConfig cfg = TinyConfig(GetParam());
  ModelWeights w = RandomWeights(cfg, 9, 0.08f);
  ThreadingContext ctx(2);
  const auto batch = Batch(cfg.vocab_size);
  const Perturbation p{31, 1e-2f, ZDistribution::kGaussian};
  SimdLevelGuard guard;
  std::vector<SequenceOutput> first;
  for (SimdLevel level : SupportedSimdLevels()) {
    SetActiveSimdLevel(level);
    auto scalar = Make(BackendKind::kScalar, w, ctx);
    auto out = scalar->Forward(batch, &p);
    ASSERT_TRUE(out.ok());
    if (first.empty()) first = *out;
    EXPECT_TRUE(SameOutputs(first, *out)) << SimdLevelName(level);
  }
}

TEST_P(BackendArchTest, DecodeFollowsTheForward) {
  const ModelConfig cfg = TinyConfig(GetParam());
  ModelWeights w = RandomWeights(cfg, 10, 0.08f);
  ThreadingContext ctx(2);
  const auto tokens = RandomTokens(12, cfg.vocab_size, 6);
  SequenceRequest r;
  r.tokens = tokens;
  for (int p = 0; p < 12; ++p) r.logit_positions.push_back(p);
  std::vector<std::vector<float>> decoded[2];
  for (BackendKind kind : {BackendKind::kCpu, BackendKind::kScalar}) {
    auto b = Make(kind, w, ctx);
    auto full = b->Forward(std::span<const SequenceRequest>(&r, 1));
    ASSERT_TRUE(full.ok());
    KvCache cache(cfg, 12);
    std::vector<float> logits;
    auto& got = decoded[static_cast<int>(kind)];
    ASSERT_TRUE(b->Decode(cache, std::span<const int32_t>(tokens.data(), 4), &logits).ok());  // prefill
    got.push_back(logits);
    for (int p = 4; p < 12; ++p) {
      ASSERT_TRUE(b->Decode(cache, std::span<const int32_t>(tokens.data() + p, 1), &logits).ok());
      got.push_back(logits);
    }
    for (int p = 3; p < 12; ++p) {
      const auto& want = (*full)[0].logits[p];
      if (kind == BackendKind::kScalar) {
        // Every kernel of the scalar path computes a row from that row alone,
        // and a one-token step runs the GEMM contract's loop: exact.
        EXPECT_TRUE(SameBits(got[p - 3], want)) << "position " << p;
      } else {
        // One-token steps go through OpenBLAS, which keeps no such contract.
        for (int64_t v = 0; v < cfg.vocab_size; ++v) EXPECT_NEAR(got[p - 3][v], want[v], 1e-5) << p;
      }
    }
  }
  for (size_t i = 0; i < decoded[0].size(); ++i)
    for (int64_t v = 0; v < cfg.vocab_size; ++v) EXPECT_NEAR(decoded[0][i][v], decoded[1][i][v], 1e-4);
}

TEST_P(BackendArchTest, EveryResultIsBitIdenticalForOneTwoAndThreeThreads) {
  const ModelConfig cfg = TinyConfig(GetParam());
  const ModelWeights w = RandomWeights(cfg, 12, 0.08f);
  const auto batch = Batch(cfg.vocab_size);
  const std::vector<ZUpdate> ups = {{StepSeed(3, 1), 1e-2f, 0.99f}, {StepSeed(3, 2), -2e-2f, 1.0f}};
  const auto tokens = RandomTokens(6, cfg.vocab_size, 7);
  for (BackendKind kind : {BackendKind::kCpu, BackendKind::kScalar}) {
    struct Results {
      std::vector<SequenceOutput> forward, plus, minus;
      std::vector<float> decoded, perturbed;
      ModelWeights updated;
      uint64_t fingerprint = 0;
    };
    std::vector<Results> runs;
    for (int threads : {1, 2, 3}) {
      ThreadingContext ctx(threads);
      auto b = Make(kind, w, ctx);
      Results r;
      auto f = b->Forward(batch);
      auto pair = b->ForwardPair(batch, 77, 1e-2f, ZDistribution::kGaussian);
      ASSERT_TRUE(f.ok() && pair.ok());
      r.forward = *f;
      r.plus = (*pair)[0];
      r.minus = (*pair)[1];
      KvCache cache(cfg, 6);
      ASSERT_TRUE(b->Decode(cache, std::span<const int32_t>(tokens.data(), 5), &r.decoded).ok());
      ASSERT_TRUE(b->Decode(cache, std::span<const int32_t>(tokens.data() + 5, 1), &r.decoded).ok());
      const size_t big = w.index().token_embedding;
      r.perturbed.resize(static_cast<size_t>(w.specs()[big].numel()));
      b->MaterializePerturbed(big, Perturbation{41, 1e-2f, ZDistribution::kGaussian}, r.perturbed.data());
      r.updated = w.Clone();
      b->ApplyUpdates(&r.updated, ups, ZDistribution::kGaussian);
      r.fingerprint = b->Fingerprint(r.updated);
      runs.push_back(std::move(r));
    }
    for (size_t i = 1; i < runs.size(); ++i) {
      const std::string what = std::string(BackendKindName(kind)) + ", " + std::to_string(i + 1) + " threads";
      EXPECT_TRUE(SameOutputs(runs[0].forward, runs[i].forward)) << what;
      EXPECT_TRUE(SameOutputs(runs[0].plus, runs[i].plus)) << what;
      EXPECT_TRUE(SameOutputs(runs[0].minus, runs[i].minus)) << what;
      EXPECT_TRUE(SameBits(runs[0].decoded, runs[i].decoded)) << what;
      EXPECT_TRUE(SameBits(runs[0].perturbed, runs[i].perturbed)) << what;
      EXPECT_TRUE(WeightsEqual(runs[0].updated, runs[i].updated)) << what;
      EXPECT_EQ(runs[0].fingerprint, runs[i].fingerprint) << what;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Architectures, BackendArchTest,
                         ::testing::Values(Architecture::kLlama, Architecture::kOpt, Architecture::kGpt2,
                                           Architecture::kNeox),
                         [](const ::testing::TestParamInfo<Architecture>& info) {
                           switch (info.param) {
                             case Architecture::kLlama: return std::string("llama");
                             case Architecture::kOpt: return std::string("opt");
                             case Architecture::kGpt2: return std::string("gpt2");
                             case Architecture::kNeox: return std::string("neox");
                           }
                           return std::string("other");
                         });

// ------------------------------------------- perturbations, updates, hashes

// Every tensor as MaterializePerturbed gives it, in a copy of the model.
ModelWeights Materialized(ComputeBackend& b, const Perturbation& p) {
  ModelWeights out = b.weights().Clone();
  for (size_t t = 0; t < out.num_tensors(); ++t) b.MaterializePerturbed(t, p, out.data(t));
  return out;
}

TEST(BackendZoTest, MaterializePerturbedIsBitIdenticalAndIsWhatThePerturbedForwardSees) {
  const ModelConfig cfg = TinyConfig(Architecture::kOpt);  // biases, LayerNorms, learned positions
  const ModelWeights w = RandomWeights(cfg, 13, 0.08f);
  ThreadingContext ctx(2);
  auto cpu = Make(BackendKind::kCpu, w, ctx);
  auto scalar = Make(BackendKind::kScalar, w, ctx);
  const auto batch = Batch(cfg.vocab_size);
  for (ZDistribution dist : {ZDistribution::kGaussian, ZDistribution::kRademacher}) {
    const Perturbation p{StepSeed(8, 1), 3e-2f, dist};
    const ModelWeights a = Materialized(*cpu, p), b = Materialized(*scalar, p);
    EXPECT_TRUE(WeightsEqual(a, b)) << ZDistributionName(dist);
    // Against the definition, element by element on one tensor.
    const size_t t = w.index().blocks[1].up_w;
    std::vector<float> z(static_cast<size_t>(w.specs()[t].numel()));
    GenerateZReference(p.seed, static_cast<uint64_t>(w.canonical_index(t)), w.specs()[t].numel(), dist, z.data());
    for (size_t j = 0; j < z.size(); ++j)
      ASSERT_EQ(a.data(t)[j], std::fma(p.scale, z[j], w.data(t)[j])) << j;
    EXPECT_FALSE(WeightsEqual(w, a));
    // A perturbed forward computes exactly the plain forward of that copy
    // (the batch packs into 37 rows, so both run every linear layer as the
    // same GEMM).
    for (ComputeBackend* backend : {cpu.get(), scalar.get()}) {
      auto perturbed = backend->Forward(batch, &p);
      auto on_copy = Make(backend->kind(), a, ctx)->Forward(batch);
      ASSERT_TRUE(perturbed.ok() && on_copy.ok());
      EXPECT_TRUE(SameOutputs(*perturbed, *on_copy)) << backend->name() << " " << ZDistributionName(dist);
    }
  }
}

TEST(BackendZoTest, UpdatesAndFingerprintsAreBitIdenticalAcrossBackends) {
  for (Architecture arch : {Architecture::kLlama, Architecture::kGpt2}) {
    const ModelWeights w = RandomWeights(TinyConfig(arch), 14, 0.08f);
    ThreadingContext ctx(2);
    auto cpu = Make(BackendKind::kCpu, w, ctx);
    auto scalar = Make(BackendKind::kScalar, w, ctx);
    std::vector<ZUpdate> ups;
    for (uint32_t k = 0; k < 5; ++k)
      ups.push_back({StepSeed(21, 1, k), 1e-2f * (k % 2 ? -1.0f : 1.0f), k == 0 ? 0.995f : 1.0f});
    for (ZDistribution dist : {ZDistribution::kGaussian, ZDistribution::kRademacher}) {
      ModelWeights a = w.Clone(), b = w.Clone();
      cpu->ApplyUpdates(&a, ups, dist);
      scalar->ApplyUpdates(&b, ups, dist);
      EXPECT_TRUE(WeightsEqual(a, b)) << ZDistributionName(dist);
      EXPECT_FALSE(WeightsEqual(w, a));
      // The free function (what the ledger replay runs) agrees.
      ModelWeights c = w.Clone();
      ApplyUpdates(&c, ups, dist, ctx);
      EXPECT_TRUE(WeightsEqual(a, c));
      EXPECT_EQ(cpu->Fingerprint(a), scalar->Fingerprint(b));
      EXPECT_NE(cpu->Fingerprint(a), cpu->Fingerprint(w));
    }
  }
}

TEST(BackendZoTest, FingerprintIsTheHashOfTheCanonicalVector) {
  const ModelWeights w = RandomWeights(TinyConfig(Architecture::kNeox), 15, 0.08f);
  std::vector<float> canonical;
  for (size_t t = 0; t < w.num_tensors(); ++t) {
    ASSERT_EQ(w.canonical_index(t), static_cast<int64_t>(canonical.size()));
    canonical.insert(canonical.end(), w.tensor(t).begin(), w.tensor(t).end());
  }
  ThreadingContext ctx(3);
  for (BackendKind kind : {BackendKind::kCpu, BackendKind::kScalar})
    EXPECT_EQ(Make(kind, w, ctx)->Fingerprint(w), HashFloats(canonical.data(), static_cast<int64_t>(canonical.size())))
        << BackendKindName(kind);
}

// ------------------------------------------- the trainer and the federation

// Random classification examples over the tiny vocabulary.
std::vector<EncodedExample> RandomExamples(int n, int64_t vocab, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<EncodedExample> out;
  for (int i = 0; i < n; ++i) {
    std::vector<int32_t> prompt = RandomTokens(4 + static_cast<int>(rng() % 6), vocab, rng());
    EncodedExample ex;
    for (int c = 0; c < 2; ++c) {
      SequenceRequest r;
      r.tokens = prompt;
      r.tokens.push_back(static_cast<int32_t>(rng() % vocab));
      r.score_end = static_cast<int32_t>(r.tokens.size()) - 1;
      r.score_begin = r.score_end - 1;
      ex.candidates.push_back(r);
    }
    ex.label = static_cast<int>(rng() % 2);
    out.push_back(std::move(ex));
  }
  return out;
}

// A run on either backend records updates that the free ApplyUpdates (the
// ledger replay's) turns into the same model: what makes a scalar-backend
// client and a cpu-backend server agree.
TEST(BackendRunTest, MezoOnEitherBackendReplaysToItsFingerprint) {
  const ModelConfig cfg = TinyConfig(Architecture::kLlama);
  const ModelWeights base = RandomWeights(cfg, 16, 0.08f);
  const auto train = RandomExamples(12, cfg.vocab_size, 1), dev = RandomExamples(4, cfg.vocab_size, 2);
  ThreadingContext ctx(2);
  std::vector<double> first_losses;
  for (BackendKind kind : {BackendKind::kCpu, BackendKind::kScalar}) {
    MezoOptions o;
    o.steps = 4;
    o.batch_size = 3;
    o.lr = 1e-3f;
    o.eps = 1e-2f;
    o.weight_decay = 0.1f;
    o.keep_best = false;
    o.backend = kind;
    ModelWeights w = base.Clone();
    auto r = TrainMezo(&w, ctx, train, dev, Objective::kCandidateClassification, o);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    ModelWeights replay = base.Clone();
    for (const auto& s : r->steps) ApplyUpdates(&replay, s.updates, o.dist, ctx);
    EXPECT_TRUE(WeightsEqual(w, replay)) << BackendKindName(kind);
    EXPECT_EQ(r->final_fingerprint, FingerprintHex(ModelFingerprint(replay, ctx)));
    EXPECT_NE(r->final_fingerprint, FingerprintHex(ModelFingerprint(base, ctx)));
    first_losses.push_back(r->steps[0].loss);
  }
  EXPECT_NEAR(first_losses[0], first_losses[1], 1e-5);
}

TEST(BackendRunTest, SimulationOnTheScalarBackendReplaysOnTheCpu) {
  const ModelConfig cfg = TinyConfig(Architecture::kGpt2);
  const ModelWeights base = RandomWeights(cfg, 17, 0.08f);
  std::vector<std::vector<EncodedExample>> clients;
  for (uint32_t k = 0; k < 3; ++k) clients.push_back(RandomExamples(6, cfg.vocab_size, 10 + k));
  const auto dev = RandomExamples(4, cfg.vocab_size, 20);
  ThreadingContext ctx(2);
  for (FedAlgorithm algo : {FedAlgorithm::kFeedSign, FedAlgorithm::kFedKSeed}) {
    SimulationOptions o;
    o.algo = algo;
    o.rounds = 3;
    o.batch_size = 2;
    o.lr = 1e-3f;
    o.eps = 1e-2f;
    if (IsFedKSeed(algo)) o.params = {{"K", 8}, {"local-steps", 2}, {"client-fraction", 0.5}};
    o.replicas = true;  // every client's copy is checked against the global one
    o.backend = BackendKind::kScalar;
    ModelWeights global = base.Clone();
    auto r = RunSimulation(&global, ctx, clients, dev, Objective::kCandidateClassification, o);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    ModelWeights replay = base.Clone();
    auto cpu = Make(BackendKind::kCpu, replay, ctx);
    for (const auto& round : r->rounds) {
      cpu->ApplyUpdates(&replay, round.updates, o.dist);
      EXPECT_EQ(round.fingerprint, FingerprintHex(cpu->Fingerprint(replay))) << "round " << round.round;
    }
    EXPECT_EQ(r->final_fingerprint, FingerprintHex(ModelFingerprint(replay, ctx)));
    EXPECT_NE(r->final_fingerprint, FingerprintHex(ModelFingerprint(base, ctx)));
  }
}

}  // namespace
}  // namespace seedtune
