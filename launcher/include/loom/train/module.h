// Module: a network bound for training or inference, MXNet's mx.mod.Module in C++. `loom train`
// is a thin layer over it (trainer.h); programs use it directly (examples/train_mlp.cc).
//
//   using namespace loom::train;
//   auto train = CreateDataIter(exp.data().train(), exp.data(), {.seed = 0});
//   Module mod(BuildModel(exp.model(), Shape{784}));
//   mod.Bind(train->ProvideData(), train->ProvideLabel(), /*for_training=*/true);
//   mod.InitParams(*Initializer::Create(exp.trainer().initializer()), /*seed=*/0);
//   mod.InitOptimizer(exp.optimizer());                  // rescale_grad 1/batch by default
//   FitOptions fit;
//   fit.num_epochs = 10;
//   mod.Fit(*train, val.get(), fit);
//   auto scores = mod.Score(*val, {"accuracy"});         // {{"accuracy", 0.88}}
//   mod.SaveCheckpoint("runs/mlp", 10);                  // mlp-symbol.json + mlp-0010.params
//
// Asynchrony: Forward, Backward and Update only push work on the engine (batches are copied into
// the executor's input arrays with NDArray::CopyFrom, updates are engine operations). Fit waits
// only for a batch's forward outputs (metrics, loss check); its backward pass and update keep
// running while the host fetches and pushes the next batch. Snapshots (GetParams, optimizer
// state) are pushed copies, so they see exactly the updates pushed before them. Errors inside
// pushed work surface at the next wait, naming the node.
//
// Data parallelism over several devices of one process (MXNet's Module with a list of contexts,
// its DataParallelExecutorGroup): Module(symbol, data, label, {cpu(0), cpu(1)}) binds one executor
// per device. Every batch is split along axis 0 into contiguous slices, one per device, whose sizes
// differ by at most one (33 rows on 2 devices: 16 then 17); each device holds a copy of the
// parameters, Backward sums the gradients over the devices through a KVStore of type "device" that
// the module creates, and Update steps every copy with the summed gradient (the optimizer keeps a
// state per copy, SetReplica), so the copies stay equal and N devices with B/N rows each train
// as one device with B rows. Outputs are gathered into whole-batch arrays on the host. BatchNorm
// computes its batch statistics per device (each device's slice, as MXNet without SyncBatchNorm),
// and each device keeps its own moving statistics; GetParams returns device 0's.
//
// Data parallelism across processes (mpirun): SetKVStore(kv) with a dist_sync store makes Backward
// hand every gradient to the store as soon as it is pushed (reverse parameter order: the last
// layers' gradients are ready first, so their buckets go first), the update then sees the sum
// over all ranks, and SyncParams gives every rank rank 0's parameters. With per-rank batch B on
// N ranks the result equals one process with batch N*B (the default rescale_grad is 1/(N*B)).
//
// Thread safety: a Module is driven by one thread. Arrays returned by GetParams are copies.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "loom/comm/kvstore.h"
#include "loom/core/executor.h"
#include "loom/core/ndarray.h"
#include "loom/core/symbol.h"
#include "loom/proto/experiment.pb.h"
#include "loom/scheduler/error.h"
#include "loom/train/data_iter.h"
#include "loom/train/initializer.h"
#include "loom/train/metric.h"
#include "loom/train/mxnet_params.h"
#include "loom/train/optimizer.h"

namespace loom::train {

/// Loss (or any output) that is NaN or infinite: training stopped at this batch.
class DivergedError : public Error {
 public:
  DivergedError(std::string message, int64_t epoch, int64_t batch)
      : Error(std::move(message)), epoch_(epoch), batch_(batch) {}
  int64_t epoch() const { return epoch_; }  ///< 0-based
  int64_t batch() const { return batch_; }  ///< 0-based index in the epoch

