// A 64-bit digest of a stream of values (FNV-1a over little-endian bytes,
// every string length-prefixed so ("ab","c") and ("a","bc") differ): what a
// ledger header records of the data a run used, so a resume on other data is
// refused. Not cryptographic: it catches changed options and files, not an
// adversary.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <fmt/format.h>

namespace seedtune {

class Digest64 {
 public:
  void AddBytes(const void* data, size_t n) {
    const auto* p = static_cast<const unsigned char*>(data);
    for (size_t i = 0; i < n; ++i) h_ = (h_ ^ p[i]) * 0x100000001b3ull;
  }
  void AddU64(uint64_t v) {
    for (int i = 0; i < 8; ++i) {
      const unsigned char b = static_cast<unsigned char>(v >> (8 * i));
      AddBytes(&b, 1);
    }
  }
  void AddString(std::string_view s) {
    AddU64(s.size());
    AddBytes(s.data(), s.size());
  }
  uint64_t value() const { return h_; }
  // 16 lowercase hex digits.
  std::string Hex() const { return fmt::format("{:016x}", h_); }

 private:
  uint64_t h_ = 0xcbf29ce484222325ull;
};

}  // namespace seedtune
