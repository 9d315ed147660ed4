#!/usr/bin/env python3
"""Times PyTorch + transformers running MeZO the way Malladi et al.'s trainer does.

One process, one shape: builds a random-weight Hugging Face model of the shape
(fp32, eval mode), a batch of random token ids with labels = inputs (the LM loss
at every position through HF's shifted cross-entropy), and times

  forward  one MeZOTrainer.zo_forward: the loss under torch.inference_mode()
  step     one MeZOTrainer.zo_step + zo_update (princeton-nlp/MeZO,
           large_models/trainer.py): seed = np.random.randint(1e9); perturb +1,
           loss1, perturb -2, loss2, perturb +1 (restore), projected_grad, then
           re-seed and regenerate z per parameter for the update.

after warm-up, and prints one JSON object on stdout: medians and every sample in
seconds, peak RSS, the torch build (MKL / oneDNN) and thread counts.

The shapes are seedtune's (src/model/presets.cc; stories260K from its llama2.c
header). Used by bench/peer/compare.py; runnable alone:

  python torch_mezo.py --shape stories260k --reps 3
"""
import argparse
import json
import os
import platform
import resource
import statistics
import struct
import sys
import time

# seedtune's presets (src/model/presets.cc), spelled as Hugging Face configs.
SHAPES = {
    # SmolLm2_135m(): llama, RMSNorm eps 1e-5, rotate-half RoPE theta 1e5, GQA 9/3, tied.
    "smollm2-135m": dict(
        family="llama", vocab_size=49152, hidden_size=576, num_hidden_layers=30, num_attention_heads=9,
        num_key_value_heads=3, head_dim=64, intermediate_size=1536, max_position_embeddings=8192,
        rms_norm_eps=1e-5, rope_theta=100000.0, tie_word_embeddings=True, bos_token_id=1, eos_token_id=2,
        pad_token_id=2),
    # Opt(768, 12, 12, 3072): pre-LN, ReLU, learned positions (offset 2), biases, tied.
    "opt-125m": dict(
        family="opt", vocab_size=50272, hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
        ffn_dim=3072, max_position_embeddings=2048, do_layer_norm_before=True, word_embed_proj_dim=768,
        activation_function="relu", tie_word_embeddings=True, bos_token_id=2, eos_token_id=2, pad_token_id=1),
    # karpathy/tinyllamas stories260K.bin header (v0): dim 64, hidden_dim 172, 5 layers, 8 heads,
    # 4 kv heads, vocab 512 (positive: shared classifier), seq_len 512. llama2.c: eps 1e-5, theta 1e4.
    "stories260k": dict(
        family="llama", vocab_size=512, hidden_size=64, num_hidden_layers=5, num_attention_heads=8,
        num_key_value_heads=4, head_dim=8, intermediate_size=172, max_position_embeddings=512,
        rms_norm_eps=1e-5, rope_theta=10000.0, tie_word_embeddings=True, bos_token_id=1, eos_token_id=2),
}


def llama2c_header(path):
    """(dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len) of a llama2.c checkpoint."""
    with open(path, "rb") as f:
        head = f.read(36)
    magic, version = struct.unpack("<Ii", head[:8])
    if magic == 0x616B3432:  # "ak42": v1 / v2 (export.py version_export / legacy_export)
        fields = struct.unpack("<7i", head[8:36])
    else:  # v0 (legacy): the header is the 7 ints
        fields = struct.unpack("<7i", head[:28])
    return fields


def check_against_llama2c(shape, path):
    dim, hidden, layers, heads, kv_heads, vocab, seq_len = llama2c_header(path)
    want = SHAPES[shape]
    got = dict(hidden_size=dim, intermediate_size=hidden, num_hidden_layers=layers, num_attention_heads=heads,
               num_key_value_heads=kv_heads, vocab_size=abs(vocab), max_position_embeddings=seq_len,
               tie_word_embeddings=vocab > 0)
    bad = {k: (want[k], v) for k, v in got.items() if want[k] != v}
    if bad:
        sys.exit(f"torch_mezo: shape {shape} differs from {path}'s header: " +
                 ", ".join(f"{k} {a} here vs {b} there" for k, (a, b) in bad.items()))


