#!/usr/bin/env python3
"""Generates tests/operators/mxnet_cases.inc: what MXNet 1.9.1 answers for operator schemas.

For every case below this script builds the operator with MXNet's symbolic API (auto-created
inputs `op_<input>`, or positional variables x0, x1, ... for variadic operators), and records
the parameter strings MXNet stores, list_arguments / list_outputs / list_auxiliary_states, and
the result of infer_shape_partial (or infer_type_partial) for the given known values, or that
MXNet raised an error. oracle_test.cc replays each case through Loom.

Run it by hand (never needed by CI) in a Python 3.11 environment with
`pip install mxnet==1.9.1 'numpy<1.24'`:

    python tests/operators/make_expected.py > tests/operators/mxnet_cases.inc
"""
import json
import sys

import mxnet as mx
import numpy as np

CASES = []


def case(op, params=None, shapes=None, types=None, nargs=0, label=None):
    CASES.append(dict(op=op, params=params or {}, shapes=shapes, types=types, nargs=nargs,
                      label=label))


def shapes_of(op, params_and_shapes):
    for params, shapes in params_and_shapes:
        case(op, params, shapes)


# ---- convolution-like ----
shapes_of('Deconvolution', [
    (dict(kernel=(3, 3), num_filter=4), dict(op_data=(2, 3, 5, 5))),
    (dict(kernel=(3, 3), num_filter=4, no_bias=False), dict(op_data=(2, 3, 5, 5))),
    (dict(kernel=(3, 3), num_filter=4, stride=(2, 2), pad=(1, 1), adj=(1, 1)),
     dict(op_data=(2, 3, 5, 5))),
    (dict(kernel=(4, 4), num_filter=4, stride=(2, 2), target_shape=(10, 11)),
     dict(op_data=(2, 3, 5, 5))),
    (dict(kernel=(3, 3), num_filter=6, stride=(2, 2), target_shape=(10, 10)),
     dict(op_data=(2, 3, 5, 5))),
    (dict(kernel=(4, 4), num_filter=6, stride=(2, 2), pad=(1, 1), target_shape=(10, 10)),
     dict(op_data=(2, 3, 5, 5))),
    (dict(kernel=(4, 4), num_filter=4, stride=(2, 2), target_shape=(20, 20)),
     dict(op_data=(2, 3, 5, 5))),
    (dict(kernel=(3, 3), num_filter=6, num_group=3), dict(op_data=(2, 3, 5, 5))),
    (dict(kernel=(3, 3), num_filter=6, dilate=(2, 2)), dict(op_data=(2, 3, 5, 5))),
    (dict(kernel=(3, 3), num_filter=6, adj=(2, 2), stride=(2, 2)), dict(op_data=(2, 3, 5, 5))),
    (dict(kernel=(3,), num_filter=6), dict(op_data=(2, 3, 5))),
    (dict(kernel=(3, 3, 3), num_filter=6), dict(op_data=(2, 3, 5, 5, 5))),
    (dict(kernel=(3, 3), num_filter=6), dict(op_data=(0, 3, 5, 0))),
    (dict(kernel=(2, 3), num_filter=6, num_group=3, layout='NHWC'), dict(op_data=(2, 5, 5, 3))),
    (dict(kernel=(3, 3), num_filter=6), dict(op_data=(2, 3, 5, 5), op_weight=(4, 6, 3, 3))),
    (dict(kernel=(3, 3), num_filter=6), dict(op_data=(2, 0, 5, 5), op_weight=(3, 6, 3, 3))),
    (dict(kernel=(3, 3), num_filter=6, pad=(5, 5)), dict(op_data=(2, 3, 2, 2))),
    (dict(kernel=(3, 3), num_filter=6, target_shape=(6, 6)), dict(op_data=(2, 3, 5, 5))),
    (dict(kernel=(2, 2), num_filter=6, stride=(2,)), dict(op_data=(2, 3, 5, 5))),
    (dict(kernel=(3, 3), num_filter=0), dict(op_data=(2, 3, 5, 5))),
    (dict(kernel=(3, 3), num_filter=5, num_group=2), dict(op_data=(2, 4, 5, 5))),
])
shapes_of('Pooling', [
    (dict(kernel=(2, 2)), dict(op_data=(1, 3, 8, 8))),
    (dict(kernel=(2, 2), stride=(2, 2), pool_type='avg'), dict(op_data=(1, 3, 8, 9))),
    (dict(kernel=(2, 2)), dict(op_data=(0, 3, 8, 8))),
    (dict(global_pool=True), dict(op_data=(2, 3, 8, 8))),
    (dict(global_pool=True), dict(op_data=(2, 3, 8))),
    (dict(global_pool=True), dict(op_data=(1, 1, 8, 8, 8))),
    (dict(global_pool=True, layout='NHWC'), dict(op_data=(2, 8, 8, 3))),
    (dict(global_pool=True), dict(op_data=(0, 3, 0, 4))),
    (dict(global_pool=True, kernel=(2,)), dict(op_data=(1, 3, 8, 8))),
    (dict(global_pool=True, kernel=(3, 3), pool_type='avg'), dict(op_data=(1, 1, 8, 8, 8))),
    (dict(kernel=(2, 2), layout='NHWC', stride=(2, 2)), dict(op_data=(2, 8, 8, 3))),
    (dict(kernel=(3,), layout='NWC'), dict(op_data=(1, 9, 2))),
    (dict(kernel=(3, 3, 3), layout='NDHWC'), dict(op_data=(1, 9, 9, 9, 2))),
    (dict(kernel=(3, 3), stride=(2, 2), pooling_convention='full'), dict(op_data=(1, 1, 8, 8))),
    (dict(kernel=(3, 3), stride=(2, 2), pad=(1, 1), pooling_convention='full'),
     dict(op_data=(1, 1, 7, 8))),
    (dict(kernel=(2, 2, 2), stride=(2, 2, 2)), dict(op_data=(1, 1, 7, 8, 9))),
    (dict(kernel=(3,), stride=(2,)), dict(op_data=(4, 2, 11))),
    (dict(kernel=(3, 3), pool_type='lp', p_value=2), dict(op_data=(1, 1, 8, 8))),
    (dict(kernel=(3, 3), pool_type='sum', pad=(1, 1)), dict(op_data=(1, 1, 8, 8))),
    (dict(kernel=(2, 2), pad=(3, 0)), dict(op_data=(1, 3, 8, 8))),
    (dict(kernel=(2, 2)), dict(op_data=(2, 3, 8))),
    (dict(kernel=(5, 5)), dict(op_data=(2, 3, 4, 4))),
    (dict(kernel=(3, 3), pool_type='lp'), dict(op_data=(1, 1, 8, 8))),
    (dict(kernel=(2, 2), stride=(2,)), dict(op_data=(2, 3, 8, 8))),
    (dict(), dict(op_data=(2, 3, 8, 8))),
    (dict(global_pool=True), dict(op_data=(2, 3))),
    (dict(kernel=(0, 2)), dict(op_data=(1, 3, 8, 8))),
    (dict(kernel=(3,), layout='NCHW'), dict(op_data=(1, 2, 9))),
])

