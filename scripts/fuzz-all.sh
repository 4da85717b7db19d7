#!/bin/sh
# `make fuzz`: run every fuzz target longer than `make test` does.
set -eu
cd "$(dirname "$0")/../$1"
ctest -L fuzz --output-on-failure
