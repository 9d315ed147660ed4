#!/usr/bin/env bash
# Builds the libFuzzer targets in fuzz/ with clang (libFuzzer +
# AddressSanitizer + UndefinedBehaviorSanitizer) and runs each for SECONDS
# (default 20; `make test` runs every target for FUZZ_SECONDS). docs/fuzzing.md
# says what each target checks.
#   scripts/fuzz.sh                     # every target, 20 s each
#   scripts/fuzz.sh 600 gguf wire       # two targets, 10 minutes each
#   scripts/fuzz.sh --list              # the target names
# Only the sources a target needs are compiled (objects are shared between
# targets; build-fuzz/build.ninja is generated here and run with ninja, so a
# header change rebuilds what includes it). Per target T:
#   build-fuzz/T/corpus    the corpus (grows; seeded from build-fuzz/seeds/T)
#   build-fuzz/T/crash-*   inputs that broke a property (also leak-*, oom-*, timeout-*)
#   build-fuzz/T/last.log  the full libFuzzer output of the last run
# Seeds come from build/tests/fuzz_seeds (fuzz/make_seeds.cc: tiny files
# written with the project's writers, plus shrunken real assets) and, for the
# ledger, a short `seedtune train` run; without a CMake build the targets start
# from what is already in their corpus. Environment: FUZZ_JOBS (ninja -j,
# default 2), FUZZ_BUILD_DIR (default build), FUZZ_FLAGS (extra libFuzzer
# flags). Exits non-zero when a target finds something.
set -euo pipefail
cd "$(dirname "$0")/.."

ALL_TARGETS=(ledger gguf safetensors hf_config tokenizer_json llama2c llama2c_tokenizer wire)
if [ "${1:-}" = "--list" ]; then
  printf '%s\n' "${ALL_TARGETS[@]}"
  exit 0
