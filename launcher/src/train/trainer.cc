// RunExperiment: one training run from a resolved experiment (see trainer.h for the run directory,
// resume rules and exit statuses).
#include "loom/train/trainer.h"

#include <unistd.h>

#include <atomic>
#include <cmath>
#include <csignal>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <sstream>

#include "line_prefix_stream.h"
#include "loom/comm/launch.h"
#include "loom/comm/replica_reducer.h"
#include "loom/core/storage.h"
#include "loom/scheduler/env.h"
#include "loom/train/atomic_file.h"
#include "loom/train/checkpoint.h"
#include "loom/train/config.h"
#include "loom/train/event_writer.h"
#include "loom/train/metrics_log.h"
#include "loom/train/models.h"
#include "loom/train/progress.h"
#include "operators/cpu/parallel.h"

namespace loom::train {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// Set by the SIGINT handler; the training loop checks it after every batch. Only an atomic store
// happens in the handler (async-signal-safe).
std::atomic<bool> g_interrupted{false};
static_assert(std::atomic<bool>::is_always_lock_free);

extern "C" void OnSigint(int) { g_interrupted.store(true, std::memory_order_relaxed); }

// Installs the SIGINT handler for the run's duration. SA_RESETHAND: a second Ctrl-C kills at once.
class SigintGuard {
 public:
  SigintGuard() {
    g_interrupted.store(false);
    struct sigaction action {};
    action.sa_handler = OnSigint;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESETHAND;
    sigaction(SIGINT, &action, &previous_);
  }
  ~SigintGuard() { sigaction(SIGINT, &previous_, nullptr); }
  SigintGuard(const SigintGuard&) = delete;
  SigintGuard& operator=(const SigintGuard&) = delete;

 private:
  struct sigaction previous_ {};
};

std::string Timestamp() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  localtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y%m%d-%H%M%S", &tm);
  return buf;
}

std::string EpochTag(int64_t epoch) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%04lld", static_cast<long long>(epoch));
  return buf;
}

std::string Quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("''") : std::string(1, c);
  return q + "'";
}

// The newest run directory of the experiment (timestamps sort by name) that has a checkpoint.
std::optional<fs::path> NewestRunWithCheckpoint(const fs::path& experiment_root) {
  std::error_code ec;
  if (!fs::is_directory(experiment_root, ec)) return std::nullopt;
  std::vector<fs::path> runs;
  for (const auto& entry : fs::directory_iterator(experiment_root, ec)) {
    if (entry.is_directory()) runs.push_back(entry.path());
  }
  std::sort(runs.rbegin(), runs.rend());
  for (const fs::path& run : runs) {
    if (fs::exists(run / "checkpoints" / "last_checkpoint")) return run;
  }
  return std::nullopt;
}

// A fresh directory under root: <root>/<stamp>, or <stamp>-2, -3, ... when taken.
fs::path NewRunDir(const fs::path& root) {
  const std::string stamp = Timestamp();
  fs::path dir = root / stamp;
  for (int i = 2; fs::exists(dir); ++i) dir = root / (stamp + "-" + std::to_string(i));
  return dir;
}

struct Plan {
  fs::path run_dir;
  std::optional<std::string> resume_from;
};

Plan PlanRun(const proto::Experiment& exp) {
  const proto::Logging& log = exp.logging();
  const std::string& resume = exp.checkpoint().resume();
  const fs::path experiment_root = fs::path(log.run_root()) / exp.name();
  Plan plan;
  if (resume == "no") {
    plan.run_dir = log.has_run_dir() && !log.run_dir().empty() ? fs::path(log.run_dir())
                                                               : NewRunDir(experiment_root);
  } else if (resume == "auto") {
    if (log.has_run_dir() && !log.run_dir().empty()) {
      plan.run_dir = log.run_dir();
    } else if (auto newest = NewestRunWithCheckpoint(experiment_root)) {
      plan.run_dir = *newest;
    } else {
      plan.run_dir = NewRunDir(experiment_root);
    }
    plan.resume_from = CheckpointDir((plan.run_dir / "checkpoints").string()).Latest();
  } else {
    LOOM_CHECK_TYPED(ConfigError, fs::is_regular_file(resume),
                     "checkpoint.resume: expected no, auto or a checkpoint file but '", resume,
                     "' is not a file");
    plan.resume_from = resume;
    plan.run_dir = log.has_run_dir() && !log.run_dir().empty() ? fs::path(log.run_dir())
                                                               : NewRunDir(experiment_root);
  }
  return plan;
}

