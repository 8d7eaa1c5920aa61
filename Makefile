# A-IO's front door.  make          build (installs missing Debian packages, fetches pinned llama.cpp)
#                     make test     build, then run every test suite (unit, model, e2e)
#                     make demo     build, then run the main job
#                     make bench    benchmarks against their anchors (llama-bench; plain decoding) - not tests
#                     make fuzz     libFuzzer targets, FUZZ_SECONDS each (default 120; CI: 30)
#                     make screenshots  the docs' pictures of the dashboard, drawn in chromium
# PRESET=debug|asan picks another CMakePresets.json preset; CMAKE_ARGS="-DGGML_CUDA=ON" passes options through.
PRESET ?= release
CMAKE_ARGS ?=
JOBS ?= $(shell nproc)

.PHONY: all build deps configure test demo bench fuzz screenshots clean

all: build

deps:
	@scripts/install-deps.sh

configure: deps
	@cmake --preset $(PRESET) $(CMAKE_ARGS) > /dev/null || cmake --preset $(PRESET) $(CMAKE_ARGS)

build: configure
	@cmake --build --preset $(PRESET) -j $(JOBS)

test: build
	@ctest --preset $(PRESET) -j $(JOBS)

demo: build
	@PRESET=$(PRESET) scripts/demo.sh

bench: build
	@bench/run.sh

fuzz: deps
	@scripts/fuzz.sh

screenshots: build
	@scripts/screenshots.sh

clean:
	rm -rf build build-debug build-asan build-fuzz