fi
SECONDS_TO_RUN=${1:-20}
[ $# -gt 0 ] && shift
TARGETS=("$@")
[ ${#TARGETS[@]} -eq 0 ] && TARGETS=("${ALL_TARGETS[@]}")
OUT=build-fuzz
CMAKE_BUILD=${FUZZ_BUILD_DIR:-build}
JOBS=${FUZZ_JOBS:-2}

if ! command -v clang++ >/dev/null; then
  echo "fuzz: clang++ not found (apt-get install clang libclang-rt-14-dev); skipping" >&2
  exit 0
fi
# Linking with lld and --gc-sections: the wire decoders share files
# (fed/strategy.cc, zo/update.cc, data/task.cc) with functions that reach most
# of the project; lld drops those unused sections with their references, GNU
# ld would still ask for every symbol they name.
if ! command -v ld.lld >/dev/null; then
  echo "fuzz: ld.lld not found (apt-get install lld); skipping" >&2
  exit 0
fi
if ! command -v ninja >/dev/null; then
  echo "fuzz: ninja not found (apt-get install ninja-build); skipping" >&2
  exit 0
fi

# --- what each target compiles and links -------------------------------------
CORE="src/core/status.cc src/core/mapped_file.cc"
MODEL="src/model/arch.cc src/model/config.cc src/model/weights.cc"
FORMATS="src/formats/checkpoint.cc src/formats/dequant.cc src/formats/gguf.cc src/formats/gguf_checkpoint.cc
  src/formats/gguf_writer.cc src/formats/hf_checkpoint.cc src/formats/hf_config.cc src/formats/llama2c.cc
  src/formats/llama2c_checkpoint.cc src/formats/safetensors.cc"
TOK_COMMON="src/tokenizer/special_tokens.cc src/tokenizer/text_util.cc"
TOK_BPE="src/tokenizer/byte_bpe.cc src/tokenizer/pretokenizer.cc $TOK_COMMON"
TOK_SCORE="src/tokenizer/score_bpe.cc $TOK_COMMON"
PROTO_SRC="$OUT/proto/seedtune/v1/federation.pb.cc $OUT/proto/seedtune/v1/peer.pb.cc"
# Every algorithm's coordinator side (its *_strategy.cc), so a new one is in.
WIRE="src/net/wire.cc src/net/peer_wire.cc src/net/run_spec.cc src/fed/run_header.cc src/fed/messages.cc src/fed/strategy.cc
  src/fed/algorithms/strategies.cc $(ls src/fed/algorithms/*_strategy.cc | tr '\n' ' ')
  src/fed/aggregate.cc src/zo/update.cc src/data/task.cc src/data/sampling.cc src/core/assets.cc src/kernels/random.cc src/kernels/cpu.cc"
declare -A SRC LIBS MAXLEN
SRC[ledger]="fuzz/ledger_fuzz.cc src/ledger/ledger.cc src/ledger/crc32c.cc $CORE"
SRC[gguf]="fuzz/gguf_fuzz.cc $FORMATS $MODEL $CORE src/tokenizer/gguf_tokenizer.cc $TOK_BPE src/tokenizer/score_bpe.cc"
SRC[safetensors]="fuzz/safetensors_fuzz.cc $FORMATS $MODEL $CORE"
SRC[hf_config]="fuzz/hf_config_fuzz.cc $FORMATS $MODEL $CORE"
SRC[tokenizer_json]="fuzz/tokenizer_json_fuzz.cc $TOK_BPE $CORE"
SRC[llama2c]="fuzz/llama2c_fuzz.cc $FORMATS $MODEL $CORE"
SRC[llama2c_tokenizer]="fuzz/llama2c_tokenizer_fuzz.cc $TOK_SCORE $CORE"
SRC[wire]="fuzz/wire_fuzz.cc $WIRE $PROTO_SRC $CORE"
for t in "${ALL_TARGETS[@]}"; do LIBS[$t]="-lfmt"; MAXLEN[$t]=65536; done
LIBS[gguf]="-lfmt -lpcre2-8"
LIBS[tokenizer_json]="-lfmt -lpcre2-8"
LIBS[llama2c_tokenizer]="-lfmt"
MAXLEN[ledger]=4096  # the ledger recipe mode needs no more

for t in "${TARGETS[@]}"; do
  if [ -z "${SRC[$t]+x}" ]; then
    echo "fuzz: unknown target '$t' (targets: ${ALL_TARGETS[*]})" >&2
    exit 2
  fi
done
# build.ninja always describes every target (so that runs of different
# targets can share it); only the ones asked for are built.
BUILDABLE=("${ALL_TARGETS[@]}")
NEED_PROTO=1
PROTO_FLAGS=""
if ! command -v protoc >/dev/null || ! pkg-config --exists protobuf grpc++; then
  echo "fuzz: protoc / protobuf / grpc++ development files not found; no wire target" >&2
  TARGETS=("${TARGETS[@]/wire/}")
  BUILDABLE=("${BUILDABLE[@]/wire/}")
  NEED_PROTO=0
else
  PROTO_FLAGS="$(pkg-config --cflags protobuf grpc++)"
  LIBS[wire]="-lfmt $(pkg-config --libs protobuf grpc++)"
fi

# --- build.ninja ---------------------------------------------------------------
mkdir -p "$OUT"
SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined"
ninja_file=$(mktemp "$OUT/build.ninja.XXXXXX")
{
  echo "# Generated by scripts/fuzz.sh; do not edit."
  echo "builddir = $OUT"
  echo "cxxflags = -std=c++20 -O1 -g -fno-omit-frame-pointer -ffp-contract=off -ffunction-sections -fdata-sections $SAN -fsanitize=fuzzer-no-link -I. -Isrc -I$OUT/proto $PROTO_FLAGS"
  echo "rule cxx"
  echo "  command = clang++ \$cxxflags \$extra -MMD -MF \$out.d -c \$in -o \$out"
  echo "  depfile = \$out.d"
  echo "  deps = gcc"
  echo "  description = CXX \$in"
  echo "rule link"
  echo "  command = clang++ -fuse-ld=lld -Wl,--gc-sections $SAN -fsanitize=fuzzer \$in -o \$out \$libs"
  echo "  description = LINK \$out"
  echo "rule protoc"
  echo "  command = protoc -I proto --cpp_out=$OUT/proto \$in"
  echo "  description = PROTOC \$in"
  if [ $NEED_PROTO = 1 ]; then
    for p in federation peer; do
      echo "build $OUT/proto/seedtune/v1/$p.pb.cc $OUT/proto/seedtune/v1/$p.pb.h: protoc proto/seedtune/v1/$p.proto"
    done
  fi
  declare -A seen
  for t in "${BUILDABLE[@]}"; do
    [ -z "$t" ] && continue
    objs=""
    for s in ${SRC[$t]}; do
      o="$OUT/obj/${s#$OUT/}.o"
      objs="$objs $o"
      [ -n "${seen[$o]+x}" ] && continue
      seen[$o]=1
      order=""
      case "$s" in
        src/net/*|src/fed/*|fuzz/wire_fuzz.cc|$OUT/proto/*)
          order=" || $OUT/proto/seedtune/v1/federation.pb.h $OUT/proto/seedtune/v1/peer.pb.h" ;;
      esac
      echo "build $o: cxx $s$order"
      case "$s" in $OUT/proto/*) echo "  extra = -w" ;; esac
    done
    echo "build $OUT/$t/${t}_fuzz: link$objs"
    echo "  libs = ${LIBS[$t]}"
  done
} > "$ninja_file"
if ! cmp -s "$ninja_file" "$OUT/build.ninja"; then mv "$ninja_file" "$OUT/build.ninja"; else rm -f "$ninja_file"; fi

BINARIES=()
for t in "${TARGETS[@]}"; do [ -n "$t" ] && BINARIES+=("$OUT/$t/${t}_fuzz"); done
for t in "${TARGETS[@]}"; do [ -n "$t" ] && mkdir -p "$OUT/$t/corpus"; done
nice -n 19 ninja -f "$OUT/build.ninja" -j "$JOBS" "${BINARIES[@]}" >&2

# --- seeds -----------------------------------------------------------------------
SEEDS="$OUT/seeds"
if [ -x "$CMAKE_BUILD/tests/fuzz_seeds" ] && { [ ! -f "$SEEDS/.stamp" ] || [ "$CMAKE_BUILD/tests/fuzz_seeds" -nt "$SEEDS/.stamp" ]; }; then
  rm -rf "$SEEDS.tmp"
  "$CMAKE_BUILD/tests/fuzz_seeds" "$SEEDS.tmp" >&2
  mkdir -p "$SEEDS"
  cp -r "$SEEDS.tmp"/. "$SEEDS"/
  rm -rf "$SEEDS.tmp"
  touch "$SEEDS/.stamp"
fi
if [ ! -f "$SEEDS/ledger/seed.ledger" ] && [ -x "$CMAKE_BUILD/seedtune" ] && [ -f ../shared/assets/models/stories260K/stories260K.bin ]; then
  # A real ledger: a short training run of stories260K.
  mkdir -p "$SEEDS/ledger"
  tmp=$(mktemp -d)
  printf 'a b c\nd e f\n' > "$tmp/t.txt"
  "$CMAKE_BUILD/seedtune" train --model ../shared/assets/models/stories260K/stories260K.bin --task "text:$tmp/t.txt" \
    --train-n 2 --dev-n 0 --eval-n 0 --steps 3 --batch 1 --no-keep-best --ledger "$SEEDS/ledger/seed.ledger" \
    >/dev/null 2>&1 || true
  rm -rf "$tmp"
fi

# --- runs ------------------------------------------------------------------------
status=0
for t in "${TARGETS[@]}"; do
  [ -z "$t" ] && continue
  dir="$OUT/$t"
  if [ -d "$SEEDS/$t" ]; then
    # Seeds over the length limit would be cut by libFuzzer anyway: keep them out.
    find "$SEEDS/$t" -type f -size -$((MAXLEN[$t] + 1))c -exec cp -n {} "$dir/corpus/" \;
  fi
  dict=""
  [ -f "fuzz/dicts/$t.dict" ] && dict="-dict=$PWD/fuzz/dicts/$t.dict"
  echo "fuzz: $t: running for ${SECONDS_TO_RUN}s ($(ls "$dir/corpus" | wc -l) inputs in $dir/corpus)" >&2
  set +e
  (cd "$dir" && nice -n 19 "./${t}_fuzz" -max_total_time="$SECONDS_TO_RUN" -max_len="${MAXLEN[$t]}" \
     -rss_limit_mb=2048 -malloc_limit_mb=1024 -timeout=60 -print_final_stats=1 -artifact_prefix=./ \
     $dict ${FUZZ_FLAGS:-} corpus > last.log 2>&1)
  rc=$?
  set -e
  grep -E '^#[0-9]+[[:space:]]+DONE|^stat::|SUMMARY|ERROR:|fuzz property failed|Test unit written' "$dir/last.log" | tail -n 14 >&2 || true
  if [ $rc -ne 0 ]; then
    echo "fuzz: $t: FAILED (exit $rc); see $dir/last.log and $dir/crash-* / leak-* / oom-* / timeout-*" >&2
    status=1
  fi
done
exit $status
