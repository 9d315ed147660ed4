// Small text helpers shared by the tokenizers: UTF-8 scanning, the GPT-2
// byte <-> unicode map used by byte-level BPE, and "<0xXX>" byte pieces.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace seedtune::tok {

// Length of the well-formed UTF-8 sequence starting at text[pos], or 0 when
// the bytes there are not valid UTF-8 (stray continuation byte, overlong form,
// surrogate, truncated sequence, > U+10FFFF).
size_t ValidUtf8Length(std::string_view text, size_t pos);
bool IsValidUtf8(std::string_view text);
// Appends the UTF-8 encoding of `cp` (assumed valid).
void AppendUtf8(std::string& out, uint32_t cp);

// GPT-2's reversible byte -> printable unicode mapping (bytes 33..126,
// 161..172 and 174..255 map to themselves, the others to U+0100 onwards).
class ByteLevelMap {
 public:
  static const ByteLevelMap& Get();
  // UTF-8 string of the character that stands for `byte`.
  const std::string& Encode(uint8_t byte) const { return byte_to_str_[byte]; }
  // Maps every byte of `raw` to its character.
  std::string EncodeBytes(std::string_view raw) const;
  // Inverse mapping of a byte-level token string. Characters outside the map
  // are copied through unchanged (as UTF-8).
  std::string DecodeToBytes(std::string_view token) const;

 private:
  ByteLevelMap();
  std::array<std::string, 256> byte_to_str_;
  std::array<int16_t, 512> cp_to_byte_;  // -1: not a mapped code point
};

// If `piece` is exactly "<0xHH>" (two hex digits, either case), stores the
// byte and returns true.
bool ParseBytePiece(std::string_view piece, uint8_t* byte);
// "<0xHH>" with upper-case hex digits.
std::string BytePieceName(uint8_t byte);

// "\xe2\x96\x81": U+2581, SentencePiece's whitespace marker.
inline constexpr std::string_view kSpaceMarker = "\xe2\x96\x81";
// Replaces every occurrence of `from` in `text` with `to`.
std::string ReplaceAll(std::string_view text, std::string_view from, std::string_view to);

}  // namespace seedtune::tok
