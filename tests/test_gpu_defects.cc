// GPU tests (label gpu) for the defects of the CUDA backend found by reading it (issue 14):
// each failed before its fix. Some need what only the emulated device can do (inject a kernel
// fault, limit device memory, count host waits); on a real GPU those skip with the reason.
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <string>

#include "blorc/blorc.h"
#include "gpu_test.h"
#include "pipeline.h"
#include "problems.h"

#ifdef BLORC_CUDA_EMU
#include <cusolverDn.h>

#include <cmath>
#include <vector>

#include "../cuda/emu/emu_device.h"
#endif

namespace {

#ifdef BLORC_CUDA_EMU
#define NEED_EMULATOR(what) NEED_GPU()
#else
#define NEED_EMULATOR(what) GTEST_SKIP() << "needs the cuda-emu build's " what
#endif

bool contains(const std::string &s, const std::string &what) {
  return s.find(what) != std::string::npos;
}

struct Loaded {
  lib::Run run;
  Loaded(const prob::Problem &p, blorc_device d) : run(p.n, p.k, p.B, d) {
    run.set_W(p.W);
    run.set_data(p.X, p.Y);
    run.select_first(p.B);
  }
};

blorc_admm_opts admm_opts(int variant, int max_iters, int fixed) {
  blorc_admm_opts o = blorc_admm_defaults();
  o.variant = variant, o.max_iters = max_iters, o.fixed = fixed, o.tol = 1e-10;
  return o;
}

blorc_status admm(lib::Run &r, const blorc_admm_opts &o, blorc_error *e,
                  blorc_admm_stats *st = nullptr) {
  blorc_status s = blorc_factor(r.get(), 1.0, e);
  return s != BLORC_OK ? s : blorc_admm(r.get(), &o, st, e);
}

// Defect 3: factor, admm, factor, admm on one selected batch must continue from the store, as
// select, factor, admm does (the dual was divided by rho a second time).
TEST(GpuDefects, SecondAdmmOnTheSameSelectionContinuesFromTheStore) {
  NEED_GPU();
  prob::Problem p = prob::make(41, 16, 24, 7, 0.4);
  for (int variant : {BLORC_ADMM_GEMM, BLORC_ADMM_PERSISTENT}) {
    Loaded again(p, BLORC_DEVICE_CUDA), reselected(p, BLORC_DEVICE_CUDA);
    blorc_admm_opts o = admm_opts(variant, 40, 0);
    blorc_error e{};
    ASSERT_EQ(admm(again.run, o, &e), BLORC_OK) << e.msg;
    ASSERT_EQ(admm(again.run, o, &e), BLORC_OK) << e.msg;
    ASSERT_EQ(admm(reselected.run, o, &e), BLORC_OK) << e.msg;
    reselected.run.select_first(p.B);
    ASSERT_EQ(admm(reselected.run, o, &e), BLORC_OK) << e.msg;
    for (blorc_buffer b : {BLORC_BUF_X_ADMM, BLORC_BUF_STATE_Z, BLORC_BUF_STATE_LAMBDA})
      EXPECT_EQ(again.run.read(b), reselected.run.read(b))
          << "buffer " << b << " variant " << variant;
  }
}

// Defect 3: a refused persistent call (W and K do not fit in shared memory at n = k = 128)
// must leave the batch as it was, so that the gemm variant then runs as on a fresh batch.
TEST(GpuDefects, RefusedPersistentCallLeavesTheBatchAlone) {
  NEED_GPU();
  prob::Problem p = prob::make(43, 128, 128, 1, 0.4);
  Loaded refused(p, BLORC_DEVICE_CUDA), fresh(p, BLORC_DEVICE_CUDA);
  blorc_error e{};
  // Warm starts that are not zero, so that scaling them twice shows.
  blorc_admm_opts gemm = admm_opts(BLORC_ADMM_GEMM, 30, 0);
  for (lib::Run *r : {&refused.run, &fresh.run}) {
    ASSERT_EQ(admm(*r, gemm, &e), BLORC_OK) << e.msg;
    r->select_first(p.B);
  }
  EXPECT_EQ(admm(refused.run, admm_opts(BLORC_ADMM_PERSISTENT, 30, 0), &e), BLORC_EINVAL);
  EXPECT_TRUE(contains(e.msg, "use the gemm variant")) << e.msg;
  ASSERT_EQ(blorc_admm(refused.run.get(), &gemm, nullptr, &e), BLORC_OK) << e.msg;
  ASSERT_EQ(admm(fresh.run, gemm, &e), BLORC_OK) << e.msg;
  EXPECT_EQ(refused.run.read(BLORC_BUF_X_ADMM), fresh.run.read(BLORC_BUF_X_ADMM));
}

// Defect 6: timing runs (fixed mode) and training (adaptive) run the same ADMM variant.
TEST(GpuDefects, AutoPicksOneAdmmVariantForFixedAndAdaptiveRuns) {
  NEED_GPU();
  for (int n : {16, 128}) {  // persistent fits; only in fixed mode (W left out) at n = k = 128
    prob::Problem p = prob::make(47, n, n, 1, 0.4);
    int chosen[2];
    for (int fixed : {0, 1}) {
      Loaded l(p, BLORC_DEVICE_CUDA);
      blorc_error e{};
      blorc_admm_stats st{};
      ASSERT_EQ(admm(l.run, admm_opts(BLORC_ADMM_AUTO, 5, fixed), &e, &st), BLORC_OK) << e.msg;
      chosen[fixed] = st.variant;
    }
    EXPECT_EQ(chosen[0], chosen[1]) << "n = k = " << n;
    EXPECT_EQ(chosen[0], n == 16 ? BLORC_ADMM_PERSISTENT : BLORC_ADMM_GEMM) << "n = k = " << n;
  }
}

// Defect 6: the gemm variant's stopping test waits for the device once per call, not once
// per check, and allocates nothing; learning late that every sample stopped changes nothing
// (the same iteration counts and x, bit for bit, as a run capped exactly where the last
// sample stopped, which never runs past it).
TEST(GpuDefects, GemmStoppingTestDoesNotWaitForTheDeviceAtEachCheck) {
  NEED_EMULATOR("host-wait counters");
#ifdef BLORC_CUDA_EMU
  prob::Problem p = prob::make(53, 16, 24, 7, 0.4);
  Loaded late(p, BLORC_DEVICE_CUDA), capped(p, BLORC_DEVICE_CUDA);
  blorc_admm_opts o = admm_opts(BLORC_ADMM_GEMM, 20000, 0);
  o.check_every = 1, o.tol = 1e-8;
  blorc_error e{};
  ASSERT_EQ(blorc_factor(late.run.get(), 1.0, &e), BLORC_OK) << e.msg;
  blorc_emu::Counters before = blorc_emu::counters();
  blorc_admm_stats st{};
  ASSERT_EQ(blorc_admm(late.run.get(), &o, &st, &e), BLORC_OK) << e.msg;
  blorc_emu::Counters after = blorc_emu::counters();
  ASSERT_GE(st.iters_max, 50) << "too few checks to tell one wait per check from one per call";
  ASSERT_EQ(st.at_cap, 0);
  // The three Thrust reductions of the statistics and the final stream synchronisation.
  EXPECT_LE(after.syncs - before.syncs, 4) << "over " << st.iters_max << " checks";
  EXPECT_EQ(after.mallocs - before.mallocs, 0);
  blorc_admm_opts exact = o;
  exact.max_iters = st.iters_max;
  ASSERT_EQ(admm(capped.run, exact, &e), BLORC_OK) << e.msg;
  EXPECT_EQ(late.run.read(BLORC_BUF_ITERS), capped.run.read(BLORC_BUF_ITERS));
  EXPECT_EQ(late.run.read(BLORC_BUF_X_ADMM), capped.run.read(BLORC_BUF_X_ADMM));
#endif
}

// Defect 5: all of the closed-form kernel's shared memory is counted: at n = 3064, k = 8 its
// vectors take 49088 of the 49152 bytes a kernel gets without opting in, and the reduction
// buffer (one double for each of the 32 warps of its 1024 threads) tips it over.
TEST(GpuDefects, ClosedFormRunsAtTheSharedMemoryBoundary) {
  NEED_GPU();
  const int n = 3064, k = 8;
  ASSERT_LE(8 * (2 * n + k), 48 * 1024);
  ASSERT_GT(8 * (2 * n + k + 32), 48 * 1024);
  prob::Problem p = prob::make(59, n, k, 1, 0.4);
  Loaded gpu(p, BLORC_DEVICE_CUDA), cpu(p, BLORC_DEVICE_CPU);
  lib::Params prm;
  prm.admm = admm_opts(BLORC_ADMM_AUTO, 20, 1);  // the same 20 iterations on both sides
  for (lib::Run *r : {&gpu.run, &cpu.run}) {
    r->solve(prm);
    r->analyse(prm);
  }
  ASSERT_EQ(gpu.run.read(BLORC_BUF_SIGN), cpu.run.read(BLORC_BUF_SIGN));
  for (blorc_buffer b : {BLORC_BUF_XSTAR, BLORC_BUF_H, BLORC_BUF_A}) {
    lib::Vec g = gpu.run.read(b), c = cpu.run.read(b);
    double d = 0, s = 0;
    for (size_t i = 0; i < c.size(); i++) d += (g[i] - c[i]) * (g[i] - c[i]), s += c[i] * c[i];
    EXPECT_LE(std::sqrt(d), 1e-9 * std::max(std::sqrt(s), 1e-3)) << "buffer " << b;
  }
}

// Defect 4: with more zero rows than n (here every row of a k = 2n transform), the Jacobi SVD
// converges instead of rotating rounding noise until its sweep cap ...
TEST(GpuDefects, JacobiSvdConvergesWithMoreZeroRowsThanN) {
  NEED_GPU();
  prob::Problem p = prob::make(61, 16, 32, 7, 0.4);
  Loaded gpu(p, BLORC_DEVICE_CUDA), cpu(p, BLORC_DEVICE_CPU);
  lib::Params prm;
  prm.gamma = 1e3;  // every |W x| below it: k0 = k = 32 > n = 16
  for (lib::Run *r : {&gpu.run, &cpu.run}) {
    r->solve(prm);
    r->analyse(prm);
  }
  EXPECT_EQ(gpu.run.read(BLORC_BUF_RANK), cpu.run.read(BLORC_BUF_RANK));
  lib::Vec g = gpu.run.read(BLORC_BUF_SV), c = cpu.run.read(BLORC_BUF_SV);
  for (size_t i = 0; i < c.size(); i++) EXPECT_NEAR(g[i], c[i], 1e-12 * c[0]) << i;
}

// ... and a sample that does not converge within the cap is an error naming it.
TEST(GpuDefects, JacobiSvdReportsNonConvergence) {
  NEED_GPU();
  prob::Problem p = prob::make(61, 16, 32, 3, 0.4);
  setenv("BLORC_TEST_JACOBI_SWEEPS", "1", 1);
  Loaded gpu(p, BLORC_DEVICE_CUDA);
  unsetenv("BLORC_TEST_JACOBI_SWEEPS");
  lib::Params prm;
  prm.gamma = 1e3;
  gpu.run.solve(prm);
  blorc_error e{};
  ASSERT_EQ(blorc_signs(gpu.run.get(), prm.gamma, &e), BLORC_OK) << e.msg;
  EXPECT_EQ(blorc_svd(gpu.run.get(), prm.svd_tol, &e), BLORC_ENUMERIC);
  EXPECT_TRUE(contains(e.msg,
                       "did not converge within 1 sweeps for 3 of 3 samples (first: "
                       "sample 0"))
      << e.msg;
}

// Defect 2: a data set that does not fit leaves the loaded one usable.
TEST(GpuDefects, DataSetThatDoesNotFitKeepsTheLoadedOne) {
  NEED_EMULATOR("settable device memory");
#ifdef BLORC_CUDA_EMU
  prob::Problem p = prob::make(67, 16, 24, 7, 0.4), big = prob::make(68, 16, 24, 4000, 0.4);
  Loaded kept(p, BLORC_DEVICE_CUDA), plain(p, BLORC_DEVICE_CUDA);
  blorc_admm_opts o = admm_opts(BLORC_ADMM_GEMM, 40, 0);
  blorc_error e{};
  ASSERT_EQ(admm(kept.run, o, &e), BLORC_OK) << e.msg;
  ASSERT_EQ(admm(plain.run, o, &e), BLORC_OK) << e.msg;
  blorc_emu::set_device_memory(blorc_emu::device_memory_used() + 100000);
  blorc_status st = blorc_set_data(kept.run.get(), 4000, big.X.data(), big.Y.data(), &e);
  blorc_emu::set_device_memory(141ull << 30);
  ASSERT_EQ(st, BLORC_ENOMEM);
  EXPECT_TRUE(contains(e.msg, "data set")) << e.msg;
  for (lib::Run *r : {&kept.run, &plain.run}) {
    r->select_first(p.B);
    ASSERT_EQ(admm(*r, o, &e), BLORC_OK) << e.msg;
  }
  EXPECT_EQ(kept.run.read(BLORC_BUF_X_ADMM), plain.run.read(BLORC_BUF_X_ADMM));
#endif
}

// Defect 1: a kernel fault surfaces in a Thrust reduction (Thrust throws); the stage returns
// an error naming itself instead of the exception ending the process.
TEST(GpuDefects, KernelFaultInAThrustReductionIsAnErrorNamingTheStage) {
  NEED_EMULATOR("fault injection");
#ifdef BLORC_CUDA_EMU
  prob::Problem p = prob::make(71, 16, 24, 7, 0.4);
  struct {
    const char *kernel, *stage;
  } cases[] = {{"scatter_kernel", "admm: the iteration counts"},
               {"mask_kernel", "gradient: the losses"}};
  for (const auto &c : cases) {
    Loaded l(p, BLORC_DEVICE_CUDA);
    lib::Params prm;
    blorc_error e{};
    blorc_emu::inject_fault(c.kernel);
    blorc_status st = blorc_factor(l.run.get(), prm.rho, &e);
    if (st == BLORC_OK) st = blorc_admm(l.run.get(), &prm.admm, nullptr, &e);
    if (st == BLORC_OK) st = blorc_signs(l.run.get(), prm.gamma, &e);
    if (st == BLORC_OK) st = blorc_svd(l.run.get(), prm.svd_tol, &e);
    if (st == BLORC_OK) st = blorc_closed_form(l.run.get(), &e);
    if (st == BLORC_OK) st = blorc_gradient(l.run.get(), nullptr, &e);
    blorc_emu::clear_fault();
    EXPECT_EQ(st, BLORC_EDEVICE) << c.kernel;
    EXPECT_TRUE(contains(e.msg, c.stage)) << e.msg;
    EXPECT_TRUE(contains(e.msg, "unspecified launch failure")) << e.msg;
  }
#endif
}

// Every cuSOLVER devInfo is read and checked: a breakdown (potrf info > 0) or a bad argument
// (info < 0) in any of the three calls is an error naming the call.
TEST(GpuDefects, EveryCusolverInfoIsChecked) {
  NEED_EMULATOR("devInfo injection");
#ifdef BLORC_CUDA_EMU
  prob::Problem p = prob::make(73, 16, 24, 7, 0.4);
  struct {
    const char *routine;
    int value, skip;
    const char *message;
  } cases[] = {
      {"cusolverDnDpotrf", 3, 0, "factor: Cholesky (cusolverDnDpotrf) failed (device info 3)"},
      {"cusolverDnDpotrs", -5, 0, "factor: triangular solves (cusolverDnDpotrs) failed"},
      {"cusolverDnDpotrs", -7, 1, "admm: cusolverDnDpotrs info -7"}};
  for (const auto &c : cases) {
    Loaded l(p, BLORC_DEVICE_CUDA);
    blorc_emu::inject_info(c.routine, c.value, c.skip);
    blorc_error e{};
    blorc_admm_opts o = admm_opts(BLORC_ADMM_GEMM, 10, 0);
    EXPECT_EQ(admm(l.run, o, &e), BLORC_ENUMERIC) << c.routine;
    EXPECT_TRUE(contains(e.msg, c.message)) << e.msg;
    blorc_emu::inject_info("", 0);
  }
#endif
}

}  // namespace

