#!/usr/bin/env bash
# A newcomer's first command: installs what is missing (Debian packages, the Fashion-MNIST data
# set included), builds Loom into build/, and trains the default experiment
# (configs/fashion_mnist_mlp.yaml: an MLP on Fashion-MNIST, about 89% test accuracy).
# Extra arguments are passed to `loom train` as overrides, e.g. trainer.epochs=3.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release
cmake --build build -j"$(nproc)" --target loom
build/launcher/loom train configs/fashion_mnist_mlp.yaml "$@"
