#include "loom/comm/communicator.h"

#include <cerrno>
#include <climits>
#include <cmath>
#include <cstdlib>

#include "backends.h"
#include "loom/comm/launch.h"
#include "loom/scheduler/env.h"
#include "loom/scheduler/error.h"
#include "work_state.h"

namespace loom::comm {

namespace {

constexpr const char* kOpNames[] = {"allreduce", "broadcast", "allgather", "barrier"};
static_assert(std::size(kOpNames) == static_cast<size_t>(CollectiveOp::kCount),
              "kOpNames must name every CollectiveOp");

constexpr std::chrono::milliseconds kDefaultTimeout{300'000};

}  // namespace

const char* ToString(CollectiveOp op) {
  const auto i = static_cast<size_t>(op);
  return i < std::size(kOpNames) ? kOpNames[i] : "unknown collective";
}

// ---- Work -----------------------------------------------------------------------------------

void Work::Wait() const {
  if (!state_) return;
  std::unique_lock<std::mutex> lock(state_->mu);
  state_->cv.wait(lock, [&] { return state_->done; });
  if (state_->error) std::rethrow_exception(state_->error);
}

bool Work::IsCompleted() const {
  if (!state_) return true;
  std::lock_guard<std::mutex> lock(state_->mu);
  return state_->done;
}

uint64_t Work::seq() const { return state_ ? state_->seq : 0; }

CollectiveOp Work::op() const { return state_ ? state_->op : CollectiveOp::kBarrier; }

void detail::WorkState::Complete(std::exception_ptr e) {
  std::lock_guard<std::mutex> lock(mu);
  error = std::move(e);
  done = true;
  cv.notify_all();
}

// ---- options --------------------------------------------------------------------------------

std::chrono::milliseconds ResolveTimeout(const CommOptions& options) {
  if (options.timeout.count() > 0) return options.timeout;
  const std::string text = env::GetString(env::kCommTimeout, "");
  if (text.empty()) return kDefaultTimeout;
  char* end = nullptr;
  errno = 0;
  const double seconds = std::strtod(text.c_str(), &end);
  LOOM_CHECK(
      errno == 0 && end != text.c_str() && *end == '\0' && std::isfinite(seconds) && seconds > 0,
      "expected ", env::kCommTimeout, " to be a positive number of seconds but got '", text, "'");
  return std::chrono::milliseconds(std::max<int64_t>(1, std::llround(seconds * 1000)));
}

void PrepareMpiEnvironment() {
  setenv("OMPI_MCA_coll_libnbc_iallreduce_algorithm", "3", /*overwrite=*/0);
}

std::vector<std::string> AvailableBackends() {
  std::vector<std::string> names = {"local"};
  if (detail::HasMpi()) names.push_back("mpi");
  if (detail::HasNccl()) names.push_back("nccl");
  return names;
}

// ---- Communicator ---------------------------------------------------------------------------

std::shared_ptr<Communicator> Communicator::Create(const CommOptions& options) {
  const std::chrono::milliseconds timeout = ResolveTimeout(options);
  std::string backend = options.backend;
  if (backend == "auto") {
    const LaunchInfo job = DiscoverLaunch();
    if (job.size == 1) {
      backend = "local";
    } else {
      LOOM_CHECK_TYPED(NotSupportedError, detail::HasMpi(), "this process was launched as ",
                       job.ToString(),
                       " but Loom was built without MPI (LOOM_USE_MPI=OFF), so "
                       "it cannot talk to the other ranks");
      backend = "mpi";
    }
  }
  if (backend == "local") return detail::CreateLocalCommunicator(timeout);
  if (backend == "mpi") {
    LOOM_CHECK_TYPED(NotSupportedError, detail::HasMpi(),
                     "the mpi communicator needs a build with MPI (configure with "
                     "-DLOOM_USE_MPI=ON and install libopenmpi-dev)");
    return detail::CreateMpiCommunicator(timeout);
  }
  if (backend == "nccl") {
    LOOM_CHECK_TYPED(NotSupportedError, detail::HasNccl(),
                     "the nccl communicator needs a build with CUDA and NCCL (this build has ",
                     detail::HasCuda() ? "CUDA but no NCCL" : "no CUDA", ")");
    return detail::CreateNcclCommunicator(timeout, options.device);
  }
  LOOM_CHECK(false, "expected a communicator backend auto, local, mpi or nccl but got '", backend,
             "'");
  return nullptr;
}

Communicator::~Communicator() = default;

void Communicator::WaitOutstanding() {
  std::unique_lock<std::mutex> lock(outstanding_mu_);
  outstanding_cv_.wait(lock, [&] { return outstanding_ == 0; });
}

Work Communicator::AllReduce(const NDArray& in, const NDArray& out, int priority) {
  CheckArray(in, "input", CollectiveOp::kAllReduce);
  CheckArray(out, "output", CollectiveOp::kAllReduce);
  LOOM_CHECK_TYPED(ShapeError, in.size() == out.size(), "allreduce: expected an output of ",
                   in.size(), " elements (input shape ", in.shape().ToString(), ") but got ",
                   out.size(), " (shape ", out.shape().ToString(), ")");
  LOOM_CHECK_TYPED(DTypeError, in.dtype() == out.dtype(), "allreduce: expected an output of dtype ",
                   ToString(in.dtype()), " but got ", ToString(out.dtype()));
  LOOM_CHECK(in.ctx() == out.ctx(), "allreduce: expected input and output on one context but got ",
             in.ctx().ToString(), " and ", out.ctx().ToString());
  return Issue(CollectiveOp::kAllReduce, in, out, 0, priority);
}

Work Communicator::Broadcast(const NDArray& array, int root, int priority) {
  CheckArray(array, "array", CollectiveOp::kBroadcast);
  LOOM_CHECK(root >= 0 && root < size_, "broadcast: expected a root rank from 0 to ", size_ - 1,
             " but got ", root);
  return Issue(CollectiveOp::kBroadcast, array, array, root, priority);
}

Work Communicator::AllGather(const NDArray& in, const NDArray& out, int priority) {
  CheckArray(in, "input", CollectiveOp::kAllGather);
  CheckArray(out, "output", CollectiveOp::kAllGather);
  LOOM_CHECK_TYPED(ShapeError, out.size() == in.size() * size_, "allgather: expected an output of ",
                   size_, " x ", in.size(), " = ", in.size() * size_, " elements but got ",
                   out.size(), " (shape ", out.shape().ToString(), ")");
  LOOM_CHECK_TYPED(DTypeError, in.dtype() == out.dtype(), "allgather: expected an output of dtype ",
                   ToString(in.dtype()), " but got ", ToString(out.dtype()));
  LOOM_CHECK(in.ctx() == out.ctx(), "allgather: expected input and output on one context but got ",
             in.ctx().ToString(), " and ", out.ctx().ToString());
  LOOM_CHECK(in.var() != out.var(),
             "allgather: the output must not share memory with the input (give a new array)");
  return Issue(CollectiveOp::kAllGather, in, out, 0, priority);
}

Work Communicator::Barrier() { return Issue(CollectiveOp::kBarrier, {}, {}, 0, 0); }

Work Communicator::AllReduceUnscheduled(const NDArray& array) {
  CheckArray(array, "array", CollectiveOp::kAllReduce);
  LOOM_CHECK(array.ctx().is_host(), "allreduce: an unscheduled allreduce needs host memory but ",
             "the array is on ", array.ctx().ToString());
  auto state = std::make_shared<detail::WorkState>();
  state->seq = issued_.load(std::memory_order_relaxed) + 1;
  state->op = CollectiveOp::kAllReduce;
  {
    std::lock_guard<std::mutex> lock(outstanding_mu_);
    ++outstanding_;
  }
  issued_.store(state->seq, std::memory_order_release);
  Request req;
  req.work = state;
  req.seq = state->seq;
  req.op = CollectiveOp::kAllReduce;
  req.in = Buffer(array);
  req.out = req.in;
  req.run_ctx = RunContext{array.ctx()};
  Start(std::move(req));
  return Work(state);
}

void Communicator::CheckArray(const NDArray& a, const char* what, CollectiveOp op) const {
  LOOM_CHECK(!a.is_none(), ToString(op), ": the ", what, " is a none NDArray");
  if (op == CollectiveOp::kAllReduce) {
    LOOM_CHECK_TYPED(DTypeError, a.dtype() == DType::kFloat32 || a.dtype() == DType::kFloat64,
                     "allreduce: expected an ", what, " of dtype float32 or float64 but got ",
                     ToString(a.dtype()));
  }
  LOOM_CHECK(
      SupportsContext(a.ctx()), ToString(op), ": the ", backend(),
      " communicator cannot use arrays on ", a.ctx().ToString(), " (the ", what, " is there)",
      backend() == "nccl" ? "; it works on its own GPU" : "; copy it to host memory (cpu) first");
  LOOM_CHECK(a.nbytes() <= static_cast<size_t>(INT_MAX), ToString(op), ": expected at most ",
             INT_MAX, " bytes per collective but the ", what, " has ", a.nbytes(), ": split it");
}

FnProperty Communicator::PushProperty(Context) const {
  // kNoSkip: a collective runs even when its input carries an error, so the ranks stay in step
  // (the output still inherits the error).
  return FnProperty::kNoSkip;
}

Work Communicator::Issue(CollectiveOp op, NDArray in, NDArray out, int root, int priority) {
  auto state = std::make_shared<detail::WorkState>();
  state->seq = issued_.load(std::memory_order_relaxed) + 1;
  state->op = op;
  std::vector<VarHandle> reads, writes;
  if (!in.is_none() && in.var() != out.var()) reads.push_back(in.var());
  if (!out.is_none()) writes.push_back(out.var());
  const Context ctx = out.is_none() ? Context::CPU() : out.ctx();
  std::string name = std::string(ToString(op)) + "#" + std::to_string(state->seq);
  {
    std::lock_guard<std::mutex> lock(outstanding_mu_);
    ++outstanding_;
  }
  issued_.store(state->seq, std::memory_order_release);
  try {
    Engine::Get().PushAsync(
        [this, state, op, in = Buffer(in), out = Buffer(out), root](
            RunContext run_ctx, CallbackOnComplete on_complete) {
          Request req;
          req.work = state;
          req.seq = state->seq;
          req.op = op;
          req.in = in;
          req.out = out;
          req.root = root;
          req.run_ctx = run_ctx;
          req.on_complete = on_complete;
          Start(std::move(req));
        },
        ctx, reads, writes, PushProperty(ctx), priority, name);
  } catch (...) {
    Request failed;
    failed.work = state;
    failed.seq = state->seq;
    failed.op = op;
    Finish(failed, std::current_exception());
    throw;
  }
  return Work(state);
}

void Communicator::Finish(Request& req, std::exception_ptr error) {
  if (req.on_complete) (*req.on_complete)(error);
  req.work->Complete(std::move(error));
  std::lock_guard<std::mutex> lock(outstanding_mu_);
  --outstanding_;
  outstanding_cv_.notify_all();
}

std::string Communicator::Describe(const Request& req) const {
  std::string text = std::string(ToString(req.op)) + " #" + std::to_string(req.seq);
  const Buffer& a = req.in.is_none() ? req.out : req.in;
  if (!a.is_none()) {
    text += " (" + std::to_string(a.size()) + " x " + ToString(a.dtype());
    if (req.op == CollectiveOp::kBroadcast) text += ", root " + std::to_string(req.root);
    text += ")";
  }
  return text;
}

}  // namespace loom::comm
