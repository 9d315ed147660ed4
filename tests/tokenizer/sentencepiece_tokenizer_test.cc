// SentencePiece tokenizer.model (Llama-2) through libsentencepiece.
#include <gtest/gtest.h>
#include <sentencepiece_processor.h>

#include "core/mapped_file.h"
#include "test_texts.h"
#include "tokenizer/sentencepiece_tokenizer.h"

namespace seedtune {
namespace {

using testing::IdsToString;

std::optional<std::string> Llama2Model() { return FindAsset("tokenizers/llama2/tokenizer.model"); }

TEST(SentencePieceTokenizer, Llama2KnownIds) {
  auto path = Llama2Model();
  if (!path) GTEST_SKIP() << "asset tokenizers/llama2/tokenizer.model not found";
  auto tok = testing::MustLoad(*path);
  ASSERT_NE(tok, nullptr);
  EXPECT_EQ(tok->vocab_size(), 32000);
  EXPECT_EQ(tok->bos_id(), 1);
  EXPECT_EQ(tok->eos_id(), 2);
  EXPECT_TRUE(tok->add_bos_by_default());
  EXPECT_NE(tok->Describe().find("SentencePiece"), std::string::npos);
  // Published Llama-2 ids (e.g. the Hugging Face LlamaTokenizer docs/tests).
  EXPECT_EQ(tok->Encode("Hello world"), (std::vector<int32_t>{1, 15043, 3186}));
  EXPECT_EQ(tok->Encode("Hello world", false), (std::vector<int32_t>{15043, 3186}));
  // Newline is not a piece: byte fallback <0x0A> = id 13.
  const auto nl = tok->Encode("a\nb", false);
  EXPECT_NE(std::find(nl.begin(), nl.end(), 13), nl.end()) << IdsToString(nl);
  EXPECT_EQ(tok->Decode(std::vector<int32_t>{1, 15043, 3186, 2}), "Hello world");
  EXPECT_EQ(tok->DecodeNext(15043, 3186), " world");
  EXPECT_EQ(tok->DecodeNext(1, 15043), "Hello");
  EXPECT_EQ(tok->Encode("", true), (std::vector<int32_t>{1}));
}

// Round trip: Decode(Encode(x)) == x for any valid UTF-8 x (Llama-2 has byte
// fallback and keeps whitespace): the dummy-prefix space is dropped from the
// first piece. Our Decode (concatenated DecodeNext) also equals
// libsentencepiece's own DecodeIds.
TEST(SentencePieceTokenizer, RoundTripAndAgreesWithLibraryDecode) {
  auto path = Llama2Model();
  if (!path) GTEST_SKIP() << "asset tokenizers/llama2/tokenizer.model not found";
  auto tok = testing::MustLoad(*path);
  ASSERT_NE(tok, nullptr);
  sentencepiece::SentencePieceProcessor sp;
  ASSERT_TRUE(sp.Load(*path).ok());
  auto texts = testing::VariedTexts();
  for (auto& t : testing::kSpecialTexts()) texts.push_back(t);
  for (auto& t : testing::RandomTexts(11, 150)) texts.push_back(t);
  for (const auto& text : texts) {
    for (bool bos : {true, false}) {
      const auto ids = tok->Encode(text, bos);
      EXPECT_EQ(tok->Decode(ids), text) << testing::Escaped(text) << " " << IdsToString(ids);
      const std::vector<int> as_int(ids.begin(), ids.end());
      EXPECT_EQ(tok->Decode(ids), sp.DecodeIds(as_int)) << testing::Escaped(text);
      std::string streamed;
      int32_t prev = -1;
      for (int32_t id : ids) {
        streamed += tok->DecodeNext(prev, id);
        prev = id;
      }
      EXPECT_EQ(streamed, tok->Decode(ids));
    }
  }
}

TEST(SentencePieceTokenizer, MalformedModelGivesErrorNamingTheFile) {
  const std::string dir = testing::TestTempDir("spm");
  for (const std::string& bytes : {std::string("this is not a protobuf \xff\xff\xff", 26), std::string()}) {
    const std::string path = dir + "/broken.model";
    ASSERT_TRUE(WriteStringToFile(path, bytes).ok());
    auto tok = LoadTokenizer(path);
    ASSERT_FALSE(tok.ok());
    EXPECT_NE(tok.status().message().find(path), std::string::npos) << tok.status().ToString();
  }
  auto path = Llama2Model();
  if (!path) return;
  auto bytes = ReadFileToString(*path);
  ASSERT_TRUE(bytes.ok());
  const std::string trunc = dir + "/truncated.model";
  ASSERT_TRUE(WriteStringToFile(trunc, bytes->substr(0, bytes->size() / 2)).ok());
  auto tok = LoadTokenizer(trunc);
  ASSERT_FALSE(tok.ok());
  EXPECT_NE(tok.status().message().find(trunc), std::string::npos) << tok.status().ToString();
}

}  // namespace
}  // namespace seedtune
