// Shared randomness: the perturbation direction z as a pure function of
// (seed, element index), bit-identical on every machine, SIMD path, thread
// count, compiler and build type. docs/rng.md is the specification.
//
//   Philox4x32-10 (Salmon et al. 2011), key = (seed low 32, seed high 32),
//   counter = (block low 32, block high 32, stream, 0).
//   Element i of the canonical parameter order lives in
//     block = (i / 64) * 16 + (i % 16),  word = (i % 64) / 16
//   (groups of 64 elements = 16 Philox blocks = one AVX-512 vector per word).
//   Gaussian: words (0,1) and (2,3) of a block form Box-Muller pairs; even
//   word -> r cos(t), odd word -> r sin(t), with log/sin/cos evaluated by the
//   fixed polynomials of docs/rng.md using only correctly rounded operations.
//   Rademacher: +1 or -1 from the top bit of the element's word.
#pragma once

#include <array>
#include <cstdint>

namespace seedtune {

enum class ZDistribution { kGaussian, kRademacher };
const char* ZDistributionName(ZDistribution d);

// Philox stream of the perturbation direction (other streams are reserved).
constexpr uint32_t kZStream = 0;

// The Philox4x32-10 bijection.
std::array<uint32_t, 4> Philox4x32_10(std::array<uint32_t, 4> counter, std::array<uint32_t, 2> key);

// The raw 32-bit word of element i (what --dist raw prints).
uint32_t ZWord(uint64_t seed, uint64_t index);

// Scalar reference: z[j] = z(seed, first + j).
void GenerateZReference(uint64_t seed, uint64_t first, int64_t n, ZDistribution dist, float* out);

// The same values through the active SIMD path (kernels/cpu.h).
void GenerateZ(uint64_t seed, uint64_t first, int64_t n, ZDistribution dist, float* out);

// y[j] = fma(alpha, z(first + j), y[j])  (one rounding per element).
void AxpyZ(uint64_t seed, uint64_t first, int64_t n, ZDistribution dist, float alpha, float* y);

// out[j] = fma(scale, z(first + j), theta[j]); theta is not modified.
void PerturbZ(uint64_t seed, uint64_t first, int64_t n, ZDistribution dist, float scale, const float* theta,
              float* out);

// Both signs from one generation of z: plus = fma(eps, z, theta),
// minus = fma(-eps, z, theta).
void PerturbPairZ(uint64_t seed, uint64_t first, int64_t n, ZDistribution dist, float eps, const float* theta,
                  float* plus, float* minus);

// Several updates in one pass over y: for k = 0..count-1 in order,
// y[j] = fma(alpha[k], z_k(first + j), y[j]) — the same bits as calling
// AxpyZ once per seed in that order.
void AxpyZMulti(const uint64_t* seeds, const float* alphas, int64_t count, uint64_t first, int64_t n,
                ZDistribution dist, float* y);

}  // namespace seedtune
