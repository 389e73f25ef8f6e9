// Module: binding, parameters, the optimizer step and the fit / score / predict loops.
#include "loom/train/module.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <set>
#include <sstream>

#include "loom/train/atomic_file.h"

namespace loom::train {
namespace {

using Clock = std::chrono::steady_clock;

// Engine priority of the gradients' reduction (packing, unpacking; the allreduce itself runs on
// the communicator's thread): above the backward pass (priority 0), so that a bucket goes out as
// soon as its gradients exist instead of queueing behind the rest of backward on busy workers.
constexpr int kGradientReductionPriority = 1 << 20;

double Seconds(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

std::string Join(const std::vector<std::string>& names) {
  std::string s;
  for (const std::string& n : names) s += (s.empty() ? "" : ", ") + n;
  return s;
}

bool Contains(const std::vector<std::string>& names, const std::string& name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

std::vector<std::unique_ptr<EvalMetric>> MakeMetrics(const std::vector<std::string>& names,
                                                     int top_k) {
  std::vector<std::unique_ptr<EvalMetric>> metrics;
  for (const std::string& name : names) metrics.push_back(CreateMetric(name, top_k));
  return metrics;
}

std::vector<std::pair<std::string, double>> Values(
    const std::vector<std::unique_ptr<EvalMetric>>& metrics) {
  std::vector<std::pair<std::string, double>> values;
  for (const auto& m : metrics) values.emplace_back(m->Name(), m->Get());
  return values;
}

// The array on the host, converted to `dtype` when it differs (parameters from files may be
// float64; NDArray's AsType runs on CPU arrays).
NDArray As(const NDArray& a, DType dtype) {
  const NDArray host = a.ctx().is_host() ? a : a.CopyTo(Context::CPU());
  return host.dtype() == dtype ? host : host.AsType(dtype);
}

}  // namespace

std::string ParamLoadReport::ToString() const {
  std::ostringstream os;
  for (const auto& [name, given, expected] : shape_mismatch) {
    os << "Skip loading parameter '" << name << "' due to incompatible shapes: " << given.ToString()
       << " in the file but " << expected.ToString() << " in the model\n";
  }
  if (!missing.empty()) {
    os << "Some model parameters are not in the file (they keep their initial values): "
       << Join(missing) << "\n";
  }
  if (!unexpected.empty()) {
    os << "The file contains parameters the model does not have (ignored): " << Join(unexpected)
       << "\n";
  }
  return os.str();
}

std::pair<NamedArrays, NamedArrays> SplitArgAux(const NamedArrays& params,
                                                const std::string& file) {
  std::pair<NamedArrays, NamedArrays> out;
  for (const auto& [key, array] : params) {
    if (key.starts_with("arg:")) {
      out.first[key.substr(4)] = array;
    } else if (key.starts_with("aux:")) {
      out.second[key.substr(4)] = array;
    } else {
      throw DataError(file +
                      ": expected array names 'arg:<name>' or 'aux:<name>' (MXNet's "
                      "prefix-NNNN.params) but got '" +
                      key + "'");
    }
  }
  return out;
}

Module::Module(Symbol symbol, std::vector<std::string> data_names,
               std::vector<std::string> label_names, Context ctx, ContextMap group2ctx)
    : Module(std::move(symbol), std::move(data_names), std::move(label_names),
             std::vector<Context>{ctx}, std::move(group2ctx)) {}

Module::Module(Symbol symbol, std::vector<std::string> data_names,
               std::vector<std::string> label_names, std::vector<Context> contexts,
               ContextMap group2ctx)
    : symbol_(std::move(symbol)),
      data_names_(std::move(data_names)),
      label_names_(std::move(label_names)),
      contexts_(std::move(contexts)),
      group2ctx_(std::move(group2ctx)) {
  LOOM_CHECK_TYPED(ConfigError, !contexts_.empty(),
                   "trainer.context: expected at least one device but got none");
  if (contexts_.size() > 1 && !group2ctx_.empty()) {
    std::string devices;
    for (const Context& c : contexts_) devices += (devices.empty() ? "" : ",") + c.ToString();
    throw ConfigError(
        "trainer.group2ctx: a model split over devices (group2ctx) cannot also be "
        "replicated over several devices (trainer.context '" +
        devices +
        "') yet; give one device in trainer.context, or leave group2ctx empty "
        "for data parallelism");
  }
  for (const std::string& arg : symbol_.ListArguments()) {
    if (!Contains(data_names_, arg) && !Contains(label_names_, arg)) param_names_.push_back(arg);
  }
  aux_names_ = symbol_.ListAuxiliaryStates();
  for (const auto& [node, attrs] : symbol_.AttrDict()) {
    attrs_[node] = std::map<std::string, std::string>(attrs.begin(), attrs.end());
  }
}

Module::~Module() {
  // Work pushed for this module (the last backward pass and update) may still run. Finish it
  // before the executor goes: at process exit the libraries its kernels call may otherwise be torn
  // down under a running worker. Errors were the caller's to collect; none may escape here.
  auto finish = [](const NDArray& a) {
    try {
      if (!a.is_none()) a.WaitToWrite();
    } catch (...) {
    }
  };
  for (const auto& device : devices_) {
    for (const NDArray& a : device->params) finish(a);
    for (const NDArray& a : device->grads) finish(a);
    for (const NDArray& a : device->exec.aux_arrays()) finish(a);
    for (const NDArray& a : device->exec.outputs()) finish(a);
    for (const auto& [key, exe] : device->reshaped) {
      for (const NDArray& a : exe.outputs()) finish(a);
    }
  }
  for (const NDArray& a : gathered_) finish(a);
}

void Module::CheckBound(const char* what) const {
  LOOM_CHECK(!devices_.empty(), "Module::", what, ": expected a bound module (call Bind first)");
}

Executor& Module::executor(size_t device) {
  CheckBound("executor");
  LOOM_CHECK(device < devices_.size(), "Module::executor: expected a device index below ",
             devices_.size(), " but got ", device);
  return devices_[device]->exec;
}

void Module::SetSeed(uint64_t seed) {
  CheckBound("SetSeed");
  for (size_t d = 0; d < devices_.size(); ++d) devices_[d]->exec.SetSeed(seed + d);
}

std::vector<std::pair<int64_t, int64_t>> Module::Slices(int64_t rows) const {
  const auto n = static_cast<int64_t>(contexts_.size());
  // Contiguous slices whose sizes differ by at most one; the larger ones last (33 rows on 2
  // devices: 16, 17), as MXNet's _split_input_slice gives for two devices.
  const int64_t base = rows / n;
  const int64_t larger = rows % n;
  std::vector<std::pair<int64_t, int64_t>> slices;
  int64_t begin = 0;
  for (int64_t d = 0; d < n; ++d) {
    const int64_t size = base + (d >= n - larger ? 1 : 0);
    slices.emplace_back(begin, begin + size);
    begin += size;
  }
  return slices;
}

Optimizer& Module::optimizer() {
  LOOM_CHECK(optimizer_ != nullptr, "Module::optimizer: call InitOptimizer first");
  return *optimizer_;
}

void Module::Bind(const std::vector<DataDesc>& data, const std::vector<DataDesc>& label,
                  bool for_training, const std::string& grad_req) {
  LOOM_CHECK_TYPED(ConfigError, grad_req == "write" || grad_req == "add",
                   "trainer.grad_req: expected write or add but got '", grad_req, "'");
  const std::vector<std::string> arguments = symbol_.ListArguments();
  LOOM_CHECK_TYPED(ConfigError, data.size() == data_names_.size(), "the data gives ", data.size(),
                   " inputs but the module expects ", data_names_.size(), " (", Join(data_names_),
                   ")");
  ShapeDict shapes;
  auto feed = [&](const DataDesc& desc, const char* kind, const char* key) {
    LOOM_CHECK_TYPED(ConfigError, Contains(arguments, desc.name),
                     "the model's inputs do not match the data: the ", kind, " input '", desc.name,
                     "' is not an argument of the symbol (its arguments: ", Join(arguments),
                     "); set ", key, " to the symbol's ", kind, " input");
    shapes[desc.name] = desc.shape;
  };
  for (const DataDesc& d : data) feed(d, "data", "data.data_name");
  for (const DataDesc& l : label) {
    // A network without a loss head (inference) simply ignores the labels.
    if (for_training || Contains(arguments, l.name)) feed(l, "label", "data.label_name");
  }
  data_names_.clear();
  for (const DataDesc& d : data) data_names_.push_back(d.name);
  label_names_.clear();
  for (const DataDesc& l : label) label_names_.push_back(l.name);
  param_names_.clear();
  for (const std::string& arg : arguments) {
    if (!Contains(data_names_, arg) && !Contains(label_names_, arg)) param_names_.push_back(arg);
  }
  std::map<std::string, std::string, std::less<>> req;
  for (const std::string& arg : arguments) {
    req[arg] = for_training && Contains(param_names_, arg) ? grad_req : "null";
  }
  const int64_t batch = data.front().shape.ndim() > 0 ? data.front().shape[0] : 1;
  const size_t num_devices = contexts_.size();
  LOOM_CHECK_TYPED(ConfigError, num_devices == 1 || batch >= static_cast<int64_t>(num_devices),
                   "data.batch_size: a batch of ", batch, " rows cannot be split over the ",
                   num_devices,
                   " devices of trainer.context (every device needs a row); expected "
                   "a batch size of at least ",
                   num_devices);
  LOOM_CHECK_TYPED(ConfigError, num_devices == 1 || batch_norm_reducer_ == nullptr,
                   "distributed.sync_batch_norm: not supported with several devices in one "
                   "process");
  const std::vector<std::pair<int64_t, int64_t>> slices = Slices(batch);
  std::vector<std::unique_ptr<Device>> devices;
  for (size_t d = 0; d < num_devices; ++d) {
    ShapeDict device_shapes = shapes;
    if (num_devices > 1) {
      for (auto& [name, shape] : device_shapes) {
        LOOM_CHECK_TYPED(ConfigError, shape.ndim() > 0 && shape[0] == batch, "the input '", name,
                         "' has shape ", shape.ToString(), " but data parallelism over ",
                         num_devices, " devices splits inputs along a first axis of ", batch,
                         " rows");
        std::vector<int64_t> dims(shape.begin(), shape.end());
        dims[0] = slices[d].second - slices[d].first;
        shape = Shape(dims);
      }
    }
    try {
      ExecutorOptions options;
      options.replica_reducer = batch_norm_reducer_;
      devices.push_back(std::make_unique<Device>(Executor::SimpleBind(
          symbol_, contexts_[d], device_shapes, {}, req, group2ctx_, options)));
    } catch (const Error& e) {
      std::string fed;
      for (const auto& [name, shape] : device_shapes)
        fed += (fed.empty() ? "" : ", ") + name + shape.ToString();
      throw ConfigError("the model's inputs do not match the data (" + fed + "): " + e.what());
    }
  }
  devices_ = std::move(devices);
  gathered_.clear();
  for_training_ = for_training;
  grad_add_ = grad_req == "add";
  batch_size_ = batch;
  for (auto& device : devices_) {
    device->current = &device->exec;
    for (const std::string& name : param_names_) {
      device->params.push_back(device->exec.arg_dict().at(name));
      if (!for_training) continue;
      const NDArray& grad = device->exec.grad_dict().at(name);
      device->grads.push_back(grad);
      if (grad_add_)
        device->zeros.push_back(NDArray::Zeros(grad.shape(), grad.ctx(), grad.dtype()));
    }
  }
  device_kv_.reset();
  if (for_training && num_devices > 1 && !param_names_.empty() && !kv_) {
    device_kv_ = comm::KVStore::Create("device");
    std::vector<comm::Key> keys;
    for (size_t i = 0; i < param_names_.size(); ++i) keys.emplace_back(static_cast<int>(i));
    device_kv_->Init(keys, devices_.front()->grads);
  }
}

ParamLoadReport Module::InitParams(const Initializer& init, uint64_t seed,
                                   const NamedArrays& arg_params, const NamedArrays& aux_params) {
  std::mt19937_64 rng(seed);
  return InitParams(init, rng, arg_params, aux_params);
}

ParamLoadReport Module::InitParams(const Initializer& init, std::mt19937_64& rng,
                                   const NamedArrays& arg_params, const NamedArrays& aux_params) {
  CheckBound("InitParams");
  static const std::map<std::string, std::string> kNoAttrs;
  auto attrs_of = [&](const std::string& name) -> const std::map<std::string, std::string>& {
    auto it = attrs_.find(name);
    return it == attrs_.end() ? kNoAttrs : it->second;
  };
  // Device 0's copies draw the values; the other devices copy them.
  Device& first = *devices_.front();
  std::vector<std::pair<NDArray, std::string>> initial;
  for (size_t i = 0; i < param_names_.size(); ++i) {
    NDArray target = first.params[i];
    init(param_names_[i], attrs_of(param_names_[i]), &target, &rng);
    initial.emplace_back(target, param_names_[i]);
  }
  for (const std::string& name : aux_names_) {
    NDArray target = first.exec.aux_dict().at(name);
    init(name, attrs_of(name), &target, &rng);
    initial.emplace_back(target, name);
  }
  if (devices_.size() > 1) CopyIn(initial);
  if (arg_params.empty() && aux_params.empty()) return {};
  // fvcore's rule: load what fits, skip shape mismatches, report the rest.
  std::vector<std::pair<NDArray, std::string>> copies;
  ParamLoadReport report = MatchParams(arg_params, aux_params, &copies);
  LOOM_CHECK_TYPED(ConfigError, !report.loaded.empty(),
                   "none of the given parameters fits the model:\n", report.ToString());
  CopyIn(copies);
  return report;
}

ParamLoadReport Module::MatchParams(const NamedArrays& arg_params, const NamedArrays& aux_params,
                                    std::vector<std::pair<NDArray, std::string>>* copies) const {
  CheckBound("SetParams");
  const Executor& exec = devices_.front()->exec;
  ParamLoadReport report;
  std::set<std::string> seen;
  auto match = [&](const std::string& name, const NDArray& given, const NDArray& target) {
    seen.insert(name);
    if (given.shape() != target.shape()) {
      report.shape_mismatch.emplace_back(name, given.shape(), target.shape());
      return;
    }
    copies->emplace_back(given, name);
    report.loaded.push_back(name);
  };
  auto place = [&](const std::string& name, const NDArray& given) {
    if (auto it = exec.arg_dict().find(name);
        it != exec.arg_dict().end() && Contains(param_names_, name)) {
      match(name, given, it->second);
    } else if (auto aux = exec.aux_dict().find(name); aux != exec.aux_dict().end()) {
      match(name, given, aux->second);
    } else if (!Contains(data_names_, name) && !Contains(label_names_, name)) {
      report.unexpected.push_back(name);
    }
  };
  for (const auto& [name, array] : arg_params) place(name, array);
  for (const auto& [name, array] : aux_params) place(name, array);
  for (const std::string& name : param_names_) {
    if (!seen.contains(name)) report.missing.push_back(name);
  }
  for (const std::string& name : aux_names_) {
    if (!seen.contains(name)) report.missing.push_back(name);
  }
  return report;
}

void Module::CopyIn(const std::vector<std::pair<NDArray, std::string>>& copies) {
  for (const auto& [given, name] : copies) {
    for (const auto& device : devices_) {
      auto arg = device->exec.arg_dict().find(name);
      NDArray dst =
          arg != device->exec.arg_dict().end() ? arg->second : device->exec.aux_dict().at(name);
      if (dst.var() == given.var()) continue;  // device 0's own array (InitParams)
      dst.CopyFrom(As(given, dst.dtype()));
    }
  }
}

ParamLoadReport Module::SetParams(const NamedArrays& arg_params, const NamedArrays& aux_params,
                                  bool allow_missing, bool allow_extra) {
  std::vector<std::pair<NDArray, std::string>> copies;
  ParamLoadReport report = MatchParams(arg_params, aux_params, &copies);
  const bool ok = report.shape_mismatch.empty() && (allow_missing || report.missing.empty()) &&
                  (allow_extra || report.unexpected.empty());
  LOOM_CHECK_TYPED(ConfigError, ok, "the parameters do not fit the model:\n", report.ToString());
  CopyIn(copies);
  return report;
}

std::pair<NamedArrays, NamedArrays> Module::GetParams() const {
  CheckBound("GetParams");
  std::pair<NamedArrays, NamedArrays> out;
  const Device& first = *devices_.front();
  for (size_t i = 0; i < param_names_.size(); ++i) {
    out.first[param_names_[i]] = first.params[i].CopyTo(Context::CPU());
  }
  for (const std::string& name : aux_names_) {
    out.second[name] = first.exec.aux_dict().at(name).CopyTo(Context::CPU());
  }
  return out;
}

void Module::SetKVStore(std::shared_ptr<comm::KVStore> kv,
                        std::shared_ptr<ReplicaReducer> batch_norm_reducer) {
  LOOM_CHECK(devices_.empty() || for_training_,
             "Module::SetKVStore: the module was bound without for_training");
  LOOM_CHECK(devices_.empty() || batch_norm_reducer == nullptr,
             "Module::SetKVStore: synchronised BatchNorm needs SetKVStore before Bind");
  LOOM_CHECK(optimizer_ == nullptr,
             "Module::SetKVStore: call it before InitOptimizer (the default rescale_grad counts "
             "the batches of all ",
             kv ? kv->num_workers() : 0, " workers)");
  kv_ = std::move(kv);
  batch_norm_reducer_ = std::move(batch_norm_reducer);
  kv_keys_ready_ = false;
}

void Module::SyncParams() {
  CheckBound("SyncParams");
  if (!kv_) return;
  const std::shared_ptr<comm::Communicator>& comm = kv_->communicator();
  const Device& first = *devices_.front();
  std::vector<comm::Work> works;
  for (const NDArray& p : first.params) works.push_back(comm->Broadcast(p, /*root=*/0));
  for (const std::string& name : aux_names_) {
    works.push_back(comm->Broadcast(first.exec.aux_dict().at(name), /*root=*/0));
  }
  for (comm::Work& w : works) w.Wait();
  if (devices_.size() > 1) {  // every device of this process takes rank 0's values
    std::vector<std::pair<NDArray, std::string>> received;
    for (size_t i = 0; i < param_names_.size(); ++i) {
      received.emplace_back(first.params[i], param_names_[i]);
    }
    for (const std::string& name : aux_names_) {
      received.emplace_back(first.exec.aux_dict().at(name), name);
    }
    CopyIn(received);
  }
  if (!kv_keys_ready_ && !first.grads.empty()) {
    std::vector<comm::Key> keys;
    for (size_t i = 0; i < first.grads.size(); ++i) keys.emplace_back(static_cast<int>(i));
    kv_->Init(keys, first.grads);
    kv_keys_ready_ = true;
  }
}

void Module::InitOptimizer(const proto::Optimizer& cfg, int64_t total_updates) {
  CheckBound("InitOptimizer");
  const int64_t workers = kv_ ? kv_->num_workers() : 1;
  InitOptimizer(
      Optimizer::Create(cfg, 1.0f / static_cast<float>(batch_size_ * workers), total_updates),
      cfg.clip_global_norm());
}

void Module::InitOptimizer(std::unique_ptr<Optimizer> optimizer, float clip_global_norm) {
  CheckBound("InitOptimizer");
  LOOM_CHECK(for_training_, "Module::InitOptimizer: the module was bound without for_training");
  optimizer_ = std::move(optimizer);
  clip_global_norm_ = clip_global_norm;
  for (size_t i = 0; i < param_names_.size(); ++i) {
    auto it = attrs_.find(param_names_[i]);
    const ParamMults mults = MultsFromAttrs(
        param_names_[i], it == attrs_.end() ? std::map<std::string, std::string>{} : it->second);
    optimizer_->SetParam(static_cast<int>(i), param_names_[i], mults.lr_mult, mults.wd_mult);
    for (size_t d = 1; d < devices_.size(); ++d) {
      optimizer_->SetReplica(OptimizerIndex(i, d), static_cast<int>(i));
    }
  }
}

Executor& Module::ExecutorFor(Device& device, const ShapeDict& shapes) {
  bool same = true;
  std::string key;
  for (const auto& [name, shape] : shapes) {
    same = same && device.exec.arg_dict().at(name).shape() == shape;
    key += name + shape.ToString();
  }
  if (same) return device.exec;
  auto it = device.reshaped.find(key);
  if (it == device.reshaped.end()) {
    it = device.reshaped
             .emplace(key, device.exec.Reshape(shapes, /*partial_shaping=*/false,
                                               /*allow_up_sizing=*/true))
             .first;
  }
  return it->second;
}

void Module::Forward(const DataBatch& batch, bool is_train) {
  CheckBound("Forward");
  LOOM_CHECK_TYPED(ShapeError, batch.data.size() == data_names_.size(), "expected a batch with ",
                   data_names_.size(), " data arrays (", Join(data_names_), ") but got ",
                   batch.data.size());
  const Executor& bound = devices_.front()->exec;
  // The inputs the executors take: (name, whole-batch array).
  std::vector<std::pair<std::string, NDArray>> inputs;
  for (size_t i = 0; i < data_names_.size(); ++i)
    inputs.emplace_back(data_names_[i], batch.data[i]);
  for (size_t i = 0; i < label_names_.size() && i < batch.label.size(); ++i) {
    if (bound.arg_dict().contains(label_names_[i])) {
      inputs.emplace_back(label_names_[i], batch.label[i]);
    }
  }
  const size_t num_devices = devices_.size();
  const Shape& first_shape = batch.data.front().shape();
  const int64_t rows = first_shape.ndim() > 0 ? first_shape[0] : 1;
  if (num_devices > 1) {
    LOOM_CHECK_TYPED(ShapeError, rows >= static_cast<int64_t>(num_devices), "a batch of ", rows,
                     " rows cannot be split over ", num_devices,
                     " devices (every device needs a row)");
    for (const auto& [name, array] : inputs) {
      LOOM_CHECK_TYPED(ShapeError, array.shape().ndim() > 0 && array.shape()[0] == rows, "input '",
                       name, "': expected ", rows,
                       " rows along the first axis (the batch split over the devices) but got "
                       "shape ",
                       array.shape().ToString());
    }
  }
  const std::vector<std::pair<int64_t, int64_t>> slices =
      num_devices > 1 ? Slices(rows) : std::vector<std::pair<int64_t, int64_t>>{{0, rows}};
  for (size_t d = 0; d < num_devices; ++d) {
    Device& device = *devices_[d];
    std::vector<NDArray> parts;
    ShapeDict shapes;
    for (const auto& [name, array] : inputs) {
      parts.push_back(num_devices > 1 ? array.Slice(slices[d].first, slices[d].second) : array);
      shapes[name] = parts.back().shape();
    }
    Executor& exe = ExecutorFor(device, shapes);
    std::string fed;
    for (const auto& [name, shape] : shapes) fed += name + shape.ToString();
    LOOM_CHECK(!is_train || &exe == &device.exec,
               "Module::Forward: training batches must have the bound shapes; got ", fed);
    for (size_t i = 0; i < inputs.size(); ++i) {
      NDArray dst = exe.arg_dict().at(inputs[i].first);
      dst.CopyFrom(As(parts[i], dst.dtype()));
    }
    exe.Forward(is_train);
    device.current = &exe;
  }
  if (num_devices == 1) return;
  // Gather the outputs into whole-batch host arrays (pushed copies into row ranges).
  gathered_.clear();
  const size_t num_outputs = devices_.front()->current->outputs().size();
  for (size_t o = 0; o < num_outputs; ++o) {
    const NDArray& head = devices_.front()->current->outputs()[o];
    LOOM_CHECK_TYPED(ShapeError, head.shape().ndim() > 0, "output ", o,
                     " is a scalar; data parallelism over several devices concatenates outputs "
                     "along their first axis");
    int64_t total = 0;
    for (const auto& device : devices_) total += device->current->outputs()[o].shape()[0];
    std::vector<int64_t> dims(head.shape().begin(), head.shape().end());
    dims[0] = total;
    NDArray whole = NDArray::Empty(Shape(dims), Context::CPU(), head.dtype());
    int64_t begin = 0;
    for (const auto& device : devices_) {
      const NDArray& part = device->current->outputs()[o];
      NDArray dst = whole.Slice(begin, begin + part.shape()[0]);
      dst.CopyFrom(part);
      begin += part.shape()[0];
    }
    gathered_.push_back(whole);
  }
}

void Module::Backward() {
  CheckBound("Backward");
  LOOM_CHECK(for_training_, "Module::Backward: the module was bound without for_training");
  for (const auto& device : devices_) device->exec.Backward();
  // Sum each gradient over the devices of this process (device_kv_) or over every device of every
  // process (kv_), every device getting the sum. Last parameters first: backward produces their
  // gradients first, so their buckets fill and go out while the earlier layers are still being
  // differentiated.
  comm::KVStore* kv = kv_ ? kv_.get() : device_kv_.get();
  if (kv == nullptr) return;
  LOOM_CHECK(!kv_ || kv_keys_ready_, "Module::Backward: call SyncParams after SetKVStore");
  const size_t num_params = devices_.front()->grads.size();
  std::vector<comm::Key> keys;
  std::vector<std::vector<NDArray>> grads;
  for (size_t i = num_params; i-- > 0;) {
    keys.emplace_back(static_cast<int>(i));
    grads.emplace_back();
    for (const auto& device : devices_) grads.back().push_back(device->grads[i]);
  }
  kv->PushPull(keys, grads, grads, kGradientReductionPriority);
}

void Module::Update() {
  LOOM_CHECK(optimizer_ != nullptr, "Module::Update: call InitOptimizer first");
  optimizer_->BeginStep();
  // Every device's gradients are the same sums, so every device scales by the same factor.
  if (clip_global_norm_ > 0) {
    for (const auto& device : devices_) ClipGlobalNorm(device->grads, clip_global_norm_);
  }
  for (size_t i = 0; i < param_names_.size(); ++i) {
    for (size_t d = 0; d < devices_.size(); ++d) {
      optimizer_->Update(OptimizerIndex(i, d), devices_[d]->params[i], devices_[d]->grads[i]);
    }
  }
  if (grad_add_) {
    for (const auto& device : devices_) {
      for (size_t i = 0; i < device->grads.size(); ++i) device->grads[i].CopyFrom(device->zeros[i]);
    }
  }
}

const std::vector<NDArray>& Module::GetOutputs() const {
  CheckBound("GetOutputs");
  return devices_.size() > 1 ? gathered_ : devices_.front()->current->outputs();
}

void Module::UpdateMetrics(const std::vector<std::unique_ptr<EvalMetric>>& metrics,
                           const DataBatch& batch) {
  if (metrics.empty()) return;
  LOOM_CHECK(!batch.label.empty(), "Module::UpdateMetrics: the batch has no labels");
  const int64_t valid = batch.data.front().shape()[0] - batch.pad;
  NDArray output = GetOutputs().front();
  if (!output.ctx().is_host()) output = output.CopyTo(Context::CPU());
  for (const auto& m : metrics) m->Update(batch.label.front(), output, valid);
}

double Module::CheckedLoss(const DataBatch& batch, int64_t epoch, int64_t index) const {
  const NDArray& out = GetOutputs().front();
  const std::vector<float> p = out.ToVector<float>();
  const int64_t rows = out.shape().ndim() > 0 ? out.shape()[0] : 1;
  const int64_t valid = std::max<int64_t>(0, rows - batch.pad);
  const int64_t per_row = rows > 0 ? static_cast<int64_t>(p.size()) / rows : 0;
  for (int64_t i = 0; i < valid * per_row; ++i) {
    if (!std::isfinite(p[static_cast<size_t>(i)])) {
      std::ostringstream os;
      os << "training diverged at epoch " << epoch + 1 << " batch " << index + 1 << ": the output '"
         << symbol_.ListOutputs().front() << "' holds "
         << (std::isnan(p[static_cast<size_t>(i)]) ? "NaN" : "Inf") << " (row " << i / per_row
         << "); lower optimizer.lr or set optimizer.clip_global_norm";
      throw DivergedError(os.str(), epoch, index);
    }
  }
  if (batch.label.empty() || out.shape().ndim() != 2) return std::nan("");
  const NDArray& label = batch.label.front();
  if (label.shape().ndim() != 1 || label.shape()[0] != rows) return std::nan("");
  const std::vector<float> y = label.ToVector<float>();
  double sum = 0;
  for (int64_t r = 0; r < valid; ++r) {
    const auto c = static_cast<int64_t>(y[static_cast<size_t>(r)]);
    if (c < 0 || c >= per_row) return std::nan("");
    sum -= std::log(static_cast<double>(p[static_cast<size_t>(r * per_row + c)]) + 1e-12);
  }
  return valid > 0 ? sum / static_cast<double>(valid) : std::nan("");
}

FitResult Module::Fit(DataIter& train, DataIter* val, const FitOptions& options) {
  CheckBound("Fit");
  LOOM_CHECK(for_training_, "Module::Fit: the module was bound without for_training");
  LOOM_CHECK(optimizer_ != nullptr, "Module::Fit: call InitOptimizer first");
  auto metrics = MakeMetrics(options.metrics, options.top_k);
  FitResult result;
  for (int64_t epoch = options.begin_epoch; epoch < options.num_epochs; ++epoch) {
    const Clock::time_point epoch_start = Clock::now();
    train.Reset(epoch);
    int64_t index = epoch == options.begin_epoch ? options.begin_batch : 0;
    if (index > 0) train.Skip(index);
    if (options.epoch_begin) options.epoch_begin(epoch, index, train.NumBatches());
    for (const auto& m : metrics) m->Reset();
    int64_t samples = 0;
    double loss_sum = 0;
    int64_t loss_count = 0;
    DataBatch batch;
    bool limit_at_epoch_end = false;
    while (true) {
      const Clock::time_point t0 = Clock::now();
      if (!train.Next(&batch)) break;
      const Clock::time_point t1 = Clock::now();
      if (options.rng != nullptr) SetSeed((*options.rng)());
      Forward(batch, true);
      Backward();
      Update();
      BatchEndInfo info;
      info.epoch = epoch;
      info.batch = index;
      info.num_batches = train.NumBatches();
      info.num_update = optimizer_->num_update();
      info.samples = batch.data.front().shape()[0] - batch.pad;
      info.lr = optimizer_->learning_rate();
      info.loss = CheckedLoss(batch, epoch, index);  // waits for the forward pass only
      UpdateMetrics(metrics, batch);
      info.metrics = Values(metrics);
      info.data_seconds = Seconds(t0, t1);
      info.batch_seconds = Seconds(t0, Clock::now());
      samples += info.samples;
      if (std::isfinite(info.loss)) {
        loss_sum += info.loss;
        ++loss_count;
      }
      ++index;
      if (options.batch_end) options.batch_end(info);
      const bool max_reached = options.max_updates > 0 && info.num_update >= options.max_updates;
      if (max_reached && !info.stop && index >= train.NumBatches()) {
        // The limit falls on the epoch's last batch: finish the epoch (validation, callbacks).
        limit_at_epoch_end = true;
        break;
      }
      if (info.stop || max_reached) {
        result.status = info.stop ? FitResult::Status::kStopped : FitResult::Status::kMaxUpdates;
        result.epoch = epoch;
        result.batch_in_epoch = index;
        // A run stopped exactly at the end of an epoch continues with the next one.
        if (index >= train.NumBatches()) {
          result.epoch = epoch + 1;
          result.batch_in_epoch = 0;
        }
        return result;
      }
    }
    EpochEndInfo end;
    end.epoch = epoch;
    end.num_update = optimizer_->num_update();
    end.samples = samples;
    end.loss = loss_count > 0 ? loss_sum / static_cast<double>(loss_count) : std::nan("");
    end.train = Values(metrics);
    end.train_seconds = Seconds(epoch_start, Clock::now());
    if (val != nullptr) end.val = Score(*val, options.metrics, options.top_k);
    end.seconds = Seconds(epoch_start, Clock::now());
    if (options.epoch_end) options.epoch_end(end);
    if (end.stop || limit_at_epoch_end) {
      result.status = end.stop ? FitResult::Status::kStopped : FitResult::Status::kMaxUpdates;
      result.epoch = epoch + 1;
      result.batch_in_epoch = 0;
      return result;
    }
  }
  result.status = FitResult::Status::kCompleted;
  result.epoch = options.num_epochs;
  result.batch_in_epoch = 0;
  return result;
}

std::vector<std::pair<std::string, double>> Module::Score(DataIter& data,
                                                          const std::vector<std::string>& metrics,
                                                          int top_k) {
  CheckBound("Score");
  auto evals = MakeMetrics(metrics, top_k);
  data.Reset(0);
  DataBatch batch;
  while (data.Next(&batch)) {
    Forward(batch, false);
    UpdateMetrics(evals, batch);
  }
  return Values(evals);
}

NDArray Module::Predict(DataIter& data) {
  CheckBound("Predict");
  data.Reset(0);
  DataBatch batch;
  std::vector<float> rows;
  Shape row_shape;
  int64_t count = 0;
  while (data.Next(&batch)) {
    Forward(batch, false);
    const NDArray& out = GetOutputs().front();
    const std::vector<float> v = As(out, DType::kFloat32).ToVector<float>();
    const int64_t n = out.shape()[0];
    const int64_t valid = n - batch.pad;
    const size_t per_row = v.size() / static_cast<size_t>(n);
    rows.insert(rows.end(), v.begin(), v.begin() + static_cast<ptrdiff_t>(valid * per_row));
    std::vector<int64_t> dims(out.shape().dims().begin() + 1, out.shape().dims().end());
    row_shape = Shape(dims);
    count += valid;
  }
  std::vector<int64_t> dims = {count};
  dims.insert(dims.end(), row_shape.dims().begin(), row_shape.dims().end());
  return NDArray::FromHost<float>(rows, Shape(dims));
}

std::string Module::SaveCheckpoint(const std::string& prefix, int64_t epoch) const {
  CheckBound("SaveCheckpoint");
  WriteFileAtomic(prefix + "-symbol.json", symbol_.ToJSON());
  auto [args, aux] = GetParams();
  NamedArrays all;
  for (auto& [name, a] : args) all["arg:" + name] = a;
  for (auto& [name, a] : aux) all["aux:" + name] = a;
  char suffix[32];
  std::snprintf(suffix, sizeof(suffix), "-%04lld.params", static_cast<long long>(epoch));
  const std::string path = prefix + suffix;
  SaveMXNetParams(path, all);
  return path;
}

MXNetCheckpoint Module::LoadCheckpoint(const std::string& prefix, int64_t epoch) {
  char suffix[32];
  std::snprintf(suffix, sizeof(suffix), "-%04lld.params", static_cast<long long>(epoch));
  const std::string path = prefix + suffix;
  MXNetCheckpoint ckpt;
  ckpt.symbol = Symbol::Load(prefix + "-symbol.json");
  std::tie(ckpt.arg_params, ckpt.aux_params) = SplitArgAux(LoadMXNetParams(path), path);
  return ckpt;
}

}  // namespace loom::train
