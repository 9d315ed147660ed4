// Rouge-L F as FedKSeed reports it: the Python `rouge` package 1.0.1
// (`Rouge().get_scores(hyp, ref)[0]["rouge-l"]["f"]`), re-implemented from its
// definition so that our numbers compare with the paper's:
//   - each text is split into sentences at '.', keeping pieces of non-zero
//     length, and each piece's whitespace runs are collapsed to single spaces
//     (a piece of only whitespace becomes the empty sentence);
//   - a sentence's words are its split at ' ';
//   - m, n: the numbers of DISTINCT words of the reference and hypothesis (the
//     package counts n-gram sets);
//   - for each reference sentence in order, the LCS with each hypothesis
//     sentence is reconstructed by the package's backtrack (diagonal on a
//     match, else up when the upper cell is strictly larger, else left), and
//     its words join a running set; the overlap is the final set's size;
//   - r = overlap / m, p = overlap / n, f = 2 p r / (p + r + 1e-8).
// Not lower-cased, punctuation other than '.' kept: as the package does.
// An empty hypothesis or reference (no characters) scores 0, as FedKSeed
// counts a generation the package refuses.
#pragma once

#include <string_view>

namespace seedtune {

struct RougeScore {
  double f = 0.0, p = 0.0, r = 0.0;
};

RougeScore RougeL(std::string_view hypothesis, std::string_view reference);

}  // namespace seedtune
