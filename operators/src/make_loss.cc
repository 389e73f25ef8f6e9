// Loss heads without a label: MakeLoss (with scaling and normalisation) and make_loss.
#include "shape_util.h"

namespace loom::ops {
namespace {

struct MakeLossParam {
  enum class Normalization { kNull, kBatch, kValid };
  float grad_scale = 1;
  float valid_thresh = 0;
  Normalization normalization = Normalization::kNull;
  static void Declare(ParamDeclarer<MakeLossParam>& d) {
    using P = MakeLossParam;
    d("grad_scale", &P::grad_scale).Default(1).Describe("Gradient scale.");
    d("valid_thresh", &P::valid_thresh)
        .Default(0)
        .Describe("Elements above this count as valid for normalization 'valid'.");
    d("normalization", &P::normalization)
        .Default(Normalization::kNull)
        .Enum<Normalization>({{"null", Normalization::kNull},
                              {"batch", Normalization::kBatch},
                              {"valid", Normalization::kValid}})
        .Describe(
            "Gradient normalization: none, by batch size, or by the number of valid "
            "elements.");
  }
};

LOOM_REGISTER_OP(MakeLoss)
    .Describe(R"(Marks its input as a loss: identity forward; backward ignores the head gradient
and gives grad_scale (divided by the batch size or the number of elements above valid_thresh,
per normalization).)")
    .Params<MakeLossParam>()
    .Inputs({"data"})
    .InferShape(ElemwiseShape)
    .InferType(ElemwiseType);

LOOM_REGISTER_OP(make_loss)
    .Describe(R"(Marks its input as a loss: identity forward; backward gives ones (the head
gradient is ignored). Its output is named `loss`.)")
    .Inputs({"data"})
    .Outputs({"loss"})
    .InferShape(ElemwiseShape)
    .InferType(ElemwiseType)
    .InplaceOptions([](const NodeAttrs&) {
      return std::vector<std::pair<int, int>>{{0, 0}};
    });

}  // namespace
}  // namespace loom::ops
