// The MPI backend: every collective is a nonblocking MPI call (MPI_Iallreduce, MPI_Ibcast,
// MPI_Iallgather, MPI_Ibarrier) on a duplicate of MPI_COMM_WORLD with MPI_ERRORS_RETURN, started
// and polled by the communicator's own thread (threaded_communicator.h), so a dead or missing
// rank turns into a CommError at the deadline instead of a hang. A second duplicate carries the
// progress queries that name the missing ranks.
#include <array>
#include <chrono>
#include <list>
#include <thread>
#include <vector>

#include "../backends.h"
#include "../threaded_communicator.h"
#include "loom/comm/launch.h"
#include "loom/scheduler/error.h"
#include "mpi_runtime.h"

namespace loom::comm::detail {
namespace {

constexpr int kTagQuery = 1;
constexpr int kTagReply = 2;

class MpiProgressChannel final : public ProgressChannel {
 public:
  /// owns_comm: free `side` when closed cleanly (a channel of its own, not the MPI backend's).
  MpiProgressChannel(MPI_Comm side, int rank, int size, bool owns_comm)
      : side_(side), rank_(rank), owns_comm_(owns_comm), replies_(size), peers_(size) {
    auto lock = MpiRuntime::Get().Lock();
    PostQueryReceive();
    if (owns_comm_) MpiRuntime::Get().AddCommunicator();
  }
  ~MpiProgressChannel() override {
    if (!owns_comm_) return;
    MpiRuntime& rt = MpiRuntime::Get();
    if (closed_clean_) {
      auto lock = rt.Lock();
      MPI_Comm_free(&side_);
    } else {
      rt.MarkUnclean();
    }
    rt.RemoveCommunicator();
  }

  void Serve(const PeerProgress& mine) override {
    auto lock = MpiRuntime::Get().Lock();
    for (;;) {
      int flag = 0;
      MPI_Status status;
      if (query_req_ == MPI_REQUEST_NULL || MPI_Test(&query_req_, &flag, &status) != MPI_SUCCESS ||
          !flag) {
        break;
      }
      Send& send = sends_.emplace_back();
      send.buf = {mine.issued, mine.started, mine.completed};
      if (MPI_Isend(send.buf.data(), 3, MPI_UINT64_T, status.MPI_SOURCE, kTagReply, side_,
                    &send.req) != MPI_SUCCESS) {
        sends_.pop_back();
      }
      PostQueryReceive();
    }
    for (size_t r = 0; r < replies_.size(); ++r) {
      Reply& reply = replies_[r];
      if (reply.req == MPI_REQUEST_NULL) continue;
      int flag = 0;
      if (MPI_Test(&reply.req, &flag, MPI_STATUS_IGNORE) != MPI_SUCCESS) {
        reply.req = MPI_REQUEST_NULL;
        continue;
      }
      if (!flag) continue;
      peers_[r].issued = reply.buf[0];
      peers_[r].started = reply.buf[1];
      peers_[r].completed = reply.buf[2];
      peers_[r].received = Clock::now();
    }
    TestSends();
  }

  void Probe() override {
    auto lock = MpiRuntime::Get().Lock();
    for (int r = 0; r < static_cast<int>(replies_.size()); ++r) {
      if (r == rank_) continue;
      Reply& reply = replies_[r];
      if (reply.req == MPI_REQUEST_NULL) {
        MPI_Irecv(reply.buf.data(), 3, MPI_UINT64_T, r, kTagReply, side_, &reply.req);
      }
      Send& send = sends_.emplace_back();
      send.buf = {0, 0, 0};
      if (MPI_Isend(send.buf.data(), 1, MPI_UINT64_T, r, kTagQuery, side_, &send.req) !=
          MPI_SUCCESS) {
        sends_.pop_back();
      }
    }
  }

  PeerProgress peer(int rank) const override { return peers_.at(rank); }

  bool Close() override {
    auto lock = MpiRuntime::Get().Lock();
    CancelReceive(query_req_);
    for (Reply& reply : replies_) CancelReceive(reply.req);
    TestSends();
    closed_clean_ = sends_.empty();
    return closed_clean_;
  }

