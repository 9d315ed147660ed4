#include "tokenizer/byte_bpe.h"

#include <filesystem>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/mapped_file.h"
#include "tokenizer/merge.h"
#include "tokenizer/text_util.h"

namespace seedtune::tok {

namespace {

constexpr size_t kMaxCacheEntries = 1 << 18;
constexpr size_t kMaxCachedPieceBytes = 128;

uint64_t PairKey(int32_t a, int32_t b) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
}

}  // namespace

StatusOr<std::unique_ptr<ByteBpeTokenizer>> ByteBpeTokenizer::Create(ByteBpeConfig config, const std::string& path) {
  std::unique_ptr<ByteBpeTokenizer> t(new ByteBpeTokenizer());
  t->source_ = std::move(config.source);
  t->id_to_token_ = std::move(config.id_to_token);
  const auto n = static_cast<int32_t>(t->id_to_token_.size());
  if (n == 0) return InvalidArgument("{}: the vocabulary is empty", path);
  t->kinds_.assign(n, TokenKind::kNormal);
  for (const auto& [id, kind] : config.token_kinds) {
    if (id >= 0 && id < n) t->kinds_[id] = kind;
  }
  t->token_to_id_.reserve(n * 2);
  for (int32_t id = 0; id < n; ++id) {
    if (!t->id_to_token_[id].empty()) t->token_to_id_.emplace(t->id_to_token_[id], id);
  }
  const ByteLevelMap& bl = ByteLevelMap::Get();
  t->decoded_.resize(n);
  for (int32_t id = 0; id < n; ++id) {
    t->decoded_[id] = t->kinds_[id] == TokenKind::kNormal ? bl.DecodeToBytes(t->id_to_token_[id])
                                                           : t->id_to_token_[id];
  }
  for (int b = 0; b < 256; ++b) {
    auto it = t->token_to_id_.find(bl.Encode(static_cast<uint8_t>(b)));
    t->byte_ids_[b] = it == t->token_to_id_.end() ? -1 : it->second;
  }
  t->merges_.reserve(config.merges.size() * 2);
  for (size_t rank = 0; rank < config.merges.size(); ++rank) {
    const auto& [a, b] = config.merges[rank];
    auto ia = t->token_to_id_.find(a);
    auto ib = t->token_to_id_.find(b);
    auto im = t->token_to_id_.find(a + b);
    if (ia == t->token_to_id_.end() || ib == t->token_to_id_.end() || im == t->token_to_id_.end()) {
      return InvalidArgument("{}: merge #{} '{} {}' uses a token missing from the vocabulary", path, rank, a, b);
    }
    t->merges_.emplace(PairKey(ia->second, ib->second),
                       MergeInfo{static_cast<int32_t>(rank), im->second});  // first (lowest rank) wins
  }
  for (auto& s : config.added_tokens) {
    if (s.id < 0 || s.id >= n) return InvalidArgument("{}: added token '{}' has id {} outside the vocabulary", path, s.content, s.id);
    t->specials_.Add(std::move(s));
  }
  auto check_id = [&](int32_t id, const char* what) -> Status {
    if (id < -1 || id >= n) return InvalidArgument("{}: {} id {} outside the vocabulary ({} tokens)", path, what, id, n);
    return Status::Ok();
  };
  RETURN_IF_ERROR(check_id(config.bos_id, "BOS"));
  RETURN_IF_ERROR(check_id(config.eos_id, "EOS"));
  RETURN_IF_ERROR(check_id(config.unk_id, "UNK"));
  t->pre_ = std::move(config.pre_tokenizer);
  t->bos_id_ = config.bos_id;
  t->eos_id_ = config.eos_id;
  t->unk_id_ = config.unk_id;
  t->add_bos_ = config.add_bos_by_default;
  t->ignore_merges_ = config.ignore_merges;
  return t;
}

std::string ByteBpeTokenizer::Describe() const {
  return fmt::format("byte-level BPE ({}), {} tokens", source_, id_to_token_.size());
}

const std::string& ByteBpeTokenizer::TokenString(int32_t id) const {
  static const std::string kEmpty;
  if (id < 0 || id >= vocab_size()) return kEmpty;
  return id_to_token_[id];
}

