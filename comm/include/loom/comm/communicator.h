// Communicator: collectives between the ranks of a job (allreduce, broadcast, allgather,
// barrier), run as asynchronous engine operations so they overlap with computation.
//
//   auto comm = loom::comm::Communicator::Create();      // "auto": MPI under mpirun, else local
//   loom::NDArray grad = ...;                            // float32 or float64, on any cpu(i)
//   loom::comm::Work w = comm->AllReduce(grad, grad);    // pushed: reads and writes grad
//   w.Wait();                          // grad now holds the sum over all ranks (or
//   grad.WaitToRead()) comm->Broadcast(weights, /*root=*/0).Wait();         // every rank gets rank
//   0's weights comm->Barrier().Wait();
//
// Backends: "local" (in-process, one rank: collectives are identities), "mpi" (Open MPI or any
// MPI; one ordered communication thread per communicator, nonblocking MPI calls polled against a
// deadline) and "nccl" (GPU arrays; compiled when CUDA and NCCL are, bootstrapped over MPI).
//
// Ordering contract (as MPI's and NCCL's): every rank issues the same collectives in the same
// order on a communicator. Each call takes the next sequence number when it is issued (the
// engine operation is pushed at the same moment), and the backend starts collectives strictly
// in sequence order once their inputs are ready, so collectives issued in program order never
// deadlock, whatever order the engine makes their inputs ready in. Issue collectives on one
// communicator from one thread (or order the threads yourself).
//
// Faults: a collective that has not completed `timeout` after it started on this rank fails with
// CommError naming the collective, its sequence number, this rank and the missing ranks (those
// that have not issued it, have not started it, or do not answer: dead). The error reaches
// Work::Wait and the engine variables the collective writes (the next WaitToRead rethrows it).
// After one failure the communicator is broken: later collectives fail at once with the first
// error. The process should then exit non-zero (the `loom` command does).
//
// Thread safety: rank(), size(), backend() are thread-safe. Collective calls on one communicator
// must not run concurrently (see the ordering contract). Work handles are thread-safe. A
// communicator must be destroyed before the process exits (not a static); destroying it waits for
// its issued collectives to finish or fail.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "loom/core/ndarray.h"

namespace loom::comm {

namespace detail {
struct WorkState;
}

/// The collectives. kCount keeps the name table in step.
enum class CollectiveOp : uint8_t { kAllReduce = 0, kBroadcast, kAllGather, kBarrier, kCount };
/// "allreduce", "broadcast", "allgather", "barrier".
const char* ToString(CollectiveOp op);

/// A waitable handle on one issued collective. Copyable; an empty Work (default) is complete.
class Work {
 public:
  Work() = default;
  explicit Work(std::shared_ptr<detail::WorkState> state) : state_(std::move(state)) {}

  /// Blocks until the collective completed or failed; rethrows its CommError. Thread-safe.
  void Wait() const;
  /// True once the collective completed or failed.
  bool IsCompleted() const;
  /// The collective's sequence number on its communicator (1 for the first), 0 for an empty Work.
  uint64_t seq() const;
  CollectiveOp op() const;

 private:
  std::shared_ptr<detail::WorkState> state_;
};

/// Communicator settings (conventions rule 4). Unset fields come from the environment.
struct CommOptions {
  /// "auto" (MPI when the launcher says there are several ranks, else local), "local", "mpi",
  /// "nccl".
  std::string backend = "auto";
  /// How long a started collective may wait for the other ranks; 0 = LOOM_COMM_TIMEOUT seconds,
  /// else 300 s.
  std::chrono::milliseconds timeout{0};
  /// The GPU the "nccl" backend uses; -1 = the local rank (OMPI_COMM_WORLD_LOCAL_RANK, ...) modulo
  /// the number of GPUs.
  int device = -1;
};

/// The timeout a CommOptions resolves to (LOOM_COMM_TIMEOUT when options.timeout is 0).
/// @throws loom::Error naming LOOM_COMM_TIMEOUT when it is set but not a positive number.
std::chrono::milliseconds ResolveTimeout(const CommOptions& options);

/// Backends this build has: {"local", "mpi"?, "nccl"?} (for `loom --version`).
std::vector<std::string> AvailableBackends();

/// The MPI library settings Loom's collectives rely on, as environment defaults (a value the user
/// set wins): Open MPI's nonblocking allreduce uses Rabenseifner's algorithm
/// (OMPI_MCA_coll_libnbc_iallreduce_algorithm=3), which at gradient sizes has twice the bandwidth
/// of its default (102 MB on 2 ranks: 43 ms instead of 98; the blocking MPI_Allreduce takes 48).
/// Loom calls it before it initialises MPI; a program that calls MPI_Init itself calls it first.
/// Other MPI libraries ignore the variable.
void PrepareMpiEnvironment();

class Communicator {
 public:
  /// A communicator of every rank of the job (MPI_COMM_WORLD's ranks for "mpi" and "nccl").
  /// Creating an MPI or NCCL communicator is collective: every rank must create it, in the same
  /// order relative to other communicators.
  /// @throws NotSupportedError for a backend this build lacks or (nccl) no GPU; CommError when
  ///         the backend fails to start; loom::Error for an unknown backend name.
  static std::shared_ptr<Communicator> Create(const CommOptions& options = {});

  virtual ~Communicator();
  Communicator(const Communicator&) = delete;
  Communicator& operator=(const Communicator&) = delete;

