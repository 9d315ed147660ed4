#include "tokenizer/special_tokens.h"

#include <algorithm>

namespace seedtune::tok {

static bool IsSpaceByte(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

void SpecialTokenMatcher::Add(SpecialToken token) {
  if (token.content.empty()) return;
  for (const auto& t : tokens_) {
    if (t.content == token.content) return;  // first definition wins
  }
  const int index = static_cast<int>(tokens_.size());
  auto& bucket = by_first_byte_[static_cast<uint8_t>(token.content[0])];
  tokens_.push_back(std::move(token));
  bucket.push_back(index);
  std::stable_sort(bucket.begin(), bucket.end(), [&](int a, int b) {
    return tokens_[a].content.size() > tokens_[b].content.size();
  });
}

std::vector<TextFragment> SpecialTokenMatcher::Split(std::string_view text) const {
  std::vector<TextFragment> out;
  if (tokens_.empty()) {
    if (!text.empty()) out.push_back(TextFragment{text, -1});
    return out;
  }
  size_t raw_start = 0;  // start of the pending raw fragment
  size_t pos = 0;
  while (pos < text.size()) {
    const SpecialToken* hit = nullptr;
    for (int index : by_first_byte_[static_cast<uint8_t>(text[pos])]) {
      const auto& t = tokens_[index];
      if (text.compare(pos, t.content.size(), t.content) == 0) {
        hit = &t;
        break;
      }
    }
    if (hit == nullptr) {
      ++pos;
      continue;
    }
    size_t start = pos;
    size_t end = pos + hit->content.size();
    if (hit->lstrip) {
      while (start > raw_start && IsSpaceByte(text[start - 1])) --start;
    }
    if (hit->rstrip) {
      while (end < text.size() && IsSpaceByte(text[end])) ++end;
    }
    if (start > raw_start) out.push_back(TextFragment{text.substr(raw_start, start - raw_start), -1});
    out.push_back(TextFragment{text.substr(start, end - start), hit->id});
    raw_start = pos = end;
  }
  if (raw_start < text.size()) out.push_back(TextFragment{text.substr(raw_start), -1});
  return out;
}

}  // namespace seedtune::tok
