// Byte-level BPE (GPT-2 family): added/special tokens matched literally, then
// pre-tokenization, then the GPT-2 byte -> unicode mapping and merges by rank.
// Shared by tokenizer.json, encoder.json + vocab.bpe and GGUF "gpt2" loaders.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/status.h"
#include "tokenizer/pretokenizer.h"
#include "tokenizer/special_tokens.h"
#include "tokenizer/tokenizer.h"

namespace seedtune::tok {

// How Decode treats a token.
enum class TokenKind : uint8_t {
  kNormal = 0,   // byte-level string, mapped back to bytes
  kControl = 1,  // special/control token: skipped by Decode
  kLiteral = 2,  // added (user-defined) token: its content is emitted as is
};

struct ByteBpeConfig {
  std::string source;                       // "tokenizer.json", "GPT-2 encoder.json + vocab.bpe", ...
  std::vector<std::string> id_to_token;     // byte-level token strings ("" for unused ids)
  std::vector<std::pair<std::string, std::string>> merges;  // by rank
  std::vector<SpecialToken> added_tokens;   // matched literally in the input
  std::vector<std::pair<int32_t, TokenKind>> token_kinds;  // non-normal tokens
  PreTokenizer pre_tokenizer;
  int32_t bos_id = -1;
  int32_t eos_id = -1;
  int32_t unk_id = -1;
  bool add_bos_by_default = false;
  bool ignore_merges = false;  // a pre-token that is itself in the vocab is not merged
};

class ByteBpeTokenizer final : public Tokenizer {
 public:
  // `path` names the file in errors.
  static StatusOr<std::unique_ptr<ByteBpeTokenizer>> Create(ByteBpeConfig config, const std::string& path);

  std::string Describe() const override;
  int32_t vocab_size() const override { return static_cast<int32_t>(id_to_token_.size()); }
  int32_t bos_id() const override { return bos_id_; }
  int32_t eos_id() const override { return eos_id_; }
  bool add_bos_by_default() const override { return add_bos_; }
  std::vector<int32_t> Encode(std::string_view text, bool add_bos) const override;
  std::string Decode(std::span<const int32_t> ids) const override;
  std::string DecodeNext(int32_t prev, int32_t id) const override;

  // The token string of `id` (byte-level form), or "" when out of range.
  const std::string& TokenString(int32_t id) const;

 private:
  ByteBpeTokenizer() = default;
  void EncodePreToken(const std::string& piece, std::vector<int32_t>* out) const;
  void BpeWord(std::string_view piece, std::vector<int32_t>* out) const;

  std::string source_;
  std::vector<std::string> id_to_token_;
  std::vector<std::string> decoded_;  // bytes each token decodes to
  std::vector<TokenKind> kinds_;
  std::unordered_map<std::string, int32_t> token_to_id_;
  struct MergeInfo {
    int32_t rank;
    int32_t merged_id;
  };
  std::unordered_map<uint64_t, MergeInfo> merges_;
  std::array<int32_t, 256> byte_ids_{};
  SpecialTokenMatcher specials_;
  PreTokenizer pre_;
  int32_t bos_id_ = -1;
  int32_t eos_id_ = -1;
  int32_t unk_id_ = -1;
  bool add_bos_ = false;
  bool ignore_merges_ = false;

  mutable std::mutex cache_mu_;
  mutable std::unordered_map<std::string, std::vector<int32_t>> cache_;
};

// Loaders (errors name the file).
StatusOr<std::unique_ptr<Tokenizer>> LoadHfTokenizerJson(const std::string& path);
StatusOr<std::unique_ptr<Tokenizer>> LoadGpt2Tokenizer(const std::string& encoder_json, const std::string& vocab_bpe);

}  // namespace seedtune::tok
