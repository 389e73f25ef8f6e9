// The semantic checks of an experiment: closed sets of names, positive sizes, required pairs.
// Each error names the key path, what was expected and where the value came from.
#include <cmath>
#include <regex>
#include <sstream>

#include "config/config_internal.h"
#include "loom/scheduler/error.h"

namespace loom::train::detail {
namespace {

namespace pb = google::protobuf;
using FD = pb::FieldDescriptor;

std::string FormatNumber(double v) {
  std::ostringstream os;
  os << v;
  return os.str();
}

class Validator {
 public:
  explicit Validator(const Origins& origins) : origins_(origins) {}

  // The origin of `path`, else of the nearest enclosing key that has one (a section set in a
  // file), else none (a default).
  Origin Find(std::string path) const {
    while (!path.empty()) {
      auto it = origins_.find(path);
      if (it != origins_.end()) return it->second;
      size_t cut = path.find_last_of(".[");
      path = cut == std::string::npos ? "" : path.substr(0, cut);
    }
    return Origin{};
  }

  [[noreturn]] void Fail(const std::string& path, const std::string& what) const {
    ThrowConfigError(Find(path), path + ": " + what);
  }

  void OneOf(const std::string& path, const std::string& value,
             const std::vector<std::string>& allowed) const {
    for (const auto& a : allowed) {
      if (value == a) return;
    }
    std::string list;
    for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
    std::string what = "expected one of " + list + " but got '" + value + "'";
    std::string near = NearestWord(value, allowed);
    if (!near.empty()) what += "; did you mean '" + near + "'?";
    Fail(path, what);
  }

  void AtLeast(const std::string& path, int64_t value, int64_t min) const {
    if (value < min) {
      Fail(path, "expected " +
                     std::string(min == 1   ? "a positive integer"
                                 : min == 0 ? "an integer >= 0"
                                            : "an integer >= " + std::to_string(min)) +
                     " but got " + std::to_string(value));
    }
  }

  // lo <= value (< or <=) hi.
  void InRange(const std::string& path, double value, double lo, double hi,
               bool hi_inclusive) const {
    if (!(value >= lo && (hi_inclusive ? value <= hi : value < hi))) {
      Fail(path, "expected a number in [" + FormatNumber(lo) + ", " + FormatNumber(hi) +
                     (hi_inclusive ? "]" : ")") + " but got " + FormatNumber(value));
    }
  }

  void Positive(const std::string& path, double value) const {
    if (!(value > 0)) Fail(path, "expected a positive number but got " + FormatNumber(value));
  }

  void NonNegative(const std::string& path, double value) const {
    if (!(value >= 0)) Fail(path, "expected a number >= 0 but got " + FormatNumber(value));
  }

  void NotEmpty(const std::string& path, const std::string& value, const std::string& what) const {
    if (value.empty()) Fail(path, "expected " + what + " but got an empty string");
  }

  // "cpu", "cpu(1)", "gpu(0)"; several separated by commas when `list`.
  void Context(const std::string& path, const std::string& value, bool list) const {
    static const std::regex kOne(R"(\s*(cpu|gpu)(\(\d+\))?\s*)");
    static const std::regex kList(R"(\s*(cpu|gpu)(\(\d+\))?\s*(,\s*(cpu|gpu)(\(\d+\))?\s*)*)");
    if (!std::regex_match(value, list ? kList : kOne)) {
      Fail(path, std::string("expected a device such as cpu, cpu(1) or gpu(0)") +
                     (list ? " (several separated by commas)" : "") + " but got '" + value + "'");
    }
  }

  // Every float and double must be finite; walks the whole message.
  void Finite(const pb::Message& message, const std::string& path) const {
    const pb::Reflection* r = message.GetReflection();
    std::vector<const FD*> fields;
    r->ListFields(message, &fields);
    for (const FD* f : fields) {
      const std::string p = JoinPath(path, f->name());
      if (f->cpp_type() == FD::CPPTYPE_MESSAGE) {
        if (f->is_repeated()) {
          for (int i = 0; i < r->FieldSize(message, f); ++i) {
            Finite(r->GetRepeatedMessage(message, f, i), p + "[" + std::to_string(i) + "]");
          }
        } else {
          Finite(r->GetMessage(message, f), p);
        }
        continue;
      }
      if (f->cpp_type() != FD::CPPTYPE_FLOAT && f->cpp_type() != FD::CPPTYPE_DOUBLE) continue;
      const int n = f->is_repeated() ? r->FieldSize(message, f) : 1;
      for (int i = 0; i < n; ++i) {
        double v =
            f->cpp_type() == FD::CPPTYPE_FLOAT
                ? (f->is_repeated() ? r->GetRepeatedFloat(message, f, i) : r->GetFloat(message, f))
                : (f->is_repeated() ? r->GetRepeatedDouble(message, f, i)
                                    : r->GetDouble(message, f));
        if (!std::isfinite(v)) {
          std::string item = f->is_repeated() ? p + "[" + std::to_string(i) + "]" : p;
          Fail(item, "expected a finite number but got " + FormatNumber(v));
        }
      }
    }
  }

