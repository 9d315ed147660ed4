#include "data/encode.h"

#include <algorithm>

namespace seedtune {

void AddToDigest(const EncodedExample& e, Digest64* d) {
  d->AddU64(e.candidates.size());
  for (const SequenceRequest& c : e.candidates) {
    d->AddU64(c.tokens.size());
    for (int32_t t : c.tokens) d->AddU64(static_cast<uint32_t>(t));
    d->AddU64(static_cast<uint32_t>(c.score_begin));
    d->AddU64(static_cast<uint32_t>(c.score_end));
  }
  d->AddU64(static_cast<uint64_t>(e.label));
  if (e.group >= 0) d->AddU64(0x6700000000000000ull | static_cast<uint64_t>(e.group));  // absent: digests as before
}

int64_t EffectiveMaxLength(int64_t requested, const ModelConfig& config) {
  const int64_t want = requested > 0 ? requested : kDefaultMaxLength;
  return config.max_positions > 0 ? std::min(want, config.max_positions) : want;
}

StatusOr<EncodedExample> EncodeExample(const Example& example, const Tokenizer& tokenizer, int64_t max_length) {
  if (max_length < 2) return InvalidArgument("max_length {} is too small (at least 2 tokens)", max_length);
  if (example.candidates.empty()) return InvalidArgument("example has no candidates");
  if (example.label < 0 || example.label >= static_cast<int>(example.candidates.size()))
    return InvalidArgument("label {} outside the {} candidates", example.label, example.candidates.size());
  if (example.append_eos && tokenizer.eos_id() < 0)
    return InvalidArgument("the example ends with EOS but the tokenizer has no EOS token");

  const bool bos = tokenizer.add_bos_by_default() && tokenizer.bos_id() >= 0;
  const std::vector<int32_t> prompt = tokenizer.Encode(example.prompt);

  EncodedExample out;
  out.label = example.label;
  out.group = example.group;
  for (size_t c = 0; c < example.candidates.size(); ++c) {
    std::vector<int32_t> tokens = tokenizer.Encode(example.prompt + example.candidates[c]);
    int64_t cand_len;
    if (tokens.size() >= prompt.size() && std::equal(prompt.begin(), prompt.end(), tokens.begin())) {
      cand_len = static_cast<int64_t>(tokens.size() - prompt.size());
    } else {
      const std::vector<int32_t> cand = tokenizer.Encode(example.candidates[c], /*add_bos=*/false);
      tokens = prompt;
      tokens.insert(tokens.end(), cand.begin(), cand.end());
      cand_len = static_cast<int64_t>(cand.size());
    }
    if (example.append_eos) {
      tokens.push_back(tokenizer.eos_id());
      ++cand_len;
    }
    // Left truncation, keeping BOS.
    if (static_cast<int64_t>(tokens.size()) > max_length) {
      const bool keep_first = bos && !tokens.empty() && tokens[0] == tokenizer.bos_id();
      const size_t drop = tokens.size() - static_cast<size_t>(max_length);
      tokens.erase(tokens.begin() + (keep_first ? 1 : 0), tokens.begin() + (keep_first ? 1 : 0) + drop);
    }
    const int64_t n = static_cast<int64_t>(tokens.size());
    cand_len = std::min(cand_len, n - 1);  // token 0 has nothing before it
    if (cand_len <= 0)
      return InvalidArgument("candidate {} (\"{}\") has no token to score", c, example.candidates[c]);
    SequenceRequest req;
    req.tokens = std::move(tokens);
    req.score_begin = static_cast<int32_t>(n - 1 - cand_len);
    req.score_end = static_cast<int32_t>(n - 1);
    out.candidates.push_back(std::move(req));
  }
  return out;
}

StatusOr<std::vector<EncodedExample>> EncodeExamples(std::span<const Example> examples, const Tokenizer& tokenizer,
                                                     int64_t max_length) {
  std::vector<EncodedExample> out;
  out.reserve(examples.size());
  for (size_t i = 0; i < examples.size(); ++i) {
    auto enc = EncodeExample(examples[i], tokenizer, max_length);
    if (!enc.ok()) return enc.status().WithContext(fmt::format("example {}", i));
    out.push_back(std::move(enc).value());
  }
  return out;
}

}  // namespace seedtune
