// Run-to-run determinism of the stages, the BLAS kernel family in use, and non-finite values
// that pass the API's entry checks but overflow inside a stage.
//
// Determinism: each stage's result for a sample may not depend on which OpenMP thread ran it.
// It did once: the per-thread SVD scratch sat at thread-dependent 8-byte offsets, and
// OpenBLAS's SSE3 (Prescott) kernels round differently on data that is not 16-byte aligned,
// so with dynamic scheduling P_N, a and b changed from run to run by up to 1e-7 on an
// ill-conditioned W0 (issue 13). CI runs this suite again under OPENBLAS_CORETYPE=Prescott.
#include <gtest/gtest.h>
#include <omp.h>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "pipeline.h"
#include "problems.h"

namespace {

bool contains(const std::string &s, const std::string &what) {
  return s.find(what) != std::string::npos;
}

struct Outputs {
  std::vector<lib::Vec> bufs;
};

// Stages 1-6 on p with a fresh backend of `threads` OpenMP threads, stage 4 by `method`.
Outputs pipeline(const prob::Problem &p, blorc_svd_method method, int threads) {
  int saved = omp_get_max_threads();
  omp_set_num_threads(threads);
  lib::Run run(p.n, p.k, p.B);  // the backend sizes its thread pool now
  omp_set_num_threads(saved);
  prob::load(run, p);
  blorc_error e{};
  lib::check(blorc_set_svd_method(run.get(), method, &e), e, "set_svd_method");
  run.through_gradient();
  Outputs o;
  for (blorc_buffer b :
       {BLORC_BUF_X_ADMM, BLORC_BUF_SIGN, BLORC_BUF_RANK, BLORC_BUF_PN, BLORC_BUF_XSTAR,
        BLORC_BUF_A, BLORC_BUF_B, BLORC_BUF_H, BLORC_BUF_LOSS, BLORC_BUF_GRAD})
    o.bufs.push_back(run.read(b));
  return o;
}

void expect_bitwise_equal(const Outputs &a, const Outputs &b, const std::string &what) {
  ASSERT_EQ(a.bufs.size(), b.bufs.size());
  for (size_t i = 0; i < a.bufs.size(); i++) {
    ASSERT_EQ(a.bufs[i].size(), b.bufs[i].size());
    EXPECT_EQ(std::memcmp(a.bufs[i].data(), b.bufs[i].data(), a.bufs[i].size() * sizeof(double)), 0)
        << what << ": buffer " << i << " differs";
  }
}

// The case that failed on an Emerald Rapids Xeon: rows 0 and 1 of W nearly equal (cond ~1e9),
// so tiny rounding differences in V are amplified by 1/sigma^2 in a and b. Four threads even
// on a two-core machine: more than one thread must share the samples.
TEST(Determinism, StagesRepeatBitForBitOnEveryPath) {
  prob::Problem p = prob::make(5, 16, 16, 12, 0.4);
  ref::Rand r(9);
  for (int c = 0; c < 16; c++) p.W[16 + c] = p.W[c] + 1e-9 * r.normal();
  prob::Problem wide = prob::make(17, 24, 24, 40, 0.4);  // well conditioned: the fast path
  for (const prob::Problem *q : {&p, &wide})
    for (blorc_svd_method m : {BLORC_SVD_FULL, BLORC_SVD_FAST}) {
      Outputs first = pipeline(*q, m, 4);
      for (int rep = 0; rep < 6; rep++)
        expect_bitwise_equal(first, pipeline(*q, m, 4),
                             "n=" + std::to_string(q->n) + " method " + std::to_string(m) +
                                 " repeat " + std::to_string(rep));
    }
}

// Per-sample stages may not depend on how samples are spread over threads either: one thread
// against four gives the same stage 4 and 5 results (ADMM's GEMMs over thread-sized column
// blocks may round differently, so it is compared on the same ADMM output).
TEST(Determinism, PerSampleStagesDoNotDependOnTheThreadCount) {
  prob::Problem p = prob::make(5, 16, 16, 12, 0.4);
  for (int threads : {1, 4}) {
    int saved = omp_get_max_threads();
    omp_set_num_threads(threads);
    lib::Run run(p.n, p.k, p.B);
    omp_set_num_threads(saved);
    prob::load(run, p);
    lib::Params prm;
    prm.admm.max_iters = 0;  // x = C + K (z - u) from the zero warm start: no thread blocks
    run.solve(prm);
    run.analyse(prm);
    static lib::Vec pn1, a1;
    lib::Vec pn = run.read(BLORC_BUF_PN), a = run.read(BLORC_BUF_A);
    if (threads == 1) {
      pn1 = pn, a1 = a;
    } else {
      EXPECT_EQ(std::memcmp(pn.data(), pn1.data(), pn.size() * sizeof(double)), 0);
      EXPECT_EQ(std::memcmp(a.data(), a1.data(), a.size() * sizeof(double)), 0);
    }
  }
}

TEST(Blas, KernelFamilyFitsTheCpuUnlessForced) {
  lib::Run run(4, 4, 1);  // creating a backend selects the kernels
  blorc_blas_info bi;
  blorc_blas_query(&bi);
  EXPECT_TRUE(contains(bi.library, "OpenBLAS")) << bi.library;
  EXPECT_TRUE(contains(bi.summary, bi.kernels)) << bi.summary;
  if (bi.forced) {
    EXPECT_TRUE(contains(bi.summary, "forced by OPENBLAS_CORETYPE")) << bi.summary;
    GTEST_SKIP() << "OPENBLAS_CORETYPE is set (" << bi.kernels
                 << "): the selection is the user's; checked only that it is reported";
  }
  EXPECT_FALSE(bi.fallback) << bi.summary;
  if (std::string(bi.isa) == "AVX-512" || std::string(bi.isa) == "AVX2")
    EXPECT_NE(std::string(bi.kernels), "Prescott") << bi.summary;
}

// Finite inputs that overflow inside a stage stop there, named, before anything reads them.
TEST(NonFinite, HugeSignalsStopAtTheClosedForm) {
  prob::Problem p = prob::make(3, 8, 8, 4, 0.3);
  for (double &y : p.Y) y *= 1e200;  // finite, but ||x* - x||^2 overflows
  lib::Run run(p.n, p.k, p.B);
  prob::load(run, p);
  lib::Params prm;
  run.solve(prm);
  blorc_error e{};
  ASSERT_EQ(blorc_signs(run.get(), prm.gamma, &e), BLORC_OK) << e.msg;
  ASSERT_EQ(blorc_svd(run.get(), prm.svd_tol, &e), BLORC_OK) << e.msg;
  EXPECT_EQ(blorc_closed_form(run.get(), &e), BLORC_ENUMERIC);
  EXPECT_TRUE(contains(e.msg, "closed_form: non-finite")) << e.msg;
  EXPECT_TRUE(contains(e.msg, "batch sample")) << e.msg;
  double loss = 0;
  EXPECT_EQ(blorc_gradient(run.get(), &loss, &e), BLORC_EINVAL) << "no gradient after a failure";
}

TEST(NonFinite, HugeWarmStartsStopAtAdmm) {
  prob::Problem p = prob::make(4, 8, 8, 4, 0.3);
  lib::Run run(p.n, p.k, p.B);
  run.set_W(p.W);
  run.set_data(p.X, p.Y);
  lib::Vec L((size_t)p.B * p.k, 1e308);  // finite; the scaled dual u = lambda / rho is not
  blorc_error e{};
  ASSERT_EQ(blorc_write(run.get(), BLORC_BUF_STATE_LAMBDA, L.data(), L.size(), &e), BLORC_OK);
  run.select_first(p.B);
  ASSERT_EQ(blorc_factor(run.get(), 0.5, &e), BLORC_OK) << e.msg;
  blorc_admm_opts o = blorc_admm_defaults();
  EXPECT_EQ(blorc_admm(run.get(), &o, nullptr, &e), BLORC_ENUMERIC);
  EXPECT_TRUE(contains(e.msg, "admm: non-finite x")) << e.msg;
  EXPECT_TRUE(contains(e.msg, "data-set signal")) << e.msg;
  EXPECT_EQ(blorc_signs(run.get(), 1e-3, &e), BLORC_EINVAL) << "signs after a failed ADMM";
}

TEST(NonFinite, HugeTransformStopsAtTheFactorisation) {
  prob::Problem p = prob::make(6, 8, 8, 2, 0.3);
  for (double &w : p.W) w *= 1e160;  // finite; W^T W is not
  lib::Run run(p.n, p.k, p.B);
  prob::load(run, p);
  blorc_error e{};
  EXPECT_EQ(blorc_factor(run.get(), 1.0, &e), BLORC_ENUMERIC);
  EXPECT_TRUE(contains(e.msg, "factor:")) << e.msg;
  blorc_admm_opts o = blorc_admm_defaults();
  EXPECT_EQ(blorc_admm(run.get(), &o, nullptr, &e), BLORC_EINVAL) << "admm without a factor";
}

}  // namespace
