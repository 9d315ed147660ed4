// Properties every loaded tokenizer must have, whatever file it came from
// (used by the GGUF, tokenizer.json and llama2.c tokenizer fuzz targets).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "fuzz/fuzz_util.h"
#include "tokenizer/tokenizer.h"

namespace seedtune::fuzz {

// Decode(ids) is the concatenation of DecodeNext over the sequence (prev = -1
// first), byte for byte, for any ids, valid or not.
inline void CheckDecode(const Tokenizer& t, const std::vector<int32_t>& ids) {
  std::string streamed;
  int32_t prev = -1;
  for (int32_t id : ids) {
    streamed += t.DecodeNext(prev, id);
    prev = id;
  }
  FUZZ_CHECK(streamed == t.Decode(ids));
}

// `sample`: bytes of the fuzz input, used as text and as token ids.
inline void CheckTokenizer(const Tokenizer& t, std::string_view sample) {
  const int32_t n = t.vocab_size();
  FUZZ_CHECK(n > 0);
  FUZZ_CHECK(t.bos_id() >= -1 && t.bos_id() < n);
  FUZZ_CHECK(t.eos_id() >= -1 && t.eos_id() < n);
  FUZZ_CHECK(!t.Describe().empty());
  if (sample.size() > 256) sample = sample.substr(sample.size() - 256);
  const std::string texts[] = {"", "Hello world", " a  b\n\n\tc 123 4567", "<|endoftext|>x<s></s>", "\xff\xfe\xc3",
                               "\xe2\x96\x81Once upon a time", std::string(sample)};
  for (const std::string& text : texts) {
    for (bool add_bos : {false, true}) {
      const std::vector<int32_t> ids = t.Encode(text, add_bos);
      for (int32_t id : ids) FUZZ_CHECK(id >= 0 && id < n);
      if (add_bos && t.bos_id() >= 0) FUZZ_CHECK(!ids.empty() && ids[0] == t.bos_id());
      FUZZ_CHECK(t.Encode(text, add_bos) == ids);  // deterministic (the piece cache changes nothing)
      CheckDecode(t, ids);
    }
  }
  // Arbitrary ids, some out of range.
  std::vector<int32_t> ids;
  for (size_t i = 0; i + 1 < sample.size(); i += 2) {
    const auto v = static_cast<uint16_t>(static_cast<uint8_t>(sample[i]) | static_cast<uint8_t>(sample[i + 1]) << 8);
    ids.push_back(static_cast<int32_t>(v % (static_cast<uint32_t>(n) + 2)) - 1);
  }
  CheckDecode(t, ids);
}

}  // namespace seedtune::fuzz
