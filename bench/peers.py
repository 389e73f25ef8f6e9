#!/usr/bin/env python3
"""Loom's training steps against its peers (not run in CI).

Trains the same two networks as bench_ops' mlp_train_step_ms and lenet_train_step_ms, one SGD
step at a time at batch 128 on Fashion-MNIST-shaped random data:
  mlp    784-128-64-10, relu, softmax cross-entropy
  lenet  conv 20 5x5, tanh, max pool 2x2/2, conv 50 5x5, tanh, max pool 2x2/2, fc 500, tanh,
         fc 10, softmax cross-entropy
with PyTorch (torch.nn, torch.optim.SGD) and MXNet 1.9.1 (symbol API: simple_bind, forward,
backward, sgd_update per parameter) when they are importable, and with Loom (bench_ops
--train-step, which bench_ops itself runs for its figures), each with 1 and 2 threads, each run in
its own process so that thread pools start fresh. The runs alternate and are repeated (--repeats);
each run reports its fastest batch of steps (other processes on the machine only ever add time)
and its CPU time per step. Prints, per framework and thread count, the median run, every run, and
the median CPU time per step; then Loom's speedup over each peer (median steps, each side's best
thread count) and, with one thread, in CPU time per step (the figure a loaded machine disturbs
least). The last line is one JSON object, with the load average before and after.

    python3 bench/peers.py --bench-ops build/bench/bench_ops
    python3 bench/peers.py --bench-ops build/bench/bench_ops --mxnet-python /path/venv/bin/python

PyTorch: Debian's python3-torch (apt-get install python3-torch) or `pip install torch`. MXNet:
`python3.11 -m venv venv && venv/bin/pip install mxnet==1.9.1 'numpy<1.24'`.
"""

import argparse
import json
import os
import subprocess
import sys
import time

from peer_common import importable, thread_env

BATCH = 128


def best_step_seconds(step, sync, seconds):
    """Fastest per-step time over 9 batches of steps (after a warm-up), as bench_ops measures,
    and the process's CPU time per step over all of them (with one thread, what a loaded
    machine does not inflate)."""
    for _ in range(5):
        step()
    sync()
    start = time.perf_counter()
    for _ in range(3):
        step()
    sync()
    once = max((time.perf_counter() - start) / 3, 1e-6)
    rounds = 9
    steps = max(3, int(seconds / rounds / once))
    best = float("inf")
    cpu0 = time.process_time()
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(steps):
            step()
        sync()
        best = min(best, (time.perf_counter() - start) / steps)
    return best, (time.process_time() - cpu0) / (rounds * steps)


# ---- the peers, run as children: `peers.py --child torch|mxnet MODEL THREADS SECONDS` ----

def torch_step_seconds(model, threads, seconds):
    import torch
    from torch import nn
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    if model == "mlp":
        net = nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU(),
                            nn.Linear(64, 10))
        x = torch.rand(BATCH, 784)
    else:
        net = nn.Sequential(nn.Conv2d(1, 20, 5), nn.Tanh(), nn.MaxPool2d(2, 2),
                            nn.Conv2d(20, 50, 5), nn.Tanh(), nn.MaxPool2d(2, 2), nn.Flatten(),
                            nn.Linear(800, 500), nn.Tanh(), nn.Linear(500, 10))
        x = torch.rand(BATCH, 1, 28, 28)
    y = torch.arange(BATCH) % 10
    loss_fn = nn.CrossEntropyLoss(reduction="sum")  # SoftmaxOutput's unnormalised gradient
    opt = torch.optim.SGD(net.parameters(), lr=0.01)

    def step():
        opt.zero_grad(set_to_none=True)
        loss_fn(net(x), y).backward()
        opt.step()

    return best_step_seconds(step, lambda: None, seconds)


def mxnet_step_seconds(model, threads, seconds):
    import mxnet as mx
    data = mx.sym.Variable("data")
    if model == "mlp":
        h = mx.sym.FullyConnected(data, num_hidden=128, name="fc1")
        h = mx.sym.Activation(h, act_type="relu", name="relu1")
        h = mx.sym.FullyConnected(h, num_hidden=64, name="fc2")
        h = mx.sym.Activation(h, act_type="relu", name="relu2")
        h = mx.sym.FullyConnected(h, num_hidden=10, name="fc3")
        shape = (BATCH, 784)
    else:
        h = mx.sym.Convolution(data, kernel=(5, 5), num_filter=20, name="conv1")
        h = mx.sym.Activation(h, act_type="tanh", name="tanh1")
        h = mx.sym.Pooling(h, pool_type="max", kernel=(2, 2), stride=(2, 2), name="pool1")
        h = mx.sym.Convolution(h, kernel=(5, 5), num_filter=50, name="conv2")
        h = mx.sym.Activation(h, act_type="tanh", name="tanh2")
        h = mx.sym.Pooling(h, pool_type="max", kernel=(2, 2), stride=(2, 2), name="pool2")
        h = mx.sym.FullyConnected(h, num_hidden=500, name="fc1")
        h = mx.sym.Activation(h, act_type="tanh", name="tanh3")
        h = mx.sym.FullyConnected(h, num_hidden=10, name="fc2")
        shape = (BATCH, 1, 28, 28)
    net = mx.sym.SoftmaxOutput(h, name="softmax")
    grad_req = {name: "null" if name in ("data", "softmax_label") else "write"
                for name in net.list_arguments()}
    exe = net.simple_bind(mx.cpu(), data=shape, grad_req=grad_req)
    mx.random.seed(0)
    for name, arr in exe.arg_dict.items():
        if name == "data":
            arr[:] = mx.nd.random.uniform(0, 1, shape)
        elif name == "softmax_label":
            arr[:] = mx.nd.arange(BATCH) % 10
        elif arr.ndim == 1:
            arr[:] = 0
        else:
            arr[:] = mx.nd.random.uniform(-0.1, 0.1, arr.shape)
    params = [(exe.arg_dict[n], exe.grad_dict[n]) for n in net.list_arguments()
              if grad_req[n] == "write"]

    def step():
        exe.forward(is_train=True)
        exe.backward()
        for w, g in params:
            mx.nd.sgd_update(w, g, lr=0.01, wd=0, out=w)

    return best_step_seconds(step, mx.nd.waitall, seconds)


