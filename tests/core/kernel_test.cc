#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "loom/core/kernel.h"

namespace loom {
namespace {

TEST(TensorView, TypedAccessChecksDType) {
  std::vector<float> data(6, 1.5f);
  TensorView view{data.data(), Shape{2, 3}, DType::kFloat32, Context::CPU()};
  EXPECT_EQ(view.size(), 6);
  EXPECT_EQ(view.bytes(), 24u);
  EXPECT_EQ(view.data<float>()[5], 1.5f);
  EXPECT_THAT([&] { view.data<int32_t>(); },
              ::testing::ThrowsMessage<DTypeError>(
                  ::testing::HasSubstr("expected a tensor of dtype int32 but got float32")));
}

TEST(OpReq, AssignHonoursTheRequest) {
  float x = 2;
  Assign(OpReq::kWriteTo, x, 5.0f);
  EXPECT_EQ(x, 5);
  Assign(OpReq::kAddTo, x, 1.0f);
  EXPECT_EQ(x, 6);
  Assign(OpReq::kNull, x, 100.0f);
  EXPECT_EQ(x, 6);
  EXPECT_STREQ(ToString(OpReq::kAddTo), "add");
}

}  // namespace
}  // namespace loom
