#include "kernels/cpu.h"

#include <atomic>
#include <cstdlib>
#include <cstring>

namespace seedtune {

const char* SimdLevelName(SimdLevel level) {
  switch (level) {
    case SimdLevel::kScalar: return "scalar";
    case SimdLevel::kAvx2: return "avx2";
    case SimdLevel::kAvx512: return "avx512";
  }
  return "unknown";
}

SimdLevel DetectedSimdLevel() {
#if defined(__x86_64__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") &&
      __builtin_cpu_supports("avx512vl"))
    return SimdLevel::kAvx512;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return SimdLevel::kAvx2;
#endif
  return SimdLevel::kScalar;
}

namespace {

SimdLevel InitialLevel() {
  SimdLevel detected = DetectedSimdLevel();
  const char* env = std::getenv("SEEDTUNE_SIMD");
  if (env == nullptr) return detected;
  SimdLevel wanted = detected;
  if (std::strcmp(env, "scalar") == 0) wanted = SimdLevel::kScalar;
  if (std::strcmp(env, "avx2") == 0) wanted = SimdLevel::kAvx2;
  if (std::strcmp(env, "avx512") == 0) wanted = SimdLevel::kAvx512;
  return wanted < detected ? wanted : detected;
}

std::atomic<int>& LevelStorage() {
  static std::atomic<int> level{static_cast<int>(InitialLevel())};
  return level;
}

}  // namespace

SimdLevel ActiveSimdLevel() { return static_cast<SimdLevel>(LevelStorage().load(std::memory_order_relaxed)); }

void SetActiveSimdLevel(SimdLevel level) {
  SimdLevel detected = DetectedSimdLevel();
  if (level > detected) level = detected;
  LevelStorage().store(static_cast<int>(level), std::memory_order_relaxed);
}

std::vector<SimdLevel> SupportedSimdLevels() {
  std::vector<SimdLevel> out;
  for (int l = 0; l <= static_cast<int>(DetectedSimdLevel()); ++l) out.push_back(static_cast<SimdLevel>(l));
  return out;
}

}  // namespace seedtune
