// The typed wrappers of loom/operators/symbol_ops.h: each writes only the fields that are set.
#include "loom/operators/symbol_ops.h"

namespace loom::op {
namespace {

class Call {
 public:
  Call(const char* op, const Symbol& data, std::string_view name, const StrMap& attr)
      : call_(Symbol::Op(op)) {
    call_.Input("data", data).Attrs(attr);
    if (!name.empty()) call_.Name(std::string(name));
  }
  template <typename T>
  Call& Set(const char* key, const std::optional<T>& value) {
    if (value) Set(key, *value);
    return *this;
  }
  Call& Set(const char* key, const Shape& value) { return Raw(key, FormatParam(value)); }
  Call& Set(const char* key, int64_t value) { return Raw(key, FormatParam(value)); }
  Call& Set(const char* key, bool value) { return Raw(key, FormatParam(value)); }
  Call& Set(const char* key, double value) { return Raw(key, FormatParam(value)); }
  Call& Set(const char* key, const std::string& value) { return Raw(key, value); }
  Call& In(const char* key, const std::optional<Symbol>& input) {
    if (input) call_.Input(key, *input);
    return *this;
  }
  Symbol Build() const { return call_.Build(); }

 private:
  Call& Raw(const char* key, std::string value) {
    call_.Param(key, std::move(value));
    return *this;
  }
  OpCall call_;
};

}  // namespace

Symbol FullyConnected(const Symbol& data, const FullyConnectedArgs& a, std::string_view name) {
  return Call("FullyConnected", data, name, a.attr)
      .Set("num_hidden", a.num_hidden)
      .Set("no_bias", a.no_bias)
      .Set("flatten", a.flatten)
      .In("weight", a.weight)
      .In("bias", a.bias)
      .Build();
}

Symbol Convolution(const Symbol& data, const ConvolutionArgs& a, std::string_view name) {
  return Call("Convolution", data, name, a.attr)
      .Set("kernel", a.kernel)
      .Set("num_filter", a.num_filter)
      .Set("stride", a.stride)
      .Set("dilate", a.dilate)
      .Set("pad", a.pad)
      .Set("num_group", a.num_group)
      .Set("workspace", a.workspace)
      .Set("no_bias", a.no_bias)
      .Set("cudnn_tune", a.cudnn_tune)
      .Set("cudnn_off", a.cudnn_off)
      .Set("layout", a.layout)
      .In("weight", a.weight)
      .In("bias", a.bias)
      .Build();
}

Symbol Activation(const Symbol& data, const ActivationArgs& a, std::string_view name) {
  return Call("Activation", data, name, a.attr).Set("act_type", a.act_type).Build();
}

Symbol SoftmaxOutput(const Symbol& data, const SoftmaxOutputArgs& a, std::string_view name) {
  return Call("SoftmaxOutput", data, name, a.attr)
      .Set("grad_scale", a.grad_scale)
      .Set("ignore_label", a.ignore_label)
      .Set("multi_output", a.multi_output)
      .Set("use_ignore", a.use_ignore)
      .Set("preserve_shape", a.preserve_shape)
      .Set("normalization", a.normalization)
      .Set("out_grad", a.out_grad)
      .Set("smooth_alpha", a.smooth_alpha)
      .In("label", a.label)
      .Build();
}

Symbol Pooling(const Symbol& data, const PoolingArgs& a, std::string_view name) {
  return Call("Pooling", data, name, a.attr)
      .Set("kernel", a.kernel)
      .Set("pool_type", a.pool_type)
      .Set("global_pool", a.global_pool)
      .Set("pooling_convention", a.pooling_convention)
      .Set("stride", a.stride)
      .Set("pad", a.pad)
      .Build();
}

Symbol BatchNorm(const Symbol& data, const BatchNormArgs& a, std::string_view name) {
  return Call("BatchNorm", data, name, a.attr)
      .Set("eps", a.eps)
      .Set("momentum", a.momentum)
      .Set("fix_gamma", a.fix_gamma)
      .Set("use_global_stats", a.use_global_stats)
      .Set("output_mean_var", a.output_mean_var)
      .Set("axis", a.axis)
      .In("gamma", a.gamma)
      .In("beta", a.beta)
      .In("moving_mean", a.moving_mean)
      .In("moving_var", a.moving_var)
      .Build();
}

Symbol Dropout(const Symbol& data, const DropoutArgs& a, std::string_view name) {
  return Call("Dropout", data, name, a.attr).Set("p", a.p).Set("mode", a.mode).Build();
}

Symbol Flatten(const Symbol& data, std::string_view name) {
  return Call("Flatten", data, name, {}).Build();
}

Symbol Reshape(const Symbol& data, const ReshapeArgs& a, std::string_view name) {
  return Call("Reshape", data, name, a.attr).Set("shape", a.shape).Set("reverse", a.reverse).Build();
}

Symbol Concat(const std::vector<Symbol>& inputs, std::optional<int64_t> dim,
              std::string_view name) {
  OpCall call = Symbol::Op("Concat");
  call.Inputs(inputs);
  if (dim) call.Param("dim", *dim);
  if (!name.empty()) call.Name(std::string(name));
  return call.Build();
}

Symbol SliceChannel(const Symbol& data, const SliceChannelArgs& a, std::string_view name) {
  return Call("SliceChannel", data, name, a.attr)
      .Set("num_outputs", a.num_outputs)
      .Set("axis", a.axis)
      .Set("squeeze_axis", a.squeeze_axis)
      .Build();
}

Symbol Embedding(const Symbol& data, const EmbeddingArgs& a, std::string_view name) {
  return Call("Embedding", data, name, a.attr)
      .Set("input_dim", a.input_dim)
      .Set("output_dim", a.output_dim)
      .In("weight", a.weight)
      .Build();
}

}  // namespace loom::op
