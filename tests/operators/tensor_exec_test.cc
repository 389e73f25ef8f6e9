// The tensor operators through the executor, beyond the consistency cases: errors for dtypes a
// kernel does not implement, and in-place execution of element-wise chains and reshapes.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "loom/core/executor.h"
#include "loom/core/symbol.h"

namespace loom {
namespace {

using ::testing::HasSubstr;

Symbol Unary(const char* op, const Symbol& x, const char* name) {
  return Symbol::Op(op).Input("data", x).Name(name).Build();
}

TEST(TensorExec, UnsupportedDTypeNamesTheNodeTheOperatorAndTheDType) {
  Symbol net = Unary("exp", Symbol::Variable("x"), "e");
  Executor exe =
      Executor::SimpleBind(net, Context::CPU(), {{"x", {3}}}, {{"x", DType::kInt32}}, "null");
  exe.Forward(false);
  try {
    exe.outputs()[0].WaitToRead();
    FAIL() << "exp of int32 ran";
  } catch (const NotSupportedError& e) {
    EXPECT_THAT(e.what(), HasSubstr("exp"));
    EXPECT_THAT(e.what(), HasSubstr("int32"));
    EXPECT_THAT(e.what(), HasSubstr("'e'"));
  }
}

// relu(exp(x * 2)) then a Reshape: every node can write over its input, and the values are
// those computed out of place.
TEST(TensorExec, ElementwiseChainsAndReshapesRunInPlace) {
  Symbol x = Symbol::Variable("x");
  Symbol y = Unary("relu", Unary("exp", Unary("negative", x * 2, "n"), "e"), "r");
  Symbol net = Symbol::Op("Reshape").Input("data", y).Param("shape", "(-1,)").Name("flat").Build();
  const std::vector<double> xv = {-1.5, -0.25, 0, 0.5, 1, 2};
  std::vector<double> want;
  for (double v : xv) want.push_back(std::exp(-2 * v));
  for (const bool inplace : {true, false}) {
    ExecutorOptions options;
    options.inplace = inplace;
    Executor exe = Executor::SimpleBind(net, Context::CPU(), {{"x", {2, 3}}},
                                        {{"x", DType::kFloat64}}, "null", {}, options);
    NDArray arg = exe.arg_dict().at("x");
    arg.CopyFrom(NDArray::FromHost(xv, {2, 3}));
    exe.Forward(false);
    ASSERT_EQ(exe.outputs()[0].shape(), (Shape{6}));
    const std::vector<double> got = exe.outputs()[0].ToVector<double>();
    for (size_t i = 0; i < want.size(); ++i) EXPECT_DOUBLE_EQ(got[i], want[i]) << i;
    if (inplace) {
      // x * 2 writes a new buffer (x is an argument); the four nodes after it write in place.
      EXPECT_EQ(exe.memory_plan().num_inplace, 4u);
    } else {
      EXPECT_EQ(exe.memory_plan().num_inplace, 0u);
    }
  }
}

}  // namespace
}  // namespace loom
