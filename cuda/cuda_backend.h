// Internal: state of the CUDA backend and its stage functions, one .cu file per stage (the
// same names as src/cpu/). Column-major everywhere, a batch is n x B, as on the CPU. All
// device arrays live for the backend's lifetime; nothing is allocated per minibatch.
#ifndef BLORC_CUDA_BACKEND_H
#define BLORC_CUDA_BACKEND_H

#include <cublas_v2.h>
#include <cusolverDn.h>

#include "../src/backend_impl.h"
#include "check.h"

struct cuda_state {
  cudaStream_t stream;
  cublasHandle_t blas;
  cusolverDnHandle_t solver;
  int *info;           // device: cuSOLVER info
  double *potrf_work;  // device workspace for potrf
  int potrf_lwork;
  size_t smem_optin;  // largest dynamic shared memory a block may opt into
  // data set and persistent warm-start state
  double *Xall, *Yall;  // n x N
  double *Zall, *Lall;  // k x N
  size_t *idx;          // cap
  // transform and factorisation
  double *W, *L, *K, *Q;  // n x k, n x n, n x k, k x k (Q = W K)
  // batch
  double *Y, *X, *ynorm, *Z, *U, *C, *WC, *Xa, *Xout, *V, *D, *T, *R, *r2;
  int *iters, *active;
  // stages 3-5
  double *S, *sv, *Vs, *Xs, *A, *Bv, *H, *Wq, *Wg, *loss, *G;
  int *rank;
  // certificate and polish (certify.cu)
  double *Dcur, *Ac, *Vx, *Tk, *Tb;  // k x cap: the polish's dual, the certificate's, W x*, scratch
  double *Rn, *Wr;                   // n x cap scratch
  double *cert;                      // BLORC_CERT_COLUMNS x cap
  double *rn, *wloss;                // k row norms of W; cap weighted losses
  int *redo, *moved;                 // cap: stage 4 again (b->svd_partial); rows moved
  double *svd_work;                  // n x k per sample: the packed W0^T for the Jacobi SVD
  int *svd_failed;  // per sample: 1 when the Jacobi SVD did not converge within its cap
  int svd_max_sweeps;
  void *thrust_scratch;  // Thrust's temporary storage (kCudaThrustScratch bytes)
  // ADMM's stopping test without a host wait per check: the count of active columns is
  // copied to page-locked host memory behind an event, and read at the next check.
  int *active_count;       // device
  int *active_count_host;  // page-locked host
  cudaEvent_t active_ready;
};

// Thrust's temporary storage per reduction: CUB's reduce needs a few KB for a batch.
constexpr size_t kCudaThrustScratch = 1 << 20;
// The Jacobi SVD's sweep cap (BLORC_TEST_JACOBI_SWEEPS lowers it, for the test that it is
// reported): it converges quadratically, in 6-12 sweeps.
constexpr int kCudaJacobiSweeps = 40;

static inline cuda_state *cuda_of(const blorc_backend *b) {
  return (cuda_state *)b->impl;
}

// Stage functions (factor.cu ... gradient.cu).
blorc_status cuda_factor(blorc_backend *b, blorc_error *err);
blorc_status cuda_admm(blorc_backend *b, const blorc_admm_opts *o, blorc_admm_stats *st,
                       blorc_error *err);
blorc_status cuda_signs(blorc_backend *b, double gamma, blorc_error *err);
blorc_status cuda_svd(blorc_backend *b, double rel_tol, blorc_error *err);
blorc_status cuda_closed_form(blorc_backend *b, blorc_error *err);
blorc_status cuda_certify(blorc_backend *b, double tol, int start, blorc_error *err);
blorc_status cuda_polish_step(blorc_backend *b, double tol, int from_admm, long long *moved,
                              blorc_error *err);
blorc_status cuda_gradient(blorc_backend *b, double *loss, blorc_error *err);

// Thrust reductions of count device values (reduce.cu); what names the quantity in errors.
blorc_status cuda_sum(cuda_state *c, const int *v, int count, long long *out, const char *what,
                      blorc_error *err);
blorc_status cuda_max(cuda_state *c, const int *v, int count, int *out, const char *what,
                      blorc_error *err);
blorc_status cuda_sum(cuda_state *c, const double *v, int count, double *out, const char *what,
                      blorc_error *err);

// The ADMM variant a call with the requested one runs (AUTO: persistent where it fits).
int cuda_admm_variant(const cuda_state *c, int n, int k, int requested);
// Bytes of shared memory the persistent kernel needs for n and k (W is left out in fixed mode).
size_t cuda_admm_persistent_smem(int n, int k, int fixed);

// Blocks for a grid-stride kernel of 256 threads over len elements (at most 1024 blocks).
static inline unsigned cuda_grid_for(size_t len) {
  size_t b = (len + 255) / 256;
  return (unsigned)(b < 1 ? 1 : b > 1024 ? 1024 : b);
}

// Threads per block for kernels working on one sample of length up to len.
static inline int cuda_threads_for(int len) {
  int t = ((len + 31) / 32) * 32;
  return t < 64 ? 64 : t > 1024 ? 1024 : t;
}

#endif
