#!/usr/bin/env bash
# A newcomer's first command: installs what is missing, builds Loom into build/, and runs the
# engine benchmark as a smoke test of the build.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release
cmake --build build -j"$(nproc)"
build/bench/bench_engine --ops 200000 --repeats 1
