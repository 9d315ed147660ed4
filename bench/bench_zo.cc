// Zeroth-order core throughput, reported against this machine's limits
// measured in the same run:
//   1. Gaussian z generation fused with an axpy (theta += alpha z), elements/s
//      on all cores, vs. what the measured memory bandwidth allows
//      (8 bytes per element: read and write theta).
//   2. Multi-seed replay: 1024 (seed, alpha) updates over 10M parameters.
//   3. One MeZO step (forward at theta+eps z and theta-eps z sharing z, plus
//      the update) on SmolLM2-135M and a random-weight OPT-125M shape, batch
//      16 x 64 tokens, as a ratio to one plain forward pass of the same batch.
//
//   bench_zo [--quick]
#include <cstdio>
#include <algorithm>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "core/assets.h"
#include "kernels/random.h"
#include "machine_limits.h"
#include "model/transformer.h"
#include "runtime/model_source.h"
#include "zo/update.h"

using namespace seedtune;

namespace {

void BenchAxpy(ThreadingContext& ctx, double bandwidth_gbs) {
  const int64_t n = int64_t{64} << 20;  // 64M floats = 256 MB
  std::vector<float> theta(static_cast<size_t>(n), 0.01f);
  const int64_t chunk = 1 << 16;
  const size_t tasks = static_cast<size_t>(n / chunk);
  // The host is shared and its bandwidth varies from second to second: pair
  // each axpy timing with a bandwidth measurement taken right before it and
  // report the median of the per-pair ratios (and the best figures).
  std::vector<double> ratios;
  double best_rate = 0.0, best_bw = bandwidth_gbs;
  for (int rep = 0; rep < 7; ++rep) {
    const double bw = bench::MeasureBandwidthGBs(ctx, size_t{32} << 20, 2);
    auto t0 = std::chrono::steady_clock::now();
    ctx.ParallelFor(tasks, [&](size_t t, int) {
      AxpyZ(7 + rep, static_cast<uint64_t>(t) * chunk, chunk, ZDistribution::kGaussian, 1e-6f, theta.data() + t * chunk);
    });
    const double rate = n / bench::Seconds(t0);
    ratios.push_back(rate / (bw * 1e9 / 8.0));
    best_rate = std::max(best_rate, rate);
    best_bw = std::max(best_bw, bw);
  }
  std::sort(ratios.begin(), ratios.end());
  std::printf("z+axpy (gauss)   best %.2f G elements/s on %d threads; bandwidth (best %.1f GB/s) allows %.2f G/s; median "
              "paired ratio %.0f%% (range %.0f-%.0f%%; target >= 60%%)\n",
              best_rate / 1e9, ctx.num_threads(), best_bw, best_bw * 1e9 / 8.0 / 1e9, 100.0 * ratios[ratios.size() / 2],
              100.0 * ratios.front(), 100.0 * ratios.back());
  std::vector<float> z(static_cast<size_t>(1 << 20));
  double gen = 1e30;
  for (int rep = 0; rep < 5; ++rep) {
    auto t0 = std::chrono::steady_clock::now();
    ctx.ParallelFor(16, [&](size_t t, int) {
      GenerateZ(3 + rep, t << 16, 1 << 16, ZDistribution::kGaussian, z.data() + (t << 16));
    });
    gen = std::min(gen, bench::Seconds(t0));
  }
  const double gen_rate = (1 << 20) / gen;
  // z+axpy and replay can go no faster than z is generated: the ratio that
  // rate makes with the bandwidth allowance is the ceiling of both ratios.
  std::printf("z generation     %.2f G values/s (1M values, best of 5) = %.0f%% of the bandwidth allowance: the ceiling "
              "of z+axpy and replay\n",
              gen_rate / 1e9, 100.0 * gen_rate / (best_bw * 1e9 / 8.0));
}

void BenchReplay(ThreadingContext& ctx, double bandwidth_gbs) {
  // A Llama-shaped model of ~10M parameters (zero weights: replay cost does
  // not depend on the values).
  ModelConfig c;
  c.arch = Architecture::kLlama;
  c.vocab_size = 6656;
  c.hidden_size = 512;
  c.num_layers = 1;
  c.num_heads = 8;
  c.num_kv_heads = 8;
  c.head_dim = 64;
  c.intermediate_size = 1536;
  c.max_positions = 512;
  c.rope_layout = RopeLayout::kRotateHalf;
  c.rotary_dim = 64;
  auto small = ModelWeights::Allocate(c);
  if (!small.ok()) return;
  std::vector<ZUpdate> ups;
  for (int k = 0; k < 1024; ++k) ups.push_back({StepSeed(1, k), 1e-6f * (k % 3 - 1), 1.0f});
  auto t0 = std::chrono::steady_clock::now();
  ApplyUpdates(&*small, ups, ZDistribution::kGaussian, ctx);
  const double s = bench::Seconds(t0);
  const double rate = 1024.0 * small->num_params() / s;
  std::printf("replay           1024 seeds x %.1fM params in %.2f s = %.2f G element-updates/s = %.0f%% of an axpy's "
              "bandwidth allowance (%.1f GB/s; target >= 60%%)\n",
              small->num_params() / 1e6, s, rate / 1e9, 100.0 * rate / (bandwidth_gbs * 1e9 / 8.0), bandwidth_gbs);
}

void BenchStep(const std::string& spec, ThreadingContext& ctx) {
  auto weights = LoadModelSpec(spec);
  if (!weights.ok()) {
    std::printf("(%s: %s)\n", spec.c_str(), weights.status().ToString().c_str());
    return;
  }
  Transformer model(*weights, ctx);
  std::mt19937 rng(1);
  std::vector<SequenceRequest> batch(16);
  for (auto& r : batch) {
    r.tokens.resize(64);
    for (auto& t : r.tokens) t = static_cast<int32_t>(rng() % static_cast<uint32_t>(weights->config().vocab_size));
    r.score_end = 63;
  }
  (void)model.Forward(batch);
  (void)model.ForwardPair(batch, 1, 1e-3f);
  // Forward and step alternate, so both see the same state of a shared host;
  // medians of 5.
  std::vector<double> fwds, steps, upds;
  for (int rep = 0; rep < 5; ++rep) {
    auto t0 = std::chrono::steady_clock::now();
    (void)model.Forward(batch);
    fwds.push_back(bench::Seconds(t0));
    t0 = std::chrono::steady_clock::now();
    auto pair = model.ForwardPair(batch, StepSeed(9, rep), 1e-3f);
    auto t1 = std::chrono::steady_clock::now();
    const ZUpdate u{StepSeed(9, rep), -1e-7f, 1.0f};
    ApplyUpdates(&*weights, std::span<const ZUpdate>(&u, 1), ZDistribution::kGaussian, ctx);
    steps.push_back(bench::Seconds(t0));
    upds.push_back(bench::Seconds(t1));
  }
  auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  const double fwd = median(fwds), step = median(steps), upd = median(upds);
  std::printf("MeZO step        %-44s median forward %.3f s, step %.3f s (update %.3f s) -> %.2fx a forward (target "
              "<= 2.15)\n",
              weights->config().name.c_str(), fwd, step, upd, step / fwd);
}

}  // namespace

int main(int argc, char** argv) {
  if (int rc = 0; bench::RunChildMode(argc, argv, &rc)) return rc;
  const bool quick = argc > 1 && std::string(argv[1]) == "--quick";
  ThreadingContext ctx(0);
  const double bw = bench::MeasureBandwidthGBs(ctx);
  std::printf("machine memory   %.1f GB/s (triad, %d threads)\n", bw, ctx.num_threads());
  BenchAxpy(ctx, bw);
  BenchReplay(ctx, bw);
  if (quick) return 0;
  if (auto p = FindAsset("models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")) BenchStep(*p, ctx);
  BenchStep("random:opt-125m", ctx);
  return 0;
}