 private:
  int64_t epoch_;
  int64_t batch_;
};

/// What SetParams / InitParams did with given parameters, fvcore style.
struct ParamLoadReport {
  std::vector<std::string> loaded;
  /// Parameters of the network no given array names (they keep their initial values).
  std::vector<std::string> missing;
  /// Given arrays the network has no parameter for (ignored).
  std::vector<std::string> unexpected;
  /// name, shape given, shape in the network (skipped).
  std::vector<std::tuple<std::string, Shape, Shape>> shape_mismatch;
  bool clean() const { return missing.empty() && unexpected.empty() && shape_mismatch.empty(); }
  /// "Skip loading parameter 'fc3_weight' due to incompatible shapes: (10,64) in the file but
  /// (5,64) in the model", then the missing and unexpected keys grouped; "" when clean.
  std::string ToString() const;
};

/// Everything the trainer reports after a batch; a callback sets `stop` to end Fit after it.
struct BatchEndInfo {
  int64_t epoch = 0;        ///< 0-based
  int64_t batch = 0;        ///< 0-based index in the epoch
  int64_t num_batches = 0;  ///< batches per epoch
  int64_t num_update = 0;   ///< optimizer updates so far (this batch's included)
  int64_t samples = 0;      ///< valid samples of the batch
  double loss = 0;          ///< the batch's mean cross-entropy (NaN when not a classifier)
  std::vector<std::pair<std::string, double>> metrics;  ///< running train metrics of the epoch
  float lr = 0;                                         ///< learning rate of this batch's update
  double batch_seconds = 0;
  double data_seconds = 0;
  bool stop = false;
};

/// After every epoch: train metrics, validation scores and the time it took.
struct EpochEndInfo {
  int64_t epoch = 0;  ///< 0-based
  int64_t num_update = 0;
  double seconds = 0;        ///< the whole epoch, validation included
  double train_seconds = 0;  ///< the training batches only
  int64_t samples = 0;
  double loss = 0;  ///< mean batch loss of the epoch (NaN when unknown)
  std::vector<std::pair<std::string, double>> train;
  std::vector<std::pair<std::string, double>> val;
  bool stop = false;
};

struct FitOptions {
  int64_t begin_epoch = 0;
  int64_t num_epochs = 1;   ///< Fit runs epochs [begin_epoch, num_epochs)
  int64_t begin_batch = 0;  ///< batches of begin_epoch already done (resuming mid-epoch)
  int64_t max_updates = 0;  ///< stop after this many updates in total (0: no limit)
  std::vector<std::string> metrics = {"accuracy"};
  int top_k = 5;
  /// Generator whose next draw seeds the executor's random operators (dropout) before every
  /// batch; nullptr: the executor keeps its own stream. Saving it in checkpoints makes resumed
  /// runs reproduce dropout masks exactly.
  std::mt19937_64* rng = nullptr;
  /// Before an epoch's first batch: epoch (0-based), the batch it starts at, batches per epoch.
  std::function<void(int64_t, int64_t, int64_t)> epoch_begin;
  std::function<void(BatchEndInfo&)> batch_end;
  std::function<void(EpochEndInfo&)> epoch_end;
};

/// How Fit ended and where.
struct FitResult {
  enum class Status { kCompleted, kStopped, kMaxUpdates } status = Status::kCompleted;
  int64_t epoch = 0;           ///< epoch in progress when it ended (num_epochs when completed)
  int64_t batch_in_epoch = 0;  ///< batches of that epoch done
};

/// symbol-json + params of an MXNet checkpoint (prefix-symbol.json, prefix-NNNN.params).
struct MXNetCheckpoint {
  Symbol symbol;
  NamedArrays arg_params;  ///< by variable name (the "arg:" prefix removed)
  NamedArrays aux_params;
};

/// Splits a .params file's arrays ("arg:<name>", "aux:<name>") into arguments and auxiliary
/// states. @throws DataError naming `file` and the key for a key with neither prefix.
std::pair<NamedArrays, NamedArrays> SplitArgAux(const NamedArrays& params, const std::string& file);

class Module {
 public:
  /// data_names / label_names: the symbol's arguments the iterators feed (by default "data" and
  /// "softmax_label"); every other argument is a parameter. group2ctx places ctx_group nodes.
  explicit Module(Symbol symbol, std::vector<std::string> data_names = {"data"},
                  std::vector<std::string> label_names = {"softmax_label"},
                  Context ctx = Context::CPU(), ContextMap group2ctx = {});
  /// Data parallelism over `contexts` (one executor per device; see the top of this file).
  /// @throws ConfigError when contexts is empty, or has several devices and group2ctx is not
  ///         empty (a model split over devices cannot also be replicated over them yet).
  Module(Symbol symbol, std::vector<std::string> data_names, std::vector<std::string> label_names,
         std::vector<Context> contexts, ContextMap group2ctx = {});
  ~Module();
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  /// Binds the executor (SimpleBind) for inputs of these shapes, one per device, each for its
  /// slice of the batch. grad_req ("write" or "add") applies to the parameters; inputs get none.
  /// Without for_training nothing gets gradients.
  /// @throws ConfigError naming the symbol's arguments when data or label names are no
  ///         arguments of it (or arguments stay unfed), or naming the batch size and the device
  ///         count when some device would get no rows; ShapeError from inference naming the node.
  void Bind(const std::vector<DataDesc>& data, const std::vector<DataDesc>& label,
            bool for_training = true, const std::string& grad_req = "write");

