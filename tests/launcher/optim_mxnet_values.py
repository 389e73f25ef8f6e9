"""Generates the MXNet 1.9.1 reference values in optim_mxnet_test.cc (kMXNetValues).

Run with a Python that has MXNet 1.9.1 (`python3.11 -m venv venv && venv/bin/pip install
mxnet==1.9.1 'numpy<1.24'`): venv/bin/python tests/launcher/optim_mxnet_values.py
It drives each optimizer as MXNet's Module does (mx.optimizer.get_updater, one update per step;
SGD then runs multi_sgd_mom_update) on float32 arrays, and AdamW through the contrib
adamw_update operator as GluonNLP's BERTAdam drives it (lr=1, eta = bias-corrected rate), and
prints C++ initialisers of the weights after each of 4 steps.
"""
import math

import mxnet as mx
import numpy as np
w0 = np.array([1.0, -0.5, 0.25, 2.0, -3.0], dtype=np.float32)
grads = np.array([[0.5, -1.0, 3.0, 0.0, -4.0], [1.5, 0.25, -2.0, 1.0, 0.5],
                  [-0.75, 2.5, 0.125, -1.0, 1.0], [0.3, -0.2, 0.1, 2.0, -2.0]], dtype=np.float32)
cases = {
  'sgd': dict(learning_rate=0.1, momentum=0.9, wd=0.01, rescale_grad=0.5, clip_gradient=0.75),
  'sgd_noclip': dict(learning_rate=0.1, momentum=0.9, wd=0.01, rescale_grad=0.5),
  'sgd_plain': dict(learning_rate=0.1, wd=0.01, rescale_grad=0.5),
  'nag': dict(learning_rate=0.1, momentum=0.9, wd=0.01, rescale_grad=0.5, clip_gradient=0.75),
  'nag_plain': dict(learning_rate=0.1, wd=0.01, rescale_grad=0.5),
  'adam': dict(learning_rate=0.01, wd=0.01, rescale_grad=0.5, clip_gradient=0.75),
  'rmsprop': dict(learning_rate=0.01, wd=0.01, rescale_grad=0.5, clip_gradient=0.75),
  'adagrad': dict(learning_rate=0.1, wd=0.01, rescale_grad=0.5, clip_gradient=0.75, eps=1e-7),
}
out = {}
for key, kw in cases.items():
    name = key.split('_')[0]
    opt = mx.optimizer.create(name, **kw)
    upd = mx.optimizer.get_updater(opt)
    w = mx.nd.array(w0, dtype='float32')
    steps = []
    for g in grads:
        upd(0, mx.nd.array(g, dtype='float32'), w)
        steps.append([float(x) for x in w.asnumpy()])
    out[key] = steps
# adamw: the contrib operator as BERTAdam drives it
w = mx.nd.array(w0); mean = mx.nd.zeros(5); var = mx.nd.zeros(5); steps = []
for t, g in enumerate(grads, 1):
    lr = 0.01 * math.sqrt(1 - 0.999**t) / (1 - 0.9**t)
    mx.nd.contrib.adamw_update(w, mx.nd.array(g), mean, var, mx.nd.array([0.5]), out=w, lr=1, wd=0.01, eta=lr, beta1=0.9, beta2=0.999, epsilon=1e-8, clip_gradient=0.75)
    steps.append([float(x) for x in w.asnumpy()])
out['adamw'] = steps
for key, steps in out.items():
    rows = [", ".join("%.9gf" % v for v in step) for step in steps]
    print('    {"%s",' % key)
    print("     {" + ",\n      ".join("{" + row + "}" for row in rows) + "}},")
