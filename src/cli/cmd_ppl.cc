// seedtune ppl: perplexity of a model on a text file.
#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdio>
#include <fstream>

#include "backend/backend.h"
#include "cli/common.h"
#include "core/progress.h"
#include "core/threading.h"
#include "runtime/model_source.h"

namespace seedtune::cli {

CommandRunner RegisterPpl(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "ppl",
      "Perplexity on a text file: exp(mean next-token cross-entropy). By default the whole file is one token "
      "stream cut into non-overlapping windows; --per-line scores each non-empty line as its own sequence.");
  auto o = std::make_shared<CommonOptions>();
  struct Args {
    std::string file;
    int context = 512, batch = 8;
    bool per_line = false;
  };
  auto a = std::make_shared<Args>();
  AddModelOption(cmd, o.get());
  AddTokenizerOption(cmd, o.get());
  cmd->add_option("-f,--text-file", a->file, "UTF-8 text file")->required()->check(CLI::ExistingFile);
  cmd->add_flag("--per-line", a->per_line, "Each non-empty line is a separate sequence (e.g. one sentence per line)");
  cmd->add_option("--context", a->context, "Window length in tokens (capped at the model's context)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--batch", a->batch, "Sequences per forward pass")->check(InRange(1, 1 << 20));
  AddThreadsOption(cmd, o.get());
  AddBackendOption(cmd, o.get());
  AddJsonOption(cmd, o.get());
  return [o, a]() -> int {
    auto weights = LoadModelSpec(o->model);
    if (!weights.ok()) return Fail("ppl", weights.status());
    auto tok = LoadTokenizerForModel(o->model, weights->config(), o->tokenizer);
    if (!tok.ok()) return Fail("ppl", tok.status());
    std::ifstream in(a->file, std::ios::binary);
    if (!in) return Fail("ppl", NotFound("{}: cannot open", a->file));
    const Tokenizer& t = **tok;
    const bool bos = t.add_bos_by_default() && t.bos_id() >= 0;
    const int64_t ctx_len = std::min<int64_t>(a->context, weights->config().max_positions);
    std::vector<std::vector<int32_t>> seqs;
    if (a->per_line) {
      std::string line;
      while (std::getline(in, line)) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (line.empty()) continue;
        auto ids = t.Encode(line, bos);
        if (static_cast<int64_t>(ids.size()) > ctx_len) ids.resize(static_cast<size_t>(ctx_len));
        if (ids.size() >= 2) seqs.push_back(std::move(ids));
      }
    } else {
      std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      auto ids = t.Encode(text, false);
      const int64_t body = bos ? ctx_len - 1 : ctx_len;
      for (size_t i = 0; i < ids.size(); i += static_cast<size_t>(body)) {
        std::vector<int32_t> w;
        if (bos) w.push_back(t.bos_id());
        w.insert(w.end(), ids.begin() + i, ids.begin() + std::min(ids.size(), i + static_cast<size_t>(body)));
        if (w.size() >= 2) seqs.push_back(std::move(w));
      }
    }
    if (seqs.empty()) return Fail("ppl", InvalidArgument("{}: no sequence of at least 2 tokens", a->file));
    ThreadingContext ctx(o->threads);
    auto model = MakeBackend(o->backend, *weights, ctx);
    if (!model.ok()) return Fail("ppl", model.status());
    double nll = 0.0;
    int64_t count = 0;
    ProgressBar bar("ppl", static_cast<int64_t>(seqs.size()), "seq");
    for (size_t i = 0; i < seqs.size(); i += static_cast<size_t>(a->batch)) {
      std::vector<SequenceRequest> batch;
      for (size_t j = i; j < std::min(seqs.size(), i + static_cast<size_t>(a->batch)); ++j) {
        SequenceRequest r;
        r.tokens = seqs[j];
        r.score_end = static_cast<int32_t>(r.tokens.size()) - 1;
        batch.push_back(std::move(r));
      }
      auto out = (*model)->Forward(batch);
      if (!out.ok()) return Fail("ppl", out.status());
      for (const auto& r : *out)
        for (float lp : r.token_logprobs) nll -= lp, ++count;
      bar.Update(static_cast<int64_t>(std::min(seqs.size(), i + batch.size())),
                 fmt::format("ppl {:.3f}", std::exp(nll / std::max<int64_t>(count, 1))));
    }
    bar.Finish();
    const double mean = nll / static_cast<double>(count);
    if (o->json) {
      nlohmann::ordered_json j{{"perplexity", std::exp(mean)}, {"mean_nll", mean}, {"tokens_scored", count},
                               {"sequences", seqs.size()}};
      std::printf("%s\n", j.dump().c_str());
    } else {
      std::printf("perplexity %.4f (mean NLL %.5f nats over %lld tokens in %zu sequences)\n", std::exp(mean), mean,
                  static_cast<long long>(count), seqs.size());
    }
    return 0;
  };
}

}  // namespace seedtune::cli
