// FullyConnected, Convolution, Deconvolution, Pooling and UpSampling through the executor: outputs
// against the naive reference kernels, every gradient against finite differences in float64,
// grad_req 'add', float32 runs, and the CPU kernel's limits as NotSupportedErrors.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "nn_test_util.h"
#include "operators/cpu/reference/convolution.h"
#include "operators/cpu/reference/fully_connected.h"
#include "operators/cpu/reference/pooling.h"

namespace loom {
namespace {

using nn_test::CheckGradients;
using nn_test::GradientCase;
using nn_test::Op;
using Params = std::vector<std::pair<std::string, std::string>>;

TEST(NnFullyConnected, MatchesReferenceAndFiniteDifferences) {
  struct Config {
    Params params;
    Shape data;
  };
  const Config configs[] = {{{{"num_hidden", "3"}}, {2, 5}},
                            {{{"num_hidden", "4"}, {"no_bias", "True"}}, {3, 2, 3}},
                            {{{"num_hidden", "2"}, {"flatten", "False"}}, {2, 3, 4}}};
  for (const Config& cfg : configs) {
    Symbol fc = Op("FullyConnected", cfg.params);
    SCOPED_TRACE(fc.ToJSON());
    GradientCase c{fc, {{"op_data", cfg.data}}};
    const auto out = CheckGradients(c);
    nn_test::Bound b = nn_test::BindCase(c, "null");
    cpu::FullyConnectedParams p{.num_hidden = std::stoi(cfg.params[0].second)};
    for (const auto& [k, v] : cfg.params) {
      if (k == "no_bias") p.no_bias = true;
      if (k == "flatten") p.flatten = false;
    }
    std::vector<double> ref(out[0].size());
    const double* bias = p.no_bias ? nullptr : b.args.at("op_bias").data();
    cpu::reference::FullyConnectedForward(p, cfg.data, b.args.at("op_data").data(),
                                          b.args.at("op_weight").data(), bias, ref.data());
    test::ExpectAllNear(out[0], ref, 1e-12, 1e-12, "FullyConnected output");
  }
}

TEST(NnFullyConnected, Float32RunsAndOtherDtypesAreNotSupported) {
  Symbol fc = Op("FullyConnected", {{"num_hidden", "2"}});
  Executor exe = Executor::SimpleBind(fc, Context::CPU(), {{"op_data", {2, 3}}});
  nn_test::Set(exe.arg_dict().at("op_data"), {1, 2, 3, 4, 5, 6});
  nn_test::Set(exe.arg_dict().at("op_weight"), {1, 0, 1, 0, 1, 0});
  nn_test::Set(exe.arg_dict().at("op_bias"), {0.5, -0.5});
  exe.Forward(true);
  EXPECT_EQ(nn_test::Get(exe.outputs()[0]), (std::vector<double>{4.5, 1.5, 10.5, 4.5}));
  exe.Backward({NDArray::Ones({2, 2})});
  EXPECT_EQ(nn_test::Get(exe.grad_dict().at("op_weight")), (std::vector<double>{5, 7, 9, 5, 7, 9}));
  EXPECT_EQ(nn_test::Get(exe.grad_dict().at("op_bias")), (std::vector<double>{2, 2}));

  Executor half = Executor::SimpleBind(fc, Context::CPU(), {{"op_data", {2, 3}}},
                                       {{"op_data", DType::kInt32}}, "null");
  half.Forward(false);
  EXPECT_THAT([&] { half.outputs()[0].WaitToRead(); },
              ::testing::ThrowsMessage<NotSupportedError>(::testing::AllOf(
                  ::testing::HasSubstr("FullyConnected"), ::testing::HasSubstr("int32"),
                  ::testing::HasSubstr("node 'op'"))));
}

cpu::ConvolutionParams ConvParams(const Params& params) {
  cpu::ConvolutionParams p;
  auto dims = [](const std::string& s) {
    std::vector<int64_t> v;
    for (int64_t d : Shape::Parse(s)) v.push_back(d);
    return v;
  };
  for (const auto& [k, v] : params) {
    if (k == "kernel") p.kernel = dims(v);
    if (k == "stride") p.stride = dims(v);
    if (k == "dilate") p.dilate = dims(v);
    if (k == "pad") p.pad = dims(v);
    if (k == "num_filter") p.num_filter = std::stoi(v);
    if (k == "num_group") p.num_group = std::stoi(v);
    if (k == "no_bias") p.no_bias = v == "True";
  }
  const size_t k = p.kernel.size();
  if (p.stride.empty()) p.stride.assign(k, 1);
  if (p.dilate.empty()) p.dilate.assign(k, 1);
  if (p.pad.empty()) p.pad.assign(k, 0);
  return p;
}

TEST(NnConvolution, MatchesReferenceAndFiniteDifferences) {
  struct Config {
    Params params;
    Shape data;
  };
  const Config configs[] = {
      {{{"kernel", "(3,3)"}, {"num_filter", "2"}}, {2, 2, 5, 5}},
      {{{"kernel", "(2,3)"},
        {"num_filter", "4"},
        {"stride", "(2,1)"},
        {"pad", "(1,1)"},
        {"num_group", "2"}},
       {1, 2, 5, 4}},
      {{{"kernel", "(3,3)"}, {"num_filter", "2"}, {"dilate", "(2,2)"}, {"no_bias", "True"}},
       {1, 1, 6, 6}},
      {{{"kernel", "(3,)"}, {"num_filter", "2"}, {"stride", "(2,)"}}, {2, 2, 7}},
      {{{"kernel", "(2,2,2)"}, {"num_filter", "2"}, {"pad", "(1,0,1)"}}, {1, 2, 3, 3, 2}}};
  for (const Config& cfg : configs) {
    Symbol conv = Op("Convolution", cfg.params);
    SCOPED_TRACE(conv.ToJSON());
    GradientCase c{conv, {{"op_data", cfg.data}}};
    const auto out = CheckGradients(c);
    nn_test::Bound b = nn_test::BindCase(c, "null");
    const cpu::ConvolutionParams p = ConvParams(cfg.params);
    std::vector<double> ref(out[0].size());
    cpu::reference::ConvolutionForward(p, cfg.data, b.exe.outputs()[0].shape(),
                                       b.args.at("op_data").data(), b.args.at("op_weight").data(),
                                       p.no_bias ? nullptr : b.args.at("op_bias").data(),
                                       ref.data());
    test::ExpectAllNear(out[0], ref, 1e-12, 1e-12, "Convolution output");
  }
}

TEST(NnConvolution, Float32MatchesFloat64) {
  Symbol conv = Op("Convolution", {{"kernel", "(5,5)"}, {"num_filter", "3"}});
  GradientCase c{conv, {{"op_data", {4, 2, 9, 9}}}};
  nn_test::Bound b64 = nn_test::BindCase(c, "write");
  c.dtypes = {
      {"op_data", DType::kFloat32}, {"op_weight", DType::kFloat32}, {"op_bias", DType::kFloat32}};
  nn_test::Bound b32 = nn_test::BindCase(c, "write");
  const auto y64 = nn_test::Outputs(b64.exe, true), y32 = nn_test::Outputs(b32.exe, true);
  test::ExpectAllNear(y32[0], y64[0], 1e-4, 1e-4, "float32 output");
  b64.exe.Backward({NDArray::Ones(b64.exe.outputs()[0].shape(), Context::CPU(), DType::kFloat64)});
  b32.exe.Backward({NDArray::Ones(b32.exe.outputs()[0].shape())});
  for (const char* name : {"op_data", "op_weight", "op_bias"}) {
    test::ExpectAllNear(nn_test::Get(b32.exe.grad_dict().at(name)),
                        nn_test::Get(b64.exe.grad_dict().at(name)), 1e-4, 1e-3, name);
  }
}

TEST(NnDeconvolution, MatchesReferenceAndFiniteDifferences) {
  struct Config {
    Params params;
    Shape data;
    Shape out;
  };
  const Config configs[] = {
      {{{"kernel", "(3,3)"}, {"num_filter", "2"}}, {1, 2, 3, 3}, {1, 2, 5, 5}},
      {{{"kernel", "(3,3)"},
        {"num_filter", "2"},
        {"stride", "(2,2)"},
        {"pad", "(1,1)"},
        {"adj", "(1,1)"},
        {"no_bias", "False"}},
       {2, 2, 3, 3},
       {2, 2, 6, 6}},
      {{{"kernel", "(4,4)"},
        {"num_filter", "4"},
        {"stride", "(2,2)"},
        {"num_group", "2"},
        {"target_shape", "(6,7)"}},
       {1, 2, 3, 4},
       {1, 4, 6, 7}}};
  for (const Config& cfg : configs) {
    Symbol deconv = Op("Deconvolution", cfg.params);
    SCOPED_TRACE(deconv.ToJSON());
    GradientCase c{deconv, {{"op_data", cfg.data}}};
    const auto out = CheckGradients(c);
    nn_test::Bound b = nn_test::BindCase(c, "null");
    ASSERT_EQ(b.exe.outputs()[0].shape(), cfg.out);
    cpu::ConvolutionParams p = ConvParams(cfg.params);
    p.no_bias = !b.args.contains("op_bias");
    // MXNet's padding for target_shape (6,7): (8 - 6 + 1) / 2 and (10 - 7 + 1) / 2 (adj 1).
    if (cfg.out[3] == 7) p.pad = {1, 2};
    std::vector<double> ref(out[0].size());
    cpu::reference::DeconvolutionForward(
        p, cfg.data, cfg.out, b.args.at("op_data").data(), b.args.at("op_weight").data(),
        p.no_bias ? nullptr : b.args.at("op_bias").data(), ref.data());
    test::ExpectAllNear(out[0], ref, 1e-12, 1e-12, "Deconvolution output");
  }
}

TEST(NnPooling, MatchesReferenceAndFiniteDifferences) {
  struct Config {
    Params params;
    Shape data;
    cpu::PoolingParams ref;
  };
  using cpu::PoolType;
  const Config configs[] = {
      {{{"kernel", "(2,2)"}, {"stride", "(2,2)"}},
       {2, 2, 4, 4},
       {.type = PoolType::kMax, .kernel = {2, 2}, .stride = {2, 2}, .pad = {0, 0}}},
      {{{"kernel", "(3,3)"}, {"stride", "(2,2)"}, {"pad", "(1,1)"}, {"pool_type", "avg"}},
       {1, 2, 5, 5},
       {.type = PoolType::kAvg, .kernel = {3, 3}, .stride = {2, 2}, .pad = {1, 1}}},
      {{{"kernel", "(3,3)"},
        {"pad", "(1,1)"},
        {"pool_type", "avg"},
        {"count_include_pad", "False"}},
       {1, 1, 4, 4},
       {.type = PoolType::kAvg,
        .kernel = {3, 3},
        .stride = {1, 1},
        .pad = {1, 1},
        .count_include_pad = false}},
      {{{"kernel", "(2,)"},
        {"pool_type", "sum"},
        {"pooling_convention", "full"},
        {"stride", "(2,)"}},
       {2, 3, 5},
       {.type = PoolType::kSum, .kernel = {2}, .stride = {2}, .pad = {0}}},
      {{{"global_pool", "True"}, {"pool_type", "max"}, {"kernel", "(1,1)"}},
       {2, 3, 3, 2},
       {.type = PoolType::kMax, .kernel = {}, .stride = {}, .pad = {}, .global_pool = true}},
      {{{"kernel", "(2,2,2)"}, {"pool_type", "avg"}},
       {1, 1, 3, 3, 3},
       {.type = PoolType::kAvg, .kernel = {2, 2, 2}, .stride = {1, 1, 1}, .pad = {0, 0, 0}}}};
  for (const Config& cfg : configs) {
    Symbol pool = Op("Pooling", cfg.params);
    SCOPED_TRACE(pool.ToJSON());
    GradientCase c{pool, {{"op_data", cfg.data}}};
    const auto out = CheckGradients(c);
    nn_test::Bound b = nn_test::BindCase(c, "null");
    std::vector<double> ref(out[0].size());
    cpu::reference::PoolingForward(cfg.ref, cfg.data, b.exe.outputs()[0].shape(),
                                   b.args.at("op_data").data(), ref.data());
    test::ExpectAllNear(out[0], ref, 1e-12, 1e-12, "Pooling output");
  }
}

TEST(NnPooling, LpPoolingAndChannelLastAreNotSupported) {
  for (const Params& params : {Params{{"kernel", "(2,2)"}, {"pool_type", "lp"}, {"p_value", "2"}},
                               Params{{"kernel", "(2,2)"}, {"layout", "NHWC"}}}) {
    Symbol pool = Op("Pooling", params);
    Executor exe = Executor::SimpleBind(pool, Context::CPU(), {{"op_data", {1, 2, 4, 4}}});
    exe.Forward(false);
    EXPECT_THAT([&] { exe.outputs()[0].WaitToRead(); },
                ::testing::ThrowsMessage<NotSupportedError>(
                    ::testing::AllOf(::testing::HasSubstr("Pooling: the CPU kernel supports"),
                                     ::testing::HasSubstr("in node 'op' (Pooling)"))));
  }
}

TEST(NnUpSampling, NearestAndBilinearFiniteDifferences) {
  // One input: every pixel repeated over a 2x2 block.
  Symbol up = Op("UpSampling", {{"scale", "2"}, {"sample_type", "nearest"}, {"num_args", "1"}});
  GradientCase one{up, {{"op_arg0", {1, 1, 2, 2}}}, {}, {{"op_arg0", {1, 2, 3, 4}}}};
  EXPECT_EQ(CheckGradients(one)[0],
            (std::vector<double>{1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4}));
  // Two inputs of different sizes, concatenated and summed.
  Symbol a = Symbol::Variable("a"), b = Symbol::Variable("b");
  for (const char* mode : {"concat", "sum"}) {
    Symbol multi = Op(
        "UpSampling",
        {{"scale", "2"}, {"sample_type", "nearest"}, {"num_args", "2"}, {"multi_input_mode", mode}},
        {a, b});
    GradientCase two{multi, {{"a", {1, 2, 2, 2}}, {"b", {1, 2, 4, 4}}}};
    const auto out = CheckGradients(two);
    EXPECT_EQ(out[0].size(), std::string(mode) == "sum" ? 32u : 64u);
  }
  Symbol bilinear =
      Op("UpSampling",
         {{"scale", "2"}, {"sample_type", "bilinear"}, {"num_filter", "2"}, {"num_args", "2"}});
  GradientCase bl{bilinear, {{"op_data", {1, 2, 3, 3}}}};
  EXPECT_EQ(CheckGradients(bl)[0].size(), 2u * 6 * 6);
}

}  // namespace
}  // namespace loom
