// Stage 4's two CPU paths: the per-sample SVD (FULL) and the fast path through W^+ and the
// null space of W (FAST, where it applies) must give the same rank, P_N, x*, a, b, h, losses
// and gradient on the same ADMM output; FAST must fall back to FULL where the fast path's
// assumptions fail (k > n, ill-conditioned W), and AUTO must pick by cost.
#include <gtest/gtest.h>

#include <cmath>
#include <utility>
#include <vector>

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

// Multi-lag differences (lags 1, 2, 3; k = 186 > n = 64): lag-2 and lag-3 rows are sums of
// lag-1 rows, so every W0m is exactly rank deficient. The same W with taps moved by ~1e-11
// (as an optimiser leaves them) makes those rows independent at ~3e-10 relative: on this
// pair dgesdd then fails to converge (OpenBLAS 0.3.21, info 1) and stage 4 must fall back to
// dgesvd; and the rank rule must treat such directions as null (svd_tol 1e-8), or x* is
// projected onto too small a space.
lib::Vec multilag(const std::vector<std::vector<double>> &taps, int n) {
  lib::Vec W;
  for (const auto &t : taps)
    for (int i = 0; i + (int)t.size() <= n; i++) {
      lib::Vec row(n, 0.0);
      for (size_t c = 0; c < t.size(); c++) row[i + c] = t[c];
      W.insert(W.end(), row.begin(), row.end());
    }
  return W;
}

Stage4 closed_form(const lib::Vec &W, int n, const lib::Vec &x, const lib::Vec &y, double svd_tol) {
  const prob::Problem p{n, (int)(W.size() / n), (int)(x.size() / n), W, x, y};
  lib::Run run(p.n, p.k, p.B);
  prob::load(run, p);
  lib::Params prm;
  prm.rho = 10;
  prm.gamma = 1e-6;
  prm.svd_tol = svd_tol;
  prm.admm.tol = 1e-9;
  prm.admm.max_iters = 5000;
  run.solve(prm);
  return analyse(run, prm, BLORC_SVD_AUTO);  // throws (a failed check) if stage 4 fails
}