namespace {

// gesvdjBatched's info is checked per sample: non-convergence (info > 0) is a numeric error
// naming the sample, a bad argument (info < 0) a device error; the emulated call refuses what
// cuSOLVER documents as wrong (m or n above 32, a short workspace).
// Stage 4's fast path checks geqrf's and orgqr's devInfo; the Gram path sends a sample whose
// syevBatched did not converge (info > 0) to the Jacobi kernel and counts it, and a bad
// argument (info < 0) is a device error; the emulated calls refuse what NVIDIA documents as
// wrong (geqrfBatched's lda < m, orgqr's n > m, syevBatched's short workspace).
TEST(GpuDefects, FastAndGramPathsCheckTheirInfos) {
  NEED_EMULATOR("devInfo injection");
#ifdef BLORC_CUDA_EMU
  struct {
    int n, k;
    blorc_svd_method method;
    const char *routine;
    int value, skip;
    blorc_status st;
    const char *message;
  } cases[] = {
      {16, 12, BLORC_SVD_FAST, "cusolverDnDgeqrf", 3, 0, BLORC_ENUMERIC,
       "geqrf of W^T failed (info 3)"},
      {16, 12, BLORC_SVD_FAST, "cusolverDnDorgqr", -2, 0, BLORC_EDEVICE,
       "orgqr of W^T: parameter 2 is wrong"},
      {40, 20, BLORC_SVD_GPU_CUSOLVER, "cusolverDnXsyevBatched", -3, 0, BLORC_EDEVICE,
       "syevBatched: parameter 3 is wrong"},
      {40, 20, BLORC_SVD_GPU_CUSOLVER, "cusolverDnXsyevBatched", 7, 1, BLORC_OK, ""},
  };
  for (const auto &c : cases) {
    SCOPED_TRACE(c.routine);
    prob::Problem p = prob::make(75, c.n, c.k, 4, 0.4);
    Loaded l(p, BLORC_DEVICE_CUDA);
    blorc_error e{};
    blorc_admm_opts o = admm_opts(BLORC_ADMM_GEMM, 50, 0);
    ASSERT_EQ(admm(l.run, o, &e), BLORC_OK) << e.msg;
    ASSERT_EQ(blorc_signs(l.run.get(), 1e-3, &e), BLORC_OK) << e.msg;
    ASSERT_EQ(blorc_set_svd_method(l.run.get(), c.method, &e), BLORC_OK);
    blorc_emu::inject_info(c.routine, c.value, c.skip);
    EXPECT_EQ(blorc_svd(l.run.get(), 1e-8, &e), c.st) << e.msg;
    EXPECT_TRUE(contains(e.msg, c.message)) << e.msg;
    blorc_emu::inject_info("", 0);
    if (c.st == BLORC_OK) {  // the sample that did not converge went to the Jacobi kernel
      EXPECT_EQ(blorc_svd_fallbacks(l.run.get()), 1);
      EXPECT_EQ(blorc_svd_method_used(l.run.get()), BLORC_SVD_GPU_CUSOLVER);
    }
  }
  cublasHandle_t bh;
  cusolverDnHandle_t h;
  ASSERT_EQ(cublasCreate(&bh), CUBLAS_STATUS_SUCCESS);
  ASSERT_EQ(cusolverDnCreate(&h), CUSOLVER_STATUS_SUCCESS);
  double *A, *tau, **Ap, **Tp;
  ASSERT_EQ(cudaMalloc((void **)&A, 64 * sizeof(double)), cudaSuccess);
  ASSERT_EQ(cudaMalloc((void **)&tau, 8 * sizeof(double)), cudaSuccess);
  ASSERT_EQ(cudaMalloc((void **)&Ap, sizeof(double *)), cudaSuccess);
  ASSERT_EQ(cudaMalloc((void **)&Tp, sizeof(double *)), cudaSuccess);
  ASSERT_EQ(cudaMemcpy(Ap, &A, sizeof A, cudaMemcpyHostToDevice), cudaSuccess);
  ASSERT_EQ(cudaMemcpy(Tp, &tau, sizeof tau, cudaMemcpyHostToDevice), cudaSuccess);
  int info = 0;
  EXPECT_EQ(cublasDgeqrfBatched(bh, 8, 8, Ap, 7, Tp, &info, 1), CUBLAS_STATUS_INVALID_VALUE);
  EXPECT_EQ(info, -5);
  EXPECT_EQ(cublasDgeqrfBatched(bh, 8, 8, Ap, 8, Tp, &info, 1), CUBLAS_STATUS_SUCCESS);
  EXPECT_EQ(info, 0);
  int lwork = 0;
  EXPECT_EQ(cusolverDnDorgqr_bufferSize(h, 4, 8, 4, A, 8, tau, &lwork),
            CUSOLVER_STATUS_INVALID_VALUE);
  cusolverDnParams_t prm;
  ASSERT_EQ(cusolverDnCreateParams(&prm), CUSOLVER_STATUS_SUCCESS);
  size_t dbytes = 0, hbytes = 0;
  ASSERT_EQ(cusolverDnXsyevBatched_bufferSize(h, prm, CUSOLVER_EIG_MODE_VECTOR,
                                              CUBLAS_FILL_MODE_LOWER, 8, CUDA_R_64F, A, 8,
                                              CUDA_R_64F, tau, CUDA_R_64F, &dbytes, &hbytes, 1),
            CUSOLVER_STATUS_SUCCESS);
  double *work;
  int *dinfo;
  ASSERT_EQ(cudaMalloc((void **)&work, dbytes), cudaSuccess);
  ASSERT_EQ(cudaMalloc((void **)&dinfo, sizeof(int)), cudaSuccess);
  std::vector<char> hw(hbytes);
  EXPECT_EQ(cusolverDnXsyevBatched(h, prm, CUSOLVER_EIG_MODE_VECTOR, CUBLAS_FILL_MODE_LOWER, 8,
                                   CUDA_R_64F, A, 8, CUDA_R_64F, tau, CUDA_R_64F, work, dbytes - 8,
                                   hw.data(), hbytes, dinfo, 1),
            CUSOLVER_STATUS_INVALID_VALUE);
  EXPECT_EQ(cusolverDnXsyevBatched(h, prm, CUSOLVER_EIG_MODE_VECTOR, CUBLAS_FILL_MODE_LOWER, 8,
                                   CUDA_R_64F, A, 8, CUDA_R_64F, tau, CUDA_R_64F, work, dbytes,
                                   nullptr, hbytes, dinfo, 1),
            CUSOLVER_STATUS_INVALID_VALUE);
  (void)cudaGetLastError();
  for (void *q : {(void *)A, (void *)tau, (void *)Ap, (void *)Tp, (void *)work, (void *)dinfo})
    cudaFree(q);
  cusolverDnDestroyParams(prm);
  cusolverDnDestroy(h);
  cublasDestroy(bh);
#endif
}

TEST(GpuDefects, GesvdjBatchedInfoAndArgumentsAreChecked) {
  NEED_EMULATOR("devInfo injection");
#ifdef BLORC_CUDA_EMU
  prob::Problem p = prob::make(74, 16, 24, 5, 0.4);
  struct {
    int value, skip;
    blorc_status st;
    const char *message;
  } cases[] = {{17, 2, BLORC_ENUMERIC, "gesvdjBatched did not converge for sample 2"},
               {-4, 0, BLORC_EDEVICE, "gesvdjBatched: parameter 4 is wrong"}};
  for (const auto &c : cases) {
    Loaded l(p, BLORC_DEVICE_CUDA);
    blorc_error e{};
    blorc_admm_opts o = admm_opts(BLORC_ADMM_GEMM, 50, 0);
    ASSERT_EQ(admm(l.run, o, &e), BLORC_OK) << e.msg;
    ASSERT_EQ(blorc_signs(l.run.get(), 1e-3, &e), BLORC_OK) << e.msg;
    ASSERT_EQ(blorc_set_svd_method(l.run.get(), BLORC_SVD_GPU_CUSOLVER, &e), BLORC_OK);
    blorc_emu::inject_info("cusolverDnDgesvdjBatched", c.value, c.skip);
    EXPECT_EQ(blorc_svd(l.run.get(), 1e-8, &e), c.st);
    EXPECT_TRUE(contains(e.msg, c.message)) << e.msg;
    blorc_emu::inject_info("", 0);
  }
  cusolverDnHandle_t h;
  ASSERT_EQ(cusolverDnCreate(&h), CUSOLVER_STATUS_SUCCESS);
  gesvdjInfo_t prm;
  ASSERT_EQ(cusolverDnCreateGesvdjInfo(&prm), CUSOLVER_STATUS_SUCCESS);
  int lwork = 0;
  EXPECT_EQ(cusolverDnDgesvdjBatched_bufferSize(h, CUSOLVER_EIG_MODE_VECTOR, 33, 8, nullptr, 33,
                                                nullptr, nullptr, 33, nullptr, 8, &lwork, prm, 1),
            CUSOLVER_STATUS_INVALID_VALUE);
  EXPECT_EQ(cusolverDnDgesvdjBatched_bufferSize(h, CUSOLVER_EIG_MODE_VECTOR, 8, 8, nullptr, 4,
                                                nullptr, nullptr, 8, nullptr, 8, &lwork, prm, 1),
            CUSOLVER_STATUS_INVALID_VALUE);
  ASSERT_EQ(cusolverDnDgesvdjBatched_bufferSize(h, CUSOLVER_EIG_MODE_VECTOR, 8, 8, nullptr, 8,
                                                nullptr, nullptr, 8, nullptr, 8, &lwork, prm, 2),
            CUSOLVER_STATUS_SUCCESS);
  double *A, *S, *U, *V, *work;
  int *info;
  ASSERT_EQ(cudaMalloc((void **)&A, 2 * 64 * sizeof(double)), cudaSuccess);
  ASSERT_EQ(cudaMalloc((void **)&S, 2 * 8 * sizeof(double)), cudaSuccess);
  ASSERT_EQ(cudaMalloc((void **)&U, 2 * 64 * sizeof(double)), cudaSuccess);
  ASSERT_EQ(cudaMalloc((void **)&V, 2 * 64 * sizeof(double)), cudaSuccess);
  ASSERT_EQ(cudaMalloc((void **)&work, (size_t)lwork * sizeof(double)), cudaSuccess);
  ASSERT_EQ(cudaMalloc((void **)&info, 2 * sizeof(int)), cudaSuccess);
  std::vector<double> host(128, 1.0);
  for (int i = 0; i < 128; i++) host[i] = std::sin(1.0 + i);
  ASSERT_EQ(cudaMemcpy(A, host.data(), 128 * sizeof(double), cudaMemcpyHostToDevice), cudaSuccess);
  EXPECT_EQ(cusolverDnDgesvdjBatched(h, CUSOLVER_EIG_MODE_VECTOR, 8, 8, A, 8, S, U, 8, V, 8, work,
                                     lwork - 1, info, prm, 2),
            CUSOLVER_STATUS_INVALID_VALUE);
  EXPECT_EQ(cusolverDnDgesvdjBatched(h, CUSOLVER_EIG_MODE_VECTOR, 8, 8, host.data(), 8, S, U, 8, V,
                                     8, work, lwork, info, prm, 2),
            CUSOLVER_STATUS_INVALID_VALUE);
  EXPECT_EQ(cusolverDnDgesvdjBatched(h, CUSOLVER_EIG_MODE_VECTOR, 8, 8, A, 8, S, U, 8, V, 8, work,
                                     lwork, info, prm, 2),
            CUSOLVER_STATUS_SUCCESS);
  int hi[2];
  ASSERT_EQ(cudaMemcpy(hi, info, sizeof hi, cudaMemcpyDeviceToHost), cudaSuccess);
  EXPECT_EQ(hi[0], 0);
  EXPECT_EQ(hi[1], 0);
  for (void *q : {(void *)A, (void *)S, (void *)U, (void *)V, (void *)work, (void *)info})
    cudaFree(q);
  cusolverDnDestroyGesvdjInfo(prm);
  cusolverDnDestroy(h);
  cudaGetLastError();
#endif
}

}  // namespace

