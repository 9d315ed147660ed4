// Regressions found by the tokenizer fuzz targets (fuzz/tokenizer_json_fuzz.cc,
// fuzz/llama2c_tokenizer_fuzz.cc, the tokenizer part of fuzz/gguf_fuzz.cc;
// docs/fuzzing.md): each test holds the minimised input as the fuzzer wrote it.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/mapped_file.h"
#include "support/fixtures.h"
#include "tokenizer/byte_bpe.h"
#include "tokenizer/score_bpe.h"

namespace seedtune {
namespace {

std::string Bytes(std::initializer_list<int> b) {
  std::string s;
  for (int v : b) s.push_back(static_cast<char>(v));
  return s;
}

std::string WriteTemp(const std::string& name, const std::string& bytes) {
  const std::string path = testing::MakeTempDir("tok-fuzz") + "/" + name;
  EXPECT_TRUE(WriteStringToFile(path, bytes).ok());
  return path;
}

// Three empty pieces: BOS ("") + unk ("") concatenates to a piece, so run.c's
// merge loop (which lets BOS take part) merged BOS away although the caller
// asked for it. BOS now stays out of the merges.
TEST(TokenizerFuzzRegression, Llama2cBosIsNeverMergedAway) {
  const std::string file = Bytes({0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                                  0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00});
  auto tok = tok::LoadLlama2cTokenizer(WriteTemp("tokenizer.bin", file));
  ASSERT_TRUE(tok.ok()) << tok.status().ToString();
  ASSERT_EQ((*tok)->vocab_size(), 3);
  for (const char* text : {"Hello world", "x", "\xff"}) {
    const std::vector<int32_t> ids = (*tok)->Encode(text, true);
    ASSERT_FALSE(ids.empty()) << text;
    EXPECT_EQ(ids[0], 1) << text;
    // The rest merged as before: the unk ids of the text collapse into one.
    EXPECT_EQ(ids, (std::vector<int32_t>{1, 0})) << text;
  }
}

}  // namespace
}  // namespace seedtune
