// SentencePiece-style BPE by piece score, as in llama2.c run.c encode() and
// llama.cpp's SPM tokenizer: split the text into UTF-8 characters (unknown
// characters fall back to byte tokens), then repeatedly merge the adjacent
// pair whose concatenation is a vocabulary piece with the highest score
// (leftmost on ties). Used for llama2.c tokenizer.bin and GGUF "llama" vocabs.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/status.h"
#include "tokenizer/special_tokens.h"
#include "tokenizer/tokenizer.h"

namespace seedtune::tok {

// Token types as in GGUF tokenizer.ggml.token_type (llama.cpp numbering).
enum class PieceType : uint8_t {
  kNormal = 1, kUnknown = 2, kControl = 3, kUserDefined = 4, kUnused = 5, kByte = 6,
};

struct ScoreBpeConfig {
  std::string source;  // "llama2.c tokenizer.bin", "GGUF llama", ...
  std::vector<std::string> pieces;
  std::vector<float> scores;
  std::vector<PieceType> types;  // empty: all normal
  int32_t bos_id = -1;
  int32_t eos_id = -1;
  int32_t unk_id = -1;
  bool add_bos_by_default = true;
  // llama2.c conventions: pieces contain real spaces, the dummy prefix is the
  // " " token, byte fallback is id = byte + 3, no literal special tokens; only
  // pairs scoring above -1e10 merge. BOS stays out of the merges (run.c lets
  // it take part, but a real vocabulary never merges it).
  bool llama2c = false;
  // GGUF conventions (llama2c == false): spaces are written as U+2581 in
  // pieces, the dummy prefix "▁" is prepended to the text at the start and
  // after each special token (when add_space_prefix), byte fallback uses the
  // "<0xXX>" pieces, CONTROL and USER_DEFINED pieces are matched literally.
  bool add_space_prefix = true;
};

class ScoreBpeTokenizer final : public Tokenizer {
 public:
  static StatusOr<std::unique_ptr<ScoreBpeTokenizer>> Create(ScoreBpeConfig config, const std::string& path);

  std::string Describe() const override;
  int32_t vocab_size() const override { return static_cast<int32_t>(pieces_.size()); }
  int32_t bos_id() const override { return bos_id_; }
  int32_t eos_id() const override { return eos_id_; }
  bool add_bos_by_default() const override { return add_bos_; }
  std::vector<int32_t> Encode(std::string_view text, bool add_bos) const override;
  // The leading space of the first piece is dropped when it follows BOS or
  // starts the sequence (prev < 0), undoing the dummy prefix.
  std::string Decode(std::span<const int32_t> ids) const override;
  std::string DecodeNext(int32_t prev, int32_t id) const override;

  const std::string& Piece(int32_t id) const { return pieces_[id]; }

 private:
  ScoreBpeTokenizer() = default;
  // Appends the initial per-character ids of `text` (already in piece form).
  void Segment(std::string_view text, std::vector<int32_t>* out) const;
  void Merge(std::vector<int32_t>* ids) const;
  int32_t Lookup(std::string_view piece) const;

  std::string source_;
  std::vector<std::string> pieces_;
  std::vector<float> scores_;
  std::vector<PieceType> types_;
  std::vector<std::string> surface_;
  std::vector<uint8_t> strip_at_start_;  // bytes each id decodes to (control: "")
  std::unordered_map<std::string, int32_t> piece_to_id_;
  std::array<int32_t, 256> byte_ids_{};
  SpecialTokenMatcher specials_;
  int32_t bos_id_ = -1;
  int32_t eos_id_ = -1;
  int32_t unk_id_ = -1;
  bool add_bos_ = true;
  bool llama2c_ = false;
  bool add_space_prefix_ = true;
  int32_t space_id_ = -1;  // llama2.c: the " " piece used as dummy prefix
};

// llama2.c tokenizer.bin (errors name the file).
StatusOr<std::unique_ptr<Tokenizer>> LoadLlama2cTokenizer(const std::string& path);

}  // namespace seedtune::tok
