// The differentiable layer (blorc/layer.h, issue 17): its vector-Jacobian product against the
// training gradient (the same formula with g = x* - x) and against central differences of
// <c, x*(W, y, A)>, for A = I, a shared matrix and per-sample masks; samples without a
// certificate get no gradient; bad calls are errors.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "layer_fixture.h"
#include "problems.h"

namespace {

using lib::Vec;

blorc_denoise_opts tight() {
  blorc_denoise_opts o = blorc_denoise_defaults();
  o.rho = 1.0;
  o.admm.tol = 1e-12;
  o.admm.max_iters = 50000;
  return o;
}

double dot(const Vec &a, const Vec &b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); i++) s += a[i] * b[i];
  return s;
}

// With gx = x* - x the layer's gW is the training gradient times the samples used, and gy is
// h (A = I); x is the closed form bit for bit.
TEST(Layer, BackwardWithTheResidualIsTheTrainingGradient) {
  const int n = 16, k = 24, B = 8;
  prob::Problem p = prob::make(1701, n, k, B, 0.6);
  blorc_denoise_opts o = tight();
  lib::Run run(n, k, B);
  prob::load(run, p);
  blorc_error e{};
  ASSERT_EQ(blorc_factor(run.get(), o.rho, &e), BLORC_OK) << e.msg;
  ASSERT_EQ(blorc_admm(run.get(), &o.admm, nullptr, &e), BLORC_OK) << e.msg;
  ASSERT_EQ(blorc_signs(run.get(), o.polish_gamma, &e), BLORC_OK) << e.msg;
  ASSERT_EQ(blorc_svd(run.get(), o.svd_tol, &e), BLORC_OK) << e.msg;
  ASSERT_EQ(blorc_closed_form(run.get(), &e), BLORC_OK) << e.msg;
  blorc_polish_stats ps = run.polish(o.polish.tol, o.polish.max_rounds);
  ASSERT_EQ(ps.certified, B);
  run.gradient();
  Vec G = run.read(BLORC_BUF_GRAD), H = run.read(BLORC_BUF_H), xs = run.read(BLORC_BUF_XSTAR);

  layer::Layer L(n, k, B);
  layer::Out out = L.forward(p.W, p.Y, o);
  EXPECT_EQ(out.stats.with_gradient, B);
  EXPECT_EQ(std::memcmp(out.x.data(), xs.data(), xs.size() * sizeof(double)), 0);
  Vec gx(out.x.size());
  for (size_t i = 0; i < gx.size(); i++) gx[i] = out.x[i] - p.X[i];
  L.backward(gx, out);
  for (double &g : G) g *= B;
  EXPECT_LE(ref::rel_diff(out.gW, G), 1e-13);
  EXPECT_LE(ref::rel_diff(out.gy, H), 1e-13);
  // A second backward with another gx on the same forward: linear in gx.
  Vec g2(gx.size());
  for (size_t i = 0; i < gx.size(); i++) g2[i] = 2.0 * gx[i];
  layer::Out twice = out;
  L.backward(g2, twice);
  for (double &g : out.gW) g *= 2.0;
  EXPECT_LE(ref::rel_diff(twice.gW, out.gW), 1e-13);
}

struct FdCase {
  blorc_operator_kind kind;
  const char *name;
};

// L = sum_j <c_j, x*_j>: its derivatives in W, y (and A) by second-order central differences
// at relative step 1e-5 through the forward pass alone, against one backward with gx = c.
// x* is the exact closed form of a fixed pattern (checked unchanged at every step), so the
// differences err by truncation (1e-10) and rounding (1e-11); bound 1e-7. A backward that
// ignored gx, or used x* - gx, is off by order 1.
class LayerFd : public ::testing::TestWithParam<FdCase> {};

