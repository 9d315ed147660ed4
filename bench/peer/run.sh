#!/usr/bin/env bash
# Peer benchmark: PyTorch + transformers running MeZO the way Malladi et al.'s
# trainer does, side by side with `seedtune train`. Not part of `make test`.
#
#   bench/peer/run.sh [--quick] [--shapes a,b,c] [--reps N] [--threads T] [--json] [--setup-only]
#
# Environment:
#   SEEDTUNE_PEER_VENV  virtual environment with torch + transformers
#                       (default: $HOME/.cache/seedtune/peer-venv; created once, outside the clone)
#   BUILD_DIR           seedtune build directory (default: build; binary $BUILD_DIR/seedtune)
#   PYTHON              interpreter used to create the venv (default: python3)
# Every other option is passed to bench/peer/compare.py (see --help there).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
cd "$root"

venv=${SEEDTUNE_PEER_VENV:-$HOME/.cache/seedtune/peer-venv}
build=${BUILD_DIR:-build}
python=${PYTHON:-python3}

setup_only=0
args=()
for a in "$@"; do
  case "$a" in
    --setup-only) setup_only=1 ;;
    -h|--help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) args+=("$a") ;;
  esac
done

die() { echo "bench/peer: $*" >&2; exit 1; }

venv_ok() {
  [ -x "$venv/bin/python" ] && "$venv/bin/python" -c 'import torch, transformers' >/dev/null 2>&1
}

if ! venv_ok; then
  echo "bench/peer: setting up $venv (pip install torch transformers; the torch wheel with its CUDA" >&2
  echo "bench/peer: libraries is several GB, this takes a while once)" >&2
  command -v "$python" >/dev/null 2>&1 || die "no '$python' found; install Python 3 (apt-get install python3 python3-venv) or set PYTHON"
  mkdir -p "$(dirname "$venv")" || die "cannot create $(dirname "$venv")"
  if [ ! -x "$venv/bin/python" ]; then
    "$python" -m venv "$venv" ||
      die "'$python -m venv $venv' failed (on Debian: apt-get install python3-venv); remove $venv and retry"
  fi
  "$venv/bin/python" -m pip install --upgrade pip >&2 || echo "bench/peer: (could not upgrade pip; continuing)" >&2
  if ! "$venv/bin/python" -m pip install torch transformers numpy >&2; then
    die "pip install torch transformers failed (see pip's message above: no network to PyPI, no space left
on $(dirname "$venv"), or no wheel for this Python). Fix that and rerun; to start over: rm -rf $venv"
  fi
  venv_ok || die "torch / transformers installed into $venv but do not import:
$("$venv/bin/python" -c 'import torch, transformers' 2>&1 | tail -3)"
  echo "bench/peer: venv ready: $("$venv/bin/python" -c 'import torch, transformers; print("torch", torch.__version__, "transformers", transformers.__version__)')" >&2
fi
[ "$setup_only" = 1 ] && exit 0

[ -x "$build/seedtune" ] ||
  die "no seedtune binary at $build/seedtune: build it first (make, or cmake --build $build), or set BUILD_DIR"

exec "$venv/bin/python" "$here/compare.py" --seedtune "$build/seedtune" "${args[@]+"${args[@]}"}"
