/* The stages of one BLORC minibatch (design.md section 5) behind a backend: the CPU
 * fallback (OpenMP + OpenBLAS/LAPACKE) or, in a CUDA build, the GPU. Callers see one API;
 * each backend keeps the data set, W, the per-sample warm-start state and every
 * intermediate in its own memory (host or device).
 *
 * Layout: everything is sample-major, as in the .npy files users hold: a batch of B signals
 * of length n is B x n row-major (equivalently n x B column-major, one column a sample);
 * W is k x n row-major. */
#ifndef BLORC_BACKEND_H
#define BLORC_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "blorc/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum blorc_device { BLORC_DEVICE_CPU = 0, BLORC_DEVICE_CUDA = 1 } blorc_device;

typedef struct blorc_admm_opts {
  int max_iters;   /* iteration cap per sample, >= 0 */
  double tol;      /* stop a sample when ||Wx - z|| and rho ||W^T (z - z_prev)|| are both
                      <= tol * max(||y||, 1) */
  int fixed;       /* nonzero: every sample runs exactly max_iters (fair timing) */
  int check_every; /* residuals are evaluated every this many iterations, >= 1 */
  int variant;     /* CUDA only (the CPU ignores it): BLORC_ADMM_AUTO, _GEMM or _PERSISTENT */
} blorc_admm_opts;

/* CUDA ADMM implementations: one cuBLAS GEMM pair per iteration, or one persistent kernel
 * (a block per sample, W and K in shared memory, all iterations inside). AUTO takes the
 * persistent kernel where W and K fit in shared memory. */
enum { BLORC_ADMM_AUTO = 0, BLORC_ADMM_GEMM = 1, BLORC_ADMM_PERSISTENT = 2 };

/* Defaults: max_iters 2000, tol 1e-9, adaptive, residuals every iteration, variant AUTO. */
blorc_admm_opts blorc_admm_defaults(void);

typedef struct blorc_admm_stats {
  long long iters_total; /* sum over the batch of iterations used */
  int iters_max;         /* largest per-sample count */
  int at_cap;            /* samples that stopped at max_iters without converging */
  int variant;           /* CUDA: the implementation that ran (BLORC_ADMM_GEMM or _PERSISTENT;
                            AUTO decides by n and k alone, the same in fixed and adaptive
                            mode); 0 on the CPU */
} blorc_admm_stats;

/* What read/write can move between the caller and the backend. Sizes are in doubles. */
typedef enum blorc_buffer {
  BLORC_BUF_W,            /* k x n; read and write */
  BLORC_BUF_STATE_Z,      /* N x k warm-start z per data-set sample; read and write */
  BLORC_BUF_STATE_LAMBDA, /* N x k warm-start unscaled dual rho*u per sample; read, write */
  BLORC_BUF_X_ADMM,       /* B x n ADMM iterate x of the selected batch */
  BLORC_BUF_ITERS,        /* B ADMM iterations used per sample (integers as doubles) */
  BLORC_BUF_SIGN,         /* B x k thresholded sign pattern s, entries -1, 0, 1 */
  BLORC_BUF_SV,           /* B x min(k,n) singular values of W0m = diag(s == 0) W */
  BLORC_BUF_RANK,         /* B numerical ranks of W0m (integers as doubles) */
  BLORC_BUF_PN,           /* B x n x n null-space projectors P_N = I - V_r V_r^T */
  BLORC_BUF_XSTAR,        /* B x n closed-form x* = P_N (y - W^T s) */
  BLORC_BUF_A,            /* B x k a = (W0m^+)^T q */
  BLORC_BUF_B,            /* B x k b = (W0m^+)^T (x* - x) */
  BLORC_BUF_H,            /* B x n h = P_N (x* - x) */
  BLORC_BUF_LOSS,         /* B per-sample 1/2 ||x* - x||^2 */
  BLORC_BUF_GRAD,         /* k x n minibatch gradient of the mean loss */
  BLORC_BUF_CERT,         /* B x BLORC_CERT_COLUMNS certificate per sample (blorc/active_set.h) */
  BLORC_BUF_DUAL,         /* B x k certificate dual: on the zero rows, the dual of the closed
                             form nearest to the polish's (|a_i| <= 1 when certified) */
  BLORC_BUF_GRAD_Y,       /* B x m per-sample dU/dy = A h (the loss of that sample alone) */
  BLORC_BUF_GRAD_OP,      /* m x n dU/dA of the mean loss = mean of (y - A x*) h^T - (A h) x*^T;
                             a shared matrix operator only */
  BLORC_BUF_UNIQUE,       /* B: 1 where the lower level has a unique minimiser on the sample's
                             pattern (C = (A N)^T (A N) + ridge I nonsingular), else 0; such
                             samples get x* = ADMM's x and no gradient */
  BLORC_BUF_ADAM_M,       /* k x n Adam's first moments (blorc_step); read and write */
  BLORC_BUF_ADAM_V,       /* k x n Adam's second moments; read and write */
  BLORC_BUF_UPSTREAM,     /* B x n, write only: an upstream gradient gx = dL/dx* per sample of
                             the selected batch, in place of the loss's x* - x (see blorc_write):
                             stage 6 then gives the vector-Jacobian product of x*(W, y) */
  BLORC_BUF_STATE_SIGNS   /* N x k per data-set sample: its sign pattern at its last
                             blorc_batch_stats (2 where there was none yet); read and write */
} blorc_buffer;

