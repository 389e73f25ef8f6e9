// The data sources an experiment names (proto::DataSource), loaded into a Dataset; synthetic data.
#include <string>

#include "data/file_bytes.h"
#include "data/random.h"
#include "loom/scheduler/error.h"
#include "loom/train/data_iter.h"

namespace loom::train {
namespace {

constexpr const char* kFashionMnistDir = "/usr/share/datasets/fashion-mnist";
constexpr const char* kMnistDir = "/usr/share/datasets/mnist";

// "<dir>/<stem>.gz" if it exists, else "<dir>/<stem>" if it exists; IoError naming both and the
// way to get them otherwise.
std::string FindIdxFile(const std::string& dir, const std::string& stem,
                        const std::string& how_to_get) {
  const std::string plain = dir + "/" + stem;
  if (detail::PathExists(plain + ".gz")) return plain + ".gz";
  if (detail::PathExists(plain)) return plain;
  throw IoError("data file not found: neither '" + plain + ".gz' nor '" + plain + "' exists; " +
                how_to_get);
}

Dataset LoadStandardIdx(const proto::DataSource& source, bool fashion) {
  const std::string& split = source.split();
  LOOM_CHECK_TYPED(ConfigError, split == "train" || split == "test", "data source '",
                   source.source(), "': expected split 'train' or 'test' but got '", split, "'");
  const std::string dir =
      source.has_dir() ? source.dir() : std::string(fashion ? kFashionMnistDir : kMnistDir);
  const std::string how_to_get =
      fashion ? std::string(
                    "install Debian's dataset-fashion-mnist package "
                    "(scripts/install-deps.sh), which puts the files in ") +
                    kFashionMnistDir + ", or set the data source's dir"
              : std::string(
                    "no Debian package provides MNIST: download train-images-idx3-ubyte.gz, "
                    "train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz and "
                    "t10k-labels-idx1-ubyte.gz (e.g. from "
                    "https://ossci-datasets.s3.amazonaws.com/mnist/) into ") +
                    dir + ", or set the data source's dir";
  const std::string prefix = split == "train" ? "train" : "t10k";
  const std::string images = FindIdxFile(dir, prefix + "-images-idx3-ubyte", how_to_get);
  const std::string labels = FindIdxFile(dir, prefix + "-labels-idx1-ubyte", how_to_get);
  return ReadIdx(images, labels, 10);
}

}  // namespace

void Dataset::Truncate(int64_t n) {
  if (n >= num_samples()) return;
  const auto sample = static_cast<size_t>(sample_shape.Size());
  labels.resize(static_cast<size_t>(n));
  if (dtype == DType::kUInt8) {
    bytes.resize(static_cast<size_t>(n) * sample);
  } else {
    floats.resize(static_cast<size_t>(n) * sample);
  }
}

Dataset MakeSynthetic(int64_t num_samples, const Shape& sample_shape, int num_classes,
                      uint64_t seed, uint64_t stream) {
  LOOM_CHECK_TYPED(ConfigError, num_samples >= 1,
                   "synthetic data: expected num_samples >= 1 but got ", num_samples);
  LOOM_CHECK_TYPED(ConfigError, num_classes >= 1,
                   "synthetic data: expected num_classes >= 1 but got ", num_classes);
  LOOM_CHECK_TYPED(ConfigError, sample_shape.ndim() >= 1 && sample_shape.Size() >= 1,
                   "synthetic data: expected a sample shape with at least one element, such as "
                   "[1, 28, 28], but got ",
                   sample_shape.ToString());
  for (int64_t d : sample_shape) {
    LOOM_CHECK_TYPED(ConfigError, d >= 1, "synthetic data: expected dimensions >= 1 but got shape ",
                     sample_shape.ToString());
  }
  const auto size = static_cast<size_t>(sample_shape.Size());
  std::vector<float> means(static_cast<size_t>(num_classes) * size);
  detail::Rng pattern_rng(detail::Mix64(seed));
  for (float& m : means) m = static_cast<float>(2.0 * pattern_rng.Uniform() - 1.0);

  Dataset ds;
  ds.origin = "synthetic(seed " + std::to_string(seed) + ", stream " + std::to_string(stream) + ")";
  ds.sample_shape = sample_shape;
  ds.dtype = DType::kFloat32;
  ds.floats.resize(static_cast<size_t>(num_samples) * size);
  ds.labels.resize(static_cast<size_t>(num_samples));
  detail::Rng noise_rng(detail::Mix64(detail::Mix64(seed) ^ detail::Mix64(stream + 1)));
  for (size_t i = 0; i < ds.labels.size(); ++i) {
    const size_t label = i % static_cast<size_t>(num_classes);
    ds.labels[i] = static_cast<float>(label);
    const float* mean = means.data() + label * size;
    float* x = ds.floats.data() + i * size;
    for (size_t j = 0; j < size; ++j) x[j] = mean[j] + static_cast<float>(noise_rng.Normal());
  }
  return ds;
}

Dataset LoadDataSource(const proto::DataSource& source) {
  LOOM_CHECK_TYPED(ConfigError, source.limit() >= 0, "data source '", source.source(),
                   "': expected limit >= 0 (0: all) but got ", source.limit());
  LOOM_CHECK_TYPED(ConfigError, source.num_classes() >= 1, "data source '", source.source(),
                   "': expected num_classes >= 1 but got ", source.num_classes());
  const std::string& kind = source.source();
  Dataset ds;
  if (kind == "fashion_mnist" || kind == "mnist") {
    ds = LoadStandardIdx(source, kind == "fashion_mnist");
  } else if (kind == "idx") {
    LOOM_CHECK_TYPED(ConfigError, source.has_images() && source.has_labels(),
                     "data source 'idx': expected both images and labels (idx file paths)");
    ds = ReadIdx(source.images(), source.labels(), source.num_classes());
  } else if (kind == "csv") {
    LOOM_CHECK_TYPED(ConfigError, source.has_csv(),
                     "data source 'csv': expected csv (a file path)");
    ds = ReadCsv(source.csv(), source.label_column(), source.header());
  } else if (kind == "synthetic") {
    const std::string& split = source.split();
    LOOM_CHECK_TYPED(ConfigError, split == "train" || split == "test",
                     "data source 'synthetic': expected split 'train' or 'test' but got '", split,
                     "'");
    const Shape shape =
        source.shape_size() > 0
            ? Shape(std::vector<int64_t>(source.shape().begin(), source.shape().end()))
            : Shape{1, 28, 28};
    ds = MakeSynthetic(source.num_samples(), shape, source.num_classes(), source.seed(),
                       split == "train" ? 0 : 1);
  } else {
    throw ConfigError("unknown data source '" + kind +
                      "': expected one of fashion_mnist, mnist, idx, csv, synthetic");
  }
  if (source.limit() > 0) ds.Truncate(source.limit());
  return ds;
}

}  // namespace loom::train
