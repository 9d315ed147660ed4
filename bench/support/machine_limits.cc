#include "machine_limits.h"

#include <cblas.h>
#include <immintrin.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include <unistd.h>

#include "core/aligned.h"
#include "kernels/cpu.h"
#include "kernels/gemm.h"

#ifdef SEEDTUNE_HAVE_DNNL
#include <oneapi/dnnl/dnnl.hpp>
extern "C" void omp_set_num_threads(int);
#endif

extern "C" {
void openblas_set_num_threads(int num_threads);
char* openblas_get_corename(void);
char* openblas_get_config(void);
}

namespace seedtune::bench {

namespace {

using Clock = std::chrono::steady_clock;

// ---------------------------------------------------------------- FMA peak
// Independent accumulator chains, enough to cover FMA latency x throughput on
// current cores; the operands never leave the registers.
__attribute__((target("avx512f"))) double FmaLoopAvx512(int64_t iters) {
  __m512 acc[24];
  for (int i = 0; i < 24; ++i) acc[i] = _mm512_set1_ps(0.001f * i);
  const __m512 b = _mm512_set1_ps(0.9999f), c = _mm512_set1_ps(1e-6f);
  const auto t0 = Clock::now();
  for (int64_t it = 0; it < iters; ++it) {
#pragma GCC unroll 24
    for (int i = 0; i < 24; ++i) acc[i] = _mm512_fmadd_ps(acc[i], b, c);
  }
  const double s = Seconds(t0);
  alignas(64) float lanes[16];
  float sink = 0.0f;
  for (auto& a : acc) {
    _mm512_store_ps(lanes, a);
    sink += lanes[0];
  }
  volatile float keep = sink;
  (void)keep;
  return static_cast<double>(iters) * 24 * 16 * 2 / s / 1e9;
}

__attribute__((target("avx2,fma"))) double FmaLoopAvx2(int64_t iters) {
  __m256 acc[12];
  for (int i = 0; i < 12; ++i) acc[i] = _mm256_set1_ps(0.001f * i);
  const __m256 b = _mm256_set1_ps(0.9999f), c = _mm256_set1_ps(1e-6f);
  const auto t0 = Clock::now();
  for (int64_t it = 0; it < iters; ++it) {
#pragma GCC unroll 12
    for (int i = 0; i < 12; ++i) acc[i] = _mm256_fmadd_ps(acc[i], b, c);
  }
  const double s = Seconds(t0);
  alignas(32) float lanes[8];
  float sink = 0.0f;
  for (auto& a : acc) {
    _mm256_store_ps(lanes, a);
    sink += lanes[0];
  }
  volatile float keep = sink;
  (void)keep;
  return static_cast<double>(iters) * 12 * 8 * 2 / s / 1e9;
}

double FmaLoop(int64_t iters) {
  const SimdLevel level = DetectedSimdLevel();
  if (level == SimdLevel::kAvx512) return FmaLoopAvx512(iters);
  if (level == SimdLevel::kAvx2) return FmaLoopAvx2(iters);
  return 0.0;
}

// ---------------------------------------------------------------- GEMMs
struct Operands {
  std::vector<float> x, w, y;
};

std::vector<Operands> MakeOperands(const std::vector<GemmShape>& shapes) {
  std::vector<Operands> ops(shapes.size());
  for (size_t i = 0; i < shapes.size(); ++i) {
    const auto& s = shapes[i];
    ops[i].x.resize(static_cast<size_t>(s.m * s.k));
    ops[i].w.resize(static_cast<size_t>(s.n * s.k));
    ops[i].y.resize(static_cast<size_t>(s.m * s.n));
    for (size_t j = 0; j < ops[i].x.size(); ++j) ops[i].x[j] = static_cast<float>(j % 7) * 0.01f - 0.03f;
    for (size_t j = 0; j < ops[i].w.size(); ++j) ops[i].w[j] = static_cast<float>(j % 5) * 0.02f - 0.04f;
  }
  return ops;
}

double TotalFlops(const std::vector<GemmShape>& shapes) {
  double f = 0.0;
  for (const auto& s : shapes) f += 2.0 * s.m * s.n * s.k;
  return f;
}

// Best time of `reps` runs of fn over the whole list, as GFLOP/s.
template <typename F>
double BestRate(const std::vector<GemmShape>& shapes, int reps, F&& run_list) {
  run_list();  // warm-up
  double best = 1e30;
  for (int r = 0; r < reps; ++r) {
    const auto t0 = Clock::now();
    run_list();
    best = std::min(best, Seconds(t0));
  }
  return TotalFlops(shapes) / best / 1e9;
}

double OpenBlasRate(const std::vector<GemmShape>& shapes, int threads, int reps) {
  auto ops = MakeOperands(shapes);
  openblas_set_num_threads(threads);
  const double rate = BestRate(shapes, reps, [&] {
    for (size_t i = 0; i < shapes.size(); ++i) {
      const auto& s = shapes[i];
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(s.m), static_cast<int>(s.n),
                  static_cast<int>(s.k), 1.0f, ops[i].x.data(), static_cast<int>(s.k), ops[i].w.data(),
                  static_cast<int>(s.k), 0.0f, ops[i].y.data(), static_cast<int>(s.n));
    }
  });
  openblas_set_num_threads(1);  // seedtune's own rule: OpenBLAS single-threaded inside
  return rate;
}

std::string OpenBlasName() {
  std::string config = openblas_get_config();
  const std::string version = config.substr(0, config.find(' ', config.find(' ') + 1));
  return version + " (core " + openblas_get_corename() + ")";  // "OpenBLAS 0.3.21 (core Zen)"
}

// OpenBLAS's kernels for this ISA, whatever model number the CPU has.
const char* OpenBlasCoreForIsa() {
  const SimdLevel level = DetectedSimdLevel();
  if (level == SimdLevel::kAvx512) return "SkylakeX";
  if (level == SimdLevel::kAvx2) return "Haswell";
  return nullptr;
}

std::string ShapesArg(const std::vector<GemmShape>& shapes) {
  std::string s;
  char item[96];
  for (const auto& sh : shapes) {
    std::snprintf(item, sizeof item, "%s%ldx%ldx%ld", s.empty() ? "" : ",", static_cast<long>(sh.m),
                  static_cast<long>(sh.k), static_cast<long>(sh.n));
    s += item;
  }
  return s;
}

std::vector<GemmShape> ParseShapes(const std::string& arg) {
  std::vector<GemmShape> shapes;
  std::stringstream ss(arg);
  std::string item;
  while (std::getline(ss, item, ',')) {
    GemmShape s{};
    if (std::sscanf(item.c_str(), "%ldx%ldx%ld", &s.m, &s.k, &s.n) == 3) shapes.push_back(s);
  }
  return shapes;
}

// OpenBLAS with OPENBLAS_CORETYPE forced, in a child process of this binary.
GemmRate OpenBlasForcedRate(const std::vector<GemmShape>& shapes, int threads, int reps) {
  GemmRate r;
  const char* core = OpenBlasCoreForIsa();
  if (core == nullptr) return r;
  char self[4096] = {};
  if (readlink("/proc/self/exe", self, sizeof self - 1) <= 0) return r;
  const std::string cmd = std::string("OPENBLAS_CORETYPE=") + core + " '" + self + "' --machine-limits-child " +
                          ShapesArg(shapes) + " " + std::to_string(threads) + " " + std::to_string(reps);
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return r;
  char buf[512] = {};
  std::string out;
  while (std::fgets(buf, sizeof buf, p) != nullptr) out += buf;
  pclose(p);
  double rate = 0.0;
  char name[256] = {};
  if (std::sscanf(out.c_str(), "%lf %255[^\n]", &rate, name) == 2) {
    r.library = std::string(name) + ", forced OPENBLAS_CORETYPE=" + core;
    r.gflops = rate;
  }
  return r;
}

#ifdef SEEDTUNE_HAVE_DNNL
// oneDNN matmul with the weights reordered into the layout it picks (as a
// framework would keep them); the reorder is not timed.
GemmRate DnnlRate(const std::vector<GemmShape>& shapes, int threads, int reps) {
  using namespace dnnl;
  omp_set_num_threads(threads);
  engine eng(engine::kind::cpu, 0);
  stream st(eng);
  auto ops = MakeOperands(shapes);
  std::vector<matmul> prims;
  std::vector<std::unordered_map<int, memory>> args(shapes.size());
  std::string impl;
  for (size_t i = 0; i < shapes.size(); ++i) {
    const auto& s = shapes[i];
    memory::desc src({s.m, s.k}, memory::data_type::f32, memory::format_tag::ab);
    memory::desc wei_any({s.k, s.n}, memory::data_type::f32, memory::format_tag::any);
    memory::desc wei_plain({s.k, s.n}, memory::data_type::f32, memory::format_tag::ba);  // W[n, k] row-major
    memory::desc dst({s.m, s.n}, memory::data_type::f32, memory::format_tag::ab);
    matmul::primitive_desc pd(matmul::desc(src, wei_any, dst), eng);
    if (impl.empty()) impl = pd.impl_info_str();
    memory wplain(wei_plain, eng, ops[i].w.data()), wpacked(pd.weights_desc(), eng);
    reorder(wplain, wpacked).execute(st, wplain, wpacked);
    args[i] = {{DNNL_ARG_SRC, memory(src, eng, ops[i].x.data())},
               {DNNL_ARG_WEIGHTS, wpacked},
               {DNNL_ARG_DST, memory(dst, eng, ops[i].y.data())}};
    prims.emplace_back(pd);
  }
  st.wait();
  GemmRate r;
  r.gflops = BestRate(shapes, reps, [&] {
    for (size_t i = 0; i < prims.size(); ++i) prims[i].execute(st, args[i]);
    st.wait();
  });
  const dnnl_version_t* v = dnnl_version();
  r.library = "oneDNN " + std::to_string(v->major) + "." + std::to_string(v->minor) + "." + std::to_string(v->patch) +
              " (" + impl + ")";
  return r;
}
#endif

GemmRate OwnRate(ThreadingContext& ctx, const std::vector<GemmShape>& shapes, int reps) {
  const SimdLevel level = ActiveSimdLevel();
  const int nr = GemmGeometryFor(level).nr;
  auto ops = MakeOperands(shapes);
  std::vector<AlignedVector<float>> packed(shapes.size());
  for (size_t i = 0; i < shapes.size(); ++i) {
    packed[i].resize(PackedWeightFloats(shapes[i].n, shapes[i].k, nr));
    PackWeightRows(ops[i].w.data(), shapes[i].n, shapes[i].k, nr, 0, packed[i].data());
  }
  GemmRate r;
  r.library = GemmKernelName(level);
  r.gflops = BestRate(shapes, reps, [&] {
    for (size_t i = 0; i < shapes.size(); ++i)
      GemmPacked(ctx, level, ops[i].x.data(), shapes[i].m, shapes[i].k, packed[i].data(), shapes[i].n, nullptr,
                 ops[i].y.data());
  });
  return r;
}

bool IsOwn(const GemmRate& r) { return r.library.rfind("seedtune", 0) == 0; }

}  // namespace

