// The NCCL backend: one GPU per rank. The unique id travels from rank 0 over MPI; the NCCL
// communicator is nonblocking (ncclConfig_t::blocking = 0), so initialisation and every call are
// polled against the deadline instead of hanging on a missing rank. Collectives are issued by the
// communication thread in sequence order on the backend's own stream, after an event recorded
// on the engine operation's stream (the inputs are ready there); completion is an event polled
// with cudaEventQuery, and a timeout aborts the communicator (ncclCommAbort). Progress queries
// for the error message go over MPI, like the MPI backend's.
#include <cuda_runtime.h>
#include <nccl.h>

#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "../backends.h"
#include "../threaded_communicator.h"
#include "loom/comm/launch.h"
#include "loom/core/storage.h"
#include "loom/scheduler/error.h"

namespace loom::comm::detail {
namespace {

void CheckCuda(cudaError_t status, const char* what) {
  LOOM_CHECK_TYPED(CommError, status == cudaSuccess, what, " failed: ", cudaGetErrorString(status));
}

struct Event {
  cudaEvent_t event = nullptr;
  explicit Event(int device) {
    CheckCuda(cudaSetDevice(device), "cudaSetDevice");
    CheckCuda(cudaEventCreateWithFlags(&event, cudaEventDisableTiming), "cudaEventCreate");
  }
  ~Event() {
    if (event) cudaEventDestroy(event);
  }
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;
};

struct NcclOp final : BackendOp {
  explicit NcclOp(int device) : done(device) {}
  Event done;
};

ncclDataType_t ElementType(DType dtype) {
  return dtype == DType::kFloat64 ? ncclFloat64 : ncclFloat32;
}

// Waits while a nonblocking communicator is busy; the final state (ncclSuccess or an error).
ncclResult_t Settle(ncclComm_t comm, ncclResult_t result, Clock::time_point deadline) {
  while (result == ncclInProgress) {
    if (Clock::now() > deadline) return ncclInProgress;
    std::this_thread::sleep_for(std::chrono::microseconds(50));
    if (ncclCommGetAsyncError(comm, &result) != ncclSuccess) return ncclInternalError;
  }
  return result;
}

class NcclCommunicator final : public ThreadedCommunicator {
 public:
  NcclCommunicator(int rank, int size, std::chrono::milliseconds timeout, int device,
                   ncclComm_t comm, std::unique_ptr<ProgressChannel> channel)
      : ThreadedCommunicator(rank, size, timeout), device_(device), comm_(comm) {
    CheckCuda(cudaSetDevice(device_), "cudaSetDevice");
    CheckCuda(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), "cudaStreamCreate");
    CheckCuda(cudaMalloc(&scratch_, sizeof(float)), "cudaMalloc");
    StartThread(std::move(channel));
  }

  ~NcclCommunicator() override {
    const bool clean = StopThread();
    cudaSetDevice(device_);
    if (clean && !failed()) ncclCommDestroy(comm_);
    if (clean) {
      cudaStreamDestroy(stream_);
      cudaFree(scratch_);
    }
  }

  std::string_view backend() const override { return "nccl"; }
  bool SupportsContext(Context ctx) const override { return ctx == Context::GPU(device_); }
  Context device() const override { return Context::GPU(device_); }

 protected:
  void Arrive(Request& req) override {
    if (req.op == CollectiveOp::kBarrier) return;
    auto ready = std::make_shared<Event>(device_);
    CheckCuda(cudaEventRecord(ready->event, static_cast<cudaStream_t>(req.run_ctx.stream)),
              "cudaEventRecord");
    req.backend_data = ready;
  }

  std::unique_ptr<BackendOp> Launch(const Request& req) override {
    CheckCuda(cudaSetDevice(device_), "cudaSetDevice");
    if (req.backend_data) {
      auto* ready = static_cast<Event*>(req.backend_data.get());
      CheckCuda(cudaStreamWaitEvent(stream_, ready->event, 0), "cudaStreamWaitEvent");
    }
    ncclResult_t r = ncclSuccess;
    switch (req.op) {
      case CollectiveOp::kAllReduce:
        r = ncclAllReduce(req.in.data(), req.out.data(), static_cast<size_t>(req.out.size()),
                          ElementType(req.out.dtype()), ncclSum, comm_, stream_);
        break;
      case CollectiveOp::kBroadcast:
        r = ncclBroadcast(req.out.data(), req.out.data(), req.out.nbytes(), ncclUint8, req.root,
                          comm_, stream_);
        break;
      case CollectiveOp::kAllGather:
        r = ncclAllGather(req.in.data(), req.out.data(), req.in.nbytes(), ncclUint8, comm_,
                          stream_);
        break;
      case CollectiveOp::kBarrier:
        // NCCL has no barrier: a one-element allreduce completes only when every rank joined.
        r = ncclAllReduce(scratch_, scratch_, 1, ncclFloat32, ncclSum, comm_, stream_);
        break;
      case CollectiveOp::kCount:
        break;
    }
    r = Settle(comm_, r, Clock::now() + timeout());
    if (r != ncclSuccess) {
      std::rethrow_exception(BackendError(
          Describe(req), rank(), size(),
          r == ncclInProgress ? "NCCL stayed busy past the timeout" : ncclGetErrorString(r)));
    }
    auto op = std::make_unique<NcclOp>(device_);
    CheckCuda(cudaEventRecord(op->done.event, stream_), "cudaEventRecord");
    return op;
  }

