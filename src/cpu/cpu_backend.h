/* Internal: state of the CPU backend and its stage functions, one file per stage. All
 * matrices are column-major; a batch is n x B (one column a sample). */
#ifndef BLORC_CPU_BACKEND_H
#define BLORC_CPU_BACKEND_H

#include <cblas.h>
#include <math.h>

#include "../backend_impl.h"

typedef struct cpu_state {
  /* data set and persistent warm-start state */
  double *Xall, *Yall; /* n x N (Xall NULL without clean signals) */
  double *Zall, *Lall; /* k x N: z and the unscaled dual lambda = rho u */
  double *Sall;        /* k x N: each sample's pattern at its last batch_stats (2: none) */
  size_t *idx;         /* cap: data-set index of each batch column */
  size_t *perm;        /* the last blorc_shuffle's order (shuffle.c), perm_cap long */
  size_t perm_cap;
  /* transform and factorisation (stage 1) */
  double *W; /* n x k: W^T column-major, i.e. W row-major */
  double *L; /* n x n Cholesky factor of I + rho W^T W (lower) */
  double *K; /* n x k: rho (I + rho W^T W)^{-1} W^T */
  double *Q; /* k x k: W K, so that W x = W C + Q (z - u) */
  /* batch (stage 2) */
  double *Y, *X;     /* n x cap */
  double *ynorm;     /* cap */
  double *Z, *U;     /* k x cap */
  double *C;         /* n x cap: (I + rho W^T W)^{-1} y */
  double *WC;        /* k x cap: W C */
  double *Xa;        /* n x cap: ADMM x */
  double *V, *D, *T; /* k x cap: W x; z change; z - u */
  double *R;         /* n x cap: W^T dz */
  double *r2;        /* cap: squared primal residual */
  int *iters, *pos;  /* cap: iterations per sample; active-set permutation */
  /* stages 3-5 */
  double *S;               /* k x cap signs */
  double *sv;              /* kn x cap singular values */
  double *Vs;              /* (n x kn) x cap: right singular vectors of W0m, columns */
  int *rank;               /* cap */
  double *Xs, *A, *Bv, *H; /* n, k, k, n x cap */
  double *Wq, *Wg;         /* n x cap: V_r S_r^-2 V_r^T q and the same of g */
  double *loss;            /* cap */
  double *G;               /* n x k gradient (G row-major k x n) */
  double *Am, *Av, *Wn;    /* n x k: Adam's moments and the step's new W (blorc_step) */
  /* certificate and polish (certify.c) */
  double *Dcur, *Ac, *Vx; /* k x cap: the polish's dual, the certificate's, W x* */
  double *Tk, *Tb;        /* k x cap scratch */
  double *Rn, *Wr;        /* n x cap scratch */
  double *cert;           /* BLORC_CERT_COLUMNS x cap */
  double *rn;             /* k: row norms of W */
  int *redo;              /* cap: stage 4 again for this sample (b->svd_partial) */
  int partial;            /* the running stage 4 skips samples without redo */
  double *scratch;        /* per-thread scratch for the SVD stage */
  size_t scratch_per_thread, svd_lwork, qr_lwork;
  /* stage 4's fast path (k <= n only; NULL otherwise): one QR of W^T per minibatch */
  /* After a fast stage 4 (b->svd_used == BLORC_SVD_FAST), Vs holds an orthonormal basis of
   * range(W0m^T), sv is unused and closed_form multiplies by Wpinv^T instead of W. */
  double *Wpinv;      /* n x k: W^+ = Q_k R^-T from W^T = Q R, so that W Wpinv = I_k */
  double *Wu;         /* n x n: Q; columns k.. span null(W) */
  double *Wtau;       /* k: the QR's reflector scalars */
  double *Wa, *Wwork; /* k x k R^-1; LAPACK workspace */
  size_t wqr_lwork;   /* Wwork's size: the larger of dgeqrf's and dorgqr's needs */
  int nthreads;
  /* forward operator (forward_op.c); NULL for the identity. Y then holds A^T y (n x cap). */
  blorc_operator_kind op;
  double ridge, anorm;  /* ridge; an upper bound on ||A||_2 over sqrt(ridge) I */
  double *At;           /* n x m: A^T column-major (A row-major as given), MATRIX */
  double *Bop;          /* n x n: A^T A + ridge I, MATRIX */
  double *Mall, *Mk;    /* n x N masks, n x cap gathered: MASK */
  double *Ym;           /* m x cap: the batch's measurements y */
  double *Ry, *Hy;      /* m x cap: y - A x* and A h (dU/dy) */
  double *GA;           /* n x m: dU/dA (row-major m x n) */
  double *WtW;          /* n x n: rho W^T W, MASK */
  double *Lj, *Kj, *Qj; /* MASK per sample: n x n factor, n x k K, k x k Q (ADMM) */
  double *Mv;           /* n x cap: B x* */
  double *opscratch;    /* per thread: the closed form's QR workspace */
  size_t opscratch_per_thread;
  int *jpvt; /* n per thread: dgeqp3's pivots */
  int *uniq; /* cap: the sample's C is nonsingular */
} cpu_state;

/* One sample's solve x = M v, M = N C^{-1} N^T (forward_op.c): N (n x p) and the pivoted QR
 * of A N in this thread's scratch. */