void ByteBpeTokenizer::BpeWord(std::string_view piece, std::vector<int32_t>* out) const {
  const ByteLevelMap& bl = ByteLevelMap::Get();
  if (ignore_merges_) {
    auto it = token_to_id_.find(bl.EncodeBytes(piece));
    if (it != token_to_id_.end()) {
      out->push_back(it->second);
      return;
    }
  }
  std::vector<int32_t> ids;
  ids.reserve(piece.size());
  for (char c : piece) {
    const int32_t id = byte_ids_[static_cast<uint8_t>(c)];
    if (id >= 0) {
      ids.push_back(id);
    } else if (unk_id_ >= 0) {
      ids.push_back(unk_id_);
    }  // else: like HF BPE without an unk token, the byte is dropped
  }
  MergePairs(ids, [this](int32_t a, int32_t b) {
    MergeCandidate c;
    auto it = merges_.find(PairKey(a, b));
    if (it != merges_.end()) {
      c.ok = true;
      c.priority = -static_cast<double>(it->second.rank);
      c.merged_id = it->second.merged_id;
    }
    return c;
  });
  out->insert(out->end(), ids.begin(), ids.end());
}

void ByteBpeTokenizer::EncodePreToken(const std::string& piece, std::vector<int32_t>* out) const {
  if (piece.size() > kMaxCachedPieceBytes) {
    BpeWord(piece, out);
    return;
  }
  {
    std::lock_guard<std::mutex> lock(cache_mu_);
    auto it = cache_.find(piece);
    if (it != cache_.end()) {
      out->insert(out->end(), it->second.begin(), it->second.end());
      return;
    }
  }
  std::vector<int32_t> ids;
  BpeWord(piece, &ids);
  out->insert(out->end(), ids.begin(), ids.end());
  std::lock_guard<std::mutex> lock(cache_mu_);
  if (cache_.size() >= kMaxCacheEntries) cache_.clear();
  cache_.emplace(piece, std::move(ids));
}

std::vector<int32_t> ByteBpeTokenizer::Encode(std::string_view text, bool add_bos) const {
  std::vector<int32_t> out;
  out.reserve(text.size() / 3 + 2);
  if (add_bos && bos_id_ >= 0) out.push_back(bos_id_);
  for (const TextFragment& frag : specials_.Split(text)) {
    if (frag.id >= 0) {
      out.push_back(frag.id);
      continue;
    }
    if (pre_.empty()) {
      EncodePreToken(std::string(frag.text), &out);
      continue;
    }
    for (const std::string& piece : pre_.Run(frag.text)) EncodePreToken(piece, &out);
  }
  return out;
}

std::string ByteBpeTokenizer::DecodeNext(int32_t prev, int32_t id) const {
  if (id < 0 || id >= vocab_size() || kinds_[id] == TokenKind::kControl) return std::string();
  return decoded_[id];
}

std::string ByteBpeTokenizer::Decode(std::span<const int32_t> ids) const {
  std::string out;
  for (int32_t id : ids) {
    if (id < 0 || id >= vocab_size() || kinds_[id] == TokenKind::kControl) continue;
    out += decoded_[id];
  }
  return out;
}

// ---------------------------------------------------------------------------
// tokenizer.json

