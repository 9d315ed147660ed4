#include <filesystem>
#include <fstream>

#include "tokenizer/byte_bpe.h"
#include "tokenizer/gguf_tokenizer.h"
#include "tokenizer/score_bpe.h"
#include "tokenizer/sentencepiece_tokenizer.h"
#include "tokenizer/tokenizer.h"

namespace seedtune {

namespace {

bool EndsWith(const std::string& s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

bool StartsWithGgufMagic(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  char magic[4] = {};
  in.read(magic, 4);
  return in.gcount() == 4 && magic[0] == 'G' && magic[1] == 'G' && magic[2] == 'U' && magic[3] == 'F';
}

StatusOr<std::unique_ptr<Tokenizer>> LoadGpt2Pair(const std::filesystem::path& encoder) {
  namespace fs = std::filesystem;
  const fs::path vocab = encoder.parent_path() / "vocab.bpe";
  std::error_code ec;
  if (!fs::exists(vocab, ec)) {
    return NotFound("{}: GPT-2 encoder.json needs vocab.bpe beside it ({} is missing)", encoder.string(), vocab.string());
  }
  return tok::LoadGpt2Tokenizer(encoder.string(), vocab.string());
}

}  // namespace

StatusOr<std::unique_ptr<Tokenizer>> LoadTokenizer(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path p(path);
  if (!fs::exists(p, ec)) return NotFound("{}: no such tokenizer file or directory", path);
  if (fs::is_directory(p, ec)) {
    if (fs::exists(p / "tokenizer.json", ec)) return tok::LoadHfTokenizerJson((p / "tokenizer.json").string());
    if (fs::exists(p / "tokenizer.model", ec)) return tok::LoadSentencePieceTokenizer((p / "tokenizer.model").string());
    if (fs::exists(p / "encoder.json", ec)) return LoadGpt2Pair(p / "encoder.json");
    if (fs::exists(p / "tokenizer.bin", ec)) return tok::LoadLlama2cTokenizer((p / "tokenizer.bin").string());
    return NotFound("{}: directory has no tokenizer.json, tokenizer.model, encoder.json + vocab.bpe or tokenizer.bin",
                    path);
  }
  const std::string name = p.filename().string();
  if (name == "encoder.json") return LoadGpt2Pair(p);
  if (EndsWith(name, ".json")) return tok::LoadHfTokenizerJson(path);
  if (EndsWith(name, ".model")) return tok::LoadSentencePieceTokenizer(path);
  if (EndsWith(name, ".gguf") || StartsWithGgufMagic(path)) return tok::LoadGgufTokenizer(path);
  return tok::LoadLlama2cTokenizer(path);
}

}  // namespace seedtune
