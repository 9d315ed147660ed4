#include "fed/messages.h"

#include <cmath>
#include <cstring>

#include "core/little_endian.h"

namespace seedtune {


std::string EncodeSeedScalars(const std::vector<std::pair<uint16_t, float>>& pairs) {
  std::string s;
  s.reserve(pairs.size() * 6);
  for (const auto& [j, g] : pairs) {
    PutU16(&s, j);
    PutF32(&s, g);
  }
  return s;
}

StatusOr<std::vector<std::pair<uint16_t, float>>> DecodeSeedScalars(const std::string& bytes, int num_seeds) {
  if (bytes.size() % 6 != 0) return InvalidArgument("seed-scalar message of {} bytes is not a multiple of 6", bytes.size());
  std::vector<std::pair<uint16_t, float>> out;
  for (size_t at = 0; at < bytes.size(); at += 6) {
    const uint16_t j = GetU16(bytes, at);
    const float g = GetF32(bytes, at + 2);
    if (j >= num_seeds) return InvalidArgument("seed index {} out of range (K = {})", j, num_seeds);
    if (!std::isfinite(g)) return InvalidArgument("non-finite scalar for seed index {}", j);
    out.emplace_back(j, g);
  }
  return out;
}

std::string EncodeRoundDeltas(const std::vector<double>& delta, const std::vector<char>& changed) {
  size_t nchanged = 0;
  for (char c : changed) nchanged += c ? 1 : 0;
  std::string s;
  if (6 * nchanged < 4 * delta.size()) {
    s.push_back('S');
    for (size_t j = 0; j < delta.size(); ++j)
      if (changed[j]) {
        PutU16(&s, static_cast<uint16_t>(j));
        PutF32(&s, static_cast<float>(delta[j]));
      }
  } else {
    s.push_back('D');
    for (size_t j = 0; j < delta.size(); ++j) PutF32(&s, changed[j] ? static_cast<float>(delta[j]) : 0.0f);
  }
  return s;
}

StatusOr<std::vector<std::pair<uint16_t, float>>> DecodeRoundDeltas(const std::string& bytes, int num_seeds) {
  if (bytes.empty()) return InvalidArgument("empty round-delta message");
  std::vector<std::pair<uint16_t, float>> out;
  if (bytes[0] == 'S') {
    std::string body = bytes.substr(1);
    ASSIGN_OR_RETURN(out, DecodeSeedScalars(body, num_seeds));
    for (size_t i = 1; i < out.size(); ++i)
      if (out[i].first <= out[i - 1].first) return InvalidArgument("sparse round deltas not in increasing index order");
    return out;
  }
  if (bytes[0] == 'D') {
    if (bytes.size() != 1 + 4 * static_cast<size_t>(num_seeds))
      return InvalidArgument("dense round-delta message of {} bytes, expected {}", bytes.size(), 1 + 4 * num_seeds);
    for (int j = 0; j < num_seeds; ++j) {
      const float d = GetF32(bytes, 1 + 4 * static_cast<size_t>(j));
      if (!std::isfinite(d)) return InvalidArgument("non-finite delta for seed index {}", j);
      if (d != 0.0f) out.emplace_back(static_cast<uint16_t>(j), d);
    }
    return out;
  }
  return InvalidArgument("round-delta message with unknown tag {}", static_cast<int>(bytes[0]));
}

}  // namespace seedtune
