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
  size_t *idx;         /* cap: data-set index of each batch column */
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
  /* certificate and polish (certify.c) */
  double *Dcur, *Ac, *Vx;  /* k x cap: the polish's dual, the certificate's, W x* */
  double *Tk, *Tb;         /* k x cap scratch */
  double *Rn, *Wr;         /* n x cap scratch */
  double *cert;            /* BLORC_CERT_COLUMNS x cap */
  double *rn;              /* k: row norms of W */
  int *redo;               /* cap: stage 4 again for this sample (b->svd_partial) */
  int partial;             /* the running stage 4 skips samples without redo */
  double *scratch;         /* per-thread scratch for the SVD stage */
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
} cpu_state;

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
blorc_status cpu_gradient(blorc_backend *b, double *loss, blorc_error *err);

#endif
