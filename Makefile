# The two commands users type (README): `make run` and `make test`.
# Everything else here is a convenience over CMake.
.PHONY: all setup build build-phx build-test build-tsan run test check bench fuzz clean format

JOBS ?= $(shell nproc 2>/dev/null || echo 2)

all: build

setup:
	@scripts/setup.sh

# Release-style build used by `make run` and the benchmarks: build/phx.
build: setup
	@cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPHX_SANITIZE=OFF >/dev/null
	@cmake --build build -j $(JOBS)

# Just the release binary, for the hardening check in make test (the tests and
# benchmarks of the release tree are not needed there).
build-phx: setup
	@cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPHX_SANITIZE=OFF >/dev/null
	@cmake --build build -j $(JOBS) --target phx

# Test build: clang with AddressSanitizer + UndefinedBehaviorSanitizer, and the
# libFuzzer targets (a short fuzz run is part of the tests).
build-test: setup
	@CC=clang CXX=clang++ cmake -S . -B build-test -DCMAKE_BUILD_TYPE=Debug \
	    -DPHX_SANITIZE=ON -DPHX_FUZZ=ON >/dev/null
	@cmake --build build-test -j $(JOBS)

# ThreadSanitizer build of the multi-threaded tests only (attest threads, the
# HTTP server and client, the gateway, the worker's journal, verify path and k-of-n
# peer list, RPC retries under concurrency): a second build dir, so the ASan build
# stays as it is.
TSAN_TESTS = attest_threads test_net test_gateway test_gateway_daemon test_evm_rpc_retry \
	test_jobdb test_verify test_sched test_peers
empty :=
space := $(empty) $(empty)
build-tsan: setup
	@CC=clang CXX=clang++ cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=Debug \
	    -DPHX_TSAN=ON >/dev/null
	@cmake --build build-tsan -j $(JOBS) --target $(TSAN_TESTS)

run: build
	@scripts/demo.sh build/phx

# The whole suite: the ASan/UBSan tests (with the guardrails: format, layering,
# hardening of build/phx, which is why the release build comes first), then the
# multi-threaded tests again under ThreadSanitizer.
test: build-phx build-test build-tsan
	@cd build-test && ctest --output-on-failure -j $(JOBS) --timeout 900
	@cat build-test/forge/summary.txt 2>/dev/null || true
	@cd build-tsan && ctest --output-on-failure -j $(JOBS) --timeout 900 \
	    -R '^($(subst $(space),|,$(strip $(TSAN_TESTS))))$$'

# The guardrails alone, quickly: format, layering.
check:
	@scripts/check-format.sh
	@scripts/check-layering

bench: build
	@scripts/bench.sh build

fuzz: build-test
	@PHX_FUZZ_RUNS=1000000 scripts/fuzz-all.sh build-test

format:
	@clang-format -i $$(git ls-files '*.c' '*.h' '*.cpp')

clean:
	rm -rf build build-test build-tsan
