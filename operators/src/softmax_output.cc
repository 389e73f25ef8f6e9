// SoftmaxOutput (alias Softmax): softmax forward, cross-entropy gradient backward. A loss head:
// the gradient ignores the head gradient (unless out_grad=True), so Backward() needs none.
#include "nn_util.h"
#include "operators/cpu/softmax.h"
#include "softmax_output_param.h"

namespace loom::ops {
namespace {

void SoftmaxOutputShape(ShapeContext& ctx) {
  const auto& p = ctx.param<SoftmaxOutputParam>();
  const Shape data = ctx.in(0);
  if (data.ndim() == 0) return;
  if (!(data == ctx.in(1))) {  // a label of the data's shape holds probabilities
    if (p.multi_output) {
      LOOM_CHECK(data.ndim() >= 2, ctx.attrs().name,
                 ": SoftmaxOutput with multi_output needs "
                 "data of at least 2 dimensions but got ",
                 data.ToString());
      Shape l1{data[0], data[1] == 0 || data[0] == 0 ? 0 : data.Size() / data[0] / data[1]};
      Shape l2{data[0]};
      for (int i = 2; i < data.ndim(); ++i) l2.push_back(data[i]);
      Shape l3 = data;
      l3[1] = 1;
      const Shape& label = ctx.in(1);
      if (label.ndim() == 0) {
        ctx.SetIn(1, l1);
      } else if (!(label == l1) && !(label == l2) && !(label == l3)) {
        ctx.Fail(ctx.DescribeInput(1) + " has shape " + label.ToString() + " but expected " +
                 l1.ToString() + " or " + l2.ToString() + " from multi_output data " +
                 data.ToString());
      }
    } else {
      Shape label;
      for (int i = 0; i + 1 < data.ndim(); ++i) label.push_back(data[i]);
      ctx.SetIn(1, label, "data " + data.ToString());
    }
  }
  ctx.SetOut(0, data);
}

cpu::SoftmaxOutputParams KernelParams(const NodeAttrs& attrs) {
  const auto& p = attrs.param<SoftmaxOutputParam>();
  cpu::SoftmaxOutputParams k{.grad_scale = p.grad_scale,
                             .ignore_label = p.ignore_label,
                             .multi_output = p.multi_output,
                             .use_ignore = p.use_ignore,
                             .preserve_shape = p.preserve_shape,
                             .out_grad = p.out_grad,
                             .smooth_alpha = p.smooth_alpha};
  switch (p.normalization) {
    case SoftmaxOutputParam::Normalization::kBatch:
      k.normalization = cpu::SoftmaxNormalization::kBatch;
      break;
    case SoftmaxOutputParam::Normalization::kValid:
      k.normalization = cpu::SoftmaxNormalization::kValid;
      break;
    default:
      k.normalization = cpu::SoftmaxNormalization::kNull;
  }
  return k;
}

// (data, label) -> output
void SoftmaxOutputCompute(const NodeAttrs& attrs, const OpContext&, Views in, Reqs req, Views out) {
  cpu::SoftmaxOutputForward(KernelParams(attrs), in[0], out[0], req[0]);
}

// (output, label[, out_grad]) -> data_grad
void SoftmaxOutputBackwardCompute(const NodeAttrs& attrs, const OpContext&, Views in, Reqs req,
                                  Views out) {
  const cpu::SoftmaxOutputParams p = KernelParams(attrs);
  cpu::SoftmaxOutputBackward(p, in[0], in[1], p.out_grad ? in[2] : TensorView{}, out[0], req[0]);
}

LOOM_REGISTER_OP(SoftmaxOutput)
    .Alias("Softmax")
    .Describe(R"(Softmax of the input in the forward pass; in the backward pass the gradient of
the cross-entropy against `label` (class indices, or probabilities of the data's shape), scaled
by grad_scale. Label shape: data.shape[:-1] (multi_output: (N, d2*...*dk)).)")
    .Params<SoftmaxOutputParam>()
    .Inputs({"data", "label"})
    .InferShape(SoftmaxOutputShape)
    .InferType(ElemwiseType)
    .InplaceOptions(InplaceFirst)
    .Gradient([](const NodePtr& n, const std::vector<NodeEntry>& g) {
      std::vector<NodeEntry> in{Out(n, 0), n->inputs[1]};
      if (n->attrs.param<SoftmaxOutputParam>().out_grad) in.push_back(g[0]);
      NodePtr bw = MakeBackwardNode("_backward_SoftmaxOutput", n, std::move(in));
      return std::vector<NodeEntry>{Out(bw, 0), NodeEntry{}};
    })
    .Kernel(DeviceType::kCPU, FCompute(SoftmaxOutputCompute));

LOOM_REGISTER_OP(_backward_SoftmaxOutput)
    .Describe(R"(Gradient of SoftmaxOutput: (output - target(label)) * grad_scale / norm, times the
head gradient only with out_grad=True; the label gets none.)")
    .Inputs([](const NodeAttrs& attrs) -> std::vector<std::string> {
      if (attrs.param<SoftmaxOutputParam>().out_grad) return {"output", "label", "out_grad"};
      return {"output", "label"};
    })
    .InferType(FirstInputType)
    .Kernel(DeviceType::kCPU, FCompute(SoftmaxOutputBackwardCompute));

}  // namespace
}  // namespace loom::ops
