#include "zo/fingerprint.h"

#include <cstring>
#include <vector>

#include <fmt/format.h>

namespace seedtune {

namespace {

constexpr int64_t kChunk = int64_t{1} << 20;  // floats per chunk
constexpr uint64_t kP1 = 0x9E3779B185EBCA87ull, kP2 = 0xC2B2AE3D27D4EB4Full, kP3 = 0x165667B19E3779F9ull;

inline uint64_t Mix(uint64_t h) {
  h ^= h >> 33;
  h *= kP2;
  h ^= h >> 29;
  h *= kP3;
  h ^= h >> 32;
  return h;
}

inline uint64_t Load64(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

// Hash of `bytes` bytes: 4 independent lanes over 32-byte stripes
// (h = (h ^ word) * P1, rotated), a tail of whole words / bytes, then the
// lanes and the length folded through Mix.
uint64_t HashBytes(const uint8_t* p, uint64_t bytes, uint64_t seed) {
  uint64_t h[4] = {seed ^ kP1, seed ^ kP2, seed ^ kP3, seed + kP1};
  uint64_t i = 0;
  for (; i + 32 <= bytes; i += 32)
    for (int l = 0; l < 4; ++l) {
      h[l] = (h[l] ^ Load64(p + i + 8 * l)) * kP1;
      h[l] = (h[l] << 29) | (h[l] >> 35);
    }
  uint64_t acc = bytes * kP3;
  for (int l = 0; l < 4; ++l) acc = Mix(acc ^ h[l]);
  for (; i + 8 <= bytes; i += 8) acc = Mix(acc ^ Load64(p + i));
  for (; i < bytes; ++i) acc = Mix(acc ^ p[i]);
  return acc;
}

}  // namespace

uint64_t HashFloats(const float* data, int64_t n) {
  uint64_t acc = static_cast<uint64_t>(n);
  for (int64_t c = 0; c < n; c += kChunk) {
    const int64_t len = std::min(kChunk, n - c);
    acc = Mix(acc ^ HashBytes(reinterpret_cast<const uint8_t*>(data + c), static_cast<uint64_t>(len) * 4, 0));
  }
  return acc;
}

uint64_t ModelFingerprint(const ModelWeights& weights, ThreadingContext& ctx) {
  // Chunk c covers canonical indices [c * kChunk, (c+1) * kChunk); a chunk may
  // span several tensors, so gather it into a per-task buffer first.
  const int64_t n = weights.num_params();
  const int64_t chunks = (n + kChunk - 1) / kChunk;
  std::vector<uint64_t> digests(static_cast<size_t>(chunks));
  std::vector<size_t> first_tensor(static_cast<size_t>(chunks));
  {
    size_t t = 0;
    for (int64_t c = 0; c < chunks; ++c) {
      while (t + 1 < weights.num_tensors() && weights.canonical_index(t + 1) <= c * kChunk) ++t;
      first_tensor[c] = t;
    }
  }
  std::vector<std::vector<float>> scratch(static_cast<size_t>(ctx.num_threads()));
  ctx.ParallelFor(static_cast<size_t>(chunks), [&](size_t c, int thread) {
    const int64_t lo = static_cast<int64_t>(c) * kChunk, hi = std::min(n, lo + kChunk);
    // Hashed in place when the chunk's elements are contiguous in memory
    // (tensors laid out back to back), so no 4 MB copy per thread is needed.
    const size_t t_first = first_tensor[c];
    const float* start = weights.data(t_first) + (lo - weights.canonical_index(t_first));
    bool contiguous = true;
    for (size_t t = t_first + 1; t < weights.num_tensors() && weights.canonical_index(t) < hi; ++t)
      contiguous = contiguous && weights.data(t) == start + (weights.canonical_index(t) - lo);
    if (contiguous) {
      digests[c] = HashBytes(reinterpret_cast<const uint8_t*>(start), static_cast<uint64_t>(hi - lo) * 4, 0);
      return;
    }
    auto& buf = scratch[thread];
    buf.resize(static_cast<size_t>(hi - lo));
    for (size_t t = t_first; t < weights.num_tensors(); ++t) {
      const int64_t t0 = weights.canonical_index(t), t1 = t0 + weights.specs()[t].numel();
      if (t0 >= hi) break;
      const int64_t a = std::max(lo, t0), b = std::min(hi, t1);
      if (a < b) std::memcpy(buf.data() + (a - lo), weights.data(t) + (a - t0), static_cast<size_t>(b - a) * 4);
    }
    digests[c] = HashBytes(reinterpret_cast<const uint8_t*>(buf.data()), static_cast<uint64_t>(hi - lo) * 4, 0);
  });
  uint64_t acc = static_cast<uint64_t>(n);
  for (uint64_t d : digests) acc = Mix(acc ^ d);
  return acc;
}

std::string FingerprintHex(uint64_t fingerprint) { return fmt::format("{:016x}", fingerprint); }

}  // namespace seedtune