namespace {

using nlohmann::json;

StatusOr<SplitBehavior> ParseBehavior(const std::string& s) {
  if (s == "Removed") return SplitBehavior::kRemoved;
  if (s == "Isolated") return SplitBehavior::kIsolated;
  if (s == "MergedWithPrevious") return SplitBehavior::kMergedWithPrevious;
  if (s == "MergedWithNext") return SplitBehavior::kMergedWithNext;
  if (s == "Contiguous") return SplitBehavior::kContiguous;
  return Unimplemented("unsupported Split behavior '{}'", s);
}

// Appends the steps of a pre_tokenizer object; sets *byte_level when a
// ByteLevel step is present.
Status ParsePreTokenizer(const json& j, PreTokenizer* pre, bool* byte_level) {
  if (j.is_null()) return Status::Ok();
  const std::string type = j.value("type", "");
  if (type == "Sequence") {
    for (const auto& sub : j.at("pretokenizers")) RETURN_IF_ERROR(ParsePreTokenizer(sub, pre, byte_level));
    return Status::Ok();
  }
  if (type == "ByteLevel") {
    ASSIGN_OR_RETURN(auto step, PreTokenizer::ByteLevelStep(j.value("add_prefix_space", true), j.value("use_regex", true)));
    pre->AddStep(std::move(step));
    *byte_level = true;
    return Status::Ok();
  }
  if (type == "Digits") {
    ASSIGN_OR_RETURN(auto step, PreTokenizer::DigitsStep(j.value("individual_digits", false)));
    pre->AddStep(std::move(step));
    return Status::Ok();
  }
  if (type == "Split") {
    const json& pattern = j.at("pattern");
    std::string text;
    bool literal;
    if (pattern.contains("Regex")) {
      text = pattern.at("Regex").get<std::string>();
      literal = false;
    } else if (pattern.contains("String")) {
      text = pattern.at("String").get<std::string>();
      literal = true;
    } else {
      return InvalidArgument("Split pre-tokenizer without a Regex or String pattern");
    }
    ASSIGN_OR_RETURN(SplitBehavior behavior, ParseBehavior(j.value("behavior", "Isolated")));
    ASSIGN_OR_RETURN(auto step, PreTokenizer::SplitStep(text, literal, behavior, j.value("invert", false)));
    pre->AddStep(std::move(step));
    return Status::Ok();
  }
  return Unimplemented("unsupported pre_tokenizer type '{}'", type);
}

bool DecoderIsByteLevel(const json& j) {
  if (j.is_null()) return false;
  const std::string type = j.value("type", "");
  if (type == "ByteLevel") return true;
  if (type == "Sequence" && j.contains("decoders")) {
    for (const auto& sub : j.at("decoders")) {
      if (DecoderIsByteLevel(sub)) return true;
    }
  }
  return false;
}

Status CheckDecoder(const json& j) {
  if (j.is_null()) return Status::Ok();
  const std::string type = j.value("type", "");
  if (type == "ByteLevel") return Status::Ok();
  return Unimplemented("unsupported decoder type '{}' (only ByteLevel)", type);
}

// Reads "bos"/"eos" ids from a config.json / tokenizer_config.json beside the
// tokenizer.json, if any.
void ReadSiblingSpecialIds(const std::string& path, const std::unordered_map<std::string, int32_t>& token_to_id,
                           int32_t* bos, int32_t* eos) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::path(path).parent_path();
  std::error_code ec;
  auto first_int = [](const json& v, int32_t* out) {
    if (v.is_number_integer()) {
      *out = v.get<int32_t>();
    } else if (v.is_array() && !v.empty() && v[0].is_number_integer()) {
      *out = v[0].get<int32_t>();
    }
  };
  // tokenizer_config.json: bos_token / eos_token as a string or {content}.
  const fs::path tc = dir / "tokenizer_config.json";
  if (fs::exists(tc, ec)) {
    auto text = ReadFileToString(tc.string());
    if (text.ok()) {
      json j = json::parse(*text, nullptr, /*allow_exceptions=*/false);
      auto lookup = [&](const char* key, int32_t* out) {
        if (!j.is_object() || !j.contains(key)) return;
        const json& v = j[key];
        std::string s;
        if (v.is_string()) s = v.get<std::string>();
        else if (v.is_object() && v.contains("content") && v["content"].is_string()) s = v["content"].get<std::string>();
        auto it = token_to_id.find(s);
        if (!s.empty() && it != token_to_id.end()) *out = it->second;
      };
      lookup("bos_token", bos);
      lookup("eos_token", eos);
    }
  }
  // config.json (model config) takes precedence: bos_token_id / eos_token_id.
  const fs::path cfg = dir / "config.json";
  if (fs::exists(cfg, ec)) {
    auto text = ReadFileToString(cfg.string());
    if (text.ok()) {
      json j = json::parse(*text, nullptr, /*allow_exceptions=*/false);
      if (j.is_object()) {
        if (j.contains("bos_token_id")) first_int(j["bos_token_id"], bos);
        if (j.contains("eos_token_id")) first_int(j["eos_token_id"], eos);
      }
    }
  }
}