// A checkpoint must never hold a diverged state: an update can turn parameters non-finite one
// batch before the outputs show it.
void CheckFinite(const proto::Tensor& t, int64_t epoch, int64_t batch_in_epoch) {
  if (t.dtype() != static_cast<int>(DType::kFloat32)) return;
  const std::string& bytes = t.data();
  for (size_t i = 0; i + sizeof(float) <= bytes.size(); i += sizeof(float)) {
    float v;
    std::memcpy(&v, bytes.data() + i, sizeof(float));
    if (!std::isfinite(v)) {
      std::ostringstream os;
      os << "training diverged ";
      if (batch_in_epoch > 0) {
        os << "at epoch " << epoch + 1 << " batch " << batch_in_epoch;
      } else {
        os << "by the end of epoch " << epoch;
      }
      os << ": parameter '" << t.name() << "' holds " << (std::isnan(v) ? "NaN" : "Inf")
         << " after the update; lower optimizer.lr or set optimizer.clip_global_norm";
      throw DivergedError(os.str(), epoch, std::max<int64_t>(0, batch_in_epoch - 1));
    }
  }
}

std::string OverridesYaml(const std::vector<std::string>& overrides) {
  if (overrides.empty()) return "[]\n";
  std::string s;
  for (const std::string& o : overrides) s += "- " + Quote(o) + "\n";
  return s;
}

// A string sent from rank 0 to every rank (one byte per float64 element: exact).
void BroadcastText(comm::Communicator& comm, std::string& text) {
  NDArray length = NDArray::FromHost<double>({static_cast<double>(text.size())}, Shape{1});
  comm.Broadcast(length, 0).Wait();
  const auto n = static_cast<int64_t>(length.ToVector<double>().front());
  std::vector<double> bytes(static_cast<size_t>(n));
  if (comm.rank() == 0) {
    for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<unsigned char>(text[i]);
  }
  if (n == 0) {
    text.clear();
    return;
  }
  NDArray array = NDArray::FromHost<double>(bytes, Shape{n});
  comm.Broadcast(array, 0).Wait();
  text.clear();
  for (double b : array.ToVector<double>()) text.push_back(static_cast<char>(b));
}

// The options of a data-parallel run's KVStore and communicators.
comm::KVStoreOptions KVStoreOptionsOf(const proto::Distributed& d) {
  comm::KVStoreOptions options;
  options.bucket_bytes = static_cast<size_t>(d.bucket_mb()) << 20;
  // LOOM_COMM_TIMEOUT overrides the experiment (a zero timeout reads it).
  if (env::GetString(env::kCommTimeout, "").empty()) {
    options.comm.timeout = std::chrono::seconds(d.timeout_s());
  }
  return options;
}

// The KVStore of a data-parallel run (a dist type), or null for a one-process run.
std::shared_ptr<comm::KVStore> CreateKVStore(const proto::Distributed& d,
                                             const comm::KVStoreOptions& options,
                                             const comm::LaunchInfo& job) {
  const bool dist = comm::ReducesAcrossProcesses(d.kvstore());
  LOOM_CHECK_TYPED(ConfigError, job.size == 1 || dist, "distributed.kvstore: this process is ",
                   job.ToString(), " but the kvstore '", d.kvstore(),
                   "' trains in one process; set distributed.kvstore=dist_sync (or "
                   "dist_device_sync, nccl) to train across the ",
                   job.size, " processes");
  if (!dist) return nullptr;
  try {
    return comm::KVStore::Create(d.kvstore(), options);
  } catch (const CommError&) {
    throw;
  } catch (const Error& e) {
    throw ConfigError("distributed.kvstore: " + e.message());
  }
}

class Run {
 public:
  Run(const proto::Experiment& exp, std::ostream& out, std::ostream& err, const RunOptions& options,
      const comm::LaunchInfo& job)
      : exp_(exp), out_(out), err_(err), options_(options), job_(job) {}

  int Execute();

