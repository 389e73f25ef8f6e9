#!/usr/bin/env python3
"""Training throughput: `loom train` against MXNet 1.9.1 and PyTorch (not run in CI).

Trains the networks of configs/fashion_mnist_mlp.yaml and configs/fashion_mnist_lenet.yaml on
Fashion-MNIST (Debian's dataset-fashion-mnist files, read once into memory by every framework),
with the same batch size, optimizer and thread count everywhere:
  mlp    784-256-128-10, relu, softmax cross-entropy
  lenet  conv 20 5x5, BatchNorm, relu, max pool 2x2/2, conv 50 5x5, BatchNorm, relu, max pool,
         fc 500, relu, fc 10, softmax cross-entropy
  SGD, momentum 0.9, weight decay 1e-4, the mean loss over the batch; shuffled every epoch;
  training accuracy and cross-entropy computed every batch (as `loom train` reports them).
Loom:    `loom train CONFIG trainer.epochs=E trainer.threads=T ...` (no validation, only the
         final checkpoint); samples/s from the epoch records of its metrics.jsonl. The configs'
         cosine learning-rate schedule is left out of the peers (it costs nothing per batch).
MXNet:   the Module API (Module.fit with NDArrayIter, mx.optimizer.SGD, metrics acc and ce).
PyTorch: torch.nn with torch.optim.SGD over the in-memory tensors.
Each framework trains E epochs (default 2) in its own process with T threads everywhere (default
2); the figure of a run is its last epoch's training samples per second (the first epoch warms
up). Runs alternate between frameworks and repeat (--repeats, default 3); the script prints every
run, the median and the spread, the load average, and Loom's samples/s over each peer's (median
over median). The last line is one JSON object.

    python3 bench/train_peers.py --loom build/launcher/loom \\
        --mxnet-python /tmp/mxvenv/bin/python --torch-python /usr/bin/python3

PyTorch: Debian's python3-torch or `pip install torch`. MXNet:
`python3.11 -m venv venv && venv/bin/pip install mxnet==1.9.1 'numpy<1.24'`.
"""

import argparse
import gzip
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from peer_common import importable, thread_env

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA_DIR = "/usr/share/datasets/fashion-mnist"
CONFIGS = {"mlp": "configs/fashion_mnist_mlp.yaml", "lenet": "configs/fashion_mnist_lenet.yaml"}
# What the configs say (the peers are built to match; `loom train --print-config` shows them).
BATCH = 128
LR = {"mlp": 0.1, "lenet": 0.05}
MOMENTUM = 0.9
WD = 1e-4
MEAN, STD = 0.286, 0.353


# ---- the peers, run as children: `train_peers.py --child mxnet|torch MODEL THREADS EPOCHS LIMIT`
# They print one line per epoch: "epoch_samples_per_s X".

def load_fashion_mnist(limit):
    """Training images (N, 1, 28, 28) float32, normalised as the configs say, and labels."""
    import numpy as np

    def read(name, offset):
        with gzip.open(os.path.join(DATA_DIR, name)) as f:
            return np.frombuffer(f.read(), dtype=np.uint8, offset=offset)

    x = read("train-images-idx3-ubyte.gz", 16).reshape(-1, 1, 28, 28)
    y = read("train-labels-idx1-ubyte.gz", 8)
    if limit:
        x, y = x[:limit], y[:limit]
    x = ((x.astype(np.float32) / 255.0 - MEAN) / STD).astype(np.float32)
    return x, y.astype(np.float32)


