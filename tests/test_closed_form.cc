// Stages 3-5: sign pattern, masked SVD and the closed form x* = P_N (y - W^T s), checked
// against converged ADMM and against the optimality (KKT) conditions.
#include <gtest/gtest.h>

#include <cmath>

#include "pipeline.h"
#include "problems.h"

namespace {

using prob::Shape;

class ClosedForm : public ::testing::TestWithParam<Shape> {};

TEST_P(ClosedForm, MatchesAdmmAndSatisfiesKkt) {
  Shape sh = GetParam();
  const int n = sh.n, k = sh.k, B = 6;
  prob::Problem p = prob::make(21 + 100 * n + k, n, k, B, 0.4);
  lib::Run run(n, k, B);
  prob::load(run, p);
  lib::Params prm;
  prm.admm.tol = 1e-13;
  prm.admm.max_iters = 200000;
  // ADMM converged to 1e-13: rows that vanish at x* are below ~1e-12 in W x, rows that do
  // not are (generically) far above 1e-8, so this gamma reads the true pattern. The
  // default 1e-3 deliberately zeroes small rows, and x* then solves a nearby problem.
  prm.gamma = 1e-8;
  run.solve(prm);
  run.analyse(prm);
  lib::Vec Xa = run.read(BLORC_BUF_X_ADMM), Xs = run.read(BLORC_BUF_XSTAR);
  lib::Vec S = run.read(BLORC_BUF_SIGN), R = run.read(BLORC_BUF_RANK);
  for (int j = 0; j < B; j++) {
    ref::Vec y = prob::row(p.Y, n, j), xs = lib::sample(Xs, n, j), s = lib::sample(S, k, j);
    // ADMM stopped at 1e-13 residuals: its x is within ~1e-12 ||y|| of x*, and the closed
    // form is exact given the pattern, so 1e-9 leaves a wide margin; a wrong projector or
    // sign in q = y - W^T s is off by O(0.1).
    EXPECT_LE(ref::diff_over(xs, lib::sample(Xa, n, j), ref::norm2(y)), 1e-9) << "sample " << j;
    // KKT: a dual for the zero rows inside the unit box makes x* stationary. Start from the
    // independent dual PG solution and correct it to the closest exact dual.
    ref::Vec v;
    ref::dual_pg_solve(p.W, k, n, y, 2000000, &v);
    std::vector<int> si(s.begin(), s.end());
    ref::Exact c = ref::certify(p.W, k, n, y, xs, si, 0, 0, &v);
    EXPECT_TRUE(c.certified) << "sample " << j << ": residual " << c.residual << ", max |v0| "
                             << c.max_dual;
    // The nonzero rows keep their signs at x*, and the zero rows vanish there.
    for (int i = 0; i < k; i++) {
      double wx = 0;
      for (int c = 0; c < n; c++) wx += p.W[(size_t)i * n + c] * xs[c];
      if (s[i] != 0)
        EXPECT_GT(wx * s[i], 0) << "row " << i;
      else
        EXPECT_LE(std::fabs(wx), 1e-12) << "row " << i;
    }
    // Rank of W0m: at most min(#zero rows, n).
    int k0 = 0;
    for (double v : s) k0 += v == 0;
    EXPECT_LE(R[j], std::min(k0, n));
    if (k0 > 0) EXPECT_GT(R[j], 0);
  }
}

INSTANTIATE_TEST_SUITE_P(Shapes, ClosedForm,
                         ::testing::Values(Shape{8, 8}, Shape{8, 16}, Shape{8, 4}, Shape{16, 16},
                                           Shape{16, 32}, Shape{16, 8}, Shape{32, 32}),
                         prob::ShapeName());

TEST(ClosedForm, ProjectorIsSymmetricIdempotentAndKillsW0) {
  const int n = 12, k = 12, B = 3;
  prob::Problem p = prob::make(31, n, k, B, 0.4);
  lib::Run run(n, k, B);
  prob::load(run, p);
  lib::Params prm;
  prm.admm.tol = 1e-12;
  prm.admm.max_iters = 100000;
  run.solve(prm);
  run.analyse(prm);
  lib::Vec P = run.read(BLORC_BUF_PN), S = run.read(BLORC_BUF_SIGN);
  for (int j = 0; j < B; j++) {
    const double *Pj = P.data() + (size_t)j * n * n;
    for (int a = 0; a < n; a++)
      for (int b = 0; b < n; b++) {
        EXPECT_NEAR(Pj[a * n + b], Pj[b * n + a], 1e-14);
        double pp = 0;
        for (int c = 0; c < n; c++) pp += Pj[a * n + c] * Pj[c * n + b];
        EXPECT_NEAR(pp, Pj[a * n + b], 1e-13);
      }
    for (int i = 0; i < k; i++) {
      if (S[(size_t)j * k + i] != 0) continue;
      for (int b = 0; b < n; b++) {  // (W0 P)_ib = 0
        double v = 0;
        for (int c = 0; c < n; c++) v += p.W[(size_t)i * n + c] * Pj[c * n + b];
        EXPECT_NEAR(v, 0.0, 1e-13);
      }
    }
  }
}

}  // namespace
