#!/usr/bin/env bash
# Installs every system package Loom needs to build, test and run its default experiment.
# Safe to run twice: packages already present are skipped, and apt-get update runs once per call.
set -euo pipefail

packages=(
  build-essential cmake ninja-build ccache pkg-config git
  libtbb-dev                      # scheduler worker pools
  libopenblas-dev libdnnl-dev     # dense and convolution kernels
  libprotobuf-dev protobuf-compiler  # experiment schema, checkpoints
  libyaml-cpp-dev                 # experiment files
  libopenmpi-dev openmpi-bin      # multi-process training
  iproute2 util-linux             # the two-host test over a veth pair (ip netns, unshare)
  libgtest-dev libgmock-dev libbenchmark-dev  # tests and benchmarks
  clang libclang-rt-14-dev libomp-dev  # ThreadSanitizer and libFuzzer builds (clang + OpenMP)
  zlib1g-dev                      # gzip-compressed idx data
  dataset-fashion-mnist           # the default experiment's data
  fortunes-min                    # text corpus for the LSTM example
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages already installed"
  exit 0
fi

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "install-deps: installing ${missing[*]}"
$SUDO apt-get update
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends "${missing[@]}"