  /// Initialises every parameter and auxiliary state with `init` (variables in list_arguments /
  /// list_auxiliary_states order, values drawn from rng), then copies the given arrays over
  /// them (if any). Names of given arrays that the network lacks, network parameters they lack
  /// and shape mismatches are reported; loading fails (ConfigError with the report) only when
  /// not one given array fits.
  ParamLoadReport InitParams(const Initializer& init, std::mt19937_64& rng,
                             const NamedArrays& arg_params = {},
                             const NamedArrays& aux_params = {});
  ParamLoadReport InitParams(const Initializer& init, uint64_t seed,
                             const NamedArrays& arg_params = {},
                             const NamedArrays& aux_params = {});

  /// Copies parameters in by name. Without allow_missing every parameter must be given; without
  /// allow_extra no unknown name may be; shape mismatches always fail. On failure nothing is
  /// copied and the ConfigError carries the report's text.
  ParamLoadReport SetParams(const NamedArrays& arg_params, const NamedArrays& aux_params,
                            bool allow_missing = false, bool allow_extra = false);
  /// Copies (pushed) of the parameters and auxiliary states, by name (device 0's copies).
  std::pair<NamedArrays, NamedArrays> GetParams() const;

  /// Data-parallel training through `kv` (a dist type: several processes). Call before
  /// InitOptimizer (the default rescale_grad counts every rank's batch), then SyncParams once the
  /// parameters are initialised or loaded. batch_norm_reducer (comm::MakeReplicaReducer): BatchNorm
  /// computes its batch statistics over every rank's batch (ExecutorOptions::replica_reducer), so
  /// that N ranks of batch B equal one process of batch N * B; it needs SetKVStore before Bind
  /// and one device per process. With several devices, `kv` sums each gradient over the devices
  /// of every process, and SyncParams gives every device rank 0's values.
  void SetKVStore(std::shared_ptr<comm::KVStore> kv,
                  std::shared_ptr<ReplicaReducer> batch_norm_reducer = nullptr);
  /// Every rank takes rank 0's parameters and auxiliary states (broadcasts; blocks until done).
  /// Without a KVStore it does nothing.
  void SyncParams();
  const std::shared_ptr<comm::KVStore>& kvstore() const { return kv_; }

  /// The optimizer from its config: rescale_grad defaults to 1/(batch size * workers); lr_mult and
  /// wd_mult per parameter from the symbol's attributes (MultsFromAttrs); global-norm clipping from
  /// cfg.clip_global_norm. total_updates feeds a cosine schedule covering the whole run.
  void InitOptimizer(const proto::Optimizer& cfg, int64_t total_updates = 0);
  /// A ready optimizer (its parameters are declared here, index = position in param_names()).
  void InitOptimizer(std::unique_ptr<Optimizer> optimizer, float clip_global_norm = -1);
  Optimizer& optimizer();

  /// Copies the batch (each device's slice) into the executors' inputs (pushed) and pushes the
  /// forward passes; with several devices it also pushes the outputs' gathering.
  /// @throws ShapeError naming the input when a batch array does not fit what was bound, or
  ///         naming the batch size and device count when the batch has fewer rows than devices.
  void Forward(const DataBatch& batch, bool is_train);
  /// Pushes the backward pass, and the gradients' reduction over the devices (several devices)
  /// or across ranks (a KVStore).
  void Backward();
  /// One optimizer step: BeginStep, global-norm clipping if configured, Update per parameter
  /// (pushed), and with grad_req "add" the gradients zeroed afterwards.
  void Update();

  /// The outputs of the last Forward: one device's executor outputs (views valid until the next
  /// Forward), or with several devices whole-batch arrays on the host gathered from them.
  const std::vector<NDArray>& GetOutputs() const;
  /// Adds the last Forward's outputs to the metrics (waits for them).
  void UpdateMetrics(const std::vector<std::unique_ptr<EvalMetric>>& metrics,
                     const DataBatch& batch);

