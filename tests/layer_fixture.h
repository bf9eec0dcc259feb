// The differentiable layer (blorc/layer.h) driven from the tests: forward and backward on one
// backend, shared by the CPU tests (test_layer.cc) and the emulated gpu tests.
#pragma once
#include <vector>

#include "pipeline.h"

namespace layer {

using lib::Vec;

struct Out {
  Vec x, ok, gW, gy, gA;
  blorc_layer_stats stats{};
};

// Operator setup for a layer run: none (A = I), a shared m x n matrix, or per-sample masks.
struct Op {
  blorc_operator_kind kind = BLORC_OP_IDENTITY;
  int m = 0;
  Vec A, masks;
  double ridge = 0;
};

class Layer {
 public:
  Layer(int n, int k, int B, const Op &op = {}, blorc_device dev = BLORC_DEVICE_CPU)
      : run_(n, k, B, dev), n_(n), k_(k), B_(B), op_(op) {
    blorc_error e{};
    lib::check(blorc_set_operator(run_.get(), op.kind, op.m, op.A.empty() ? nullptr : op.A.data(),
                                  op.ridge, &e),
               e, "set_operator");
  }
  Out forward(const Vec &W, const Vec &Y, const blorc_denoise_opts &o) {
    blorc_error e{};
    Out out;
    out.x.resize((size_t)B_ * n_);
    out.ok.resize(B_);
    lib::check(blorc_layer_forward(run_.get(), W.data(), Y.data(),
                                   op_.masks.empty() ? nullptr : op_.masks.data(), B_, &o,
                                   out.x.data(), out.ok.data(), &out.stats, &e),
               e, "layer forward");
    return out;
  }
  void backward(const Vec &gx, Out &out) {
    blorc_error e{};
    int m = blorc_operator_rows(run_.get());
    out.gW.assign((size_t)k_ * n_, 0.0);
    out.gy.assign((size_t)B_ * m, 0.0);
    out.gA.assign(op_.kind == BLORC_OP_MATRIX ? (size_t)m * n_ : 0, 0.0);
    lib::check(blorc_layer_backward(run_.get(), gx.data(), out.gW.data(), out.gy.data(),
                                    out.gA.empty() ? nullptr : out.gA.data(), &e),
               e, "layer backward");
  }
  lib::Run &run() { return run_; }

 private:
  lib::Run run_;
  int n_, k_, B_;
  Op op_;
};

}  // namespace layer
