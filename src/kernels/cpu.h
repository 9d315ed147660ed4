// Run-time choice of SIMD path. Every optimized kernel has a scalar path that
// is the reference; SEEDTUNE_SIMD=scalar|avx2|avx512 forces a path (tests use
// it to compare all paths the machine supports).
#pragma once

#include <string>
#include <vector>

namespace seedtune {

enum class SimdLevel { kScalar = 0, kAvx2 = 1, kAvx512 = 2 };

const char* SimdLevelName(SimdLevel level);
// Highest level this CPU supports.
SimdLevel DetectedSimdLevel();
// The level kernels use: SEEDTUNE_SIMD if set (capped at the detected level),
// else the detected level; overridable in-process with SetActiveSimdLevel.
SimdLevel ActiveSimdLevel();
void SetActiveSimdLevel(SimdLevel level);
// All levels this CPU can run, scalar first.
std::vector<SimdLevel> SupportedSimdLevels();

}  // namespace seedtune