 private:
  void Setup();
  // Rank 0 decides the run directory and resumes from a checkpoint; every rank then takes its
  // parameters, optimizer state and position (nothing is read from disk on the other ranks).
  void PlanAndResume();
  void SyncFromRoot();
  bool is_root() const { return job_.rank == 0; }
  void Resume(const std::string& path);
  std::string SaveCheckpoint(const std::string& tag, int64_t epoch, int64_t batch_in_epoch);
  void SaveMXNet(int64_t epoch);
  void OnBatch(BatchEndInfo& info);
  void OnEpoch(EpochEndInfo& info);
  void Report(const std::vector<std::pair<std::string, double>>& metrics, int64_t epochs_done);

  const proto::Experiment& exp_;
  std::ostream& out_;
  std::ostream& err_;
  const RunOptions& options_;
  const comm::LaunchInfo job_;
  comm::KVStoreOptions kv_options_;
  std::shared_ptr<comm::KVStore> kv_;  // data-parallel runs only
  Plan plan_;
  std::unique_ptr<DataIter> train_;
  std::unique_ptr<DataIter> val_;
  std::unique_ptr<Module> module_;
  std::mt19937_64 rng_;
  int64_t begin_epoch_ = 0;
  int64_t begin_batch_ = 0;
  std::unique_ptr<CheckpointDir> ckpt_dir_;
  std::unique_ptr<MetricsLog> metrics_log_;
  std::unique_ptr<EventWriter> events_;
  std::unique_ptr<Progress> progress_;
  std::map<std::string, double> latest_metrics_;
  std::string last_checkpoint_;
  std::vector<std::string> checkpoints_;
  Clock::time_point start_;
};

