#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (AddressSanitizer + UndefinedBehaviorSanitizer) and runs
# each for a bounded time (FUZZ_SECONDS, default 60). A crash, leak, timeout or sanitizer report
# fails the run and leaves the input in build-fuzz/artifacts/.
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${BUILD_DIR:-build-fuzz}
seconds=${FUZZ_SECONDS:-60}
CC=clang CXX=clang++ cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DLOOM_BUILD_FUZZERS=ON -DLOOM_BUILD_TESTS=OFF -DLOOM_BUILD_BENCH=OFF -DLOOM_USE_CUDA=OFF \
  -DLOOM_USE_MPI=OFF
cmake --build "$build_dir" -j"$(nproc)" --target symbol_json_fuzzer
mkdir -p "$build_dir/corpus" "$build_dir/artifacts"
"$build_dir/tests/fuzz/symbol_json_fuzzer" -max_total_time="$seconds" -timeout=10 \
  -rss_limit_mb=2048 -artifact_prefix="$build_dir/artifacts/" \
  "$build_dir/corpus" tests/fuzz/corpus/symbol_json
