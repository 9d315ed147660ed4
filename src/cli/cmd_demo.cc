// seedtune demo: what `make demo` runs. Until the federated demo exists it
// shows the inference runtime on the real stories260K model.
#include <cstdio>

#include "cli/common.h"
#include "core/assets.h"
#include "core/threading.h"
#include "model/generate.h"
#include "runtime/model_source.h"

namespace seedtune::cli {

CommandRunner RegisterDemo(CLI::App& app) {
  auto* cmd = app.add_subcommand("demo", "Greedy generation with the real stories260K model (and SmolLM2 if fetched)");
  auto o = std::make_shared<CommonOptions>();
  AddThreadsOption(cmd, o.get());
  return [o]() -> int {
    ThreadingContext ctx(o->threads);
    struct Item {
      const char* model;
      const char* prompt;
      int n;
    };
    const Item items[] = {{"models/stories260K/stories260K.bin", "Once upon a time", 64},
                          {"models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf", "The capital of France is", 24}};
    int shown = 0;
    for (const Item& it : items) {
      if (!FindAsset(it.model)) {
        std::printf("(skipping %s: not in the asset roots; `make assets` fetches SmolLM2)\n\n", it.model);
        continue;
      }
      auto weights = LoadModelSpec(it.model);
      if (!weights.ok()) return Fail("demo", weights.status());
      auto tok = LoadTokenizerForModel(it.model, weights->config(), "");
      if (!tok.ok()) return Fail("demo", tok.status());
      Transformer model(*weights, ctx);
      auto prompt = (*tok)->Encode(it.prompt);
      GenerateOptions opts;
      opts.max_new_tokens = it.n;
      opts.stop_token = (*tok)->eos_id();
      auto out = Generate(model, prompt, opts);
      if (!out.ok()) return Fail("demo", out.status());
      std::vector<int32_t> all = prompt;
      all.insert(all.end(), out->begin(), out->end());
      std::printf("== %s (%lld parameters), greedy, prompt \"%s\":\n%s\n\n", it.model,
                  static_cast<long long>(weights->num_params()), it.prompt, (*tok)->Decode(all).c_str());
      ++shown;
    }
    return shown > 0 ? 0 : Fail("demo", NotFound("no demo model found (stories260K lives in ../shared/assets)"));
  };
}

}  // namespace seedtune::cli