# ---- activations and normalisation ----
shapes_of('LeakyReLU', [
    (dict(), dict(op_data=(2, 3, 4))),
    (dict(act_type='prelu'), dict(op_data=(2, 3, 4))),
    (dict(act_type='prelu'), dict(op_data=(2, 3, 4), op_gamma=(1,))),
    (dict(act_type='prelu'), dict(op_data=(2, 0, 4))),
    (dict(act_type='rrelu'), dict(op_data=(2, 3, 4))),
    (dict(act_type='elu', slope=0.5), dict(op_data=(2, 3))),
    (dict(act_type='selu'), dict(op_data=(2, 3))),
    (dict(act_type='gelu'), dict(op_data=(2, 3))),
    (dict(act_type='swish'), dict(op_data=(2, 3))),
    (dict(act_type='prelu'), dict(op_data=(5,))),
])
shapes_of('BatchNorm', [
    (dict(), dict(op_data=(2, 3, 4, 4))),
    (dict(fix_gamma=False, eps=1e-5, momentum=0.8), dict(op_data=(2, 3))),
    (dict(axis=-1), dict(op_data=(2, 3, 4))),
    (dict(axis=2), dict(op_data=(2, 3, 4))),
    (dict(output_mean_var=True), dict(op_data=(2, 3, 4))),
    (dict(), dict(op_data=(2, 0, 4))),
    (dict(), dict(op_data=(0, 3, 4))),
    (dict(axis=3), dict(op_data=(2, 3, 4))),
    (dict(), dict(op_data=(2, 3, 4), op_gamma=(4,))),
    (dict(use_global_stats=True, cudnn_off=True), dict(op_data=(5, 7))),
])
shapes_of('Dropout', [
    (dict(), dict(op_data=(2, 3, 4))),
    (dict(p=0.2, axes=(1,)), dict(op_data=(2, 3, 4))),
    (dict(mode='always'), dict(op_data=(0, 3))),
    (dict(p=1.5), dict(op_data=(2, 3))),
    (dict(mode='sometimes'), dict(op_data=(2, 3))),
])
shapes_of('softmax', [
    (dict(), dict(op_data=(4, 3))),
    (dict(axis=0, temperature=2.0), dict(op_data=(4, 3))),
    (dict(use_length=True, axis=1), dict(op_data=(4, 3, 5))),
    (dict(use_length=True, axis=-1), dict(op_data=(4, 3, 5))),
    (dict(use_length=True, axis=0), dict(op_data=(4,))),
    (dict(), dict(op_data=(0, 3))),
    (dict(dtype='int32'), dict(op_data=(4, 3))),
])
shapes_of('log_softmax', [
    (dict(), dict(op_data=(4, 3))),
    (dict(axis=1), dict(op_data=(2, 4, 3))),
])
shapes_of('SoftmaxActivation', [
    (dict(), dict(op_data=(4, 3))),
    (dict(mode='channel'), dict(op_data=(2, 3, 4, 4))),
    (dict(), dict(op_data=(4,))),
    (dict(mode='spatial'), dict(op_data=(4,))),
])
for op in ['LinearRegressionOutput', 'LogisticRegressionOutput', 'MAERegressionOutput']:
    shapes_of(op, [
        (dict(), dict(op_data=(4, 3))),
        (dict(grad_scale=0.5), dict(op_data=(4, 1))),
        (dict(), dict(op_data=(4, 3), op_label=(4, 3, 1))),
        (dict(), dict(op_data=(4, 3), op_label=(4, 4))),
        (dict(), dict(op_data=(4, 3), op_label=(2, 6))),
        (dict(), dict(op_data=(2, 3, 4))),
    ])
