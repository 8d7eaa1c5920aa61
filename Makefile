# A-IO's front door.  make          build (installs missing Debian packages, fetches pinned llama.cpp)
#                     make test     build, then run every test suite (unit, model, e2e)
#                     make demo     build, then run the main job
#                     make bench    benchmarks against their anchors (llama-bench; plain decoding) - not tests
#                     make fuzz     libFuzzer targets, FUZZ_SECONDS each (default 120; CI: 30)
#                     make screenshots  the docs' pictures of the dashboard, drawn in chromium
#                     make package  the Debian package (build/package/aio_<version>_<arch>.deb)
#                     make install  install aio (DESTDIR and PREFIX honoured; default prefix /usr)
#                     make image    the container image localhost/aio:<version> from the package (root, buildah)
#                     make install-test  the package installed into a clean Debian 12 root, and the image run (root)
# PRESET=debug|asan picks another CMakePresets.json preset; CMAKE_ARGS="-DGGML_CUDA=ON" passes options through.
PRESET ?= release
CMAKE_ARGS ?=
JOBS ?= $(shell nproc)

.PHONY: all build deps configure test demo bench fuzz screenshots package install image install-test clean

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

# Only A-IO's own files (the `aio` component): llama.cpp is linked in, its libraries and headers are not installed.
PREFIX ?= /usr
install: build
	@cmake --install build --component aio --prefix $(PREFIX)

package: build
	@cd build && cpack --config CPackConfig.cmake

image: package
	@scripts/build-image.sh

install-test: package
	@scripts/install-test.sh

clean:
	rm -rf build build-debug build-asan build-fuzz
