// Model fingerprint: a 64-bit hash of the fp32 master weights in canonical
// parameter order, printed as 16 hex digits. Two copies of a model have the
// same fingerprint iff (up to hash collisions) every weight has the same bits.
//
// Definition (docs/rng.md, "Fingerprint"): the canonical parameter vector is
// cut into chunks of 2^20 floats (the last one shorter); each chunk is hashed
// with ChunkHash (4 lanes of multiply-xor over 64-bit words, see
// fingerprint.cc); the chunk hashes, in order, are folded with the same mix.
// The chunking is by canonical index, so buffer padding, tensor alignment and
// thread count never change it.
#pragma once

#include <cstdint>
#include <string>

#include "core/threading.h"
#include "model/weights.h"

namespace seedtune {

uint64_t ModelFingerprint(const ModelWeights& weights, ThreadingContext& ctx);
std::string FingerprintHex(uint64_t fingerprint);

// Hash of a float array (same definition as one chunk sequence), for tests.
uint64_t HashFloats(const float* data, int64_t n);

}  // namespace seedtune
