// Python's notion of whitespace in str.strip() / str.split() (ASCII), which
// the templates (MeZO's), the user-file prompts and the Rouge-L metric (the
// `rouge` package's) follow.
#pragma once

#include <string_view>

namespace seedtune {

inline bool IsPyWhitespace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

// Python str.strip(): ASCII whitespace removed from both ends.
inline std::string_view PyStrip(std::string_view s) {
  while (!s.empty() && IsPyWhitespace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsPyWhitespace(s.back())) s.remove_suffix(1);
  return s;
}

}  // namespace seedtune
