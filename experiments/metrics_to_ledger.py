#!/usr/bin/env python3
"""Writes a seed ledger (docs/ledger.md, format 1) from the per-step updates
that `seedtune train --metrics` logged, so any step of a finished run can be
rebuilt with `seedtune ledger export ... --upto STEP`.

    python3 experiments/metrics_to_ledger.py RUN.jsonl BASE_FINGERPRINT OUT.ledger [--seed S]
"""
import argparse
import json
import struct


def crc32c(data: bytes) -> int:
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
    return crc ^ 0xFFFFFFFF


def frame(payload: bytes) -> bytes:
    return struct.pack("<II", len(payload), crc32c(payload)) + payload


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("metrics")
    ap.add_argument("base_fingerprint")
    ap.add_argument("out")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    header = {"base_fingerprint": args.base_fingerprint, "algorithm": "mezo",
              "hyperparameters": json.dumps({"source": args.metrics}), "run_seed": args.seed,
              "distribution": "gauss"}
    out = bytearray(b"STLEDGR\0" + struct.pack("<II", 1, 1))
    out += frame(b"H" + json.dumps(header).encode())
    n = 0
    with open(args.metrics) as f:
        for line in f:
            rec = json.loads(line)
            if rec.get("event") != "step":
                continue
            body = b"R" + struct.pack("<QI", rec["step"], len(rec["updates"]))
            for u in rec["updates"]:
                body += struct.pack("<Qff", u["seed"], u["alpha"], u["decay"])
            body += struct.pack("<II", 1, 0) + b"\0"  # one participant (0), no fingerprint
            out += frame(body)
            n += 1
    with open(args.out, "wb") as f:
        f.write(out)
    print(f"{args.out}: {n} steps, {len(out)} bytes")


if __name__ == "__main__":
    main()
