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


// A vocabulary id too large for uint64 is a JSON float; nlohmann's
// get<int64_t> converted it with undefined behaviour (UBSan: 9.2e19 is outside
// the range of long). Ids must be JSON integers.
TEST(TokenizerFuzzRegression, TokenizerJsonIdsMustBeIntegers) {
  const std::string file =
      "{\"vt\":{\"t\":true},\"model\":{\"\":false,\"vocab\":{\"\xc3\x89\":92337203685477580799},\"merges\":[\"\"]}}";
  const std::string path = WriteTemp("tokenizer.json", file);
  auto tok = tok::LoadHfTokenizerJson(path);
  ASSERT_FALSE(tok.ok());
  EXPECT_EQ(tok.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(tok.status().message(), path + ": token '\xc3\x89' has id 9.233720368547758e+19, not an integer");
  // The same for added tokens and for GPT-2's encoder.json.
  auto added = tok::LoadHfTokenizerJson(WriteTemp(
      "tokenizer.json", R"({"added_tokens":[{"id":1.5,"content":"<s>"}],"model":{"vocab":{"a":0},"merges":[]}})"));
  ASSERT_FALSE(added.ok());
  EXPECT_NE(added.status().message().find("added token '<s>' has id 1.5, not an integer"), std::string::npos)
      << added.status().ToString();
  const std::string dir = testing::MakeTempDir("tok-fuzz-gpt2");
  ASSERT_TRUE(WriteStringToFile(dir + "/encoder.json", R"({"a":0,"b":1e30})").ok());
  ASSERT_TRUE(WriteStringToFile(dir + "/vocab.bpe", "#version: 0.2\na b\n").ok());
  auto gpt2 = tok::LoadGpt2Tokenizer(dir + "/encoder.json", dir + "/vocab.bpe");
  ASSERT_FALSE(gpt2.ok());
  EXPECT_NE(gpt2.status().message().find("token 'b' has id 1e+30, not an integer"), std::string::npos)
      << gpt2.status().ToString();
}

}  // namespace
}  // namespace seedtune