 private:
  struct Reply {
    std::array<uint64_t, 3> buf{};
    MPI_Request req = MPI_REQUEST_NULL;
  };
  struct Send {
    std::array<uint64_t, 3> buf{};
    MPI_Request req = MPI_REQUEST_NULL;
  };

  void PostQueryReceive() {
    if (MPI_Irecv(&query_in_, 1, MPI_UINT64_T, MPI_ANY_SOURCE, kTagQuery, side_, &query_req_) !=
        MPI_SUCCESS) {
      query_req_ = MPI_REQUEST_NULL;
    }
  }

  void TestSends() {
    for (auto it = sends_.begin(); it != sends_.end();) {
      int flag = 0;
      if (MPI_Test(&it->req, &flag, MPI_STATUS_IGNORE) != MPI_SUCCESS || flag) {
        it = sends_.erase(it);
      } else {
        ++it;
      }
    }
  }

  static void CancelReceive(MPI_Request& req) {
    if (req == MPI_REQUEST_NULL) return;
    MPI_Cancel(&req);
    MPI_Wait(&req, MPI_STATUS_IGNORE);
  }

  MPI_Comm side_;
  int rank_;
  bool owns_comm_;
  bool closed_clean_ = false;
  uint64_t query_in_ = 0;
  MPI_Request query_req_ = MPI_REQUEST_NULL;
  std::vector<Reply> replies_;
  std::vector<PeerProgress> peers_;
  std::list<Send> sends_;  // buffers must not move while their sends are in flight
};

struct MpiOp final : BackendOp {
  MPI_Request req = MPI_REQUEST_NULL;
};

MPI_Datatype ElementType(DType dtype) { return dtype == DType::kFloat64 ? MPI_DOUBLE : MPI_FLOAT; }

class MpiCommunicator final : public ThreadedCommunicator {
 public:
  MpiCommunicator(MPI_Comm comm, MPI_Comm side, int rank, int size,
                  std::chrono::milliseconds timeout)
      : ThreadedCommunicator(rank, size, timeout), comm_(comm), side_(side) {
    MpiRuntime::Get().AddCommunicator();
    StartThread(std::make_unique<MpiProgressChannel>(side_, rank, size, /*owns_comm=*/false));
  }

  ~MpiCommunicator() override {
    const bool clean = StopThread();
    MpiRuntime& rt = MpiRuntime::Get();
    if (clean) {
      auto lock = rt.Lock();
      MPI_Comm_free(&comm_);
      MPI_Comm_free(&side_);
    } else {
      // A peer died mid-transfer: leave MPI's objects alone and exit without MPI_Finalize.
      rt.MarkUnclean();
    }
    rt.RemoveCommunicator();
  }

  std::string_view backend() const override { return "mpi"; }
  bool SupportsContext(Context ctx) const override { return ctx.is_host(); }

 protected:
  std::unique_ptr<BackendOp> Launch(const Request& req) override {
    auto op = std::make_unique<MpiOp>();
    int rc = MPI_SUCCESS;
    auto lock = MpiRuntime::Get().Lock();
    switch (req.op) {
      case CollectiveOp::kAllReduce: {
        const void* send = req.in.data() == req.out.data() ? MPI_IN_PLACE : req.in.data();
        rc = MPI_Iallreduce(send, req.out.data(), static_cast<int>(req.out.size()),
                            ElementType(req.out.dtype()), MPI_SUM, comm_, &op->req);
        break;
      }
      case CollectiveOp::kBroadcast:
        rc = MPI_Ibcast(req.out.data(), static_cast<int>(req.out.nbytes()), MPI_BYTE, req.root,
                        comm_, &op->req);
        break;
      case CollectiveOp::kAllGather:
        rc = MPI_Iallgather(req.in.data(), static_cast<int>(req.in.nbytes()), MPI_BYTE,
                            req.out.data(), static_cast<int>(req.in.nbytes()), MPI_BYTE, comm_,
                            &op->req);
        break;
      case CollectiveOp::kBarrier:
        rc = MPI_Ibarrier(comm_, &op->req);
        break;
      case CollectiveOp::kCount:
        break;
    }
    if (rc != MPI_SUCCESS) {
      std::rethrow_exception(BackendError(Describe(req), rank(), size(), MpiErrorString(rc)));
    }
    return op;
  }

