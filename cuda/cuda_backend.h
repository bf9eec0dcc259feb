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
  double *Sall;         // k x N: each sample's pattern at its last batch_stats (2: none)
  int *bstat;           // 3 x cap: per sample pattern changes, mismatch, not unique
  size_t *idx;          // cap
  // the epoch's order (shuffle.cu): perm_cap indices and sort keys, Thrust's sort scratch
  size_t *perm;
  unsigned long long *pkeys;
  void *sort_scratch;
  size_t perm_cap, sort_scratch_bytes;
  // transform and factorisation
  double *W, *L, *K, *Q;  // n x k, n x n, n x k, k x k (Q = W K)
  // batch
  double *Y, *X, *ynorm, *Z, *U, *C, *WC, *Xa, *Xout, *V, *D, *T, *R, *r2;
  int *iters, *active;
  // stages 3-5
  double *S, *sv, *Vs, *Xs, *A, *Bv, *H, *Wq, *Wg, *loss, *G;
  double *Am, *Av, *Wn;  // n x k: Adam's moments and the step's new W (step.cu)
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
  // cuSOLVER's gesvdjBatched for stage 4 (BLORC_SVD_GPU_CUSOLVER; only when k, n <= 32): the
  // masked W0m (k x n, column-major, one per sample), S, U (k x k), V (n x n), info, workspace
  double *gj_A, *gj_S, *gj_U, *gj_V, *gj_work;
  int *gj_info;
  int gj_lwork;
  gesvdjInfo_t gj_params;
  // Stage 4's fast path (svd_fast.cu; k <= n, allocated at its first use): W^T's QR as the
  // n x n Q (its first k columns reflectors until orgqr), tau, R^-1 (k x k), W^+ (n x k), the
  // per-sample bases of null(W0m) (n x n each, QR'd in place) and their tau, the pointer arrays
  // geqrfBatched takes, the guard's value and the per-sample cost estimate (AUTO).
  double *fq_Q, *fq_tau, *fq_Rinv, *Wpinv, *fq_G, *fq_Gtau, *fq_work, *fq_guard, *fq_cost;
  double **fq_Gptr, **fq_Tptr;
  int fq_lwork;
  // Stage 4 by the Gram matrix (svd_gram.cu; GPU_CUSOLVER with k or n > 32, allocated at its
  // first use): W0m^T W0m per sample (n x n; its eigenvectors after syevBatched), the
  // eigenvalues (n each), workspaces, info, and per sample whether the Jacobi kernel redoes it.
  double *gr_G, *gr_L, *gr_work;
  void *gr_host;
  size_t gr_dbytes, gr_hbytes;
  int *gr_info, *gr_redo;
  cusolverDnParams_t gr_params;
  void *thrust_scratch;  // Thrust's temporary storage (kCudaThrustScratch bytes)
  // ADMM's stopping test without a host wait per check: the count of active columns is
  // copied to page-locked host memory behind an event, and read at the next check.
  int *active_count;       // device
  int *active_count_host;  // page-locked host
  cudaEvent_t active_ready;
  // forward operator (forward_op.cu): the identity, or one m x n matrix A shared by the batch.
  // Y then holds A^T y (n x cap); the data set's y (m x N) is gathered into Ym.
  blorc_operator_kind op;
  int m;
  double ridge, anorm;   // ridge; ||A^T A + ridge I||_2^(1/2), the scale of uniqueness tests
  double *At;            // n x m: A^T column-major (A row-major as given)
  double *Bop;           // n x n: A^T A + ridge I
  double *Ym, *Ry, *Hy;  // m x cap: y, w (y - A x*), A h (dU/dy)
  double *GA;            // n x m: dU/dA^T
  double *Mv;            // n x cap: B x*
  double *Fws;           // per sample (m + 2n) x n: the closed form's QR workspace
  int *uniq;             // cap: the sample's C is nonsingular
  double *wts;           // cap: the gradient's sample weights (unique, and certified)
  double *dmax;          // 1: the largest diagonal entry of K_rho before its Cholesky
  // per-sample masks (MASK): A_j = diag(mask_j), m = n
  double *Mall, *Mk;     // n x N masks of the data set; n x cap gathered
  double *Lj, *Kj, *Qj;  // per sample: n x n factor, n x k K, k x k Q (ADMM)
  int *bad;              // cap: the sample's K_rho is singular
};

// Thrust's temporary storage per reduction: CUB's reduce needs a few KB for a batch.
constexpr size_t kCudaThrustScratch = 1 << 20;
// gesvdjBatched's size limit (cuSOLVER: m, n <= 32).
constexpr int kCudaGesvdjMax = 32;
// The Jacobi SVD's sweep cap (BLORC_TEST_JACOBI_SWEEPS lowers it, for the test that it is
// reported): it converges quadratically, in 6-12 sweeps.
constexpr int kCudaJacobiSweeps = 40;

static inline cuda_state *cuda_of(const blorc_backend *b) {
  return (cuda_state *)b->impl;
}

