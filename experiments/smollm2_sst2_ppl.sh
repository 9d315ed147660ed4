#!/usr/bin/env bash
# Perplexity of SmolLM2-135M-Instruct (GGUF Q4_1 dequantized to fp32) on the
# 872 SST-2 dev sentences, one sequence per sentence, plus a few greedy
# generations. Run from the repository root after `make` (fetches the model).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-build/seedtune}
MODEL=${MODEL:-assets/models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf}
DATA=${DATA:-}
if [ -z "$DATA" ]; then
  for root in "${SEEDTUNE_ASSETS:-}" assets ../shared/assets; do
    if [ -n "$root" ] && [ -f "$root/data/sst2/dev.tsv" ]; then DATA="$root/data/sst2/dev.tsv"; break; fi
  done
fi
[ -f "$DATA" ] || { echo "SST-2 dev.tsv not found" >&2; exit 1; }
OUT=${OUT:-out/experiments}
mkdir -p "$OUT"
# Column 1 of the tsv, header skipped.
tail -n +2 "$DATA" | cut -f1 > "$OUT/sst2_dev_sentences.txt"
echo "== perplexity on $(wc -l < "$OUT/sst2_dev_sentences.txt") SST-2 dev sentences"
"$BIN" ppl --model "$MODEL" --text-file "$OUT/sst2_dev_sentences.txt" --per-line --batch 16 --json | tee "$OUT/smollm2_sst2_ppl.json"
for p in "The capital of France is" "Water boils at a temperature of" "The opposite of hot is" "Once upon a time"; do
  echo "== greedy: $p"
  "$BIN" generate --model "$MODEL" --prompt "$p" -n 24
done