typedef struct cpu_op_work {
  double *N, *tau, *R, *rtau, *t, *u, *v, *x;
  int *jpvt;
  int p, ld;
} cpu_op_work;

static inline cpu_state *cpu_of(const blorc_backend *b) {
  return (cpu_state *)b->impl;
}

/* A stage's output checked before the next stage reads it: finite inputs can still overflow
 * (huge y or W), and a NaN must stop at the stage that made it. Returns BLORC_OK, or an
 * ENUMERIC error naming the stage, the quantity, the batch sample (column) and its data-set
 * signal. v is rows x B column-major. */
static inline blorc_status cpu_check_finite(const blorc_backend *b, const char *stage,
                                            const char *what, const double *v, size_t rows,
                                            blorc_error *err) {
  for (size_t i = 0; i < rows * (size_t)b->B; i++)
    if (!isfinite(v[i]))
      return blorc_fail(err, BLORC_ENUMERIC,
                        "%s: non-finite %s (entry %zu) for batch sample %zu, data-set signal %zu",
                        stage, what, i % rows, i / rows, cpu_of(b)->idx[i / rows]);
  return BLORC_OK;
}

blorc_status cpu_factor(blorc_backend *b, blorc_error *err);
blorc_status cpu_admm(blorc_backend *b, const blorc_admm_opts *opts, blorc_admm_stats *stats,
                      blorc_error *err);
blorc_status cpu_signs(blorc_backend *b, double gamma, blorc_error *err);
/* The minibatch's statistics for the training log (batch_stats.c). */
blorc_status cpu_batch_stats(blorc_backend *b, double tol, double nearby, blorc_batch_counts *out,
                             blorc_error *err);
/* Gathers the batch idx[0..B) (backend_cpu.c). */
blorc_status cpu_select(blorc_backend *b, const size_t *idx, blorc_error *err);
/* The epoch order and the batch from it (shuffle.c). */
blorc_status cpu_shuffle(blorc_backend *b, uint64_t seed, size_t count, blorc_error *err);
blorc_status cpu_select_shuffled(blorc_backend *b, size_t start, blorc_error *err);
blorc_status cpu_svd(blorc_backend *b, double rel_tol, blorc_error *err);
/* BLORC_BUF_SV: copied, or computed (values only) when stage 4 took the fast path. */
blorc_status cpu_read_singular_values(const blorc_backend *b, double *dst, blorc_error *err);
blorc_status cpu_closed_form(blorc_backend *b, blorc_error *err);
/* The closed form's helpers (closed_form.c), also used by the certificate: v <- P_N v and
 * w <- V_r S_r^-2 V_r^T v_original (sv NULL: V_r V_r^T v); out = mask0 .* (M^T w) with M = W
 * (fast: W^+). */
void cpu_project(int n, int r, const double *Vr, const double *sv, double *v, double *w,
                 double *coef);
void cpu_masked_w_times(const cpu_state *c, int fast, int n, int k, int B, const double *w,
                        double *out);
blorc_status cpu_certify(blorc_backend *b, double tol, int start, blorc_error *err);
blorc_status cpu_polish_step(blorc_backend *b, double tol, int from_admm, long long *moved,
                             blorc_error *err);
blorc_status cpu_step(blorc_backend *b, const blorc_step_opts *o, double c1, double c2, long *bad,
                      blorc_error *err);
blorc_status cpu_gradient(blorc_backend *b, double *loss, blorc_error *err);

/* forward_op.c */
blorc_status cpu_set_operator(blorc_backend *b, blorc_operator_kind kind, int m, const double *A,
                              double ridge, blorc_error *err);
blorc_status cpu_set_masks(blorc_backend *b, const double *masks, blorc_error *err);
void cpu_op_free(cpu_state *c);
/* Gathers the batch's y (and masks) and forms Y = A^T y. */
void cpu_op_select(blorc_backend *b);
/* out = B_j x for batch sample j (n-vectors). */
void cpu_op_normal(const cpu_state *c, int n, int j, const double *x, double *out);
/* out = A X for the batch (m x B from n x B). */
void cpu_op_apply_batch(const cpu_state *c, int n, int m, int B, const double *X, double *out);
/* Stage 1 with an operator: L = A^T A + ridge I + rho W^T W (MATRIX; then cpu_op_cholesky),
 * or the shared rho W^T W of the per-sample factors (MASK). */
blorc_status cpu_op_factor(blorc_backend *b, blorc_error *err);
/* In-place Cholesky of K_rho (n x n, lower) with singular K_rho an EINVAL naming the cause;
 * who is appended to "factor" in the message. */
blorc_status cpu_op_cholesky(double *L, int n, const char *who, blorc_error *err);
/* MASK: every batch sample's factor, K_j, Q_j and C_j = K_rho,j^{-1} A^T y_j. */
blorc_status cpu_op_factor_batch(blorc_backend *b, blorc_error *err);
/* N from V_r (rank r) and the QR of A N for batch sample j; returns 1 when C is nonsingular
 * (a unique minimiser on this pattern). Uses the calling thread's scratch. */
int cpu_op_prepare(const cpu_state *c, int n, int m, int j, int r, const double *Vr,
                   cpu_op_work *w);
/* out = M v after cpu_op_prepare returned 1. */
void cpu_op_solve(const cpu_op_work *w, int n, const double *v, double *out);

#endif
