#!/usr/bin/env bash
# The ledger-reader fuzz target alone (kept for muscle memory; scripts/fuzz.sh
# runs every target):
#   scripts/fuzz-ledger.sh [SECONDS]    = scripts/fuzz.sh SECONDS ledger
# Crashing inputs land in build-fuzz/ledger/ (crash-*), the corpus in
# build-fuzz/ledger/corpus.
set -euo pipefail
cd "$(dirname "$0")/.."
exec bash scripts/fuzz.sh "${1:-20}" ledger