bool RunChildMode(int argc, char** argv, int* exit_code) {
  if (argc < 5 || std::strcmp(argv[1], "--machine-limits-child") != 0) return false;
  const auto shapes = ParseShapes(argv[2]);
  const double rate = OpenBlasRate(shapes, std::atoi(argv[3]), std::atoi(argv[4]));
  std::printf("%.3f %s\n", rate, OpenBlasName().c_str());
  *exit_code = shapes.empty() ? 1 : 0;
  return true;
}

std::string CpuModel() {
  std::ifstream in("/proc/cpuinfo");
  std::string line, name = "unknown CPU", family, model;
  while (std::getline(in, line)) {
    auto value = [&] { return line.substr(line.find(':') + 2); };
    if (line.rfind("model name", 0) == 0 && name == "unknown CPU") name = value();
    else if (line.rfind("cpu family", 0) == 0 && family.empty()) family = value();
    else if (line.rfind("model\t", 0) == 0 && model.empty()) model = value();
  }
  return name + " (family " + family + ", model " + model + ")";
}

std::string VectorIsa() {
  const SimdLevel level = DetectedSimdLevel();
  return level == SimdLevel::kAvx512 ? "avx512" : level == SimdLevel::kAvx2 ? "avx2+fma" : "sse";
}

double MeasureFmaPeakGflops(ThreadingContext& ctx) {
  const int threads = ctx.num_threads();
  double best = 0.0;
  for (int rep = 0; rep < 3; ++rep) {
    std::vector<double> rates(static_cast<size_t>(threads));
    std::vector<std::thread> pool;
    for (int t = 1; t < threads; ++t) pool.emplace_back([&, t] { rates[t] = FmaLoop(int64_t{40} << 20); });
    rates[0] = FmaLoop(int64_t{40} << 20);
    for (auto& th : pool) th.join();
    double sum = 0.0;
    for (double r : rates) sum += r;
    best = std::max(best, sum);
  }
  return best;
}

