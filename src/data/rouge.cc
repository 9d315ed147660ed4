#include "data/rouge.h"

#include <set>
#include <string>
#include <vector>

#include "data/text.h"

namespace seedtune {

namespace {

using Words = std::vector<std::string>;

// The package's `[" ".join(s.split()) for s in text.split(".") if len(s) > 0]`,
// each sentence then split at ' ' into its words.
std::vector<Words> Sentences(std::string_view text) {
  std::vector<Words> out;
  size_t start = 0;
  while (start <= text.size()) {
    size_t dot = text.find('.', start);
    if (dot == std::string_view::npos) dot = text.size();
    const std::string_view piece = text.substr(start, dot - start);
    if (!piece.empty()) {
      Words words;
      std::string word;
      bool any = false;
      for (char c : piece) {
        if (IsPyWhitespace(c)) {
          if (!word.empty()) words.push_back(std::move(word)), word.clear(), any = true;
        } else {
          word += c;
        }
      }
      if (!word.empty()) words.push_back(std::move(word)), any = true;
      if (!any) words.push_back("");  // "".split(" ") is [""]
      out.push_back(std::move(words));
    }
    start = dot + 1;
  }
  return out;
}

// The words of the LCS of x and y as the package's _recon_lcs backtracks it.
std::vector<const std::string*> LcsWords(const Words& x, const Words& y) {
  const size_t n = x.size(), m = y.size();
  std::vector<int> table((n + 1) * (m + 1), 0);
  auto at = [&](size_t i, size_t j) -> int& { return table[i * (m + 1) + j]; };
  for (size_t i = 1; i <= n; ++i)
    for (size_t j = 1; j <= m; ++j)
      at(i, j) = x[i - 1] == y[j - 1] ? at(i - 1, j - 1) + 1 : std::max(at(i - 1, j), at(i, j - 1));
  std::vector<const std::string*> out;
  size_t i = n, j = m;
  while (i > 0 && j > 0) {
    if (x[i - 1] == y[j - 1]) {
      out.push_back(&x[i - 1]);
      --i, --j;
    } else if (at(i - 1, j) > at(i, j - 1)) {
      --i;
    } else {
      --j;
    }
  }
  return out;
}

}  // namespace

RougeScore RougeL(std::string_view hypothesis, std::string_view reference) {
  if (hypothesis.empty() || reference.empty()) return {};
  const std::vector<Words> hyp = Sentences(hypothesis), ref = Sentences(reference);
  if (hyp.empty() || ref.empty()) return {};  // only dots: the package refuses it
  std::set<std::string> hyp_words, ref_words, overlap;
  for (const Words& s : hyp) hyp_words.insert(s.begin(), s.end());
  for (const Words& s : ref) ref_words.insert(s.begin(), s.end());
  for (const Words& r : ref)
    for (const Words& h : hyp)
      for (const std::string* w : LcsWords(r, h)) overlap.insert(*w);
  RougeScore s;
  s.r = static_cast<double>(overlap.size()) / static_cast<double>(ref_words.size());
  s.p = static_cast<double>(overlap.size()) / static_cast<double>(hyp_words.size());
  s.f = 2.0 * (s.p * s.r / (s.p + s.r + 1e-8));
  return s;
}

}  // namespace seedtune
