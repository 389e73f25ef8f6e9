// The networks an experiment can train: the built-ins (`mlp`, `lenet`, `resnet`) or a symbol JSON
// file (MXNet's prefix-symbol.json), chosen by the experiment's `model` section.
//
//   loom::proto::Model m;
//   m.set_builtin("lenet");
//   loom::Symbol net = loom::train::BuildModel(m, loom::Shape{1, 28, 28});
//   net.ListArguments();   // data, conv1_weight, ..., fc2_bias, softmax_label
//
// Every built-in reads `data`, ends in SoftmaxOutput named "softmax" (label input
// "softmax_label") and is built with the same layer names MXNet's example symbols use, so its
// saved prefix-symbol.json and prefix-NNNN.params load in MXNet. Pure functions; reentrant.
#pragma once

#include <string>

#include "loom/core/shape.h"
#include "loom/core/symbol.h"
#include "loom/proto/experiment.pb.h"

namespace loom::train {

/// @brief The network described by `model`.
///
/// - `mlp`: FullyConnected layers of model.hidden sizes (default 256, 128) with
///   model.activation, optional Dropout(model.dropout) before the output layer, then
///   FullyConnected(num_classes) and SoftmaxOutput. Accepts any sample shape (flattened).
/// - `lenet`: conv 5x5 20 -> (BatchNorm) -> activation -> max pool 2x2 -> conv 5x5 50 ->
///   (BatchNorm) -> activation -> max pool 2x2 -> fc 500 -> activation -> (Dropout) ->
///   fc num_classes -> SoftmaxOutput (MXNet's example LeNet). Needs (C, H, W) samples.
/// - `resnet`: a pre-activation ResNet for small images (MXNet's resnet.py for CIFAR):
///   (BatchNorm) -> conv 3x3 width -> 3 stages of model.resnet_blocks residual units with
///   width, 2 width, 4 width channels (stride 2 from the second stage) -> BatchNorm -> relu ->
///   global average pool -> fc num_classes -> SoftmaxOutput. Needs (C, H, W) samples.
/// - model.symbol: the symbol file, loaded with Symbol::Load (sample_shape unused).
///
/// sample_shape is one sample's shape without the batch axis.
/// @throws ConfigError naming the key (unknown builtin, bad sizes, images needed but flat
///         samples given); loom::Error from Symbol::Load for an unreadable symbol file.
Symbol BuildModel(const proto::Model& model, const Shape& sample_shape);

/// True when the model consumes flat samples (mlp), so the data section's `flatten` default is
/// on; false for image models and symbol files.
bool ModelWantsFlatData(const proto::Model& model);

}  // namespace loom::train
