// Networks the benchmarks train or plan, built with Symbol::Op exactly as MXNet's Python symbols
// build them: the Fashion-MNIST MLP (784-128-64-10) and LeNet of the training-step benchmarks, and
// the model zoo's ResNet-50 (example/image-classification/symbols/resnet.py, 50 layers:
// bottleneck units 3, 4, 6, 3) for the memory plan.
//
//   loom::Symbol net = loom::bench::ResNet50();
//   auto plan = loom::Executor::PlanMemory(net, {{"data", {32, 3, 224, 224}}}, {}, "write");
//
// Every network ends in SoftmaxOutput named 'softmax' (label 'softmax_label'); the data is 'data'.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "loom/core/symbol.h"

namespace loom::bench {

using OpParams = std::vector<std::pair<std::string, std::string>>;

inline Symbol Layer(const std::string& op, const Symbol& input, const OpParams& params,
                    const std::string& name) {
  OpCall call = Symbol::Op(op);
  call.Input(input);
  for (const auto& [k, v] : params) call.Param(k, v);
  return call.Name(name).Build();
}

/// 784 -> 128 -> relu -> 64 -> relu -> 10 -> SoftmaxOutput.
inline Symbol Mlp() {
  Symbol x = Symbol::Variable("data");
  x = Layer("FullyConnected", x, {{"num_hidden", "128"}}, "fc1");
  x = Layer("Activation", x, {{"act_type", "relu"}}, "relu1");
  x = Layer("FullyConnected", x, {{"num_hidden", "64"}}, "fc2");
  x = Layer("Activation", x, {{"act_type", "relu"}}, "relu2");
  x = Layer("FullyConnected", x, {{"num_hidden", "10"}}, "fc3");
  return Layer("SoftmaxOutput", x, {}, "softmax");
}

/// MXNet's LeNet (symbols/lenet.py): conv 20 5x5, tanh, max pool 2x2/2, conv 50 5x5, tanh, max
/// pool 2x2/2, fc 500, tanh, fc 10, SoftmaxOutput. FullyConnected flattens its 4-D input.
inline Symbol LeNet() {
  Symbol x = Symbol::Variable("data");
  x = Layer("Convolution", x, {{"kernel", "(5,5)"}, {"num_filter", "20"}}, "conv1");
  x = Layer("Activation", x, {{"act_type", "tanh"}}, "tanh1");
  x = Layer("Pooling", x, {{"pool_type", "max"}, {"kernel", "(2,2)"}, {"stride", "(2,2)"}},
            "pool1");
  x = Layer("Convolution", x, {{"kernel", "(5,5)"}, {"num_filter", "50"}}, "conv2");
  x = Layer("Activation", x, {{"act_type", "tanh"}}, "tanh2");
  x = Layer("Pooling", x, {{"pool_type", "max"}, {"kernel", "(2,2)"}, {"stride", "(2,2)"}},
            "pool2");
  x = Layer("FullyConnected", x, {{"num_hidden", "500"}}, "fc1");
  x = Layer("Activation", x, {{"act_type", "tanh"}}, "tanh3");
  x = Layer("FullyConnected", x, {{"num_hidden", "10"}}, "fc2");
  return Layer("SoftmaxOutput", x, {}, "softmax");
}

namespace detail {

inline Symbol Bn(const Symbol& x, const std::string& name) {
  return Layer("BatchNorm", x, {{"fix_gamma", "False"}, {"eps", "2e-05"}, {"momentum", "0.9"}},
               name);
}

inline Symbol Relu(const Symbol& x, const std::string& name) {
  return Layer("Activation", x, {{"act_type", "relu"}}, name);
}

inline Symbol Conv(const Symbol& x, int64_t filters, int64_t kernel, int64_t stride, int64_t pad,
                   const std::string& name) {
  const std::string k = "(" + std::to_string(kernel) + "," + std::to_string(kernel) + ")";
  const std::string s = "(" + std::to_string(stride) + "," + std::to_string(stride) + ")";
  const std::string p = "(" + std::to_string(pad) + "," + std::to_string(pad) + ")";
  return Layer("Convolution", x,
               {{"num_filter", std::to_string(filters)},
                {"kernel", k},
                {"stride", s},
                {"pad", p},
                {"no_bias", "True"},
                {"workspace", "256"}},
               name);
}

// resnet.py's residual_unit with bottle_neck=True.
inline Symbol ResidualUnit(const Symbol& data, int64_t filters, int64_t stride, bool dim_match,
                           const std::string& name) {
  Symbol act1 = Relu(Bn(data, name + "_bn1"), name + "_relu1");
  Symbol conv1 = Conv(act1, filters / 4, 1, 1, 0, name + "_conv1");
  Symbol act2 = Relu(Bn(conv1, name + "_bn2"), name + "_relu2");
  Symbol conv2 = Conv(act2, filters / 4, 3, stride, 1, name + "_conv2");
  Symbol act3 = Relu(Bn(conv2, name + "_bn3"), name + "_relu3");
  Symbol conv3 = Conv(act3, filters, 1, 1, 0, name + "_conv3");
  Symbol shortcut = dim_match ? data : Conv(act1, filters, 1, stride, 0, name + "_sc");
  return Symbol::Op("elemwise_add").Input("lhs", conv3).Input("rhs", shortcut).Name(name + "_plus");
}

}  // namespace detail

/// The model zoo's ResNet-50 for 224x224 images (resnet.py, num_layers=50).
inline Symbol ResNet50(int64_t num_classes = 1000) {
  using detail::Bn;
  Symbol x = Symbol::Variable("data");
  x = Layer("BatchNorm", x, {{"fix_gamma", "True"}, {"eps", "2e-05"}, {"momentum", "0.9"}},
            "bn_data");
  x = detail::Conv(x, 64, 7, 2, 3, "conv0");
  x = detail::Relu(Bn(x, "bn0"), "relu0");
  x = Layer("Pooling", x,
            {{"kernel", "(3,3)"}, {"stride", "(2,2)"}, {"pad", "(1,1)"}, {"pool_type", "max"}},
            "pooling0");
  const int units[] = {3, 4, 6, 3};
  const int64_t filters[] = {256, 512, 1024, 2048};
  for (int stage = 0; stage < 4; ++stage) {
    const std::string prefix = "stage" + std::to_string(stage + 1) + "_unit";
    x = detail::ResidualUnit(x, filters[stage], stage == 0 ? 1 : 2, false, prefix + "1");
    for (int u = 1; u < units[stage]; ++u) {
      x = detail::ResidualUnit(x, filters[stage], 1, true, prefix + std::to_string(u + 1));
    }
  }
  x = detail::Relu(Bn(x, "bn1"), "relu1");
  x = Layer("Pooling", x, {{"global_pool", "True"}, {"kernel", "(7,7)"}, {"pool_type", "avg"}},
            "pool1");
  x = Layer("Flatten", x, {}, "flatten0");
  x = Layer("FullyConnected", x, {{"num_hidden", std::to_string(num_classes)}}, "fc1");
  return Layer("SoftmaxOutput", x, {}, "softmax");
}

}  // namespace loom::bench
