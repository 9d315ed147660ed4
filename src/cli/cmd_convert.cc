// seedtune convert: write a model as a Hugging Face directory or a llama2.c file.
#include <cstdio>

#include "cli/common.h"
#include "formats/convert.h"
#include "runtime/model_source.h"

namespace seedtune::cli {

CommandRunner RegisterConvert(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "convert",
      "Convert a model to a Hugging Face directory (config.json + safetensors) or a llama2.c checkpoint. Q/K rows "
      "are permuted to the RoPE layout the target format uses, so the converted model computes the same logits.");
  auto o = std::make_shared<CommonOptions>();
  struct Args {
    std::string out, format = "hf", dtype = "f32";
    int llama2c_version = 0;
    double shard_mb = 0;
    bool force = false;
  };
  auto a = std::make_shared<Args>();
  AddModelOption(cmd, o.get());
  cmd->add_option("-o,--out", a->out, "Output directory (hf) or file (llama2c)")->required();
  cmd->add_option("--format", a->format, "hf or llama2c")->check(CLI::IsMember({"hf", "llama2c"}));
  cmd->add_option("--dtype", a->dtype, "hf tensor dtype: f32, f16, bf16")->check(CLI::IsMember({"f32", "f16", "bf16"}));
  cmd->add_option("--shard-mb", a->shard_mb, "hf: split into safetensors shards of at most this many MB (0: one file)")
      ->check(AtLeast(0));
  AddForceOption(cmd, &a->force);
  cmd->add_option("--llama2c-version", a->llama2c_version, "llama2c: 0 (legacy fp32), 1 (fp32), 2 (int8 groups)")
      ->check(CLI::Range(0, 2));
  return [o, a]() -> int {
    if (Status s = CheckOutputPath(a->out, {ModelInputPath(o->model)}, a->force); !s.ok()) return Fail("convert", s);
    auto weights = LoadModelSpec(o->model);
    if (!weights.ok()) return Fail("convert", weights.status());
    ExportOptions opts;
    opts.hf.dtype = a->dtype == "f16" ? TensorDtype::kF16 : a->dtype == "bf16" ? TensorDtype::kBF16 : TensorDtype::kF32;
    opts.hf.max_shard_bytes = static_cast<uint64_t>(a->shard_mb * 1e6);
    opts.hf.metadata["seedtune.source"] = o->model;
    opts.llama2c_version = a->llama2c_version;
    const ExportFormat format = a->format == "hf" ? ExportFormat::kHuggingFace : ExportFormat::kLlama2c;
    Status s = ExportModel(*weights, a->out, format, opts);
    if (!s.ok()) return Fail("convert", s);
    std::fprintf(stderr, "wrote %s (%s, %lld parameters)\n", a->out.c_str(), a->format.c_str(),
                 static_cast<long long>(weights->num_params()));
    return 0;
  };
}

}  // namespace seedtune::cli
