// A forward operator A in the lower level argmin_x 1/2||A x - y||^2 + ||W x||_1 (issue 16,
// design.md section 7): the gradient with respect to W, y and A against central finite
// differences of exactly re-solved lower levels (reference_operator.cc, no library code), for
// per-sample inpainting masks, a dense matrix, compressed sensing (m = n/2) and a 1D blur;
// the identity path unchanged bit for bit; reconstruction against an independent solver;
// uniqueness and singular K_rho; bad input.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>

#include "pipeline.h"
#include "problems.h"
#include "reference_operator.h"

namespace {

using ref::Vec;

enum class Op { Mask, Dense, Cs, Blur };
const char *op_name(Op o) {
  return o == Op::Mask ? "mask" : o == Op::Dense ? "dense" : o == Op::Cs ? "cs" : "blur";
}

struct OpProblem {
  Op op;
  int n, k, m, B;
  double ridge = 0;
  Vec W;      // k x n
  Vec A;      // m x n (shared matrix kinds)
  Vec masks;  // B x n (Mask)
  Vec X;      // B x n clean
  Vec Y;      // B x m measurements
  blorc_operator_kind kind() const { return op == Op::Mask ? BLORC_OP_MASK : BLORC_OP_MATRIX; }
  // The reference's dense A of sample j.
  Vec A_of(int j) const {
    if (op != Op::Mask) return A;
    Vec D((size_t)n * n, 0.0);
    for (int i = 0; i < n; i++) D[(size_t)i * n + i] = masks[(size_t)j * n + i];
    return D;
  }
};

OpProblem make_op(Op op, uint64_t seed, int n, int k, int B, double w_scale) {
  prob::Problem base = prob::make(seed, n, k, B, w_scale, 0.0);
  ref::Rand r(seed ^ 0x5eed);
  OpProblem p{op, n, k, op == Op::Cs ? n / 2 : n, B};
  p.W = base.W;
  p.X = base.X;
  if (op == Op::Dense || op == Op::Cs) p.A = ref::random_matrix(r, p.m, n, 1.0 / std::sqrt(p.m));
  if (op == Op::Blur) p.A = prob::blur_matrix(n, 1.0);
  if (op == Op::Mask) {
    p.masks.resize((size_t)B * n);
    for (int j = 0; j < B; j++) {
      int seen = 0;
      for (int i = 0; i < n; i++) seen += (p.masks[(size_t)j * n + i] = r.uniform() < 0.7);
      if (!seen) p.masks[(size_t)j * n] = 1;
    }
  }
  p.Y.resize((size_t)B * p.m);
  for (int j = 0; j < B; j++) {
    Vec Aj = p.A_of(j);
    for (int i = 0; i < p.m; i++) {
      double v = 0;
      for (int c = 0; c < n; c++) v += Aj[(size_t)i * n + c] * p.X[(size_t)j * n + c];
      // Missing entries of an inpainting sample hold junk: the lower level must ignore them.
      bool missing = op == Op::Mask && p.masks[(size_t)j * n + i] == 0;
      p.Y[(size_t)j * p.m + i] = missing ? 5.0 + r.normal() : v + 0.1 * r.normal();
    }
  }
  return p;
}

struct LibOut {
  Vec G, Gy, GA, xs, S, uniq, cert;
  double loss = 0;
};

lib::Params tight() {
  lib::Params prm;
  prm.admm.tol = 1e-13;
  prm.admm.max_iters = 200000;
  prm.gamma = 1e-8;
  return prm;
}

void set_operator(blorc_backend *b, const OpProblem &p) {
  blorc_error e{};
  lib::check(
      blorc_set_operator(b, p.kind(), p.m, p.op == Op::Mask ? nullptr : p.A.data(), p.ridge, &e), e,
      "set_operator");
  lib::check(blorc_set_data(b, (size_t)p.B, p.X.data(), p.Y.data(), &e), e, "set_data");
  if (p.op == Op::Mask) lib::check(blorc_set_masks(b, p.masks.data(), &e), e, "set_masks");
}

LibOut run_lib(const OpProblem &p, bool want_gradient = true) {
  lib::Run run(p.n, p.k, p.B);
  set_operator(run.get(), p);
  run.set_W(p.W);
  run.select_first(p.B);
  lib::Params prm = tight();
  run.solve(prm);
  run.analyse(prm);
  run.polish(1e-9);
  LibOut o;
  o.xs = run.read(BLORC_BUF_XSTAR);
  o.S = run.read(BLORC_BUF_SIGN);
  o.uniq = run.read(BLORC_BUF_UNIQUE);
  o.cert = run.read(BLORC_BUF_CERT);
  if (!want_gradient) return o;
  o.loss = run.gradient();
  o.G = run.read(BLORC_BUF_GRAD);
  o.Gy = run.read(BLORC_BUF_GRAD_Y);
  if (p.op != Op::Mask) o.GA = run.read(BLORC_BUF_GRAD_OP);
  return o;
}

std::vector<int> pattern(const Vec &S, int k, int j) {
  std::vector<int> s(k);
  for (int i = 0; i < k; i++) s[i] = (int)S[(size_t)j * k + i];
  return s;
}

// A one-sample problem whose pattern (found by the library, then checked by the reference
// alone) is robust: unique minimiser, nonzero rows >= 1e-2 from zero, zero-row duals >= 1e-2
// inside the box, beyond what the finite differences' steps move (checked at every step). Both row
// kinds present, except where the operator forces every row to zero (compressed sensing with k <=
// m).
struct Robust {
  OpProblem p;
  std::vector<int> s;
  LibOut lib;
};

Robust robust(Op op, int n, int k) {
  const double scales[] = {0.3, 0.6, 1.2, 2.4};
  for (uint64_t t = 0; t < 400; t++) {
    OpProblem p =
        make_op(op, 1000 * (uint64_t)(n + 3 * k) + t + 77 * (int)op, n, k, 1, scales[t % 4]);
    LibOut o = run_lib(p, false);
    if (o.uniq[0] != 1.0 || o.cert[BLORC_CERT_OK] != 1.0) continue;
    std::vector<int> s = pattern(o.S, k, 0);
    int zeros = 0;
    for (int v : s) zeros += v == 0;
    bool all_zero_forced = op == Op::Cs && k <= p.m;
    if (zeros == 0 || (zeros == k && !all_zero_forced)) continue;
    ref::OpExact ex = ref::op_exact_given_signs(p.W, k, n, p.A_of(0), p.m, p.ridge,
                                                prob::row(p.Y, p.m, 0), s, 1e-2, 1e-2);
    if (!ex.certified) continue;
    if (ref::diff_over(prob::row(o.xs, n, 0), ex.x, std::max(ref::norm2(p.Y), 1.0)) > 1e-9)
      continue;  // the library's x* is another pattern's: not this search's business
    return {p, s, run_lib(p)};
  }
  throw std::runtime_error(std::string("no robust problem for ") + op_name(op));
}

double ref_loss(const OpProblem &p, const Vec &W, const Vec &A, const Vec &y,
                const std::vector<int> &s, bool *ok) {
  ref::OpExact e = ref::op_exact_given_signs(W, p.k, p.n, A, p.m, p.ridge, y, s, 0, 0);
  *ok = e.certified;
  double l = 0;
  for (int c = 0; c < p.n; c++) l += 0.5 * (e.x[c] - p.X[c]) * (e.x[c] - p.X[c]);
  return l;
}

double rms(const Vec &v) {
  return ref::norm2(v) / std::sqrt((double)v.size());
}

// Fourth-order central differences of one variable, step h relative to the entry (or to the
// rms of its matrix for entries near 0): truncation O(h^4), rounding O(eps cond / h).
template <typename F>
double central(Vec &v, size_t i, double scale, F loss) {
  double keep = v[i], h = 1e-3 * std::max(std::fabs(keep), scale);
  double f[4];
  const double at[4] = {2, 1, -1, -2};
  for (int t = 0; t < 4; t++) {
    v[i] = keep + at[t] * h;
    f[t] = loss();
  }
  v[i] = keep;
  return (-f[0] + 8 * f[1] - 8 * f[2] + f[3]) / (12 * h);
}

struct Case {
  Op op;
  int n, k;
};
struct CaseName {
  std::string operator()(const ::testing::TestParamInfo<Case> &i) const {
    return std::string(op_name(i.param.op)) + "_n" + std::to_string(i.param.n) + "_k" +
           std::to_string(i.param.k);
  }
};

class OperatorFd : public ::testing::TestWithParam<Case> {};

// With steps of 1e-3 relative and a fourth-order stencil, truncation (h^4 ~ 1e-12) and
// rounding (eps cond / h; blur is ill conditioned) stay below 1e-8 here; 1e-7 is a safe bound,
// while the A = I shortcut for a and b (design.md's pitfall) or a dropped term gives errors of
// order 1.
TEST_P(OperatorFd, GradientsInW_Y_AndAMatchCentralDifferences) {
  Case c = GetParam();
  Robust q = robust(c.op, c.n, c.k);
  const OpProblem &p = q.p;
  Vec A = p.A_of(0), y = prob::row(p.Y, p.m, 0), W = p.W;
  bool ok = true, all_ok = true;
  auto loss = [&]() {
    double l = ref_loss(p, W, A, y, q.s, &ok);
    all_ok = all_ok && ok;
    return l;
  };
  Vec Gfd(W.size());
  for (size_t i = 0; i < W.size(); i++) Gfd[i] = central(W, i, rms(W), loss);
  Vec Gyfd(y.size());
  for (size_t i = 0; i < y.size(); i++) Gyfd[i] = central(y, i, rms(y), loss);
  ASSERT_TRUE(all_ok) << "the pattern changed under a finite-difference step";
  double ew = ref::rel_diff(q.lib.G, Gfd), ey = ref::rel_diff(q.lib.Gy, Gyfd), ea = 0;
  if (c.op != Op::Mask) {
    Vec GAfd(A.size());
    for (size_t i = 0; i < A.size(); i++) GAfd[i] = central(A, i, rms(A), loss);
    ASSERT_TRUE(all_ok) << "the pattern changed under a finite-difference step in A";
    ea = ref::rel_diff(q.lib.GA, GAfd);
  }
  std::printf("[ fd ] %s n=%d k=%d m=%d: dU/dW %.3g  dU/dy %.3g  dU/dA %.3g\n", op_name(c.op), c.n,
              c.k, p.m, ew, ey, ea);
  EXPECT_LE(ew, 1e-7);
  EXPECT_LE(ey, 1e-7);
  EXPECT_LE(ea, 1e-7);
}

std::vector<Case> all_cases() {
  std::vector<Case> out;
  for (Op op : {Op::Mask, Op::Dense, Op::Cs, Op::Blur})
    for (int n : {8, 12, 16})
      for (int k : {n / 2, n, 2 * n}) out.push_back({op, n, k});
  return out;
}
INSTANTIATE_TEST_SUITE_P(Operators, OperatorFd, ::testing::ValuesIn(all_cases()), CaseName());

// The identity is denoising as it was: a backend that held another operator and went back
// to the identity computes every buffer bit for bit as one that never had an operator; a
// shared matrix A = I agrees with it to rounding (a different algorithm for M = P_N).
TEST(Operator, IdentityIsTheDenoisingPathBitForBit) {
  const int n = 16, k = 24, B = 6;
  prob::Problem p = prob::make(404, n, k, B, 0.6);
  lib::Params prm = tight();
  prm.admm.tol = 1e-12;
  auto run_all = [&](lib::Run &run) {
    run.set_W(p.W);
    run.set_data(p.X, p.Y);
    run.select_first(B);
    run.solve(prm);
    run.analyse(prm);
    run.polish();
    run.gradient();
  };
  lib::Run plain(n, k, B), back(n, k, B), eye(n, k, B);
  run_all(plain);
  Vec I((size_t)n * n, 0.0);
  for (int i = 0; i < n; i++) I[(size_t)i * n + i] = 1.0;
  blorc_error e{};
  ASSERT_EQ(blorc_set_operator(back.get(), BLORC_OP_MATRIX, n, I.data(), 0, &e), BLORC_OK);
  ASSERT_EQ(blorc_set_operator(back.get(), BLORC_OP_IDENTITY, n, nullptr, 0, &e), BLORC_OK);
  run_all(back);
  for (blorc_buffer buf : {BLORC_BUF_X_ADMM, BLORC_BUF_XSTAR, BLORC_BUF_A, BLORC_BUF_B, BLORC_BUF_H,
                           BLORC_BUF_GRAD, BLORC_BUF_LOSS, BLORC_BUF_CERT}) {
    Vec a = plain.read(buf), b = back.read(buf);
    ASSERT_EQ(a.size(), b.size());
    EXPECT_EQ(std::memcmp(a.data(), b.data(), a.size() * sizeof(double)), 0) << "buffer " << buf;
  }
  EXPECT_EQ(plain.read(BLORC_BUF_H), plain.read(BLORC_BUF_GRAD_Y));  // dU/dy = h for A = I
  ASSERT_EQ(blorc_set_operator(eye.get(), BLORC_OP_MATRIX, n, I.data(), 0, &e), BLORC_OK);
  run_all(eye);
  EXPECT_LE(ref::rel_diff(eye.read(BLORC_BUF_XSTAR), plain.read(BLORC_BUF_XSTAR)), 1e-10);
  EXPECT_LE(ref::rel_diff(eye.read(BLORC_BUF_GRAD), plain.read(BLORC_BUF_GRAD)), 1e-9);
  EXPECT_LE(ref::rel_diff(eye.read(BLORC_BUF_GRAD_Y), plain.read(BLORC_BUF_H)), 1e-9);
}

// Reconstruction (blorc_denoise with an operator: ADMM, pattern, closed form, polish) against
// Chambolle-Pock iterations refined by the reference KKT solve, sample by sample.
TEST(Operator, ReconstructionMatchesAnIndependentSolver) {
  for (Op op : {Op::Mask, Op::Dense, Op::Cs, Op::Blur}) {
    // k = n: the zero rows are independent, so the reference's minimum-norm dual decides.
    const int n = 12, k = 12, B = 6;
    OpProblem p = make_op(op, 900 + (int)op, n, k, B, 0.5);
    lib::Run run(n, k, B);
    set_operator(run.get(), p);
    run.set_W(p.W);
    blorc_denoise_opts o = blorc_denoise_defaults();
    std::vector<size_t> idx(B);
    for (int j = 0; j < B; j++) idx[j] = j;
    Vec out((size_t)B * n);
    blorc_denoise_stats st{};
    blorc_error e{};
    ASSERT_EQ(blorc_denoise(run.get(), B, idx.data(), B, &o, out.data(), &st, &e), BLORC_OK)
        << e.msg;
    int compared = 0;
    for (int j = 0; j < B; j++) {
      Vec y = prob::row(p.Y, p.m, j);
      ref::OpExact ex = ref::op_solve(p.W, k, n, p.A_of(j), p.m, 0.0, y, 300000);
      if (!ex.certified) continue;  // CP's pattern not settled at any threshold
      compared++;
      EXPECT_LE(ref::diff_over(prob::row(out, n, j), ex.x, std::max(ref::norm2(y), 1.0)), 1e-8)
          << op_name(op) << " sample " << j;
    }
    EXPECT_GE(compared, B - 1) << op_name(op);
    std::printf("[ reconstruct ] %s: %d of %d samples compared, %zu certified by the library\n",
                op_name(op), compared, B, st.certified);
  }
}

// Compressed sensing with m = n/2 and the pattern read with gamma = 0 from an ADMM that has
// not converged: every row counts as nonzero, so N = R^n and C = A^T A (rank m < n) is
// singular. The samples are marked, and a batch of only such samples has no gradient: a
// clear error. A ridge makes every sample unique.
TEST(Operator, SamplesWithoutAUniqueMinimiserAreMarkedAndLeftOut) {
  const int n = 16, k = 16;
  for (double ridge : {0.0, 0.05}) {
    OpProblem p = make_op(Op::Cs, 31, n, k, 3, 0.5);
    p.ridge = ridge;
    lib::Run run(n, k, p.B);
    set_operator(run.get(), p);
    run.set_W(p.W);
    run.select_first(p.B);
    lib::Params prm;
    prm.admm.max_iters = 3;
    prm.gamma = 0;
    run.solve(prm);
    run.analyse(prm);
    Vec u = run.read(BLORC_BUF_UNIQUE);
    for (double v : u) EXPECT_EQ(v, ridge > 0 ? 1.0 : 0.0) << "ridge " << ridge;
    blorc_error e{};
    double loss;
    if (ridge > 0) {
      EXPECT_EQ(blorc_gradient(run.get(), &loss, &e), BLORC_OK) << e.msg;
      continue;
    }
    EXPECT_EQ(blorc_gradient(run.get(), &loss, &e), BLORC_EINVAL);
    EXPECT_NE(std::string(e.msg).find("unique minimiser"), std::string::npos) << e.msg;
    // The certificate rejects them too: the closed form is no solution of theirs.
    run.polish(1e-6, 0);
    for (double v : u) EXPECT_EQ(v, 0.0);
    Vec cert = run.read(BLORC_BUF_CERT);
    for (int j = 0; j < p.B; j++) EXPECT_EQ(cert[(size_t)j * BLORC_CERT_COLUMNS], 0.0);
  }
}

// K_rho = A^T A + rho W^T W is singular when null(A) and null(W) meet: finite differences W
// (null space: constants) and an A made of differences too.
TEST(Operator, SingularKrhoIsAnErrorNamingTheCause) {
  const int n = 8, k = n - 1;
  Vec W((size_t)k * n, 0.0);
  for (int i = 0; i < k; i++) W[(size_t)i * n + i] = -0.1, W[(size_t)i * n + i + 1] = 0.1;
  Vec A = W;  // A 1 = 0
  Vec X(n, 0.5), Y(k, 0.0);
  lib::Run run(n, k, 1);
  blorc_error e{};
  ASSERT_EQ(blorc_set_operator(run.get(), BLORC_OP_MATRIX, k, A.data(), 0, &e), BLORC_OK);
  ASSERT_EQ(blorc_set_data(run.get(), 1, X.data(), Y.data(), &e), BLORC_OK) << e.msg;
  run.set_W(W);
  run.select_first(1);
  EXPECT_EQ(blorc_factor(run.get(), 1.0, &e), BLORC_EINVAL);
  EXPECT_NE(std::string(e.msg).find("null(A) and null(W) meet"), std::string::npos) << e.msg;
  ASSERT_EQ(blorc_set_operator(run.get(), BLORC_OP_MATRIX, k, A.data(), 1e-3, &e), BLORC_OK);
  ASSERT_EQ(blorc_set_data(run.get(), 1, X.data(), Y.data(), &e), BLORC_OK) << e.msg;
  run.select_first(1);
  EXPECT_EQ(blorc_factor(run.get(), 1.0, &e), BLORC_OK) << e.msg;
}

TEST(Operator, BadInputIsRefusedWithAMessageNamingIt) {
  const int n = 8, k = 8;
  lib::Run run(n, k, 4);
  blorc_backend *b = run.get();
  blorc_error e{};
  auto refused = [&](blorc_status st, const char *needle) {
    EXPECT_EQ(st, BLORC_EINVAL);
    EXPECT_NE(std::string(e.msg).find(needle), std::string::npos) << e.msg;
  };
  Vec A((size_t)4 * n, 0.1);
  refused(blorc_set_operator(b, BLORC_OP_MATRIX, 0, A.data(), 0, &e), "rows");
  refused(blorc_set_operator(b, BLORC_OP_MATRIX, 4, nullptr, 0, &e), "no values");
  A[9] = NAN;
  refused(blorc_set_operator(b, BLORC_OP_MATRIX, 4, A.data(), 0, &e), "row 1 column 1");
  A[9] = 0.1;
  refused(blorc_set_operator(b, BLORC_OP_MATRIX, 4, A.data(), -1, &e), "ridge");
  refused(blorc_set_operator(b, BLORC_OP_IDENTITY, n, nullptr, 0.5, &e), "ridge");
  refused(blorc_set_operator(b, BLORC_OP_MASK, n, A.data(), 0, &e), "takes no matrix");
  refused(blorc_set_operator(b, (blorc_operator_kind)7, n, nullptr, 0, &e), "operator kind 7");
  // The measurements' length follows the operator: 4 per signal.
  ASSERT_EQ(blorc_set_operator(b, BLORC_OP_MATRIX, 4, A.data(), 0, &e), BLORC_OK);
  EXPECT_EQ(blorc_operator_rows(b), 4);
  Vec X((size_t)2 * n, 0.0), Y(8, 0.0);
  Y[6] = INFINITY;
  refused(blorc_set_data(b, 2, X.data(), Y.data(), &e), "signal 1 index 2");
  refused(blorc_set_masks(b, X.data(), &e), "not mask");
  // Masks: after the data, 0 or 1 only.
  ASSERT_EQ(blorc_set_operator(b, BLORC_OP_MASK, n, nullptr, 0, &e), BLORC_OK);
  Vec M((size_t)2 * n, 1.0);
  refused(blorc_set_masks(b, M.data(), &e), "set the data set first");
  Vec Yn((size_t)2 * n, 0.0);
  ASSERT_EQ(blorc_set_data(b, 2, X.data(), Yn.data(), &e), BLORC_OK);
  size_t idx[1] = {0};
  refused(blorc_select(b, idx, 1, &e), "needs masks");
  M[n + 3] = 0.5;
  refused(blorc_set_masks(b, M.data(), &e), "signal 1 index 3");
  M[n + 3] = 0.0;
  EXPECT_EQ(blorc_set_masks(b, M.data(), &e), BLORC_OK) << e.msg;
  EXPECT_EQ(blorc_select(b, idx, 1, &e), BLORC_OK) << e.msg;
}

}  // namespace

