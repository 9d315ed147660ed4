#include "tokenizer/score_bpe.h"

#include <cstring>

#include <fmt/format.h>

#include "core/mapped_file.h"
#include "tokenizer/merge.h"
#include "tokenizer/text_util.h"

namespace seedtune::tok {

StatusOr<std::unique_ptr<ScoreBpeTokenizer>> ScoreBpeTokenizer::Create(ScoreBpeConfig config, const std::string& path) {
  const auto n = static_cast<int32_t>(config.pieces.size());
  if (n == 0) return InvalidArgument("{}: the vocabulary is empty", path);
  if (config.scores.size() != config.pieces.size()) {
    return InvalidArgument("{}: {} scores for {} tokens", path, config.scores.size(), config.pieces.size());
  }
  if (!config.types.empty() && config.types.size() != config.pieces.size()) {
    return InvalidArgument("{}: {} token types for {} tokens", path, config.types.size(), config.pieces.size());
  }
  for (int32_t id : {config.bos_id, config.eos_id, config.unk_id}) {
    if (id < -1 || id >= n) return InvalidArgument("{}: special token id {} outside the vocabulary ({} tokens)", path, id, n);
  }
  std::unique_ptr<ScoreBpeTokenizer> t(new ScoreBpeTokenizer());
  t->source_ = std::move(config.source);
  t->pieces_ = std::move(config.pieces);
  t->scores_ = std::move(config.scores);
  t->types_ = std::move(config.types);
  if (t->types_.empty()) t->types_.assign(n, PieceType::kNormal);
  t->bos_id_ = config.bos_id;
  t->eos_id_ = config.eos_id;
  t->unk_id_ = config.unk_id;
  t->add_bos_ = config.add_bos_by_default;
  t->llama2c_ = config.llama2c;
  t->add_space_prefix_ = config.add_space_prefix;
  if (t->llama2c_) {
    // BOS / EOS are the control tokens of llama2.c.
    if (t->bos_id_ >= 0) t->types_[t->bos_id_] = PieceType::kControl;
    if (t->eos_id_ >= 0) t->types_[t->eos_id_] = PieceType::kControl;
  }
  t->piece_to_id_.reserve(n * 2);
  for (int32_t id = 0; id < n; ++id) t->piece_to_id_.emplace(t->pieces_[id], id);  // first wins

  t->byte_ids_.fill(-1);
  for (int b = 0; b < 256; ++b) {
    if (t->llama2c_) {
      if (b + 3 < n) t->byte_ids_[b] = b + 3;
    } else {
      auto it = t->piece_to_id_.find(BytePieceName(static_cast<uint8_t>(b)));
      if (it != t->piece_to_id_.end()) t->byte_ids_[b] = it->second;
    }
  }
  if (t->llama2c_) {
    auto it = t->piece_to_id_.find(" ");
    t->space_id_ = it != t->piece_to_id_.end() ? it->second : t->byte_ids_[' '];
  } else {
    for (int32_t id = 0; id < n; ++id) {
      const PieceType type = t->types_[id];
      if (type == PieceType::kControl || type == PieceType::kUserDefined) {
        t->specials_.Add(SpecialToken{t->pieces_[id], id, false, false});
      }
    }
  }
  // What each token decodes to.
  t->surface_.resize(n);
  for (int32_t id = 0; id < n; ++id) {
    const std::string& piece = t->pieces_[id];
    const PieceType type = t->types_[id];
    uint8_t byte;
    if (type == PieceType::kControl) continue;
    if (type == PieceType::kUserDefined) {
      t->surface_[id] = piece;
    } else if ((t->llama2c_ || type == PieceType::kByte || type == PieceType::kNormal) && ParseBytePiece(piece, &byte)) {
      t->surface_[id] = std::string(1, static_cast<char>(byte));
    } else if (t->llama2c_) {
      t->surface_[id] = piece;
    } else {
      t->surface_[id] = ReplaceAll(piece, kSpaceMarker, " ");
    }
  }
  // Pieces whose leading space is the dummy prefix when they start the text
  // (run.c: the raw piece starts with ' '; GGUF: a normal piece starting with "▁").
  t->strip_at_start_.assign(n, 0);
  for (int32_t id = 0; id < n; ++id) {
    const std::string& piece = t->pieces_[id];
    if (t->llama2c_) {
      t->strip_at_start_[id] = !piece.empty() && piece[0] == ' ' && t->types_[id] != PieceType::kControl;
    } else {
      t->strip_at_start_[id] = t->add_space_prefix_ && t->types_[id] == PieceType::kNormal &&
                               piece.rfind(kSpaceMarker, 0) == 0;
    }
  }
  return t;
}

std::string ScoreBpeTokenizer::Describe() const {
  return fmt::format("SentencePiece-style BPE ({}), {} tokens", source_, pieces_.size());
}

int32_t ScoreBpeTokenizer::Lookup(std::string_view piece) const {
  auto it = piece_to_id_.find(std::string(piece));
  return it == piece_to_id_.end() ? -1 : it->second;
}

void ScoreBpeTokenizer::Segment(std::string_view text, std::vector<int32_t>* out) const {
  // run.c: gather one UTF-8 character (a lead byte plus at most 3
  // continuation bytes), look it up, else emit its bytes as byte tokens.
  size_t start = 0;
  size_t len = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<uint8_t>(text[i]);
    if ((c & 0xC0) != 0x80) {
      start = i;
      len = 0;
    }
    ++len;
    const uint8_t next = i + 1 < text.size() ? static_cast<uint8_t>(text[i + 1]) : 0;
    if ((next & 0xC0) == 0x80 && len < 4) continue;
    const std::string_view ch = text.substr(start, len);
    const int32_t id = Lookup(ch);
    if (id >= 0 && (llama2c_ || types_[id] == PieceType::kNormal || types_[id] == PieceType::kUserDefined)) {
      out->push_back(id);
    } else {
      for (char b : ch) {
        const int32_t bid = byte_ids_[static_cast<uint8_t>(b)];
        out->push_back(bid >= 0 ? bid : (unk_id_ >= 0 ? unk_id_ : 0));
      }
    }
    len = 0;
    start = i + 1;
  }
}