TEST(SvdPaths, NearlyDependentRowsFallBackAndKeepTheirNullSpace) {
  const int n = 64;
  // Pair 1: dgesdd fails on its W0 for the moved W. Pair 2: the rank rule matters.
  // clang-format off
  const lib::Vec y = {
      0.6569174420169961, 0.688593140294462, 0.6737808721213523, 0.5559006902651833,
      0.4801730520532693, 0.4059160365505917, 0.7200436937894334, 0.6664915824782576,
      0.625052638626027, 0.6433234452553361, 0.6494714079781295, 0.27537295844777887,
      0.1571659012734186, 0.09904037086280834, 0.14827969770748797, 0.37619081705111973,
      0.2913135891629876, 0.27719240256400046, 0.2417747354343893, 0.24091418387020785,
      0.2901822986461509, 0.31353611477655435, 0.1821063962174049, 0.0721615258993758,
      0.13402753791253647, -0.01907053086606869, 0.11224011007114582, 0.009809501972520188,
      0.1597824147679126, 0.03640470742479264, 0.08838580994748825, 0.2639001701992479,
      0.30454346045328623, 0.1491842152131662, 0.10739955489524239, 0.1801441884085987,
      0.10520308455531757, 1.013371174783777, 0.8439378390265291, 0.9478521079257636,
      0.8509557514841303, 0.9164248943763922, 1.0063741191636648, 0.9444278368534783,
      0.6747155762458346, 0.8160444244344288, 0.9833840683679981, 0.7964280053756138,
      0.8141076991548133, 0.7807714965426688, 0.7600097835540964, 0.902442649641259,
      1.0329906038416574, 0.8951487365040514, 0.7847060426636799, 0.6781859909409786,
      1.154382793243883, 0.8449869667336797, 1.035314664948271, 0.8628011122243916,
      0.80889421228045, 0.9703178749305038, 1.0280005935371235, 0.9522565027451908,
      0.8287612973227169, 0.47605974481748925, 0.624955408229357, 0.6553099420671294,
      0.6049235417473766, 0.9644965669424657, 0.9444868028274114, 0.8845707298254933,
      0.9203327544573813, 1.002814882455185, 0.9449737882522266, 0.9703913996065033,
      0.817031535936454, 0.7557183322446415, 1.0042989449582242, 1.0424181332816305,
      0.9873349007258339, 0.963179361101691, 1.082811439400999, 0.7640041062358932,
      1.0318976416991885, 0.9167119750968594, 0.9009606380401003, 0.9954971570719545,
      1.15875802955898, 0.9971961108580316, 1.0101605535125369, 0.7325812388154637,
      0.9022508119040714, 0.8941500262699869, 1.091480421006834, 0.9160061558539825,
      0.9478465210805512, 0.905795941212809, 0.8006487635168551, 0.9303412685849468,
      1.1789699307707122, 0.7841908628603129, 0.23120221958038845, 0.23019637992374503,
      0.33621268914744634, 0.2506146115298987, 0.35367738439191787, 0.12041231555958386,
      0.3631134849258745, 0.1252339769384155, 0.35664180858058364, 0.217963581367691,
      0.1288318568507232, 0.177373025171717, 0.05543723819132795, -0.0007303978645644971,
      0.32716051685980974, 0.2719204590462616, 0.3379146902293987, 0.3092887736760641,
      0.3066364601187255, 0.20875589133774483, 0.20716583231949162, 0.18160219140767486,
      0.2343389524056909, 0.22541950436330066, 0.06727062040408768, 0.11990906654384184,
  };
  // clang-format on
  lib::Vec x;
  const std::pair<int, double> pieces[] = {{11, 0.6160007445582818},  {11, 0.32483466652205717},
                                           {15, 0.10648206395943671}, {27, 0.8707672181422615},
                                           {5, 0.6477092845877268},   {11, 0.9653475089984886},
                                           {22, 0.9596845425538924},  {26, 0.19600969117760858}};
  for (auto [len, h] : pieces) x.insert(x.end(), len, h);
  ASSERT_EQ(x.size(), y.size());
  ASSERT_EQ((int)x.size(), 2 * n);
  const lib::Vec exact = multilag({{-0.07, 0.07}, {-0.03, 0, 0.03}, {-0.01, 0, 0, 0.01}}, n);
  const lib::Vec moved =
      multilag({{-0.06999999999433251, 0.06999999999505119},
                {-0.029999999984337132, 3.4749813659157028e-12, 0.02999999999121259},
                {-0.009999999988508222, 2.6399467439321007e-12, -8.768232621478178e-12,
                 0.009999999981670544}},
               n);
  Stage4 ref = closed_form(exact, n, x, y, 1e-10);
  // The strict default rank rule on the moved W: stage 4 must still succeed (the fallback).
  Stage4 strict = closed_form(moved, n, x, y, 1e-10);
  for (double v : strict.loss) EXPECT_TRUE(std::isfinite(v));
  // ... and there it projects pair 2 onto too small a space: a loss far above the true one.
  EXPECT_GT(strict.loss[1], 10 * ref.loss[1]) << "the strict rule should visibly fail here";
  // With svd_tol 1e-8 the moved W's closed form is the exact W's up to the ~1e-10 relative
  // move of W (amplified by cond(W0) ~ 1e2): 1e-7 separates that from a wrong null space,
  // which moves pair 2's loss from 0.067 to 6.1.
  Stage4 loose = closed_form(moved, n, x, y, 1e-8);
  EXPECT_LE(max_rel(loose.xs, ref.xs), 1e-7);
  EXPECT_LE(max_rel(loose.loss, ref.loss), 1e-7);
  EXPECT_LE(max_rel(loose.grad, ref.grad), 1e-6);
}

TEST(SvdPaths, RejectsUnknownMethod) {
  lib::Run run(8, 8, 2);
  blorc_error e{};
  EXPECT_EQ(blorc_set_svd_method(run.get(), (blorc_svd_method)7, &e), BLORC_EINVAL);
  EXPECT_NE(std::string(e.msg).find("svd method"), std::string::npos) << e.msg;
}

}  // namespace
