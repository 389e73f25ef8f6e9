// SliceChannel (alias split): splits an array into equal parts along one axis.
#include "operators/cpu/layout.h"
#include "shape_util.h"
#include "slice_channel_param.h"
#include "tensor_kernels.h"

namespace loom::ops {
namespace {

void SliceChannelShape(ShapeContext& ctx) {
  const auto& p = ctx.param<SliceChannelParam>();
  const Shape& data = ctx.in(0);
  if (data.ndim() == 0) return;
  const int axis = NormalizeAxis(ctx, p.axis, data);
  const int64_t len = data[axis];
  const std::string split = "splitting data " + Str(data) + " along axis " + std::to_string(axis) +
                            " into num_outputs=" + std::to_string(p.num_outputs);
  if (len != 0 && len % p.num_outputs != 0) {
    ctx.Fail("cannot split data " + Str(data) + " along axis " + std::to_string(axis) +
             " into num_outputs=" + std::to_string(p.num_outputs) + " equal parts: " +
             std::to_string(len) + " is not a multiple of " + std::to_string(p.num_outputs));
  }
  if (p.squeeze_axis && len != 0 && len != p.num_outputs) {
    ctx.Fail("with squeeze_axis the split axis must have num_outputs=" +
             std::to_string(p.num_outputs) + " elements but data " + Str(data) + " has " +
             std::to_string(len) + " along axis " + std::to_string(axis));
  }
  Shape part;
  for (int i = 0; i < data.ndim(); ++i) {
    if (i != axis) {
      part.push_back(data[i]);
    } else if (!p.squeeze_axis) {
      part.push_back(len / p.num_outputs);
    }
  }
  for (size_t i = 0; i < ctx.num_outputs(); ++i) ctx.SetOut(i, part, split);
  // Each output determines the data's other dimensions and, unless squeezed, the split axis.
  for (size_t i = 0; i < ctx.num_outputs(); ++i) {
    const Shape& o = ctx.out(i);
    Shape back = data;
    for (int d = 0, j = 0; d < data.ndim(); ++d) {
      if (d == axis) {
        back[d] = p.squeeze_axis ? p.num_outputs : o[j++] * p.num_outputs;
      } else {
        back[d] = o[j++];
      }
    }
    ctx.SetIn(0, back, "output " + std::to_string(i) + " " + Str(o));
  }
}

LOOM_REGISTER_OP(SliceChannel)
    .Alias("split")
    .Describe(R"(Splits data into num_outputs equal parts along `axis` (which must divide);
outputs output0, output1, ..., each with the data's shape and axis size / num_outputs, or
without the axis when squeeze_axis.)")
    .Params<SliceChannelParam>()
    .Inputs({"data"})
    .Outputs([](const NodeAttrs& attrs) {
      std::vector<std::string> names;
      for (int64_t i = 0; i < attrs.param<SliceChannelParam>().num_outputs; ++i) {
        names.push_back("output" + std::to_string(i));
      }
      return names;
    })
    .InferShape(SliceChannelShape)
    .InferType(ElemwiseType)
    .Kernel(DeviceType::kCPU, FCompute([](const NodeAttrs& attrs, const OpContext&, Inputs in,
                                          Reqs req, Outputs out) {
              cpu::SplitForward(in[0], static_cast<int>(attrs.param<SliceChannelParam>().axis), out,
                                req);
            }))
    // Outputs without a gradient get _grad_zeros entries, so every part has one.
    .Gradient([](const NodePtr& n, const std::vector<NodeEntry>& g) {
      return std::vector<NodeEntry>{OutputOf(MakeBackwardNode("_backward_SliceChannel", n, g), 0)};
    });

LOOM_REGISTER_OP(_backward_SliceChannel)
    .Describe("Gradient of SliceChannel: the outputs' gradients joined along the split axis.")
    .Inputs([](const NodeAttrs& attrs) {
      std::vector<std::string> names;
      for (int64_t i = 0; i < attrs.param<SliceChannelParam>().num_outputs; ++i) {
        names.push_back("out_grad" + std::to_string(i));
      }
      return names;
    })
    .InferType([](TypeContext& ctx) { ctx.SetOut(0, ctx.in(0)); })
    .Kernel(DeviceType::kCPU, FCompute([](const NodeAttrs& attrs, const OpContext&, Inputs in,
                                          Reqs req, Outputs out) {
              cpu::SplitBackward(in, static_cast<int>(attrs.param<SliceChannelParam>().axis),
                                 out[0], req[0]);
            }));

}  // namespace
}  // namespace loom::ops
