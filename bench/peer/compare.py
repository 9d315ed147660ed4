#!/usr/bin/env python3
"""Peer benchmark: PyTorch + transformers MeZO (Malladi et al.'s procedure) against seedtune.

For each shape, in one invocation and alternating round by round:
  torch     bench/peer/torch_mezo.py in a subprocess: 1 warm-up then --inner timed forwards
            and --inner timed MeZO steps (zo_step + zo_update) on a 16 x 64 random batch;
  seedtune  `seedtune train -m MODEL --task text:FILE --batch 16 --max-length 64 --steps 1+inner`
            as users run it; the step time is the per-step "seconds" of its --metrics JSON lines
            (the first step is the warm-up and is dropped);
            `seedtune eval` on the same file and batch scoring 16 and 16*(1+F) examples (both
            tokenize the same 16*(1+F) lines); the forward time is the difference of the two walls
            over F (start-up cancels; F >= inner, larger for small models, see --forward-target-s).
Prints one table (or --json): medians over all samples, peak RSS of each process (wait4), the
CPU, torch's MKL / oneDNN build and the thread counts. Run it through bench/peer/run.sh.
"""
import argparse
import json
import math
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import torch_mezo  # noqa: E402  (imports torch lazily; here only for SHAPES)

STORIES = "models/stories260K/stories260K.bin"
SHAPE_MODELS = {  # shape -> seedtune MODEL argument (None: the stories260K checkpoint)
    "smollm2-135m": "random:smollm2-135m",
    "opt-125m": "random:opt-125m",
    "stories260k": None,
}
DEFAULT_SHAPES = ["smollm2-135m", "opt-125m", "stories260k"]

WORDS = ("the of and to in is was for on that with as by at from his her they were which this had "
         "time people year way day man thing woman life child world school state family student group "
         "country problem hand part place case week company system program question work government "
         "number night point home water room mother area money story fact month lot right study book "
         "eye job word business issue side kind head house service friend father power hour game line "
         "end member law car city community name president team minute idea kid body information back "
         "parent face others level office door health person art war history party result change morning "
         "reason research girl guy moment air teacher force education little small large old young "
         "important different early public bad same able happy quiet strange bright river garden window "
         "sunlight village cookie dragon forest castle").split()


def asset_roots():
    roots = []
    if os.environ.get("SEEDTUNE_ASSETS"):
        roots.append(os.environ["SEEDTUNE_ASSETS"])
    roots += [os.path.join(ROOT, "assets"), os.path.join(ROOT, "..", "shared", "assets")]
    return roots


def find_asset(rel):
    for r in asset_roots():
        p = os.path.join(r, rel)
        if os.path.isfile(p):
            return os.path.abspath(p)
    return None


