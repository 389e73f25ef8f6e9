// bench_comm: the cost of Loom's gradient reduction against one raw MPI_Allreduce of the same
// bytes, in the same run. The gradient set is ResNet-50's (torchvision's layout: 161 tensors,
// 25,557,032 float32 values). Per repetition, after a barrier each:
//   raw       one MPI_Allreduce (in place) of a 25.6 M float buffer, on the main thread
//   raw_nb    the same as one MPI_Iallreduce polled with MPI_Test (Open MPI runs another
//             algorithm for nonblocking collectives; Loom's backend uses those)
//   kvstore   KVStore("dist_sync").PushPull(all 161 keys, last layer first, grads in place):
//             fused into 25 MiB buckets, one MPI_Iallreduce each on the comm thread
//   bucketer  GradientBucketer.Ready(i) for i = 160..0, then Wait()
// Figures are medians; a ratio is raw seconds / Loom seconds (the fraction of raw bandwidth).
//
// Then a LeNet training step (the trainer's builtin lenet with BatchNorm, 1x28x28, batch 64 per
// rank, SGD; one kernel thread and one engine worker per rank), K steps pipelined as in training:
//   compute   Forward, Backward, Update without communication, both ranks at once
//   synced    the same with one 2 KB reduction per step of the last gradient backward produces
//             (conv1_weight's): the synchronisation of the ranks that every synchronous
//             data-parallel step has (the slower rank sets the pace), without the bytes
//   comm      the KVStore's PushPull of LeNet's gradients alone
//   step      the data-parallel step (Module with the kvstore: gradients go out as backward
//             produces them)
//   single    compute on rank 0 alone while rank 1 sleeps
//   overlap_hidden_fraction = (synced + comm - step) / comm, clamped to [0, 1]: the share of
//                             the communication that costs no step time (with both cores busy
//                             computing, the MPI shared-memory reduction's copies take CPU time
//                             from the compute: lenet_compute_ms shows the step without any)
//   scaling_2ranks          = 2 * single / step: samples/s of 2 ranks over 1 rank
// Usage: mpirun -np 2 bench_comm [--repeats R] [--bucket-mb M]. Rank 0's last line is one JSON
// object.
#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "loom/comm.h"
#include "loom/scheduler/engine.h"
#include "loom/train/initializer.h"
#include "loom/train/models.h"
#include "loom/train/module.h"

