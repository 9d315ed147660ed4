// Forward-pass throughput: batch 16 x 64 tokens, full next-token loss (the
// vocabulary projection at every position), on a real model (SmolLM2-135M,
// dequantized from its GGUF) or a random-weight model with a real shape
// (random:opt-125m). Reports tokens/s and GFLOP/s as ratios to this machine's
// limits measured in the same run (support/machine_limits.h: FMA peak, every
// GEMM library present on the model's own shapes, bandwidth), and peak memory
// against the fp32 weight size. One model per process, so the peak memory is that model's.
//
//   bench_forward [MODEL ...]   (default: SmolLM2 if present, and random:opt-125m)
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "core/assets.h"
#include "machine_limits.h"
#include "kernels/cpu.h"
#include "kernels/gemm.h"
#include "model/transformer.h"
#include "runtime/model_source.h"

using namespace seedtune;

namespace {

constexpr int kBatch = 16, kSeqLen = 64, kReps = 5;

// One block's linear layers on `rows` rows, plus one vocabulary tile of the
// LM head on `head_rows` rows: the GEMMs a forward pass is made of.
std::vector<bench::GemmShape> ModelGemmShapes(const ModelConfig& c, int64_t rows, int64_t head_rows) {
  const int64_t d = c.hidden_size, qd = c.num_heads * c.head_dim, kvd = c.num_kv_heads * c.head_dim;
  const int64_t f = c.intermediate_size;
  std::vector<bench::GemmShape> s = {{rows, d, qd}, {rows, d, kvd}, {rows, d, kvd}, {rows, qd, d}, {rows, d, f}};
  if (c.arch == Architecture::kLlama) s.push_back({rows, d, f});  // gate and up
  s.push_back({rows, f, d});
  s.push_back({head_rows, d, std::min<int64_t>(2048, c.vocab_size)});
  return s;
}

int RunOne(const std::string& spec) {
  auto weights = LoadModelSpec(spec);
  if (!weights.ok()) {
    std::fprintf(stderr, "bench_forward: %s: %s\n", spec.c_str(), weights.status().ToString().c_str());
    return 1;
  }
  const double weight_bytes = weights->num_params() * 4.0;
  ThreadingContext ctx(0);
  Transformer model(*weights, ctx);
  std::mt19937 rng(1);
  std::vector<SequenceRequest> batch(kBatch);
  std::vector<int64_t> lengths;
  for (auto& r : batch) {
    r.tokens.resize(kSeqLen);
    for (auto& t : r.tokens) t = static_cast<int32_t>(rng() % static_cast<uint32_t>(weights->config().vocab_size));
    r.score_end = kSeqLen - 1;
    lengths.push_back(kSeqLen);
  }
  const double flops = 2.0 * model.ForwardMacs(lengths, kBatch * (kSeqLen - 1));
  (void)model.Forward(batch);  // warm-up (workspace allocation)
  double best = 1e30, total = 0.0;
  std::vector<double> times;
  for (int r = 0; r < kReps; ++r) {
    auto t0 = std::chrono::steady_clock::now();
    auto out = model.Forward(batch);
    const double s = bench::Seconds(t0);
    if (!out.ok()) {
      std::fprintf(stderr, "bench_forward: %s\n", out.status().ToString().c_str());
      return 1;
    }
    best = std::min(best, s);
    total += s;
    times.push_back(s);
  }
  // Peak memory of loading + forward, read before the machine-limit
  // measurements below allocate their own large arrays.
  const double peak = bench::PeakRssBytes();
  // The host is shared: measure the limits, time the forward again, measure
  // again; the best forward is compared with the best of each limit.
  const auto shapes = ModelGemmShapes(weights->config(), kBatch * kSeqLen, kBatch * (kSeqLen - 1));
  bench::MachineLimits lim = bench::MeasureMachineLimits(ctx, shapes);
  for (int r = 0; r < kReps; ++r) {
    auto t0 = std::chrono::steady_clock::now();
    (void)model.Forward(batch);
    const double s = bench::Seconds(t0);
    best = std::min(best, s);
    times.push_back(s);
  }
  lim.Merge(bench::MeasureMachineLimits(ctx, shapes));
  const double gflops_best = flops / best / 1e9;
  std::printf("model            %s\n", weights->config().name.empty() ? spec.c_str() : weights->config().name.c_str());
  std::printf("source           %s\n", spec.c_str());
  std::printf("parameters       %lld (fp32 %.1f MB)\n", static_cast<long long>(weights->num_params()), weight_bytes / 1e6);
  lim.Print(ctx.num_threads());
  std::printf("gemm shapes      the model's own: one block's linear layers on %d rows + a %d-row vocabulary tile\n",
              kBatch * kSeqLen, 2048);
  std::printf("batch            %d x %d tokens, loss at every position (vocab projection on %d rows)\n", kBatch,
              kSeqLen, kBatch * (kSeqLen - 1));
  std::sort(times.begin(), times.end());
  std::printf("forward          best %.3f s, median %.3f s of %zu runs (mean of the first %d: %.3f s), GEMM path %s\n",
              best, times[times.size() / 2], times.size(), kReps, total / kReps, GemmKernelName(ActiveSimdLevel()));
  std::printf("throughput       %.0f tokens/s, %.1f GFLOP/s (%.2f GFLOP per pass)\n", kBatch * kSeqLen / best,
              gflops_best, flops / 1e9);
  std::printf("vs best GEMM     %.0f%% of the best library GEMM here (%.1f GFLOP/s), %.0f%% of the best GEMM of all "
              "(%s); %.0f%% of FMA peak (target >= 85%% of the best)\n",
              100.0 * gflops_best / lim.BestLibraryGflops(), lim.BestLibraryGflops(),
              100.0 * gflops_best / lim.BestGemmGflops(), lim.BestGemmName().c_str(),
              100.0 * gflops_best / lim.fma_peak_gflops);
  std::printf("peak memory      %.1f MB = %.2fx the fp32 weights\n\n", peak / 1e6, peak / weight_bytes);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (int rc = 0; bench::RunChildMode(argc, argv, &rc)) return rc;
  std::vector<std::string> specs(argv + 1, argv + argc);
  if (specs.empty()) {
    if (auto p = FindAsset("models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")) specs.push_back(*p);
    else std::printf("(SmolLM2 GGUF not found: run `make assets`; benchmarking random shapes only)\n");
    specs.push_back("random:opt-125m");
  }
  if (specs.size() == 1) return RunOne(specs[0]);
  int rc = 0;
  for (const auto& s : specs) {  // one process per model: peak memory is per model
    std::fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
      const int child_rc = RunOne(s);
      std::fflush(stdout);
      _exit(child_rc);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) rc = 1;
  }
  return rc;
}
