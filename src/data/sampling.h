// Seeded, portable sampling: the same indices on every machine, compiler and
// thread count (docs/protocol.md lists each use's seed derivation).
#pragma once

#include <cstdint>
#include <vector>

namespace seedtune {

// xoshiro256** seeded through splitmix64.
class PortableRng {
 public:
  explicit PortableRng(uint64_t seed);
  uint64_t Next();
  // Uniform in [0, n), n > 0, without modulo bias (rejection sampling).
  uint64_t Below(uint64_t n);

 private:
  uint64_t s_[4];
};

// A permutation of 0..n-1: Fisher-Yates from the last position down.
std::vector<int64_t> SeededPermutation(int64_t n, uint64_t seed);

// Indices of the training examples of `step` (1-based): consecutive slices of
// seeded per-epoch permutations of [0, n).
std::vector<int64_t> StepBatch(uint64_t run_seed, int64_t step, int batch_size, int64_t n);

}  // namespace seedtune
