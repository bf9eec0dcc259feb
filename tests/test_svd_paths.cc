// Stage 4's two CPU paths: the per-sample SVD (FULL) and the fast path through W^+ and the
// null space of W (FAST, where it applies) must give the same rank, P_N, x*, a, b, h, losses
// and gradient on the same ADMM output; FAST must fall back to FULL where the fast path's
// assumptions fail (k > n, ill-conditioned W), and AUTO must pick by cost.
#include <gtest/gtest.h>

#include <cmath>

#include "pipeline.h"
#include "problems.h"

namespace {

using prob::Shape;

double max_rel(const lib::Vec &a, const lib::Vec &b) {
  double d = 0, s = 0;
  for (size_t i = 0; i < a.size(); i++) {
    d = std::fmax(d, std::fabs(a[i] - b[i]));
    s = std::fmax(s, std::fabs(b[i]));
  }
  return s > 0 ? d / s : d;
}

struct Stage4 {
  blorc_svd_method used;
  lib::Vec rank, sv, pn, xs, a, b, h, loss, grad;
};

Stage4 analyse(lib::Run &run, const lib::Params &prm, blorc_svd_method method) {
  blorc_error e{};
  lib::check(blorc_set_svd_method(run.get(), method, &e), e, "set_svd_method");
  run.analyse(prm);
  run.gradient();
  return {blorc_svd_method_used(run.get()),
          run.read(BLORC_BUF_RANK),
          run.read(BLORC_BUF_SV),
          run.read(BLORC_BUF_PN),
          run.read(BLORC_BUF_XSTAR),
          run.read(BLORC_BUF_A),
          run.read(BLORC_BUF_B),
          run.read(BLORC_BUF_H),
          run.read(BLORC_BUF_LOSS),
          run.read(BLORC_BUF_GRAD)};
}

// Both paths on one ADMM solution of problem p.
void compare(const prob::Problem &p, blorc_svd_method expect_auto) {
  const int n = p.n, k = p.k, B = p.B;
  lib::Run run(n, k, B);
  prob::load(run, p);
  lib::Params prm;
  prm.admm.tol = 1e-10;
  prm.admm.max_iters = 20000;
  run.solve(prm);
  Stage4 full = analyse(run, prm, BLORC_SVD_FULL);
  Stage4 fast = analyse(run, prm, BLORC_SVD_FAST);
  ASSERT_EQ(full.used, BLORC_SVD_FULL);
  ASSERT_EQ(fast.used, expect_auto);
  // The same pattern and an exact rank rule on both sides: ranks are equal integers.
  EXPECT_EQ(fast.rank, full.rank);
  lib::Vec S = run.read(BLORC_BUF_SIGN);
  int partial = 0; /* samples whose W0m is neither empty nor all of W */
  for (int j = 0; j < B; j++) {
    int k0 = 0;
    for (int i = 0; i < k; i++) k0 += S[(size_t)j * k + i] == 0;
    partial += k0 > 0 && k0 < k;
  }
  EXPECT_GT(partial, B / 2) << "the problem should exercise real row splits";
  // Two float64 factorisations of the same well-conditioned matrices (cond(W) < ~1e2 here):
  // rounding differs at ~1e-14 relative; 1e-11 leaves room for cond(W0m) and still catches
  // a wrong basis, a missing column or a wrong a (errors of O(1e-2) and up).
  EXPECT_LE(max_rel(fast.sv, full.sv), 1e-12);
  EXPECT_LE(max_rel(fast.pn, full.pn), 1e-11);
  EXPECT_LE(max_rel(fast.xs, full.xs), 1e-11);
  EXPECT_LE(max_rel(fast.a, full.a), 1e-11);
  EXPECT_LE(max_rel(fast.b, full.b), 1e-11);
  EXPECT_LE(max_rel(fast.h, full.h), 1e-11);
  EXPECT_LE(max_rel(fast.loss, full.loss), 1e-11);
  EXPECT_LE(max_rel(fast.grad, full.grad), 1e-11);
}

class SvdPaths : public ::testing::TestWithParam<Shape> {};

TEST_P(SvdPaths, FastPathMatchesPerSampleSvd) {
  Shape sh = GetParam();
  // Scale 0.4: a third to two thirds of the rows vanish, so both the null space of W0m and
  // the pseudo-inverse part are non-trivial.
  prob::Problem p = prob::make(77 + 1000 * sh.n + sh.k, sh.n, sh.k, 24, 0.4);
  compare(p, sh.k <= sh.n ? BLORC_SVD_FAST : BLORC_SVD_FULL);
}

INSTANTIATE_TEST_SUITE_P(Shapes, SvdPaths,
                         ::testing::Values(Shape{8, 8}, Shape{16, 8}, Shape{16, 16}, Shape{32, 31},
                                           Shape{64, 64}, Shape{64, 32}, Shape{16, 32}),
                         prob::ShapeName());

TEST(SvdPaths, IllConditionedWFallsBackToFull) {
  // Row 1 is row 0 plus 1e-9 of noise: cond(W) ~ 1e9 is past the fast path's guard, and the
  // full path's rank decision may treat W0m as rank deficient.
  prob::Problem p = prob::make(5, 16, 16, 12, 0.4);
  ref::Rand r(9);
  for (int c = 0; c < 16; c++) p.W[16 + c] = p.W[c] + 1e-9 * r.normal();
  compare(p, BLORC_SVD_FULL);
}

// AUTO's cost estimate: a batch with many zero rows (W = 0.05 x differences, most rows of
// W x* vanish) takes the fast path; a single pair with few zero rows (W = 0.1 I, most
// entries of y above the threshold) takes the per-sample SVD.
TEST(SvdPaths, AutoPicksTheCheaperPath) {
  const int n = 32;
  for (int many = 0; many < 2; many++) {
    const int B = many ? 50 : 1;
    prob::Problem p = prob::make(11, n, n, B, 0.4);
    for (double &w : p.W) w = 0;
    for (int i = 0; i < n; i++) {
      if (many) {
        p.W[(size_t)i * n + i] = -0.05;
        p.W[(size_t)i * n + (i + 1) % n] = 0.05;
      } else {
        p.W[(size_t)i * n + i] = 0.1;
      }
    }
    if (many) p.W[(size_t)(n - 1) * n] = 0.02;  // a full-rank circulant-like W
    lib::Run run(n, n, B);
    prob::load(run, p);
    lib::Params prm;
    run.solve(prm);
    run.analyse(prm);
    EXPECT_EQ(blorc_svd_method_used(run.get()), many ? BLORC_SVD_FAST : BLORC_SVD_FULL)
        << (many ? "batch with many zero rows" : "one pair with few zero rows");
  }
}

TEST(SvdPaths, RejectsUnknownMethod) {
  lib::Run run(8, 8, 2);
  blorc_error e{};
  EXPECT_EQ(blorc_set_svd_method(run.get(), (blorc_svd_method)7, &e), BLORC_EINVAL);
  EXPECT_NE(std::string(e.msg).find("svd method"), std::string::npos) << e.msg;
}

}  // namespace