  /// Trains: per epoch Reset(epoch), batches Forward/Backward/Update, train metrics, then the
  /// validation scores. Stops early when a callback sets stop or max_updates is reached.
  /// @throws DivergedError naming epoch and batch when the loss or an output is not finite.
  FitResult Fit(DataIter& train, DataIter* val, const FitOptions& options);
  /// Metric values over one epoch of `data` (Reset(0)), inference mode.
  std::vector<std::pair<std::string, double>> Score(DataIter& data,
                                                    const std::vector<std::string>& metrics,
                                                    int top_k = 5);
  /// The first output over one epoch of `data` (padding rows dropped), rows concatenated.
  NDArray Predict(DataIter& data);

  /// Writes prefix-symbol.json and prefix-NNNN.params (NNNN = epoch, 4 digits) as MXNet's
  /// Module.save_checkpoint does ("arg:"/"aux:" keys). Returns the params path.
  std::string SaveCheckpoint(const std::string& prefix, int64_t epoch) const;
  /// Reads what SaveCheckpoint (or MXNet) wrote. @throws IoError, DataError, loom::Error.
  static MXNetCheckpoint LoadCheckpoint(const std::string& prefix, int64_t epoch);

  const Symbol& symbol() const { return symbol_; }
  /// The trainable arguments (list_arguments minus data and label names), in order.
  const std::vector<std::string>& param_names() const { return param_names_; }
  const std::vector<std::string>& aux_names() const { return aux_names_; }
  bool binded() const { return !devices_.empty(); }
  /// The whole batch (all devices' slices together).
  int64_t batch_size() const { return batch_size_; }
  const std::vector<Context>& contexts() const { return contexts_; }
  /// Device `device`'s executor (position in contexts()).
  Executor& executor(size_t device = 0);
  /// Seeds the random operators (dropout): device d's executor gets seed + d.
  void SetSeed(uint64_t seed);

 private:
  void CheckBound(const char* what) const;
  // Which given arrays fit which parameters (no copying yet); fills (given, name) pairs.
  ParamLoadReport MatchParams(const NamedArrays& arg_params, const NamedArrays& aux_params,
                              std::vector<std::pair<NDArray, std::string>>* copies) const;
  // Copies every given array into its parameter or auxiliary state on every device.
  void CopyIn(const std::vector<std::pair<NDArray, std::string>>& copies);
  // One device's executor, its reshaped variants and its copies of the parameters.
  struct Device {
    explicit Device(Executor e) : exec(std::move(e)) {}
    Executor exec;
    std::map<std::string, Executor> reshaped;  // by input shapes, for other batch shapes
    Executor* current = nullptr;               // the executor of the last Forward
    std::vector<NDArray> params;               // executor argument arrays, param_names_ order
    std::vector<NDArray> grads;
    std::vector<NDArray> zeros;  // grad_req "add": zeros to reset gradients with
  };
  // The bound executor, or one reshaped from it when the slice's shapes differ (Score, Predict).
  static Executor& ExecutorFor(Device& device, const ShapeDict& shapes);
  // [begin, end) rows of each device for a batch of `rows` rows.
  std::vector<std::pair<int64_t, int64_t>> Slices(int64_t rows) const;
  // The optimizer's index of parameter i's copy on device d.
  int OptimizerIndex(size_t i, size_t d) const {
    return static_cast<int>(d * param_names_.size() + i);
  }
  // Loss of the last Forward's first output (mean cross-entropy over valid rows, NaN when the
  // output is no class distribution); throws DivergedError when an output is not finite.
  double CheckedLoss(const DataBatch& batch, int64_t epoch, int64_t index) const;

  Symbol symbol_;
  std::vector<std::string> data_names_;
  std::vector<std::string> label_names_;
  std::vector<Context> contexts_;
  ContextMap group2ctx_;
  std::vector<std::string> param_names_;
  std::vector<std::string> aux_names_;
  std::map<std::string, std::map<std::string, std::string>> attrs_;  // per variable
  std::vector<std::unique_ptr<Device>> devices_;
  std::vector<NDArray> gathered_;  // several devices: the last Forward's whole-batch outputs
  bool for_training_ = false;
  bool grad_add_ = false;
  int64_t batch_size_ = 0;
  std::unique_ptr<Optimizer> optimizer_;
  float clip_global_norm_ = -1;
  std::shared_ptr<comm::KVStore> kv_;
  std::shared_ptr<ReplicaReducer> batch_norm_reducer_;
  std::unique_ptr<comm::KVStore> device_kv_;  // several devices: sums the gradients over them
  bool kv_keys_ready_ = false;                // the gradients' keys are initialised in kv_
};

}  // namespace loom::train
