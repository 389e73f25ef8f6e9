// RunExperiment: a whole training run from a resolved experiment (what `loom train` does): the
// run directory, data, model, Module, progress, metrics.jsonl, TensorBoard events, checkpoints,
// resume, NaN/Inf detection and Ctrl-C.
//
//   loom::proto::Experiment exp = loom::train::LoadExperiment("configs/fashion_mnist_mlp.yaml");
//   loom::train::RunReport report;
//   int status = loom::train::RunExperiment(exp, std::cout, std::cerr, {.report = &report});
//   // status 0; report.run_dir == "runs/fashion_mnist_mlp/20240101-120000"
//
// Run directory (logging.run_dir, or <logging.run_root>/<name>/<YYYYmmdd-HHMMSS>/):
//   config.yaml       the resolved experiment (ExperimentToYaml)
//   overrides.yaml    the command-line overrides, one per list item
//   metrics.jsonl     one JSON object per log step ("phase": "train") and per epoch ("epoch")
//   events.out.tfevents.*   the same scalars for TensorBoard (logging.tensorboard)
//   checkpoints/      ckpt-NNNN.pb (epoch NNNN done; every_epochs), ckpt-NNNNNNN.pb (after
//                     NNNNNNN updates; every_updates, and then for epoch ends too),
//                     ckpt-interrupted.pb (Ctrl-C), ckpt-final.pb, last_checkpoint
//   <name>-symbol.json, <name>-NNNN.params   MXNet format (checkpoint.mxnet_format)
//
// Resume (checkpoint.resume): "auto" continues from the last_checkpoint of logging.run_dir, or,
// without one, of the newest run under <run_root>/<name>/ that has a checkpoint (and writes on in
// that directory); a path resumes from that file into a new run directory. With
// trainer.deterministic a resumed run ends with bitwise the parameters of an uninterrupted one.
//
// Data parallelism: under mpirun (or Slurm, ...; see comm/launch.h) with distributed.kvstore
// dist_sync, every rank trains on its shard of the training set (data.batch_size per rank) and the
// gradients are summed across ranks, which equals one process with batch ranks * batch_size.
// Rank 0 alone decides the run directory, reads the parameter file and the checkpoint to resume
// from, shows progress and writes everything; the other ranks take its parameters, optimizer
// state and position by broadcast, so no other host needs the files. Every line a rank prints
// starts with "[rank k] ". A failed collective (a dead or stalled rank, LOOM_COMM_TIMEOUT or
// distributed.timeout_s) ends the run with status 1 and a message naming the ranks.
//
// Exit status: 0 done, 1 runtime failure (diverged, I/O, ...), 2 bad experiment (ConfigError),
// 130 interrupted by SIGINT (a checkpoint was saved). Messages go to `err`, progress to `out`.
//
// Thread safety: one RunExperiment per process at a time (it installs a SIGINT handler and sets
// the kernel thread count for the process).
#pragma once

#include <functional>
#include <optional>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "loom/comm/launch.h"
#include "loom/proto/experiment.pb.h"
#include "loom/train/module.h"

namespace loom::train {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitConfigError = 2;
inline constexpr int kExitInterrupted = 130;

/// What a run did, for programs and tests.
struct RunReport {
  std::string run_dir;
  /// Checkpoint files written, in order.
  std::vector<std::string> checkpoints;
  /// The checkpoint the run resumed from ("" when it started fresh).
  std::string resumed_from;
  /// The last epoch's metrics: "train_<metric>", "val_<metric>", "loss".
  std::vector<std::pair<std::string, double>> final_metrics;
  int64_t epochs_done = 0;
  int64_t num_update = 0;
  double seconds = 0;
};

struct RunOptions {
  /// The command-line overrides the experiment was resolved with (written to overrides.yaml).
  std::vector<std::string> overrides;
  /// Whether `out` is a terminal (progress "auto"); nullopt: isatty(stdout) when out is
  /// std::cout, otherwise false.
  std::optional<bool> is_tty;
  /// Called after each batch, after the trainer's own handling (tests raise SIGINT here).
  std::function<void(const BatchEndInfo&)> on_batch_end;
  /// Filled when not null.
  RunReport* report = nullptr;
  /// Where this process sits in a job; nullopt: comm::DiscoverLaunch() (mpirun, Slurm, ...).
  std::optional<comm::LaunchInfo> job;
};

/// Runs the experiment; returns the exit status (kExit*). Never throws for run failures: the
/// message goes to `err`.
int RunExperiment(const proto::Experiment& experiment, std::ostream& out, std::ostream& err,
                  const RunOptions& options = {});

}  // namespace loom::train