// The minibatch's statistics for the training log (batch_stats.cu).
blorc_status cuda_batch_stats(blorc_backend *b, double tol, double nearby, blorc_batch_counts *out,
                              blorc_error *err);
// The data set's pattern store at "none yet" (2), at set_data (batch_stats.cu).
blorc_status cuda_reset_patterns(blorc_backend *b, blorc_error *err);
// Gathers the batch at the device indices c->idx[0..B) (backend_cuda.cu).
blorc_status cuda_gather(blorc_backend *b, blorc_error *err);
// The epoch's order sorted on the device, and the batch from a position of it (shuffle.cu).
blorc_status cuda_shuffle(blorc_backend *b, uint64_t seed, size_t count, blorc_error *err);
blorc_status cuda_select_shuffled(blorc_backend *b, size_t start, blorc_error *err);

// Stage functions (factor.cu ... gradient.cu).
blorc_status cuda_factor(blorc_backend *b, blorc_error *err);
blorc_status cuda_admm(blorc_backend *b, const blorc_admm_opts *o, blorc_admm_stats *st,
                       blorc_error *err);
blorc_status cuda_signs(blorc_backend *b, double gamma, blorc_error *err);
blorc_status cuda_svd(blorc_backend *b, double rel_tol, blorc_error *err);
// gesvdjBatched's arrays, workspace and parameters (svd.cu), at init when k, n <= 32.
blorc_status cuda_gesvdj_init(blorc_backend *b, blorc_error *err);
// The Jacobi kernel on the samples with flags[j] != 0 (all when flags is NULL); the error names
// the first that did not converge (svd.cu).
blorc_status cuda_svd_jacobi(blorc_backend *b, double rel_tol, const int *flags, blorc_error *err);
// Stage 4's fast path (svd_fast.cu): 1 when it ran, 0 when W is too ill conditioned for it (or
// AUTO's estimate prefers the Jacobi kernel) and nothing was changed.
blorc_status cuda_svd_fast(blorc_backend *b, double rel_tol, int *ran, blorc_error *err);
// Stage 4 by the Gram matrices and cuSOLVER's syevBatched, with the Jacobi kernel for the
// samples whose rank the eigenvalues cannot settle (svd_gram.cu).
blorc_status cuda_svd_gram(blorc_backend *b, double rel_tol, blorc_error *err);
// W (or W^+ after stage 4's fast path): what a and b are mapped through (svd_fast.cu).
const double *cuda_pinv_map(const blorc_backend *b);
// The singular values the closed form divides by, or NULL after the fast path (svd_fast.cu).
const double *cuda_singular_values(const blorc_backend *b);
blorc_status cuda_closed_form(blorc_backend *b, blorc_error *err);
blorc_status cuda_certify(blorc_backend *b, double tol, int start, blorc_error *err);
blorc_status cuda_polish_step(blorc_backend *b, double tol, int from_admm, long long *moved,
                              blorc_error *err);
blorc_status cuda_gradient(blorc_backend *b, double *loss, blorc_error *err);
blorc_status cuda_step(blorc_backend *b, const blorc_step_opts *o, double c1, double c2, long *bad,
                       blorc_error *err);

// cudaMalloc with a message naming the sizes when the device is out of memory
// (backend_cuda.cu).
blorc_status dev_alloc(const blorc_backend *b, void **p, size_t bytes, const char *what,
                       blorc_error *err);
// The forward operator (forward_op.cu).
blorc_status cuda_set_operator(blorc_backend *b, blorc_operator_kind kind, int m, const double *A,
                               double ridge, blorc_error *err);
// MASK: the data set's masks (N x n, validated by the dispatcher).
blorc_status cuda_set_masks(blorc_backend *b, const double *masks, blorc_error *err);
// MASK, at the start of ADMM: every sample's factor of diag(mask) + ridge I + rho W^T W (the
// shared rho W^T W is in L), K_j, Q_j, C_j and W C_j; a singular one is an EINVAL naming the
// first such sample.
blorc_status cuda_op_factor_batch(blorc_backend *b, blorc_error *err);
// After the gather: Y = A^T Ym and ||A^T y|| per column.
blorc_status cuda_op_select(blorc_backend *b, blorc_error *err);
// L = A^T A + ridge I + rho W^T W, Cholesky, singular K_rho an EINVAL naming the cause.
blorc_status cuda_op_factor(blorc_backend *b, blorc_error *err);
// Stage 5 with the operator: x*, h, the losses, Wq and Wg (then a and b as for denoising) and
// the uniqueness flags.
blorc_status cuda_op_closed_form(blorc_backend *b, blorc_error *err);
// Mv = B X (n x B).
blorc_status cuda_op_normal(cuda_state *c, int n, int B, const double *X, blorc_error *err);
// After the gradient's GEMMs: Hy = A H and, with weights w (cap), dU/dA into GA.
blorc_status cuda_op_gradient(blorc_backend *b, const double *w, double scale, blorc_error *err);

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