def build_model(shape, attn):
    import torch
    import transformers

    spec = dict(SHAPES[shape])
    family = spec.pop("family")
    kwargs = {}
    if attn:
        kwargs["attn_implementation"] = attn
    if family == "llama":
        rope_theta = spec["rope_theta"]
        config = transformers.LlamaConfig(hidden_act="silu", attention_bias=False, mlp_bias=False, **spec, **kwargs)
        # transformers >= 5 keeps the RoPE base in config.rope_parameters; older ones in config.rope_theta.
        rp = getattr(config, "rope_parameters", None)
        if isinstance(rp, dict):
            rp["rope_theta"] = rope_theta
        model_cls = transformers.LlamaForCausalLM
    else:
        config = transformers.OPTConfig(enable_bias=True, layer_norm_elementwise_affine=True, **spec, **kwargs)
        model_cls = transformers.OPTForCausalLM
    model = model_cls(config).to(torch.float32)
    model.eval()
    return model, config


class MezoLikeMalladi:
    """The MeZO part of princeton-nlp/MeZO large_models/trainer.py (OurTrainer), kept line for line:
    zo_perturb_parameters, zo_forward, zo_step, zo_update. Only what surrounds them is replaced:
    args.* are attributes, compute_loss is HF Trainer's (outputs["loss"]), the lr scheduler is
    constant (its .step() is a no-op)."""

    def __init__(self, lr, eps, weight_decay):
        self.lr = lr
        self.zo_eps = eps
        self.weight_decay = weight_decay
        self.named_parameters_to_optim = []
        self.zo_random_seed = None
        self.projected_grad = None

    def _get_learning_rate(self):
        return self.lr

    @staticmethod
    def compute_loss(model, inputs):
        outputs = model(**inputs)
        return outputs["loss"] if isinstance(outputs, dict) else outputs[0]

    def zo_perturb_parameters(self, random_seed=None, scaling_factor=1):
        import torch
        torch.manual_seed(random_seed if random_seed is not None else self.zo_random_seed)
        for name, param in self.named_parameters_to_optim:
            z = torch.normal(mean=0, std=1, size=param.data.size(), device=param.data.device, dtype=param.data.dtype)
            param.data = param.data + scaling_factor * z * self.zo_eps

    def zo_forward(self, model, inputs):
        import torch
        model.eval()
        with torch.inference_mode():
            loss = self.compute_loss(model, inputs)
        return loss.detach()

    def zo_step(self, model, inputs):
        import numpy as np
        self.named_parameters_to_optim = []
        for name, param in model.named_parameters():  # tied weights appear once
            if param.requires_grad:
                self.named_parameters_to_optim.append((name, param))
        self.zo_random_seed = np.random.randint(1000000000)
        self.zo_perturb_parameters(scaling_factor=1)
        loss1 = self.zo_forward(model, inputs)
        self.zo_perturb_parameters(scaling_factor=-2)
        loss2 = self.zo_forward(model, inputs)
        self.projected_grad = ((loss1 - loss2) / (2 * self.zo_eps)).item()
        self.zo_perturb_parameters(scaling_factor=1)
        return loss1, loss2

    def zo_update(self, model):
        import torch
        torch.manual_seed(self.zo_random_seed)
        for name, param in self.named_parameters_to_optim:
            z = torch.normal(mean=0, std=1, size=param.data.size(), device=param.data.device, dtype=param.data.dtype)
            if "bias" not in name and "layer_norm" not in name and "layernorm" not in name:
                param.data = param.data - self._get_learning_rate() * (self.projected_grad * z +
                                                                        self.weight_decay * param.data)
            else:
                param.data = param.data - self._get_learning_rate() * (self.projected_grad * z)


def rss_mib():
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return None


