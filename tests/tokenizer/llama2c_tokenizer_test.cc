// llama2.c tokenizer.bin: format parsing, run.c-exact encoding, decoding.
#include <algorithm>
#include <cstring>
#include <filesystem>
#include <map>
#include <random>

#include <gtest/gtest.h>

#include "core/mapped_file.h"
#include "test_texts.h"
#include "tokenizer/score_bpe.h"
#include "tokenizer/text_util.h"

namespace seedtune {
namespace {

using testing::IdsToString;
using testing::RandomTexts;
using testing::VariedTexts;

std::optional<std::string> Tok512() { return FindAsset("models/stories260K/tok512.bin"); }

// Straightforward transcription of llama2.c run.c encode() semantics (linear
// scan for the best pair on every step), as an independent reference for the
// heap-based implementation.
struct ReferenceLlama2c {
  std::vector<std::string> vocab;
  std::vector<float> scores;
  std::map<std::string, int> lookup;

  explicit ReferenceLlama2c(const std::string& bytes) {
    size_t pos = 4;
    while (pos + 8 <= bytes.size()) {
      float score;
      int32_t len;
      std::memcpy(&score, bytes.data() + pos, 4);
      std::memcpy(&len, bytes.data() + pos + 4, 4);
      pos += 8;
      vocab.push_back(bytes.substr(pos, len));
      scores.push_back(score);
      pos += len;
    }
    for (size_t i = 0; i < vocab.size(); ++i) lookup.emplace(vocab[i], static_cast<int>(i));
  }
  int Find(const std::string& s) const {
    auto it = lookup.find(s);
    return it == lookup.end() ? -1 : it->second;
  }
  std::vector<int32_t> Encode(const std::string& text, bool bos) const {
    std::vector<int32_t> tokens;
    if (bos) tokens.push_back(1);
    if (!text.empty()) tokens.push_back(Find(" "));
    std::string buf;
    for (size_t i = 0; i < text.size(); ++i) {
      const auto c = static_cast<unsigned char>(text[i]);
      if ((c & 0xC0) != 0x80) buf.clear();
      buf.push_back(static_cast<char>(c));
      const unsigned char next = i + 1 < text.size() ? static_cast<unsigned char>(text[i + 1]) : 0;
      if ((next & 0xC0) == 0x80 && buf.size() < 4) continue;
      const int id = Find(buf);
      if (id != -1) {
        tokens.push_back(id);
      } else {
        for (unsigned char b : buf) tokens.push_back(b + 3);
      }
      buf.clear();
    }
    while (true) {
      float best_score = -1e10f;
      int best_id = -1, best_idx = -1;
      for (size_t i = 0; i + 1 < tokens.size(); ++i) {
        const int id = Find(vocab[tokens[i]] + vocab[tokens[i + 1]]);
        if (id != -1 && scores[id] > best_score) {
          best_score = scores[id];
          best_id = id;
          best_idx = static_cast<int>(i);
        }
      }
      if (best_idx == -1) break;
      tokens[best_idx] = best_id;
      tokens.erase(tokens.begin() + best_idx + 1);
    }
    return tokens;
  }
};

// Writes a llama2.c tokenizer.bin from (piece, score) pairs.
std::string MakeTokenizerBin(const std::vector<std::pair<std::string, float>>& tokens, int32_t max_len = 16) {
  std::string out(reinterpret_cast<const char*>(&max_len), 4);
  for (const auto& [piece, score] : tokens) {
    const auto len = static_cast<int32_t>(piece.size());
    out.append(reinterpret_cast<const char*>(&score), 4);
    out.append(reinterpret_cast<const char*>(&len), 4);
    out += piece;
  }
  return out;
}

// A tiny vocabulary: unk, bos, eos, 256 byte tokens, then a few pieces.
std::vector<std::pair<std::string, float>> TinyVocab() {
  std::vector<std::pair<std::string, float>> v = {{"<unk>", 0}, {"\n<s>\n", 0}, {"\n</s>\n", 0}};
  for (int b = 0; b < 256; ++b) v.emplace_back(tok::BytePieceName(static_cast<uint8_t>(b)), 0.f);
  for (const char* s : {" ", "a", "b", "c", "ab", "bc", " a", " ab", "abc", "aa"}) v.emplace_back(s, 0.f);
  // Scores: "bc" beats "ab" (so "abc" -> "a" + "bc" -> no "abc" merge path).
  v[259 + 4].second = -2;  // ab
  v[259 + 5].second = -1;  // bc
  v[259 + 6].second = -3;  // " a"
  v[259 + 7].second = -4;  // " ab"
  v[259 + 8].second = -5;  // abc
  v[259 + 0].second = -100;  // " "
  v[259 + 9].second = -0.5f;  // aa (ties between overlapping "aa" pairs: leftmost wins)
  return v;
}

std::string WriteTemp(const std::string& name, const std::string& bytes) {
  const std::string dir = testing::TestTempDir("llama2c");
  const std::string path = dir + "/" + name;
  EXPECT_TRUE(WriteStringToFile(path, bytes).ok());
  return path;
}

TEST(Llama2cTokenizer, KnownIdsOnceUponATime) {
  auto path = Tok512();
  if (!path) GTEST_SKIP() << "asset models/stories260K/tok512.bin not found";
  auto tok = testing::MustLoad(*path);
  ASSERT_NE(tok, nullptr);
  EXPECT_EQ(tok->vocab_size(), 512);
  EXPECT_EQ(tok->bos_id(), 1);
  EXPECT_EQ(tok->eos_id(), 2);
  EXPECT_TRUE(tok->add_bos_by_default());
  EXPECT_NE(tok->Describe().find("512"), std::string::npos) << tok->Describe();
  // Computed with a Python transcription of run.c encode(); pieces are
  // "\n<s>\n", " Once", " upon", " a", " time".
  EXPECT_EQ(tok->Encode("Once upon a time"), (std::vector<int32_t>{1, 403, 407, 261, 378}));
  EXPECT_EQ(tok->Encode("Once upon a time", false), (std::vector<int32_t>{403, 407, 261, 378}));
  EXPECT_EQ(tok->Decode(std::vector<int32_t>{1, 403, 407, 261, 378}), "Once upon a time");
  // "é日": dummy prefix " " stays alone, "é" is a piece, 日 falls back to bytes (id = byte + 3).
  EXPECT_EQ(tok->Encode("\xc3\xa9\xe6\x97\xa5"), (std::vector<int32_t>{1, 410, 485, 0xE6 + 3, 0x97 + 3, 0xA5 + 3}));
  EXPECT_EQ(tok->Encode(""), (std::vector<int32_t>{1}));
  EXPECT_TRUE(tok->Encode("", false).empty());
}

TEST(Llama2cTokenizer, MatchesRunCReferenceOnVariedAndRandomText) {
  auto path = Tok512();
  if (!path) GTEST_SKIP() << "asset models/stories260K/tok512.bin not found";
  auto tok = testing::MustLoad(*path);
  ASSERT_NE(tok, nullptr);
  auto bytes = ReadFileToString(*path);
  ASSERT_TRUE(bytes.ok());
  ReferenceLlama2c ref(*bytes);
  auto texts = VariedTexts();
  for (auto& t : RandomTexts(1234, 150)) texts.push_back(t);
  for (auto& t : RandomTexts(99, 100, /*ascii_only=*/true)) texts.push_back(t);
  for (const auto& text : texts) {
    for (bool bos : {true, false}) {
      EXPECT_EQ(tok->Encode(text, bos), ref.Encode(text, bos)) << testing::Escaped(text) << " bos=" << bos;
    }
  }
}

// Round trip: Decode(Encode(x)) == x exactly, with or without BOS: the dummy
// prefix space is dropped from the first piece of a sequence (prev = BOS or
// start). Byte-fallback tokens make it lossless for any UTF-8 input.
TEST(Llama2cTokenizer, RoundTrip) {
  auto path = Tok512();
  if (!path) GTEST_SKIP() << "asset models/stories260K/tok512.bin not found";
  auto tok = testing::MustLoad(*path);
  ASSERT_NE(tok, nullptr);
  auto texts = VariedTexts();
  for (auto& t : RandomTexts(7, 200)) texts.push_back(t);
  for (const auto& text : texts) {
    for (bool bos : {true, false}) {
      const auto ids = tok->Encode(text, bos);
      EXPECT_EQ(tok->Decode(ids), text) << testing::Escaped(text) << " " << IdsToString(ids);
      std::string streamed;
      int32_t prev = -1;
      for (int32_t id : ids) {
        streamed += tok->DecodeNext(prev, id);
        prev = id;
      }
      EXPECT_EQ(streamed, tok->Decode(ids));
    }
  }
  // run.c: a piece after a non-BOS token keeps its leading space; EOS decodes to nothing.
  EXPECT_EQ(tok->DecodeNext(403, 407), " upon");
  EXPECT_EQ(tok->DecodeNext(1, 403), "Once");
  EXPECT_EQ(tok->DecodeNext(403, 2), "");
}

TEST(Llama2cTokenizer, SyntheticVocabMergesByScoreAndFallsBackToBytes) {
  const std::string path = WriteTemp("tiny.bin", MakeTokenizerBin(TinyVocab()));
  auto tok = tok::LoadLlama2cTokenizer(path);
  ASSERT_TRUE(tok.ok()) << tok.status().ToString();
  const int32_t kSpace = 259, kA = 260, kB = 261, kC = 262, kBC = 264, kSpaceA = 265, kSpaceAB = 266;
  // " abc": tokens [" ", a, b, c]; best pair "bc" (-1), then " a" (-3) -> [" a", "bc"].
  EXPECT_EQ((*tok)->Encode("abc", false), (std::vector<int32_t>{kSpaceA, kBC}));
  // " ab": [" ", a, b]: "ab" (-2) first -> [" ", ab]; " ab" (-4) -> [" ab"].
  EXPECT_EQ((*tok)->Encode("ab", false), (std::vector<int32_t>{kSpaceAB}));
  // "d" is not in the vocabulary: byte fallback 'd' + 3.
  EXPECT_EQ((*tok)->Encode("d", true), (std::vector<int32_t>{1, kSpace, 'd' + 3}));
  EXPECT_EQ((*tok)->Encode("cab", false), (std::vector<int32_t>{kSpace, kC, 263 /*ab*/}));
  // " aaa": both "aa" pairs score the same; the leftmost merges first -> [" ", aa, a]
  // (the rightmost would give [" ", a, aa] and then [" a", aa]).
  const int32_t kAA = 268;
  EXPECT_EQ((*tok)->Encode("aaa", false), (std::vector<int32_t>{kSpace, kAA, kA}));
  EXPECT_EQ((*tok)->Decode(std::vector<int32_t>{1, kSpace, 'd' + 3}), "d");
  EXPECT_EQ((*tok)->Decode(std::vector<int32_t>{kA, kB}), "ab");
}

TEST(Llama2cTokenizer, TruncatedFilesGiveErrorsNamingTheFile) {
  const std::string full = MakeTokenizerBin(TinyVocab());
  // Every truncation point inside a token record (not at a record boundary).
  std::vector<size_t> boundaries = {4};
  for (const auto& [piece, score] : TinyVocab()) boundaries.push_back(boundaries.back() + 8 + piece.size());
  std::mt19937 rng(5);
  int checked = 0;
  for (int k = 0; k < 200; ++k) {
    const size_t cut = std::uniform_int_distribution<size_t>(0, full.size() - 1)(rng);
    if (std::find(boundaries.begin(), boundaries.end(), cut) != boundaries.end()) continue;
    const std::string path = WriteTemp("trunc.bin", full.substr(0, cut));
    auto tok = tok::LoadLlama2cTokenizer(path);
    ASSERT_FALSE(tok.ok()) << "cut at " << cut;
    EXPECT_NE(tok.status().message().find(path), std::string::npos) << tok.status().ToString();
    ++checked;
  }
  EXPECT_GT(checked, 100);
  // Negative length, huge length, empty file, missing file.
  std::string bad = full;
  const int32_t neg = -5;
  std::memcpy(bad.data() + 8, &neg, 4);
  for (const std::string& bytes : {bad, std::string(), std::string("\x10\x00", 2)}) {
    const std::string path = WriteTemp("bad.bin", bytes);
    auto tok = tok::LoadLlama2cTokenizer(path);
    ASSERT_FALSE(tok.ok());
    EXPECT_NE(tok.status().message().find(path), std::string::npos) << tok.status().ToString();
  }
  auto missing = LoadTokenizer("/nonexistent/dir/tokenizer.bin");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("/nonexistent/dir/tokenizer.bin"), std::string::npos);
}

}  // namespace
}  // namespace seedtune
