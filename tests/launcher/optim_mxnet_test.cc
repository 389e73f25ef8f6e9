// Optimizer updates bitwise equal to MXNet 1.9.1's: the weights after each of 4 float32 updates,
// for every optimizer, with weight decay, rescale_grad and clipping, as MXNet computed them
// (values printed by tests/launcher/optim_mxnet_values.py; SGD through Module's updater, which
// runs multi_sgd_mom_update; AdamW through contrib adamw_update as GluonNLP's BERTAdam drives it).
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "loom/train/optimizer.h"

namespace loom::train {
namespace {

using Steps = std::vector<std::vector<float>>;

const std::map<std::string, Steps> kMXNetValues = {
    {"sgd",
     {{0.973999977f, -0.449499995f, 0.17475f, 1.99800003f, -2.92199993f},
      {0.874625981f, -0.416100502f, 0.181850255f, 1.94420207f, -2.873878f},
      {0.821814775f, -0.460624844f, 0.181808636f, 1.94383967f, -2.87769437f},
      {0.758462846f, -0.490236133f, 0.17658937f, 1.86656964f, -2.80325127f}}},
    {"sgd_noclip",
     {{0.973999977f, -0.449499995f, 0.0997499973f, 1.99800003f, -2.79699993f},
      {0.874625981f, -0.416100502f, 0.0644252524f, 1.94420207f, -2.63650298f},
      {0.821814775f, -0.510624826f, 0.0263185576f, 1.94383967f, -2.53941917f},
      {0.758462846f, -0.585186124f, -0.0130037852f, 1.84156966f, -2.34950423f}}},
    {"sgd_plain",
     {{0.973999977f, -0.449499995f, 0.0997499973f, 1.99800003f, -2.79699993f},
      {0.89802599f, -0.461550504f, 0.199650258f, 1.94600201f, -2.8192029f},
      {0.93462795f, -0.586088955f, 0.193200603f, 1.99405599f, -2.86638379f},
      {0.918693304f, -0.575502872f, 0.188007399f, 1.89206195f, -2.76351738f}}},
    {"nag",
     {{0.950600028f, -0.404049993f, 0.107024997f, 1.99619997f, -2.85179996f},
      {0.78527391f, -0.386205018f, 0.188484952f, 1.89579034f, -2.83082175f},
      {0.774727821f, -0.501038849f, 0.182096124f, 1.94369757f, -2.88164639f},
      {0.702229619f, -0.517191887f, 0.172300011f, 1.79728842f, -2.73691988f}}},
    {"nag_plain",
     {{0.974000037f, -0.449499995f, 0.0997499973f, 1.99800003f, -2.79699993f},
      {0.898026049f, -0.461550474f, 0.199650258f, 1.94600213f, -2.81920314f},
      {0.934628069f, -0.586088896f, 0.193200618f, 1.99405611f, -2.86638403f},
      {0.918693483f, -0.575502813f, 0.188007429f, 1.89206207f, -2.76351786f}}},
    {"adam",
     {{0.98999995f, -0.48999995f, 0.239999935f, 1.99000013f, -2.99000001f},
      {0.980774879f, -0.485203832f, 0.240526259f, 1.98230672f, -2.98566723f},
      {0.976968408f, -0.488349766f, 0.240541875f, 1.98227119f, -2.98609281f},
      {0.972855091f, -0.490245432f, 0.240268052f, 1.97802389f, -2.9826684f}}},
    {"rmsprop",
     {{0.968377233f, -0.468377233f, 0.218377233f, 1.96838117f, -2.96837711f},
      {0.938337326f, -0.476079702f, 0.241318807f, 1.9367795f, -2.97773075f},
      {0.952209115f, -0.502897978f, 0.23923035f, 1.95884645f, -2.99524975f},
      {0.945955336f, -0.498969913f, 0.237456352f, 1.93500328f, -2.97369647f}}},
    {"adagrad",
     {{0.899000049f, -0.399500012f, 0.149749994f, 1.99800003f, -2.89700007f},
      {0.803232729f, -0.423354059f, 0.220310926f, 1.89600205f, -2.92572594f},
      {0.845286608f, -0.505347013f, 0.21420826f, 1.96481669f, -2.97625256f},
      {0.827544928f, -0.493918568f, 0.209293365f, 1.89009118f, -2.91072202f}}},
    {"adamw",
     {{0.9899683f, -0.489984125f, 0.239992037f, 1.9999367f, -2.98990512f},
      {0.980767131f, -0.485277891f, 0.240512714f, 1.99244821f, -2.98583245f},
      {0.977077007f, -0.488480687f, 0.240537941f, 1.99285984f, -2.98657513f},
      {0.97311306f, -0.4904522f, 0.240284622f, 1.98884714f, -2.98339534f}}},
};

struct Case {
  const char* key;
  const char* name;
  float lr, momentum, wd, rescale_grad, clip_gradient, epsilon;
};

// The settings of optim_mxnet_values.py's cases (MXNet's defaults for the rest: beta1 0.9,
// beta2 0.999, rho (gamma1) 0.9).
const Case kCases[] = {
    {"sgd", "sgd", 0.1f, 0.9f, 0.01f, 0.5f, 0.75f, 1e-8f},
    {"sgd_noclip", "sgd", 0.1f, 0.9f, 0.01f, 0.5f, -1, 1e-8f},
    {"sgd_plain", "sgd", 0.1f, 0, 0.01f, 0.5f, -1, 1e-8f},
    {"nag", "nag", 0.1f, 0.9f, 0.01f, 0.5f, 0.75f, 1e-8f},
    {"nag_plain", "nag", 0.1f, 0, 0.01f, 0.5f, -1, 1e-8f},
    {"adam", "adam", 0.01f, 0, 0.01f, 0.5f, 0.75f, 1e-8f},
    {"rmsprop", "rmsprop", 0.01f, 0, 0.01f, 0.5f, 0.75f, 1e-8f},
    {"adagrad", "adagrad", 0.1f, 0, 0.01f, 0.5f, 0.75f, 1e-7f},
    {"adamw", "adamw", 0.01f, 0, 0.01f, 0.5f, 0.75f, 1e-8f},
};

TEST(OptimMXNetTest, UpdatesAreBitwiseMXNets) {
  const std::vector<float> w0 = {1.0f, -0.5f, 0.25f, 2.0f, -3.0f};
  const Steps grads = {{0.5f, -1.0f, 3.0f, 0.0f, -4.0f},
                       {1.5f, 0.25f, -2.0f, 1.0f, 0.5f},
                       {-0.75f, 2.5f, 0.125f, -1.0f, 1.0f},
                       {0.3f, -0.2f, 0.1f, 2.0f, -2.0f}};
  for (const Case& c : kCases) {
    proto::Optimizer cfg;
    cfg.set_name(c.name);
    cfg.set_lr(c.lr);
    cfg.set_momentum(c.momentum);
    cfg.set_wd(c.wd);
    cfg.set_rescale_grad(c.rescale_grad);
    cfg.set_clip_gradient(c.clip_gradient);
    cfg.set_epsilon(c.epsilon);
    auto opt = Optimizer::Create(cfg, 1.0f);
    NDArray w = NDArray::FromHost<float>(w0, {5});
    const Steps& want = kMXNetValues.at(c.key);
    for (size_t t = 0; t < grads.size(); ++t) {
      opt->BeginStep();
      opt->Update(0, w, NDArray::FromHost<float>(grads[t], {5}));
      EXPECT_EQ(w.ToVector<float>(), want[t]) << c.key << " after update " << t + 1;
    }
  }
}

}  // namespace
}  // namespace loom::train