typedef struct blorc_backend blorc_backend;

/* True when this build contains the CUDA backend and a device is visible. */
int blorc_cuda_available(void);

/* Makes device local_rank % (devices visible) current for the backends this thread creates
 * next, so that the data-parallel ranks of one node use its GPUs in turn; returns that device,
 * or -1 without CUDA or devices. */
int blorc_cuda_use_device(int local_rank);

/* Creates a backend for signals of length n, transforms with k rows and batches of at most
 * max_batch samples. W starts as zero. On error *out is NULL and err says why (BLORC_EDEVICE
 * when the device is absent or not built in, BLORC_ENOMEM naming the sizes). The caller
 * owns *out and frees it with blorc_backend_destroy. */
blorc_status blorc_backend_create(blorc_device device, int n, int k, int max_batch,
                                  blorc_backend **out, blorc_error *err);
void blorc_backend_destroy(blorc_backend *b);
const char *blorc_backend_name(const blorc_backend *b);

/* The forward operator of the lower level argmin_x 1/2||A x - y||^2 + ||W x||_1 (design.md
 * section 7). IDENTITY (the default): denoising, y has length n. MATRIX: one m x n matrix A
 * shared by every sample (compressed sensing, blur), y has length m. MASK: per-sample
 * inpainting, A_j = diag(mask_j) with the masks given by blorc_set_masks; y has length n
 * (its unobserved entries are ignored). */
typedef enum blorc_operator_kind {
  BLORC_OP_IDENTITY = 0,
  BLORC_OP_MATRIX = 1,
  BLORC_OP_MASK = 2
} blorc_operator_kind;

/* Sets the operator. A: m x n row-major (MATRIX only; NULL otherwise, and m = n for the other
 * kinds). ridge >= 0 adds ridge/2 ||x||^2 to the lower level (B = A^T A + ridge I), which
 * makes it unique where null(A) meets null(W0); IDENTITY takes ridge 0 only, so that it is the
 * denoising path bit for bit. Drops the data set (its y has the old length). The CUDA backend
 * has only IDENTITY so far (BLORC_EINVAL for the others). Non-finite A or a bad shape is
 * BLORC_EINVAL naming it. */
blorc_status blorc_set_operator(blorc_backend *b, blorc_operator_kind kind, int m, const double *A,
                                double ridge, blorc_error *err);

/* The length m of y under the current operator (n for IDENTITY and MASK). */
int blorc_operator_rows(const blorc_backend *b);

/* MASK operator: one mask per data-set signal, N x n row-major, entries 0 (missing) or 1
 * (observed); after blorc_set_data, which drops earlier masks. */