namespace {

using Clock = std::chrono::steady_clock;

// torchvision's resnet50() parameters in registration order: conv1, bn1, layer1..4 of
// Bottleneck blocks (conv1 1x1, bn1, conv2 3x3, bn2, conv3 1x1, bn3, [downsample conv, bn]), fc.
std::vector<loom::Shape> ResNet50GradShapes() {
  std::vector<loom::Shape> shapes;
  auto bn = [&](int64_t c) {
    shapes.push_back({c});  // gamma
    shapes.push_back({c});  // beta
  };
  shapes.push_back({64, 3, 7, 7});
  bn(64);
  int64_t in = 64;
  const int blocks[] = {3, 4, 6, 3};
  const int64_t widths[] = {64, 128, 256, 512};
  for (int layer = 0; layer < 4; ++layer) {
    const int64_t w = widths[layer];
    for (int b = 0; b < blocks[layer]; ++b) {
      shapes.push_back({w, in, 1, 1});
      bn(w);
      shapes.push_back({w, w, 3, 3});
      bn(w);
      shapes.push_back({4 * w, w, 1, 1});
      bn(4 * w);
      if (b == 0) {
        shapes.push_back({4 * w, in, 1, 1});
        bn(4 * w);
      }
      in = 4 * w;
    }
  }
  shapes.push_back({1000, 2048});
  shapes.push_back({1000});
  return shapes;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

double Since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

}  // namespace

// Waits for the other ranks without spinning a core (MPI_Barrier busy-polls).
void SleepingBarrier() {
  MPI_Request req;
  MPI_Ibarrier(MPI_COMM_WORLD, &req);
  for (int done = 0;;) {
    MPI_Test(&req, &done, MPI_STATUS_IGNORE);
    if (done) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

struct LeNetFigures {
  double compute_ms = 0, synced_ms = 0, comm_ms = 0, step_ms = 0, single_ms = 0;
};

LeNetFigures MeasureLeNet(int repeats, size_t bucket_bytes, int rank) {
  constexpr int64_t kBatch = 64;
  constexpr int kSteps = 10;
  loom::proto::Model model;
  model.set_builtin("lenet");
  model.set_num_classes(10);
  const loom::Symbol symbol = loom::train::BuildModel(model, loom::Shape{1, 28, 28});
  loom::proto::Optimizer sgd;
  sgd.set_name("sgd");
  sgd.set_lr(0.01f);
  loom::comm::KVStoreOptions kv_options;
  kv_options.bucket_bytes = bucket_bytes;
  auto kv =
      std::shared_ptr<loom::comm::KVStore>(loom::comm::KVStore::Create("dist_sync", kv_options));

  auto make = [&](bool distributed) {
    auto m = std::make_unique<loom::train::Module>(symbol);
    m->Bind({{"data", loom::Shape{kBatch, 1, 28, 28}}}, {{"softmax_label", loom::Shape{kBatch}}});
    if (distributed) m->SetKVStore(kv);
    m->InitParams(*loom::train::Initializer::Create({}), /*seed=*/1);
    m->InitOptimizer(sgd);
    m->SyncParams();
    return m;
  };
  auto alone = make(false);
  auto together = make(true);
  std::vector<float> pixels(static_cast<size_t>(kBatch * 28 * 28));
  std::vector<float> labels(static_cast<size_t>(kBatch));
  for (size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<float>((i * 7919) % 256) / 255;
  for (size_t i = 0; i < labels.size(); ++i) labels[i] = static_cast<float>(i % 10);
  loom::train::DataBatch batch;
  batch.data = {loom::NDArray::FromHost(pixels, loom::Shape{kBatch, 1, 28, 28})};
  batch.label = {loom::NDArray::FromHost(labels, loom::Shape{kBatch})};

  // The gradient set alone, through a store of its own with the same keys and buckets.
  auto kv_comm = loom::comm::KVStore::Create("dist_sync", kv_options);
  std::vector<loom::comm::Key> keys;
  std::vector<loom::NDArray> grads;
  const std::vector<std::string>& names = together->param_names();
  for (int i = static_cast<int>(names.size()) - 1; i >= 0; --i) {
    const loom::NDArray& g = together->executor().grad_dict().at(names[static_cast<size_t>(i)]);
    keys.emplace_back(i);
    grads.push_back(loom::NDArray::Ones(g.shape()));
  }
  std::vector<loom::comm::Key> init_keys(keys.rbegin(), keys.rend());
  std::vector<loom::NDArray> init_values(grads.rbegin(), grads.rend());
  kv_comm->Init(init_keys, init_values);
  // The synchronisation alone: one reduction of the smallest, last gradient.
  auto kv_sync = loom::comm::KVStore::Create("dist_sync", kv_options);
  const loom::NDArray last_grad = alone->executor().grad_dict().at(names.front());
  kv_sync->Init(0, loom::NDArray::Zeros(last_grad.shape()));

  auto steps = [&](loom::train::Module& m, bool sync) {
    const Clock::time_point start = Clock::now();
    for (int s = 0; s < kSteps; ++s) {
      m.Forward(batch, /*is_train=*/true);
      m.Backward();
      if (sync) kv_sync->PushPull(0, {last_grad}, {last_grad});
      m.Update();
    }
    loom::Engine::Get().WaitForAll();
    return Since(start) / kSteps;
  };
  auto comm_only = [&] {
    const Clock::time_point start = Clock::now();
    for (int s = 0; s < kSteps; ++s) kv_comm->PushPull(keys, grads, grads);
    for (const loom::NDArray& g : grads) g.WaitToRead();
    return Since(start) / kSteps;
  };
  steps(*alone, false);  // warm-up
  steps(*alone, true);
  steps(*together, false);
  comm_only();
  std::vector<double> compute, synced, comm, step, single;
  for (int r = 0; r < repeats; ++r) {
    MPI_Barrier(MPI_COMM_WORLD);
    compute.push_back(steps(*alone, false));
    MPI_Barrier(MPI_COMM_WORLD);
    synced.push_back(steps(*alone, true));
    MPI_Barrier(MPI_COMM_WORLD);
    comm.push_back(comm_only());
    MPI_Barrier(MPI_COMM_WORLD);
    step.push_back(steps(*together, false));
    MPI_Barrier(MPI_COMM_WORLD);
    if (rank == 0) single.push_back(steps(*alone, false));
    SleepingBarrier();
  }
  LeNetFigures f;
  f.compute_ms = Median(compute) * 1e3;
  f.synced_ms = Median(synced) * 1e3;
  f.comm_ms = Median(comm) * 1e3;
  f.step_ms = Median(step) * 1e3;
  if (rank == 0) f.single_ms = Median(single) * 1e3;
  return f;
}

int main(int argc, char** argv) {
  // One kernel thread and one engine worker per rank: the figures compare ranks, not threads.
  setenv("LOOM_KERNEL_THREADS", "1", /*overwrite=*/0);
  setenv("LOOM_CPU_WORKER_NTHREADS", "1", /*overwrite=*/0);
  int repeats = 10;
  int bucket_mb = 25;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--repeats")) repeats = std::atoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--bucket-mb")) bucket_mb = std::atoi(argv[i + 1]);
  }
  // MPI_THREAD_MULTIPLE: the raw reference runs on this thread while Loom's communication
  // threads poll theirs.
  int provided = 0;
  loom::comm::PrepareMpiEnvironment();  // as Loom itself does before MPI_Init
  MPI_Init_thread(&argc, &argv, MPI_THREAD_MULTIPLE, &provided);
  int rank = 0, size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  if (provided < MPI_THREAD_MULTIPLE || size < 2) {
    if (rank == 0) {
      std::fprintf(stderr,
                   "bench_comm needs MPI_THREAD_MULTIPLE and at least 2 ranks: run "
                   "mpirun -np 2 bench_comm\n");
    }
    MPI_Finalize();
    return 2;
  }

  const std::vector<loom::Shape> shapes = ResNet50GradShapes();
  int64_t total = 0;
  for (const loom::Shape& s : shapes) total += s.Size();
  const int n = static_cast<int>(shapes.size());

  std::vector<float> raw(static_cast<size_t>(total), 1.0f);
  std::vector<double> t_raw, t_raw_nb, t_kv, t_bucketer;
  {
    loom::comm::KVStoreOptions options;
    options.bucket_bytes = static_cast<size_t>(bucket_mb) << 20;
    auto kv = loom::comm::KVStore::Create("dist_sync", options);
    std::vector<loom::comm::Key> keys;
    std::vector<loom::NDArray> grads, bucketer_grads;
    for (int i = 0; i < n; ++i) {
      kv->Init(i, loom::NDArray::Zeros(shapes[i]));
      grads.push_back(loom::NDArray::Ones(shapes[i]));
      bucketer_grads.push_back(loom::NDArray::Ones(shapes[i]));
    }
    std::vector<loom::NDArray> reversed(grads.rbegin(), grads.rend());
    for (int i = n - 1; i >= 0; --i) keys.push_back(i);
    loom::comm::GradientBucketer bucketer(kv->communicator(), bucketer_grads, {},
                                          {.bucket_bytes = options.bucket_bytes});
    kv->WaitAll();

    auto run_kv = [&] {
      kv->PushPull(keys, reversed, reversed);
      for (const loom::NDArray& g : grads) g.WaitToRead();
    };
    auto run_bucketer = [&] {
      for (int i = n - 1; i >= 0; --i) bucketer.Ready(i);
      bucketer.Wait();
    };
    run_kv();  // warm-up: buffers, MPI connections
    run_bucketer();
    MPI_Allreduce(MPI_IN_PLACE, raw.data(), static_cast<int>(total), MPI_FLOAT, MPI_SUM,
                  MPI_COMM_WORLD);
    for (int r = 0; r < repeats; ++r) {
      MPI_Barrier(MPI_COMM_WORLD);
      Clock::time_point start = Clock::now();
      MPI_Allreduce(MPI_IN_PLACE, raw.data(), static_cast<int>(total), MPI_FLOAT, MPI_SUM,
                    MPI_COMM_WORLD);
      t_raw.push_back(Since(start));

      MPI_Barrier(MPI_COMM_WORLD);
      start = Clock::now();
      MPI_Request req;
      MPI_Iallreduce(MPI_IN_PLACE, raw.data(), static_cast<int>(total), MPI_FLOAT, MPI_SUM,
                     MPI_COMM_WORLD, &req);
      for (int done = 0; !done;) MPI_Test(&req, &done, MPI_STATUS_IGNORE);
      t_raw_nb.push_back(Since(start));

      MPI_Barrier(MPI_COMM_WORLD);
      start = Clock::now();
      run_kv();
      t_kv.push_back(Since(start));

      MPI_Barrier(MPI_COMM_WORLD);
      start = Clock::now();
      run_bucketer();
      t_bucketer.push_back(Since(start));
    }
    // Sanity: ones summed over `size` ranks, repeatedly (powers of size, exact in float).
    const float expected = static_cast<float>(std::pow(size, repeats + 1));
    const float got = grads[0].ToVector<float>()[0];
    if (got != expected) {
      std::fprintf(stderr, "rank %d: wrong kvstore result %g (expected %g)\n", rank, got, expected);
      MPI_Abort(MPI_COMM_WORLD, 1);
    }
    if (rank == 0) {
      std::printf(
          "ResNet-50 gradients: %d tensors, %lld floats (%.1f MB), %d ranks, %d repeats, "
          "buckets of %d MiB (%zu buckets)\n",
          n, static_cast<long long>(total), total * 4 / 1e6, size, repeats, bucket_mb,
          bucketer.buckets().size());
    }
  }
  const LeNetFigures lenet = MeasureLeNet(repeats, static_cast<size_t>(bucket_mb) << 20, rank);
  const double hidden =
      std::clamp((lenet.synced_ms + lenet.comm_ms - lenet.step_ms) / lenet.comm_ms, 0.0, 1.0);
  const double scaling = 2 * lenet.single_ms / lenet.step_ms;
  const double raw_s = Median(t_raw), raw_nb_s = Median(t_raw_nb), kv_s = Median(t_kv),
               bucketer_s = Median(t_bucketer);
  const double gb = total * 4.0 / 1e9;
  if (rank == 0) {
    std::printf("raw MPI_Allreduce   %8.2f ms  %6.2f GB/s\n", raw_s * 1e3, gb / raw_s);
    std::printf("raw MPI_Iallreduce  %8.2f ms  %6.2f GB/s\n", raw_nb_s * 1e3, gb / raw_nb_s);
    std::printf("kvstore pushpull    %8.2f ms  %6.2f GB/s  (%.3f of raw)\n", kv_s * 1e3, gb / kv_s,
                raw_s / kv_s);
    std::printf("gradient bucketer   %8.2f ms  %6.2f GB/s  (%.3f of raw)\n", bucketer_s * 1e3,
                gb / bucketer_s, raw_s / bucketer_s);
    std::printf(
        "LeNet step (batch 64 per rank): compute %.2f ms, synchronised %.2f ms, comm %.2f ms, "
        "data-parallel %.2f ms, one rank alone %.2f ms\n",
        lenet.compute_ms, lenet.synced_ms, lenet.comm_ms, lenet.step_ms, lenet.single_ms);
    std::printf(
        "{\"kvstore_vs_raw_allreduce\": %.3f, \"overlap_hidden_fraction\": %.3f, "
        "\"scaling_2ranks\": %.3f, \"bucketer_vs_raw_allreduce\": %.3f, "
        "\"raw_allreduce_ms\": %.2f, \"raw_iallreduce_ms\": %.2f, \"kvstore_ms\": %.2f, "
        "\"bucketer_ms\": %.2f, \"lenet_compute_ms\": %.3f, \"lenet_synced_ms\": %.3f, "
        "\"lenet_comm_ms\": %.3f, "
        "\"lenet_step_ms\": %.3f, \"lenet_single_rank_ms\": %.3f, "
        "\"tensors\": %d, \"floats\": %lld, \"ranks\": %d}\n",
        raw_s / kv_s, hidden, scaling, raw_s / bucketer_s, raw_s * 1e3, raw_nb_s * 1e3, kv_s * 1e3,
        bucketer_s * 1e3, lenet.compute_ms, lenet.synced_ms, lenet.comm_ms, lenet.step_ms,
        lenet.single_ms, n, static_cast<long long>(total), size);
  }
  MPI_Finalize();
  return 0;
}
