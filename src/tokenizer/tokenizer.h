// Tokenizers: text <-> token ids, with BOS/EOS handling as each model family
// expects. Implementations: llama2.c tokenizer.bin, SentencePiece
// tokenizer.model, Hugging Face tokenizer.json (byte-level BPE), GPT-2
// encoder.json + vocab.bpe, and the tokenizer embedded in a GGUF file.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace seedtune {

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;

  // Short description, e.g. "byte-level BPE (tokenizer.json), 49152 tokens".
  virtual std::string Describe() const = 0;
  virtual int32_t vocab_size() const = 0;
  virtual int32_t bos_id() const = 0;  // -1 if the vocabulary has none
  virtual int32_t eos_id() const = 0;  // -1 if the vocabulary has none
  // Whether the model family expects BOS in front of a prompt (Llama-2 /
  // llama2.c: yes; GPT-2 / SmolLM2: no).
  virtual bool add_bos_by_default() const = 0;

  // Encodes text. Special tokens written literally in the text (e.g.
  // "<|im_start|>") map to their ids for tokenizers that define them.
  // add_bos prepends bos_id() when the vocabulary has one.
  virtual std::vector<int32_t> Encode(std::string_view text, bool add_bos) const = 0;
  // Encodes with the model's default BOS behaviour.
  std::vector<int32_t> Encode(std::string_view text) const { return Encode(text, add_bos_by_default()); }

  // Decodes ids to UTF-8 text (BOS/EOS and other control tokens are skipped).
  // Follows each family's conventions (e.g. SentencePiece drops the leading
  // space of the first piece after BOS).
  virtual std::string Decode(std::span<const int32_t> ids) const = 0;

  // The text token `id` adds when it follows `prev` (for streaming output).
  // Concatenating DecodeNext over a sequence equals Decode() of it, byte for byte,
  // with prev = -1 for the first token (-1 means "start of text": like BOS, it
  // makes SentencePiece-style tokenizers drop the dummy-prefix space).
  virtual std::string DecodeNext(int32_t prev, int32_t id) const = 0;
};

// Loads a tokenizer from a path, detected by name/content:
//   *.json named tokenizer.json        -> Hugging Face tokenizer.json (BPE)
//   a directory                         -> its tokenizer.json, else tokenizer.model,
//                                          else encoder.json + vocab.bpe
//   *.model                             -> SentencePiece model
//   encoder.json (vocab.bpe beside it)  -> GPT-2 BPE
//   *.gguf                              -> tokenizer embedded in the GGUF file
//   other files                         -> llama2.c tokenizer.bin
StatusOr<std::unique_ptr<Tokenizer>> LoadTokenizer(const std::string& path);

}  // namespace seedtune
