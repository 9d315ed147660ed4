// Seed-ledger replay (what `seedtune ledger export` spends its time on) on
// SmolLM2-135M's shape, reported against this machine's limits measured in
// the same run: memory bandwidth (STREAM triad) and the rate at which it
// generates Gaussian z (the floor of replaying one update: every parameter
// needs its z value).
//
// Two synthetic ledgers, drawn as the runs would write them:
//   (a) MeZO: 1000 steps, one (seed, alpha) update per record, a fingerprint
//       every 10 steps (train's default --fingerprint-every);
//   (b) FedKSeed: 40 rounds, K = 4096 candidate seeds, 10 clients x tau = 200
//       local steps per round, each drawing a candidate uniformly: about 1585
//       changed seeds per round, applied as one fused multi-seed update list,
//       with a fingerprint per round.
// Both are written to disk (sizes printed beside the fp32 weight sizes). A
// bounded subset of each is replayed through ReplayLedger and timed; the
// full-ledger time is extrapolated from the time per update plus one
// fingerprint per fingerprinted record. Then a snapshot is written, the
// subset is replayed starting from a snapshot at its midpoint, and one
// snapshot load is timed; the full-ledger time with a snapshot at the
// midpoint is extrapolated the same way.
//
//   bench_ledger [--mezo-records N] [--fed-records N] [--fed-updates N] [--full] [--model SPEC]
//
// Defaults (a few minutes): 20 MeZO records; 1 FedKSeed round capped at its
// first 128 updates. --full replays both ledgers entirely (1000 MeZO records,
// 40 x ~1585 FedKSeed updates: hours on a small machine). --fed-updates 0
// replays whole rounds. --model replaces SmolLM2-135M (e.g.
// models/stories260K/stories260K.bin for a quick check).
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include <unistd.h>

#include "core/assets.h"
#include "kernels/random.h"
#include "ledger/ledger.h"
#include "ledger/replay.h"
#include "ledger/snapshot.h"
#include "machine_limits.h"
#include "model/arch.h"
#include "model/presets.h"
#include "runtime/model_source.h"
#include "zo/fingerprint.h"
#include "zo/update.h"

using namespace seedtune;

