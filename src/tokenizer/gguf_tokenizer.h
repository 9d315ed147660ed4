// The tokenizer embedded in a GGUF file (tokenizer.ggml.* metadata).
#pragma once

#include <memory>
#include <string>

#include "core/status.h"
#include "formats/gguf.h"
#include "tokenizer/tokenizer.h"

namespace seedtune::tok {

// tokenizer.ggml.model "gpt2": byte-level BPE from tokens + merges, with the
// pre-tokenizer named by tokenizer.ggml.pre ("smollm"/"starcoder"/"refact":
// single digits then the GPT-2 regex; "gpt2"/"default"/absent: the GPT-2
// regex; "llama-bpe"/"llama3"/"llama-v3": the Llama-3 regex; "qwen2").
// "llama": SentencePiece-style score BPE from tokens + scores + token_type.
// CONTROL (3) and USER_DEFINED (4) tokens are matched literally in the input.
StatusOr<std::unique_ptr<Tokenizer>> LoadGgufTokenizer(const GgufFile& gguf);
StatusOr<std::unique_ptr<Tokenizer>> LoadGgufTokenizer(const std::string& path);

}  // namespace seedtune::tok
