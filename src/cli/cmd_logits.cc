// seedtune logits: logits at chosen positions and the mean next-token loss.
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>

#include "backend/backend.h"
#include "cli/common.h"
#include "core/threading.h"
#include "runtime/model_source.h"

namespace seedtune::cli {

CommandRunner RegisterLogits(CLI::App& app) {
  auto* cmd = app.add_subcommand("logits", "Run a forward pass on token ids; print logits at positions and the loss");
  auto o = std::make_shared<CommonOptions>();
  struct Args {
    std::string ids, positions = "-1";
    int top = 5;
  };
  auto a = std::make_shared<Args>();
  AddModelOption(cmd, o.get());
  cmd->add_option("--ids", a->ids, "Token ids, comma-separated (e.g. 1,403,260)")->required();
  cmd->add_option("--positions", a->positions, "Positions whose logits to print (negative: from the end)");
  cmd->add_option("--top", a->top, "Without --json: how many of the largest logits to show per position");
  AddThreadsOption(cmd, o.get());
  AddBackendOption(cmd, o.get());
  AddJsonOption(cmd, o.get());
  return [o, a]() -> int {
    auto ids = ParseIntList(a->ids, "--ids");
    if (!ids.ok()) return Fail("logits", ids.status());
    auto positions = ParseIntList(a->positions, "--positions");
    if (!positions.ok()) return Fail("logits", positions.status());
    auto weights = LoadModelSpec(o->model);
    if (!weights.ok()) return Fail("logits", weights.status());
    SequenceRequest req;
    for (int64_t id : *ids) {
      if (id < 0 || id >= weights->config().vocab_size)
        return Fail("logits", InvalidArgument("--ids: token id {} outside the vocabulary [0, {})", id,
                                              weights->config().vocab_size));
      req.tokens.push_back(static_cast<int32_t>(id));
    }
    for (int64_t p : *positions) req.logit_positions.push_back(static_cast<int32_t>(p));
    req.score_begin = 0;
    req.score_end = static_cast<int32_t>(req.tokens.size()) - 1;
    ThreadingContext ctx(o->threads);
    auto model = MakeBackend(o->backend, *weights, ctx);
    if (!model.ok()) return Fail("logits", model.status());
    auto out = (*model)->Forward(std::span<const SequenceRequest>(&req, 1));
    if (!out.ok()) return Fail("logits", out.status());
    const SequenceOutput& r = (*out)[0];
    double loss = NAN;
    if (!r.token_logprobs.empty()) {
      loss = 0.0;
      for (float lp : r.token_logprobs) loss -= lp;
      loss /= static_cast<double>(r.token_logprobs.size());
    }
    if (o->json) {
      nlohmann::ordered_json j;
      j["positions"] = nlohmann::ordered_json::object();
      for (size_t i = 0; i < req.logit_positions.size(); ++i)
        j["positions"][std::to_string(req.logit_positions[i])] = r.logits[i];
      j["loss"] = std::isnan(loss) ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(loss);
      std::printf("%s\n", j.dump().c_str());
      return 0;
    }
    for (size_t i = 0; i < req.logit_positions.size(); ++i) {
      const auto& lg = r.logits[i];
      std::vector<int32_t> order(lg.size());
      std::iota(order.begin(), order.end(), 0);
      const size_t k = std::min<size_t>(static_cast<size_t>(std::max(a->top, 0)), order.size());
      std::partial_sort(order.begin(), order.begin() + k, order.end(),
                        [&](int32_t x, int32_t y) { return lg[x] > lg[y] || (lg[x] == lg[y] && x < y); });
      std::printf("position %d:", req.logit_positions[i]);
      for (size_t t = 0; t < k; ++t) std::printf("  %d (%.4f)", order[t], lg[order[t]]);
      std::printf("\n");
    }
    if (!std::isnan(loss)) std::printf("loss: %.6f (mean next-token cross-entropy over %zu targets)\n", loss,
                                       r.token_logprobs.size());
    return 0;
  };
}

}  // namespace seedtune::cli