blorc_status blorc_set_masks(blorc_backend *b, const double *masks, blorc_error *err);

/* Copies the data set in: N signals, clean X (N x n, may be NULL when only denoising) and
 * noisy measurements Y (N x m, m = blorc_operator_rows). Resets the warm-start state to zero.
 * Non-finite values are rejected. */
blorc_status blorc_set_data(blorc_backend *b, size_t N, const double *X, const double *Y,
                            blorc_error *err);

/* Selects the next minibatch: B indices into the data set (1 <= B <= max_batch, each < N).
 * Gathers y, x and the warm-start state of those samples. */
blorc_status blorc_select(blorc_backend *b, const size_t *idx, int B, blorc_error *err);

/* An epoch's order drawn on the backend: the data set's first `count` samples (1 <= count
 * <= N) sorted by blorc_shuffle_key(seed, i), the order blorc_shuffle_order gives on the host
 * (the CUDA backend sorts on the device with Thrust: no index crosses from the host). It lasts
 * until the next shuffle or set_data. */
blorc_status blorc_shuffle(blorc_backend *b, uint64_t seed, size_t count, blorc_error *err);

/* Selects the minibatch at positions start .. start + B - 1 of the last shuffle's order, as
 * blorc_select with those indices would (start + B <= count). */
blorc_status blorc_select_shuffled(blorc_backend *b, size_t start, int B, blorc_error *err);

/* Stage 1: factors B + rho W^T W (Cholesky; B = I for denoising, A^T A + ridge I for an
 * operator, one factor per sample for masks) for the current W; rho > 0. BLORC_EINVAL when
 * it is singular: null(A) and null(W) meet (operator.ridge > 0 makes it definite). */
blorc_status blorc_factor(blorc_backend *b, double rho, blorc_error *err);

/* Stage 2: batched ADMM on the selected batch from its warm-start state; writes the state
 * back to the data set's per-sample store. stats may be NULL. Needs factor. */
blorc_status blorc_admm(blorc_backend *b, const blorc_admm_opts *opts, blorc_admm_stats *stats,
                        blorc_error *err);

/* Stage 3: thresholded sign pattern of W x (x from stage 2) with threshold gamma >= 0. */
blorc_status blorc_signs(blorc_backend *b, double gamma, blorc_error *err);

/* Stage 4: SVD of the masked W0m per sample; rank = #{sigma_i > rel_tol * sigma_1}. */
blorc_status blorc_svd(blorc_backend *b, double rel_tol, blorc_error *err);

/* How the CPU backend runs stage 4. AUTO (the default): when k <= n and W is well
 * conditioned (sigma_k / sigma_1 > max(1e3 rel_tol, 1e-6), so that every W0m has full row
 * rank by the rule above), the null space of each W0m is spanned by the null space of W and
 * the columns of W^+ at the rows with s != 0: one QR of W per minibatch and one QR of an
 * n x (n - k0) matrix per sample instead of an SVD each, when a flop estimate says that is
 * cheaper (many zero rows; not for a single pair with few). FAST takes it wherever it
 * applies, whatever the estimate. Otherwise, and always with FULL, one SVD per sample. Both
 * give the same rank, P_N, x*, a, b and h up to rounding; the singular values
 * (BLORC_BUF_SV) are then computed when read. The CUDA backend: FAST and AUTO take the same
 * fast path under the same guard (cuSOLVER geqrf/orgqr of W^T, cuBLAS geqrfBatched per
 * sample), AUTO by a flop estimate of it against the Jacobi kernel (to be replaced by measured
 * costs once a GPU has run it); FULL and GPU_JACOBI, and FAST or AUTO where the fast path does
 * not apply, run its one-sided Jacobi kernel (a block per sample); GPU_CUSOLVER runs cuSOLVER's
 * gesvdjBatched on the masked k x n W0m when k, n <= 32, and beyond that the eigenpairs of the
 * Gram matrices W0m^T W0m (syevBatched), leaving to the Jacobi kernel the samples whose rank
 * the eigenvalues cannot settle (counted by blorc_svd_fallbacks). All give the CPU's rank, and
 * its P_N, x*, a, b, h to rounding (the Gram path to about 1e-10 relative).
 * Returns BLORC_EINVAL for an unknown method, or a GPU variant on the CPU backend. */
