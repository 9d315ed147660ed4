#!/usr/bin/env bash
# MeZO on the real SmolLM2-135M-Instruct (GGUF Q4_1 -> fp32 masters) + SST-2.
#   1. zero-shot accuracy on the full SST-2 dev set (872 = GLUE validation);
#   2. a short learning-rate sweep (SWEEP_STEPS steps each, dev loss/accuracy
#      on 500 dev examples sampled from train, as MeZO does);
#   3. MeZO with the best rate for MAIN_STEPS steps (sized to about an hour on
#      2 cores), dev evaluation every EVAL_EVERY steps, then the full dev set.
# Everything lands in $OUT (JSON lines + logs). Run from the repository root
# after `make` (which fetches the model).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-build/seedtune}
MODEL=${MODEL:-assets/models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf}
OUT=${OUT:-experiments/results/mezo_smollm2_sst2}
LRS=${LRS:-"3e-7 1e-6 3e-6"}
SWEEP_STEPS=${SWEEP_STEPS:-150}
MAIN_STEPS=${MAIN_STEPS:-1600}
EVAL_EVERY=${EVAL_EVERY:-400}
COMMON="--model $MODEL --task sst2 --batch 16 --eps 1e-3 --seed 0 --train-n 1000 --dev-n 500"
mkdir -p "$OUT"

echo "== zero-shot, full SST-2 dev (872)" | tee "$OUT/summary.txt"
"$BIN" eval --model "$MODEL" --task sst2 --eval-n 872 --json | tee "$OUT/zero_shot.json" | tee -a "$OUT/summary.txt"

for lr in $LRS; do
  echo "== sweep lr=$lr ($SWEEP_STEPS steps)" | tee -a "$OUT/summary.txt"
  "$BIN" train $COMMON --lr "$lr" --steps "$SWEEP_STEPS" --eval-n 0 --no-eval-before --no-keep-best \
    --metrics "$OUT/sweep_lr$lr.jsonl" 2> "$OUT/sweep_lr$lr.log" || true
  tail -n 1 "$OUT/sweep_lr$lr.jsonl" | tee -a "$OUT/summary.txt"
  grep '"split":"dev"' "$OUT/sweep_lr$lr.jsonl" | tail -n 1 | tee -a "$OUT/summary.txt"
done

# Best rate by final dev loss (classification cross-entropy), ties to the smaller rate.
best=$(for lr in $LRS; do
  l=$(grep '"split":"dev"' "$OUT/sweep_lr$lr.jsonl" | tail -n 1 | sed 's/.*"loss":\([-0-9.e]*\).*/\1/')
  echo "$l $lr"
done | sort -g | head -n 1 | cut -d' ' -f2)
echo "== main run lr=$best ($MAIN_STEPS steps)" | tee -a "$OUT/summary.txt"
"$BIN" train $COMMON --lr "$best" --steps "$MAIN_STEPS" --eval-every "$EVAL_EVERY" --eval-n 872 --no-eval-before \
  --metrics "$OUT/main.jsonl" 2> "$OUT/main.log"
tail -n 4 "$OUT/main.log" | tee -a "$OUT/summary.txt"
