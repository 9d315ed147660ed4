// libFuzzer target for the Hugging Face tokenizer.json loader
// (tok::LoadHfTokenizerJson in tokenizer/byte_bpe.cc, where LoadTokenizer
// sends a *.json file). Every input is written to a scratch tokenizer.json
// (no config files beside it) and:
//  1. the loader either rejects it with a Status or returns a tokenizer
//     with the properties of fuzz/tokenizer_checks.h (ids in range, BOS first
//     when asked for, deterministic encoding, Decode == concatenated
//     DecodeNext) on fixed texts and on the input's own bytes;
//  2. loading the same file twice gives tokenizers that encode alike.
// Built and run by scripts/fuzz.sh (target "tokenizer_json").
#include <string>
#include <string_view>

#include "fuzz/fuzz_util.h"
#include "fuzz/tokenizer_checks.h"
#include "tokenizer/byte_bpe.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = seedtune::fuzz::WriteScratch("tokenizer.json", data, size);
  auto tok = seedtune::tok::LoadHfTokenizerJson(path);
  if (!tok.ok()) return 0;
  const std::string_view sample(reinterpret_cast<const char*>(data), size);
  seedtune::fuzz::CheckTokenizer(**tok, sample);
  auto again = seedtune::tok::LoadHfTokenizerJson(path);
  FUZZ_CHECK(again.ok());
  FUZZ_CHECK((*again)->vocab_size() == (*tok)->vocab_size());
  const std::string text = "The quick brown fox, 1234 \xc3\xa9t\xc3\xa9!\n";
  FUZZ_CHECK((*again)->Encode(text, false) == (*tok)->Encode(text, false));
  return 0;
}
