// seedtune rng: the shared-randomness stream, for tests and for other
// implementations to check themselves against (docs/rng.md).
#include <nlohmann/json.hpp>

#include <cstdio>
#include <vector>

#include "cli/common.h"
#include "kernels/cpu.h"
#include "kernels/random.h"

namespace seedtune::cli {

CommandRunner RegisterRng(CLI::App& app) {
  auto* cmd = app.add_subcommand("rng", "Print z(seed, i) for i in [offset, offset + count) (spec: docs/rng.md)");
  struct Args {
    uint64_t seed = 0, offset = 0;
    int64_t count = 8;
    std::string dist = "gauss";
    bool json = false;
  };
  auto a = std::make_shared<Args>();
  cmd->add_option("--seed", a->seed, "64-bit seed")->required();
  cmd->add_option("--offset", a->offset, "First element index (canonical parameter order)");
  cmd->add_option("--count", a->count, "How many values")->check(CLI::Range(int64_t{0}, int64_t{1} << 28));
  cmd->add_option("--dist", a->dist, "gauss (N(0,1)), rademacher (+-1) or raw (the 32-bit Philox word)")
      ->check(CLI::IsMember({"gauss", "rademacher", "raw"}));
  cmd->add_flag("--json", a->json, "JSON output: {\"seed\":..,\"offset\":..,\"dist\":..,\"values\":[...]}");
  return [a]() -> int {
    nlohmann::ordered_json j;
    j["seed"] = a->seed;
    j["offset"] = a->offset;
    j["dist"] = a->dist;
    j["simd"] = SimdLevelName(ActiveSimdLevel());
    if (a->dist == "raw") {
      std::vector<uint32_t> w(static_cast<size_t>(a->count));
      for (int64_t i = 0; i < a->count; ++i) w[i] = ZWord(a->seed, a->offset + static_cast<uint64_t>(i));
      if (a->json) {
        j["values"] = w;
        std::printf("%s\n", j.dump().c_str());
      } else {
        for (uint32_t v : w) std::printf("%08x\n", v);
      }
      return 0;
    }
    std::vector<float> z(static_cast<size_t>(a->count));
    GenerateZ(a->seed, a->offset, a->count,
              a->dist == "gauss" ? ZDistribution::kGaussian : ZDistribution::kRademacher, z.data());
    if (a->json) {
      j["values"] = z;  // nlohmann prints floats with enough digits to round-trip
      std::printf("%s\n", j.dump().c_str());
    } else {
      for (float v : z) std::printf("%.9g\n", v);
    }
    return 0;
  };
}

}  // namespace seedtune::cli
