// Little-endian encoding of the fixed-width fields in seedtune's own binary
// formats (ledger frames, FedKSeed payloads, aux state), independent of the
// host's byte order.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>

#include "core/half.h"  // FloatToBits / BitsToFloat

namespace seedtune {

// Appends the low `bytes` bytes of v, least significant first.
inline void PutLe(std::string* s, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) s->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
inline uint64_t GetLe(const uint8_t* p, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v |= static_cast<uint64_t>(p[i]) << (8 * i);
  return v;
}
inline uint64_t GetLe(const std::string& s, size_t at, int bytes) {
  return GetLe(reinterpret_cast<const uint8_t*>(s.data()) + at, bytes);
}

inline void PutU16(std::string* s, uint16_t v) { PutLe(s, v, 2); }
inline void PutU32(std::string* s, uint32_t v) { PutLe(s, v, 4); }
inline void PutU64(std::string* s, uint64_t v) { PutLe(s, v, 8); }
inline uint16_t GetU16(const uint8_t* p) { return static_cast<uint16_t>(GetLe(p, 2)); }
inline uint32_t GetU32(const uint8_t* p) { return static_cast<uint32_t>(GetLe(p, 4)); }
inline uint64_t GetU64(const uint8_t* p) { return GetLe(p, 8); }
inline uint16_t GetU16(const std::string& s, size_t at) { return static_cast<uint16_t>(GetLe(s, at, 2)); }
inline uint32_t GetU32(const std::string& s, size_t at) { return static_cast<uint32_t>(GetLe(s, at, 4)); }

inline void PutF32(std::string* s, float f) { PutU32(s, FloatToBits(f)); }
inline float GetF32(const std::string& s, size_t at) { return BitsToFloat(GetU32(s, at)); }

}  // namespace seedtune
