// Edge cases of the pipeline: every row zero, no row zero, k != n, n = 1, B = 1, and a W
// with repeated rows (rank-deficient W0). Each is checked against the KKT reference and the
// row-split gradient.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "pipeline.h"
#include "problems.h"

namespace {

struct Out {
  ref::Vec xs, S, R, P, G, Xa;
  double loss;
};

// gamma 1e-8 reads the exact pattern of an ADMM run converged to 1e-13 (see test_closed_form.cc).
Out run_all(const prob::Problem &p, double gamma = 1e-8) {
  lib::Run run(p.n, p.k, p.B);
  prob::load(run, p);
  lib::Params prm;
  prm.gamma = gamma;
  prm.admm.tol = 1e-13;
  prm.admm.max_iters = 200000;
  run.solve(prm);
  run.analyse(prm);
  Out o;
  o.loss = run.gradient();
  o.xs = run.read(BLORC_BUF_XSTAR);
  o.Xa = run.read(BLORC_BUF_X_ADMM);
  o.S = run.read(BLORC_BUF_SIGN);
  o.R = run.read(BLORC_BUF_RANK);
  o.P = run.read(BLORC_BUF_PN);
  o.G = run.read(BLORC_BUF_GRAD);
  return o;
}

// Checks x* and the gradient of every sample against the references.
void check_against_reference(const prob::Problem &p, const Out &o) {
  int n = p.n, k = p.k;
  ref::Vec Gref((size_t)k * n, 0.0);
  for (int j = 0; j < p.B; j++) {
    ref::Vec y = prob::row(p.Y, n, j), xt = prob::row(p.X, n, j);
    std::vector<int> s(k);
    for (int i = 0; i < k; i++) s[i] = (int)o.S[(size_t)j * k + i];
    ref::Vec v;  // the dual PG solution picks a box-feasible dual when W0 has dependent rows
    ref::dual_pg_solve(p.W, k, n, y, 2000000, &v);
    ref::Exact e = ref::exact_given_signs(p.W, k, n, y, s, 0, 0, &v);
    ASSERT_TRUE(e.certified) << "sample " << j << ": residual " << e.residual << ", max |v0| "
                             << e.max_dual;
    EXPECT_LE(ref::diff_over(lib::sample(o.xs, n, j), e.x, ref::norm2(y)), 1e-11) << "sample " << j;
    ref::Vec g = ref::rowsplit_gradient(p.W, k, n, y, xt, e.x, s);
    for (size_t i = 0; i < g.size(); i++) Gref[i] += g[i] / p.B;
  }
  // Relative where the gradient is sizeable; it is exactly 0 when every row is zero and W0
  // has full rank, so the floor 1e-3 turns that case into an absolute check at 1e-13.
  EXPECT_LE(ref::diff_over(o.G, Gref, std::max(ref::norm2(Gref), 1e-3)), 1e-10);
}

TEST(EdgeCases, AllRowsZeroFullRank) {
  // A large W with k = n: every row of W x* vanishes, W0 = W has full rank, so x* = 0 and
  // P_N = 0; the loss is 1/2||x_t||^2.
  prob::Problem p = prob::make(41, 6, 6, 3, 40.0);
  Out o = run_all(p);
  for (double s : o.S) EXPECT_EQ(s, 0);
  for (double r : o.R) EXPECT_EQ(r, 6);
  EXPECT_LE(ref::max_abs(o.xs), 1e-12);
  EXPECT_LE(ref::max_abs(o.P), 1e-12);
  double l = 0;
  for (double x : p.X) l += 0.5 * x * x / p.B;
  EXPECT_NEAR(o.loss, l, 1e-12 * l);
  check_against_reference(p, o);
}

TEST(EdgeCases, AllRowsZeroWideW) {
  // k < n and every row zero: x* = P_N y, the projection onto null(W).
  prob::Problem p = prob::make(42, 8, 3, 3, 40.0);
  Out o = run_all(p);
  for (double s : o.S) EXPECT_EQ(s, 0);
  for (double r : o.R) EXPECT_EQ(r, 3);
  check_against_reference(p, o);
}

TEST(EdgeCases, NoZeroRows) {
  // A tiny W: every row of W x* is nonzero; with gamma below |W x*| the mask is empty, rank
  // 0, P_N = I and x* = y - W^T s exactly.
  prob::Problem p = prob::make(43, 8, 8, 3, 1e-2);
  Out o = run_all(p, 1e-9);
  for (double s : o.S) EXPECT_NE(s, 0);
  for (double r : o.R) EXPECT_EQ(r, 0);
  for (int j = 0; j < p.B; j++)
    for (int a = 0; a < 8; a++) {
      for (int b = 0; b < 8; b++) EXPECT_EQ(o.P[(size_t)j * 64 + a * 8 + b], a == b ? 1.0 : 0.0);
      double q = p.Y[(size_t)j * 8 + a];
      for (int i = 0; i < 8; i++) q -= p.W[(size_t)i * 8 + a] * o.S[(size_t)j * 8 + i];
      EXPECT_NEAR(o.xs[(size_t)j * 8 + a], q, 1e-15);
    }
  check_against_reference(p, o);
}

TEST(EdgeCases, KNotEqualN) {
  for (auto kn : {std::pair<int, int>{3, 7}, {11, 5}}) {
    prob::Problem p = prob::make(44 + kn.first, kn.second, kn.first, 4, 0.4);
    Out o = run_all(p);
    check_against_reference(p, o);
  }
}

TEST(EdgeCases, SignalLengthOne) {
  // n = 1: W is a column; the problem is scalar: x* = soft-like shrinkage of y.
  prob::Problem p = prob::make(45, 1, 3, 5, 0.3);
  Out o = run_all(p);
  for (int j = 0; j < p.B; j++) {
    // Scalar closed form: minimise 1/2(x - y)^2 + c|x| with c = sum_i |w_i|.
    double c = 0;
    for (double w : p.W) c += std::fabs(w);
    double y = p.Y[j], x = std::fabs(y) > c ? y - c * (y > 0 ? 1 : -1) : 0.0;
    EXPECT_NEAR(o.xs[j], x, 1e-12) << "sample " << j;
  }
  check_against_reference(p, o);
}

TEST(EdgeCases, BatchOfOne) {
  prob::Problem p = prob::make(46, 10, 10, 1, 0.4);
  Out o = run_all(p);
  check_against_reference(p, o);
}

TEST(EdgeCases, RepeatedRowsGiveRankDeficientW0) {
  // Rows 0 and 1 equal, rows 2 and 3 equal: when they are zero rows W0 loses rank.
  prob::Problem p = prob::make(47, 8, 8, 4, 3.0);
  for (int c = 0; c < 8; c++) {
    p.W[8 + c] = p.W[c];
    p.W[24 + c] = p.W[16 + c];
  }
  Out o = run_all(p);
  bool deficient = false;
  for (int j = 0; j < p.B; j++) {
    int k0 = 0;
    for (int i = 0; i < 8; i++) k0 += o.S[(size_t)j * 8 + i] == 0;
    if (o.R[j] < std::min(k0, 8)) deficient = true;
    EXPECT_LE(ref::diff_over(lib::sample(o.xs, 8, j), lib::sample(o.Xa, 8, j),
                             ref::norm2(prob::row(p.Y, 8, j))),
              1e-9);
  }
  EXPECT_TRUE(deficient) << "no sample had a rank-deficient W0; the test is not testing it";
  for (double g : o.G) EXPECT_TRUE(std::isfinite(g));
  check_against_reference(p, o);
}

}  // namespace
