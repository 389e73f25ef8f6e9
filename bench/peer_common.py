"""What bench/peers.py and bench/train_peers.py share: the environment that gives every framework
the same thread count, and whether a peer's python can import its framework."""

import os
import subprocess


def thread_env(threads):
    """os.environ with Loom, MXNet (OpenMP operators, one engine worker) and PyTorch/BLAS set to
    `threads` threads."""
    env = dict(os.environ)
    for key in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                "LOOM_CPU_WORKER_NTHREADS", "LOOM_KERNEL_THREADS"):
        env[key] = str(threads)
    env["MXNET_CPU_WORKER_NTHREADS"] = "1"  # one engine worker; operators use OMP threads
    env["MXNET_ENGINE_TYPE"] = "ThreadedEnginePerDevice"
    return env


def importable(python, module):
    """True when `python -c "import module"` succeeds (within two minutes)."""
    try:
        return subprocess.run([python, "-c", "import " + module], capture_output=True,
                              timeout=120).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False
