#include "tokenizer/gguf_tokenizer.h"

#include "tokenizer/byte_bpe.h"
#include "tokenizer/pretokenizer.h"
#include "tokenizer/score_bpe.h"

namespace seedtune::tok {

namespace {

StatusOr<int32_t> OptionalId(const GgufFile& gguf, std::string_view key, int32_t n) {
  if (!gguf.Has(key)) return -1;
  ASSIGN_OR_RETURN(int64_t v, gguf.GetInt(key));
  if (v < 0 || v >= n) return -1;  // llama.cpp treats out-of-range ids as absent
  return static_cast<int32_t>(v);
}

StatusOr<bool> OptionalBool(const GgufFile& gguf, std::string_view key, bool fallback) {
  if (!gguf.Has(key)) return fallback;
  return gguf.GetBool(key);
}

Status AddPreTokenizer(const std::string& pre, const std::string& path, PreTokenizer* out) {
  if (pre.empty() || pre == "default" || pre == "gpt2" || pre == "gpt-2") {
    ASSIGN_OR_RETURN(auto step, PreTokenizer::ByteLevelStep(false, true));
    out->AddStep(std::move(step));
  } else if (pre == "smollm" || pre == "starcoder" || pre == "refact") {
    ASSIGN_OR_RETURN(auto digits, PreTokenizer::DigitsStep(true));
    out->AddStep(std::move(digits));
    ASSIGN_OR_RETURN(auto step, PreTokenizer::ByteLevelStep(false, true));
    out->AddStep(std::move(step));
  } else if (pre == "llama-bpe" || pre == "llama3" || pre == "llama-v3" || pre == "qwen2") {
    ASSIGN_OR_RETURN(auto split, PreTokenizer::SplitStep(pre == "qwen2" ? kQwen2Pattern : kLlama3Pattern, false,
                                                         SplitBehavior::kIsolated, false));
    out->AddStep(std::move(split));
    ASSIGN_OR_RETURN(auto step, PreTokenizer::ByteLevelStep(false, false));
    out->AddStep(std::move(step));
  } else {
    return Unimplemented("{}: unsupported tokenizer.ggml.pre '{}'", path, pre);
  }
  return Status::Ok();
}

StatusOr<std::unique_ptr<Tokenizer>> LoadImpl(const GgufFile& gguf) {
  const std::string& path = gguf.path();
  if (!gguf.Has("tokenizer.ggml.model")) return NotFound("{}: no embedded tokenizer (tokenizer.ggml.model)", path);
  ASSIGN_OR_RETURN(std::string model, gguf.GetString("tokenizer.ggml.model"));
  ASSIGN_OR_RETURN(std::vector<std::string> tokens, gguf.GetStringArray("tokenizer.ggml.tokens"));
  const auto n = static_cast<int32_t>(tokens.size());
  if (n == 0) return InvalidArgument("{}: tokenizer.ggml.tokens is empty", path);
  std::vector<int64_t> types;
  if (gguf.Has("tokenizer.ggml.token_type")) {
    ASSIGN_OR_RETURN(types, gguf.GetIntArray("tokenizer.ggml.token_type"));
    if (types.size() != tokens.size()) {
      return InvalidArgument("{}: tokenizer.ggml.token_type has {} entries for {} tokens", path, types.size(), n);
    }
  }
  ASSIGN_OR_RETURN(int32_t bos, OptionalId(gguf, "tokenizer.ggml.bos_token_id", n));
  ASSIGN_OR_RETURN(int32_t eos, OptionalId(gguf, "tokenizer.ggml.eos_token_id", n));
  ASSIGN_OR_RETURN(int32_t unk, OptionalId(gguf, "tokenizer.ggml.unknown_token_id", n));

  if (model == "gpt2") {
    ByteBpeConfig config;
    config.source = "GGUF gpt2";
    ASSIGN_OR_RETURN(std::vector<std::string> merges, gguf.GetStringArray("tokenizer.ggml.merges"));
    config.merges.reserve(merges.size());
    for (size_t i = 0; i < merges.size(); ++i) {
      const std::string& m = merges[i];
      const size_t sp = m.find(' ', 1);
      if (sp == std::string::npos || sp + 1 >= m.size()) {
        return InvalidArgument("{}: tokenizer.ggml.merges[{}] '{}' is not of the form 'a b'", path, i, m);
      }
      config.merges.emplace_back(m.substr(0, sp), m.substr(sp + 1));
    }
    for (int32_t id = 0; id < n; ++id) {
      const int64_t type = types.empty() ? 1 : types[id];
      if (type == static_cast<int64_t>(PieceType::kControl)) {
        config.added_tokens.push_back(SpecialToken{tokens[id], id, false, false});
        config.token_kinds.emplace_back(id, TokenKind::kControl);
      } else if (type == static_cast<int64_t>(PieceType::kUserDefined)) {
        config.added_tokens.push_back(SpecialToken{tokens[id], id, false, false});
        config.token_kinds.emplace_back(id, TokenKind::kLiteral);
      }
    }
    config.id_to_token = std::move(tokens);
    std::string pre;
    if (gguf.Has("tokenizer.ggml.pre")) {
      ASSIGN_OR_RETURN(pre, gguf.GetString("tokenizer.ggml.pre"));
    }
    RETURN_IF_ERROR(AddPreTokenizer(pre, path, &config.pre_tokenizer));
    config.bos_id = bos;
    config.eos_id = eos;
    config.unk_id = unk;
    ASSIGN_OR_RETURN(config.add_bos_by_default, OptionalBool(gguf, "tokenizer.ggml.add_bos_token", false));
    config.ignore_merges = pre == "llama-bpe" || pre == "llama3" || pre == "llama-v3";
    ASSIGN_OR_RETURN(auto tok, ByteBpeTokenizer::Create(std::move(config), path));
    return std::unique_ptr<Tokenizer>(std::move(tok));
  }
  if (model == "llama") {
    ScoreBpeConfig config;
    config.source = "GGUF llama";
    ASSIGN_OR_RETURN(std::vector<double> scores, gguf.GetFloatArray("tokenizer.ggml.scores"));
    if (scores.size() != tokens.size()) {
      return InvalidArgument("{}: tokenizer.ggml.scores has {} entries for {} tokens", path, scores.size(), n);
    }
    config.scores.assign(scores.begin(), scores.end());
    if (!types.empty()) {
      config.types.reserve(n);
      for (int64_t t : types) {
        config.types.push_back(t >= 1 && t <= 6 ? static_cast<PieceType>(t) : PieceType::kNormal);
      }
    }
    config.pieces = std::move(tokens);
    config.bos_id = bos;
    config.eos_id = eos;
    config.unk_id = unk;
    ASSIGN_OR_RETURN(config.add_bos_by_default, OptionalBool(gguf, "tokenizer.ggml.add_bos_token", true));
    ASSIGN_OR_RETURN(config.add_space_prefix, OptionalBool(gguf, "tokenizer.ggml.add_space_prefix", true));
    ASSIGN_OR_RETURN(auto tok, ScoreBpeTokenizer::Create(std::move(config), path));
    return std::unique_ptr<Tokenizer>(std::move(tok));
  }
  return Unimplemented("{}: unsupported tokenizer.ggml.model '{}' (supported: gpt2, llama)", path, model);
}

}  // namespace

StatusOr<std::unique_ptr<Tokenizer>> LoadGgufTokenizer(const GgufFile& gguf) {
  auto result = LoadImpl(gguf);
  if (!result.ok() && result.status().message().find(gguf.path()) == std::string::npos) {
    return result.status().WithContext(gguf.path());
  }
  return result;
}

StatusOr<std::unique_ptr<Tokenizer>> LoadGgufTokenizer(const std::string& path) {
  ASSIGN_OR_RETURN(GgufFile gguf, GgufFile::Open(path));
  return LoadGgufTokenizer(gguf);
}

}  // namespace seedtune::tok