shapes_of('MakeLoss', [
    (dict(), dict(op_data=(4, 3))),
    (dict(grad_scale=2, valid_thresh=0.1, normalization='valid'), dict(op_data=(4,))),
    (dict(normalization='mean'), dict(op_data=(4,))),
])
shapes_of('make_loss', [(dict(), dict(op_data=(4, 3)))])
shapes_of('LRN', [
    (dict(nsize=3), dict(op_data=(2, 3, 4, 4))),
    (dict(nsize=5, alpha=0.001, beta=0.5, knorm=1), dict(op_data=(2, 3, 4, 5, 6))),
    (dict(), dict(op_data=(2, 3, 4, 4))),
])
shapes_of('L2Normalization', [
    (dict(), dict(op_data=(2, 3, 4, 5))),
    (dict(mode='channel'), dict(op_data=(2, 3, 4, 5))),
    (dict(mode='spatial', eps=1e-6), dict(op_data=(2, 3, 4, 5))),
    (dict(mode='channel'), dict(op_data=(2, 3))),
    (dict(mode='spatial'), dict(op_data=(0, 3, 4))),
])
shapes_of('InstanceNorm', [
    (dict(), dict(op_data=(2, 3, 4, 5))),
    (dict(eps=1e-5), dict(op_data=(2, 3))),
    (dict(), dict(op_data=(0, 3, 4))),
])

# ---- shape manipulation ----
for code, shape in [((4, 0, 2), (2, 3, 4)), ((6, 1, -1), (2, 3, 4)), ((-1,), (2, 3, 4)),
                    ((-2, 1, 1), (2, 3, 4)), ((-3, 4), (2, 3, 4)), ((-3, -3), (2, 3, 4, 5)),
                    ((-4, 1, 2, -2), (2, 3, 4)), ((-1, 0), (10, 5, 4)),
                    ((2, -4, -1, 3, -2), (2, 3, 4)), ((0, 0, 0, 0), (2, 3, 4)),
                    ((-1, -1), (2, 3, 4)), ((-4, -1, -1), (6, 2)), ((-4, 4, 2), (6, 2)),
                    ((-4, 5, -1), (6, 2)), ((-3,), (2, 3, 4)), ((-1, 4), (0, 3, 4)),
                    ((0, -1), (0, 3, 4)), ((-3, 0), (0, 3, 4)), ((-1, 200), (60, 1, 200))]:
    case('Reshape', dict(shape=code), dict(op_data=shape))
shapes_of('Reshape', [
    (dict(shape=(-1, 0), reverse=True), dict(op_data=(10, 5, 4))),
    (dict(shape=(-4, 1, 2, -2), reverse=True), dict(op_data=(2, 3, 4))),
    (dict(shape=(-3, 0), reverse=True), dict(op_data=(2, 3, 4))),
    (dict(target_shape=(0, 12)), dict(op_data=(2, 3, 4))),
    (dict(target_shape=(0, 12), keep_highest=True), dict(op_data=(2, 3, 4))),
    (dict(target_shape=(5, 0), keep_highest=True), dict(op_data=(2, 3, 4))),
    (dict(target_shape=(4, 6)), dict(op_data=(2, 3, 4))),
    (dict(shape=(4, 6), target_shape=(3, 8)), dict(op_data=(2, 3, 4))),
    (dict(), dict(op_data=(2, 3, 4))),
])
shapes_of('Flatten', [
    (dict(), dict(op_data=(2, 3, 4))),
    (dict(), dict(op_data=(5,))),
    (dict(), dict(op_data=(2, 0, 4))),
    (dict(), dict(op_data=(0, 3, 4))),
])
shapes_of('transpose', [
    (dict(), dict(op_data=(2, 3, 4))),
    (dict(axes=(1, 0, 2)), dict(op_data=(2, 3, 4))),
    (dict(axes=(0, 3, 2, 1)), dict(op_data=(0, 3, 224, 224))),
    (dict(axes=(0, 1)), dict(op_data=(2, 3, 4))),
])
shapes_of('SwapAxis', [
    (dict(dim1=0, dim2=2), dict(op_data=(2, 3, 4))),
    (dict(dim1=-1, dim2=0), dict(op_data=(2, 3, 4))),
    (dict(), dict(op_data=(2, 3, 4))),
    (dict(dim1=0, dim2=2), dict(op_data=(2, 0, 4))),
    (dict(dim1=3, dim2=0), dict(op_data=(2, 3, 4))),
])
shapes_of('expand_dims', [
    (dict(axis=0), dict(op_data=(2, 3))),
    (dict(axis=2), dict(op_data=(2, 3))),
    (dict(axis=-1), dict(op_data=(2, 3))),
    (dict(axis=-3), dict(op_data=(2, 3))),
    (dict(axis=1), dict(op_data=(0, 3))),
    (dict(axis=3), dict(op_data=(2, 3))),
    (dict(axis=-4), dict(op_data=(2, 3))),
])
shapes_of('squeeze', [
    (dict(), dict(op_data=(1, 2, 1, 3))),
    (dict(axis=0), dict(op_data=(1, 2, 1, 3))),
    (dict(axis=(0, 2)), dict(op_data=(1, 2, 1, 3))),
    (dict(axis=-2), dict(op_data=(1, 2, 1, 3))),
    (dict(), dict(op_data=(1, 1))),
    (dict(axis=1), dict(op_data=(1, 2, 1, 3))),
    (dict(axis=(0, 0)), dict(op_data=(1, 2, 1, 3))),
    (dict(axis=4), dict(op_data=(1, 2, 1, 3))),
    (dict(axis=1), dict(op_data=(0, 1, 3))),
])
for params, shapes in [
        (dict(dim=1), dict(x0=(2, 3), x1=(2, 5))),
        (dict(dim=-1), dict(x0=(2, 3), x1=(2, 5))),
        (dict(dim=0), dict(x0=(2, 3), x1=(4, 3))),
        (dict(dim=2), dict(x0=(2, 3), x1=(2, 5))),
        (dict(dim=1), dict(x0=(2, 3), x1=(3, 5))),
        (dict(dim=1), dict(x0=(2, 3), x1=(2, 3, 5))),
        (dict(dim=1), dict(x0=(2, 0), x1=(2, 5))),
        (dict(dim=1), dict(x0=(0, 10), x1=(0, 5))),
        (dict(dim=1), dict(x1=(2, 5))),
        (dict(dim=0), dict(x0=(2,), x1=(3,)))]:
    case('Concat', params, shapes, nargs=2)