StatusOr<std::unique_ptr<Tokenizer>> ParseHfJson(const std::string& path, const json& root) {
  if (!root.is_object()) return InvalidArgument("not a JSON object");
  if (!root.contains("model")) return InvalidArgument("no 'model' section");
  const json& model = root.at("model");
  const std::string model_type = model.value("type", "BPE");
  if (model_type != "BPE") return Unimplemented("model type '{}' is not supported (only byte-level BPE)", model_type);
  if (!model.contains("vocab") || !model.at("vocab").is_object()) return InvalidArgument("model.vocab is missing");
  if (!model.contains("merges") || !model.at("merges").is_array()) return InvalidArgument("model.merges is missing");
  for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"}) {
    if (model.contains(key) && model.at(key).is_string() && !model.at(key).get<std::string>().empty()) {
      return Unimplemented("model.{} is not supported", key);
    }
  }
  if (model.value("byte_fallback", false)) return Unimplemented("model.byte_fallback is not supported");
  if (root.contains("normalizer") && !root.at("normalizer").is_null()) {
    return Unimplemented("normalizer '{}' is not supported", root.at("normalizer").value("type", "?"));
  }

  ByteBpeConfig config;
  config.source = "tokenizer.json";
  std::unordered_map<std::string, int32_t> token_to_id;
  int64_t max_id = -1;
  for (const auto& [token, idj] : model.at("vocab").items()) {
    // An id must be a JSON integer: get<int64_t> would convert a float out of
    // range (say 1e20) with undefined behaviour.
    if (!idj.is_number_integer()) return InvalidArgument("token '{}' has id {}, not an integer", token, idj.dump());
    const int64_t id = idj.get<int64_t>();
    if (id < 0 || id > (1 << 24)) return InvalidArgument("token '{}' has invalid id {}", token, id);
    token_to_id.emplace(token, static_cast<int32_t>(id));
    max_id = std::max(max_id, id);
  }
  std::vector<SpecialToken> added;
  if (root.contains("added_tokens") && root.at("added_tokens").is_array()) {
    for (const auto& a : root.at("added_tokens")) {
      SpecialToken s;
      s.content = a.at("content").get<std::string>();
      if (!a.at("id").is_number_integer())
        return InvalidArgument("added token '{}' has id {}, not an integer", s.content, a.at("id").dump());
      const int64_t id = a.at("id").get<int64_t>();
      if (id < 0 || id > (1 << 24)) return InvalidArgument("added token '{}' has invalid id {}", s.content, id);
      s.id = static_cast<int32_t>(id);
      s.lstrip = a.value("lstrip", false);
      s.rstrip = a.value("rstrip", false);
      max_id = std::max(max_id, id);
      config.token_kinds.emplace_back(s.id, a.value("special", false) ? TokenKind::kControl : TokenKind::kLiteral);
      added.push_back(std::move(s));
    }
  }
  config.id_to_token.assign(static_cast<size_t>(max_id + 1), std::string());
  for (const auto& [token, id] : token_to_id) config.id_to_token[id] = token;
  for (const auto& s : added) {
    if (config.id_to_token[s.id].empty()) config.id_to_token[s.id] = s.content;
    token_to_id.emplace(s.content, s.id);
  }
  config.added_tokens = std::move(added);

  const json& merges = model.at("merges");
  config.merges.reserve(merges.size());
  for (size_t i = 0; i < merges.size(); ++i) {
    const json& m = merges[i];
    if (m.is_string()) {
      const std::string s = m.get<std::string>();
      const size_t sp = s.find(' ');
      if (sp == std::string::npos || sp == 0 || sp + 1 >= s.size()) {
        return InvalidArgument("merge #{} '{}' is not of the form 'a b'", i, s);
      }
      config.merges.emplace_back(s.substr(0, sp), s.substr(sp + 1));
    } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
      config.merges.emplace_back(m[0].get<std::string>(), m[1].get<std::string>());
    } else {
      return InvalidArgument("merge #{} is neither 'a b' nor [\"a\", \"b\"]", i);
    }
  }
  if (model.contains("unk_token") && model.at("unk_token").is_string()) {
    auto it = token_to_id.find(model.at("unk_token").get<std::string>());
    if (it != token_to_id.end()) config.unk_id = it->second;
  }
  config.ignore_merges = model.value("ignore_merges", false);

  bool byte_level = false;
  if (root.contains("pre_tokenizer")) {
    Status st = ParsePreTokenizer(root.at("pre_tokenizer"), &config.pre_tokenizer, &byte_level);
    if (!st.ok()) return st;
  }
  const json decoder = root.contains("decoder") ? root.at("decoder") : json();
  if (!byte_level && !DecoderIsByteLevel(decoder)) {
    return Unimplemented("not a byte-level BPE tokenizer (no ByteLevel pre-tokenizer or decoder)");
  }
  RETURN_IF_ERROR(CheckDecoder(decoder));

  // BOS / EOS: "<|endoftext|>" if present (else "<s>"/"</s>", else
  // "<|begin_of_text|>"/"<|end_of_text|>"), overridden by config files beside
  // the tokenizer, overridden by a TemplateProcessing post-processor that
  // starts with a special token (which also means "add BOS by default").
  for (const char* name : {"<|begin_of_text|>", "<s>", "<|endoftext|>"}) {
    if (auto it = token_to_id.find(name); it != token_to_id.end()) config.bos_id = it->second;
  }
  for (const char* name : {"<|end_of_text|>", "</s>", "<|endoftext|>"}) {
    if (auto it = token_to_id.find(name); it != token_to_id.end()) config.eos_id = it->second;
  }
  ReadSiblingSpecialIds(path, token_to_id, &config.bos_id, &config.eos_id);
  if (root.contains("post_processor") && root.at("post_processor").is_object()) {
    const json& pp = root.at("post_processor");
    if (pp.value("type", "") == "TemplateProcessing" && pp.contains("single") && pp.at("single").is_array() &&
        !pp.at("single").empty()) {
      const json& first = pp.at("single")[0];
      if (first.contains("SpecialToken")) {
        const std::string name = first.at("SpecialToken").value("id", "");
        if (auto it = token_to_id.find(name); it != token_to_id.end()) {
          config.bos_id = it->second;
          config.add_bos_by_default = true;
        }
      }
    }
  }
  ASSIGN_OR_RETURN(auto tok, ByteBpeTokenizer::Create(std::move(config), path));
  return std::unique_ptr<Tokenizer>(std::move(tok));
}

}  // namespace

