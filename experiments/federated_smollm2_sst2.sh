#!/usr/bin/env bash
# Federated zeroth-order fine-tuning of the real SmolLM2-135M-Instruct (GGUF
# Q4_1 -> fp32 masters) on SST-2, one run per configuration:
#   feedsign            5 clients, Dirichlet(0.5) over labels
#   feedsign_byz        the same, 1 of 5 clients flips its sign
#   zo-fedsgd           5 clients, Dirichlet(0.5), mean of the scalars
#   zo-fedsgd_byz       the same, 1 of 5 clients sends N(0, 100^2) scalars
#   fedkseed            20 clients, Dirichlet(0.5), 10% sampled per round, tau=200, K=4096
#   fedkseed-pro        the same with probability-differentiated seed sampling
# Every run evaluates the full SST-2 dev set (872 = GLUE validation) before and
# after, logs per-round metrics (JSON lines) and writes its seed ledger; the
# script ends with `summarize_federated.py`, which prints curves and the table.
# Sized for about 90 minutes on 2 quiet cores in all (RUNS picks a subset;
# commands.txt collects every run's options).
# Run from the repository root after `make` (which fetches the model).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-build/seedtune}
MODEL=${MODEL:-assets/models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf}
OUT=${OUT:-experiments/results/federated_smollm2_sst2}
RUNS=${RUNS:-"feedsign feedsign_byz zo-fedsgd zo-fedsgd_byz fedkseed fedkseed-pro"}
STEPS=${STEPS:-400}          # FeedSign / ZO-FedSGD steps (one round = one step)
FK_ROUNDS=${FK_ROUNDS:-5}    # FedKSeed rounds (2 clients x 200 local steps each)
# FeedSign's eta is not MeZO's lr (the update is eta*sign*z): eta ~ MeZO lr x
# typical |g| = 3e-6 x ~10-20 (MeZO run, experiments/results/mezo_smollm2_sst2).
FS_ETA=${FS_ETA:-3e-5}
# ZO-FedSGD averages 5 directions, so its variance at a given lr is 5x lower
# than MeZO's; 5e-6 is a little above MeZO's best 3e-6.
ZO_LR=${ZO_LR:-5e-6}
FK_LR=${FK_LR:-1e-6}         # batch 1 gives noisier scalars than MeZO's batch 16
COMMON="--model $MODEL --task sst2 --seed 0 --eps 1e-3 --train-n 1000 --dev-n 0 --eval-n 872 --partition dirichlet:0.5"
mkdir -p "$OUT"

run() {
  local name=$1; shift
  echo "== $name: $*" | tee -a "$OUT/commands.txt"
  rm -f "$OUT/$name.ledger"
  "$BIN" simulate $COMMON "$@" --metrics "$OUT/$name.jsonl" --ledger "$OUT/$name.ledger" \
    2> "$OUT/$name.log" > "$OUT/$name.out"
  tail -n 4 "$OUT/$name.out"
}

for r in $RUNS; do
  case $r in
    feedsign)      run $r --algo feedsign  --clients 5 --batch 4 --rounds "$STEPS" --lr "$FS_ETA" ;;
    feedsign_byz)  run $r --algo feedsign  --clients 5 --batch 4 --rounds "$STEPS" --lr "$FS_ETA" --byzantine 0.2 --attack signflip ;;
    zo-fedsgd)     run $r --algo zo-fedsgd --clients 5 --batch 4 --rounds "$STEPS" --lr "$ZO_LR" --aggregate mean ;;
    zo-fedsgd_byz) run $r --algo zo-fedsgd --clients 5 --batch 4 --rounds "$STEPS" --lr "$ZO_LR" --aggregate mean --byzantine 0.2 --attack random ;;
    fedkseed)      run $r --algo fedkseed     --clients 20 --client-fraction 0.1 --local-steps 200 --K 4096 --rounds "$FK_ROUNDS" --lr "$FK_LR" ;;
    fedkseed-pro)  run $r --algo fedkseed-pro --clients 20 --client-fraction 0.1 --local-steps 200 --K 4096 --rounds "$FK_ROUNDS" --lr "$FK_LR" ;;
    *) echo "unknown run $r" >&2; exit 2 ;;
  esac
done
python3 experiments/summarize_federated.py "$OUT" | tee "$OUT/summary.txt"