case('Concat', dict(dim=1), dict(x0=(2, 3), x1=(2, 4), x2=(2, 5)), nargs=3)
case('concat', dict(dim=0), dict(x0=(2, 5)), nargs=1)
shapes_of('SliceChannel', [
    (dict(num_outputs=2), dict(op_data=(2, 4, 3))),
    (dict(num_outputs=1), dict(op_data=(2, 4, 3))),
    (dict(num_outputs=3, axis=-1), dict(op_data=(2, 4, 3))),
    (dict(num_outputs=3, axis=-1, squeeze_axis=True), dict(op_data=(2, 4, 3))),
    (dict(num_outputs=3, axis=1, squeeze_axis=1), dict(op_data=(2, 3))),
    (dict(num_outputs=2, axis=1, squeeze_axis=True), dict(op_data=(2, 4, 3))),
    (dict(num_outputs=3, axis=1), dict(op_data=(2, 4, 3))),
    (dict(num_outputs=3, axis=3), dict(op_data=(2, 4, 3))),
    (dict(num_outputs=3), dict(op_data=(0, 15, 0))),
    (dict(num_outputs=0), dict(op_data=(2, 4))),
])
case('split', dict(num_outputs=2, axis=0), dict(op_data=(4, 3)))
shapes_of('slice', [
    (dict(begin=(0, 1), end=(2, 3)), dict(op_data=(3, 4, 5))),
    (dict(begin=(None, 1), end=(None, None), step=(None, 2)), dict(op_data=(3, 4, 5))),
    (dict(begin=(-1,), end=(None,), step=(-1,)), dict(op_data=(3, 4, 5))),
    (dict(begin=(2, -1), end=(0, 0), step=(-1, -2)), dict(op_data=(3, 4, 5))),
    (dict(begin=(1,), end=(100,)), dict(op_data=(3, 4, 5))),
    (dict(begin=(-10,), end=(2,)), dict(op_data=(3, 4, 5))),
    (dict(begin=(0, 1), end=(2, 3)), dict(op_data=(0, 4, 5))),
    (dict(begin=(0,), end=(1,), step=(0,)), dict(op_data=(3, 4, 5))),
    (dict(begin=(0, 0, 0, 0), end=(1, 1, 1, 1)), dict(op_data=(3, 4, 5))),
    (dict(begin=(0, 0), end=(1,)), dict(op_data=(3, 4, 5))),
])
case('crop', dict(begin=(1, 1), end=(3, 4)), dict(op_data=(3, 4, 5)))
shapes_of('slice_axis', [
    (dict(axis=1, begin=1, end=3), dict(op_data=(3, 4, 5))),
    (dict(axis=-1, begin=-2, end=None), dict(op_data=(3, 4, 5))),
    (dict(axis=0, begin=0, end=-1), dict(op_data=(3, 4, 5))),
    (dict(axis=1, begin=3, end=2), dict(op_data=(3, 4, 5))),
    (dict(axis=1, begin=0, end=5), dict(op_data=(3, 4, 5))),
    (dict(axis=0, begin=0, end=2), dict(op_data=(0, 4, 5))),
    (dict(axis=1, begin=0, end=2), dict(op_data=(0, 4, 5))),
    (dict(axis=3, begin=0, end=2), dict(op_data=(3, 4, 5))),
    (dict(axis=1, begin=0), dict(op_data=(3, 4, 5))),
])
shapes_of('Pad', [
    (dict(mode='constant', pad_width=(0, 0, 0, 0, 1, 2, 3, 4)), dict(op_data=(2, 3, 4, 5))),
    (dict(mode='edge', pad_width=(0, 0, 0, 0, 1, 2, 3, 4, 1, 1)), dict(op_data=(2, 3, 4, 5, 6))),
    (dict(mode='reflect', pad_width=(0, 0, 0, 0, 3, 3, 1, 1), constant_value=2),
     dict(op_data=(2, 3, 4, 5))),
    (dict(mode='constant', pad_width=(0, 0, 0, 0, 1, 2)), dict(op_data=(2, 3, 4))),
    (dict(mode='constant', pad_width=(1, 0, 0, 0, 1, 2, 3, 4)), dict(op_data=(2, 3, 4, 5))),
    (dict(mode='constant', pad_width=(0, 0, 1, 2, 3, 4)), dict(op_data=(2, 3, 4, 5))),
    (dict(mode='reflect', pad_width=(0, 0, 0, 0, 4, 1, 1, 1)), dict(op_data=(2, 3, 4, 5))),
    (dict(mode='constant', pad_width=(0, 0, 0, 0, 1, 2, 3, 4)), dict(op_data=(0, 3, 4, 5))),
    (dict(mode='wrap', pad_width=(0, 0, 0, 0, 1, 2, 3, 4)), dict(op_data=(2, 3, 4, 5))),
])
case('pad', dict(mode='edge', pad_width=(0, 0, 0, 0, 1, 1, 1, 1)), dict(op_data=(1, 1, 2, 2)))

