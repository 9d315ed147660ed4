// This machine's own limits, measured in the same run as each benchmark so
// results are reported as ratios: SGEMM GFLOP/s (OpenBLAS on a large square
// problem, all threads) and memory bandwidth (a STREAM-style triad).
#pragma once

#include <cblas.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "core/threading.h"

extern "C" void openblas_set_num_threads(int num_threads);

namespace seedtune::bench {

inline double Seconds(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Best of `reps` runs of an n x n x n SGEMM with OpenBLAS's own threading.
inline double MeasureSgemmGflops(int threads, int n = 2048, int reps = 5) {
  std::vector<float> a(static_cast<size_t>(n) * n), b(a.size()), c(a.size());
  for (size_t i = 0; i < a.size(); ++i) a[i] = static_cast<float>(i % 7) * 0.01f, b[i] = static_cast<float>(i % 5) * 0.02f;
  openblas_set_num_threads(threads);
  double best = 0.0;
  for (int r = 0; r < reps; ++r) {
    auto t0 = std::chrono::steady_clock::now();
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, n, n, 1.0f, a.data(), n, b.data(), n, 0.0f, c.data(), n);
    best = std::max(best, 2.0 * n * n * n / Seconds(t0) / 1e9);
  }
  openblas_set_num_threads(1);
  return best;
}

// Triad a[i] = b[i] + s * c[i] over arrays far larger than the caches, split
// over `ctx`'s threads; counts 3 streams of 4 bytes per element. Best of reps.
inline double MeasureBandwidthGBs(ThreadingContext& ctx, size_t n = size_t{32} << 20, int reps = 5) {
  std::vector<float> a(n, 0.0f), b(n, 1.0f), c(n, 2.0f);
  const size_t chunks = 64;
  double best = 0.0;
  for (int r = 0; r < reps; ++r) {
    auto t0 = std::chrono::steady_clock::now();
    ctx.ParallelFor(chunks, [&](size_t t, int) {
      const size_t lo = n * t / chunks, hi = n * (t + 1) / chunks;
      for (size_t i = lo; i < hi; ++i) a[i] = b[i] + 0.5f * c[i];
    });
    best = std::max(best, 3.0 * 4.0 * n / Seconds(t0) / 1e9);
  }
  return best + a[n / 2] * 0.0;  // keep the stores alive
}

// Peak resident set size of this process so far (VmHWM), in bytes.
inline double PeakRssBytes() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stod(line.substr(6)) * 1024.0;
  }
  return 0.0;
}

}  // namespace seedtune::bench