void Run::Setup() {
  const proto::Trainer& tr = exp_.trainer();
  if (tr.threads() > 0) cpu::SetKernelThreads(tr.threads());
  // One device, or several separated by commas: data parallelism in this process (Module).
  std::vector<Context> contexts;
  for (size_t begin = 0; begin <= tr.context().size();) {
    size_t end = tr.context().find(',', begin);
    if (end == std::string::npos) end = tr.context().size();
    std::string item = tr.context().substr(begin, end - begin);
    item.erase(0, item.find_first_not_of(" \t"));
    item.erase(item.find_last_not_of(" \t") + 1);
    try {
      contexts.push_back(Context::Parse(item));
    } catch (const Error& e) {
      throw ConfigError("trainer.context: " + e.message());
    }
    begin = end + 1;
  }
  Context ctx = contexts.front();
  ContextMap group2ctx;
  for (const auto& [group, device] : tr.group2ctx()) {
    try {
      group2ctx[group] = Context::Parse(device);
    } catch (const Error& e) {
      throw ConfigError("trainer.group2ctx." + group + ": " + e.message());
    }
  }

  kv_options_ = KVStoreOptionsOf(exp_.distributed());
  kv_ = CreateKVStore(exp_.distributed(), kv_options_, job_);
  // One GPU per process: the ranks of a host take the GPUs from the given one on, by local rank
  // (as the nccl communicator picks its device).
  if (kv_ && ctx.type == DeviceType::kGPU && NumGpus() > 0) {
    ctx = Context::GPU((ctx.id + job_.local_rank) % NumGpus());
  }
  if (kv_) {
    err_ << job_.ToString() << "; device " << ctx.ToString() << ", kvstore " << kv_->type() << "\n"
         << std::flush;
  }
  const int num_workers = kv_ ? kv_->num_workers() : 1;

  // Data: flatten samples for models that want flat inputs unless the experiment says otherwise.
  // Each rank trains on its shard; every rank scores the whole validation set (the same
  // parameters give the same scores; rank 0 reports them).
  proto::Data data = exp_.data();
  if (!data.has_flatten()) data.set_flatten(ModelWantsFlatData(exp_.model()));
  DataIterOptions train_options;
  train_options.seed = tr.seed();
  train_options.is_train = true;
  train_options.rank = kv_ ? kv_->rank() : 0;
  train_options.num_ranks = num_workers;
  train_ = CreateDataIter(data.train(), data, train_options);
  if (data.has_val()) {
    DataIterOptions val_options = train_options;
    val_options.is_train = false;
    val_options.rank = 0;
    val_options.num_ranks = 1;
    val_ = CreateDataIter(data.val(), data, val_options);
  }
  const std::vector<DataDesc> data_descs = train_->ProvideData();
  LOOM_CHECK_TYPED(ConfigError, !data_descs.empty(), "data: the iterator provides no inputs");
  const Shape& batch_shape = data_descs.front().shape;
  const Shape sample_shape(std::vector<int64_t>(batch_shape.begin() + 1, batch_shape.end()));

  Symbol symbol = BuildModel(exp_.model(), sample_shape);
  std::vector<std::string> data_names, label_names;
  for (const DataDesc& d : data_descs) data_names.push_back(d.name);
  for (const DataDesc& l : train_->ProvideLabel()) label_names.push_back(l.name);
  if (contexts.size() == 1) contexts.front() = ctx;
  module_ = std::make_unique<Module>(symbol, data_names, label_names, contexts, group2ctx);
  if (kv_) {
    std::shared_ptr<ReplicaReducer> batch_norm;
    // Cross-replica BatchNorm spans processes of one device each; with several devices per
    // process it is on only when asked for (and then refused by the module, naming the key).
    const bool sync_bn = exp_.distributed().sync_batch_norm() &&
                         (contexts.size() == 1 || exp_.distributed().has_sync_batch_norm());
    if (num_workers > 1 && sync_bn) batch_norm = comm::MakeReplicaReducer(kv_options_.comm);
    module_->SetKVStore(kv_, batch_norm);
  }
  module_->Bind(data_descs, train_->ProvideLabel(), /*for_training=*/true, tr.grad_req());
  module_->SetSeed(tr.seed());

  rng_.seed(tr.seed());
  NamedArrays arg_params, aux_params;
  // Rank 0 reads the parameter file; the others take its values in SyncFromRoot.
  if (is_root() && exp_.model().has_params() && !exp_.model().params().empty()) {
    std::tie(arg_params, aux_params) =
        SplitArgAux(LoadMXNetParams(exp_.model().params()), exp_.model().params());
  }
  const ParamLoadReport report =
      module_->InitParams(*Initializer::Create(tr.initializer()), rng_, arg_params, aux_params);
  if (!arg_params.empty() || !aux_params.empty()) {
    err_ << "loaded " << report.loaded.size() << " parameters from " << exp_.model().params()
         << "\n"
         << report.ToString() << std::flush;
  }
  int64_t total_updates = tr.epochs() * train_->NumBatches();
  if (tr.max_updates() > 0) total_updates = std::min(total_updates, tr.max_updates());
  module_->InitOptimizer(exp_.optimizer(), total_updates);

  PlanAndResume();
  if (kv_) SyncFromRoot();

  if (is_root()) {
    const proto::Checkpoint& ck = exp_.checkpoint();
    ckpt_dir_ =
        std::make_unique<CheckpointDir>((plan_.run_dir / "checkpoints").string(), ck.keep());
    metrics_log_ = std::make_unique<MetricsLog>((plan_.run_dir / "metrics.jsonl").string());
    if (exp_.logging().tensorboard()) {
      events_ = std::make_unique<EventWriter>(plan_.run_dir.string());
    }
  }
  const bool is_tty = options_.is_tty.value_or(false);
  progress_ =
      std::make_unique<Progress>(out_, ResolveProgressMode(exp_.logging().progress(), is_tty),
                                 exp_.logging().log_every(), tr.epochs());

  int64_t num_params = 0;
  for (const std::string& name : module_->param_names()) {
    num_params += module_->executor().arg_dict().at(name).size();
  }
  if (!is_root()) return;
  out_ << "run directory: " << plan_.run_dir.string() << "\n"
       << "model: " << (exp_.model().has_builtin() ? exp_.model().builtin() : exp_.model().symbol())
       << ", " << num_params << " parameters; data: " << train_->NumSamples()
       << " training samples";
  if (num_workers > 1) out_ << " per rank";
  out_ << " (" << train_->NumBatches() << " batches of " << train_->BatchSize();
  if (num_workers > 1) out_ << " on each of " << num_workers << " ranks";
  if (module_->contexts().size() > 1) {
    out_ << ", each split over " << module_->contexts().size() << " devices";
  }
  out_ << ")";
  if (val_) out_ << ", " << val_->NumSamples() << " validation samples";
  out_ << "\n";
  if (plan_.resume_from) {
    out_ << "resuming from " << *plan_.resume_from << " at epoch " << begin_epoch_ + 1 << " batch "
         << begin_batch_ << "\n";
  }
  out_ << std::flush;
}