# ---- indexing ----
shapes_of('Embedding', [
    (dict(input_dim=10, output_dim=5), dict(op_data=(2, 3))),
    (dict(input_dim=100, output_dim=10), dict(op_data=(0, 5))),
    (dict(input_dim=10, output_dim=5, dtype='float16'), dict(op_data=(7,))),
    (dict(input_dim=10, output_dim=5), dict(op_data=(2, 3), op_weight=(10, 6))),
    (dict(input_dim=0, output_dim=5), dict(op_data=(2, 3))),
])
shapes_of('one_hot', [
    (dict(depth=5), dict(op_indices=(2, 3))),
    (dict(depth=5, on_value=2, off_value=-1, dtype='int32'), dict(op_indices=(4,))),
    (dict(depth=0), dict(op_indices=(2, 3))),
    (dict(depth=-1), dict(op_indices=(2, 3))),
])
shapes_of('pick', [
    (dict(axis=1), dict(op_data=(0, 3, 3), op_index=(0, 3))),
    (dict(axis=1), dict(op_data=(2, 3, 4))),
    (dict(axis=-1, keepdims=True), dict(op_data=(2, 3, 4))),
    (dict(axis=0, mode='wrap'), dict(op_data=(5,))),
    (dict(axis=3), dict(op_data=(2, 3, 4))),
])
shapes_of('batch_take', [
    (dict(), dict(op_a=(4, 3), op_indices=(4,))),
])
for c, a, b in [((2, 3), (2, 3), (2, 3)), ((2,), (2, 3), (2, 3)), ((3,), (2, 3), (2, 3)),
                ((2, 3), (2, 0), (0, 3)), ((), (2, 3), ()), ((2, 3, 1), (2, 3), (2, 3)),
                ((6,), (2, 3), (2, 3))]:
    known = dict(op_condition=c, op_x=a, op_y=b)
    case('where', {}, {k: v for k, v in known.items() if v != ()})

# ---- RNN ----
for params, shapes in [
        (dict(state_size=4, num_layers=2, mode='lstm', bidirectional=True,
              use_sequence_length=True, state_outputs=True), dict(op_data=(5, 3, 7))),
        (dict(state_size=4, num_layers=2, mode='lstm', projection_size=2, state_outputs=True),
         dict(op_data=(5, 3, 7))),
        (dict(state_size=4, num_layers=2, mode='lstm'), dict(op_data=(5, 0, 7))),
        (dict(state_size=200, num_layers=2, mode='lstm', p=0.0, bidirectional=False,
              state_outputs=False), dict(op_data=(60, 1, 200))),
        (dict(state_size=100, num_layers=1, mode='lstm'), dict(op_data=(3, 10, 50))),
        (dict(state_size=8, num_layers=3, mode='gru', state_outputs=True),
         dict(op_data=(4, 2, 5))),
        (dict(state_size=8, num_layers=1, mode='rnn_relu', bidirectional=True),
         dict(op_data=(4, 2, 5))),
        (dict(state_size=8, num_layers=2, mode='rnn_tanh', state_outputs=True,
              use_sequence_length=True), dict(op_data=(4, 2, 5))),
        (dict(state_size=8, num_layers=1, mode='gru'), dict(op_data=(4, 2))),
        (dict(state_size=8, num_layers=1, mode='gru'),
         dict(op_data=(4, 2, 5), op_state=(1, 3, 8))),
        (dict(state_size=8, num_layers=1, mode='lstm', p=1.5), dict(op_data=(4, 2, 5))),
        (dict(state_size=8, num_layers=1, mode='vanilla'), dict(op_data=(4, 2, 5))),
        (dict(state_size=8, mode='gru'), dict(op_data=(4, 2, 5))),
]:
    case('RNN', params, shapes)

