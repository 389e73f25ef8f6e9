// BatchNorm CPU kernels: training (batch statistics, moving-average update of the auxiliary
// states), inference (moving statistics), fix_gamma, use_global_stats, any channel axis.
//
//   BatchNormParams p;                        // eps 1e-3, momentum 0.9, fix_gamma, axis 1
//   BatchNormForward(p, /*is_train=*/true, data, gamma, beta, moving_mean, moving_var,
//                    out, OpReq::kWriteTo, mean, var);
//   BatchNormBackward(p, true, out_grad, data, gamma, mean, var, data_grad, OpReq::kWriteTo,
//                     gamma_grad, OpReq::kWriteTo, beta_grad, OpReq::kWriteTo);
//
// out = gamma (x - mu) / sqrt(sigma^2 + eps) + beta per channel (gamma taken as 1 with fix_gamma).
// Training without use_global_stats uses the batch's mean and biased variance, writes them to
// `mean` and `var`, and updates moving = moving * momentum + batch * (1 - momentum); otherwise the
// moving statistics are used and copied to `mean`/`var`. Backward reads the statistics the
// forward wrote; with fix_gamma gamma's gradient is 0. float32 and float64 (all of one dtype).
// Cross-replica (synchronized) BatchNorm: with a `reducer` and batch statistics, the forward
// sums each channel's sum(x) and the element count over the replicas, then sum((x - mean)^2)
// (two passes, in double, as for one replica), so mean, var and the moving averages are the
// global batch's; the backward sums sum(dy), sum(dy (x - mean)) and the count over the replicas
// for the data gradient, while gamma's and beta's gradients stay this replica's sums. Every
// replica must call with the same channel count, in the same order (loom/core/replica_reducer.h).
// Thread-safe (the moving statistics are written in place: the caller orders those writes).
#pragma once

#include "loom/core/kernel.h"

namespace loom::cpu {

struct BatchNormParams {
  double eps = 1e-3;
  double momentum = 0.9;
  bool fix_gamma = true;
  bool use_global_stats = false;
  int axis = 1;
};

void BatchNormForward(const BatchNormParams& p, bool is_train, const TensorView& data,
                      const TensorView& gamma, const TensorView& beta,
                      const TensorView& moving_mean, const TensorView& moving_var,
                      const TensorView& out, OpReq req, const TensorView& mean,
                      const TensorView& var, ReplicaReducer* reducer = nullptr);

void BatchNormBackward(const BatchNormParams& p, bool is_train, const TensorView& out_grad,
                       const TensorView& data, const TensorView& gamma, const TensorView& mean,
                       const TensorView& var, const TensorView& data_grad, OpReq data_req,
                       const TensorView& gamma_grad, OpReq gamma_req, const TensorView& beta_grad,
                       OpReq beta_req, ReplicaReducer* reducer = nullptr);

}  // namespace loom::cpu