namespace {

struct Args {
  int64_t mezo_records = 20, fed_records = 1, fed_updates = 128;
  bool full = false;
  std::string model;
};

struct Limits {
  double bandwidth_gbs = 0;  // triad
  double zgen_per_s = 0;     // Gaussian z values per second, all threads
};

// As bench_zo measures it: 1M values (cache-resident) over all threads, best of 5.
double MeasureZRate(ThreadingContext& ctx) {
  const int64_t n = int64_t{1} << 20;
  std::vector<float> z(static_cast<size_t>(n));
  const int64_t chunk = 1 << 16;
  double best = 1e30;
  for (int rep = 0; rep < 5; ++rep) {
    auto t0 = std::chrono::steady_clock::now();
    ctx.ParallelFor(static_cast<size_t>(n / chunk), [&](size_t t, int) {
      GenerateZ(11 + rep, t * chunk, chunk, ZDistribution::kGaussian, z.data() + t * chunk);
    });
    best = std::min(best, bench::Seconds(t0));
  }
  return n / best;
}

double MedianSeconds(int reps, const std::function<void()>& f) {
  std::vector<double> t;
  for (int i = 0; i < reps; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    f();
    t.push_back(bench::Seconds(t0));
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

std::string Bytes(double b) {
  const char* units[] = {"B", "KB", "MB", "GB"};
  int u = 0;
  while (b >= 1024 && u < 3) b /= 1024, ++u;
  return fmt::format("{:.1f} {}", b, units[u]);
}

std::string Duration(double s) {
  if (s < 120) return fmt::format("{:.1f} s", s);
  if (s < 7200) return fmt::format("{:.1f} min", s / 60);
  return fmt::format("{:.2f} h", s / 3600);
}

// (a) MeZO: one update per step; g ~ N(0, 30^2) scaled by lr 1e-6.
std::vector<LedgerRecord> MezoRecords(int64_t steps) {
  std::mt19937_64 rng(1);
  std::normal_distribution<float> g(0.0f, 30.0f);
  std::vector<LedgerRecord> out;
  for (int64_t s = 1; s <= steps; ++s) {
    LedgerRecord r;
    r.round = static_cast<uint64_t>(s);
    r.updates = {ZUpdate{StepSeed(42, static_cast<uint64_t>(s)), -1e-6f * g(rng), 1.0f}};
    r.participants = {0};
    r.has_fingerprint = s % 10 == 0 || s == steps;
    r.fingerprint = rng();  // a placeholder of the right size: the bench replays without checking
    out.push_back(std::move(r));
  }
  return out;
}

// (b) FedKSeed: per round, 10 clients x tau local steps each pick one of K
// candidate seeds uniformly; the server sums each changed seed's scalars
// (weighted by the clients' equal data shares) and applies the changed seeds
// in candidate order.
std::vector<LedgerRecord> FedKSeedRecords(int rounds, int k, int clients, int tau) {
  std::mt19937_64 rng(2);
  std::normal_distribution<double> g(0.0, 30.0);
  std::vector<uint64_t> candidates;
  for (int j = 0; j < k; ++j) candidates.push_back(StepSeed(7, static_cast<uint64_t>(j), 0x5eedu));
  std::vector<LedgerRecord> out;
  for (int round = 1; round <= rounds; ++round) {
    std::vector<double> delta(static_cast<size_t>(k), 0.0);
    std::vector<char> changed(static_cast<size_t>(k), 0);
    for (int c = 0; c < clients; ++c)
      for (int t = 0; t < tau; ++t) {
        const size_t j = static_cast<size_t>(rng() % static_cast<uint64_t>(k));
        delta[j] += -1e-7 * g(rng) / clients;
        changed[j] = 1;
      }
    LedgerRecord r;
    r.round = static_cast<uint64_t>(round);
    for (int j = 0; j < k; ++j)
      if (changed[j]) r.updates.push_back({candidates[j], static_cast<float>(delta[j]), 1.0f});
    for (int c = 0; c < clients; ++c) r.participants.push_back(static_cast<uint32_t>(c));
    r.has_fingerprint = true;
    r.fingerprint = rng();
    out.push_back(std::move(r));
  }
  return out;
}

uint64_t WriteLedgerFile(const std::string& path, const LedgerHeader& h, const std::vector<LedgerRecord>& records) {
  std::filesystem::remove(path);
  auto w = LedgerWriter::Create(path, h, Durability::kNoFsync);
  if (!w.ok()) {
    std::fprintf(stderr, "bench_ledger: %s\n", w.status().ToString().c_str());
    std::exit(1);
  }
  for (const auto& r : records) (void)(*w)->Write(r);
  (void)(*w)->Close();
  return std::filesystem::file_size(path);
}

int64_t CountUpdates(const std::vector<LedgerRecord>& records) {
  int64_t n = 0;
  for (const auto& r : records) n += static_cast<int64_t>(r.updates.size());
  return n;
}

// Replays `records` (the bounded subset) from the base through ReplayLedger
// (no fingerprint checks: the synthetic ledgers carry placeholders), timed.
double TimeReplay(const ModelWeights& base, const LedgerHeader& h, const std::vector<LedgerRecord>& records,
                  ThreadingContext& ctx) {
  LedgerContents c;
  c.header = h;
  c.records = records;
  ModelWeights w = base.Clone();
  auto t0 = std::chrono::steady_clock::now();
  auto r = ReplayLedger(c, &w, ctx, /*verify=*/false);
  const double s = bench::Seconds(t0);
  if (!r.ok()) std::fprintf(stderr, "replay: %s\n", r.status().ToString().c_str());
  return s;
}

struct Measured {
  double per_update = 0;  // seconds per update, fingerprint costs removed
  double subset_seconds = 0;
  int64_t subset_updates = 0;
};

Measured MeasureLedger(const char* label, const ModelWeights& base, const LedgerHeader& h,
                       const std::vector<LedgerRecord>& subset, double fp_seconds, const Limits& lim,
                       ThreadingContext& ctx) {
  Measured m;
  m.subset_updates = CountUpdates(subset);
  m.subset_seconds = TimeReplay(base, h, subset, ctx);
  // ReplayLedger fingerprints the base (header check) and the result.
  m.per_update = std::max(1e-9, (m.subset_seconds - 2 * fp_seconds) / std::max<int64_t>(1, m.subset_updates));
  const double n = static_cast<double>(base.num_params());
  const double z_floor = n / lim.zgen_per_s, mem_floor = 8.0 * n / (lim.bandwidth_gbs * 1e9);
  std::printf("%-9s replayed %zu records (%lld updates) in %.2f s: %.3g ms per update = %.2f G element-updates/s "
              "= %.0f%% of the z-generation rate (floor %.3g ms per update; one pass over the weights at the measured "
              "bandwidth: %.3g ms)\n",
              label, subset.size(), static_cast<long long>(m.subset_updates), m.subset_seconds, 1e3 * m.per_update,
              n / m.per_update / 1e9, 100.0 * z_floor / m.per_update, 1e3 * z_floor, 1e3 * mem_floor);
  return m;
}

}  // namespace

int main(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string s = argv[i];
    auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (s == "--mezo-records") a.mezo_records = std::atoll(next().c_str());
    else if (s == "--fed-records") a.fed_records = std::atoll(next().c_str());
    else if (s == "--fed-updates") a.fed_updates = std::atoll(next().c_str());
    else if (s == "--full") a.full = true;
    else if (s == "--model") a.model = next();
    else {
      std::fprintf(stderr, "usage: bench_ledger [--mezo-records N] [--fed-records N] [--fed-updates N] [--full] "
                           "[--model SPEC]\n");
      return 2;
    }
  }
  constexpr int kMezoSteps = 1000, kFedRounds = 40, kK = 4096, kClients = 10, kTau = 200;
  if (a.full) a.mezo_records = kMezoSteps, a.fed_records = kFedRounds, a.fed_updates = 0;
  a.mezo_records = std::clamp<int64_t>(a.mezo_records, 1, kMezoSteps);
  a.fed_records = std::clamp<int64_t>(a.fed_records, 1, kFedRounds);

  std::string spec = a.model;
  if (spec.empty()) {
    auto p = FindAsset("models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf");
    spec = p ? *p : "random:smollm2-135m";
  }
  ThreadingContext ctx(0);
  auto t0 = std::chrono::steady_clock::now();
  auto base = LoadModelSpec(spec);
  if (!base.ok()) {
    std::fprintf(stderr, "bench_ledger: %s\n", base.status().ToString().c_str());
    return 1;
  }
  const double n = static_cast<double>(base->num_params());
  std::printf("model            %s (%lld parameters, fp32 %s; loaded in %.1f s)\n", spec.c_str(),
              static_cast<long long>(base->num_params()), Bytes(4 * n).c_str(), bench::Seconds(t0));
  Limits lim;
  lim.bandwidth_gbs = bench::MeasureBandwidthGBs(ctx);
  lim.zgen_per_s = MeasureZRate(ctx);
  std::printf("machine          memory %.1f GB/s (triad), z generation %.2f G values/s (gauss), %d threads\n",
              lim.bandwidth_gbs, lim.zgen_per_s / 1e9, ctx.num_threads());
  const double fp_seconds = MedianSeconds(3, [&] { (void)ModelFingerprint(*base, ctx); });
  std::printf("fingerprint      %.3f s (%.1f GB/s over the fp32 weights)\n", fp_seconds, 4 * n / fp_seconds / 1e9);

  // The ledgers, on disk.
  const std::string dir =
      (std::filesystem::temp_directory_path() / fmt::format("bench-ledger-{}", ::getpid())).string();
  std::filesystem::create_directories(dir);
  LedgerHeader h;
  h.base_fingerprint = FingerprintHex(ModelFingerprint(*base, ctx));
  h.algorithm = "mezo";
  h.hyperparameters = R"({"lr":1e-6,"eps":1e-3,"batch":16,"steps":1000})";
  h.run_seed = 42;
  const auto mezo = MezoRecords(kMezoSteps);
  const uint64_t mezo_bytes = WriteLedgerFile(dir + "/mezo.ledger", h, mezo);
  LedgerHeader hf = h;
  hf.algorithm = "fedkseed";
  hf.hyperparameters = R"({"K":4096,"clients":10,"local_steps":200,"rounds":40})";
  const auto fed = FedKSeedRecords(kFedRounds, kK, kClients, kTau);
  const uint64_t fed_bytes = WriteLedgerFile(dir + "/fedkseed.ledger", hf, fed);
  const int64_t mezo_updates = CountUpdates(mezo), fed_updates = CountUpdates(fed);
  int64_t mezo_fps = 0;
  for (const auto& r : mezo) mezo_fps += r.has_fingerprint;
  std::printf("ledger sizes     MeZO 1000 steps: %s (%lld updates); FedKSeed 40 rounds: %s (%lld updates, %.0f changed "
              "seeds per round)\n",
              Bytes(static_cast<double>(mezo_bytes)).c_str(), static_cast<long long>(mezo_updates),
              Bytes(static_cast<double>(fed_bytes)).c_str(), static_cast<long long>(fed_updates),
              static_cast<double>(fed_updates) / kFedRounds);
  std::string stories = "n/a (not in the asset roots)";
  if (auto p = FindAsset("models/stories260K/stories260K.bin")) {
    if (auto s = LoadModelSpec(*p); s.ok()) stories = Bytes(4.0 * static_cast<double>(s->num_params()));
  }
  std::string smollm2 = "n/a";
  if (auto cfg = PresetConfig("smollm2-135m"); cfg.ok())
    if (auto table = BuildTensorTable(*cfg); table.ok())
      smollm2 = Bytes(4.0 * static_cast<double>(table->num_params()));
  std::printf("weights (fp32)   this model %s; SmolLM2-135M %s; stories260K %s\n", Bytes(4 * n).c_str(),
              smollm2.c_str(), stories.c_str());
  {
    auto t = std::chrono::steady_clock::now();
    auto c = ReadLedger(dir + "/fedkseed.ledger");
    std::printf("read + check     FedKSeed ledger parsed in %.1f ms (%s)\n", 1e3 * bench::Seconds(t),
                c.ok() ? "ok" : c.status().ToString().c_str());
  }

  // (a) MeZO subset.
  const std::vector<LedgerRecord> mezo_subset(mezo.begin(), mezo.begin() + a.mezo_records);
  const Measured mm = MeasureLedger("MeZO", *base, h, mezo_subset, fp_seconds, lim, ctx);
  const double mezo_full = mezo_updates * mm.per_update + (mezo_fps + 2) * fp_seconds;
  std::printf("%-9s full ledger (1000 records, %lld fingerprints): %s estimated%s\n", "",
              static_cast<long long>(mezo_fps), Duration(mezo_full).c_str(),
              a.mezo_records == kMezoSteps ? " (measured: the whole ledger was replayed)" : "");

  // (b) FedKSeed subset: the first rounds, each capped at --fed-updates updates.
  std::vector<LedgerRecord> fed_subset(fed.begin(), fed.begin() + a.fed_records);
  if (a.fed_updates > 0)
    for (auto& r : fed_subset)
      if (static_cast<int64_t>(r.updates.size()) > a.fed_updates) r.updates.resize(static_cast<size_t>(a.fed_updates));
  const Measured fm = MeasureLedger("FedKSeed", *base, hf, fed_subset, fp_seconds, lim, ctx);
  const double fed_full = fed_updates * fm.per_update + (kFedRounds + 2) * fp_seconds;
  std::printf("%-9s full ledger (40 rounds, %lld updates): %s estimated\n", "", static_cast<long long>(fed_updates),
              Duration(fed_full).c_str());

  // Snapshots: write one (file + fsync + 'S' reference), load one, and replay
  // the MeZO subset starting from a snapshot at its midpoint.
  {
    const std::string path = dir + "/snap.ledger";
    std::filesystem::remove_all(path + ".snapshots");
    std::filesystem::remove(path);
    auto w = LedgerWriter::Create(path, h, Durability::kNoFsync);
    if (!w.ok()) return 1;
    const size_t mid = std::max<size_t>(1, mezo_subset.size() / 2);
    ModelWeights live = base->Clone();
    double write_s = 0;
    for (size_t i = 0; i < mezo_subset.size(); ++i) {
      LedgerRecord r = mezo_subset[i];
      r.has_fingerprint = false;
      ApplyUpdates(&live, r.updates, ZDistribution::kGaussian, ctx);
      (void)(*w)->Write(r);
      if (i + 1 == mid) {
        auto t = std::chrono::steady_clock::now();
        Status s = SnapshotAfterRound(w->get(), path, r.round, live, ctx);
        write_s = bench::Seconds(t);
        if (!s.ok()) std::fprintf(stderr, "snapshot: %s\n", s.ToString().c_str());
      }
    }
    (void)(*w)->Close();
    live = ModelWeights();
    auto c = ReadLedger(path);
    if (!c.ok() || c->snapshots.empty()) return 1;
    const std::string file = ResolveSnapshotPath(path, c->snapshots[0].path);
    const double file_bytes = static_cast<double>(std::filesystem::file_size(file));
    ModelWeights w2 = base->Clone();
    const double load_s = MedianSeconds(3, [&] { (void)LoadWeightsSnapshot(file, &w2, ctx); });
    const double check_s = MedianSeconds(3, [&] { (void)CheckWeightsSnapshot(file, w2); });
    std::printf("snapshot         %s: write + fsync %.2f s (%.2f GB/s); load %.2f s (%.2f GB/s, with fingerprint); "
                "check without loading %.2f s\n",
                Bytes(file_bytes).c_str(), write_s, file_bytes / write_s / 1e9, load_s, file_bytes / load_s / 1e9,
                check_s);
    ReplayOptions o;
    o.verify = false;
    o.use_snapshots = true;
    o.ledger_path = path;
    w2 = base->Clone();
    auto t = std::chrono::steady_clock::now();
    auto r = ReplayLedger(*c, &w2, ctx, o);
    const double from_snap = bench::Seconds(t);
    if (r.ok())
      std::printf("MeZO subset      from the midpoint snapshot (round %llu): %.2f s for %lld records (%lld skipped) vs "
                  "%.2f s from the base\n",
                  static_cast<unsigned long long>(r->snapshot_round), from_snap,
                  static_cast<long long>(r->records_applied), static_cast<long long>(r->records_skipped),
                  mm.subset_seconds);
    // Full ledgers with one snapshot at their midpoint: check + load, then half the updates.
    const double snap_cost = check_s + load_s;
    std::printf("with a midpoint snapshot (estimated): MeZO %s (vs %s), FedKSeed %s (vs %s)\n",
                Duration(snap_cost + mezo_updates / 2 * mm.per_update + (mezo_fps / 2 + 1) * fp_seconds).c_str(),
                Duration(mezo_full).c_str(),
                Duration(snap_cost + fed_updates / 2 * fm.per_update + (kFedRounds / 2 + 1) * fp_seconds).c_str(),
                Duration(fed_full).c_str());
  }
  std::filesystem::remove_all(dir);
  return 0;
}
