// LeakyReLU: leaky, parametric (prelu), randomized (rrelu), elu, selu and gelu activations. The
// gradient reads the data (and prelu's gamma, rrelu's mask).
#include <algorithm>

#include "leaky_relu_param.h"
#include "nn_util.h"
#include "operators/cpu/activation.h"
#include "operators/cpu/common.h"

namespace loom::ops {
namespace {

void LeakyReLUShape(ShapeContext& ctx) {
  const auto& p = ctx.param<LeakyReLUParam>();
  // Every output (rrelu's mask too) has the data's shape.
  Shape data = ctx.in(0);
  for (size_t i = 0; i < ctx.num_outputs(); ++i) MergeShape(&data, ctx.out(i));
  ctx.SetIn(0, data, "the output shape");
  for (size_t i = 0; i < ctx.num_outputs(); ++i) ctx.SetOut(i, data, "data " + Str(data));
  if (p.act_type == LeakyReLUParam::Act::kPRelu && data.ndim() > 0 && ctx.in(1).ndim() == 0) {
    if (data.ndim() < 2) {
      ctx.Fail("prelu needs data with a channel axis (at least 2 dimensions) but got " +
               ctx.DescribeInput(0) + " " + Str(data));
    }
    // gamma has one slope per channel; MXNet also accepts a given gamma of another shape
    // (one shared slope (1,), or the data's shape).
    ctx.SetIn(1, Shape{data[1]}, "the channel count of data " + Str(data));
  }
}

bool IsPrelu(const NodeAttrs& attrs) {
  return attrs.param<LeakyReLUParam>().act_type == LeakyReLUParam::Act::kPRelu;
}
bool IsRrelu(const NodeAttrs& attrs) {
  return attrs.param<LeakyReLUParam>().act_type == LeakyReLUParam::Act::kRRelu;
}

cpu::LeakyReLUParams KernelParams(const NodeAttrs& attrs) {
  const auto& p = attrs.param<LeakyReLUParam>();
  cpu::LeakyReLUParams k{
      .slope = p.slope, .lower_bound = p.lower_bound, .upper_bound = p.upper_bound};
  switch (p.act_type) {
    case LeakyReLUParam::Act::kRRelu:
      k.type = cpu::LeakyType::kRrelu;
      break;
    case LeakyReLUParam::Act::kPRelu:
      k.type = cpu::LeakyType::kPrelu;
      break;
    case LeakyReLUParam::Act::kElu:
      k.type = cpu::LeakyType::kElu;
      break;
    case LeakyReLUParam::Act::kSelu:
      k.type = cpu::LeakyType::kSelu;
      break;
    case LeakyReLUParam::Act::kGelu:
      k.type = cpu::LeakyType::kGelu;
      break;
    default:
      k.type = cpu::LeakyType::kLeaky;
  }
  return k;
}

// (data[, gamma]) -> (output[, mask]). rrelu's mask holds the slopes used: drawn while
// training, their mean otherwise.
void LeakyReLUCompute(const NodeAttrs& attrs, const OpContext& ctx, Views in, Reqs req, Views out) {
  const cpu::LeakyReLUParams p = KernelParams(attrs);
  const bool rrelu = IsRrelu(attrs);
  cpu::LeakyReLUForward(p, ctx, in[0], IsPrelu(attrs) ? &in[1] : nullptr, out[0], req[0],
                        rrelu ? &out[1] : nullptr);
  if (rrelu && !ctx.is_train && req[1] != OpReq::kNull) {
    cpu::DispatchFloatHalf(out[1].dtype, "LeakyReLU", [&]<typename T>(cpu::Tag<T>) {
      std::fill_n(out[1].data<T>(), out[1].size(),
                  static_cast<T>((p.lower_bound + p.upper_bound) / 2));
    });
  }
}

// (out_grad, data[, gamma][, mask]) -> (data_grad[, gamma_grad])
void LeakyReLUBackwardCompute(const NodeAttrs& attrs, const OpContext&, Views in, Reqs req,
                              Views out) {
  const bool prelu = IsPrelu(attrs);
  cpu::LeakyReLUBackward(KernelParams(attrs), in[0], in[1], prelu ? &in[2] : nullptr,
                         IsRrelu(attrs) ? &in[2] : nullptr, out[0], req[0],
                         prelu ? &out[1] : nullptr, prelu ? req[1] : OpReq::kNull);
}

LOOM_REGISTER_OP(LeakyReLU)
    .Describe(R"(Leaky rectifiers and their relatives, elementwise: leaky (x or slope*x below 0),
prelu (per-channel learned slope `gamma` (C,)), rrelu (random slope in [lower_bound,
upper_bound] while training, their mean otherwise; also outputs the slopes as `mask`), elu,
selu and gelu. The output has the data's shape.)")
    .Params<LeakyReLUParam>()
    .Inputs([](const NodeAttrs& attrs) -> std::vector<std::string> {
      if (attrs.param<LeakyReLUParam>().act_type == LeakyReLUParam::Act::kPRelu) {
        return {"data", "gamma"};
      }
      return {"data"};
    })
    // As MXNet: an automatically created prelu slope starts at 0.25 unless it has an initializer.
    .SetInputVarAttrOnCompose([](const NodeAttrs&, StrMap* dict, uint32_t index) {
      if (index == 1 && !dict->contains("__init__")) {
        (*dict)["__init__"] = R"(["Constant", {"value": 0.25}])";
      }
    })
    .Outputs([](const NodeAttrs& attrs) -> std::vector<std::string> {
      if (attrs.param<LeakyReLUParam>().act_type == LeakyReLUParam::Act::kRRelu) {
        return {"output", "mask"};
      }
      return {"output"};
    })
    .InferShape(LeakyReLUShape)
    .InferType(ElemwiseType)
    .Resources([](const NodeAttrs& attrs) {
      if (IsRrelu(attrs)) return std::vector<ResourceKind>{ResourceKind::kRandom};
      return std::vector<ResourceKind>{};
    })
    .Gradient([](const NodePtr& n, const std::vector<NodeEntry>& g) {
      std::vector<NodeEntry> in{g[0], n->inputs[0]};
      if (IsPrelu(n->attrs)) in.push_back(n->inputs[1]);
      if (IsRrelu(n->attrs)) in.push_back(Out(n, 1));
      return BackwardOutputs(MakeBackwardNode("_backward_LeakyReLU", n, std::move(in)),
                             n->inputs.size());
    })
    .Kernel(DeviceType::kCPU, FCompute(LeakyReLUCompute));

LOOM_REGISTER_OP(_backward_LeakyReLU)
    .Describe("Gradients of LeakyReLU with respect to data (and prelu's gamma).")
    .Inputs([](const NodeAttrs& attrs) -> std::vector<std::string> {
      if (IsPrelu(attrs)) return {"out_grad", "data", "gamma"};
      if (IsRrelu(attrs)) return {"out_grad", "data", "mask"};
      return {"out_grad", "data"};
    })
    .NumOutputs([](const NodeAttrs& attrs) -> uint32_t { return IsPrelu(attrs) ? 2 : 1; })
    .Kernel(DeviceType::kCPU, FCompute(LeakyReLUBackwardCompute));

}  // namespace
}  // namespace loom::ops
