// libFuzzer target for the llama2.c tokenizer.bin loader
// (tok::LoadLlama2cTokenizer in tokenizer/score_bpe.cc). Every input is
// written to a scratch tokenizer.bin and:
//  1. the loader either rejects it with a Status or returns a tokenizer whose
//     pieces are exactly the file's records, read independently here
//     (i32 max_token_length, then (f32 score, i32 length, bytes) per token),
//     with unk 0, BOS 1, EOS 2;
//  2. the tokenizer has the properties of fuzz/tokenizer_checks.h.
// Built and run by scripts/fuzz.sh (target "llama2c_tokenizer").
#include <cstring>
#include <string>
#include <vector>

#include "fuzz/fuzz_util.h"
#include "fuzz/tokenizer_checks.h"
#include "tokenizer/score_bpe.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = seedtune::fuzz::WriteScratch("tokenizer.bin", data, size);
  auto tok = seedtune::tok::LoadLlama2cTokenizer(path);
  if (!tok.ok()) return 0;
  const auto* score = dynamic_cast<const seedtune::tok::ScoreBpeTokenizer*>(tok->get());
  FUZZ_CHECK(score != nullptr);
  std::vector<std::string> pieces;
  FUZZ_CHECK(size >= 4);
  for (size_t at = 4; at < size;) {
    FUZZ_CHECK(size - at >= 8);
    int32_t len;
    std::memcpy(&len, data + at + 4, 4);
    FUZZ_CHECK(len >= 0 && static_cast<size_t>(len) <= size - at - 8);
    pieces.emplace_back(reinterpret_cast<const char*>(data + at + 8), static_cast<size_t>(len));
    at += 8 + static_cast<size_t>(len);
  }
  FUZZ_CHECK(static_cast<size_t>(score->vocab_size()) == pieces.size());
  for (size_t i = 0; i < pieces.size(); ++i) FUZZ_CHECK(score->Piece(static_cast<int32_t>(i)) == pieces[i]);
  FUZZ_CHECK(score->bos_id() == 1 && score->eos_id() == 2);
  seedtune::fuzz::CheckTokenizer(*score, std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