def mxnet_epochs(model, threads, epochs, limit):
    import mxnet as mx
    x, y = load_fashion_mnist(limit)
    data = mx.sym.Variable("data")
    if model == "mlp":
        x = x.reshape(len(x), -1)
        h = mx.sym.FullyConnected(data, num_hidden=256, name="fc1")
        h = mx.sym.Activation(h, act_type="relu", name="relu1")
        h = mx.sym.FullyConnected(h, num_hidden=128, name="fc2")
        h = mx.sym.Activation(h, act_type="relu", name="relu2")
        h = mx.sym.FullyConnected(h, num_hidden=10, name="fc3")
    else:
        h = data
        for i, filters in ((1, 20), (2, 50)):
            h = mx.sym.Convolution(h, kernel=(5, 5), num_filter=filters, name="conv%d" % i)
            h = mx.sym.BatchNorm(h, fix_gamma=False, name="bn%d" % i)
            h = mx.sym.Activation(h, act_type="relu", name="relu%d" % i)
            h = mx.sym.Pooling(h, pool_type="max", kernel=(2, 2), stride=(2, 2),
                               name="pool%d" % i)
        h = mx.sym.Flatten(h, name="flatten")
        h = mx.sym.FullyConnected(h, num_hidden=500, name="fc1")
        h = mx.sym.Activation(h, act_type="relu", name="relu3")
        h = mx.sym.FullyConnected(h, num_hidden=10, name="fc2")
    net = mx.sym.SoftmaxOutput(h, name="softmax")
    mx.random.seed(0)
    train = mx.io.NDArrayIter(x, y, BATCH, shuffle=True, last_batch_handle="pad")
    mod = mx.mod.Module(net, context=mx.cpu())
    first_batch = []  # when epoch 0's first batch ended
    epoch_ends = []

    def on_batch(param):
        if param.epoch == 0 and param.nbatch == 0:
            first_batch.append(time.perf_counter())

    mod.fit(train, num_epoch=epochs, initializer=mx.init.Xavier(), optimizer="sgd",
            optimizer_params={"learning_rate": LR[model], "momentum": MOMENTUM, "wd": WD,
                              "rescale_grad": 1.0 / BATCH},
            eval_metric=mx.metric.create(["acc", "ce"]), batch_end_callback=on_batch,
            epoch_end_callback=lambda *_: epoch_ends.append(time.perf_counter()))
    # Epoch 0 from the end of its first batch (binding and initialisation excluded), the others
    # from the end of the previous epoch.
    rates = [(len(x) - BATCH) / (epoch_ends[0] - first_batch[0])]
    rates += [len(x) / (b - a) for a, b in zip(epoch_ends, epoch_ends[1:])]
    return rates


def torch_epochs(model, threads, epochs, limit):
    import torch
    from torch import nn
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    xs, ys = load_fashion_mnist(limit)
    x = torch.from_numpy(xs)
    y = torch.from_numpy(ys).long()
    if model == "mlp":
        x = x.reshape(len(x), -1)
        net = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(),
                            nn.Linear(128, 10))
    else:
        net = nn.Sequential(nn.Conv2d(1, 20, 5), nn.BatchNorm2d(20), nn.ReLU(), nn.MaxPool2d(2, 2),
                            nn.Conv2d(20, 50, 5), nn.BatchNorm2d(50), nn.ReLU(),
                            nn.MaxPool2d(2, 2), nn.Flatten(), nn.Linear(800, 500), nn.ReLU(),
                            nn.Linear(500, 10))
    net.train()
    loss_fn = nn.CrossEntropyLoss()
    opt = torch.optim.SGD(net.parameters(), lr=LR[model], momentum=MOMENTUM, weight_decay=WD)
    rates = []
    for _ in range(epochs):
        start = time.perf_counter()
        order = torch.randperm(len(x))
        correct = 0
        total_loss = 0.0
        for b in range(0, len(x), BATCH):
            idx = order[b:b + BATCH]
            xb, yb = x[idx], y[idx]
            opt.zero_grad(set_to_none=True)
            out = net(xb)
            loss = loss_fn(out, yb)
            loss.backward()
            opt.step()
            with torch.no_grad():
                correct += int((out.argmax(1) == yb).sum())
                total_loss += float(loss) * len(idx)
        rates.append(len(x) / (time.perf_counter() - start))
    return rates


def run_child(argv):
    framework, model = argv[0], argv[1]
    threads, epochs, limit = int(argv[2]), int(argv[3]), int(argv[4])
    fn = torch_epochs if framework == "torch" else mxnet_epochs
    for rate in fn(model, threads, epochs, limit):
        print("epoch_samples_per_s %.3f" % rate)


# ---- Loom ----

