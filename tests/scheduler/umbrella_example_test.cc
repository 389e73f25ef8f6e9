// The example at the top of loom/scheduler.h, verbatim, with its stated results checked.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <vector>

#include "loom/scheduler.h"

TEST(SchedulerHeaderExample, RunsAsDocumented) {
  bool caught = false;
  std::string message;
  std::vector<float> b_out;
  {
    loom::Engine& engine = loom::Engine::Get();
    loom::VarHandle x = engine.NewVariable(), y = engine.NewVariable();
    std::vector<float> a(1000, 1.0f), b(1000);
    // Two writers of x in push order, then a reader of x that writes y.
    engine.Push([&](loom::RunContext) { for (float& v : a) v *= 2; },
                loom::Context::CPU(0), {}, {x}, 0, "scale");
    engine.Push([&](loom::RunContext) { for (float& v : a) v += 1; },
                loom::Context::CPU(0), {}, {x}, 0, "shift");
    engine.Push([&](loom::RunContext) { for (size_t i = 0; i < a.size(); ++i) b[i] = a[i] * a[i]; },
                loom::Context::CPU(1), {x}, {y}, 0, "square");   // another device's pool
    engine.Push([](loom::RunContext) { throw loom::Error("bad input"); },
                loom::Context::CPU(0), {}, {x}, 0, "broken");
    engine.WaitForVar(y);            // b[i] == 9
    b_out = b;
    try {
      engine.WaitForVar(x);          // rethrows "bad input ... in operation 'broken' on cpu(0)"
    } catch (const loom::Error& e) {
      caught = true;
      message = e.what();
    }
    engine.DeleteVariable([](loom::RunContext) {}, loom::Context::CPU(0), x);
    engine.DeleteVariable([](loom::RunContext) {}, loom::Context::CPU(0), y);
  }
  EXPECT_THAT(b_out, ::testing::Each(9.0f));
  EXPECT_TRUE(caught);
  EXPECT_THAT(message, ::testing::HasSubstr("bad input"));
  EXPECT_THAT(message, ::testing::HasSubstr("in operation 'broken' on cpu(0)"));
}
