#include "threaded_communicator.h"

#include <algorithm>
#include <cstdio>

#include "loom/scheduler/error.h"
#include "work_state.h"

namespace loom::comm::detail {
namespace {

// How often an idle communication thread serves progress queries.
constexpr auto kIdlePoll = std::chrono::milliseconds(10);
// Polls without progress before the thread starts sleeping between polls.
constexpr int kSpinPolls = 64;
constexpr auto kPollSleep = std::chrono::microseconds(50);
// How long a destructor lets abandoned transfers drain.
constexpr auto kDrainGrace = std::chrono::seconds(1);

std::string Seconds(Clock::duration d) {
  const double s = std::chrono::duration<double>(d).count();
  char buf[32];
  std::snprintf(buf, sizeof buf, s < 10 ? "%.2g s" : "%.0f s", s);
  return buf;
}

}  // namespace

std::exception_ptr BackendError(const std::string& what, int rank, int size,
                                const std::string& reason) {
  return std::make_exception_ptr(CommError(what + " failed on rank " + std::to_string(rank) +
                                           " of " + std::to_string(size) + ": " + reason));
}

void ThreadedCommunicator::StartThread(std::unique_ptr<ProgressChannel> channel) {
  channel_ = std::move(channel);
  thread_ = std::thread([this] { Loop(); });
}

bool ThreadedCommunicator::StopThread() {
  WaitOutstanding();
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  bool clean = channel_ ? channel_->Close() : true;
  const Clock::time_point until = Clock::now() + kDrainGrace;
  bool drained = Drain();
  while (!drained && Clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
    drained = Drain();
  }
  if (!drained) {
    // A peer died mid-transfer: the transfer may still write into these arrays, so their memory
    // must never be reused. Deliberately leaked.
    new std::vector<Abandoned>(std::move(abandoned_));
  }
  return clean && drained;
}

void ThreadedCommunicator::Abandon(InFlight& f) {
  if (f.op) abandoned_.push_back(Abandoned{std::move(f.op), f.req.in, f.req.out});
}

bool ThreadedCommunicator::Drain() {
  for (auto it = abandoned_.begin(); it != abandoned_.end();) {
    bool done = true;
    try {
      done = Test(*it->op);
    } catch (...) {
      // Failed: it is over too.
    }
    it = done ? abandoned_.erase(it) : it + 1;
  }
  return abandoned_.empty();
}

std::string ThreadedCommunicator::Where() const {
  return "rank " + std::to_string(rank()) + " of " + std::to_string(size());
}

void ThreadedCommunicator::Start(Request req) {
  if (failed()) {
    FailLate(req);
    return;
  }
  try {
    Arrive(req);
  } catch (...) {
    std::string reason = "unknown error";
    try {
      throw;
    } catch (const std::exception& e) {
      reason = e.what();
    } catch (...) {
    }
    Fail(req, BackendError(Describe(req), rank(), size(), reason), /*on_thread=*/false);
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    arrived_.push_back(std::move(req));
  }
  cv_.notify_one();
}

void ThreadedCommunicator::FailLate(Request& req) {
  std::string first;
  {
    std::lock_guard<std::mutex> lock(failure_mu_);
    first = failure_;
  }
  Finish(req, std::make_exception_ptr(CommError(Describe(req) + " cannot run on " + Where() +
                                                ": this communicator failed earlier: " + first)));
}

void ThreadedCommunicator::Fail(Request& first, std::exception_ptr error, bool on_thread) {
  {
    std::lock_guard<std::mutex> lock(failure_mu_);
    if (failure_.empty()) {
      try {
        std::rethrow_exception(error);
      } catch (const std::exception& e) {
        failure_ = e.what();
      }
    }
  }
  const bool already = failed_.exchange(true, std::memory_order_acq_rel);
  if (!already) OnFailure();
  Finish(first, error);
  // Everything else pending on this rank is cancelled, naming the first error. Only the
  // communication thread touches in_flight_ and ready_; from an engine thread (on_thread false)
  // they are left to it, and it cancels them on its next pass.
  if (on_thread) {
    CancelPending();
  } else {
    cv_.notify_one();
  }
}

void ThreadedCommunicator::CancelPending() {
  for (InFlight& f : in_flight_) {
    Abandon(f);
    FailLate(f.req);
  }
  in_flight_.clear();
  for (auto& [seq, req] : ready_) FailLate(req);
  ready_.clear();
}

std::string ThreadedCommunicator::MissingRanks(uint64_t seq, Clock::time_point asked) const {
  std::string missing;
  for (int r = 0; r < size(); ++r) {
    if (r == rank()) continue;
    std::string why;
    if (!channel_) {
      why = "unknown (no progress channel)";
    } else {
      const PeerProgress p = channel_->peer(r);
      if (p.received < asked) {
        why = "did not answer (dead, hung, or unreachable)";
      } else if (p.issued < seq) {
        why = p.issued == 0 ? std::string("has not issued it (it has issued no collective yet)")
                            : "has not issued it (its last issued collective is #" +
                                  std::to_string(p.issued) + ")";
      } else if (p.started < seq) {
        why = "issued it but has not started it (its inputs are not ready: still computing)";
      }
    }
    if (why.empty()) continue;
    missing += (missing.empty() ? "" : "; ") + ("rank " + std::to_string(r) + " " + why);
  }
  return missing.empty() ? "every rank started it; the transfer itself stalled"
                         : "missing: " + missing;
}

void ThreadedCommunicator::CheckDeadlines(Clock::time_point now) {
  const Clock::duration timeout = this->timeout();
  const Clock::duration grace = std::min<Clock::duration>(std::chrono::seconds(1), timeout / 4);
  for (InFlight& f : in_flight_) {
    const Clock::duration waited = now - f.started;
    if (!f.probed_half && waited >= timeout / 2) {
      if (channel_) channel_->Probe();
      f.probed_half = true;
      f.final_probe = now;
    }
    if (f.probed_half && !f.warned && waited >= timeout / 2 + grace) {
      std::fprintf(stderr, "[loom comm %s] warning: %s has waited %s of its %s timeout; %s\n",
                   Where().c_str(), Describe(f.req).c_str(), Seconds(waited).c_str(),
                   Seconds(timeout).c_str(), MissingRanks(f.req.seq, f.final_probe).c_str());
      f.warned = true;
    }
    if (!f.probed_final && waited >= timeout - grace) {
      if (channel_) channel_->Probe();
      f.probed_final = true;
      f.final_probe = now;
    }
  }
  if (in_flight_.empty()) return;
  InFlight& oldest = in_flight_.front();
  if (now - oldest.started < timeout) return;
  const std::string message = Describe(oldest.req) + " timed out after " + Seconds(timeout) +
                              " on " + Where() + " (LOOM_COMM_TIMEOUT); " +
                              MissingRanks(oldest.req.seq, oldest.final_probe);
  Abandon(oldest);
  Request req = std::move(oldest.req);
  in_flight_.pop_front();
  Fail(req, std::make_exception_ptr(CommError(message)), /*on_thread=*/true);
}

void ThreadedCommunicator::Loop() {
  int idle_polls = 0;
  for (;;) {
    std::vector<Request> arrived;
    {
      std::unique_lock<std::mutex> lock(mu_);
      const bool startable = !ready_.empty() && ready_.begin()->first == next_start_;
      if (in_flight_.empty() && !startable && arrived_.empty()) {
        if (stop_) break;
        cv_.wait_for(lock, kIdlePoll);
      }
      arrived.swap(arrived_);
    }
    for (Request& req : arrived) {
      if (failed()) {
        FailLate(req);
      } else {
        const uint64_t seq = req.seq;
        ready_.emplace(seq, std::move(req));
      }
    }
    // A failure reported from an engine thread (Start): cancel what this thread holds.
    if (failed()) CancelPending();
    while (!failed() && !ready_.empty() && ready_.begin()->first == next_start_) {
      Request req = std::move(ready_.begin()->second);
      ready_.erase(ready_.begin());
      ++next_start_;
      InFlight f;
      f.started = Clock::now();
      try {
        f.op = Launch(req);
      } catch (...) {
        Fail(req, std::current_exception(), /*on_thread=*/true);
        break;
      }
      started_.store(req.seq, std::memory_order_release);
      f.req = std::move(req);
      in_flight_.push_back(std::move(f));
    }
    bool progressed = false;
    for (auto it = in_flight_.begin(); it != in_flight_.end();) {
      bool done = false;
      try {
        done = Test(*it->op);
      } catch (...) {
        Request req = std::move(it->req);
        in_flight_.erase(it);
        Fail(req, std::current_exception(), /*on_thread=*/true);
        break;
      }
      if (!done) {
        ++it;
        continue;
      }
      const uint64_t seq = it->req.seq;
      if (seq > completed_.load(std::memory_order_relaxed)) {
        completed_.store(seq, std::memory_order_release);
      }
      Request req = std::move(it->req);
      it = in_flight_.erase(it);
      Finish(req, nullptr);
      progressed = true;
    }
    if (channel_) {
      PeerProgress mine;
      mine.issued = issued();
      mine.started = started_.load(std::memory_order_acquire);
      mine.completed = completed_.load(std::memory_order_acquire);
      channel_->Serve(mine);
    }
    if (!abandoned_.empty()) Drain();
    CheckDeadlines(Clock::now());
    if (in_flight_.empty() || progressed) {
      idle_polls = 0;
    } else if (++idle_polls < kSpinPolls) {
      std::this_thread::yield();
    } else {
      std::this_thread::sleep_for(kPollSleep);
    }
  }
}

}  // namespace loom::comm::detail
