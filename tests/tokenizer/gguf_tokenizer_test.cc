// The tokenizer embedded in GGUF files: the real SmolLM2 GGUF against its
// tokenizer.json, and hand-written GGUF files for the "llama" vocabulary type
// and for error handling.
#include <cstring>
#include <filesystem>

#include <gtest/gtest.h>

#include "core/mapped_file.h"
#include "test_texts.h"
#include "tokenizer/gguf_tokenizer.h"
#include "tokenizer/text_util.h"

namespace seedtune {
namespace {

using testing::IdsToString;

// Minimal GGUF v3 writer (metadata only, no tensors) for test fixtures.
class GgufBuilder {
 public:
  void String(const std::string& key, const std::string& value) {
    Key(key, 8);
    Str(value);
  }
  void U32(const std::string& key, uint32_t value) {
    Key(key, 4);
    Raw(&value, 4);
  }
  void Bool(const std::string& key, bool value) {
    Key(key, 7);
    const uint8_t b = value ? 1 : 0;
    Raw(&b, 1);
  }
  void StringArray(const std::string& key, const std::vector<std::string>& values) {
    Key(key, 9);
    ArrayHeader(8, values.size());
    for (const auto& v : values) Str(v);
  }
  void F32Array(const std::string& key, const std::vector<float>& values) {
    Key(key, 9);
    ArrayHeader(6, values.size());
    for (float v : values) Raw(&v, 4);
  }
  void I32Array(const std::string& key, const std::vector<int32_t>& values) {
    Key(key, 9);
    ArrayHeader(5, values.size());
    for (int32_t v : values) Raw(&v, 4);
  }
  std::string Bytes() const {
    std::string out = "GGUF";
    const uint32_t version = 3;
    const uint64_t n_tensors = 0;
    out.append(reinterpret_cast<const char*>(&version), 4);
    out.append(reinterpret_cast<const char*>(&n_tensors), 8);
    out.append(reinterpret_cast<const char*>(&count_), 8);
    return out + body_;
  }

