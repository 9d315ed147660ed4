// Examples -> SequenceRequests: the scored range is exactly the candidate.
#include "data/encode.h"

#include <memory>
#include <optional>
#include <string>

#include <gtest/gtest.h>

#include "core/assets.h"
#include "support/fixtures.h"

namespace seedtune {
namespace {

// Character-level tokenizer with one merge ("ab" -> kAb) so that a prompt
// ending in "a" followed by a candidate starting with "b" is not a prefix of
// the joint encoding. ids: 0 unk, 1 BOS, 2 EOS, byte b -> b + 3, "ab" -> 300.
class CharTokenizer : public Tokenizer {
 public:
  static constexpr int32_t kAb = 300;
  explicit CharTokenizer(bool add_bos) : add_bos_(add_bos) {}
  using Tokenizer::Encode;
  std::string Describe() const override { return "char test tokenizer"; }
  int32_t vocab_size() const override { return 301; }
  int32_t bos_id() const override { return 1; }
  int32_t eos_id() const override { return 2; }
  bool add_bos_by_default() const override { return add_bos_; }
  std::vector<int32_t> Encode(std::string_view text, bool add_bos) const override {
    std::vector<int32_t> ids;
    if (add_bos) ids.push_back(1);
    for (size_t i = 0; i < text.size(); ++i) {
      if (text[i] == 'a' && i + 1 < text.size() && text[i + 1] == 'b') {
        ids.push_back(kAb);
        ++i;
      } else {
        ids.push_back(static_cast<unsigned char>(text[i]) + 3);
      }
    }
    return ids;
  }
  std::string Decode(std::span<const int32_t> ids) const override {
    std::string s;
    int32_t prev = -1;
    for (int32_t id : ids) s += DecodeNext(prev, id), prev = id;
    return s;
  }
  std::string DecodeNext(int32_t, int32_t id) const override {
    if (id == kAb) return "ab";
    if (id < 3) return "";
    return std::string(1, static_cast<char>(id - 3));
  }

