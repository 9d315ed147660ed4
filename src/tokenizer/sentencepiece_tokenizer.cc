#include "tokenizer/sentencepiece_tokenizer.h"

#include <fmt/format.h>
#include <sentencepiece_processor.h>

#include "core/mapped_file.h"
#include "tokenizer/text_util.h"

namespace seedtune::tok {

namespace {

class SentencePieceTokenizer final : public Tokenizer {
 public:
  Status Init(const std::string& path) {
    // Check the file is readable first so the error is ours (and names it).
    ASSIGN_OR_RETURN(std::string bytes, ReadFileToString(path));
    if (bytes.empty()) return DataLoss("{}: empty SentencePiece model", path);
    const auto st = sp_.LoadFromSerializedProto(bytes);
    if (!st.ok()) return InvalidArgument("{}: not a valid SentencePiece model: {}", path, st.ToString());
    const int n = sp_.GetPieceSize();
    if (n <= 0) return InvalidArgument("{}: SentencePiece model without pieces", path);
    bos_ = sp_.bos_id();
    eos_ = sp_.eos_id();
    if (bos_ >= n) bos_ = -1;
    if (eos_ >= n) eos_ = -1;
    // Dummy prefix: does "a" encode to a piece starting with "▁"?
    std::vector<std::string> probe;
    if (sp_.Encode("a", &probe).ok() && !probe.empty()) {
      dummy_prefix_ = probe[0].rfind(kSpaceMarker, 0) == 0;
    }
    surface_.resize(n);
    strip_.assign(n, 0);
    for (int id = 0; id < n; ++id) {
      const std::string& piece = sp_.IdToPiece(id);
      uint8_t byte;
      if (sp_.IsControl(id)) {
        continue;
      } else if (sp_.IsUnknown(id)) {
        surface_[id] = " \xE2\x81\x87 ";  // " ⁇ "
      } else if (sp_.IsByte(id) && ParseBytePiece(piece, &byte)) {
        surface_[id] = std::string(1, static_cast<char>(byte));
      } else {
        surface_[id] = ReplaceAll(piece, kSpaceMarker, " ");
        strip_[id] = dummy_prefix_ && piece.rfind(kSpaceMarker, 0) == 0;
      }
    }
    return Status::Ok();
  }

  std::string Describe() const override {
    return fmt::format("SentencePiece (tokenizer.model), {} tokens", surface_.size());
  }
  int32_t vocab_size() const override { return static_cast<int32_t>(surface_.size()); }
  int32_t bos_id() const override { return bos_; }
  int32_t eos_id() const override { return eos_; }
  bool add_bos_by_default() const override { return bos_ >= 0; }

  std::vector<int32_t> Encode(std::string_view text, bool add_bos) const override {
    std::vector<int> ids;
    std::vector<int32_t> out;
    if (add_bos && bos_ >= 0) out.push_back(bos_);
    if (!sp_.Encode(text, &ids).ok()) return out;  // cannot fail on a loaded model
    out.insert(out.end(), ids.begin(), ids.end());
    return out;
  }

  std::string DecodeNext(int32_t prev, int32_t id) const override {
    if (id < 0 || id >= vocab_size()) return std::string();
    const bool at_start = prev < 0 || (bos_ >= 0 && prev == bos_);
    if (at_start && strip_[id]) return surface_[id].substr(1);
    return surface_[id];
  }

  std::string Decode(std::span<const int32_t> ids) const override {
    std::string out;
    int32_t prev = -1;
    for (int32_t id : ids) {
      out += DecodeNext(prev, id);
      prev = id;
    }
    return out;
  }

 private:
  sentencepiece::SentencePieceProcessor sp_;
  int32_t bos_ = -1;
  int32_t eos_ = -1;
  bool dummy_prefix_ = true;
  std::vector<std::string> surface_;
  std::vector<uint8_t> strip_;
};

}  // namespace

StatusOr<std::unique_ptr<Tokenizer>> LoadSentencePieceTokenizer(const std::string& path) {
  auto tok = std::make_unique<SentencePieceTokenizer>();
  RETURN_IF_ERROR(tok->Init(path));
  return std::unique_ptr<Tokenizer>(std::move(tok));
}

}  // namespace seedtune::tok
