#include "lm_model.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <regex>
#include <sstream>

#include "loom/core/attr_scope.h"
#include "loom/operators/rnn_cell.h"
#include "loom/operators/symbol_ops.h"
#include "loom/scheduler/engine.h"
#include "loom/scheduler/error.h"
#include "loom/train/initializer.h"

namespace loom::lm {
namespace {

constexpr const char* kData = "data";
constexpr const char* kLabel = "softmax_label";

std::string StepName(int64_t t, const std::string& what) {
  std::string name = "t";
  name += std::to_string(t);
  name += '_';
  name += what;
  return name;
}

std::string JoinComma(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& s : items) {
    if (!out.empty()) out += ", ";
    out += s;
  }
  return out;
}

// The arrays' device: the group's device from group2ctx, else the bind context.
Context DeviceOf(const std::string& group, const LmTrainer::Options& o) {
  const auto it = o.group2ctx.find(group);
  return it == o.group2ctx.end() ? o.ctx : it->second;
}

}  // namespace

std::vector<std::string> LmGroups(int num_layers) {
  std::vector<std::string> groups = {"embed"};
  for (int i = 0; i < num_layers; ++i) groups.push_back("layer" + std::to_string(i));
  groups.push_back("decode");
  return groups;
}

Symbol BuildLmSymbol(const LmSpec& spec, int64_t seq_len) {
  LOOM_CHECK(
      spec.vocab_size > 0 && spec.num_embed > 0 && spec.num_hidden > 0 && spec.num_layers > 0,
      "BuildLmSymbol: expected positive vocab_size, num_embed, num_hidden and num_layers");
  LOOM_CHECK(seq_len > 0, "BuildLmSymbol: expected a positive seq_len but got ", seq_len);
  const int steps = static_cast<int>(seq_len);
  std::vector<Symbol> hidden;
  {
    AttrScope scope({{"ctx_group", "embed"}});
    Symbol data = Symbol::Variable(kData);
    Symbol weight = Symbol::Variable("embed_weight");
    Symbol embed = op::Embedding(
        data, {.input_dim = spec.vocab_size, .output_dim = spec.num_embed, .weight = weight},
        "embed");
    Symbol split = op::SliceChannel(
        embed, {.num_outputs = seq_len, .axis = 0, .squeeze_axis = true}, "embed_split");
    for (int t = 0; t < steps; ++t) hidden.push_back(seq_len == 1 ? split : split[t]);
  }
  for (int i = 0; i < spec.num_layers; ++i) {
    const std::string layer = std::string("l").append(std::to_string(i)).append("_");
    AttrScope scope({{"ctx_group", "layer" + std::to_string(i)}});
    rnn::LSTMCell cell(spec.num_hidden, layer, spec.forget_bias);
    if (i > 0 && spec.dropout > 0) {
      for (int t = 0; t < steps; ++t) {
        hidden[t] = op::Dropout(hidden[t], {.p = spec.dropout}, layer + StepName(t, "dropout"));
      }
    }
    hidden = cell.Unroll(steps, hidden).first;
  }
  AttrScope scope({{"ctx_group", "decode"}});
  Symbol cls_weight = Symbol::Variable("cls_weight");
  Symbol cls_bias = Symbol::Variable("cls_bias");
  Symbol label = Symbol::Variable(kLabel);
  Symbol labels = op::SliceChannel(label, {.num_outputs = seq_len, .axis = 0, .squeeze_axis = true},
                                   "label_split");
  std::vector<Symbol> outputs;
  for (int t = 0; t < steps; ++t) {
    Symbol h = hidden[t];
    if (spec.dropout > 0) h = op::Dropout(h, {.p = spec.dropout}, StepName(t, "dropout"));
    Symbol logits = op::FullyConnected(
        h, {.num_hidden = spec.vocab_size, .weight = cls_weight, .bias = cls_bias},
        StepName(t, "cls"));
    outputs.push_back(op::SoftmaxOutput(logits,
                                        {.ignore_label = Vocab::kPad,
                                         .use_ignore = true,
                                         .label = seq_len == 1 ? labels : labels[t]},
                                        StepName(t, "sm")));
  }
  return Symbol::Group(outputs);
}

