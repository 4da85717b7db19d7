# The two commands users type (README): `make run` and `make test`.
# Everything else here is a convenience over CMake.
.PHONY: all setup build build-test run test bench fuzz clean format

JOBS ?= $(shell nproc 2>/dev/null || echo 2)

all: build

setup:
	@scripts/setup.sh

# Release-style build used by `make run` and the benchmarks: build/phx.
build: setup
	@cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPHX_SANITIZE=OFF >/dev/null
	@cmake --build build -j $(JOBS)

# Test build: clang with AddressSanitizer + UndefinedBehaviorSanitizer, and the
# libFuzzer targets (a short fuzz run is part of the tests).
build-test: setup
	@CC=clang CXX=clang++ cmake -S . -B build-test -DCMAKE_BUILD_TYPE=Debug \
	    -DPHX_SANITIZE=ON -DPHX_FUZZ=ON >/dev/null
	@cmake --build build-test -j $(JOBS)

run: build
	@scripts/demo.sh build/phx

test: build-test
	@cd build-test && ctest --output-on-failure -j $(JOBS) --timeout 900
	@cat build-test/forge/summary.txt 2>/dev/null || true

bench: build
	@scripts/bench.sh build

fuzz: build-test
	@PHX_FUZZ_RUNS=1000000 scripts/fuzz-all.sh build-test

format:
	@clang-format -i $$(git ls-files '*.c' '*.h' '*.cpp')

clean:
	rm -rf build build-test