# ---- upsampling and cropping ----
case('UpSampling', dict(scale=2, sample_type='nearest'), dict(x0=(1, 3, 4, 4), x1=(1, 2, 8, 8)),
     nargs=2)
case('UpSampling', dict(scale=2, sample_type='nearest', multi_input_mode='sum'),
     dict(x0=(1, 3, 4, 4), x1=(1, 3, 8, 8)), nargs=2)
case('UpSampling', dict(scale=2, sample_type='nearest', multi_input_mode='sum'),
     dict(x0=(1, 3, 4, 4), x1=(1, 2, 8, 8)), nargs=2)
case('UpSampling', dict(scale=3, sample_type='nearest'), dict(x0=(2, 3, 4, 5)), nargs=1)
case('UpSampling', dict(scale=2, sample_type='nearest'), dict(x0=(1, 3, 4, 4), x1=(1, 2, 3, 3)),
     nargs=2)
case('UpSampling', dict(scale=2, sample_type='nearest'), dict(x0=(1, 3, 4)), nargs=1)
case('UpSampling', dict(scale=2, sample_type='bilinear', num_filter=3), dict(x0=(1, 3, 4, 4)),
     nargs=1)
case('UpSampling', dict(scale=3, sample_type='bilinear', num_filter=2), dict(x0=(1, 2, 4, 4)),
     nargs=1)
case('UpSampling', dict(scale=2, sample_type='bilinear', num_filter=3, num_args=2),
     dict(x0=(1, 3, 4, 4)), nargs=2)
case('UpSampling', dict(scale=2, sample_type='linear'), dict(x0=(1, 3, 4, 4)), nargs=1)
case('Crop', dict(num_args=1, h_w=(2, 3), offset=(1, 1)), dict(x0=(2, 3, 5, 5)), nargs=1)
case('Crop', dict(num_args=1, h_w=(2, 3), center_crop=True), dict(x0=(2, 3, 5, 5)), nargs=1)
case('Crop', dict(num_args=2), dict(x0=(2, 3, 5, 5), x1=(1, 1, 3, 4)), nargs=2)
case('Crop', dict(num_args=2, center_crop=True), dict(x0=(0, 3, 5, 5), x1=(1, 1, 3, 4)),
     nargs=2)
case('Crop', dict(num_args=1), dict(x0=(2, 3, 5, 5)), nargs=1)
case('Crop', dict(num_args=1, h_w=(2, 3)), dict(x0=(2, 3, 5)), nargs=1)

# ---- creation, copies and elementwise ----
shapes_of('_zeros', [
    (dict(shape=(2, 3)), {}),
    (dict(shape=(2, 0, 200)), {}),
    (dict(), {}),
])
shapes_of('_ones', [(dict(shape=(4,), dtype='int64'), {})])
for op in ['_copy', 'identity', 'BlockGrad', 'stop_gradient', 'zeros_like', 'ones_like', 'exp',
           'log', 'sqrt', 'rsqrt', 'square', 'tanh', 'sigmoid', 'relu', 'abs', 'negative', 'sin']:
    case(op, {}, dict(op_data=(2, 3)))
shapes_of('clip', [
    (dict(a_min=0, a_max=1), dict(op_data=(2, 3))),
    (dict(a_min=1, a_max=0), dict(op_data=(2, 3))),
    (dict(a_min=1), dict(op_data=(2, 3))),
])
shapes_of('Cast', [
    (dict(dtype='int32'), dict(op_data=(2, 3))),
    (dict(dtype='complex'), dict(op_data=(2, 3))),
])
case('cast', dict(dtype='float16'), dict(op_data=(2, 3)))
for op in ['broadcast_add', 'broadcast_plus', 'broadcast_sub', 'broadcast_minus',
           'broadcast_mul', 'broadcast_div', 'broadcast_maximum', 'broadcast_minimum',
           'broadcast_power']:
    case(op, {}, dict(op_lhs=(2, 1, 4), op_rhs=(3, 1)))
for lhs, rhs in [((2, 3), (2, 3)), ((2, 3), (3,)), ((1,), (4, 5)), ((2, 3), (4, 3)),
                 ((0, 3), (2, 1)), ((2, 0), (1, 3)), ((5, 4), ())]:
    known = dict(op_lhs=lhs, op_rhs=rhs)
    case('broadcast_add', {}, {k: v for k, v in known.items() if v != ()})
for op in ['_maximum', '_minimum', '_power', '_Maximum', '_Minimum', '_Power',
           '_identity_with_attr_like_rhs']:
    case(op, {}, dict(op_lhs=(2, 3)))
