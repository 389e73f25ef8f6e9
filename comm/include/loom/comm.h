// loom/comm.h: the communication layer in one include: communicators (local, MPI, NCCL), MXNet's
// KVStore, gradient bucketing, and rank discovery. docs/comm.md is the guide.
//
// Example (compiled as tests/comm/umbrella_example_test.cc, so it cannot rot; run it alone or
// under `mpirun -np 2`):
//
//   #include "loom/comm.h"
//
//   auto kv = loom::comm::KVStore::Create("dist_sync");   // MPI under mpirun, else one process
//   const int workers = kv->num_workers();
//   kv->Init("w", loom::NDArray::Full({2, 3}, 1.0));      // every rank starts from rank 0's value
//   kv->SetUpdater([](const loom::comm::Key&, const loom::NDArray& grad, loom::NDArray& w) {
//     w -= grad * 0.5;                                    // a plain SGD step, once per push
//   });
//   std::vector<loom::NDArray> grads = {                  // two devices of this process
//       loom::NDArray::Full({2, 3}, 1.0, loom::Context::CPU(0)),
//       loom::NDArray::Full({2, 3}, 1.0, loom::Context::CPU(1))};
//   loom::NDArray w = loom::NDArray::Empty({2, 3});
//   kv->PushPull("w", grads, {w});                        // sum 2 * workers, then the step
//   std::vector<float> v = w.ToVector<float>();           // 1 - 0.5 * 2 * workers everywhere
//
//   auto comm = kv->communicator();                       // or Communicator::Create()
//   loom::NDArray x = loom::NDArray::Full({5}, comm->rank() + 1.0);
//   comm->AllReduce(x, x).Wait();                         // 1 + 2 + ... + workers
//   kv->Barrier();
#pragma once

#include "loom/comm/bucketer.h"
#include "loom/comm/communicator.h"
#include "loom/comm/kvstore.h"
#include "loom/comm/launch.h"
