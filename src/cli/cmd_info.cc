// seedtune info -m MODEL (or info MODEL): architecture, parameter count, tensor table.
#include <nlohmann/json.hpp>

#include <cstdio>

#include "cli/common.h"
#include "core/threading.h"
#include "runtime/model_source.h"
#include "zo/fingerprint.h"

namespace seedtune::cli {

CommandRunner RegisterInfo(CLI::App& app) {
  auto* cmd = app.add_subcommand("info", "Show a model's architecture, parameter count and tensor table");
  auto o = std::make_shared<CommonOptions>();
  auto positional = std::make_shared<std::string>();
  // -m as in every other command; the bare MODEL of earlier versions still works.
  AddModelOption(cmd, o.get(), /*required=*/false);
  cmd->add_option("model", *positional, "The model, as -m gives it");
  AddJsonOption(cmd, o.get());
  return [o, positional]() -> int {
    if (!positional->empty() && !o->model.empty() && *positional != o->model)
      return FailUsage("info", InvalidArgument("two models given ({} and -m {}); give one", *positional, o->model));
    if (o->model.empty()) o->model = *positional;
    if (o->model.empty()) return FailUsage("info", InvalidArgument("a model is required: seedtune info -m MODEL"));
    auto weights = LoadModelSpec(o->model);
    if (!weights.ok()) return Fail("info", weights.status());
    const ModelConfig& c = weights->config();
    ThreadingContext ctx(0);
    const std::string fingerprint = FingerprintHex(ModelFingerprint(*weights, ctx));
    if (o->json) {
      nlohmann::ordered_json j;
      j["model"] = o->model;
      j["name"] = c.name;
      j["architecture"] = ArchitectureName(c.arch);
      j["parameters"] = weights->num_params();
      j["fp32_bytes"] = weights->num_params() * 4;
      j["fingerprint"] = fingerprint;
      j["config"] = {{"vocab_size", c.vocab_size},       {"hidden_size", c.hidden_size},
                     {"num_layers", c.num_layers},       {"num_heads", c.num_heads},
                     {"num_kv_heads", c.num_kv_heads},   {"head_dim", c.head_dim},
                     {"intermediate_size", c.intermediate_size}, {"max_positions", c.max_positions},
                     {"norm_eps", c.norm_eps},           {"activation", ActivationName(c.activation)},
                     {"rope_layout", RopeLayoutName(c.rope_layout)}, {"rope_theta", c.rope_theta},
                     {"rotary_dim", c.rotary_dim},       {"tie_word_embeddings", c.tie_word_embeddings},
                     {"bos_token_id", c.bos_token_id},   {"eos_token_id", c.eos_token_id}};
      auto& tensors = j["tensors"] = nlohmann::ordered_json::array();
      for (const auto& s : weights->specs())
        tensors.push_back({{"name", s.name}, {"shape", s.shape}, {"role", TensorRoleName(s.role)}, {"numel", s.numel()}});
      std::printf("%s\n", j.dump(2).c_str());
      return 0;
    }
    std::printf("model:        %s\n", o->model.c_str());
    if (!c.name.empty()) std::printf("name:         %s\n", c.name.c_str());
    std::printf("architecture: %s\n", c.Summary().c_str());
    std::printf("parameters:   %lld (%.2f MB as fp32)\n", static_cast<long long>(weights->num_params()),
                weights->num_params() * 4.0 / 1e6);
    std::printf("fingerprint:  %s (fp32 weights, canonical order)\n", fingerprint.c_str());
    std::printf("tokens:       bos=%d eos=%d\n", c.bos_token_id, c.eos_token_id);
    std::printf("tensors:      %zu (canonical order)\n", weights->num_tensors());
    for (const auto& s : weights->specs())
      std::printf("  %-60s %-16s %-18s %12lld\n", s.name.c_str(), s.ShapeString().c_str(), TensorRoleName(s.role),
                  static_cast<long long>(s.numel()));
    return 0;
  };
}

}  // namespace seedtune::cli
