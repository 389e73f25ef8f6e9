// loom/scheduler.h: the scheduler layer in one include: the dependency engine, contexts, errors
// and environment variable names.
//
// Example (compiled as tests/scheduler/umbrella_example_test.cc, so it cannot rot):
//
//   #include "loom/scheduler.h"
//
//   loom::Engine& engine = loom::Engine::Get();
//   loom::VarHandle x = engine.NewVariable(), y = engine.NewVariable();
//   std::vector<float> a(1000, 1.0f), b(1000);
//   // Two writers of x in push order, then a reader of x that writes y.
//   engine.Push([&](loom::RunContext) { for (float& v : a) v *= 2; },
//               loom::Context::CPU(0), {}, {x}, 0, "scale");
//   engine.Push([&](loom::RunContext) { for (float& v : a) v += 1; },
//               loom::Context::CPU(0), {}, {x}, 0, "shift");
//   engine.Push([&](loom::RunContext) { for (size_t i = 0; i < a.size(); ++i) b[i] = a[i] * a[i]; },
//               loom::Context::CPU(1), {x}, {y}, 0, "square");   // another device's pool
//   engine.Push([](loom::RunContext) { throw loom::Error("bad input"); },
//               loom::Context::CPU(0), {}, {x}, 0, "broken");
//   engine.WaitForVar(y);            // b[i] == 9
//   try {
//     engine.WaitForVar(x);          // rethrows "bad input ... in operation 'broken' on cpu(0)"
//   } catch (const loom::Error& e) {
//   }
//   engine.DeleteVariable([](loom::RunContext) {}, loom::Context::CPU(0), x);
//   engine.DeleteVariable([](loom::RunContext) {}, loom::Context::CPU(0), y);
#pragma once

#include "loom/scheduler/context.h"
#include "loom/scheduler/engine.h"
#include "loom/scheduler/env.h"
#include "loom/scheduler/error.h"
