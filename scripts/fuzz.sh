#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (AddressSanitizer + UndefinedBehaviorSanitizer) and runs
# each for a bounded time (FUZZ_SECONDS per fuzzer, default 60): the symbol JSON loader, the
# experiment YAML reader, the MXNet .params reader and the checkpoint reader. A crash, leak,
# timeout or sanitizer report fails the run and leaves the input in build-fuzz/artifacts/.
# Usage: scripts/fuzz.sh [FUZZER_NAME ...]   (default: all of them)
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${BUILD_DIR:-build-fuzz}
seconds=${FUZZ_SECONDS:-60}
fuzzers=("$@")
if [ ${#fuzzers[@]} -eq 0 ]; then
  fuzzers=(symbol_json_fuzzer experiment_yaml_fuzzer mxnet_params_fuzzer checkpoint_fuzzer)
fi
CC=clang CXX=clang++ cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DLOOM_BUILD_FUZZERS=ON -DLOOM_BUILD_TESTS=OFF -DLOOM_BUILD_BENCH=OFF -DLOOM_USE_CUDA=OFF \
  -DLOOM_USE_MPI=OFF
cmake --build "$build_dir" -j"$(nproc)" --target "${fuzzers[@]}"
mkdir -p "$build_dir/artifacts"
for fuzzer in "${fuzzers[@]}"; do
  corpus=${fuzzer%_fuzzer}
  echo "--- $fuzzer for ${seconds}s (seeds: tests/fuzz/corpus/$corpus)"
  mkdir -p "$build_dir/corpus/$corpus"
  "$build_dir/tests/fuzz/$fuzzer" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -artifact_prefix="$build_dir/artifacts/$corpus-" "$build_dir/corpus/$corpus" \
    "tests/fuzz/corpus/$corpus"
done