def run_child(argv):
    framework, model, threads, seconds = argv[0], argv[1], int(argv[2]), float(argv[3])
    fn = torch_step_seconds if framework == "torch" else mxnet_step_seconds
    wall, cpu = fn(model, threads, seconds)
    print("step_ms %.6f\nstep_cpu_ms %.6f" % (wall * 1e3, cpu * 1e3))


# ---- the driver ----

def measure(cmd, threads, wall_marker, cpu_marker):
    """Runs cmd with `threads` threads everywhere; (wall ms, CPU ms) per step from its output."""
    out = subprocess.run(cmd, env=thread_env(threads), capture_output=True, text=True)
    found = {}
    for line in out.stdout.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] in (wall_marker, cpu_marker):
            found[parts[0]] = float(parts[1])
    if out.returncode != 0 or wall_marker not in found or cpu_marker not in found:
        raise RuntimeError("%s failed (exit %d): %s" % (" ".join(cmd), out.returncode,
                                                          (out.stderr or out.stdout)[-2000:]))
    return found[wall_marker], found[cpu_marker]


def median(values):
    v = sorted(values)
    return v[len(v) // 2] if len(v) % 2 else (v[len(v) // 2 - 1] + v[len(v) // 2]) / 2


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bench-ops", required=True, help="path of the bench_ops executable")
    ap.add_argument("--seconds", type=float, default=2.0, help="time per measurement")
    ap.add_argument("--repeats", type=int, default=3, help="alternating runs per configuration")
    ap.add_argument("--torch-python", default=sys.executable,
                    help="a python that imports torch (default: this one)")
    ap.add_argument("--mxnet-python", default=sys.executable,
                    help="a python that imports mxnet 1.9.1 (default: this one)")
    ap.add_argument("--models", default="mlp,lenet")
    args = ap.parse_args()

    me = os.path.abspath(__file__)
    runners = {"loom": lambda model, t: measure(
        [args.bench_ops, "--train-step", model, "--seconds", str(args.seconds)], t,
        "train_step_ms", "train_step_cpu_ms")}
    for name, python, module in (("torch", args.torch_python, "torch"),
                                 ("mxnet", args.mxnet_python, "mxnet")):
        if importable(python, module):
            runners[name] = (lambda python, name: lambda model, t: measure(
                [python, me, "--child", name, model, str(t), str(args.seconds)], t,
                "step_ms", "step_cpu_ms"))(python, name)
        else:
            print("%s: not importable by %s, skipped" % (module, python))

    figures = {"load_average_before": round(os.getloadavg()[0], 2)}
    for model in args.models.split(","):
        runs = {}  # (name, threads) -> [(wall ms, cpu ms) per run]
        for threads in (1, 2):
            for _ in range(args.repeats):
                for name, run in runners.items():
                    runs.setdefault((name, threads), []).append(run(model, threads))
        for (name, threads), results in sorted(runs.items()):
            walls = [w for w, _ in results]
            cpus = [c for _, c in results]
            print("%-5s %-5s %d thread(s): median %8.3f ms/step (%8.0f samples/s), runs %s; "
                  "CPU %.3f ms/step" % (model, name, threads, median(walls),
                                        BATCH / median(walls) * 1e3,
                                        " ".join("%.3f" % w for w in walls), median(cpus)))
            key = "%s_%s_%dt" % (model, name, threads)
            figures[key + "_step_ms"] = round(median(walls), 4)
            figures[key + "_step_ms_min"] = round(min(walls), 4)
            figures[key + "_step_ms_max"] = round(max(walls), 4)
            figures[key + "_cpu_ms"] = round(median(cpus), 4)
        loom = min(median(w for w, _ in runs[("loom", t)]) for t in (1, 2))
        loom_cpu = median(c for _, c in runs[("loom", 1)])
        for name in runners:
            if name == "loom":
                continue
            peer = min(median(w for w, _ in runs[(name, t)]) for t in (1, 2))
            peer_cpu = median(c for _, c in runs[(name, 1)])
            figures["%s_loom_speedup_vs_%s" % (model, name)] = round(peer / loom, 3)
            figures["%s_loom_cpu_speedup_vs_%s_1t" % (model, name)] = round(peer_cpu / loom_cpu, 3)
            print("%-5s loom is %.2fx %s's speed (median step, best thread count each); "
                  "%.2fx in CPU time per step with 1 thread" %
                  (model, peer / loom, name, peer_cpu / loom_cpu))
    figures["load_average_after"] = round(os.getloadavg()[0], 2)
    print(json.dumps(figures))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        run_child(sys.argv[2:])
    else:
        main()