LmTrainer::LmTrainer(const LmSpec& spec, const Options& options)
    : spec_(spec), options_(options), lr_(options.lr) {
  LOOM_CHECK(options.batch_size > 0, "LmTrainer: expected a positive batch_size but got ",
             options.batch_size);
  LOOM_CHECK(!options.buckets.empty(), "LmTrainer: expected at least one bucket");
  const std::vector<std::string> groups = LmGroups(spec.num_layers);
  const std::string valid = JoinComma(groups);
  for (const auto& [group, ctx] : options.group2ctx) {
    if (std::find(groups.begin(), groups.end(), group) == groups.end()) {
      throw Error("group2ctx: unknown group '" + group + "' (on " + ctx.ToString() +
                  "); the model's groups are " + valid);
    }
  }
  for (const std::string& g : groups) {
    const Context ctx = DeviceOf(g, options);
    if (!ctx.is_host()) {
      throw NotSupportedError("group '" + g + "' is on " + ctx.ToString() +
                              ", but the training loop needs host arrays (ClipGlobalNorm and "
                              "reading the outputs are CPU-only so far); use cpu(i) devices");
    }
    if (!options.group2ctx.empty() && !options.group2ctx.contains(g)) {
      throw Error("group2ctx: no device for group '" + g +
                  "' (a non-empty group2ctx must place every group: " + valid + ")");
    }
  }

  // Parameters: the arguments of the largest bucket's graph other than data and label, allocated
  // on their groups' devices and shared by every bucket's executor.
  const int64_t longest = *std::max_element(options.buckets.begin(), options.buckets.end());
  const Symbol largest = BuildLmSymbol(spec, longest);
  const Shape io_shape{longest, options.batch_size};
  const auto shapes = largest.InferShape({{kData, io_shape}, {kLabel, io_shape}});
  LOOM_INTERNAL_ASSERT(shapes.has_value(), "the language model's shapes are not inferable");
  const std::vector<std::string> names = largest.ListArguments();
  const std::map<std::string, StrMap> attrs = largest.AttrDict();
  for (size_t i = 0; i < names.size(); ++i) {
    if (names[i] == kData || names[i] == kLabel) continue;
    LmParam p;
    p.name = names[i];
    if (const auto it = attrs.find(p.name); it != attrs.end()) {
      p.attrs.insert(it->second.begin(), it->second.end());
    }
    const auto g = p.attrs.find("__ctx_group__");
    LOOM_INTERNAL_ASSERT(g != p.attrs.end(), "parameter without ctx_group: ", p.name);
    p.group = g->second;
    const Context ctx = DeviceOf(p.group, options);
    p.weight = NDArray::Zeros(shapes->arguments[i], ctx);
    p.grad = NDArray::Zeros(shapes->arguments[i], ctx);
    params_.push_back(std::move(p));
  }

  NDArrayMap weights, grads;
  std::map<std::string, std::string, std::less<>> grad_req;
  for (const LmParam& p : params_) {
    weights.emplace(p.name, p.weight);
    grads.emplace(p.name, p.grad);
    grad_req.emplace(p.name, "add");
  }
  for (int64_t seq_len : options.buckets) {
    NDArrayMap args = weights;
    const Shape shape{seq_len, options.batch_size};
    args.emplace(kData, NDArray::Zeros(shape, DeviceOf("embed", options)));
    args.emplace(kLabel, NDArray::Zeros(shape, DeviceOf("decode", options)));
    try {
      executors_.emplace(
          seq_len, Executor::Bind(BuildLmSymbol(spec, seq_len), options.ctx, args, grads, grad_req,
                                  {}, options.group2ctx, options.exec));
    } catch (Error& e) {
      e.AddContext("while binding the language model for bucket " + std::to_string(seq_len));
      throw;
    }
  }
  optimizer_ = MakeOptimizer(lr_);
}

LmTrainer::~LmTrainer() {
  // Finish the updates and zeroing pushed for the arrays before they and the optimizer go; an
  // error of that work was already reported to whoever waited on it, or is moot now.
  try {
    Engine::Get().WaitForAll();
  } catch (const std::exception&) {
  }
}

std::unique_ptr<train::Optimizer> LmTrainer::MakeOptimizer(double lr) const {
  proto::Optimizer cfg;
  cfg.set_name("sgd");
  cfg.set_lr(static_cast<float>(lr));
  cfg.set_momentum(static_cast<float>(options_.momentum));
  cfg.set_wd(static_cast<float>(options_.wd));
  auto opt = train::Optimizer::Create(cfg, 1.0f / static_cast<float>(options_.batch_size));
  for (size_t i = 0; i < params_.size(); ++i) {
    const train::ParamMults m = train::MultsFromAttrs(params_[i].name, params_[i].attrs);
    opt->SetParam(static_cast<int>(i), params_[i].name, m.lr_mult, m.wd_mult);
  }
  return opt;
}

void LmTrainer::InitParams(double init_scale, uint64_t seed) {
  proto::Initializer cfg;
  cfg.set_type("uniform");
  cfg.set_scale(static_cast<float>(init_scale));
  const auto init = train::Initializer::Create(cfg);
  std::mt19937_64 rng(seed);
  // The i2h biases' __init__ attribute (MXNet's LSTMBias) sets the forget gate to forget_bias.
  for (LmParam& p : params_) (*init)(p.name, p.attrs, &p.weight, &rng);
}