typedef enum blorc_svd_method {
  BLORC_SVD_AUTO = 0,
  BLORC_SVD_FULL = 1,
  BLORC_SVD_FAST = 2,
  BLORC_SVD_GPU_JACOBI = 3,  /* CUDA only: the one-sided Jacobi kernel, a block per sample */
  BLORC_SVD_GPU_CUSOLVER = 4 /* CUDA only: cusolverDnDgesvdjBatched on the masked k x n W0m
                                (k, n <= 32, its limit), else the Gram path with fallback */
} blorc_svd_method;
blorc_status blorc_set_svd_method(blorc_backend *b, blorc_svd_method method, blorc_error *err);

/* The method named auto, full, fast, jacobi or cusolver (admm.svd_method, bench --svd) into
 * *out; returns 0, or -1 for another name (*out untouched). */
int blorc_svd_method_from_name(const char *name, blorc_svd_method *out);

/* What the last stage 4 ran: FULL or FAST on the CPU, GPU_JACOBI or GPU_CUSOLVER on CUDA
 * (AUTO before any stage 4). */
blorc_svd_method blorc_svd_method_used(const blorc_backend *b);

/* What training logs of a minibatch, counted on the backend so that no x, x* or pattern
 * crosses to the host: pattern entries that changed since the sample's previous visit
 * (BLORC_BUF_STATE_SIGNS, which then takes the new pattern; a first visit counts none),
 * samples whose closed-form x* disagrees with ADMM's x (blorc_closed_form_agrees with tol and
 * nearby), and samples without a unique lower-level minimiser. Needs closed_form. */
typedef struct blorc_batch_counts {
  long long sign_changes;
  int mismatch, not_unique;
} blorc_batch_counts;
blorc_status blorc_batch_stats(blorc_backend *b, double tol, double nearby, blorc_batch_counts *out,
                               blorc_error *err);

/* Samples that stage 4's Gram path (GPU_CUSOLVER beyond 32) handed to the Jacobi kernel since
 * the backend was created; 0 on the CPU backend. */
long long blorc_svd_fallbacks(const blorc_backend *b);

/* Stage 5: closed-form x*, and (when clean signals were given) a, b, h and the losses. With
 * an operator: x* = M q, M = N C^{-1} N^T by a pivoted QR of A N, and a, b from the residuals
 * q - B x*, g - B h (design.md section 7); samples where C is singular are marked in
 * BLORC_BUF_UNIQUE. */
blorc_status blorc_closed_form(blorc_backend *b, blorc_error *err);

/* Certificate and polish (after stage 5; design.md section 7). tol: the checks' tolerance
 * (blorc/active_set.h), max_rounds: active-set rounds at most (0: certificate only). */
typedef struct blorc_polish_opts {
  double tol;
  int max_rounds;
} blorc_polish_opts;

/* Defaults: tol 1e-6, max_rounds 64. */
blorc_polish_opts blorc_polish_defaults(void);

typedef struct blorc_polish_stats {
  int certified;          /* samples of the batch certified */
  int rounds;             /* active-set rounds run (each: stages 4 and 5 for the samples
                             still uncertified) */
  int rows_moved;         /* pattern entries the rounds changed */
  double min_dual_margin; /* smallest 1 - max|a_i| over certified samples (1 if none) */
  double min_sign_margin; /* smallest relative s_i W_i x* over certified samples (1 if none) */
} blorc_polish_stats;