void Run::PlanAndResume() {
  // 0: ready; 1: the experiment is wrong (ConfigError); 2: another failure.
  double status = 0;
  std::exception_ptr failure;
  if (is_root()) {
    try {
      plan_ = PlanRun(exp_);
      fs::create_directories(plan_.run_dir);
      WriteFileAtomic((plan_.run_dir / "config.yaml").string(), ExperimentToYaml(exp_));
      WriteFileAtomic((plan_.run_dir / "overrides.yaml").string(),
                      OverridesYaml(options_.overrides));
      if (plan_.resume_from) Resume(*plan_.resume_from);
    } catch (const ConfigError&) {
      status = 1;
      failure = std::current_exception();
    } catch (...) {
      status = 2;
      failure = std::current_exception();
    }
  }
  if (kv_ && kv_->num_workers() > 1) {
    // Tell the other ranks before failing, so that they stop at once instead of timing out.
    NDArray flag = NDArray::FromHost<double>({status}, Shape{1});
    kv_->communicator()->Broadcast(flag, 0).Wait();
    status = flag.ToVector<double>().front();
  }
  if (failure) std::rethrow_exception(failure);
  const std::string why = "rank 0 could not prepare the run (its message says why)";
  if (status == 1) throw ConfigError(why);
  if (status != 0) throw Error(why);
}

void Run::SyncFromRoot() {
  comm::Communicator& comm = *kv_->communicator();
  Optimizer& opt = module_->optimizer();
  std::map<std::string, NDArray> state;
  if (is_root()) state = opt.State();
  NDArray position = NDArray::FromHost<double>(
      {static_cast<double>(begin_epoch_), static_cast<double>(begin_batch_),
       static_cast<double>(opt.num_update()), state.empty() ? 0.0 : 1.0},
      Shape{4});
  comm.Broadcast(position, 0).Wait();
  const std::vector<double> p = position.ToVector<double>();
  begin_epoch_ = static_cast<int64_t>(p[0]);
  begin_batch_ = static_cast<int64_t>(p[1]);
  const auto num_update = static_cast<int64_t>(p[2]);
  module_->SyncParams();
  if (p[3] != 0) {
    std::map<std::string, NDArray> received;
    std::vector<comm::Work> works;
    for (const std::string& name : module_->param_names()) {
      const NDArray& weight = module_->executor().arg_dict().at(name);
      for (const std::string& slot : opt.slots()) {
        const std::string key = name + "/" + slot;
        NDArray a;
        if (is_root()) {
          auto it = state.find(key);
          LOOM_INTERNAL_ASSERT(it != state.end(), "rank 0 has no optimizer state '", key, "'");
          a = it->second;
        } else {
          a = NDArray::Empty(weight.shape(), weight.ctx(), weight.dtype());
        }
        works.push_back(comm.Broadcast(a, 0));
        received[key] = a;
      }
    }
    for (comm::Work& w : works) w.Wait();
    if (!is_root()) opt.LoadState(received, num_update);
  }
  std::string rng_state;
  if (is_root()) {
    std::ostringstream os;
    os << rng_;
    rng_state = os.str();
  }
  BroadcastText(comm, rng_state);
  if (!is_root()) {
    std::istringstream is(rng_state);
    is >> rng_;
  }
}

void Run::Resume(const std::string& path) {
  const proto::CheckpointFile ckpt = LoadCheckpoint(path);
  NamedArrays args, aux;
  for (const proto::Tensor& t : ckpt.arg_params()) args[t.name()] = FromTensor(t);
  for (const proto::Tensor& t : ckpt.aux_params()) aux[t.name()] = FromTensor(t);
  try {
    module_->SetParams(args, aux, /*allow_missing=*/false, /*allow_extra=*/false);
  } catch (const ConfigError& e) {
    throw CheckpointError(path + ": the checkpoint does not fit the model: " + e.message());
  }
  std::map<std::string, NDArray> state;
  for (const proto::Tensor& t : ckpt.optimizer_state()) state[t.name()] = FromTensor(t);
  module_->optimizer().LoadState(state, ckpt.num_update());
  if (ckpt.has_rng_state()) {
    std::istringstream is(ckpt.rng_state());
    is >> rng_;
    LOOM_CHECK_TYPED(CheckpointError, !is.fail(), path,
                     ": rng_state: expected a std::mt19937_64 "
                     "state but could not read it");
  }
  begin_epoch_ = ckpt.epoch();
  begin_batch_ = ckpt.batch_in_epoch();
  for (const auto& [key, value] : ckpt.metrics()) latest_metrics_[key] = value;
  last_checkpoint_ = path;
}

