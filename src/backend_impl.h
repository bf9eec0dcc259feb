/* Internal: the function-pointer table a backend implements, and the state the dispatcher
 * (backend.c) keeps for every backend: sizes, what has been run, argument checks. Backends
 * see arguments that are already validated. */
#ifndef BLORC_BACKEND_IMPL_H
#define BLORC_BACKEND_IMPL_H

#include "blorc/backend.h"

#ifdef __cplusplus
extern "C" {
#endif

/* How far the current batch has got; each stage needs the one before. */
typedef enum blorc_progress {
  BLORC_PROGRESS_NONE = 0,
  BLORC_PROGRESS_SELECTED,
  BLORC_PROGRESS_ADMM,
  BLORC_PROGRESS_SIGNS,
  BLORC_PROGRESS_SVD,
  BLORC_PROGRESS_CLOSED_FORM,
  BLORC_PROGRESS_CERTIFIED, /* blorc_polish ran: the gradient uses the certified samples */
  BLORC_PROGRESS_GRADIENT
} blorc_progress;

typedef struct blorc_backend_ops {
  const char *name;
  blorc_status (*init)(blorc_backend *b, blorc_error *err);
  void (*destroy)(blorc_backend *b);
  blorc_status (*set_data)(blorc_backend *b, const double *X, const double *Y, blorc_error *err);
  blorc_status (*select)(blorc_backend *b, const size_t *idx, blorc_error *err);
  blorc_status (*factor)(blorc_backend *b, blorc_error *err);
  blorc_status (*admm)(blorc_backend *b, const blorc_admm_opts *opts, blorc_admm_stats *stats,
                       blorc_error *err);
  blorc_status (*signs)(blorc_backend *b, double gamma, blorc_error *err);
  blorc_status (*svd)(blorc_backend *b, double rel_tol, blorc_error *err);
  blorc_status (*closed_form)(blorc_backend *b, blorc_error *err);
  /* The certificate of every sample into the CERT and DUAL buffers; start: the polish's dual
   * starts from ADMM's (blorc_polish_start), otherwise it is the one polish_step left. */
  blorc_status (*certify)(blorc_backend *b, double tol, int start, blorc_error *err);
  /* For every uncertified sample: blorc_polish_from_admm in the first round (from_admm), when
   * that changes its pattern, else blorc_polish_step. Marks the samples changed for the next
   * stage 4 (which then skips the others: b->svd_partial); adds the rows moved to *moved. */
  blorc_status (*polish_step)(blorc_backend *b, double tol, int from_admm, long long *moved,
                              blorc_error *err);
  blorc_status (*gradient)(blorc_backend *b, double *loss, blorc_error *err);
  /* Stage 7: W_new from W, G and (Adam) the moments, with c1, c2 the bias corrections; *bad
   * the first non-finite entry of W_new or -1; W takes W_new only when there is none. */
  blorc_status (*step)(blorc_backend *b, const blorc_step_opts *o, double c1, double c2, long *bad,
                       blorc_error *err);
  blorc_status (*read)(const blorc_backend *b, blorc_buffer which, double *dst, blorc_error *err);
  blorc_status (*write)(blorc_backend *b, blorc_buffer which, const double *src, blorc_error *err);
  /* Waits for the stages launched so far; NULL when there is nothing to wait for. */
  blorc_status (*sync)(const blorc_backend *b, blorc_error *err);
  /* The operator (b->op_kind, b->m, b->ridge are set when it returns BLORC_OK; the data set
   * is dropped). */
  blorc_status (*set_operator)(blorc_backend *b, blorc_operator_kind kind, int m, const double *A,
                               double ridge, blorc_error *err);
  /* Per-sample masks of the MASK operator, N x n, validated. */
  blorc_status (*set_masks)(blorc_backend *b, const double *masks, blorc_error *err);
  /* The order of the first count samples by blorc_shuffle_key(seed, i) into the backend's
   * permutation; then select_shuffled gathers b->B samples from its position start. */
  blorc_status (*shuffle)(blorc_backend *b, uint64_t seed, size_t count, blorc_error *err);
  blorc_status (*select_shuffled)(blorc_backend *b, size_t start, blorc_error *err);
  /* The batch's statistics (blorc_batch_stats), updating the per-sample pattern store. */
  blorc_status (*batch_stats)(blorc_backend *b, double tol, double nearby, blorc_batch_counts *out,
                              blorc_error *err);
} blorc_backend_ops;

struct blorc_backend {
  const blorc_backend_ops *ops;
  void *impl;                  /* the backend's own state */
  int n, k, cap;               /* signal length, rows of W, largest batch */
  int kn;                      /* min(k, n): singular values per sample */
  size_t N;                    /* data-set size (0 before set_data) */
  size_t shuffled;             /* samples in the last blorc_shuffle's order (0: none) */
  int has_clean;               /* set_data got clean signals */
  int B;                       /* current batch size */
  double rho;                  /* penalty of the current factorisation */
  int factored;                /* factor has run for the current W */
  blorc_svd_method svd_method; /* requested (blorc_set_svd_method) */
  blorc_svd_method svd_used;   /* set by the backend's stage 4: FULL or FAST on the CPU,
                                  GPU_JACOBI or GPU_CUSOLVER on CUDA */
  double svd_tol;              /* rel_tol of the last stage 4 */
  long long svd_fallbacks;     /* samples the GPU's Gram path left to the Jacobi kernel */
  int svd_partial;             /* stage 4 only for the samples polish_step marked */
  int polished;                /* blorc_polish ran on the current closed form */
  int certified;               /* then: samples certified (the gradient's B) */
  blorc_operator_kind op_kind; /* forward operator (IDENTITY unless set_operator) */
  int m;                       /* length of y: n unless op_kind is MATRIX */
  double ridge;                /* ridge/2 ||x||^2 in the lower level */
  int has_masks;               /* MASK: set_masks ran for the current data set */
  int grad_ready;              /* BLORC_BUF_GRAD holds a gradient for blorc_step */
  int upstream;                /* the batch's clean buffer holds an upstream gradient dL/dx*
                                  (BLORC_BUF_UPSTREAM) instead of clean signals */
  blorc_progress progress;
};

extern const blorc_backend_ops blorc_cpu_ops;
#ifdef BLORC_WITH_CUDA
extern const blorc_backend_ops blorc_cuda_ops;
#endif

/* The array a blorc_write of a writable buffer lands in, in either backend's state (cpu_state
 * and cuda_state name these fields alike): W, the upstream gradient (the batch's clean buffer),
 * G, Adam's moments, or the warm-start state (NULL before a data set). */
#define BLORC_WRITE_TARGET(c, which)              \
  ((which) == BLORC_BUF_W             ? (c)->W    \
   : (which) == BLORC_BUF_UPSTREAM    ? (c)->X    \
   : (which) == BLORC_BUF_GRAD        ? (c)->G    \
   : (which) == BLORC_BUF_STATE_SIGNS ? (c)->Sall \
   : (which) == BLORC_BUF_ADAM_M      ? (c)->Am   \
   : (which) == BLORC_BUF_ADAM_V      ? (c)->Av   \
   : (which) == BLORC_BUF_STATE_Z     ? (c)->Zall \
                                      : (c)->Lall)

/* What stage 5 takes as the residual g that h, b and the loss are formed from:
 * BLORC_RESIDUAL_NONE (no clean signals: x* and a only), _CLEAN (g = x* - x) or _UPSTREAM
 * (g = the batch's clean buffer itself: a vector-Jacobian product, blorc_write). */
enum { BLORC_RESIDUAL_NONE = 0, BLORC_RESIDUAL_CLEAN = 1, BLORC_RESIDUAL_UPSTREAM = 2 };
static inline int blorc_residual_mode(const blorc_backend *b) {
  return b->upstream ? BLORC_RESIDUAL_UPSTREAM : b->has_clean ? BLORC_RESIDUAL_CLEAN : 0;
}

/* P_N = I - V_r V_r^T for B samples (host): Vs holds per sample an n x kn column-major block
 * of right singular vectors, rank[j] of them in use; dst receives B x n x n. Both backends
 * report BLORC_BUF_PN through this one function. */
void blorc_projectors(int n, int kn, int B, const double *Vs, const int *rank, double *dst);

/* The singular values of each masked W0m = diag(s == 0) W (W: n x k column-major, S: k x B),
 * kn per sample, descending, zero-padded, by LAPACK dgesdd on the host: BLORC_BUF_SV after
 * stage 4's fast path, which never forms them (both backends). */
blorc_status blorc_masked_singular_values(int n, int k, int kn, int B, const double *W,
                                          const double *S, double *dst, blorc_error *err);

#ifdef __cplusplus
}
#endif
#endif
