"""Writes the expected results of loading each MXNet symbol file here with MXNet 1.9.1.

Oracle only (never run by CI): in a Python 3.11 venv,
    pip install mxnet==1.9.1 'numpy<1.24'
    python make_expected.py
For every <model>.json it writes expected/<model>.resaved.json (MXNet 1.9.1's tojson() of the
loaded symbol) and expected/<model>.inspect.json (arguments, outputs and auxiliary states with
the shapes and dtypes MXNet infers from the inputs in SHAPES, arguments being float32 unless
they carry __dtype__: exactly `loom inspect --json`'s output), or
expected/<model>.error.txt when MXNet cannot load or infer it.
"""
import json
import os
import sys

import mxnet as mx
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))

# Input shapes from README.md.
SHAPES = {
    "sagemaker-linreg-mxnet0.11.json": {"data": (1, 2)},
    "go-predictor-reshape-fc-mxnet0.9.4.json": {"data": (1, 10), "softmax_label": (1, 10)},
    "clojure-mnist-mlp-mxnet1.4.json": {"data": (10, 784)},
    "sagemaker-mnist-mlp-flatten-mxnet1.8.json": {"data": (100, 1, 28, 28)},
    "lstm-ptb-fused-rnn-mxnet0.11.json": {"data": (60, 1), "softmax_label": (60, 1)},
    "legacy-mlp-batchnorm-ctxgroup-v0.8.json": {"data": (1, 200)},
    "mtcnn-det1-pnet-v0.8.json": {"data": (1, 3, 12, 12)},
    "vgg16-reduced-ssd-base-mxnet1.2.json": {"data": (32, 3, 300, 300)},
    "squeezenet-v1.1-v0.8.json": {"data": (1, 3, 224, 224)},
    "densenet-121-mxnet0.11.1.json": {"data": (1, 3, 224, 224)},
}


def dtype_name(t):
    return None if t is None else np.dtype(t).name


def entries(names, shapes, types):
    out = []
    for i, name in enumerate(names):
        shape = None if shapes is None or shapes[i] is None else list(shapes[i])
        if shape is not None and (len(shape) == 0 or 0 in shape):
            shape = None
        out.append({"name": name, "shape": shape,
                    "dtype": None if types is None else dtype_name(types[i])})
    return out


def main():
    os.makedirs(os.path.join(HERE, "expected"), exist_ok=True)
    for fname, shapes in sorted(SHAPES.items()):
        base = os.path.join(HERE, "expected", fname[:-len(".json")])
        try:
            sym = mx.sym.load(os.path.join(HERE, fname))
            with open(base + ".resaved.json", "w") as f:
                f.write(sym.tojson())
            arg_s, out_s, aux_s = sym.infer_shape_partial(**shapes)
            # As simple_bind (and `loom inspect`): arguments without a __dtype__ are float32.
            attrs = sym.attr_dict()
            types = {k: "float32" for k in sym.list_arguments()
                     if "__dtype__" not in attrs.get(k, {})}
            arg_t, out_t, aux_t = sym.infer_type_partial(**types)
            result = {
                "arguments": entries(sym.list_arguments(), arg_s, arg_t),
                "outputs": entries(sym.list_outputs(), out_s, out_t),
                "auxiliary_states": entries(sym.list_auxiliary_states(), aux_s, aux_t),
            }
            with open(base + ".inspect.json", "w") as f:
                json.dump(result, f, separators=(",", ":"))
                f.write("\n")
        except mx.base.MXNetError as e:
            with open(base + ".error.txt", "w") as f:
                f.write(str(e).splitlines()[0] + "\n")
        print(fname, "done", file=sys.stderr)


if __name__ == "__main__":
    main()