TEST_P(LayerFd, VjpMatchesCentralDifferences) {
  const int n = 8, k = 12, B = 3;
  FdCase fc = GetParam();
  prob::Problem p = prob::make(2024, n, k, B, 0.6, 0.1);
  ref::Rand r(77);
  layer::Op op;
  op.kind = fc.kind;
  Vec Y = p.Y;
  if (fc.kind == BLORC_OP_MATRIX) {
    op.m = 6;
    op.A = ref::random_matrix(r, op.m, n, 1.0 / std::sqrt(6.0));
    op.ridge = 1e-3;
    Y.assign((size_t)B * op.m, 0.0);
    for (int j = 0; j < B; j++)
      for (int i = 0; i < op.m; i++)
        for (int c = 0; c < n; c++)
          Y[(size_t)j * op.m + i] += op.A[(size_t)i * n + c] * p.X[(size_t)j * n + c];
    for (double &v : Y) v += 0.05 * r.normal();
  } else if (fc.kind == BLORC_OP_MASK) {
    op.ridge = 1e-3;
    op.masks.assign((size_t)B * n, 1.0);
    for (int j = 0; j < B; j++) op.masks[(size_t)j * n + 1 + j] = 0.0;
    for (size_t i = 0; i < Y.size(); i++) Y[i] *= op.masks[i];
  }
  blorc_denoise_opts o = tight();
  layer::Layer L(n, k, B, op);
  Vec c = ref::random_matrix(r, B, n, 1.0);
  layer::Out base = L.forward(p.W, Y, o);
  ASSERT_EQ(base.stats.with_gradient, B) << "every sample should have a gradient here";
  Vec sign0 = L.run().read(BLORC_BUF_SIGN);
  L.backward(c, base);

  auto value = [&](const Vec &W, const Vec &y, const layer::Op *opp) {
    layer::Layer M(n, k, B, opp ? *opp : op);
    layer::Out f = M.forward(W, y, o);
    EXPECT_EQ(M.run().read(BLORC_BUF_SIGN), sign0) << "pattern changed under a step";
    return dot(c, f.x);
  };
  auto central = [&](Vec &v, size_t i, auto f) {
    double h = 1e-5 * std::fmax(std::fabs(v[i]), 1e-2), keep = v[i];
    v[i] = keep + h;
    double up = f();
    v[i] = keep - h;
    double dn = f();
    v[i] = keep;
    return (up - dn) / (2 * h);
  };
  Vec W = p.W, gWfd(W.size()), gyfd(Y.size());
  for (size_t i = 0; i < W.size(); i++)
    gWfd[i] = central(W, i, [&] { return value(W, Y, nullptr); });
  for (size_t i = 0; i < Y.size(); i++)
    gyfd[i] = central(Y, i, [&] { return value(W, Y, nullptr); });
  if (fc.kind == BLORC_OP_MASK)  // unobserved entries of y do not enter: zero derivative
    for (size_t i = 0; i < Y.size(); i++)
      if (op.masks[i] == 0.0) EXPECT_EQ(base.gy[i], 0.0);
  double ew = ref::rel_diff(base.gW, gWfd), ey = ref::rel_diff(base.gy, gyfd), ea = 0;
  if (fc.kind == BLORC_OP_MATRIX) {
    layer::Op moved = op;
    Vec gAfd(op.A.size());
    for (size_t i = 0; i < op.A.size(); i++)
      gAfd[i] = central(moved.A, i, [&] { return value(W, Y, &moved); });
    ea = ref::rel_diff(base.gA, gAfd);
  }
  std::printf("[ fd ] layer %s: dL/dW %.3g  dL/dy %.3g  dL/dA %.3g\n", fc.name, ew, ey, ea);
  EXPECT_LE(ew, 1e-7);
  EXPECT_LE(ey, 1e-7);
  EXPECT_LE(ea, 1e-7);
}

INSTANTIATE_TEST_SUITE_P(Operators, LayerFd,
                         ::testing::Values(FdCase{BLORC_OP_IDENTITY, "identity"},
                                           FdCase{BLORC_OP_MATRIX, "matrix"},
                                           FdCase{BLORC_OP_MASK, "mask"}),
                         [](const auto &info) { return std::string(info.param.name); });

