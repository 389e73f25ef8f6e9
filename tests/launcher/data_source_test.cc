// Data sources as an experiment names them: Fashion-MNIST/MNIST directories (hand-made files, and
// the real Fashion-MNIST when Debian's package is installed), idx, csv, synthetic; CreateDataIter.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "data_test_util.h"
#include "loom/scheduler/error.h"
#include "loom/train/data_iter.h"

namespace loom::train {
namespace {

using ::testing::AllOf;
using testing::GzipStored;
using ::testing::HasSubstr;
using testing::IdxBytes;
using testing::TempDir;
using testing::WriteBytes;

constexpr const char* kDebianFashionMnist = "/usr/share/datasets/fashion-mnist";

// A Fashion-MNIST-like directory: `train` and `test` images of 2x2 pixels, label i % 10.
void WriteStandardDir(const TempDir& dir, int train, int test, bool gzip) {
  for (const auto& [prefix, count] :
       {std::pair<std::string, int>{"train", train}, {"t10k", test}}) {
    std::vector<uint8_t> pixels;
    std::vector<uint8_t> labels;
    for (int i = 0; i < count; ++i) {
      for (int j = 0; j < 4; ++j) pixels.push_back(static_cast<uint8_t>(i * 4 + j));
      labels.push_back(static_cast<uint8_t>(i % 10));
    }
    const std::string images = IdxBytes({static_cast<uint32_t>(count), 2, 2}, pixels);
    const std::string label_file = IdxBytes({static_cast<uint32_t>(count)}, labels);
    const std::string suffix = gzip ? ".gz" : "";
    WriteBytes(dir.File(prefix + "-images-idx3-ubyte" + suffix),
               gzip ? GzipStored(images) : images);
    WriteBytes(dir.File(prefix + "-labels-idx1-ubyte" + suffix),
               gzip ? GzipStored(label_file) : label_file);
  }
}

proto::DataSource Source(const std::string& kind, const std::string& dir = "") {
  proto::DataSource s;
  s.set_source(kind);
  if (!dir.empty()) s.set_dir(dir);
  return s;
}

TEST(DataSource, FashionMnistDirectoryGzipOrPlain) {
  for (const bool gzip : {true, false}) {
    TempDir dir;
    WriteStandardDir(dir, 12, 5, gzip);
    proto::DataSource source = Source("fashion_mnist", dir.path());
    const Dataset train = LoadDataSource(source);
    EXPECT_EQ(train.num_samples(), 12);
    EXPECT_EQ(train.sample_shape, (Shape{1, 2, 2}));
    EXPECT_EQ(train.labels[11], 1.0f);
    EXPECT_EQ(train.bytes[4 * 11 + 3], 47);
    source.set_split("test");
    EXPECT_EQ(LoadDataSource(source).num_samples(), 5);
    source.set_limit(3);
    EXPECT_EQ(LoadDataSource(source).num_samples(), 3);
    EXPECT_EQ(LoadDataSource(source).bytes.size(), 12u);
    source.set_source("mnist");  // same layout, other default directory
    EXPECT_EQ(LoadDataSource(source).num_samples(), 3);
  }
}

TEST(DataSource, MissingFilesSayWhichPackageProvidesThem) {
  TempDir dir;
  try {
    LoadDataSource(Source("fashion_mnist", dir.path()));
    ADD_FAILURE() << "expected an IoError";
  } catch (const IoError& e) {
    EXPECT_THAT(e.what(), AllOf(HasSubstr(dir.File("train-images-idx3-ubyte.gz")),
                                HasSubstr(dir.File("train-images-idx3-ubyte") + "'"),
                                HasSubstr("install Debian's dataset-fashion-mnist package "
                                          "(scripts/install-deps.sh)")));
  }
  try {
    LoadDataSource(Source("mnist", dir.path()));
    ADD_FAILURE() << "expected an IoError";
  } catch (const IoError& e) {
    EXPECT_THAT(e.what(), AllOf(HasSubstr("no Debian package provides MNIST"),
                                HasSubstr("t10k-labels-idx1-ubyte.gz"), HasSubstr(dir.path())));
  }
  // Images present, labels missing: the labels are named.
  WriteBytes(dir.File("train-images-idx3-ubyte"), IdxBytes({1, 1, 1}, {0}));
  EXPECT_THAT(
      [&] {
        try {
          LoadDataSource(Source("fashion_mnist", dir.path()));
        } catch (const IoError& e) {
          return std::string(e.what());
        }
        return std::string();
      }(),
      HasSubstr("train-labels-idx1-ubyte"));
}

TEST(DataSource, IdxAndCsvSources) {
  TempDir dir;
  WriteBytes(dir.File("i"), IdxBytes({2, 1, 3}, {1, 2, 3, 4, 5, 6}));
  WriteBytes(dir.File("l"), IdxBytes({2}, {4, 0}));
  proto::DataSource idx = Source("idx");
  idx.set_images(dir.File("i"));
  idx.set_labels(dir.File("l"));
  EXPECT_EQ(LoadDataSource(idx).labels, (std::vector<float>{4, 0}));
  idx.set_num_classes(4);  // labels must be below num_classes
  EXPECT_THROW(LoadDataSource(idx), DataError);
  idx.clear_labels();
  EXPECT_THROW(LoadDataSource(idx), ConfigError);

  WriteBytes(dir.File("a.csv"), "a,b,c\n1,2,3\n4,5,6\n");
  proto::DataSource csv = Source("csv");
  csv.set_csv(dir.File("a.csv"));
  csv.set_header(true);
  csv.set_label_column(0);
  const Dataset ds = LoadDataSource(csv);
  EXPECT_EQ(ds.labels, (std::vector<float>{1, 4}));
  EXPECT_EQ(ds.floats, (std::vector<float>{2, 3, 5, 6}));
}

TEST(DataSource, BadKeysAreConfigErrors) {
  EXPECT_THAT(
      [] {
        try {
          LoadDataSource(Source("imagenet"));
        } catch (const ConfigError& e) {
          return std::string(e.what());
        }
        return std::string();
      }(),
      HasSubstr("unknown data source 'imagenet': expected one of fashion_mnist, mnist, idx, csv, "
                "synthetic"));
  proto::DataSource s = Source("fashion_mnist", "/nonexistent");
  s.set_split("val");
  EXPECT_THROW(LoadDataSource(s), ConfigError);
  proto::DataSource limit = Source("synthetic");
  limit.set_limit(-1);
  EXPECT_THROW(LoadDataSource(limit), ConfigError);
  proto::DataSource shape = Source("synthetic");
  shape.add_shape(0);
  EXPECT_THROW(LoadDataSource(shape), ConfigError);
}

TEST(DataSource, SyntheticIsDeterministicAndLearnable) {
  const Shape shape{32};
  const Dataset a = MakeSynthetic(300, shape, 3, 5, 0);
  const Dataset b = MakeSynthetic(300, shape, 3, 5, 0);
  EXPECT_EQ(a.floats, b.floats);
  EXPECT_EQ(a.labels, b.labels);
  EXPECT_EQ(a.labels[4], 1.0f);  // label i mod classes
  EXPECT_NE(MakeSynthetic(300, shape, 3, 6, 0).floats, a.floats);
  const Dataset test = MakeSynthetic(300, shape, 3, 5, 1);
  EXPECT_NE(test.floats, a.floats);

  // Class means estimated on the train stream classify the test stream well (nearest mean).
  std::vector<double> means(3 * 32, 0.0);
  for (int64_t i = 0; i < 300; ++i) {
    for (int64_t j = 0; j < 32; ++j) {
      means[static_cast<size_t>(i % 3 * 32 + j)] +=
          a.floats[static_cast<size_t>(i * 32 + j)] / 100.0;
    }
  }
  int correct = 0;
  for (int64_t i = 0; i < 300; ++i) {
    int best = 0;
    double best_d = 1e300;
    for (int c = 0; c < 3; ++c) {
      double d = 0;
      for (int64_t j = 0; j < 32; ++j) {
        d += std::pow(
            test.floats[static_cast<size_t>(i * 32 + j)] - means[static_cast<size_t>(c * 32 + j)],
            2);
      }
      if (d < best_d) {
        best_d = d;
        best = c;
      }
    }
    correct += best == static_cast<int>(test.labels[i]) ? 1 : 0;
  }
  EXPECT_GT(correct, 270);  // > 90%; chance is 33%

  // Through a DataSource: train and test splits, default shape (1, 28, 28).
  proto::DataSource s = Source("synthetic");
  s.set_num_samples(20);
  s.set_seed(5);
  const Dataset from_proto = LoadDataSource(s);
  EXPECT_EQ(from_proto.sample_shape, (Shape{1, 28, 28}));
  EXPECT_EQ(from_proto.num_samples(), 20);
  s.set_split("test");
  EXPECT_NE(LoadDataSource(s).floats, from_proto.floats);
}

TEST(DataSource, CreateDataIterAppliesTheDataSection) {
  proto::Data data;
  data.set_batch_size(16);
  data.set_last_batch("discard");
  data.set_flatten(true);
  data.set_mean(1.0f);
  data.set_prefetch(1);
  proto::DataSource source = Source("synthetic");
  source.set_num_samples(40);
  source.add_shape(3);
  source.add_shape(2);
  DataIterOptions options;
  options.seed = 9;
  auto train = CreateDataIter(source, data, options);
  EXPECT_EQ(train->ProvideData()[0].shape, (Shape{16, 6}));
  EXPECT_EQ(train->NumBatches(), 2);  // discard
  const Dataset raw = MakeSynthetic(40, Shape{3, 2}, 10, 0, 0);
  train->Reset(0);
  DataBatch batch;
  ASSERT_TRUE(train->Next(&batch));
  const std::vector<float> x = batch.data[0].ToVector<float>();
  const std::vector<float> y = batch.label[0].ToVector<float>();
  // Shuffled (some row is not sample i), each row a normalised raw sample with its label.
  bool moved = false;
  for (int64_t r = 0; r < 16; ++r) {
    int64_t match = -1;
    for (int64_t i = 0; i < 40 && match < 0; ++i) {
      bool same = true;
      for (int j = 0; j < 6; ++j) same = same && x[r * 6 + j] == raw.floats[i * 6 + j] - 1.0f;
      if (same) match = i;
    }
    ASSERT_GE(match, 0) << "row " << r;
    EXPECT_EQ(y[static_cast<size_t>(r)], raw.labels[static_cast<size_t>(match)]);
    moved = moved || match != r;
  }
  EXPECT_TRUE(moved);

  // Evaluation: no shuffling, pad whatever last_batch says; unflattened by default.
  options.is_train = false;
  data.clear_flatten();
  auto val = CreateDataIter(source, data, options);
  EXPECT_EQ(val->NumBatches(), 3);
  EXPECT_EQ(val->ProvideData()[0].shape, (Shape{16, 3, 2}));
  val->Reset(0);
  ASSERT_TRUE(val->Next(&batch));
  EXPECT_EQ(batch.label[0].ToVector<float>()[1], 1.0f);

  data.set_last_batch("sometimes");
  EXPECT_THROW(CreateDataIter(source, data, options), ConfigError);
  data.set_last_batch("pad");
  data.set_batch_size(0);
  EXPECT_THROW(CreateDataIter(source, data, options), ConfigError);
}

TEST(DataSource, RealFashionMnist) {
  if (!std::filesystem::exists(std::string(kDebianFashionMnist) + "/train-images-idx3-ubyte.gz")) {
    GTEST_SKIP() << "Fashion-MNIST is not installed in " << kDebianFashionMnist
                 << " (Debian's dataset-fashion-mnist package; scripts/install-deps.sh)";
  }
  proto::DataSource source = Source("fashion_mnist");
  for (const auto& [split, count] :
       {std::pair<std::string, int64_t>{"train", 60000}, {"test", 10000}}) {
    source.set_split(split);
    const Dataset ds = LoadDataSource(source);
    EXPECT_EQ(ds.num_samples(), count) << split;
    EXPECT_EQ(ds.sample_shape, (Shape{1, 28, 28}));
    EXPECT_EQ(ds.bytes.size(), static_cast<size_t>(count) * 784);
    std::vector<int64_t> per_class(10, 0);
    for (float label : ds.labels) {
      ASSERT_GE(label, 0.0f);
      ASSERT_LT(label, 10.0f);
      ++per_class[static_cast<size_t>(label)];
    }
    // Fashion-MNIST is balanced: 6000 per class in train, 1000 in test.
    for (int64_t n : per_class) EXPECT_EQ(n, count / 10) << split;
    EXPECT_EQ(*std::max_element(ds.bytes.begin(), ds.bytes.end()), 255);
  }
}

}  // namespace
}  // namespace loom::train
