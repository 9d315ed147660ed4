// This machine's own limits, measured in the same run as each benchmark, so
// every result is a ratio to what the hardware and the best library here do,
// never to the project's own code alone:
//   - the fp32 FMA peak of all threads, from a calibrated register-only loop
//     on the widest vector ISA the CPU reports;
//   - the best fp32 GEMM among the libraries present: OpenBLAS as it detects
//     this CPU (its core name is printed: Debian's 0.3.21 silently falls back
//     to SSE3 "Prescott" kernels on CPUs it does not know), OpenBLAS with its
//     core type forced to the one matching the ISA (measured in a child
//     process: the choice is made when the library loads), and oneDNN when the
//     benchmarks were built with it (the implementation it picked is printed);
//     plus seedtune's own GEMM, on the model's own shapes;
//   - memory bandwidth (a STREAM-style triad).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "core/threading.h"

namespace seedtune::bench {

inline double Seconds(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Benchmarks call this first: it runs the child mode used to measure a
// library under another environment, and returns true if it did (exit then).
bool RunChildMode(int argc, char** argv, int* exit_code);

// "Intel(R) Xeon(R) ... (family 6, model 207)" from /proc/cpuinfo.
std::string CpuModel();
// Widest vector ISA the CPU reports ("avx512", "avx2", "sse").
std::string VectorIsa();

// fp32 FMA GFLOP/s of ctx's threads all running the calibrated loop at once.
double MeasureFmaPeakGflops(ThreadingContext& ctx);

// Triad a[i] = b[i] + s * c[i] over arrays far larger than the caches, split
// over ctx's threads; counts 3 streams of 4 bytes per element. Best of reps.
double MeasureBandwidthGBs(ThreadingContext& ctx, size_t n = size_t{32} << 20, int reps = 5);

// Peak resident set size of this process so far (VmHWM), in bytes.
double PeakRssBytes();

// One linear layer: Y[m, n] = X[m, k] W[n, k]^T.
struct GemmShape {
  int64_t m, k, n;
};

struct GemmRate {
  std::string library;  // "OpenBLAS 0.3.21 (core Zen)", "oneDNN 2.6.3 (brg:avx512_core)", "seedtune ..."
  double gflops = 0.0;  // total flops of the shape list / best time of the list
};

// Every GEMM available here on `shapes` (run as one list, best of `reps`),
// with `threads` threads each: the libraries with their own threading, and
// seedtune's GEMM with weights pre-packed (as in a forward pass) on ctx.
std::vector<GemmRate> MeasureGemmRates(ThreadingContext& ctx, const std::vector<GemmShape>& shapes, int reps = 5);

// The limits a benchmark reports, measured together.
struct MachineLimits {
  std::string cpu, isa;
  double fma_peak_gflops = 0.0;
  double bandwidth_gbs = 0.0;
  std::vector<GemmRate> gemm;  // all measured
  // Best library rate (excluding seedtune's own) and best overall.
  double BestLibraryGflops() const;
  double BestGemmGflops() const;
  std::string BestGemmName() const;
  // Keeps, per entry, the better of two measurements (the host is shared).
  void Merge(const MachineLimits& other);
  void Print(int threads) const;
};
MachineLimits MeasureMachineLimits(ThreadingContext& ctx, const std::vector<GemmShape>& shapes);

}  // namespace seedtune::bench