  bool Test(BackendOp& op) override {
    const cudaError_t status = cudaEventQuery(static_cast<NcclOp&>(op).done.event);
    if (status == cudaSuccess) return true;
    if (status != cudaErrorNotReady) CheckCuda(status, "cudaEventQuery");
    ncclResult_t async = ncclSuccess;
    ncclCommGetAsyncError(comm_, &async);
    LOOM_CHECK_TYPED(CommError, async == ncclSuccess || async == ncclInProgress,
                     "NCCL reported an error on rank ", rank(), " of ", size(), ": ",
                     ncclGetErrorString(async));
    return false;
  }

  void OnFailure() override { ncclCommAbort(comm_); }

 private:
  int device_;
  ncclComm_t comm_;
  cudaStream_t stream_ = nullptr;
  void* scratch_ = nullptr;
};

}  // namespace

std::shared_ptr<Communicator> CreateNcclCommunicator(std::chrono::milliseconds timeout,
                                                     int device) {
  const int gpus = NumGpus();
  LOOM_CHECK_TYPED(NotSupportedError, gpus > 0,
                   "the nccl communicator needs a GPU but none is usable on this machine");
  const LaunchInfo job = DiscoverLaunch();
  if (device < 0) device = job.local_rank % gpus;
  LOOM_CHECK(device < gpus, "nccl communicator: expected a GPU from 0 to ", gpus - 1, " but got ",
             device);
  ncclUniqueId id;
  int rank = 0, size = 1;
  std::unique_ptr<ProgressChannel> channel;
  if (job.size > 1) {
    LOOM_CHECK_TYPED(NotSupportedError, HasMpi(), "the nccl communicator of ", job.ToString(),
                     " needs MPI to exchange NCCL's unique id, but Loom was built without MPI");
    std::shared_ptr<Communicator> bootstrap = CreateMpiCommunicator(timeout);
    rank = bootstrap->rank();
    size = bootstrap->size();
    std::vector<uint8_t> bytes(sizeof(id));
    if (rank == 0) {
      LOOM_CHECK_TYPED(CommError, ncclGetUniqueId(&id) == ncclSuccess, "ncclGetUniqueId failed");
      std::memcpy(bytes.data(), &id, sizeof(id));
    }
    NDArray buffer = NDArray::FromHost<uint8_t>(bytes, {static_cast<int64_t>(bytes.size())});
    bootstrap->Broadcast(buffer, 0).Wait();
    buffer.CopyToHost(bytes.data(), bytes.size());
    std::memcpy(&id, bytes.data(), sizeof(id));
    channel = CreateMpiProgressChannel(timeout);
  } else {
    LOOM_CHECK_TYPED(CommError, ncclGetUniqueId(&id) == ncclSuccess, "ncclGetUniqueId failed");
  }
  CheckCuda(cudaSetDevice(device), "cudaSetDevice");
  ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
  config.blocking = 0;
  ncclComm_t comm = nullptr;
  ncclResult_t r = ncclCommInitRankConfig(&comm, size, id, rank, &config);
  r = Settle(comm, r, Clock::now() + timeout);
  if (r != ncclSuccess) {
    if (comm) ncclCommAbort(comm);
    LOOM_CHECK_TYPED(CommError, false, "creating the NCCL communicator failed on rank ", rank,
                     " of ", size, " (gpu(", device, ")): ",
                     r == ncclInProgress ? "not every rank joined within the timeout "
                                           "(LOOM_COMM_TIMEOUT)"
                                         : ncclGetErrorString(r));
  }
  return std::make_shared<NcclCommunicator>(rank, size, timeout, device, comm, std::move(channel));
}

}  // namespace loom::comm::detail
