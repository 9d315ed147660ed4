#!/usr/bin/env python3
"""Summarises the runs of experiments/federated_smollm2_sst2.sh: for each run
the training-loss curve (mean over windows of rounds), dev accuracy before and
after with its binomial standard error, payload bits and the final fingerprint;
then one table over all runs.

    python3 experiments/summarize_federated.py OUT_DIR|METRICS.jsonl ... [--windows 8]

Takes a directory of NAME.jsonl metrics files (simulate --metrics), or the
files themselves.
"""
import argparse
import json
import math
import os

ORDER = ["feedsign", "feedsign_byz", "zo-fedsgd", "zo-fedsgd_byz", "fedkseed", "fedkseed-pro"]


def load(path):
    rounds, evals = [], []
    with open(path) as f:
        for line in f:
            rec = json.loads(line)
            if rec.get("event") == "round":
                rounds.append(rec)
            elif rec.get("event") == "eval" and rec.get("split") == "eval":
                evals.append(rec)
    return rounds, evals


def acc_se(e):
    a, n = e["accuracy"], e.get("count", 0)
    return 100 * a, (100 * math.sqrt(a * (1 - a) / n) if n else float("nan"))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("paths", nargs="+", metavar="OUT_DIR|METRICS.jsonl")
    ap.add_argument("--windows", type=int, default=8)
    args = ap.parse_args()
    runs = []  # (name, metrics file)
    for path in args.paths:
        if os.path.isdir(path):
            names = [n for n in ORDER if os.path.exists(os.path.join(path, n + ".jsonl"))]
            names += sorted(f[:-6] for f in os.listdir(path) if f.endswith(".jsonl") and f[:-6] not in ORDER)
            runs += [(n, os.path.join(path, n + ".jsonl")) for n in names]
        elif os.path.isfile(path):
            with open(path, "rb") as f:
                if f.read(8).startswith(b"STLEDGR") or not path.endswith(".jsonl"):
                    ap.error(f"{path}: not a metrics file (JSON lines from simulate --metrics); "
                             "for a ledger use seedtune ledger show / verify")
            runs.append((os.path.basename(path)[:-6], path))
        else:
            ap.error(f"{path}: no such file or directory")
    table = []
    for name, metrics_path in runs:
        rounds, evals = load(metrics_path)
        if not rounds:
            continue
        secs = sum(r.get("seconds", 0.0) for r in rounds)
        print(f"== {name}: {len(rounds)} rounds, {secs / 60:.1f} min")
        print(f"{'rounds':>12} {'train loss':>11}")
        w = max(1, math.ceil(len(rounds) / args.windows))
        curve = []
        for i in range(0, len(rounds), w):
            chunk = rounds[i:i + w]
            loss = sum(r["loss"] for r in chunk) / len(chunk)
            curve.append(loss)
            print(f"{chunk[0]['round']:>5}-{chunk[-1]['round']:<6} {loss:>11.4f}")
        before = next((e for e in evals if e["round"] == 0), None)
        after = next((e for e in reversed(evals) if e["round"] != 0), None)
        up = sum(r.get("up_bits", 0) for r in rounds) / len(rounds)
        down = sum(r.get("down_bits", 0) for r in rounds) / len(rounds)
        row = {"name": name, "rounds": len(rounds), "first": curve[0], "last": curve[-1],
               "up": up, "down": down, "minutes": secs / 60,
               "fingerprint": rounds[-1].get("fingerprint", "")}
        for tag, e in (("before", before), ("after", after)):
            if e is not None:
                row[tag] = acc_se(e)
                print(f"{tag:>6}: accuracy {row[tag][0]:.2f}% +- {row[tag][1]:.2f} (n={e.get('count')}), loss {e['loss']:.4f}")
        table.append(row)
        print()
    print(f"{'run':<14} {'rounds':>6} {'loss first->last window':>24} {'dev acc before':>16} {'dev acc after':>16} "
          f"{'up bits/client/round':>21} {'down':>8} {'min':>6}  fingerprint")
    for r in table:
        b = r.get("before", (float("nan"),) * 2)
        a = r.get("after", (float("nan"),) * 2)
        print(f"{r['name']:<14} {r['rounds']:>6} {r['first']:>11.4f} -> {r['last']:<10.4f} "
              f"{b[0]:>8.2f} +- {b[1]:<4.2f} {a[0]:>8.2f} +- {a[1]:<4.2f} {r['up']:>21.0f} {r['down']:>8.0f} "
              f"{r['minutes']:>6.1f}  {r['fingerprint']}")


if __name__ == "__main__":
    main()
