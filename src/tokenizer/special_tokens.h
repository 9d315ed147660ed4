// Literal matching of special / added tokens in input text (leftmost-longest,
// like Hugging Face tokenizers' added-vocabulary split).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace seedtune::tok {

struct SpecialToken {
  std::string content;
  int32_t id = -1;
  bool lstrip = false;  // also swallow whitespace on the left
  bool rstrip = false;  // also swallow whitespace on the right
};

struct TextFragment {
  std::string_view text;  // raw text when id < 0
  int32_t id = -1;        // the special token's id, or -1 for raw text
};

class SpecialTokenMatcher {
 public:
  void Add(SpecialToken token);
  bool empty() const { return tokens_.empty(); }
  // Splits `text` into raw fragments and special tokens (raw fragments are
  // never empty).
  std::vector<TextFragment> Split(std::string_view text) const;

 private:
  std::vector<SpecialToken> tokens_;
  // Token indices by first byte, longest first.
  std::array<std::vector<int>, 256> by_first_byte_;
};

}  // namespace seedtune::tok
