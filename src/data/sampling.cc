#include "data/sampling.h"

#include <algorithm>
#include <utility>

#include "zo/update.h"

namespace seedtune {

PortableRng::PortableRng(uint64_t seed) {
  uint64_t x = seed;
  for (uint64_t& s : s_) {
    // splitmix64
    x += 0x9E3779B97F4A7C15ull;
    uint64_t z = x;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    s = z ^ (z >> 31);
  }
}

uint64_t PortableRng::Next() {
  auto rotl = [](uint64_t v, int k) { return (v << k) | (v >> (64 - k)); };
  const uint64_t result = rotl(s_[1] * 5, 7) * 9;
  const uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = rotl(s_[3], 45);
  return result;
}

uint64_t PortableRng::Below(uint64_t n) {
  // Reject the lowest (2^64 mod n) values so every residue is equally likely.
  const uint64_t threshold = (0 - n) % n;
  for (;;) {
    const uint64_t r = Next();
    if (r >= threshold) return r % n;
  }
}

std::vector<int64_t> SeededPermutation(int64_t n, uint64_t seed) {
  std::vector<int64_t> p(static_cast<size_t>(std::max<int64_t>(n, 0)));
  for (size_t i = 0; i < p.size(); ++i) p[i] = static_cast<int64_t>(i);
  PortableRng rng(seed);
  for (size_t i = p.size(); i > 1; --i) {
    const size_t j = static_cast<size_t>(rng.Below(i));
    std::swap(p[i - 1], p[j]);
  }
  return p;
}

std::vector<int64_t> StepBatch(uint64_t run_seed, int64_t step, int batch_size, int64_t n) {
  std::vector<int64_t> out;
  if (n <= 0) return out;
  const int64_t start = (step - 1) * batch_size;
  std::vector<int64_t> perm;
  int64_t perm_epoch = -1;
  for (int64_t i = start; i < start + batch_size; ++i) {
    const int64_t epoch = i / n;
    if (epoch != perm_epoch) {
      perm = SeededPermutation(n, StepSeed(run_seed, static_cast<uint64_t>(epoch), /*k=*/0xba7c4u));
      perm_epoch = epoch;
    }
    out.push_back(perm[i % n]);
  }
  return out;
}

}  // namespace seedtune
