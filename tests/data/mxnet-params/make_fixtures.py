#!/usr/bin/env python3
"""Fixtures for Loom's MXNet .params reader and writer (tests/launcher/io_params_test.cc).

Run once with MXNet 1.9.1 (pip install mxnet==1.9.1); the outputs are committed:

    python3 make_fixtures.py generate     # MXNet-written files + expected.json
    python3 make_fixtures.py verify-loom  # MXNet loads loom_written.params (written by Loom)

`generate` writes, with mx.nd.save / mx.model.save_checkpoint:
  mlp-symbol.json, mlp-0001.params  a small MLP with BatchNorm (arg:/aux: keys), float32
  sorted.params                     the same arrays, keys sorted (Loom's save must equal it byte for byte)
  dtypes.params                     float32/float64/float16/uint8/int32/int8/int64/bool arrays
  numpy_shape.params                under mx.util.np_shape(True): shape (), (0,), (2,0) and (2,)
  list.params                       an unnamed list of two arrays
  sparse.params                     a row_sparse array (Loom refuses it)
  legacy_v1.params                  hand-built V1 records (magic 0xF993FAC8, int64 dims)
  legacy_nomagic.params             hand-built records without magic (uint32 ndim and dims)
and expected.json: for every file and key, shape, dtype, the values, and the raw little-endian
bytes (numpy's tobytes(), hex) that Loom must produce. The hand-built legacy files are checked
here with mx.nd.load, so they are in the format MXNet reads.

`verify-loom` reads loom_written.params, which the test IoParams.LoomWrittenFileMatchesFixture
writes when LOOM_IO_WRITE_FIXTURES=<dir> is set (and otherwise compares with, byte for byte), with
mx.nd.load inside np_shape(True) (it holds shape () and zero-size arrays) and checks every value
against expected.json's "loom_written" entry.

Record: the committed files were made with `generate` under MXNet 1.9.1 (PyPI wheel, Python 3.11),
then loom_written.params with the test above, and `verify-loom` passed ("MXNet 1.9.1 loaded
loom_written.params: 10 arrays OK"). Loom's re-save of sorted.params is byte-identical to it
(IoParams.SaveReproducesMXNetFileByteForByte), so MXNet reads Loom's default-mode files too.
"""
import json
import os
import struct
import sys
from collections import OrderedDict

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def path(name):
    return os.path.join(HERE, name)


# Values stated literally in io_params_test.cc as well.
DTYPE_ARRAYS = OrderedDict([
    ("f32", np.arange(8, dtype=np.float32).reshape(2, 2, 2) * 0.25),
    ("f64", np.array([[0.5, -1.25, 3.0], [1e-300, -0.0, 12345.678]], dtype=np.float64)),
    ("f16", np.array([1.5, -65504.0], dtype=np.float16)),
    ("u8", np.array([0, 128, 255], dtype=np.uint8)),
    ("i32", np.array([1, -2, 2147483647, -2147483648], dtype=np.int32)),
    ("i8", np.array([-128, 127], dtype=np.int8)),
    ("i64", np.array([2**40, -5], dtype=np.int64)),
    ("b", np.array([[True, False], [False, True]], dtype=np.bool_)),
])

LOOM_WRITTEN = OrderedDict(sorted(list(DTYPE_ARRAYS.items()) + [
    ("scalar", np.array(2.5, dtype=np.float32)),
    ("empty", np.zeros((0, 3), dtype=np.float32)),
]))


def describe(arrays):
    out = OrderedDict()
    for key, a in arrays.items():
        a = np.array(a, order="C")  # (np.ascontiguousarray would make shape () into (1,))
        out[key] = OrderedDict([
            ("shape", list(a.shape)),
            ("dtype", str(a.dtype) if a.dtype != np.bool_ else "bool"),
            ("values", [v.item() if a.dtype != np.float16 else float(v) for v in a.reshape(-1)]),
            ("data_hex", a.astype(a.dtype.newbyteorder("<")).tobytes().hex()),
        ])
    return out


def nd_dict(mx, arrays):
    return OrderedDict((k, mx.nd.array(v, dtype=v.dtype)) for k, v in arrays.items())


def loaded_numpy(loaded):
    return OrderedDict((k, v.asnumpy()) for k, v in loaded.items())


def check_equal(expected, got, what):
    assert list(expected) == list(got) or sorted(expected) == sorted(got), (what, list(got))
    for k, a in expected.items():
        b = got[k]
        assert a.shape == b.shape and a.dtype == b.dtype, (what, k, a.shape, b.shape, a.dtype, b.dtype)
        assert a.tobytes() == b.tobytes(), (what, k)


def mlp(mx):
    data = mx.sym.Variable("data")
    fc1 = mx.sym.FullyConnected(data, num_hidden=8, name="fc1")
    bn1 = mx.sym.BatchNorm(fc1, name="bn1")
    act = mx.sym.Activation(bn1, act_type="relu", name="relu1")
    fc2 = mx.sym.FullyConnected(act, num_hidden=3, name="fc2")
    net = mx.sym.SoftmaxOutput(fc2, name="softmax")
    arg_shapes, _, aux_shapes = net.infer_shape(data=(5, 4))
    rng = np.random.RandomState(0)
    arg = OrderedDict()
    for name, shape in zip(net.list_arguments(), arg_shapes):
        if name in ("data", "softmax_label"):
            continue
        arg[name] = rng.uniform(-1, 1, size=shape).astype(np.float32)
    aux = OrderedDict()
    for name, shape in zip(net.list_auxiliary_states(), aux_shapes):
        aux[name] = rng.uniform(0.5, 1.5, size=shape).astype(np.float32)
    return net, arg, aux


