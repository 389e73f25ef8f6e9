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
// Usage: mpirun -np 2 bench_comm [--repeats R] [--bucket-mb M]. Rank 0's last line is one JSON
// object. overlap_hidden_fraction and scaling_2ranks need the trainer and are not measured here.
#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "loom/comm.h"

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

int main(int argc, char** argv) {
  int repeats = 10;
  int bucket_mb = 25;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--repeats")) repeats = std::atoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--bucket-mb")) bucket_mb = std::atoi(argv[i + 1]);
  }
  // MPI_THREAD_MULTIPLE: the raw reference runs on this thread while Loom's communication
  // threads poll theirs.
  int provided = 0;
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
        "{\"kvstore_vs_raw_allreduce\": %.3f, \"bucketer_vs_raw_allreduce\": %.3f, "
        "\"raw_allreduce_ms\": %.2f, \"raw_iallreduce_ms\": %.2f, \"kvstore_ms\": %.2f, "
        "\"bucketer_ms\": %.2f, "
        "\"tensors\": %d, \"floats\": %lld, \"ranks\": %d}\n",
        raw_s / kv_s, raw_s / bucketer_s, raw_s * 1e3, raw_nb_s * 1e3, kv_s * 1e3, bucketer_s * 1e3,
        n, static_cast<long long>(total), size);
  }
  MPI_Finalize();
  return 0;
}