def loom_epochs(loom, model, threads, epochs, limit):
    run_dir = tempfile.mkdtemp(prefix="loom_train_peers_")
    try:
        cmd = [loom, "train", os.path.join(REPO, CONFIGS[model]),
               "trainer.epochs=%d" % epochs, "trainer.threads=%d" % threads,
               "data.val=null", "data.batch_size=%d" % BATCH,
               "checkpoint.every_epochs=0", "checkpoint.keep=1",
               "checkpoint.mxnet_format=false", "logging.tensorboard=false",
               "logging.progress=none", "logging.run_dir=" + run_dir]
        if limit:
            cmd.append("data.train.limit=%d" % limit)
        out = subprocess.run(cmd, env=thread_env(threads), capture_output=True, text=True)
        if out.returncode != 0:
            raise RuntimeError("%s failed (exit %d): %s" % (" ".join(cmd), out.returncode,
                                                              (out.stderr or out.stdout)[-2000:]))
        rates = []
        with open(os.path.join(run_dir, "metrics.jsonl")) as f:
            for line in f:
                record = json.loads(line)
                if record.get("phase") == "epoch":
                    rates.append(float(record["samples_per_s"]))
        if len(rates) != epochs:
            raise RuntimeError("expected %d epoch records in %s/metrics.jsonl but got %d"
                               % (epochs, run_dir, len(rates)))
        return rates
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)


# ---- the driver ----

def peer_epochs(python, framework, model, threads, epochs, limit):
    cmd = [python, os.path.abspath(__file__), "--child", framework, model, str(threads),
           str(epochs), str(limit)]
    out = subprocess.run(cmd, env=thread_env(threads), capture_output=True, text=True)
    rates = [float(line.split()[1]) for line in out.stdout.splitlines()
             if line.startswith("epoch_samples_per_s ")]
    if out.returncode != 0 or len(rates) != epochs:
        raise RuntimeError("%s failed (exit %d): %s" % (" ".join(cmd), out.returncode,
                                                          (out.stderr or out.stdout)[-2000:]))
    return rates


def version(python, module):
    out = subprocess.run([python, "-c", "import %s; print(%s.__version__)" % (module, module)],
                         capture_output=True, text=True)
    return out.stdout.strip()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--loom", required=True, help="path of the loom executable")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--epochs", type=int, default=2,
                    help="epochs per run; a run's figure is its last epoch")
    ap.add_argument("--repeats", type=int, default=3, help="alternating runs per framework")
    ap.add_argument("--limit", type=int, default=0,
                    help="train on the first N samples only (0: all 60000)")
    ap.add_argument("--torch-python", default=sys.executable,
                    help="a python that imports torch (default: this one)")
    ap.add_argument("--mxnet-python", default=sys.executable,
                    help="a python that imports mxnet 1.9.1 (default: this one)")
    ap.add_argument("--models", default="mlp,lenet")
    args = ap.parse_args()
    if not os.path.exists(os.path.join(DATA_DIR, "train-images-idx3-ubyte.gz")):
        sys.exit("Fashion-MNIST not found in %s: install Debian's dataset-fashion-mnist" %
                 DATA_DIR)

    runners = {"loom": lambda model: loom_epochs(args.loom, model, args.threads, args.epochs,
                                                 args.limit)}
    for name, python, module in (("mxnet", args.mxnet_python, "mxnet"),
                                 ("torch", args.torch_python, "torch")):
        if importable(python, module):
            print("%s %s (%s)" % (module, version(python, module), python))
            runners[name] = (lambda python, name: lambda model: peer_epochs(
                python, name, model, args.threads, args.epochs, args.limit))(python, name)
        else:
            print("%s: not importable by %s, skipped" % (module, python))

    figures = {"threads": args.threads, "batch_size": BATCH,
               "load_average_before": round(os.getloadavg()[0], 2)}
    for model in args.models.split(","):
        runs = {name: [] for name in runners}
        for _ in range(args.repeats):
            for name, run in runners.items():
                runs[name].append(run(model)[-1])
        med = {name: statistics.median(r) for name, r in runs.items()}
        for name, r in runs.items():
            print("%-5s %-5s median %9.0f samples/s  runs %s  spread %.0f%%" %
                  (model, name, med[name], " ".join("%.0f" % v for v in r),
                   100.0 * (max(r) - min(r)) / med[name]))
            figures["%s_%s_samples_per_s" % (model, name)] = round(med[name], 1)
            figures["%s_%s_samples_per_s_runs" % (model, name)] = [round(v, 1) for v in r]
        for name in runners:
            if name != "loom":
                ratio = med["loom"] / med[name]
                figures["%s_loom_over_%s" % (model, name)] = round(ratio, 3)
                print("%-5s loom / %s: %.2fx" % (model, name, ratio))
    figures["load_average_after"] = round(os.getloadavg()[0], 2)
    print(json.dumps(figures))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        run_child(sys.argv[2:])
    else:
        main()