  bool Test(BackendOp& op) override {
    auto& mpi = static_cast<MpiOp&>(op);
    int flag = 0;
    auto lock = MpiRuntime::Get().Lock();
    const int rc = MPI_Test(&mpi.req, &flag, MPI_STATUS_IGNORE);
    if (rc != MPI_SUCCESS) {
      throw CommError("MPI_Test failed on rank " + std::to_string(rank()) + " of " +
                      std::to_string(size()) + ": " + MpiErrorString(rc));
    }
    return flag != 0;
  }

 private:
  MPI_Comm comm_;
  MPI_Comm side_;
};

// MPI_Comm_idup polled against the deadline, so a rank that never creates its communicator is
// an error instead of a hang.
MPI_Comm Duplicate(std::chrono::milliseconds timeout, int rank, int size) {
  MpiRuntime& rt = MpiRuntime::Get();
  MPI_Comm dup = MPI_COMM_NULL;
  MPI_Request req = MPI_REQUEST_NULL;
  {
    auto lock = rt.Lock();
    const int rc = MPI_Comm_idup(MPI_COMM_WORLD, &dup, &req);
    LOOM_CHECK_TYPED(CommError, rc == MPI_SUCCESS, "MPI_Comm_idup failed on rank ", rank, " of ",
                     size, ": ", MpiErrorString(rc));
  }
  const Clock::time_point deadline = Clock::now() + timeout;
  for (;;) {
    int flag = 0;
    {
      auto lock = rt.Lock();
      const int rc = MPI_Test(&req, &flag, MPI_STATUS_IGNORE);
      LOOM_CHECK_TYPED(CommError, rc == MPI_SUCCESS, "creating an MPI communicator failed on rank ",
                       rank, " of ", size, ": ", MpiErrorString(rc));
    }
    if (flag) break;
    if (Clock::now() > deadline) {
      rt.MarkUnclean();
      LOOM_CHECK_TYPED(CommError, false, "creating an MPI communicator timed out after ",
                       timeout.count() / 1000.0, " s on rank ", rank, " of ", size,
                       " (LOOM_COMM_TIMEOUT): not every rank created it; every rank must create "
                       "the same communicators (and kvstores) in the same order");
    }
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  MPI_Comm_set_errhandler(dup, MPI_ERRORS_RETURN);
  return dup;
}

}  // namespace

std::shared_ptr<Communicator> CreateMpiCommunicator(std::chrono::milliseconds timeout) {
  MpiRuntime& rt = MpiRuntime::Get();
  int rank = 0, size = 1;
  {
    auto lock = rt.Lock();
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
  }
  const LaunchInfo job = DiscoverLaunch();
  LOOM_CHECK_TYPED(CommError, job.size == 1 || (job.size == size && job.rank == rank),
                   "the launcher says this process is ", job.ToString(), " but MPI sees rank ",
                   rank, " of ", size,
                   ": is this MPI the one the launcher belongs to (e.g. "
                   "mpirun from another MPI installation, or srun without PMI support)?");
  MPI_Comm comm = Duplicate(timeout, rank, size);
  MPI_Comm side = Duplicate(timeout, rank, size);
  return std::make_shared<MpiCommunicator>(comm, side, rank, size, timeout);
}

std::unique_ptr<ProgressChannel> CreateMpiProgressChannel(std::chrono::milliseconds timeout) {
  MpiRuntime& rt = MpiRuntime::Get();
  int rank = 0, size = 1;
  {
    auto lock = rt.Lock();
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
  }
  MPI_Comm side = Duplicate(timeout, rank, size);
  return std::make_unique<MpiProgressChannel>(side, rank, size, /*owns_comm=*/true);
}

}  // namespace loom::comm::detail
