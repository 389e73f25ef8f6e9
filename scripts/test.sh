#!/usr/bin/env bash
# Builds Loom (Release, CUDA code included whenever nvcc exists) and runs every test suite.
# Usage: scripts/test.sh [extra cmake -D options]. BUILD_DIR (default build) picks the folder.
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${BUILD_DIR:-build}
jobs=$(nproc)
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release "$@"
cmake --build "$build_dir" -j"$jobs"
ctest --test-dir "$build_dir" --output-on-failure -j"$jobs"
