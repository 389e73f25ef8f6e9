// The machinery shared by the MPI and NCCL backends: one communication thread per communicator
// that starts collectives strictly in sequence order as the engine hands them over, polls them
// (nonblocking backend calls only), and enforces the timeout. When a started collective stalls,
// the thread asks the other ranks for their progress over a ProgressChannel (at half the timeout,
// for a warning, and shortly before the deadline) so the CommError can say which ranks are
// missing and why.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "loom/comm/communicator.h"

namespace loom::comm::detail {

using Clock = std::chrono::steady_clock;

/// A rank's progress on one communicator: the last collective it issued (pushed), started
/// (handed to the backend, inputs ready) and completed. `received` is when this answer arrived.
struct PeerProgress {
  uint64_t issued = 0;
  uint64_t started = 0;
  uint64_t completed = 0;
  Clock::time_point received{};
};

/// Out-of-band progress queries between the ranks of one communicator. All calls come from the
/// communication thread (Close from the destructor after the thread stopped). Non-blocking.
class ProgressChannel {
 public:
  virtual ~ProgressChannel() = default;
  /// Answers the queries that arrived with this rank's progress, and collects replies.
  virtual void Serve(const PeerProgress& mine) = 0;
  /// Sends a query to every other rank.
  virtual void Probe() = 0;
  /// The latest answer of `rank` (received == epoch when it never answered).
  virtual PeerProgress peer(int rank) const = 0;
  /// Stops serving; true when no message is left in flight.
  virtual bool Close() = 0;
};

/// Backend state of one started collective (an MPI request, CUDA events, ...).
struct BackendOp {
  virtual ~BackendOp() = default;
};

class ThreadedCommunicator : public Communicator {
 protected:
  ThreadedCommunicator(int rank, int size, std::chrono::milliseconds timeout)
      : Communicator(rank, size, timeout) {}
  /// Starts the communication thread; the last thing a derived constructor does.
  void StartThread(std::unique_ptr<ProgressChannel> channel);
  /// Waits for every issued collective to finish or fail, stops the thread, closes the channel
  /// and gives abandoned transfers up to a second to drain. The first thing a derived destructor
  /// does. Returns false when something is left in flight (a dead peer): its arrays are then
  /// leaked on purpose, and the backend must leave its own resources alone too.
  bool StopThread();

  /// Called in the engine operation (its thread, its stream) as req arrives; may set
  /// req.backend_data. @throws anything: the collective then fails without being started.
  virtual void Arrive(Request& req) {}

  /// @name Backend hooks, called on the communication thread.
  /// @{
  /// Starts req's collective (in sequence order). @throws CommError naming the backend's error.
  virtual std::unique_ptr<BackendOp> Launch(const Request& req) = 0;
  /// True when op's collective completed. @throws CommError naming the backend's error. Also
  /// polls collectives abandoned after a failure (until they complete or throw).
  virtual bool Test(BackendOp& op) = 0;
  /// Called once when the communicator fails (e.g. to abort an NCCL communicator).
  virtual void OnFailure() {}
  /// @}

  bool failed() const { return failed_.load(std::memory_order_acquire); }

 private:
  struct InFlight {
    Request req;
    std::unique_ptr<BackendOp> op;
    Clock::time_point started;
    Clock::time_point final_probe{};
    bool probed_half = false;
    bool warned = false;
    bool probed_final = false;
  };

  /// A started collective given up on (timeout, failure): its backend state and its arrays are
  /// kept until it completes, so a late transfer never writes into memory reused meanwhile.
  struct Abandoned {
    std::unique_ptr<BackendOp> op;
    Buffer in, out;
  };

  void Start(Request req) final;
  void Abandon(InFlight& f);
  /// Polls the abandoned collectives; true when none is left.
  bool Drain();
  void Loop();
  void CheckDeadlines(Clock::time_point now);
  /// Fails the communicator: `first` gets `error`, every other pending collective a
  /// cancellation naming it (now when on_thread, else on the thread's next pass).
  void Fail(Request& first, std::exception_ptr error, bool on_thread);
  void CancelPending();
  void FailLate(Request& req);
  std::string MissingRanks(uint64_t seq, Clock::time_point asked) const;
  std::string Where() const;

  std::unique_ptr<ProgressChannel> channel_;
  std::thread thread_;

  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Request> arrived_;  // guarded by mu_
  bool stop_ = false;             // guarded by mu_

  // Communication-thread state.
  std::map<uint64_t, Request> ready_;
  std::deque<InFlight> in_flight_;
  uint64_t next_start_ = 1;
  std::vector<Abandoned> abandoned_;  // communication thread, then the destructor

  std::atomic<bool> failed_{false};
  std::atomic<uint64_t> started_{0};
  std::atomic<uint64_t> completed_{0};
  std::mutex failure_mu_;
  std::string failure_;  // guarded by failure_mu_: the first error's message
};

/// A CommError for a backend's failure: "<what> failed on rank r of n: <reason>".
std::exception_ptr BackendError(const std::string& what, int rank, int size,
                                const std::string& reason);

}  // namespace loom::comm::detail