 private:
  bool add_bos_;
};

// The text of the scored tokens, decoded in context.
std::string ScoredText(const Tokenizer& tok, const SequenceRequest& r) {
  std::string s;
  for (int32_t p = r.score_begin; p < r.score_end; ++p) s += tok.DecodeNext(r.tokens[p], r.tokens[p + 1]);
  return s;
}

std::vector<int32_t> ScoredIds(const SequenceRequest& r) {
  return std::vector<int32_t>(r.tokens.begin() + r.score_begin + 1, r.tokens.begin() + r.score_end + 1);
}

TEST(EncodeTest, ScoredRangeIsTheCandidate) {
  CharTokenizer tok(true);
  Example ex{"hello It was", {" terrible", " great"}, 1, false};
  auto enc = EncodeExample(ex, tok);
  ASSERT_TRUE(enc.ok()) << enc.status().ToString();
  ASSERT_EQ(enc->candidates.size(), 2u);
  EXPECT_EQ(enc->label, 1);
  const SequenceRequest& r = enc->candidates[0];
  EXPECT_EQ(r.tokens, tok.Encode("hello It was terrible"));
  EXPECT_EQ(r.score_begin, 12);  // BOS + 12 prompt chars; predicts token 13 from position 12
  EXPECT_EQ(r.score_end, static_cast<int32_t>(r.tokens.size()) - 1);
  EXPECT_EQ(ScoredText(tok, r), " terrible");
  EXPECT_EQ(ScoredText(tok, enc->candidates[1]), " great");
  EXPECT_TRUE(r.logit_positions.empty());
}

TEST(EncodeTest, NonPrefixFallsBackToSeparateEncoding) {
  CharTokenizer tok(true);
  Example ex{"xa", {"b", "c"}, 0, false};
  auto enc = EncodeExample(ex, tok);
  ASSERT_TRUE(enc.ok()) << enc.status().ToString();
  // Joint "xab" would be [BOS, x, ab]: the prompt [BOS, x, a] is not a prefix.
  EXPECT_EQ(enc->candidates[0].tokens, (std::vector<int32_t>{1, 'x' + 3, 'a' + 3, 'b' + 3}));
  EXPECT_EQ(ScoredIds(enc->candidates[0]), (std::vector<int32_t>{'b' + 3}));
  EXPECT_EQ(enc->candidates[1].tokens, tok.Encode("xac"));
  EXPECT_EQ(ScoredText(tok, enc->candidates[1]), "c");
}

TEST(EncodeTest, AppendsEos) {
  CharTokenizer tok(true);
  Example ex{"Q:", {" yes"}, 0, true};
  auto enc = EncodeExample(ex, tok);
  ASSERT_TRUE(enc.ok()) << enc.status().ToString();
  const auto ids = ScoredIds(enc->candidates[0]);
  ASSERT_EQ(ids.size(), 5u);
  EXPECT_EQ(ids.back(), 2);
  EXPECT_EQ(ScoredText(tok, enc->candidates[0]), " yes");
}

TEST(EncodeTest, TruncatesFromTheLeftKeepingBos) {
  CharTokenizer tok(true);
  Example ex{"0123456789", {" ab"}, 0, false};
  auto enc = EncodeExample(ex, tok, 6);
  ASSERT_TRUE(enc.ok()) << enc.status().ToString();
  const SequenceRequest& r = enc->candidates[0];
  // Full: [BOS 0 1 ... 9 ' ' ab] (13 tokens) -> [BOS 7 8 9 ' ' ab].
  EXPECT_EQ(r.tokens, (std::vector<int32_t>{1, '7' + 3, '8' + 3, '9' + 3, ' ' + 3, CharTokenizer::kAb}));
  EXPECT_EQ(ScoredText(tok, r), " ab");

  CharTokenizer no_bos(false);
  auto enc2 = EncodeExample(ex, no_bos, 6);
  ASSERT_TRUE(enc2.ok());
  EXPECT_EQ(enc2->candidates[0].tokens, (std::vector<int32_t>{'6' + 3, '7' + 3, '8' + 3, '9' + 3, ' ' + 3, 300}));
  EXPECT_EQ(ScoredText(no_bos, enc2->candidates[0]), " ab");

  // A candidate longer than the window keeps its tail, all of it scored but the first token.
  Example long_cand{"p", {"0123456789"}, 0, false};
  auto enc3 = EncodeExample(long_cand, tok, 4);
  ASSERT_TRUE(enc3.ok());
  EXPECT_EQ(enc3->candidates[0].tokens, (std::vector<int32_t>{1, '7' + 3, '8' + 3, '9' + 3}));
  EXPECT_EQ(ScoredText(tok, enc3->candidates[0]), "789");
}

TEST(EncodeTest, EmptyPromptWithoutBosSkipsTheFirstToken) {
  CharTokenizer tok(false);
  Example ex{"", {"story"}, 0, false};
  auto enc = EncodeExample(ex, tok);
  ASSERT_TRUE(enc.ok()) << enc.status().ToString();
  EXPECT_EQ(enc->candidates[0].score_begin, 0);
  EXPECT_EQ(ScoredText(tok, enc->candidates[0]), "tory");
  CharTokenizer with_bos(true);
  auto enc2 = EncodeExample(ex, with_bos);
  ASSERT_TRUE(enc2.ok());
  EXPECT_EQ(ScoredText(with_bos, enc2->candidates[0]), "story");
}

TEST(EncodeTest, Errors) {
  CharTokenizer tok(true);
  EXPECT_FALSE(EncodeExample(Example{"p", {}, 0, false}, tok).ok());
  EXPECT_FALSE(EncodeExample(Example{"p", {"a", "b"}, 2, false}, tok).ok());
  EXPECT_FALSE(EncodeExample(Example{"p", {"a", ""}, 0, false}, tok).ok());  // nothing to score
  EXPECT_FALSE(EncodeExample(Example{"p", {"a"}, 0, false}, tok, 1).ok());
  CharTokenizer no_bos(false);
  EXPECT_FALSE(EncodeExample(Example{"", {"x"}, 0, false}, no_bos).ok());
  std::vector<Example> batch = {Example{"p", {"a"}, 0, false}, Example{"p", {"a"}, 3, false}};
  auto all = EncodeExamples(batch, tok);
  ASSERT_FALSE(all.ok());
  EXPECT_NE(all.status().message().find("example 1"), std::string::npos) << all.status().ToString();
}

TEST(EncodeTest, EffectiveMaxLength) {
  ModelConfig c;
  c.max_positions = 512;
  EXPECT_EQ(EffectiveMaxLength(2048, c), 512);
  EXPECT_EQ(EffectiveMaxLength(100, c), 100);
  EXPECT_EQ(EffectiveMaxLength(0, c), 512);
  c.max_positions = 4096;
  EXPECT_EQ(EffectiveMaxLength(0, c), kDefaultMaxLength);
}

// Real vocabularies: MeZO's templates' candidates decode back exactly.
TEST(EncodeTest, RealTokenizersScoreExactlyTheCandidate) {
  const char* paths[] = {"models/stories260K/tok512.bin", "tokenizers/gpt2", "tokenizers/llama2/tokenizer.model",
                         "tokenizers/smollm2/tokenizer.json"};
  const std::vector<Example> examples = {
      Sst2Example(Sst2Record{"a gorgeous , witty , seductive movie . ", 1, 2}),
      RteExample(PremiseHypothesisRecord{"The cat sat on the mat.", "A cat sat.", 0, 1}),
      CbExample(PremiseHypothesisRecord{"It rained.", "the ground is wet", 2, 1}),
      CopaExample(CopaRecord{"The man turned on the faucet.", "The toilet filled with water.",
                             "Water flowed from the spout.", "effect", 1, 1}),
      TrecExample(LabeledSentence{5, "How far is it from Denver to Aspen ?", 1}),
      NiExample("Answer it.", NiInstance{"2+2", "4", 0}),
  };
  int tested = 0;
  for (const char* rel : paths) {
    auto path = FindAsset(rel);
    if (!path) continue;
    auto tok = LoadTokenizer(*path);
    ASSERT_TRUE(tok.ok()) << rel << ": " << tok.status().ToString();
    ++tested;
    for (const Example& ex : examples) {
      auto enc = EncodeExample(ex, **tok);
      ASSERT_TRUE(enc.ok()) << rel << ": " << enc.status().ToString();
      for (size_t c = 0; c < ex.candidates.size(); ++c) {
        const SequenceRequest& r = enc->candidates[c];
        if ((*tok)->add_bos_by_default()) {
          EXPECT_EQ(r.tokens[0], (*tok)->bos_id()) << rel;
        }
        std::string want = ex.candidates[c];
        std::string got = ScoredText(**tok, r);
        if (ex.append_eos) {
          EXPECT_EQ(r.tokens.back(), (*tok)->eos_id()) << rel;
        }
        EXPECT_EQ(got, want) << rel << " prompt \"" << ex.prompt << "\"";
        // Prompt + scored tokens re-assemble the whole sequence.
        std::vector<int32_t> head(r.tokens.begin(), r.tokens.begin() + r.score_begin + 1);
        EXPECT_EQ(head, (*tok)->Encode(ex.prompt)) << rel << " prompt \"" << ex.prompt << "\"";
      }
    }
  }
  if (tested == 0) GTEST_SKIP() << "no tokenizer assets found";
}

}  // namespace
}  // namespace seedtune
