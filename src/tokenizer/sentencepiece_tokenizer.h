// SentencePiece tokenizer.model through libsentencepiece.
#pragma once

#include <memory>
#include <string>

#include "core/status.h"
#include "tokenizer/tokenizer.h"

namespace seedtune::tok {

// Encoding is libsentencepiece's. Decode is the concatenation of DecodeNext:
// "▁" -> ' ', "<0xXX>" byte pieces -> raw bytes, control pieces (BOS/EOS) ->
// nothing, unknown -> " ⁇ " (SentencePiece's default), and the leading space of
// the first piece is dropped when it starts the sequence or follows BOS (only
// for models that add a dummy prefix).
StatusOr<std::unique_ptr<Tokenizer>> LoadSentencePieceTokenizer(const std::string& path);

}  // namespace seedtune::tok