// Samples the certificate rejects (ADMM capped at 1000 iterations, no polish rounds) get ADMM's
// x, ok = 0, zero rows of gy, and no share of gW: the full batch's gW equals the sum over the
// accepted samples alone.
TEST(Layer, UncertifiedSamplesHaveNoGradient) {
  const int n = 16, k = 24, B = 12;
  prob::Problem p = prob::make(99, n, k, B, 0.6);
  blorc_denoise_opts o = tight();
  o.admm.max_iters = 1000;
  o.polish.max_rounds = 0;
  layer::Layer L(n, k, B);
  layer::Out out = L.forward(p.W, p.Y, o);
  Vec xadmm = L.run().read(BLORC_BUF_X_ADMM);
  int good = out.stats.with_gradient;
  ASSERT_GT(good, 0);
  ASSERT_LT(good, B) << "the test needs some uncertified samples";
  std::printf("[ layer ] %d of %d samples certified\n", good, B);
  ref::Rand r(5);
  Vec gx = ref::random_matrix(r, B, n, 1.0);
  L.backward(gx, out);
  Vec expect((size_t)k * n, 0.0);
  for (int j = 0; j < B; j++) {
    Vec xj = lib::sample(out.x, n, j);
    if (out.ok[j] == 0.0) {
      EXPECT_EQ(xj, lib::sample(xadmm, n, j));
      for (int i = 0; i < n; i++) EXPECT_EQ(out.gy[(size_t)j * n + i], 0.0);
      continue;
    }
    layer::Layer one(n, k, 1);
    layer::Out single = one.forward(p.W, lib::sample(p.Y, n, j), o);
    ASSERT_EQ(single.ok[0], 1.0);
    one.backward(lib::sample(gx, n, j), single);
    for (size_t i = 0; i < expect.size(); i++) expect[i] += single.gW[i];
  }
  EXPECT_LE(ref::rel_diff(out.gW, expect), 1e-12);
}

TEST(Layer, BadCallsAreErrors) {
  const int n = 8, k = 8, B = 2;
  prob::Problem p = prob::make(3, n, k, B, 0.5);
  lib::Run run(n, k, B);
  blorc_error e{};
  Vec g((size_t)B * n, 0.0), gW((size_t)k * n);
  EXPECT_EQ(blorc_layer_backward(run.get(), g.data(), gW.data(), nullptr, nullptr, &e),
            BLORC_EINVAL);
  EXPECT_NE(std::strstr(e.msg, "forward first"), nullptr) << e.msg;
  blorc_denoise_opts o = blorc_denoise_defaults();
  Vec x((size_t)B * n);
  ASSERT_EQ(blorc_layer_forward(run.get(), p.W.data(), p.Y.data(), nullptr, B, &o, x.data(),
                                nullptr, nullptr, &e),
            BLORC_OK)
      << e.msg;
  g[5] = NAN;
  EXPECT_EQ(blorc_layer_backward(run.get(), g.data(), gW.data(), nullptr, nullptr, &e),
            BLORC_EINVAL);
  EXPECT_NE(std::strstr(e.msg, "upstream gradient: non-finite value at row 0 column 5"), nullptr)
      << e.msg;
  Vec bad = p.Y;
  bad[3] = INFINITY;
  EXPECT_EQ(blorc_layer_forward(run.get(), p.W.data(), bad.data(), nullptr, B, &o, x.data(),
                                nullptr, nullptr, &e),
            BLORC_EINVAL);
  Vec more((size_t)(B + 1) * n, 0.0), xm((size_t)(B + 1) * n);
  EXPECT_EQ(blorc_layer_forward(run.get(), p.W.data(), more.data(), nullptr, B + 1, &o, xm.data(),
                                nullptr, nullptr, &e),
            BLORC_EINVAL);
  EXPECT_NE(std::strstr(e.msg, "batch of 3, the backend takes at most 2"), nullptr) << e.msg;
  double up[1];
  EXPECT_EQ(blorc_read(run.get(), BLORC_BUF_UPSTREAM, up, 1, &e), BLORC_EINVAL);
}

}  // namespace
