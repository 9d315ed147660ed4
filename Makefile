# seedtune: `make demo` and `make test` are the two entry points (see README).
# Both install missing system packages (Debian 12), configure and build.

BUILD_DIR ?= build
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?= -DCMAKE_BUILD_TYPE=Release

.PHONY: all deps configure build assets venv demo test bench clean

all: build assets

deps:
	@bash scripts/install-deps.sh

$(BUILD_DIR)/build.ninja: CMakeLists.txt | deps
	cmake -S . -B $(BUILD_DIR) -G Ninja $(CMAKE_FLAGS)

configure: deps $(BUILD_DIR)/build.ninja

build: configure
	cmake --build $(BUILD_DIR) -j $(JOBS)

assets:
	@bash scripts/fetch-smollm2.sh

venv:
	@bash scripts/setup-venv.sh

demo: build assets
	./$(BUILD_DIR)/seedtune demo

FUZZ_SECONDS ?= 20
# A fixed libFuzzer seed: every `make test` walks the same mutations from the
# same seeds, so a green run here is a green run in CI; exploring new ground is
# the longer runs' job (scripts/fuzz.sh 600; FUZZ_SEED=0 picks a random seed).
FUZZ_SEED ?= 1

# The bounded fuzz runs (every target in fuzz/ for FUZZ_SECONDS each; see
# docs/fuzzing.md) go first so that ctest's summary is the last thing
# `make test` prints.
test: build assets venv
	FUZZ_FLAGS="-seed=$(FUZZ_SEED) $$FUZZ_FLAGS" bash scripts/fuzz.sh $(FUZZ_SECONDS)
	cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS) --timeout 900

bench: build assets
	./$(BUILD_DIR)/bench/bench_forward
	./$(BUILD_DIR)/bench/bench_zo

clean:
	rm -rf $(BUILD_DIR)