def record_v1(a, code):
    out = struct.pack("<I", 0xF993FAC8) + struct.pack("<i", a.ndim)
    out += struct.pack("<%dq" % a.ndim, *a.shape) + struct.pack("<ii", 1, 0) + struct.pack("<i", code)
    return out + a.tobytes()


def record_nomagic(a, code):
    out = struct.pack("<I", a.ndim) + struct.pack("<%dI" % a.ndim, *a.shape)
    out += struct.pack("<ii", 1, 0) + struct.pack("<i", code)
    return out + a.tobytes()


def list_file(records, names):
    out = struct.pack("<QQQ", 0x112, 0, len(records)) + b"".join(records)
    out += struct.pack("<Q", len(names))
    for n in names:
        out += struct.pack("<Q", len(n)) + n.encode()
    return out


def generate():
    import mxnet as mx
    assert mx.__version__ == "1.9.1", mx.__version__
    expected = OrderedDict()

    net, arg, aux = mlp(mx)
    mx.model.save_checkpoint(path("mlp"), 1, net,
                             nd_dict(mx, arg), nd_dict(mx, aux))
    mlp_arrays = OrderedDict([("arg:" + k, v) for k, v in arg.items()] +
                             [("aux:" + k, v) for k, v in aux.items()])
    check_equal(mlp_arrays, loaded_numpy(mx.nd.load(path("mlp-0001.params"))), "mlp")
    expected["mlp-0001.params"] = describe(mlp_arrays)

    mx.nd.save(path("sorted.params"), nd_dict(mx, OrderedDict(sorted(mlp_arrays.items()))))
    expected["sorted.params"] = describe(OrderedDict(sorted(mlp_arrays.items())))

    mx.nd.save(path("dtypes.params"), nd_dict(mx, DTYPE_ARRAYS))
    check_equal(DTYPE_ARRAYS, loaded_numpy(mx.nd.load(path("dtypes.params"))), "dtypes")
    expected["dtypes.params"] = describe(DTYPE_ARRAYS)

    numpy_shape = OrderedDict([
        ("scalar", np.array(2.5, dtype=np.float32)),
        ("empty", np.zeros((0,), dtype=np.float32)),
        ("empty2", np.zeros((2, 0), dtype=np.float32)),
        ("v", np.array([1.0, 2.0], dtype=np.float32)),
    ])
    with mx.util.np_shape(True):
        mx.nd.save(path("numpy_shape.params"),
                   OrderedDict((k, mx.nd.array(v) if v.size else mx.nd.zeros(v.shape))
                               for k, v in numpy_shape.items()))
        check_equal(numpy_shape, loaded_numpy(mx.nd.load(path("numpy_shape.params"))), "numpy_shape")
    expected["numpy_shape.params"] = describe(numpy_shape)

    unnamed = [np.array([1, 2, 3], dtype=np.int32), np.array([[0.5]], dtype=np.float32)]
    mx.nd.save(path("list.params"), [mx.nd.array(a, dtype=a.dtype) for a in unnamed])
    expected["list.params"] = describe(OrderedDict((str(i), a) for i, a in enumerate(unnamed)))

    dense = np.array([[0, 0], [1, 2], [0, 0]], dtype=np.float32)
    mx.nd.save(path("sparse.params"), {"arg:embed_weight": mx.nd.array(dense).tostype("row_sparse")})

    legacy = OrderedDict([("arg:v1", np.array([[1.0, 2.0], [3.0, 4.0]], dtype=np.float64)),
                          ("arg:w", np.array([[5, 6, 7]], dtype=np.int32))])
    with open(path("legacy_v1.params"), "wb") as f:
        f.write(list_file([record_v1(legacy["arg:v1"], 1), record_v1(legacy["arg:w"], 4)],
                          list(legacy)))
    check_equal(legacy, loaded_numpy(mx.nd.load(path("legacy_v1.params"))), "legacy_v1")
    expected["legacy_v1.params"] = describe(legacy)
    with open(path("legacy_nomagic.params"), "wb") as f:
        f.write(list_file([record_nomagic(legacy["arg:v1"], 1), record_nomagic(legacy["arg:w"], 4)],
                          list(legacy)))
    check_equal(legacy, loaded_numpy(mx.nd.load(path("legacy_nomagic.params"))), "legacy_nomagic")
    expected["legacy_nomagic.params"] = describe(legacy)

    expected["loom_written"] = describe(LOOM_WRITTEN)
    with open(path("expected.json"), "w") as f:
        json.dump(expected, f, indent=1)
        f.write("\n")
    print("generated fixtures in", HERE)


def verify_loom():
    import mxnet as mx
    assert mx.__version__ == "1.9.1", mx.__version__
    with mx.util.np_shape(True):
        got = loaded_numpy(mx.nd.load(path("loom_written.params")))
    check_equal(LOOM_WRITTEN, got, "loom_written")
    print("MXNet", mx.__version__, "loaded loom_written.params:", len(got), "arrays OK")


if __name__ == "__main__":
    {"generate": generate, "verify-loom": verify_loom}[sys.argv[1]]()
