// seedtune tokenize: text -> ids (and back).
#include <nlohmann/json.hpp>

#include <cstdio>

#include "cli/common.h"
#include "runtime/model_source.h"

namespace seedtune::cli {

CommandRunner RegisterTokenize(CLI::App& app) {
  auto* cmd = app.add_subcommand("tokenize", "Encode text to token ids with a tokenizer (or a model's tokenizer)");
  auto o = std::make_shared<CommonOptions>();
  struct Args {
    std::string text, bos = "auto";
  };
  auto a = std::make_shared<Args>();
  AddTokenizerOption(cmd, o.get());
  AddModelOption(cmd, o.get(), /*required=*/false);
  cmd->add_option("--text", a->text, "Text to encode")->required();
  cmd->add_option("--bos", a->bos, "Prepend BOS: auto (the family's default), yes, no")
      ->check(CLI::IsMember({"auto", "yes", "no"}));
  AddJsonOption(cmd, o.get());
  return [o, a]() -> int {
    if (o->tokenizer.empty() && o->model.empty())
      return Fail("tokenize", InvalidArgument("pass --tokenizer or --model"));
    StatusOr<std::unique_ptr<Tokenizer>> tok = Status(StatusCode::kInternal, "unset");
    if (!o->tokenizer.empty()) {
      tok = LoadTokenizerForModel("", ModelConfig{}, o->tokenizer);
    } else {
      auto weights = LoadModelSpec(o->model);
      if (!weights.ok()) return Fail("tokenize", weights.status());
      tok = LoadTokenizerForModel(o->model, weights->config(), "");
    }
    if (!tok.ok()) return Fail("tokenize", tok.status());
    const bool bos = a->bos == "auto" ? (*tok)->add_bos_by_default() : a->bos == "yes";
    std::vector<int32_t> ids = (*tok)->Encode(a->text, bos);
    if (o->json) {
      nlohmann::ordered_json j;
      j["ids"] = ids;
      std::printf("%s\n", j.dump().c_str());
      return 0;
    }
    for (size_t i = 0; i < ids.size(); ++i) {
      const int32_t one[1] = {ids[i]};
      std::printf("%6d  %s\n", ids[i], nlohmann::json((*tok)->Decode(one)).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
    }
    std::printf("%zu tokens (%s)\n", ids.size(), (*tok)->Describe().c_str());
    return 0;
  };
}

}  // namespace seedtune::cli
