// FedKSeed on SmolLM2-135M (real weights): one simulated round's time split
// into the sampled client's local training (tau MeZO steps, batch 1, SST-2)
// and the replay of the round's update list, and how replay time grows with
// the number of changed seeds (fused multi-seed ApplyUpdates), next to this
// machine's memory bandwidth measured in the same run.
//
//   bench_fed [--tau N] [--quick]
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "core/assets.h"
#include "data/encode.h"
#include "data/task.h"
#include "fed/simulation.h"
#include "machine_limits.h"
#include "runtime/model_source.h"
#include "zo/update.h"

using namespace seedtune;

int main(int argc, char** argv) {
  int tau = 200;
  bool quick = false;
  for (int i = 1; i < argc; ++i) {
    if (std::string(argv[i]) == "--tau" && i + 1 < argc) tau = std::atoi(argv[++i]);
    if (std::string(argv[i]) == "--quick") quick = true;
  }
  auto path = FindAsset("models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf");
  const std::string spec = path ? *path : "random:smollm2-135m";
  auto weights = LoadModelSpec(spec);
  if (!weights.ok()) {
    std::fprintf(stderr, "bench_fed: %s\n", weights.status().ToString().c_str());
    return 1;
  }
  ThreadingContext ctx(0);
  std::printf("model            %s (%lld parameters)\n", spec.c_str(), static_cast<long long>(weights->num_params()));
  std::printf("machine memory   %.1f GB/s (triad, %d threads)\n", bench::MeasureBandwidthGBs(ctx), ctx.num_threads());

  // One FedKSeed round: one sampled client, tau local steps on SST-2.
  auto tok = LoadTokenizerForModel(spec, weights->config(), "");
  TaskOptions topts;
  topts.train_n = 400;
  topts.dev_n = 0;
  topts.eval_n = 0;
  auto task = LoadTask("sst2", "", topts);
  if (tok.ok() && task.ok()) {
    auto train = EncodeExamples(task->train, **tok, 128);
    std::vector<std::vector<EncodedExample>> clients(20);
    for (size_t i = 0; i < train->size(); ++i) clients[i % 20].push_back((*train)[i]);
    SimulationOptions o;
    o.algo = FedAlgorithm::kFedKSeed;
    o.rounds = 1;
    o.lr = 1e-7f;
    o.eps = 5e-4f;
    o.params = {{"K", 4096}, {"local-steps", quick ? 10.0 : static_cast<double>(tau)}, {"client-fraction", 0.05}};
    ModelWeights global = weights->Clone();
    auto t0 = std::chrono::steady_clock::now();
    auto r = RunSimulation(&global, ctx, clients, {}, task->train_objective, o);
    const double round_s = bench::Seconds(t0);
    if (r.ok()) {
      const auto& ups = r->rounds[0].updates;
      ModelWeights copy = weights->Clone();
      t0 = std::chrono::steady_clock::now();
      ApplyUpdates(&copy, ups, ZDistribution::kGaussian, ctx);
      const double replay_s = bench::Seconds(t0);
      std::printf("fedkseed round   1 client x %d local steps: %.1f s in all = local training %.1f s + server replay of "
                  "%zu changed seeds %.2f s (+ fingerprint)\n",
                  static_cast<int>(o.params.at("local-steps")), round_s, round_s - replay_s, ups.size(), replay_s);
      std::printf("payload          %.0f B up, %.0f B down per client\n", r->rounds[0].traffic.up_bits / 8.0,
                  r->rounds[0].traffic.down_bits / 8.0);
    }
  }

  // Replay time vs number of changed seeds.
  std::printf("%-14s %-10s %-22s\n", "changed seeds", "seconds", "G element-updates/s");
  for (int k : {1, 16, 64, 256, 1024, quick ? 1024 : 4096}) {
    std::vector<ZUpdate> ups;
    for (int j = 0; j < k; ++j) ups.push_back({StepSeed(3, static_cast<uint64_t>(j), 0x5eedu), 1e-9f, 1.0f});
    ModelWeights copy = weights->Clone();
    auto t0 = std::chrono::steady_clock::now();
    ApplyUpdates(&copy, ups, ZDistribution::kGaussian, ctx);
    const double s = bench::Seconds(t0);
    std::printf("%-14d %-10.2f %-22.2f\n", k, s, static_cast<double>(k) * weights->num_params() / s / 1e9);
    if (quick && k >= 1024) break;
  }
  return 0;
}