for op in ['_maximum_scalar', '_minimum_scalar', '_power_scalar', '_rpower_scalar',
           '_MaximumScalar', '_MinimumScalar', '_PowerScalar', '_RPowerScalar']:
    case(op, dict(scalar=2), dict(op_data=(2, 3)))
case('add_n', {}, dict(x0=(2, 3), x2=(2, 3)), nargs=3)
case('ElementWiseSum', {}, dict(x0=(2, 0), x1=(0, 3)), nargs=2)
case('ElementWiseSum', {}, dict(x0=(2, 3), x1=(3, 2)), nargs=2)

# ---- reductions ----
for op in ['sum', 'mean', 'max', 'min', 'prod', 'nansum', 'nanprod', 'sum_axis', 'max_axis',
           'min_axis']:
    for params in [{}, dict(axis=1), dict(axis=(0, 2)), dict(axis=1, keepdims=True),
                   dict(axis=1, exclude=True), dict(axis=(0, 2), exclude=True, keepdims=True),
                   dict(axis=()), dict(keepdims=True), dict(axis=-1)]:
        case(op, params, dict(op_data=(2, 3, 4)))
shapes_of('sum', [
    (dict(axis=(1, 1)), dict(op_data=(2, 3, 4))),
    (dict(axis=3), dict(op_data=(2, 3, 4))),
    (dict(axis=0), dict(op_data=(5,))),
    (dict(axis=1), dict(op_data=(0, 3, 4))),
])
for op in ['argmax', 'argmin']:
    for params in [{}, dict(axis=1), dict(axis=1, keepdims=True), dict(keepdims=True),
                   dict(axis=-1), dict(axis=3)]:
        case(op, params, dict(op_data=(2, 3, 4)))
case('argmax', dict(axis=0), dict(op_data=(5,)))
case('argmax', dict(axis=0), dict(op_data=(0, 3, 4)))

# ---- products ----
for a, b, params in [((2, 3), (3, 4), {}), ((3,), (3,), {}), ((3,), (3, 4), {}),
                     ((2, 3), (3,), {}), ((3, 2), (3, 4), dict(transpose_a=True)),
                     ((2, 3), (4, 3), dict(transpose_b=True)), ((2, 3, 4), (4, 5), {}),
                     ((2, 3, 4), (4, 5, 6), {}), ((0, 3, 4), (4, 5), {}), ((2, 3), (4, 5), {}),
                     ((3,), (3,), dict(transpose_a=True)),
                     ((4, 2, 3), (4, 5), dict(transpose_a=True)),
                     ((2, 3), (5, 3, 4), dict(transpose_a=True, transpose_b=True))]:
    case('dot', params, dict(op_lhs=a, op_rhs=b))
for a, b, params in [((2, 3, 4), (2, 4, 5), {}), ((2, 4, 3), (2, 4, 5), dict(transpose_a=True)),
                     ((2, 3, 4), (2, 5, 4), dict(transpose_b=True)),
                     ((0, 3, 4), (0, 4, 5), {}), ((0, 3, 4), (0, 0, 5), {}),
                     ((2, 3, 4), (3, 4, 5), {}), ((2, 3, 4), (2, 3, 5), {}),
                     ((2, 3), (2, 3), {}), ((2, 2, 3, 4), (2, 2, 4, 5), {})]:
    case('batch_dot', params, dict(op_lhs=a, op_rhs=b))

# ---- dtype cases ----
TYPE_OPS = {
    'Deconvolution': dict(kernel=(1, 1), num_filter=1),
    'Pooling': dict(kernel=(1, 1)),
    'LeakyReLU': dict(act_type='prelu'),
    'BatchNorm': {},
    'Dropout': {},
    'softmax': {},
    'SoftmaxActivation': {},
    'LinearRegressionOutput': {},
    'MakeLoss': {},
    'Reshape': dict(shape=(-1,)),
    'SliceChannel': dict(num_outputs=2),
    'Embedding': dict(input_dim=2, output_dim=2),
    'one_hot': dict(depth=2),
    'RNN': dict(state_size=2, num_layers=1, mode='lstm'),
    'LRN': dict(nsize=3),
    'L2Normalization': {},
    'InstanceNorm': {},
    'Crop': dict(num_args=1, h_w=(2, 2)),
    'UpSampling': dict(scale=2, sample_type='bilinear', num_filter=1),
    'Cast': dict(dtype='int32'),
    'argmax': dict(axis=0),
    'sum': {},
    'dot': {},
    'where': {},
    'pick': dict(axis=0),
    'broadcast_add': {},
    '_zeros': dict(shape=(2,), dtype='int64'),
}
VARIADIC = {'Concat', 'concat', 'add_n', 'ElementWiseSum', 'UpSampling', 'Crop'}
for op, params in TYPE_OPS.items():
    first = 'x0' if op in VARIADIC else ('op_indices' if op == 'one_hot' else 'op_data')
    if op in ('dot', 'broadcast_add'):
        first = 'op_lhs'
    if op == 'where':
        first = 'op_x'
    nargs = 1 if op in VARIADIC else 0
    for t in ['float16', 'float64', 'int32']:
        if op == '_zeros':
            continue
        case(op, params, types={first: t}, nargs=nargs)