void ScoreBpeTokenizer::Merge(std::vector<int32_t>* ids) const {
  std::string buffer;
  MergePairs(*ids, [&](int32_t a, int32_t b) {
    MergeCandidate c;
    buffer.assign(pieces_[a]);
    buffer.append(pieces_[b]);
    auto it = piece_to_id_.find(buffer);
    if (it == piece_to_id_.end()) return c;
    const int32_t id = it->second;
    const float score = scores_[id];
    if (llama2c_) {
      if (!(score > -1e10f)) return c;
    } else if (types_[id] != PieceType::kNormal && types_[id] != PieceType::kUserDefined) {
      return c;
    }
    c.ok = true;
    c.priority = score;
    c.merged_id = id;
    return c;
  });
}

std::vector<int32_t> ScoreBpeTokenizer::Encode(std::string_view text, bool add_bos) const {
  std::vector<int32_t> out;
  if (llama2c_) {
    if (add_bos && bos_id_ >= 0) out.push_back(bos_id_);
    // run.c lets BOS take part in the merges. With a real vocabulary (BOS is
    // "\n<s>\n") it never merges, but in one where BOS + piece is a piece it
    // would vanish although the caller asked for it: BOS stays out.
    std::vector<int32_t> ids;
    if (!text.empty() && space_id_ >= 0) ids.push_back(space_id_);
    Segment(text, &ids);
    Merge(&ids);
    out.insert(out.end(), ids.begin(), ids.end());
    return out;
  }
  if (add_bos && bos_id_ >= 0) out.push_back(bos_id_);
  bool prev_special = true;  // the start of the text counts as "after a special token"
  std::vector<int32_t> ids;
  for (const TextFragment& frag : specials_.Split(text)) {
    if (frag.id >= 0) {
      out.push_back(frag.id);
      prev_special = true;
      continue;
    }
    std::string escaped;
    if (add_space_prefix_ && prev_special) escaped = std::string(kSpaceMarker);
    escaped += ReplaceAll(frag.text, " ", kSpaceMarker);
    prev_special = false;
    ids.clear();
    Segment(escaped, &ids);
    Merge(&ids);
    out.insert(out.end(), ids.begin(), ids.end());
  }
  return out;
}

std::string ScoreBpeTokenizer::DecodeNext(int32_t prev, int32_t id) const {
  if (id < 0 || id >= vocab_size()) return std::string();
  const std::string& s = surface_[id];
  const bool at_start = prev < 0 || (prev == bos_id_ && bos_id_ >= 0);
  if (at_start && strip_at_start_[id]) return s.substr(1);
  return s;
}

std::string ScoreBpeTokenizer::Decode(std::span<const int32_t> ids) const {
  std::string out;
  int32_t prev = -1;
  for (int32_t id : ids) {
    out += DecodeNext(prev, id);
    prev = id;
  }
  return out;
}

// ---------------------------------------------------------------------------
// llama2.c tokenizer.bin

StatusOr<std::unique_ptr<Tokenizer>> LoadLlama2cTokenizer(const std::string& path) {
  ASSIGN_OR_RETURN(MappedFile file, MappedFile::Open(path));
  const uint8_t* p = file.data();
  const size_t size = file.size();
  if (size < 4) return DataLoss("{}: truncated llama2.c tokenizer (no header; {} bytes)", path, size);
  int32_t max_token_length;
  std::memcpy(&max_token_length, p, 4);
  if (max_token_length <= 0 || max_token_length > (1 << 20)) {
    return InvalidArgument("{}: not a llama2.c tokenizer (max_token_length {})", path, max_token_length);
  }
  ScoreBpeConfig config;
  config.source = "llama2.c tokenizer.bin";
  config.llama2c = true;
  size_t pos = 4;
  while (pos < size) {
    const size_t index = config.pieces.size();
    if (size - pos < 8) return DataLoss("{}: truncated at token {} (offset {})", path, index, pos);
    float score;
    int32_t len;
    std::memcpy(&score, p + pos, 4);
    std::memcpy(&len, p + pos + 4, 4);
    pos += 8;
    if (len < 0 || static_cast<size_t>(len) > size - pos) {
      return DataLoss("{}: token {} has length {} but only {} bytes remain (truncated or not a tokenizer.bin)", path,
                      index, len, size - pos);
    }
    config.pieces.emplace_back(reinterpret_cast<const char*>(p + pos), static_cast<size_t>(len));
    config.scores.push_back(score);
    pos += static_cast<size_t>(len);
  }
  if (config.pieces.size() < 3) {
    return InvalidArgument("{}: only {} tokens (need at least unk, bos, eos)", path, config.pieces.size());
  }
  config.unk_id = 0;
  config.bos_id = 1;
  config.eos_id = 2;
  config.add_bos_by_default = true;
  ASSIGN_OR_RETURN(auto tok, ScoreBpeTokenizer::Create(std::move(config), path));
  return std::unique_ptr<Tokenizer>(std::move(tok));
}

}  // namespace seedtune::tok
