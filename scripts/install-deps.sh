#!/usr/bin/env bash
# Installs the Debian 12 packages seedtune needs to build and test, if missing.
# As root it runs apt-get; otherwise it prints the command to run and fails.
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build pkg-config git
  libopenblas-dev libfmt-dev nlohmann-json3-dev libcli11-dev
  libsentencepiece-dev libpcre2-dev
  libgrpc++-dev libprotobuf-dev protobuf-compiler protobuf-compiler-grpc openssl libssl-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libdnnl-dev
  clang libclang-rt-14-dev lld
  python3 python3-venv
)

missing=()
for p in "${PACKAGES[@]}"; do
  # python3/python3-venv may come from pyenv instead of Debian: accept a working interpreter.
  if [[ "$p" == python3 || "$p" == python3-venv ]] && python3 -c 'import venv' >/dev/null 2>&1; then
    continue
  fi
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

cmd="apt-get install -y --no-install-recommends ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
  echo "seedtune: missing system packages: ${missing[*]}" >&2
  echo "run as root:  apt-get update && $cmd" >&2
  exit 1
fi
echo "seedtune: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