case('BatchNorm', {}, types=dict(op_gamma='float64'))
case('BatchNorm', {}, types=dict(op_data='float16', op_moving_mean='float16'))
case('softmax', dict(dtype='float64'), types=dict(op_data='float16'))
case('softmax', dict(dtype='float64'), types={})
case('softmax', dict(use_length=True), types=dict(op_data='float16', op_length='int32'))
case('log_softmax', dict(dtype='float16'), types=dict(op_data='float32'))
case('RNN', dict(state_size=2, num_layers=1, mode='lstm', use_sequence_length=True),
     types=dict(op_data='float32', op_sequence_length='int32'))
case('RNN', dict(state_size=2, num_layers=1, mode='gru'),
     types=dict(op_data='float32', op_state='float16'))
case('Embedding', dict(input_dim=2, output_dim=2, dtype='float16'), types=dict(op_data='int32'))
case('Embedding', dict(input_dim=2, output_dim=2), types=dict(op_data='int32',
                                                              op_weight='float64'))
case('one_hot', dict(depth=2, dtype='int64'), types=dict(op_indices='float32'))
case('where', {}, types=dict(op_condition='int32', op_x='float16'))
case('where', {}, types=dict(op_x='float16', op_y='float32'))
case('Cast', dict(dtype='uint8'), types={})
case('_zeros', dict(shape=(2,), dtype='int64'), types={})
case('_ones', dict(shape=(2,)), types={})
case('Concat', {}, types=dict(x1='float16'), nargs=2)
case('add_n', {}, types=dict(x1='int8'), nargs=3)
case('LinearRegressionOutput', {}, types=dict(op_data='float16', op_label='int32'))
case('BatchNorm', {}, types=dict(op_data='int32'))
case('Crop', dict(num_args=1, h_w=(2, 2)), types={}, nargs=1)
case('InstanceNorm', {}, types={})
case('InstanceNorm', {}, types=dict(op_data='float64'))


def make(c):
    fn = getattr(mx.sym, c['op'], None) or getattr(mx.sym._internal, c['op'])
    args = [mx.sym.Variable('x%d' % i) for i in range(c['nargs'])]
    return fn(*args, name='op', **c['params'])


def shape_text(s):
    return '()' if s is None else '(' + ', '.join(str(d) for d in s) + ')'


def type_text(t):
    return '' if t is None else np.dtype(t).name


def cstr(s):
    return json.dumps(s)


def clist(items):
    return '{' + ', '.join(items) + '}'


def error_line(e):
    lines = [l for l in str(e).split('\n') if 'Check failed' in l or 'rror' in l]
    return (lines[-1] if lines else str(e)).strip()[:160]


def main():
    out = sys.stdout
    out.write('// Generated by tests/operators/make_expected.py from MXNet %s; do not edit.\n'
              % mx.__version__)
    out.write('// {op, params, positional inputs, known values, is_type_case, creation fails,\n'
              '//  inference fails, arguments, outputs, auxiliary states, inferred arguments,\n'
              '//  outputs, auxiliary states}\n')
    for c in CASES:
        params, creation_error, infer_error = [], None, None
        arguments, outputs, aux = [], [], []
        values = ([], [], [])
        try:
            sym = make(c)
            node = json.loads(sym.tojson())['nodes'][-1]
            params = sorted((k, v) for k, v in node.get('attrs', {}).items()
                            if not k.startswith('__'))
            arguments, outputs = sym.list_arguments(), sym.list_outputs()
            aux = sym.list_auxiliary_states()
        except Exception as e:  # MXNet rejects the parameters
            creation_error = error_line(e)
            params = sorted((k, str(v)) for k, v in c['params'].items())
        if creation_error is None:
            try:
                if c['types'] is not None:
                    r = sym.infer_type_partial(**c['types'])
                    values = tuple([type_text(t) for t in part] for part in r)
                else:
                    r = sym.infer_shape_partial(**c['shapes'])
                    values = tuple([shape_text(s) for s in part] for part in r)
            except Exception as e:
                infer_error = error_line(e)
        known = c['types'] if c['types'] is not None else c['shapes']
        known_items = [clist([cstr(k), cstr(v if c['types'] is not None else shape_text(v))])
                       for k, v in sorted(known.items())]
        if creation_error or infer_error:
            out.write('// MXNet: %s\n' % (creation_error or infer_error))
        out.write('{%s, %s, %d, %s, %s, %s, %s,\n %s, %s, %s,\n %s, %s, %s},\n' % (
            cstr(c['op']), clist(clist([cstr(k), cstr(v)]) for k, v in params), c['nargs'],
            clist(known_items), 'true' if c['types'] is not None else 'false',
            'true' if creation_error else 'false', 'true' if infer_error else 'false',
            clist(map(cstr, arguments)), clist(map(cstr, outputs)), clist(map(cstr, aux)),
            clist(map(cstr, values[0])), clist(map(cstr, values[1])),
            clist(map(cstr, values[2]))))


if __name__ == '__main__':
    main()
