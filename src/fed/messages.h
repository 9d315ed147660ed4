// Wire payloads of the federated algorithms, little-endian, as the papers
// count them. Payload accounting uses the sizes of these encodings; the
// network transport carries the same bytes.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "core/status.h"

namespace seedtune {

// FedKSeed client -> server: tau (u16 seed index, f32 scalar) pairs.
std::string EncodeSeedScalars(const std::vector<std::pair<uint16_t, float>>& pairs);
StatusOr<std::vector<std::pair<uint16_t, float>>> DecodeSeedScalars(const std::string& bytes, int num_seeds);

// FedKSeed server -> clients: one round's accumulator changes, as whichever
// is smaller: tag 'D' + K f32 (dense, zeros for unchanged seeds) or tag 'S' +
// (u16 index, f32) per changed seed, in index order.
std::string EncodeRoundDeltas(const std::vector<double>& delta, const std::vector<char>& changed);
// Returns (index, delta) for every changed seed, in index order.
StatusOr<std::vector<std::pair<uint16_t, float>>> DecodeRoundDeltas(const std::string& bytes, int num_seeds);

}  // namespace seedtune
