#!/usr/bin/env bash
# Builds the ledger-reader fuzz target with clang (libFuzzer + AddressSanitizer
# + UndefinedBehaviorSanitizer) and runs it for SECONDS (default 20; CI runs
# this bounded run through `make test`). A longer run, for example an hour:
#   scripts/fuzz-ledger.sh 3600
# Crashing inputs are written to build-fuzz/ (crash-*), and the corpus grows in
# build-fuzz/corpus.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_TO_RUN=${1:-20}
OUT=build-fuzz
mkdir -p "$OUT/corpus"
if ! command -v clang++ >/dev/null; then
  echo "fuzz-ledger: clang++ not found (apt-get install clang libclang-rt-14-dev); skipping" >&2
  exit 0
fi
SRC="fuzz/ledger_fuzz.cc src/ledger/ledger.cc src/ledger/crc32c.cc src/core/status.cc src/core/mapped_file.cc"
if [ ! -x "$OUT/ledger_fuzz" ] || [ -n "$(find $SRC -newer "$OUT/ledger_fuzz" 2>/dev/null)" ]; then
  clang++ -std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -Isrc $SRC \
    -lfmt -o "$OUT/ledger_fuzz"
fi
# Seed the corpus with a real ledger: a tiny valid file written by the tests' format.
if [ -z "$(ls -A "$OUT/corpus")" ] && [ -x build/seedtune ] && [ -f ../shared/assets/models/stories260K/stories260K.bin ]; then
  tmp=$(mktemp -d)
  printf 'a b c\nd e f\n' > "$tmp/t.txt"
  build/seedtune train --model ../shared/assets/models/stories260K/stories260K.bin --task "text:$tmp/t.txt" \
    --train-n 2 --dev-n 0 --eval-n 0 --steps 3 --batch 1 --no-keep-best --ledger "$OUT/corpus/seed.ledger" \
    >/dev/null 2>&1 || true
  rm -rf "$tmp"
fi
echo "fuzz-ledger: running for ${SECONDS_TO_RUN}s" >&2
(cd "$OUT" && ./ledger_fuzz -max_total_time="$SECONDS_TO_RUN" -max_len=4096 -print_final_stats=1 corpus 2>&1 | tail -n 12)
