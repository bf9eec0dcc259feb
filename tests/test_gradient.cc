// Stage 6: the gradient, against central finite differences of the upper-level loss and
// against the paper's row-split equations (7) and (8), both implemented independently.
#include <gtest/gtest.h>

#include <cmath>

#include "pipeline.h"
#include "problems.h"

namespace {

using prob::Shape;

// One training pair whose sign pattern is robust: nonzero rows at least 1e-2 from zero
// (ten times gamma, and far beyond the 1e-6 FD step), zero rows with a dual at least 1e-2
// inside the unit box. Both row kinds present.
struct Pair {
  prob::Problem p;
  ref::Exact ex;
  std::vector<int> s;
};

Pair robust_pair(uint64_t seed, int n, int k) {
  for (uint64_t t = 0; t < 500; t++) {
    Pair q{prob::make(seed * 1000 + t, n, k, 1, 0.4), {}, {}};
    ref::Vec y = prob::row(q.p.Y, n, 0);
    ref::Vec x = ref::dual_pg_solve(q.p.W, k, n, y, 2000000);
    q.s = ref::sign_pattern(q.p.W, k, n, x, 1e-7);
    q.ex = ref::exact_given_signs(q.p.W, k, n, y, q.s, 1e-2, 1e-2);
    int zeros = 0;
    for (int v : q.s) zeros += v == 0;
    if (q.ex.certified && zeros > 0 && zeros < k) return q;
  }
  throw std::runtime_error("no robust problem found");
}

lib::Params tight() {
  lib::Params prm;
  prm.admm.tol = 1e-13;
  prm.admm.max_iters = 200000;
  return prm;
}

ref::Vec library_gradient(const prob::Problem &p, double *loss = nullptr) {
  lib::Run run(p.n, p.k, p.B);
  prob::load(run, p);
  lib::Params prm = tight();
  run.solve(prm);
  run.analyse(prm);
  double l = run.gradient();
  if (loss) *loss = l;
  return run.read(BLORC_BUF_GRAD);
}

class GradientFd : public ::testing::TestWithParam<Shape> {};

TEST_P(GradientFd, MatchesCentralDifferences) {
  Shape sh = GetParam();
  const int n = sh.n, k = sh.k;
  Pair q = robust_pair(7 + 31 * n + k, n, k);
  ref::Vec G = library_gradient(q.p);
  ref::Vec y = prob::row(q.p.Y, n, 0), xt = prob::row(q.p.X, n, 0);
  // Central differences of Q(W) = 1/2||x*(W) - x_t||^2. Each perturbed lower level is solved
  // exactly (KKT system) and certified optimal, so the FD error is truncation (h^2 ~ 1e-12)
  // plus rounding (1e-16 / h ~ 1e-10): 1e-7 relative is a safe bound, while a wrong term in
  // the formula (dropping b or a, a transposed factor) gives errors of order 1.
  const double h = 1e-6;
  ref::Vec Gfd((size_t)k * n);
  ref::Vec Wp = q.p.W;
  for (int i = 0; i < k; i++)
    for (int j = 0; j < n; j++) {
      double loss[2];
      for (int side = 0; side < 2; side++) {
        Wp[(size_t)i * n + j] = q.p.W[(size_t)i * n + j] + (side ? -h : h);
        ref::Exact e = ref::exact_given_signs(Wp, k, n, y, q.s, 0, 0);
        ASSERT_TRUE(e.certified) << "pattern changed under the FD step at " << i << "," << j;
        double l = 0;
        for (int c = 0; c < n; c++) l += 0.5 * (e.x[c] - xt[c]) * (e.x[c] - xt[c]);
        loss[side] = l;
      }
      Wp[(size_t)i * n + j] = q.p.W[(size_t)i * n + j];
      Gfd[(size_t)i * n + j] = (loss[0] - loss[1]) / (2 * h);
    }
  double err = ref::rel_diff(G, Gfd);
  RecordProperty("fd_relative_error", std::to_string(err));
  std::printf("[ fd ] n=%d k=%d relative error %.3g\n", n, k, err);
  EXPECT_LE(err, 1e-7);
}

INSTANTIATE_TEST_SUITE_P(Shapes, GradientFd,
                         ::testing::Values(Shape{8, 8}, Shape{8, 16}, Shape{8, 4}, Shape{12, 12},
                                           Shape{16, 16}, Shape{16, 32}, Shape{16, 8}),
                         prob::ShapeName());

// The rank-2 batched form -(1/B)[(A + S) H^T + Bm X*^T] against the mean of the paper's
// per-sample row-split gradients. Both are exact algebra on the same x*; they differ only by
// rounding in two different pseudo-inverse algorithms (dgesdd vs dgelsy) on well-conditioned
// W0: 1e-12 relative.
TEST(Gradient, Rank2BatchedFormEqualsRowSplitEquations) {
  for (auto sh : {Shape{8, 8}, Shape{12, 24}, Shape{16, 8}, Shape{16, 16}, Shape{24, 24}}) {
    const int n = sh.n, k = sh.k, B = 4;
    prob::Problem p = prob::make(500 + n + k, n, k, B, 0.4);
    lib::Run run(n, k, B);
    run.set_W(p.W);
    run.set_data(p.X, p.Y);
    run.select_first(B);
    lib::Params prm = tight();
    prm.gamma = 1e-8;  // the exact pattern: see test_closed_form.cc
    run.solve(prm);
    run.analyse(prm);
    double loss = run.gradient();
    ref::Vec G = run.read(BLORC_BUF_GRAD), S = run.read(BLORC_BUF_SIGN);
    ref::Vec Gref((size_t)k * n, 0.0);
    double loss_ref = 0;
    for (int j = 0; j < B; j++) {
      ref::Vec y = prob::row(p.Y, n, j), xt = prob::row(p.X, n, j);
      std::vector<int> s(k);
      for (int i = 0; i < k; i++) s[i] = (int)S[(size_t)j * k + i];
      // x* for the library's pattern from the KKT system, certified optimal.
      ref::Exact e = ref::exact_given_signs(p.W, k, n, y, s, 0, 0);
      ASSERT_TRUE(e.certified) << "n=" << n << " k=" << k << " sample " << j;
      ref::Vec g = ref::rowsplit_gradient(p.W, k, n, y, xt, e.x, s);
      for (size_t i = 0; i < g.size(); i++) Gref[i] += g[i] / B;
      for (int c = 0; c < n; c++) loss_ref += 0.5 * (e.x[c] - xt[c]) * (e.x[c] - xt[c]) / B;
    }
    EXPECT_LE(ref::rel_diff(G, Gref), 1e-12) << "n=" << n << " k=" << k;
    EXPECT_NEAR(loss, loss_ref, 1e-12 * loss_ref) << "n=" << n << " k=" << k;
  }
}

TEST(Gradient, BatchGradientIsTheMeanOfSingleSampleGradients) {
  const int n = 16, k = 16, B = 5;
  prob::Problem p = prob::make(77, n, k, B, 0.4);
  double loss;
  ref::Vec G = library_gradient(p, &loss);
  ref::Vec mean((size_t)k * n, 0.0);
  double mean_loss = 0;
  for (int j = 0; j < B; j++) {
    prob::Problem one{n, k, 1, p.W, prob::row(p.X, n, j), prob::row(p.Y, n, j)};
    double l;
    ref::Vec g = library_gradient(one, &l);
    for (size_t e = 0; e < g.size(); e++) mean[e] += g[e] / B;
    mean_loss += l / B;
  }
  // Same per-sample arithmetic; only the order of the GEMM sums differs.
  EXPECT_LE(ref::rel_diff(G, mean), 1e-12);
  EXPECT_NEAR(loss, mean_loss, 1e-14);
}

}  // namespace