StatusOr<std::unique_ptr<Tokenizer>> LoadHfTokenizerJson(const std::string& path) {
  ASSIGN_OR_RETURN(std::string text, ReadFileToString(path));
  try {
    json root = json::parse(text);
    auto result = ParseHfJson(path, root);
    if (!result.ok()) {
      const std::string& msg = result.status().message();
      if (msg.rfind(path, 0) == 0) return result.status();
      return result.status().WithContext(path);
    }
    return result;
  } catch (const std::exception& e) {
    return InvalidArgument("{}: invalid tokenizer.json: {}", path, e.what());
  }
}

// ---------------------------------------------------------------------------
// GPT-2 encoder.json + vocab.bpe

StatusOr<std::unique_ptr<Tokenizer>> LoadGpt2Tokenizer(const std::string& encoder_json, const std::string& vocab_bpe) {
  ByteBpeConfig config;
  config.source = "GPT-2 encoder.json + vocab.bpe";
  {
    ASSIGN_OR_RETURN(std::string text, ReadFileToString(encoder_json));
    try {
      json j = json::parse(text);
      if (!j.is_object()) return InvalidArgument("{}: expected a JSON object of token -> id", encoder_json);
      int64_t max_id = -1;
      for (const auto& [token, idj] : j.items()) {
        if (!idj.is_number_integer())
          return InvalidArgument("{}: token '{}' has id {}, not an integer", encoder_json, token, idj.dump());
        const int64_t id = idj.get<int64_t>();
        if (id < 0 || id > (1 << 24)) return InvalidArgument("{}: token '{}' has invalid id {}", encoder_json, token, id);
        max_id = std::max(max_id, id);
      }
      config.id_to_token.assign(static_cast<size_t>(max_id + 1), std::string());
      for (const auto& [token, idj] : j.items()) config.id_to_token[idj.get<int64_t>()] = token;
    } catch (const std::exception& e) {
      return InvalidArgument("{}: invalid encoder.json: {}", encoder_json, e.what());
    }
  }
  {
    ASSIGN_OR_RETURN(std::string text, ReadFileToString(vocab_bpe));
    size_t pos = 0;
    int line_no = 0;
    while (pos < text.size()) {
      size_t eol = text.find('\n', pos);
      if (eol == std::string::npos) eol = text.size();
      std::string_view line(text.data() + pos, eol - pos);
      pos = eol + 1;
      ++line_no;
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      if (line.empty()) continue;
      if (line_no == 1 && line.rfind("#version", 0) == 0) continue;
      const size_t sp = line.find(' ');
      if (sp == std::string_view::npos || sp == 0 || sp + 1 >= line.size() ||
          line.find(' ', sp + 1) != std::string_view::npos) {
        return InvalidArgument("{}:{}: expected 'a b', got '{}'", vocab_bpe, line_no, line);
      }
      config.merges.emplace_back(std::string(line.substr(0, sp)), std::string(line.substr(sp + 1)));
    }
    if (config.merges.empty()) return InvalidArgument("{}: no merges", vocab_bpe);
  }
  for (int32_t id = 0; id < static_cast<int32_t>(config.id_to_token.size()); ++id) {
    if (config.id_to_token[id] == "<|endoftext|>") {
      config.bos_id = config.eos_id = id;
      config.added_tokens.push_back(SpecialToken{"<|endoftext|>", id, false, false});
      config.token_kinds.emplace_back(id, TokenKind::kControl);
      break;
    }
  }
  ASSIGN_OR_RETURN(auto step, PreTokenizer::ByteLevelStep(/*add_prefix_space=*/false, /*use_regex=*/true));
  config.pre_tokenizer.AddStep(std::move(step));
  ASSIGN_OR_RETURN(auto tok, ByteBpeTokenizer::Create(std::move(config), encoder_json + " + " + vocab_bpe));
  return std::unique_ptr<Tokenizer>(std::move(tok));
}

}  // namespace seedtune::tok
