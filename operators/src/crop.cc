// Crop: cuts a window out of images, of a given size or the size of a second input.
#include "crop_param.h"
#include "operators/cpu/layout.h"
#include "shape_util.h"
#include "tensor_kernels.h"

namespace loom::ops {
namespace {

// The window over data of shape `data` for an output (or out_grad) of shape `out`.
cpu::SliceSpec CropOf(const NodeAttrs& attrs, const Shape& data, const Shape& out) {
  const auto& p = attrs.param<CropParam>();
  return cpu::ResolveCrop(data, out[2], out[3], p.offset[0], p.offset[1], p.center_crop);
}

void CropShape(ShapeContext& ctx) {
  const auto& p = ctx.param<CropParam>();
  const Shape& data = ctx.in(0);
  if (data.ndim() == 0) return;
  if (data.ndim() != 4) {
    ctx.Fail(ctx.DescribeInput(0) + " has shape " + Str(data) +
             " but expected 4 dimensions (batch, channel, height, width)");
  }
  Shape window = p.h_w;
  if (p.num_args == 2) {
    const Shape& like = ctx.in(1);
    if (like.ndim() == 0) return;
    if (like.ndim() != 4) {
      ctx.Fail(ctx.DescribeInput(1) + " has shape " + Str(like) +
               " but expected 4 dimensions (batch, channel, height, width)");
    }
    window = Shape{like[2], like[3]};
  }
  for (int i = 0; i < 2; ++i) {
    const int64_t size = data[2 + i], end = (p.center_crop ? 0 : p.offset[i]) + window[i];
    if (size != 0 && window[i] != 0 && end > size) {
      ctx.Fail("the crop window " + Str(window) +
               (p.center_crop ? "" : " at offset " + Str(p.offset)) + " does not fit data " +
               Str(data));
    }
  }
  ctx.SetOut(0, Shape{data[0], data[1], window[0], window[1]}, "data " + Str(data));
}

LOOM_REGISTER_OP(Crop)
    .Describe(R"(Crops images (N, C, H, W) to a window (h, w): h_w with one input, the height and
width of the second input with two. The window starts at offset (y, x), or is centered.)")
    .Params<CropParam>()
    .VariadicInputs("num_args")
    .InferShape(CropShape)
    .InferType(Float32Type)
    .Kernel(DeviceType::kCPU, FCompute([](const NodeAttrs& attrs, const OpContext&, Inputs in,
                                          Reqs req, Outputs out) {
              cpu::SliceForward(in[0], CropOf(attrs, in[0].shape, out[0].shape), out[0], req[0]);
            }))
    // The second input only lends its height and width: no gradient.
    .Gradient([](const NodePtr& n, const std::vector<NodeEntry>& g) {
      std::vector<NodeEntry> grads(n->inputs.size());
      grads[0] = OutputOf(MakeBackwardNode("_backward_Crop", n, {g[0]}), 0);
      return grads;
    });

LOOM_REGISTER_OP(_backward_Crop)
    .Describe("Gradient of Crop: out_grad placed in the window of zeros of the data's shape.")
    .Inputs({"out_grad"})
    .Kernel(DeviceType::kCPU, FCompute([](const NodeAttrs& attrs, const OpContext&, Inputs in,
                                          Reqs req, Outputs out) {
              cpu::SliceBackward(in[0], CropOf(attrs, out[0].shape, in[0].shape), out[0], req[0]);
            }));

}  // namespace
}  // namespace loom::ops