namespace {

// blorc_operator_parse's documented blur: Gaussian taps to 3 sigma, each row normalised over
// the taps inside the signal (so that constants pass unchanged).
ref::Vec inside_normalised_blur(int n, double sigma) {
  ref::Vec A((size_t)n * n, 0.0);
  int half = (int)std::ceil(3 * sigma);
  for (int i = 0; i < n; i++) {
    double s = 0;
    for (int c = std::max(0, i - half); c <= std::min(n - 1, i + half); c++)
      s += A[(size_t)i * n + c] = std::exp(-0.5 * (c - i) * (c - i) / (sigma * sigma));
    for (int c = 0; c < n; c++) A[(size_t)i * n + c] /= s;
  }
  return A;
}

// The operators a spec names (src/operator.c) against the tests' own constructions.
TEST(Operator, SpecsBuildTheMatricesTheyName) {
  blorc_operator op;
  blorc_error e{};
  // blur:S is the tests' blur matrix; blur2d:S on 4 x 4 patches is the Kronecker product of
  // the 1D blur of length 4 with itself (pixel (r, c) at index 4 r + c).
  ASSERT_EQ(blorc_operator_parse("blur:1.5", 12, 0, 0, "t", &op, &e), BLORC_OK) << e.msg;
  EXPECT_EQ(op.kind, BLORC_OP_MATRIX);
  EXPECT_EQ(op.m, 12);
  ref::Vec want = inside_normalised_blur(12, 1.5);
  EXPECT_LE(ref::rel_diff(ref::Vec(op.A, op.A + 144), want), 1e-15);
  blorc_operator_free(&op);
  ASSERT_EQ(blorc_operator_parse("blur2d:0.8", 16, 0, 0, "t", &op, &e), BLORC_OK) << e.msg;
  ref::Vec t = inside_normalised_blur(4, 0.8);
  for (int r1 = 0; r1 < 4; r1++)
    for (int c1 = 0; c1 < 4; c1++)
      for (int r2 = 0; r2 < 4; r2++)
        for (int c2 = 0; c2 < 4; c2++)
          EXPECT_NEAR(op.A[(size_t)(4 * r1 + c1) * 16 + 4 * r2 + c2],
                      t[r1 * 4 + r2] * t[c1 * 4 + c2], 1e-15);
  blorc_operator_free(&op);
  // cs:M: M x n, entries of variance 1/M, the same for the same seed and not for another.
  blorc_operator a, b, c;
  ASSERT_EQ(blorc_operator_parse("cs:200", 50, 7, 0, "t", &a, &e), BLORC_OK) << e.msg;
  ASSERT_EQ(blorc_operator_parse("cs:200", 50, 7, 0, "t", &b, &e), BLORC_OK);
  ASSERT_EQ(blorc_operator_parse("cs:200", 50, 8, 0, "t", &c, &e), BLORC_OK);
  EXPECT_EQ(a.m, 200);
  EXPECT_EQ(std::memcmp(a.A, b.A, sizeof(double) * 200 * 50), 0);
  EXPECT_NE(std::memcmp(a.A, c.A, sizeof(double) * 200 * 50), 0);
  double var = 0;
  for (int i = 0; i < 200 * 50; i++) var += a.A[i] * a.A[i] / (200 * 50);
  // 10000 draws of N(0, 1/200): the sample variance is 0.005 within 4 % (5 standard errors).
  EXPECT_NEAR(var, 1.0 / 200, 0.04 / 200);
  blorc_operator_free(&a), blorc_operator_free(&b), blorc_operator_free(&c);
  // inpaint:F draws masks with the share F missing, at least one entry observed per row.
  ASSERT_EQ(blorc_operator_parse("inpaint:0.25", 8, 0, 0, "t", &op, &e), BLORC_OK);
  EXPECT_EQ(op.kind, BLORC_OP_MASK);
  std::vector<double> M(4000 * 8);
  blorc_rng rng;
  blorc_rng_seed(&rng, 3);
  blorc_operator_draw_masks(&op, 4000, &rng, M.data());
  double missing = 0;
  for (double v : M) missing += v == 0.0;
  EXPECT_NEAR(missing / M.size(), 0.25, 0.02);  // sd 0.0024
  EXPECT_EQ(blorc_operator_check_masks(M.data(), 4000, 8, "m", &e), BLORC_OK) << e.msg;
  blorc_operator_free(&op);
  // A file: the matrix as saved.
  std::string path = std::string(BLORC_TEST_TMPDIR) + "/op_spec_a.npy";
  ref::Rand r(1);
  ref::Vec A = ref::random_matrix(r, 3, 5, 1.0);
  ASSERT_EQ(blorc_npy_save(path.c_str(), A.data(), 2, 3, 5, &e), BLORC_OK);
  ASSERT_EQ(blorc_operator_parse(path.c_str(), 5, 0, 0.5, "t", &op, &e), BLORC_OK) << e.msg;
  EXPECT_EQ(op.m, 3);
  EXPECT_EQ(op.ridge, 0.5);
  EXPECT_EQ(ref::Vec(op.A, op.A + 15), A);
  blorc_operator_free(&op);
  EXPECT_EQ(blorc_operator_parse(path.c_str(), 6, 0, 0, "t", &op, &e), BLORC_EFORMAT);
  EXPECT_NE(std::string(e.msg).find("n = 6"), std::string::npos) << e.msg;
  EXPECT_EQ(blorc_operator_parse("identity", 6, 0, 0.1, "t", &op, &e), BLORC_EINVAL);
  EXPECT_EQ(blorc_operator_parse("cs:2.5", 6, 0, 0, "t", &op, &e), BLORC_EINVAL);
}

}  // namespace