def summary(samples):
    if not samples:
        return None
    return dict(median_s=statistics.median(samples), min_s=min(samples), samples_s=samples)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shape", required=True, choices=sorted(SHAPES))
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--seq-len", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2, help="torch.set_num_threads (and OMP_NUM_THREADS)")
    ap.add_argument("--interop-threads", type=int, default=0, help="torch.set_num_interop_threads (0: torch's default)")
    ap.add_argument("--reps", type=int, default=3, help="timed forwards and timed steps (after the warm-up)")
    ap.add_argument("--warmup", type=int, default=1, help="untimed forwards and steps first")
    ap.add_argument("--no-forward", action="store_true", help="skip the plain-forward timing")
    ap.add_argument("--no-step", action="store_true", help="skip the MeZO-step timing")
    ap.add_argument("--lr", type=float, default=1e-6)
    ap.add_argument("--eps", type=float, default=1e-3)
    ap.add_argument("--weight-decay", type=float, default=0.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--attn", default="", help="attn_implementation (eager, sdpa; default: transformers' own)")
    ap.add_argument("--llama2c", default="", help="check the shape against this llama2.c checkpoint's header")
    args = ap.parse_args()

    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    os.environ.setdefault("MKL_NUM_THREADS", str(args.threads))
    if args.llama2c:
        check_against_llama2c(args.shape, args.llama2c)

    import numpy as np
    import torch
    import transformers

    torch.set_num_threads(args.threads)
    if args.interop_threads > 0:
        torch.set_num_interop_threads(args.interop_threads)
    torch.manual_seed(args.seed)
    np.random.seed(args.seed)

    t0 = time.perf_counter()
    model, config = build_model(args.shape, args.attn)
    build_s = time.perf_counter() - t0
    n_params = sum(p.numel() for _, p in model.named_parameters())
    vocab = config.vocab_size
    gen = torch.Generator().manual_seed(args.seed + 1)
    input_ids = torch.randint(0, vocab, (args.batch, args.seq_len), generator=gen)
    inputs = dict(input_ids=input_ids, attention_mask=torch.ones_like(input_ids), labels=input_ids.clone())
    rss_built = rss_mib()

    trainer = MezoLikeMalladi(args.lr, args.eps, args.weight_decay)
    fwd, step, losses = [], [], {}
    if not args.no_forward:
        for i in range(args.warmup + args.reps):
            t = time.perf_counter()
            loss = trainer.zo_forward(model, inputs)
            dt = time.perf_counter() - t
            if i >= args.warmup:
                fwd.append(dt)
        losses["forward"] = float(loss)
    if not args.no_step:
        for i in range(args.warmup + args.reps):
            t = time.perf_counter()
            loss1, loss2 = trainer.zo_step(model, inputs)
            trainer.zo_update(model)
            dt = time.perf_counter() - t
            if i >= args.warmup:
                step.append(dt)
        losses.update(loss1=float(loss1), loss2=float(loss2), projected_grad=trainer.projected_grad)

    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    cfg_lines = torch.__config__.show().strip().splitlines()
    out = dict(
        shape=args.shape,
        batch=args.batch,
        seq_len=args.seq_len,
        parameters=n_params,
        model_class=type(model).__name__,
        attn_implementation=getattr(config, "_attn_implementation", None),
        build_s=build_s,
        forward=summary(fwd),
        step=summary(step),
        losses=losses,
        rss_after_build_mib=rss_built,
        peak_rss_mib=peak_kib / 1024.0,
        threads=torch.get_num_threads(),
        interop_threads=torch.get_num_interop_threads(),
        torch_version=torch.__version__,
        transformers_version=transformers.__version__,
        numpy_version=np.__version__,
        python=platform.python_version(),
        mkldnn_available=bool(torch.backends.mkldnn.is_available()),
        mkl_available=bool(torch.backends.mkl.is_available()),
        cpu_capability=(torch.backends.cpu.get_cpu_capability() if hasattr(torch.backends, "cpu") else None),
        torch_config=cfg_lines[:12],
    )
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
