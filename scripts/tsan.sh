#!/usr/bin/env bash
# Builds the scheduler's tests with ThreadSanitizer and runs them; any report fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${BUILD_DIR:-build-tsan}
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLOOM_SANITIZE=thread \
  -DLOOM_USE_CUDA=OFF -DLOOM_BUILD_BENCH=OFF
cmake --build "$build_dir" -j"$(nproc)" --target loom_scheduler_tests
TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 suppressions=$PWD/tests/scheduler/tsan.supp" \
  "$build_dir/tests/loom_scheduler_tests" --gtest_brief=1