std::string Run::SaveCheckpoint(const std::string& tag, int64_t epoch, int64_t batch_in_epoch) {
  proto::CheckpointFile ckpt;
  *ckpt.mutable_config() = exp_;
  ckpt.set_symbol_json(module_->symbol().ToJSON());
  auto [args, aux] = module_->GetParams();
  for (const auto& [name, a] : args) {
    *ckpt.add_arg_params() = ToTensor(a, name);
    CheckFinite(ckpt.arg_params(ckpt.arg_params_size() - 1), epoch, batch_in_epoch);
  }
  for (const auto& [name, a] : aux) *ckpt.add_aux_params() = ToTensor(a, name);
  for (const auto& [name, a] : module_->optimizer().State()) {
    *ckpt.add_optimizer_state() = ToTensor(a, name);
  }
  ckpt.set_num_update(module_->optimizer().num_update());
  ckpt.set_epoch(epoch);
  ckpt.set_batch_in_epoch(batch_in_epoch);
  std::ostringstream rng;
  rng << rng_;
  ckpt.set_rng_state(rng.str());
  for (const auto& [key, value] : latest_metrics_) (*ckpt.mutable_metrics())[key] = value;
  const std::string path = ckpt_dir_->Save(ckpt, tag);
  last_checkpoint_ = path;
  checkpoints_.push_back(path);
  return path;
}

void Run::SaveMXNet(int64_t epoch) {
  if (!exp_.checkpoint().mxnet_format()) return;
  module_->SaveCheckpoint((plan_.run_dir / exp_.name()).string(), epoch);
}

void Run::OnBatch(BatchEndInfo& info) {
  const int64_t workers = kv_ ? kv_->num_workers() : 1;
  BatchStats stats;
  stats.batch = info.batch;
  stats.samples = info.samples * workers;  // every rank's batch has as many samples
  stats.loss = info.loss;
  stats.metrics = info.metrics;
  stats.lr = info.lr;
  stats.batch_seconds = info.batch_seconds;
  stats.data_seconds = info.data_seconds;
  progress_->Batch(stats);
  const int log_every = std::max(1, exp_.logging().log_every());
  if (is_root() && (info.batch + 1) % log_every == 0) {
    std::vector<std::pair<std::string, double>> values = {
        {"epoch", static_cast<double>(info.epoch + 1)},
        {"iter", static_cast<double>(info.batch + 1)},
        {"update", static_cast<double>(info.num_update)},
        {"loss", info.loss}};
    for (const auto& [name, value] : info.metrics) values.emplace_back("train_" + name, value);
    values.emplace_back("lr", info.lr);
    values.emplace_back("samples_per_s",
                        info.batch_seconds > 0 ? stats.samples / info.batch_seconds : 0.0);
    values.emplace_back("time", info.batch_seconds);
    values.emplace_back("data_time", info.data_seconds);
    metrics_log_->Write(values, {{"phase", "train"}});
    if (events_) {
      if (std::isfinite(info.loss)) events_->AddScalar("train/loss", info.loss, info.num_update);
      for (const auto& [name, value] : info.metrics) {
        events_->AddScalar("train/" + name, value, info.num_update);
      }
      events_->AddScalar("train/lr", info.lr, info.num_update);
    }
  }
  const int64_t every_updates = exp_.checkpoint().every_updates();
  if (is_root() && every_updates > 0 && info.num_update % every_updates == 0) {
    SaveCheckpoint(CheckpointDir::UpdateTag(info.num_update), info.epoch, info.batch + 1);
  }
  if (options_.on_batch_end) options_.on_batch_end(info);
  if (g_interrupted.load(std::memory_order_relaxed)) info.stop = true;
}