def run_child(cmd, env=None, cwd=ROOT):
    """Runs cmd to completion; returns (returncode, wall s, stdout, stderr, peak RSS MiB, cpu s)."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        t0 = time.perf_counter()
        p = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=err, text=True)
        _, status, ru = os.wait4(p.pid, 0)
        wall = time.perf_counter() - t0
        p.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return p.returncode, wall, out.read(), err.read(), ru.ru_maxrss / 1024.0, ru.ru_utime + ru.ru_stime


def check(rc, what, cmd, stderr):
    if rc != 0:
        tail = "\n".join(stderr.strip().splitlines()[-15:])
        sys.exit(f"compare: {what} failed (exit {rc}):\n  {' '.join(cmd)}\n{tail}")


def write_text(path, lines, words_per_line, seed=1234):
    # Lines far longer than --max-length tokens, so every sequence is cut to exactly max-length
    # (seedtune truncates from the left, keeping BOS).
    state = seed
    with open(path, "w") as f:
        for _ in range(lines):
            ws = []
            for _ in range(words_per_line):
                state = (state * 6364136223846793005 + 1442695040888963407) % (1 << 64)
                ws.append(WORDS[(state >> 33) % len(WORDS)])
            f.write(" ".join(ws).capitalize() + ".\n")


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            info = f.read()
    except OSError:
        return platform.processor() or "?", []
    name, flags = "?", []
    for line in info.splitlines():
        if line.startswith("model name") and name == "?":
            name = line.split(":", 1)[1].strip()
        if line.startswith("flags") and not flags:
            have = set(line.split(":", 1)[1].split())
            flags = [f for f in ("avx2", "fma", "avx512f", "avx512bw", "avx512_bf16", "amx_tile") if f in have]
    return name, flags


def loadavg():
    try:
        with open("/proc/loadavg") as f:
            return float(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def med(xs):
    return statistics.median(xs) if xs else None


def bench_shape(shape, a, text_file, python, seedtune, log):
    model = SHAPE_MODELS[shape]
    llama2c = None
    if model is None:
        llama2c = find_asset(STORIES)
        if not llama2c:
            sys.exit(f"compare: {STORIES} not found under {', '.join(asset_roots())} (set SEEDTUNE_ASSETS)")
        model = llama2c
    res = dict(shape=shape, seedtune_model=model)

    # The two implementations must describe the same network: compare seedtune's view of MODEL
    # with the Hugging Face config torch_mezo.py builds.
    rc, _, out, err, _, _ = run_child([seedtune, "info", model, "--json"])
    check(rc, "seedtune info", [seedtune, "info", model], err)
    info = json.loads(out)
    spec = torch_mezo.SHAPES[shape]
    c = info["config"]
    pairs = [("hidden_size", "hidden_size"), ("num_layers", "num_hidden_layers"), ("num_heads", "num_attention_heads"),
             ("intermediate_size", "intermediate_size" if spec["family"] == "llama" else "ffn_dim"),
             ("vocab_size", "vocab_size"), ("tie_word_embeddings", "tie_word_embeddings")]
    if spec["family"] == "llama":
        pairs += [("num_kv_heads", "num_key_value_heads"), ("head_dim", "head_dim"), ("rope_theta", "rope_theta")]
    bad = [f"{k}: seedtune {c.get(k)} vs torch {spec[h]}" for k, h in pairs if c.get(k) != spec[h]]
    if bad:
        sys.exit(f"compare: shape {shape}: seedtune's {model} and torch_mezo's config differ: " + "; ".join(bad))
    res["parameters"] = info["parameters"]

    # Every line must give at least max-length tokens.
    with open(text_file) as f:
        shortest = min((l.rstrip("\n") for l in f if l.strip()), key=len)
    rc, _, out, err, _, _ = run_child([seedtune, "tokenize", "-m", model, "--text", shortest, "--json"])
    check(rc, "seedtune tokenize", [seedtune, "tokenize", "-m", model], err)
    n_tok = len(json.loads(out)["ids"])
    if n_tok < a.seq_len:
        sys.exit(f"compare: the shortest text line is {n_tok} tokens for {shape}, under --seq-len {a.seq_len}")

    env = dict(os.environ, OMP_NUM_THREADS=str(a.threads), MKL_NUM_THREADS=str(a.threads))
    torch_cmd = [python, os.path.join(HERE, "torch_mezo.py"), "--shape", shape, "--batch", str(a.batch),
                 "--seq-len", str(a.seq_len), "--threads", str(a.threads), "--reps", str(a.inner),
                 "--warmup", "1", "--lr", str(a.lr), "--eps", str(a.eps)]
    if a.attn:
        torch_cmd += ["--attn", a.attn]
    if llama2c:
        torch_cmd += ["--llama2c", llama2c]
    common = ["-m", model, "--task", f"text:{text_file}", "--max-length", str(a.seq_len), "--eval-n", "0",
              "--threads", str(a.threads)]
    metrics = os.path.join(os.path.dirname(text_file), f"metrics-{shape}.jsonl")
    train_cmd = [seedtune, "train", *common, "--batch", str(a.batch), "--steps", str(1 + a.inner),
                 "--train-n", str(a.batch * 4), "--dev-n", "0", "--lr", str(a.lr), "--eps", str(a.eps), "--no-eval-before",
                 "--no-keep-best", "--metrics", metrics]
    # seedtune eval, forward only: run A scores batch examples (1 forward, the warm-up), run B
    # batch*(1+F); both sample and tokenize the same batch*(1+F) lines (A holds the rest as dev), so
    # the difference of the walls is F forwards and nothing else.
    def eval_cmd(n_eval, n_total):
        return [seedtune, "eval", *common, "--split", "train", "--train-n", str(n_eval), "--dev-n",
                str(n_total - n_eval), "--batch", str(a.batch)]

    t_fwd, t_step, t_rss, t_info = [], [], [], None
    s_fwd, s_step, s_rss, s_startup, s_eval_rss = [], [], [], [], []
    n_fwd = None
    for r in range(a.reps):
        log(f"[{shape}] round {r + 1}/{a.reps}: torch")
        rc, wall, out, err, rss, _ = run_child(torch_cmd, env=env)
        check(rc, "torch_mezo.py", torch_cmd, err)
        j = json.loads(out.strip().splitlines()[-1])
        t_info = t_info or j
        t_fwd += j["forward"]["samples_s"]
        t_step += j["step"]["samples_s"]
        t_rss.append(rss)

        log(f"[{shape}] round {r + 1}/{a.reps}: seedtune train")
        rc, wall, out, err, rss, _ = run_child(train_cmd)
        check(rc, "seedtune train", train_cmd, err)
        with open(metrics) as f:
            steps = [e for e in map(json.loads, f) if e.get("event") == "step"]
        if len(steps) != 1 + a.inner:
            sys.exit(f"compare: seedtune train wrote {len(steps)} step records, expected {1 + a.inner}")
        s_step += [e["seconds"] for e in steps[1:]]
        s_startup.append(wall - sum(e["seconds"] for e in steps))
        s_rss.append(rss)

        if n_fwd is None:  # enough forwards that their sum stands out of start-up noise
            est = med([e["seconds"] for e in steps[1:]]) / 2
            n_fwd = max(a.inner, min(a.max_forwards, math.ceil(a.forward_target_s / max(est, 1e-6))))
        log(f"[{shape}] round {r + 1}/{a.reps}: seedtune eval (1 and {1 + n_fwd} forwards)")
        walls = []
        total = a.batch * (1 + n_fwd)
        for n in (a.batch, total):
            cmd = eval_cmd(n, total)
            rc, wall, out, err, rss, _ = run_child(cmd)
            check(rc, "seedtune eval", cmd, err)
            m = re.search(r"\(n=(\d+)\)", out)
            if not m or int(m.group(1)) != n:
                sys.exit(f"compare: seedtune eval scored {m.group(1) if m else '?'} examples, expected {n}: {out}")
            walls.append(wall)
            s_eval_rss.append(rss)
        s_fwd.append((walls[1] - walls[0]) / n_fwd)

    res.update(
        torch_forward_s=med(t_fwd), torch_step_s=med(t_step), torch_peak_rss_mib=max(t_rss),
        torch_forward_samples_s=t_fwd, torch_step_samples_s=t_step,
        torch_rss_after_build_mib=t_info["rss_after_build_mib"], torch_attn=t_info["attn_implementation"],
        torch_losses=t_info["losses"],
        seedtune_forward_s=med(s_fwd), seedtune_step_s=med(s_step), seedtune_peak_rss_mib=max(s_rss),
        seedtune_eval_peak_rss_mib=max(s_eval_rss), seedtune_forward_samples_s=s_fwd,
        seedtune_step_samples_s=s_step, seedtune_train_startup_s=med(s_startup), seedtune_eval_forwards=n_fwd,
    )
    res["step_speedup"] = res["torch_step_s"] / res["seedtune_step_s"]
    res["forward_speedup"] = (res["torch_forward_s"] / res["seedtune_forward_s"]
                              if res["seedtune_forward_s"] and res["seedtune_forward_s"] > 0 else None)
    res["seedtune_step_over_forward"] = (res["seedtune_step_s"] / res["seedtune_forward_s"]
                                         if res["seedtune_forward_s"] and res["seedtune_forward_s"] > 0 else None)
    res["torch_step_over_forward"] = res["torch_step_s"] / res["torch_forward_s"]
    return res, t_info


def fmt(x, spec):
    return "-" if x is None else format(x, spec)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seedtune", default=os.path.join(os.environ.get("BUILD_DIR", "build"), "seedtune"))
    ap.add_argument("--python", default=sys.executable, help="interpreter with torch + transformers")
    ap.add_argument("--shapes", default=",".join(DEFAULT_SHAPES), help="comma-separated: " + ", ".join(SHAPE_MODELS))
    ap.add_argument("--reps", type=int, default=3, help="alternating rounds (torch process, seedtune processes)")
    ap.add_argument("--inner", type=int, default=3, help="timed forwards / steps per process, after 1 warm-up")
    ap.add_argument("--forward-target-s", type=float, default=2.0,
                    help="seedtune forward: difference enough forwards to last about this long (small models)")
    ap.add_argument("--max-forwards", type=int, default=256, help="upper bound on those forwards")
    ap.add_argument("--quick", action="store_true", help="--reps 1 --inner 2 --forward-target-s 1")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--seq-len", type=int, default=64)
    ap.add_argument("--lr", type=float, default=1e-6)
    ap.add_argument("--eps", type=float, default=1e-3)
    ap.add_argument("--attn", default="", help="transformers attn_implementation (default: its own, sdpa)")
    ap.add_argument("--json", action="store_true", help="one JSON object on stdout instead of the table")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory (text file, metrics)")
    a = ap.parse_args()
    if a.quick:
        a.reps, a.inner, a.forward_target_s = 1, 2, 1.0
    if a.reps < 1 or a.inner < 1:
        sys.exit("compare: --reps and --inner must be at least 1")
    shapes = [s.strip().lower() for s in a.shapes.split(",") if s.strip()]
    unknown = [s for s in shapes if s not in SHAPE_MODELS]
    if unknown:
        sys.exit(f"compare: unknown shape(s) {', '.join(unknown)} (known: {', '.join(SHAPE_MODELS)})")
    seedtune = os.path.abspath(a.seedtune) if os.sep in a.seedtune else a.seedtune
    if not os.path.isfile(seedtune) or not os.access(seedtune, os.X_OK):
        sys.exit(f"compare: no seedtune binary at {seedtune} (build it, or pass --seedtune / set BUILD_DIR)")

    log = lambda msg: print(msg, file=sys.stderr, flush=True)
    load_before = loadavg()
    if load_before is not None and load_before > 0.5:
        log(f"compare: warning: load average {load_before:.2f} before starting: other processes share these "
            "cores and the timings (torch's OpenMP most of all) will be slow and noisy")
    tmp = tempfile.mkdtemp(prefix="seedtune-peer-")
    text_file = os.path.join(tmp, "text.txt")
    # Train pool = half the lines (seedtune's holdout split); eval samples batch*(1+forwards) of them.
    write_text(text_file, lines=2 * a.batch * (1 + max(a.max_forwards, a.inner)) + 64, words_per_line=100)

    results, tinfo = [], None
    try:
        for s in shapes:
            r, ti = bench_shape(s, a, text_file, a.python, seedtune, log)
            results.append(r)
            tinfo = tinfo or ti
    finally:
        if a.keep:
            log(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    cpu, flags = cpu_model()
    env = dict(
        cpu=cpu, cpu_flags=flags, cores=os.cpu_count(), threads=a.threads, batch=a.batch, seq_len=a.seq_len,
        reps=a.reps, inner=a.inner, loadavg_before=load_before, loadavg_after=loadavg(),
        torch_version=tinfo["torch_version"], transformers_version=tinfo["transformers_version"],
        torch_threads=tinfo["threads"], torch_interop_threads=tinfo["interop_threads"],
        torch_mkl=tinfo["mkl_available"], torch_mkldnn=tinfo["mkldnn_available"],
        torch_cpu_capability=tinfo["cpu_capability"],
        torch_config=[l[:200] for l in tinfo["torch_config"] if not l.strip().startswith("- Build settings")][:8],
    )

    if a.json:
        json.dump(dict(environment=env, results=results), sys.stdout, indent=1)
        print()
        return
    print(f"CPU: {env['cpu']} ({env['cores']} cores; {' '.join(flags)})")
    print(f"torch {env['torch_version']} (MKL {env['torch_mkl']}, oneDNN/mkldnn {env['torch_mkldnn']}, "
          f"capability {env['torch_cpu_capability']}; {env['torch_threads']} intra-op / "
          f"{env['torch_interop_threads']} inter-op threads), transformers {env['transformers_version']}")
    for l in env["torch_config"][1:6]:
        print("  " + l.strip())
    print(f"seedtune {seedtune} --threads {a.threads}; batch {a.batch} x {a.seq_len} tokens; medians over "
          f"{a.reps} round(s) x {a.inner} sample(s) after 1 warm-up; load average {fmt(env['loadavg_before'], '.2f')} "
          f"before, {fmt(env['loadavg_after'], '.2f')} after")
    head = ["shape", "torch fwd s", "torch step s", "seedtune fwd s", "seedtune step s", "step speedup",
            "st step/fwd", "torch step/fwd", "torch RSS MiB", "seedtune RSS MiB"]
    rows = [[r["shape"], fmt(r["torch_forward_s"], ".4f"), fmt(r["torch_step_s"], ".4f"),
             fmt(r["seedtune_forward_s"], ".4f"), fmt(r["seedtune_step_s"], ".4f"), fmt(r["step_speedup"], ".2f") + "x",
             fmt(r["seedtune_step_over_forward"], ".2f"), fmt(r["torch_step_over_forward"], ".2f"),
             fmt(r["torch_peak_rss_mib"], ".0f"), fmt(r["seedtune_peak_rss_mib"], ".0f")] for r in results]
    w = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(head)]
    print("  ".join(h.rjust(w[i]) if i else h.ljust(w[i]) for i, h in enumerate(head)))
    for row in rows:
        print("  ".join(c.rjust(w[i]) if i else c.ljust(w[i]) for i, c in enumerate(row)))
    print("step speedup = torch step / seedtune step; st step/fwd = seedtune step / seedtune forward; "
          "RSS = peak resident set of the training process (torch's includes its own libraries, ~0.9 GB).")
    for r in results:
        print(f"  {r['shape']}: {r['parameters']:,} parameters; torch attn={r['torch_attn']}; "
              f"seedtune train start-up+exit {fmt(r['seedtune_train_startup_s'], '.2f')} s; "
              f"forward speedup {fmt(r['forward_speedup'], '.2f')}x")


if __name__ == "__main__":
    main()
