#!/usr/bin/env python3
"""PyTorch's training throughput on the GPU, the peer of bench_gpu (which runs this script).

The networks of bench/models.h, written in torch.nn:
  lenet     MXNet's LeNet: conv 20 5x5, tanh, max pool 2x2/2, conv 50 5x5, tanh, max pool,
            fc 500, tanh, fc 10 (1x28x28 inputs)
  resnet50  the model zoo's ResNet-50 v2 (pre-activation bottleneck units 3, 4, 6, 3; BatchNorm
            on the input; 3x224x224 inputs), as bench::ResNet50 builds it
Each step: forward, cross-entropy, backward, SGD with momentum 0.9 (lr 0.01), batch 128, on a
batch resident on cuda:0, in full float32 (TF32 off for cuDNN and matmuls, as in Loom); timed after warm-up steps with torch.cuda.synchronize() around the loop.
The figure is the median over --repeats runs. Last line: one JSON object.

    python3 bench/gpu_peers.py --repeats 3
"""

import argparse
import json
import statistics
import sys
import time

try:
    import torch
    from torch import nn
except ImportError as e:
    print(f"gpu_peers.py: PyTorch is not installed ({e})", file=sys.stderr)
    sys.exit(2)

BATCH = 128


def lenet():
    return nn.Sequential(
        nn.Conv2d(1, 20, 5), nn.Tanh(), nn.MaxPool2d(2, 2),
        nn.Conv2d(20, 50, 5), nn.Tanh(), nn.MaxPool2d(2, 2),
        nn.Flatten(), nn.Linear(800, 500), nn.Tanh(), nn.Linear(500, 10))


class Bottleneck(nn.Module):
    """Pre-activation bottleneck: BN-relu-conv1x1, BN-relu-conv3x3(stride), BN-relu-conv1x1."""

    def __init__(self, cin, cout, stride, project):
        super().__init__()
        mid = cout // 4
        self.bn1, self.conv1 = nn.BatchNorm2d(cin, eps=2e-5), nn.Conv2d(cin, mid, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(mid, eps=2e-5)
        self.conv2 = nn.Conv2d(mid, mid, 3, stride, 1, bias=False)
        self.bn3, self.conv3 = nn.BatchNorm2d(mid, eps=2e-5), nn.Conv2d(mid, cout, 1, bias=False)
        self.shortcut = nn.Conv2d(cin, cout, 1, stride, bias=False) if project else None

    def forward(self, x):
        a = torch.relu(self.bn1(x))
        y = self.conv1(a)
        y = self.conv2(torch.relu(self.bn2(y)))
        y = self.conv3(torch.relu(self.bn3(y)))
        return y + (self.shortcut(a) if self.shortcut is not None else x)


def resnet50():
    layers = [nn.BatchNorm2d(3, eps=2e-5), nn.Conv2d(3, 64, 7, 2, 3, bias=False),
              nn.BatchNorm2d(64, eps=2e-5), nn.ReLU(), nn.MaxPool2d(3, 2, 1)]
    cin = 64
    for stage, (units, width) in enumerate(zip([3, 4, 6, 3], [256, 512, 1024, 2048])):
        for u in range(units):
            stride = 1 if stage == 0 or u > 0 else 2
            layers.append(Bottleneck(cin, width, stride, u == 0))
            cin = width
    layers += [nn.BatchNorm2d(cin, eps=2e-5), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
               nn.Linear(cin, 1000)]
    return nn.Sequential(*layers)


def samples_per_second(model, shape, classes, steps):
    device = torch.device("cuda:0")
    model = model.to(device)
    x = torch.randn(BATCH, *shape, device=device)
    y = torch.randint(0, classes, (BATCH,), device=device)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()

    def step():
        opt.zero_grad(set_to_none=True)
        loss_fn(model(x), y).backward()
        opt.step()

    for _ in range(3):
        step()
    torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    torch.cuda.synchronize()
    return BATCH * steps / (time.perf_counter() - start)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    if not torch.cuda.is_available():
        print("gpu_peers.py: torch sees no GPU", file=sys.stderr)
        sys.exit(2)
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.benchmark = True  # cudnnFind per shape, as Loom's default cudnn_tune
    print(f"torch {torch.__version__} on {torch.cuda.get_device_name(0)}")
    lenet_runs, resnet_runs = [], []
    for r in range(args.repeats):
        lenet_runs.append(samples_per_second(lenet(), (1, 28, 28), 10, 50))
        resnet_runs.append(samples_per_second(resnet50(), (3, 224, 224), 1000, 10))
        print(f"repeat {r}: lenet {lenet_runs[-1]:.0f} samples/s, "
              f"resnet50 {resnet_runs[-1]:.1f} samples/s", flush=True)
    print(json.dumps({"torch_version": torch.__version__,
                      "lenet_samples_per_s": statistics.median(lenet_runs),
                      "resnet50_samples_per_s": statistics.median(resnet_runs)}))


if __name__ == "__main__":
    main()