double MeasureBandwidthGBs(ThreadingContext& ctx, size_t n, int reps) {
  std::vector<float> a(n, 0.0f), b(n, 1.0f), c(n, 2.0f);
  const size_t chunks = 64;
  double best = 0.0;
  for (int r = 0; r < reps; ++r) {
    auto t0 = Clock::now();
    ctx.ParallelFor(chunks, [&](size_t t, int) {
      const size_t lo = n * t / chunks, hi = n * (t + 1) / chunks;
      for (size_t i = lo; i < hi; ++i) a[i] = b[i] + 0.5f * c[i];
    });
    best = std::max(best, 3.0 * 4.0 * n / Seconds(t0) / 1e9);
  }
  return best + a[n / 2] * 0.0;  // keep the stores alive
}

double PeakRssBytes() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stod(line.substr(6)) * 1024.0;
  }
  return 0.0;
}

std::vector<GemmRate> MeasureGemmRates(ThreadingContext& ctx, const std::vector<GemmShape>& shapes, int reps) {
  const int threads = ctx.num_threads();
  std::vector<GemmRate> rates;
  rates.push_back(GemmRate{OpenBlasName(), OpenBlasRate(shapes, threads, reps)});
  if (GemmRate forced = OpenBlasForcedRate(shapes, threads, reps); forced.gflops > 0) rates.push_back(forced);
#ifdef SEEDTUNE_HAVE_DNNL
  rates.push_back(DnnlRate(shapes, threads, reps));
#endif
  rates.push_back(OwnRate(ctx, shapes, reps));
  return rates;
}

