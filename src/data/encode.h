// Examples -> token sequences for ComputeBackend::Forward.
//
// For each candidate c: tokens = Encode(prompt + c) with the tokenizer's
// default BOS, and the scored range covers exactly c's tokens. The number of
// candidate tokens is found as MeZO does (encode_prompt): the joint encoding's
// length minus the prompt's. If the prompt's tokens are not a prefix of the
// joint encoding (a merge across the boundary), the sequence is instead
// Encode(prompt) followed by Encode(c, no BOS), so the scored tokens are always
// exactly those of the candidate. Example::append_eos appends the EOS id after
// the candidate (scored as part of it).
//
// Sequences longer than max_length lose tokens from the LEFT; a leading BOS is
// kept (MeZO: encoding[0:1] + encoding[1:][-(max_length-1):]). When no token
// precedes the candidate (empty prompt, no BOS), its first token cannot be
// predicted and is left out of the scored range.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "core/status.h"
#include "data/task.h"
#include "model/config.h"
#include "model/transformer.h"
#include "tokenizer/tokenizer.h"

namespace seedtune {

inline constexpr int64_t kDefaultMaxLength = 2048;

struct EncodedExample {
  std::vector<SequenceRequest> candidates;  // one per Example::candidates entry
  int label = 0;
  int group = -1;  // Example::group
};

// Adds an encoded example (every candidate's tokens and scored range, the
// label) to a digest: with the raw data it covers the tokenizer and max_length.
void AddToDigest(const EncodedExample& example, Digest64* digest);

// min(requested, config.max_positions) (requested <= 0: kDefaultMaxLength).
int64_t EffectiveMaxLength(int64_t requested, const ModelConfig& config);

// Errors: no candidates, label out of range, a candidate with no scorable
// token, max_length < 2, append_eos without an EOS token.
StatusOr<EncodedExample> EncodeExample(const Example& example, const Tokenizer& tokenizer,
                                       int64_t max_length = kDefaultMaxLength);
StatusOr<std::vector<EncodedExample>> EncodeExamples(std::span<const Example> examples, const Tokenizer& tokenizer,
                                                     int64_t max_length = kDefaultMaxLength);

}  // namespace seedtune
