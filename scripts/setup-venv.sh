#!/usr/bin/env bash
# Test-only Python oracles (the Hugging Face `tokenizers` package, gguf-py, the `rouge` package) in a project
# virtual environment, .venv/. Never fatal: tests that need it skip with a reason.
set -uo pipefail
cd "$(dirname "$0")/.."
STAMP=.venv/.seedtune-ok-2  # -2: rouge added
if [ -f "$STAMP" ]; then exit 0; fi
python3 -m venv .venv >&2 || { echo "seedtune: warning: python3 -m venv failed; oracle tests will skip" >&2; exit 0; }
if .venv/bin/python -m pip install --quiet --disable-pip-version-check tokenizers==0.20.3 numpy gguf==0.19.0 rouge==1.0.1 >&2; then
  touch "$STAMP"
else
  echo "seedtune: warning: pip install tokenizers failed; oracle tests will skip" >&2
fi
