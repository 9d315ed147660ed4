#!/usr/bin/env python3
"""Summarises a `seedtune train --metrics` JSON-lines file: the training-loss
curve (mean of L(theta + eps z) over windows of steps) and every evaluation.

    python3 experiments/summarize_run.py RUN.jsonl [--window 100]
"""
import argparse
import json
import math


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("metrics")
    ap.add_argument("--window", type=int, default=100)
    args = ap.parse_args()
    steps, evals = [], []
    with open(args.metrics) as f:
        for line in f:
            rec = json.loads(line)
            if rec.get("event") == "step":
                steps.append(rec)
            elif rec.get("event") == "eval":
                evals.append(rec)
    if steps:
        secs = sum(s["seconds"] for s in steps)
        print(f"{len(steps)} steps, {secs / len(steps):.2f} s/step, {secs / 60:.1f} min of training")
        print(f"{'steps':>12} {'train loss':>11} {'|g| mean':>9}")
        for i in range(0, len(steps), args.window):
            w = steps[i:i + args.window]
            loss = sum(s["loss"] for s in w) / len(w)
            g = sum(abs(s["projected_grad"]) for s in w) / len(w)
            print(f"{w[0]['step']:>5}-{w[-1]['step']:<6} {loss:>11.4f} {g:>9.3f}")
    if evals:
        print(f"{'split':>6} {'step':>6} {'accuracy':>9} {'+-':>6} {'loss':>8}")
        for e in evals:
            acc = e.get("accuracy", float("nan"))
            n = e.get("count")
            se = math.sqrt(acc * (1 - acc) / n) if n else float("nan")
            print(f"{e['split']:>6} {e['step']:>6} {100 * acc:>8.2f}% {100 * se:>6.2f} {e.get('loss', float('nan')):>8.4f}")


if __name__ == "__main__":
    main()