void Run::OnEpoch(EpochEndInfo& info) {
  EpochSummary summary;
  summary.epoch = info.epoch;
  summary.seconds = info.seconds;
  const double samples = static_cast<double>(info.samples) * (kv_ ? kv_->num_workers() : 1);
  summary.samples_per_second = info.train_seconds > 0 ? samples / info.train_seconds : 0;
  summary.loss = info.loss;
  summary.train = info.train;
  summary.val = info.val;
  progress_->EndEpoch(summary);
  if (!is_root()) {
    if (g_interrupted.load(std::memory_order_relaxed)) info.stop = true;
    return;
  }

  latest_metrics_.clear();
  std::vector<std::pair<std::string, double>> values = {
      {"epoch", static_cast<double>(info.epoch + 1)},
      {"update", static_cast<double>(info.num_update)},
      {"loss", info.loss}};
  latest_metrics_["loss"] = info.loss;
  for (const auto& [name, value] : info.train) {
    values.emplace_back("train_" + name, value);
    latest_metrics_["train_" + name] = value;
  }
  for (const auto& [name, value] : info.val) {
    values.emplace_back("val_" + name, value);
    latest_metrics_["val_" + name] = value;
  }
  values.emplace_back("time", info.seconds);
  values.emplace_back("samples_per_s", summary.samples_per_second);
  metrics_log_->Write(values, {{"phase", "epoch"}});
  if (events_) {
    for (const auto& [name, value] : values) {
      if (name == "epoch" || name == "update" || !std::isfinite(value)) continue;
      const bool val = name.starts_with("val_");
      const std::string tag = name.starts_with("train_") ? "epoch/train_" + name.substr(6)
                              : val                      ? "epoch/val_" + name.substr(4)
                                                         : "epoch/" + name;
      events_->AddScalar(tag, value, info.num_update);
    }
    events_->Flush();
  }
  const int64_t done = info.epoch + 1;
  const int every = exp_.checkpoint().every_epochs();
  if (every > 0 && done % every == 0 && done < exp_.trainer().epochs()) {
    // With update checkpoints too, every periodic file is tagged by its update count, so that
    // pruning (oldest tag first) sees one order.
    SaveCheckpoint(exp_.checkpoint().every_updates() > 0 ? CheckpointDir::UpdateTag(info.num_update)
                                                         : EpochTag(done),
                   done, 0);
    SaveMXNet(done);
  }
  if (g_interrupted.load(std::memory_order_relaxed)) info.stop = true;
}

void Run::Report(const std::vector<std::pair<std::string, double>>& metrics, int64_t epochs_done) {
  if (options_.report == nullptr) return;
  RunReport& r = *options_.report;
  r.run_dir = plan_.run_dir.string();
  r.checkpoints = checkpoints_;
  r.resumed_from = plan_.resume_from.value_or("");
  r.final_metrics = metrics;
  r.epochs_done = epochs_done;
  r.num_update = module_ ? module_->optimizer().num_update() : 0;
  r.seconds = std::chrono::duration<double>(Clock::now() - start_).count();
}