namespace {

// Stage 7 on the device (issue 19): the same steps as the CPU's from the same gradients, to
// rounding (1e-13; the kernel and the CPU run blorc_step_entry, a GPU may contract it into
// FMAs), and the non-finite guard leaves the device's W as it was.
TEST(GpuDefects, StepOnTheDeviceMatchesTheCpu) {
  NEED_GPU();
  const int n = 16, k = 24, B = 4;
  prob::Problem p = prob::make(88, n, k, B, 0.5);
  lib::Run cpu(n, k, B), gpu(n, k, B, BLORC_DEVICE_CUDA);
  ref::Rand r(3);
  for (lib::Run *run : {&cpu, &gpu}) {
    run->set_W(p.W);
    run->set_data(p.X, p.Y);
  }
  blorc_error e{};
  for (int t = 1; t <= 4; t++) {
    lib::Vec G = ref::random_matrix(r, k, n, 0.1);
    blorc_step_opts o = {t > 1, 0.05, 0.9, 0.999, 1e-8, t - 1};
    for (lib::Run *run : {&cpu, &gpu}) {
      ASSERT_EQ(blorc_write(run->get(), BLORC_BUF_GRAD, G.data(), G.size(), &e), BLORC_OK);
      ASSERT_EQ(blorc_step(run->get(), &o, &e), BLORC_OK) << e.msg;
    }
    EXPECT_LE(ref::rel_diff(gpu.read(BLORC_BUF_W), cpu.read(BLORC_BUF_W)), 1e-13) << "step " << t;
    EXPECT_LE(ref::rel_diff(gpu.read(BLORC_BUF_ADAM_V), cpu.read(BLORC_BUF_ADAM_V)), 1e-13);
  }
  lib::Vec before = gpu.read(BLORC_BUF_W), G(before.size(), 0.0);
  G[5 * n + 7] = 1e308;
  blorc_step_opts o = {0, 10, 0.9, 0.999, 1e-8, 1};
  ASSERT_EQ(blorc_write(gpu.get(), BLORC_BUF_GRAD, G.data(), G.size(), &e), BLORC_OK);
  EXPECT_EQ(blorc_step(gpu.get(), &o, &e), BLORC_ENUMERIC);
  EXPECT_TRUE(contains(e.msg, "non-finite entry (5, 7)")) << e.msg;
  EXPECT_EQ(gpu.read(BLORC_BUF_W), before);
}

// Training keeps W on the device between log points: the host-device copies of k x n doubles
// (W, G or Adam's moments) of a 2-epoch run do not grow with the number of minibatches (5 or
// 10 per epoch), and there are some (the log points: W and the moments written at the start, W
// read at each epoch's end, the moments at each checkpoint: 3 + 2 + 4 = 9 here).
TEST(GpuDefects, TrainingMovesNoWPerMinibatch) {
  NEED_EMULATOR("copy counters");
#ifdef BLORC_CUDA_EMU
  long long copies[2];
  for (int run = 0; run < 2; run++) {
    blorc_config c;
    blorc_config_defaults(&c);
    c.n = 16, c.val = 10, c.batch = 20, c.epochs = 2, c.train = run ? 200 : 100;
    c.checkpoint_every = 1;
    std::strcpy(c.init, "tv"); /* k = 15: W has 240 entries, no batch buffer does */
    std::strcpy(c.device, "cuda");
    std::string dir = std::string(BLORC_TEST_TMPDIR) + "/gpu_copies_" + std::to_string(run);
    blorc_emu::watch_copies((size_t)15 * 16 * sizeof(double));
    long long before = blorc_emu::counters().watched;
    blorc_error e{};
    ASSERT_EQ(blorc_train(&c, dir.c_str(), 0, 1, nullptr, nullptr, &e), BLORC_OK) << e.msg;
    copies[run] = blorc_emu::counters().watched - before;
    blorc_emu::watch_copies(0);
  }
  std::printf(
      "[ copies ] k n doubles between host and device: %lld with 5 minibatches per epoch, "
      "%lld with 10\n",
      copies[0], copies[1]);
  EXPECT_EQ(copies[0], 9);
  EXPECT_EQ(copies[1], 9);
#endif
}

// The epoch's order is drawn and applied on the device, and the minibatch counts the log
// needs are formed there: no minibatch's indices cross from the host (host-to-device copies
// of batch = 24 indices, 192 bytes; the validation's 10 are 80), and no x, x* or pattern
// crosses back (copies of 24 x 16 doubles, 3072 bytes: x, x* and, with k = n = 16, the
// patterns). Selecting by host indices, as MPI ranks do, copies one per minibatch (10 or 20
// here, checked), reading the batch's x another; what remains are the fast path's two arrays of
// 24 pointers for geqrfBatched, written once.
TEST(GpuDefects, TrainingMovesNoBatchDataPerMinibatch) {
  NEED_EMULATOR("copy counters");
#ifdef BLORC_CUDA_EMU
  for (int train : {120, 240}) {
    for (int what = 0; what < 2; what++) {
      blorc_config c;
      blorc_config_defaults(&c);
      c.n = 16, c.val = 10, c.batch = 24, c.epochs = 2, c.train = train;
      std::strcpy(c.device, "cuda");
      std::string dir = std::string(BLORC_TEST_TMPDIR) + "/gpu_batch_copies_" +
                        std::to_string(train) + "_" + std::to_string(what);
      blorc_emu::watch_copies((size_t)c.batch * (what ? c.n * sizeof(double) : sizeof(size_t)));
      blorc_emu::Counters before = blorc_emu::counters();
      blorc_error e{};
      ASSERT_EQ(blorc_train(&c, dir.c_str(), 0, 1, nullptr, nullptr, &e), BLORC_OK) << e.msg;
      blorc_emu::Counters after = blorc_emu::counters();
      if (what == 0)
        EXPECT_EQ(after.watched_h2d - before.watched_h2d, 2) << train << " signals: indices";
      else
        EXPECT_EQ(after.watched - before.watched, 0) << train << " signals: x, x*, patterns";
      blorc_emu::watch_copies(0);
    }
  }
#endif
}

}  // namespace
