// Trains LeNet (BatchNorm after each convolution) on Fashion-MNIST through the C++ API:
// what `loom train configs/fashion_mnist_lenet.yaml` does, minus the run directory.
//
//   ./build/examples/train_lenet [DATA_DIR] [EPOCHS]
//
// DATA_DIR holds the idx files (default /usr/share/datasets/fashion-mnist, Debian's
// dataset-fashion-mnist package). Writes fashion_mnist_lenet-symbol.json and
// fashion_mnist_lenet-NNNN.params (MXNet's format) into the current directory.
#include <cstdio>
#include <exception>
#include <string>

#include "loom/train/data_iter.h"
#include "loom/train/initializer.h"
#include "loom/train/models.h"
#include "loom/train/module.h"

int main(int argc, char** argv) {
  using namespace loom::train;
  try {
    const std::string dir = argc > 1 ? argv[1] : "/usr/share/datasets/fashion-mnist";
    const int epochs = argc > 2 ? std::stoi(argv[2]) : 5;

    // Data: 60,000 training and 10,000 test images of shape (1, 28, 28), normalised.
    loom::proto::Data data;
    data.mutable_train()->set_source("fashion_mnist");
    data.mutable_train()->set_split("train");
    data.mutable_train()->set_dir(dir);
    data.mutable_val()->set_source("fashion_mnist");
    data.mutable_val()->set_split("test");
    data.mutable_val()->set_dir(dir);
    data.set_batch_size(128);
    data.set_mean(0.286f);
    data.set_std(0.353f);
    data.set_flatten(false);
    auto train = CreateDataIter(data.train(), data, {.seed = 0, .is_train = true});
    auto test = CreateDataIter(data.val(), data, {.seed = 0, .is_train = false});

    // Model: the built-in LeNet with ReLU and BatchNorm, bound for batches of 128.
    loom::proto::Model model;
    model.set_builtin("lenet");
    model.set_activation("relu");
    model.set_batch_norm(true);
    Module mod(BuildModel(model, loom::Shape{1, 28, 28}));
    mod.Bind(train->ProvideData(), train->ProvideLabel(), /*for_training=*/true);
    mod.InitParams(*Initializer::Create(loom::proto::Initializer()), /*seed=*/0);

    // SGD with momentum, weight decay and a cosine learning-rate schedule over the whole run.
    loom::proto::Optimizer opt;
    opt.set_name("sgd");
    opt.set_lr(0.05f);
    opt.set_momentum(0.9f);
    opt.set_wd(1e-4f);
    opt.mutable_lr_schedule()->set_type("cosine");
    mod.InitOptimizer(opt, /*total_updates=*/epochs * train->NumBatches());

    FitOptions fit;
    fit.num_epochs = epochs;
    fit.metrics = {"accuracy"};
    fit.epoch_end = [](EpochEndInfo& e) {
      std::printf("epoch %lld: train accuracy %.4f, test accuracy %.4f, %.1fs (%.0f samples/s)\n",
                  static_cast<long long>(e.epoch + 1), e.train[0].second, e.val[0].second,
                  e.seconds, e.samples / e.train_seconds);
    };
    mod.Fit(*train, test.get(), fit);

    const auto scores = mod.Score(*test, {"accuracy", "cross_entropy"});
    std::printf("test accuracy %.4f, cross-entropy %.4f\n", scores[0].second, scores[1].second);
    const std::string params = mod.SaveCheckpoint("fashion_mnist_lenet", epochs);
    std::printf("saved fashion_mnist_lenet-symbol.json and %s\n", params.c_str());
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "train_lenet: %s\n", e.what());
    return 1;
  }
}
