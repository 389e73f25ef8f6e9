// Consistency cases for code paths of the GPU kernels (operators/cuda/*_gpu.cc, nn_*.cu) that
// the small cases of cases_nn.cc do not reach: softmax rows longer than one thread block,
// BatchNorm channels with more elements than a block has threads (channel-first and
// channel-last), and the cuDNN algorithm choices of cudnn_tune 'off' and 'limited_workspace'.
// On the CPU they run like every case (references and finite differences); the GPU suite
// compares the GPU kernels with the CPU on them.
#include <string>
#include <utility>
#include <vector>

#include "consistency.h"
#include "operators/cpu/reference/batch_norm.h"
#include "operators/cpu/reference/convolution.h"
#include "operators/cpu/reference/softmax.h"

namespace loom::consistency {
namespace {

namespace ref = cpu::reference;

Symbol Var(const char* name) { return Symbol::Variable(name); }

// Operator `op` named "op" on data `x`; its other inputs become variables op_<input>.
Symbol OpOnX(const std::string& op, const StrMap& params) {
  OpCall call = Symbol::Op(op);
  call.Input("data", Var("x"));
  for (const auto& [k, v] : params) call.Param(k, v);
  return call.Name("op").Build();
}

const double* P(const HostArrays& in, const char* name) { return in.at(name).values.data(); }

LOOM_CONSISTENCY_CASES(nn_gpu_paths) {
  // Rows of 300 elements: more than the 128 threads one GPU block gives a row.
  for (const char* op : {"softmax", "log_softmax"}) {
    Case c;
    c.name = std::string(op) + "_rows_3x300";
    c.symbol = [op] { return OpOnX(op, {{"axis", "-1"}}); };
    c.shapes = {{"x", {3, 300}}};
    c.inputs = {{"x", InputSpec{.lo = -3, .hi = 3}}};
    const bool log = std::string(op) == "log_softmax";
    c.reference = [log](const HostArrays& in) {
      std::vector<double> y(900);
      ref::Softmax({3, 300}, 1, 1.0, log, P(in, "x"), y.data());
      return Outputs{y};
    };
    cases.Add(std::move(c));
  }

  // 800 (channel-first, 200 per run) and 600 (channel-last) elements per channel: more than a
  // GPU block's 512 threads, so each thread steps through several (outer, inner) positions.
  struct Bn {
    const char* name;
    Shape shape;
    StrMap params;
    cpu::BatchNormParams p;
  };
  const Bn bns[] = {
      {"BatchNorm_train_4x3x10x20", {4, 3, 10, 20}, {{"fix_gamma", "False"}}, {.fix_gamma = false}},
      {"BatchNorm_train_axis_last_20x30x3",
       {20, 30, 3},
       {{"fix_gamma", "False"}, {"axis", "-1"}},
       {.fix_gamma = false, .axis = -1}}};
  for (const Bn& bn : bns) {
    Case c;
    c.name = bn.name;
    c.symbol = [params = bn.params] { return OpOnX("BatchNorm", params); };
    c.shapes = {{"x", bn.shape}};
    c.inputs = {{"op_moving_var", InputSpec{.lo = 0.5, .hi = 1.5}}};
    c.reference = [bn](const HostArrays& in) {
      std::vector<double> mm = in.at("op_moving_mean").values, mv = in.at("op_moving_var").values;
      std::vector<double> y(bn.shape.Size()), mean(mm.size()), var(mm.size());
      ref::BatchNormForward(bn.p, true, bn.shape, P(in, "x"), P(in, "op_gamma"), P(in, "op_beta"),
                            mm.data(), mv.data(), y.data(), mean.data(), var.data());
      return Outputs{y};
    };
    // Finite differences of a sum over hundreds of elements: absolute errors near 1e-7.
    c.grad = {1e-5, 1e-6};
    cases.Add(std::move(c));
  }

  // cuDNN's heuristics instead of timed search, within a workspace limit of 0 and 8 MB.
  for (const auto& [tune, workspace] :
       {std::pair<const char*, const char*>{"off", "0"}, {"limited_workspace", "8"}}) {
    Case c;
    c.name = std::string("Convolution_cudnn_tune_") + tune;
    c.symbol = [tune, workspace] {
      return OpOnX("Convolution", {{"kernel", "(3,3)"},
                                   {"pad", "(1,1)"},
                                   {"num_filter", "3"},
                                   {"cudnn_tune", tune},
                                   {"workspace", workspace}});
    };
    c.shapes = {{"x", {2, 2, 5, 4}}};
    c.reference = [](const HostArrays& in) {
      const cpu::ConvolutionParams p{
          .kernel = {3, 3}, .stride = {1, 1}, .dilate = {1, 1}, .pad = {1, 1}, .num_filter = 3};
      std::vector<double> y(2 * 3 * 5 * 4);
      ref::ConvolutionForward(p, {2, 2, 5, 4}, {2, 3, 5, 4}, P(in, "x"), P(in, "op_weight"),
                              P(in, "op_bias"), y.data());
      return Outputs{y};
    };
    c.fwd32 = {1e-4, 1e-5};
    cases.Add(std::move(c));
  }
}

}  // namespace
}  // namespace loom::consistency