  /// "local", "mpi" or "nccl".
  virtual std::string_view backend() const = 0;
  int rank() const { return rank_; }
  int size() const { return size_; }
  std::chrono::milliseconds timeout() const { return timeout_; }
  /// Whether collectives accept arrays on ctx (host memory for local/mpi, the bound GPU for nccl).
  virtual bool SupportsContext(Context ctx) const = 0;
  /// Where to stage arrays the communicator does not accept: cpu(0), or nccl's GPU.
  virtual Context device() const { return Context::CPU(); }

  /// out = the elementwise sum over ranks of in. in and out: same shape, float32 or float64, on
  /// one context this backend supports; out may be in itself. Pushed: reads in, writes out.
  /// priority orders the engine operations that are ready at the same time.
  /// @throws DTypeError, ShapeError, loom::Error (context) at once.
  Work AllReduce(const NDArray& in, const NDArray& out, int priority = 0);
  /// Every rank's array becomes root's. Pushed: writes array (reads it on root).
  Work Broadcast(const NDArray& array, int root, int priority = 0);
  /// out (size() * in.size() elements, any shape) holds rank r's in at element offset
  /// r * in.size(). Pushed: reads in, writes out; out must not be in.
  Work AllGather(const NDArray& in, const NDArray& out, int priority = 0);
  /// Completes when every rank has issued its barrier. Pushed with no variables.
  Work Barrier();
  /// AllReduce(array, array) outside the engine: handed to the backend at once from the calling
  /// thread, which may then block on Work::Wait. For callers that are engine operations
  /// themselves (cross-replica BatchNorm, loom/comm/replica_reducer.h), where a pushed
  /// collective could queue behind the very worker waiting for it. array: host memory, float32
  /// or float64; the caller must keep pushed operations off it until the Work completes. Same
  /// ordering contract (it takes the next sequence number), timeout and faults as AllReduce.
  /// @throws DTypeError, loom::Error (context) at once.
  Work AllReduceUnscheduled(const NDArray& array);

  /// Collectives issued so far (the last sequence number). Thread-safe.
  uint64_t issued() const { return issued_.load(std::memory_order_acquire); }

 protected:
  Communicator(int rank, int size, std::chrono::milliseconds timeout)
      : rank_(rank), size_(size), timeout_(timeout) {}

  /// An array as a collective sees it: its memory (valid while the engine operation runs: the
  /// engine defers deleting the array's variable until then) and a handle on its storage block,
  /// which keeps the memory alive after a failure for a transfer still in flight. No NDArray
  /// handle: the communication thread must never drop the last one (deleting an engine
  /// variable from there could wait on the thread itself under LOOM_ENGINE=naive).
  class Buffer {
   public:
    Buffer() = default;
    explicit Buffer(const NDArray& a)
        : data_(a.is_none() ? nullptr : a.data()),
          size_(a.size()),
          dtype_(a.dtype()),
          ctx_(a.ctx()),
          storage_(a.is_none() ? Storage() : a.storage()),
          none_(a.is_none()) {}
    void* data() const { return data_; }
    int64_t size() const { return size_; }
    DType dtype() const { return dtype_; }
    size_t nbytes() const { return static_cast<size_t>(size_) * DTypeSize(dtype_); }
    Context ctx() const { return ctx_; }
    bool is_none() const { return none_; }

   private:
    void* data_ = nullptr;
    int64_t size_ = 0;
    DType dtype_ = DType::kUnknown;
    Context ctx_;
    Storage storage_;
    bool none_ = true;
  };

  /// One collective, handed to the backend when its inputs are ready (from an engine operation).
  struct Request {
    std::shared_ptr<detail::WorkState> work;
    uint64_t seq = 0;
    CollectiveOp op = CollectiveOp::kBarrier;
    Buffer in, out;  // none for a barrier; for broadcast in == out
    int root = 0;
    /// The engine operation's RunContext (its GPU stream for GPU arrays).
    RunContext run_ctx;
    /// Ends the engine operation (empty when the push itself failed).
    std::optional<CallbackOnComplete> on_complete;
    /// What the backend attached when the request arrived (e.g. a CUDA event on run_ctx.stream).
    std::shared_ptr<void> backend_data;
  };
  /// Runs req (asynchronously is fine) and eventually calls Finish(req, error) exactly once.
  /// Called from engine worker threads; must not block on other ranks.
  virtual void Start(Request req) = 0;
  /// Completes req's engine operation and Work; error is nullptr on success.
  void Finish(Request& req, std::exception_ptr error);
  /// "allreduce #7 (1000 x float32)": how messages name a collective.
  std::string Describe(const Request& req) const;
  /// The FnProperty collectives are pushed with for arrays on ctx.
  virtual FnProperty PushProperty(Context ctx) const;
  /// Blocks until every issued collective has been finished (derived destructors call it first,
  /// while their backend still runs).
  void WaitOutstanding();

 private:
  Work Issue(CollectiveOp op, NDArray in, NDArray out, int root, int priority);
  void CheckArray(const NDArray& a, const char* what, CollectiveOp op) const;

  const int rank_;
  const int size_;
  const std::chrono::milliseconds timeout_;
  std::atomic<uint64_t> issued_{0};
  std::mutex outstanding_mu_;
  std::condition_variable outstanding_cv_;
  uint64_t outstanding_ = 0;  // guarded by outstanding_mu_
};

}  // namespace loom::comm
