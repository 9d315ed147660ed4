// seedtune generate: greedy or sampled text generation with a KV cache.
#include <chrono>
#include <cstdio>

#include "backend/generate.h"
#include "cli/common.h"
#include "core/threading.h"
#include "runtime/model_source.h"

namespace seedtune::cli {

CommandRunner RegisterGenerate(CLI::App& app) {
  auto* cmd = app.add_subcommand("generate", "Generate text from a prompt (greedy with --temperature 0)");
  auto o = std::make_shared<CommonOptions>();
  struct Args {
    std::string prompt;
    int n = 64;
    float temperature = 0.0f, top_p = 1.0f;
    uint64_t seed = 0;
    bool no_bos = false, stop_at_eos = true, quiet = false;
  };
  auto a = std::make_shared<Args>();
  AddModelOption(cmd, o.get());
  AddTokenizerOption(cmd, o.get());
  cmd->add_option("-p,--prompt", a->prompt, "Prompt text")->required();
  cmd->add_option("-n,--max-new-tokens", a->n, "Tokens to generate after the prompt")->check(InRange(0, 1 << 20));
  cmd->add_option("--temperature", a->temperature, "0 = greedy; > 0 samples")->check(AtLeast(0));
  cmd->add_option("--top-p", a->top_p, "Nucleus sampling mass (with --temperature > 0)")->check(Fraction());
  cmd->add_option("--seed", a->seed, "Sampling seed");
  cmd->add_flag("--no-bos", a->no_bos, "Do not prepend BOS even if the model family expects it");
  cmd->add_flag("!--no-stop", a->stop_at_eos, "Keep generating after an end-of-sequence token");
  cmd->add_flag("-q,--quiet", a->quiet, "Do not print timing statistics on stderr");
  AddThreadsOption(cmd, o.get());
  AddBackendOption(cmd, o.get());
  return [o, a]() -> int {
    auto weights = LoadModelSpec(o->model);
    if (!weights.ok()) return Fail("generate", weights.status());
    auto tok = LoadTokenizerForModel(o->model, weights->config(), o->tokenizer);
    if (!tok.ok()) return Fail("generate", tok.status());
    const Tokenizer& tokenizer = **tok;
    std::vector<int32_t> prompt = tokenizer.Encode(a->prompt, tokenizer.add_bos_by_default() && !a->no_bos);
    if (prompt.empty()) return Fail("generate", InvalidArgument("the prompt encodes to no tokens"));
    ThreadingContext ctx(o->threads);
    auto model = MakeBackend(o->backend, *weights, ctx);
    if (!model.ok()) return Fail("generate", model.status());
    GenerateOptions opts;
    opts.max_new_tokens = a->n;
    opts.temperature = a->temperature;
    opts.top_p = a->top_p;
    opts.seed = a->seed;
    opts.stop_token = a->stop_at_eos ? tokenizer.eos_id() : -1;
    std::fputs(tokenizer.Decode(prompt).c_str(), stdout);
    std::fflush(stdout);
    int32_t prev = prompt.back();
    const auto t0 = std::chrono::steady_clock::now();
    auto out = Generate(**model, prompt, opts, [&](int32_t id) {
      if (id == opts.stop_token) return;
      std::fputs(tokenizer.DecodeNext(prev, id).c_str(), stdout);
      std::fflush(stdout);
      prev = id;
    });
    std::fputs("\n", stdout);
    std::fflush(stdout);
    if (!out.ok()) return Fail("generate", out.status());
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (!a->quiet)
      std::fprintf(stderr, "[%zu prompt tokens, %zu generated in %.2f s, %.1f tokens/s, %d threads]\n", prompt.size(),
                   out->size(), secs, out->size() / std::max(secs, 1e-9), ctx.num_threads());
    return 0;
  };
}

}  // namespace seedtune::cli