double MachineLimits::BestLibraryGflops() const {
  double best = 0.0;
  for (const auto& r : gemm)
    if (!IsOwn(r)) best = std::max(best, r.gflops);
  return best;
}

double MachineLimits::BestGemmGflops() const {
  double best = 0.0;
  for (const auto& r : gemm) best = std::max(best, r.gflops);
  return best;
}

std::string MachineLimits::BestGemmName() const {
  const GemmRate* best = nullptr;
  for (const auto& r : gemm)
    if (best == nullptr || r.gflops > best->gflops) best = &r;
  return best != nullptr ? best->library : "none";
}

void MachineLimits::Merge(const MachineLimits& o) {
  fma_peak_gflops = std::max(fma_peak_gflops, o.fma_peak_gflops);
  bandwidth_gbs = std::max(bandwidth_gbs, o.bandwidth_gbs);
  for (auto& r : gemm)
    for (const auto& q : o.gemm)
      if (q.library == r.library) r.gflops = std::max(r.gflops, q.gflops);
}

void MachineLimits::Print(int threads) const {
  std::printf("cpu              %s, %s, %d threads\n", cpu.c_str(), isa.c_str(), threads);
  std::printf("fma peak         %.1f GFLOP/s (calibrated register loop, all threads)\n", fma_peak_gflops);
  std::printf("memory           %.1f GB/s (triad)\n", bandwidth_gbs);
  for (const auto& r : gemm)
    std::printf("gemm             %6.1f GFLOP/s = %3.0f%% of FMA peak  %s\n", r.gflops,
                100.0 * r.gflops / std::max(1e-9, fma_peak_gflops), r.library.c_str());
}

MachineLimits MeasureMachineLimits(ThreadingContext& ctx, const std::vector<GemmShape>& shapes) {
  MachineLimits lim;
  lim.cpu = CpuModel();
  lim.isa = VectorIsa();
  lim.fma_peak_gflops = MeasureFmaPeakGflops(ctx);
  lim.bandwidth_gbs = MeasureBandwidthGBs(ctx);
  lim.gemm = MeasureGemmRates(ctx, shapes);
  return lim;
}

}  // namespace seedtune::bench