 private:
  void Raw(const void* p, size_t n) { body_.append(static_cast<const char*>(p), n); }
  void Str(const std::string& s) {
    const uint64_t n = s.size();
    Raw(&n, 8);
    body_ += s;
  }
  void Key(const std::string& key, uint32_t type) {
    Str(key);
    Raw(&type, 4);
    ++count_;
  }
  void ArrayHeader(uint32_t type, uint64_t n) {
    Raw(&type, 4);
    Raw(&n, 8);
  }
  std::string body_;
  uint64_t count_ = 0;
};

std::string WriteTemp(const std::string& name, const std::string& bytes) {
  const std::string path = testing::TestTempDir("gguftok") + "/" + name;
  EXPECT_TRUE(WriteStringToFile(path, bytes).ok());
  return path;
}

std::vector<std::string> ComparisonTexts() {
  auto texts = testing::VariedTexts();
  for (auto& t : testing::kSpecialTexts()) texts.push_back(t);
  for (auto& t : testing::RandomTexts(71, 200)) texts.push_back(t);
  for (auto& t : testing::RandomTexts(72, 100, /*ascii_only=*/true)) texts.push_back(t);
  return texts;
}

// Acceptance criterion: the GGUF-embedded tokenizer of SmolLM2 gives the same
// ids as its tokenizer.json.
TEST(GgufTokenizer, SmolLM2MatchesTokenizerJson) {
  auto gguf = FindAsset("models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf");
  if (!gguf) GTEST_SKIP() << "asset models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf not found (run scripts/fetch-smollm2.sh)";
  auto json_path = FindAsset("tokenizers/smollm2/tokenizer.json");
  if (!json_path) GTEST_SKIP() << "asset tokenizers/smollm2/tokenizer.json not found";
  auto from_gguf = testing::MustLoad(*gguf);
  auto from_json = testing::MustLoad(*json_path);
  ASSERT_NE(from_gguf, nullptr);
  ASSERT_NE(from_json, nullptr);
  EXPECT_EQ(from_gguf->Describe(), "byte-level BPE (GGUF gpt2), 49152 tokens");
  EXPECT_EQ(from_gguf->vocab_size(), from_json->vocab_size());
  EXPECT_EQ(from_gguf->bos_id(), 1);
  EXPECT_EQ(from_gguf->eos_id(), 2);
  EXPECT_EQ(from_gguf->bos_id(), from_json->bos_id());
  EXPECT_EQ(from_gguf->eos_id(), from_json->eos_id());
  EXPECT_FALSE(from_gguf->add_bos_by_default());
  EXPECT_EQ(from_gguf->Encode("Hello world"), (std::vector<int32_t>{19556, 905}));
  int mismatches = 0;
  for (const auto& text : ComparisonTexts()) {
    for (bool bos : {false, true}) {
      const auto a = from_gguf->Encode(text, bos);
      const auto b = from_json->Encode(text, bos);
      if (a != b && ++mismatches <= 10) {
        ADD_FAILURE() << testing::Escaped(text) << "\n  gguf: " << IdsToString(a) << "\n  json: " << IdsToString(b);
      }
      EXPECT_EQ(from_gguf->Decode(a), from_json->Decode(b));
    }
  }
  EXPECT_EQ(mismatches, 0);
}

// Builds a GGUF "llama" vocabulary from llama2.c's tok512.bin (spaces as
// U+2581, token types UNKNOWN/CONTROL/BYTE/NORMAL).
std::string Tok512AsGguf(const std::string& tok512_bytes, bool with_user_token) {
  std::vector<std::string> pieces;
  std::vector<float> scores;
  size_t pos = 4;
  while (pos + 8 <= tok512_bytes.size()) {
    float score;
    int32_t len;
    std::memcpy(&score, tok512_bytes.data() + pos, 4);
    std::memcpy(&len, tok512_bytes.data() + pos + 4, 4);
    pos += 8;
    pieces.push_back(tok512_bytes.substr(pos, len));
    scores.push_back(score);
    pos += len;
  }
  std::vector<int32_t> types(pieces.size(), 1);
  types[0] = 2;
  types[1] = types[2] = 3;
  for (size_t i = 3; i < 259 && i < pieces.size(); ++i) types[i] = 6;
  for (size_t i = 259; i < pieces.size(); ++i) pieces[i] = tok::ReplaceAll(pieces[i], " ", tok::kSpaceMarker);
  pieces[1] = "<s>";
  pieces[2] = "</s>";
  if (with_user_token) {
    pieces.push_back("<|user|>");
    scores.push_back(0);
    types.push_back(4);
  }
  GgufBuilder b;
  b.String("general.architecture", "llama");
  b.String("tokenizer.ggml.model", "llama");
  b.StringArray("tokenizer.ggml.tokens", pieces);
  b.F32Array("tokenizer.ggml.scores", scores);
  b.I32Array("tokenizer.ggml.token_type", types);
  b.U32("tokenizer.ggml.bos_token_id", 1);
  b.U32("tokenizer.ggml.eos_token_id", 2);
  b.U32("tokenizer.ggml.unknown_token_id", 0);
  return b.Bytes();
}

// The GGUF "llama" path uses the same score-merge algorithm as llama2.c, so a
// vocabulary converted from tok512.bin must give identical ids and text.
TEST(GgufTokenizer, LlamaVocabMatchesLlama2cTokenizer) {
  auto tok512 = FindAsset("models/stories260K/tok512.bin");
  if (!tok512) GTEST_SKIP() << "asset models/stories260K/tok512.bin not found";
  auto bytes = ReadFileToString(*tok512);
  ASSERT_TRUE(bytes.ok());
  const std::string path = WriteTemp("tok512.gguf", Tok512AsGguf(*bytes, false));
  auto gguf_tok = testing::MustLoad(path);
  auto llama2c = testing::MustLoad(*tok512);
  ASSERT_NE(gguf_tok, nullptr);
  ASSERT_NE(llama2c, nullptr);
  EXPECT_EQ(gguf_tok->vocab_size(), 512);
  EXPECT_TRUE(gguf_tok->add_bos_by_default());
  EXPECT_EQ(gguf_tok->Encode("Once upon a time"), (std::vector<int32_t>{1, 403, 407, 261, 378}));
  auto texts = testing::VariedTexts();
  for (auto& t : testing::RandomTexts(81, 200)) texts.push_back(t);
  for (const auto& text : texts) {
    // "<s>" / "</s>" are CONTROL tokens here (matched literally), not in llama2.c.
    if (text.find("<s>") != std::string::npos || text.find("</s>") != std::string::npos) continue;
    for (bool bos : {true, false}) {
      const auto a = gguf_tok->Encode(text, bos);
      EXPECT_EQ(a, llama2c->Encode(text, bos)) << testing::Escaped(text);
      EXPECT_EQ(gguf_tok->Decode(a), text) << testing::Escaped(text);
      std::string streamed;
      int32_t prev = -1;
      for (int32_t id : a) {
        streamed += gguf_tok->DecodeNext(prev, id);
        prev = id;
      }
      EXPECT_EQ(streamed, text);
    }
  }
}

TEST(GgufTokenizer, LlamaVocabMatchesControlAndUserDefinedTokensLiterally) {
  auto tok512 = FindAsset("models/stories260K/tok512.bin");
  if (!tok512) GTEST_SKIP() << "asset models/stories260K/tok512.bin not found";
  auto bytes = ReadFileToString(*tok512);
  ASSERT_TRUE(bytes.ok());
  auto tok = testing::MustLoad(WriteTemp("tok512u.gguf", Tok512AsGguf(*bytes, true)));
  ASSERT_NE(tok, nullptr);
  EXPECT_EQ(tok->vocab_size(), 513);
  const int32_t kUser = 512;
  // Like llama.cpp: the dummy prefix goes before the text and after each special token.
  const auto ids = tok->Encode("<|user|>Once upon</s>", false);
  const auto once = tok->Encode("Once upon", false);
  std::vector<int32_t> expected = {kUser};
  expected.insert(expected.end(), once.begin(), once.end());
  expected.push_back(2);
  EXPECT_EQ(ids, expected) << IdsToString(ids);
  // USER_DEFINED decodes to its text, CONTROL to nothing.
  EXPECT_EQ(tok->Decode(ids), "<|user|> Once upon");
  EXPECT_EQ(tok->Decode(std::vector<int32_t>{1, 403, 2}), "Once");
}

TEST(GgufTokenizer, MalformedMetadataGivesErrorsNamingTheFile) {
  std::vector<std::pair<std::string, GgufBuilder>> cases;
  {
    GgufBuilder b;
    b.String("general.architecture", "llama");
    cases.emplace_back("no_tokenizer", b);
  }
  {
    GgufBuilder b;
    b.String("tokenizer.ggml.model", "gpt2");
    b.StringArray("tokenizer.ggml.tokens", {"a", "b", "ab"});
    cases.emplace_back("gpt2_no_merges", b);
  }
  {
    GgufBuilder b;
    b.String("tokenizer.ggml.model", "gpt2");
    b.StringArray("tokenizer.ggml.tokens", {"a", "b", "ab"});
    b.StringArray("tokenizer.ggml.merges", {"a b"});
    b.String("tokenizer.ggml.pre", "some-future-pre");
    cases.emplace_back("gpt2_unknown_pre", b);
  }
  {
    GgufBuilder b;
    b.String("tokenizer.ggml.model", "llama");
    b.StringArray("tokenizer.ggml.tokens", {"a", "b", "ab"});
    b.F32Array("tokenizer.ggml.scores", {0, 0});
    cases.emplace_back("llama_score_count", b);
  }
  {
    GgufBuilder b;
    b.String("tokenizer.ggml.model", "bert");
    b.StringArray("tokenizer.ggml.tokens", {"a"});
    cases.emplace_back("bert", b);
  }
  {
    GgufBuilder b;
    b.String("tokenizer.ggml.model", "gpt2");
    b.U32("tokenizer.ggml.tokens", 5);  // wrong type
    cases.emplace_back("tokens_wrong_type", b);
  }
  for (const auto& [name, builder] : cases) {
    SCOPED_TRACE(name);
    const std::string path = WriteTemp(name + ".gguf", builder.Bytes());
    auto tok = LoadTokenizer(path);
    ASSERT_FALSE(tok.ok());
    EXPECT_NE(tok.status().message().find(path), std::string::npos) << tok.status().ToString();
  }
  // A valid gpt2 vocabulary in the same style loads and merges.
  GgufBuilder ok;
  ok.String("tokenizer.ggml.model", "gpt2");
  ok.StringArray("tokenizer.ggml.tokens", {"a", "b", "ab", "<|end|>"});
  ok.I32Array("tokenizer.ggml.token_type", {1, 1, 1, 3});
  ok.StringArray("tokenizer.ggml.merges", {"a b"});
  ok.U32("tokenizer.ggml.eos_token_id", 3);
  auto tok = LoadTokenizer(WriteTemp("ok.gguf", ok.Bytes()));
  ASSERT_TRUE(tok.ok()) << tok.status().ToString();
  EXPECT_EQ((*tok)->Encode("abba<|end|>", false), (std::vector<int32_t>{2, 1, 0, 3}));
  EXPECT_EQ((*tok)->eos_id(), 3);
  EXPECT_EQ((*tok)->bos_id(), -1);
  EXPECT_FALSE((*tok)->add_bos_by_default());
  // Truncated real GGUF header.
  if (auto gguf = FindAsset("models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")) {
    MappedFile f = std::move(MappedFile::Open(*gguf)).value();
    const std::string head(reinterpret_cast<const char*>(f.data()), 200000);
    const std::string path = WriteTemp("truncated.gguf", head);
    auto t = LoadTokenizer(path);
    ASSERT_FALSE(t.ok());
    EXPECT_NE(t.status().message().find(path), std::string::npos) << t.status().ToString();
  }
}

}  // namespace
}  // namespace seedtune