std::vector<std::string> LmTrainer::PlacementLines() const {
  std::vector<std::string> lines;
  for (const LmParam& p : params_) {
    lines.push_back(p.name + " group=" + p.group + ", ctx=" + p.weight.ctx().ToString());
  }
  return lines;
}

Executor& LmTrainer::executor(int64_t seq_len) {
  const auto it = executors_.find(seq_len);
  if (it == executors_.end()) {
    std::vector<std::string> lengths;
    for (const auto& [len, exe] : executors_) lengths.push_back(std::to_string(len));
    const std::string valid = JoinComma(lengths);
    throw Error("no executor for sequence length " + std::to_string(seq_len) +
                "; the buckets are " + valid);
  }
  return it->second;
}

StepStats LmTrainer::Run(const Batch& batch, bool is_train) {
  LOOM_CHECK(batch.batch_size == options_.batch_size, "expected batches of ", options_.batch_size,
             " sentences but got ", batch.batch_size);
  Executor& exe = executor(batch.seq_len);
  NDArray data = exe.arg_dict().at(kData);
  NDArray label = exe.arg_dict().at(kLabel);
  data.CopyFromHost(batch.data.data(), batch.data.size());
  label.CopyFromHost(batch.label.data(), batch.label.size());
  exe.Forward(is_train);
  if (is_train) exe.Backward();
  // Wait once for the whole pass before reading the outputs: waking this thread per output while
  // the devices still work costs a context switch each on a busy machine.
  if (is_train) {
    for (const LmParam& p : params_) p.grad.WaitToRead();
  } else {
    exe.outputs().back().WaitToRead();
  }
  StepStats stats;
  const int64_t b = batch.batch_size;
  const int64_t v = spec_.vocab_size;
  for (int64_t t = 0; t < batch.seq_len; ++t) {
    const NDArray& out = exe.outputs()[static_cast<size_t>(t)];
    out.WaitToRead();
    const float* p = out.data<float>();
    for (int64_t r = 0; r < b; ++r) {
      const auto y = static_cast<int64_t>(batch.label[static_cast<size_t>(t * b + r)]);
      if (y == Vocab::kPad) continue;
      stats.nll -= std::log(std::max(static_cast<double>(p[r * v + y]), 1e-10));
      ++stats.tokens;
    }
  }
  return stats;
}

StepStats LmTrainer::ForwardBackward(const Batch& batch) { return Run(batch, true); }

StepStats LmTrainer::Evaluate(const Batch& batch) { return Run(batch, false); }

void LmTrainer::Update() {
  std::vector<NDArray> grads;
  grads.reserve(params_.size());
  for (const LmParam& p : params_) grads.push_back(p.grad);
  if (options_.clip > 0) {
    train::ClipGlobalNorm(grads, static_cast<float>(options_.clip * options_.batch_size));
  }
  optimizer_->BeginStep();
  Engine& engine = Engine::Get();
  for (size_t i = 0; i < params_.size(); ++i) {
    optimizer_->Update(static_cast<int>(i), params_[i].weight, params_[i].grad);
    const NDArray g = params_[i].grad;
    const VarHandle writes[] = {g.var()};
    engine.Push([g](RunContext) { std::memset(g.data(), 0, g.nbytes()); }, g.ctx(), {}, writes, 0,
                "zero_grad");
  }
}

StepStats LmTrainer::TrainBatch(const Batch& batch) {
  const StepStats stats = ForwardBackward(batch);
  Update();
  return stats;
}

void LmTrainer::SetLearningRate(double lr) {
  LOOM_CHECK(lr > 0, "SetLearningRate: expected a positive learning rate but got ", lr);
  auto next = MakeOptimizer(lr);
  next->LoadState(optimizer_->State(), optimizer_->num_update());
  optimizer_ = std::move(next);
  lr_ = lr;
}

int64_t LmTrainer::CopyBytes(int64_t seq_len) {
  // DebugStr lists each node; a copy node's block holds "output 0 <name> (d0,d1,...) <dtype>:".
  const std::string text = executor(seq_len).DebugStr();
  static const std::regex kOutput(R"(^  output \d+ \S+ \(([0-9,]*)\) (\w+):)");
  std::istringstream in(text);
  bool in_copy = false;
  int64_t bytes = 0;
  for (std::string line; std::getline(in, line);) {
    if (!line.starts_with("  ")) {
      in_copy = line.find("(_CrossDeviceCopy)") != std::string::npos;
      continue;
    }
    std::smatch m;
    if (!in_copy || !std::regex_search(line, m, kOutput)) continue;
    int64_t n = 1;
    std::stringstream dims(m[1].str());
    for (std::string d; std::getline(dims, d, ',');) n *= std::stoll(d);
    const std::string dtype = m[2].str();
    n *= dtype == "float64" ? 8 : dtype == "float16" ? 2 : 4;
    bytes += n;
  }
  return bytes;
}

}  // namespace loom::lm