/* Certifies the closed form of every sample (stationarity, |W_i x*| on the zero rows, signs
 * off them, a dual with |a_i| <= 1 on them), and while some sample fails and rounds are left,
 * runs one round of an active-set method on the lower level's dual for the failing samples
 * (blorc_polish_step: rows leave or join the zero set), then stages 4 and 5 again for them.
 * The starting dual is ADMM's. Afterwards BLORC_BUF_SIGN, x*, a, b, h and the losses are
 * those of the final patterns, BLORC_BUF_CERT says which samples are certified, and
 * blorc_gradient leaves the others out. Needs closed_form; stats may be NULL. */
blorc_status blorc_polish(blorc_backend *b, const blorc_polish_opts *opts,
                          blorc_polish_stats *stats, blorc_error *err);

/* Stage 6: minibatch gradient G = -(1/B)[(A + S) H^T + Bm X*^T] and mean loss (*loss may
 * be NULL). Needs clean signals. After blorc_polish, over the certified samples only (B is
 * their count; G = 0 and loss 0 when there is none). Samples without a unique minimiser are
 * left out; a batch with none is BLORC_EINVAL. With an operator also BLORC_BUF_GRAD_Y and,
 * for a shared matrix, BLORC_BUF_GRAD_OP. */
blorc_status blorc_gradient(blorc_backend *b, double *loss, blorc_error *err);

/* Stage 7: the W update on the backend, from the gradient of the last blorc_gradient (or one
 * written to BLORC_BUF_GRAD, as data-parallel training writes the ranks' sum): plain gradient
 * descent, or Adam with its moments kept in the backend (BLORC_BUF_ADAM_M, _V). Neither W nor
 * G crosses between host and device. */
typedef struct blorc_step_opts {
  int adam;                     /* 0: W <- W - lr G; 1: Adam, bias-corrected */
  double lr, beta1, beta2, eps; /* learning rate; Adam's decay rates and epsilon */
  long long t;                  /* Adam: the number of this step, from 1 */
} blorc_step_opts;

/* 1 - beta1^t and 1 - beta2^t: Adam's bias corrections of step t (1 for plain descent), as
 * both backends and the host optimiser compute them. */
double blorc_step_c1(const blorc_step_opts *o);
double blorc_step_c2(const blorc_step_opts *o);

/* Runs the step. A non-finite entry of the new W is BLORC_ENUMERIC naming it, and W is left
 * as it was (Adam's moments have advanced). Like writing W, it invalidates the factorisation
 * and the batch's later stages. BLORC_EINVAL without a gradient or with bad options. */
blorc_status blorc_step(blorc_backend *b, const blorc_step_opts *o, blorc_error *err);

/* Copies a buffer out to dst, which must hold `count` doubles, exactly the buffer's size
 * (see blorc_buffer); a wrong count or a stage not yet run is BLORC_EINVAL. */
blorc_status blorc_read(const blorc_backend *b, blorc_buffer which, double *dst, size_t count,
                        blorc_error *err);

/* Copies src into a writable buffer (W, STATE_Z, STATE_LAMBDA, GRAD, ADAM_M, ADAM_V, UPSTREAM);
 * count must match. GRAD: the gradient blorc_step takes (a sum over data-parallel ranks).
 * Writing W invalidates the factorisation and every later stage. UPSTREAM needs the closed
 * form (stage 5) of the selected batch: it replaces the residual x* - x by src for that batch
 * (until the next select) and runs stage 5 again with it, keeping a polish's certificate, so
 * that blorc_gradient returns -(1/used) times sum_j (dx*_j/dW)^T gx_j and BLORC_BUF_GRAD_Y the
 * rows (dx*_j/dy_j)^T gx_j (blorc/layer.h). Non-finite values are rejected. */
blorc_status blorc_write(blorc_backend *b, blorc_buffer which, const double *src, size_t count,
                         blorc_error *err);

/* Waits until every stage launched so far has finished (a no-op on the CPU). Stages may
 * return before the device is done; timing a stage needs this after it. */
blorc_status blorc_backend_sync(const blorc_backend *b, blorc_error *err);

/* Size in doubles of a buffer for the current data set and batch (0 when not available). */
size_t blorc_buffer_size(const blorc_backend *b, blorc_buffer which);

#ifdef __cplusplus
}
#endif
#endif