 private:
  const Origins& origins_;
};

void ValidateModel(const Validator& v, const proto::Model& m) {
  const bool builtin = !m.builtin().empty(), symbol = !m.symbol().empty();
  if (builtin == symbol) {
    v.Fail(builtin ? "model.symbol" : "model",
           std::string("expected exactly one of model.builtin (mlp, lenet, resnet) and "
                       "model.symbol (an MXNet symbol JSON file) but got ") +
               (builtin ? "both" : "neither"));
  }
  if (builtin) v.OneOf("model.builtin", m.builtin(), {"mlp", "lenet", "resnet"});
  if (m.has_params()) v.NotEmpty("model.params", m.params(), "a params file path");
  v.AtLeast("model.num_classes", m.num_classes(), 1);
  for (int i = 0; i < m.hidden_size(); ++i) {
    v.AtLeast("model.hidden[" + std::to_string(i) + "]", m.hidden(i), 1);
  }
  v.OneOf("model.activation", m.activation(), {"relu", "sigmoid", "tanh", "softrelu"});
  v.InRange("model.dropout", m.dropout(), 0, 1, false);
  v.AtLeast("model.resnet_blocks", m.resnet_blocks(), 1);
  v.AtLeast("model.resnet_width", m.resnet_width(), 1);
}

void ValidateSource(const Validator& v, const proto::DataSource& s, const std::string& path) {
  const std::string source = path + ".source";
  v.OneOf(source, s.source(), {"fashion_mnist", "mnist", "idx", "csv", "synthetic"});
  v.OneOf(path + ".split", s.split(), {"train", "test"});
  if (s.source() == "idx") {
    v.NotEmpty(path + ".images", s.images(), "the idx image file (" + source + " is idx)");
    v.NotEmpty(path + ".labels", s.labels(), "the idx label file (" + source + " is idx)");
  }
  if (s.source() == "csv")
    v.NotEmpty(path + ".csv", s.csv(), "the CSV file (" + source + " is csv)");
  v.AtLeast(path + ".num_samples", s.num_samples(), 1);
  for (int i = 0; i < s.shape_size(); ++i) {
    v.AtLeast(path + ".shape[" + std::to_string(i) + "]", s.shape(i), 1);
  }
  v.AtLeast(path + ".num_classes", s.num_classes(), 1);
  v.AtLeast(path + ".limit", s.limit(), 0);
}

void ValidateData(const Validator& v, const proto::Data& d) {
  ValidateSource(v, d.train(), "data.train");
  if (d.has_val()) ValidateSource(v, d.val(), "data.val");
  v.AtLeast("data.batch_size", d.batch_size(), 1);
  v.OneOf("data.last_batch", d.last_batch(), {"pad", "discard", "roll_over"});
  v.Positive("data.std", d.std());
  v.AtLeast("data.prefetch", d.prefetch(), 0);
  v.NotEmpty("data.data_name", d.data_name(), "an input name");
  v.NotEmpty("data.label_name", d.label_name(), "an input name");
}

void ValidateOptimizer(const Validator& v, const proto::Optimizer& o) {
  v.OneOf("optimizer.name", o.name(), {"sgd", "nag", "adam", "adamw", "rmsprop", "adagrad"});
  v.NonNegative("optimizer.lr", o.lr());
  v.InRange("optimizer.momentum", o.momentum(), 0, 1, false);
  v.NonNegative("optimizer.wd", o.wd());
  if (o.has_rescale_grad()) v.Positive("optimizer.rescale_grad", o.rescale_grad());
  v.InRange("optimizer.beta1", o.beta1(), 0, 1, false);
  v.InRange("optimizer.beta2", o.beta2(), 0, 1, false);
  v.Positive("optimizer.epsilon", o.epsilon());
  v.InRange("optimizer.rho", o.rho(), 0, 1, false);

  const proto::LrSchedule& s = o.lr_schedule();
  const std::string p = "optimizer.lr_schedule";
  v.OneOf(p + ".type", s.type(), {"none", "factor", "multifactor", "cosine"});
  v.AtLeast(p + ".step", s.step(), 1);
  for (int i = 0; i < s.steps_size(); ++i) {
    const std::string item = p + ".steps[" + std::to_string(i) + "]";
    v.AtLeast(item, s.steps(i), 1);
    if (i > 0 && s.steps(i) <= s.steps(i - 1)) {
      v.Fail(item, "expected increasing update counts but got " + std::to_string(s.steps(i)) +
                       " after " + std::to_string(s.steps(i - 1)));
    }
  }
  if (s.type() == "multifactor" && s.steps_size() == 0) {
    v.Fail(p + ".steps", "expected at least one update count (" + p + ".type is multifactor)");
  }
  v.InRange(p + ".factor", s.factor(), 0, 1, true);
  if (s.factor() == 0) v.Fail(p + ".factor", "expected a number in (0, 1] but got 0");
  v.NonNegative(p + ".min_lr", s.min_lr());
  v.AtLeast(p + ".max_update", s.max_update(), 0);
  v.AtLeast(p + ".warmup_steps", s.warmup_steps(), 0);
  v.NonNegative(p + ".warmup_begin_lr", s.warmup_begin_lr());
}

void ValidateTrainer(const Validator& v, const proto::Trainer& t) {
  v.AtLeast("trainer.epochs", t.epochs(), 1);
  v.Context("trainer.context", t.context(), true);
  for (int i = 0; i < t.metrics_size(); ++i) {
    v.OneOf("trainer.metrics[" + std::to_string(i) + "]", t.metrics(i),
            {"accuracy", "top_k_accuracy", "cross_entropy", "perplexity", "mse", "mae"});
  }
  v.AtLeast("trainer.top_k", t.top_k(), 1);
  const proto::Initializer& init = t.initializer();
  const std::string p = "trainer.initializer";
  v.OneOf(p + ".type", init.type(),
          {"uniform", "normal", "xavier", "msra", "zero", "one", "constant"});
  v.Positive(p + ".scale", init.scale());
  v.Positive(p + ".sigma", init.sigma());
  v.OneOf(p + ".rnd_type", init.rnd_type(), {"uniform", "gaussian"});
  v.OneOf(p + ".factor_type", init.factor_type(), {"avg", "in", "out"});
  v.Positive(p + ".magnitude", init.magnitude());
  v.OneOf("trainer.grad_req", t.grad_req(), {"write", "add"});
  for (const auto& [group, device] : t.group2ctx()) {
    const std::string item = "trainer.group2ctx." + group;
    v.NotEmpty(item, group, "a ctx_group name");
    v.Context(item, device, false);
  }
  v.AtLeast("trainer.max_updates", t.max_updates(), 0);
  v.AtLeast("trainer.threads", t.threads(), 0);
}

}  // namespace

void Validate(const proto::Experiment& e, const Origins& origins) {
  Validator v(origins);
  v.Finite(e, "");
  v.NotEmpty("name", e.name(), "a name for the run directory");
  if (e.include_size() > 0) {
    v.Fail("include",
           "expected no includes in a resolved experiment (LoadExperiment follows them)");
  }
  ValidateModel(v, e.model());
  ValidateData(v, e.data());
  ValidateOptimizer(v, e.optimizer());
  ValidateTrainer(v, e.trainer());

  const proto::Checkpoint& c = e.checkpoint();
  v.AtLeast("checkpoint.every_epochs", c.every_epochs(), 0);
  v.AtLeast("checkpoint.every_updates", c.every_updates(), 0);
  v.AtLeast("checkpoint.keep", c.keep(), 0);
  v.NotEmpty("checkpoint.resume", c.resume(), "no, auto or a checkpoint file path");

  const proto::Logging& l = e.logging();
  v.NotEmpty("logging.run_root", l.run_root(), "a directory");
  v.AtLeast("logging.log_every", l.log_every(), 1);
  v.OneOf("logging.progress", l.progress(), {"auto", "bar", "lines", "none"});

  const proto::Distributed& d = e.distributed();
  v.OneOf("distributed.kvstore", d.kvstore(),
          {"local", "device", "nccl", "dist_sync", "dist_device_sync"});
  v.AtLeast("distributed.bucket_mb", d.bucket_mb(), 1);
  v.AtLeast("distributed.timeout_s", d.timeout_s(), 1);
}

}  // namespace loom::train::detail