int Run::Execute() {
  start_ = Clock::now();
  Setup();
  const proto::Trainer& tr = exp_.trainer();
  std::vector<std::pair<std::string, double>> final_metrics;
  auto collect = [&] { final_metrics.assign(latest_metrics_.begin(), latest_metrics_.end()); };
  if (begin_epoch_ >= tr.epochs()) {
    out_ << "nothing to do: the checkpoint is at epoch " << begin_epoch_ << " of " << tr.epochs()
         << " (raise trainer.epochs to train on)\n";
    collect();
    Report(final_metrics, begin_epoch_);
    return kExitOk;
  }
  SigintGuard sigint;
  FitOptions fit;
  fit.begin_epoch = begin_epoch_;
  fit.num_epochs = tr.epochs();
  fit.begin_batch = begin_batch_;
  fit.max_updates = tr.max_updates();
  fit.metrics.assign(tr.metrics().begin(), tr.metrics().end());
  if (fit.metrics.empty()) fit.metrics = {"accuracy"};
  fit.top_k = tr.top_k();
  // Deterministic runs reseed the random operators (dropout) before every batch from the trainer's
  // generator, whose state checkpoints carry, so resumed runs draw the same masks; otherwise the
  // executor's generators run on from trainer.seed.
  fit.rng = tr.deterministic() ? &rng_ : nullptr;
  fit.epoch_begin = [&](int64_t epoch, int64_t first_batch, int64_t num_batches) {
    progress_->BeginEpoch(epoch, num_batches, first_batch);
  };
  fit.batch_end = [&](BatchEndInfo& info) { OnBatch(info); };
  fit.epoch_end = [&](EpochEndInfo& info) { OnEpoch(info); };

  FitResult result;
  try {
    result = module_->Fit(*train_, val_.get(), fit);
  } catch (const DivergedError& e) {
    progress_->Interrupt();
    err_ << "loom train: " << e.message() << "\n";
    err_ << (last_checkpoint_.empty() ? std::string("no checkpoint was written before it")
                                      : "the last good checkpoint is " + last_checkpoint_)
         << "\n";
    collect();
    Report(final_metrics, e.epoch());
    return kExitFailure;
  } catch (...) {
    progress_->Interrupt();
    throw;
  }
  // The last gradients' reduction must have succeeded before anything counts as done.
  if (kv_) kv_->WaitAll();
  if (result.status == FitResult::Status::kStopped && g_interrupted.load() && !is_root()) {
    err_ << "loom train: interrupted at epoch " << result.epoch + 1 << " batch "
         << result.batch_in_epoch << " (rank 0 saves the checkpoint)\n";
    return kExitInterrupted;
  }
  if (result.status == FitResult::Status::kStopped && g_interrupted.load()) {
    progress_->Interrupt();
    const std::string path = SaveCheckpoint("interrupted", result.epoch, result.batch_in_epoch);
    err_ << "loom train: interrupted at epoch " << result.epoch + 1 << " batch "
         << result.batch_in_epoch << "; checkpoint saved to " << path
         << "\nresume with: checkpoint.resume=auto logging.run_dir=" << plan_.run_dir.string()
         << "\n";
    collect();
    Report(final_metrics, result.epoch);
    return kExitInterrupted;
  }
  if (!is_root()) {
    Report(final_metrics, result.epoch);
    return kExitOk;
  }
  SaveCheckpoint("final", result.epoch, result.batch_in_epoch);
  SaveMXNet(result.epoch);
  collect();
  Report(final_metrics, result.epoch);
  const double seconds = std::chrono::duration<double>(Clock::now() - start_).count();
  out_ << "done in " << static_cast<int64_t>(std::lround(seconds)) << "s";
  for (const auto& [key, value] : final_metrics) {
    if (key.starts_with("val_")) out_ << ", " << key << " " << value;
  }
  out_ << "; checkpoint " << last_checkpoint_ << "\n" << std::flush;
  return kExitOk;
}

}  // namespace

int RunExperiment(const proto::Experiment& experiment, std::ostream& out, std::ostream& err,
                  const RunOptions& options) {
  comm::LaunchInfo job;
  try {
    job = options.job ? *options.job : comm::DiscoverLaunch();
  } catch (const Error& e) {
    err << "loom train: " << e.what() << "\n";
    return kExitConfigError;
  }
  RunOptions resolved = options;
  resolved.is_tty = options.is_tty.value_or(&out == &std::cout && isatty(STDOUT_FILENO) != 0);
  // Several processes: every line says which rank wrote it; only rank 0 shows progress.
  std::optional<detail::LinePrefixStream> tagged_out, tagged_err;
  std::ostream discard(nullptr);
  std::ostream* run_out = &out;
  std::ostream* run_err = &err;
  if (job.size > 1) {
    const std::string tag = "[rank " + std::to_string(job.rank) + "] ";
    run_err = &tagged_err.emplace(err, tag);
    run_out = job.rank == 0 ? &tagged_out.emplace(out, tag) : &discard;
  }
  try {
    ValidateExperiment(experiment);
    Run run(experiment, *run_out, *run_err, resolved, job);
    return run.Execute();
  } catch (const ConfigError& e) {
    *run_err << "loom train: " << e.what() << "\n" << std::flush;
    return kExitConfigError;
  } catch (const std::exception& e) {
    *run_err << "loom train: " << e.what() << "\n" << std::flush;
    return kExitFailure;
  }
}

}  // namespace loom::train
