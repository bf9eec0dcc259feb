/* The forward operator A on the CPU (design.md section 7): its buffers, y -> A^T y at batch
 * selection, products with A and B = A^T A + ridge I, the per-sample factor of B + rho W^T W
 * for masks, and the closed form's solve x = M v with M = N C^{-1} N^T, from one pivoted QR
 * of A N (stacked over sqrt(ridge) I) per sample, never by forming C. */
#include <lapacke.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu_backend.h"

_Static_assert(sizeof(lapack_int) == sizeof(int), "dgeqp3 pivots are stored as int");

void cpu_op_free(cpu_state *c) {
  double **bufs[] = {&c->At, &c->Bop, &c->Mall, &c->Mk, &c->Ym, &c->Ry,        &c->Hy,
                     &c->GA, &c->WtW, &c->Lj,   &c->Kj, &c->Qj, &c->opscratch, &c->Mv};
  for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) {
    free(*bufs[i]);
    *bufs[i] = NULL;
  }
  free(c->jpvt);
  c->jpvt = NULL;
}

static double *zalloc(size_t count, int *ok) {
  double *p = calloc(count ? count : 1, sizeof(double));
  if (!p) *ok = 0;
  return p;
}

blorc_status cpu_set_operator(blorc_backend *b, blorc_operator_kind kind, int m, const double *A,
                              double ridge, blorc_error *err) {
  cpu_state *c = cpu_of(b);
  size_t n = (size_t)b->n, k = (size_t)b->k, cap = (size_t)b->cap;
  cpu_op_free(c);
  free(c->Xall), free(c->Yall), free(c->Zall), free(c->Lall);
  c->Xall = c->Yall = c->Zall = c->Lall = NULL;
  c->op = kind;
  if (kind == BLORC_OP_IDENTITY) return BLORC_OK;
  int ok = 1;
  size_t mm = (size_t)m;
  c->Ym = zalloc(mm * cap, &ok);
  c->Hy = zalloc(mm * cap, &ok);
  /* Per thread: the full QR of V_r (n x n, n scalars), A N over sqrt(ridge) I ((m + n) x n),
   * its n scalars, and four n-vectors. */
  c->opscratch_per_thread = (n * n + n + (mm + n) * n + n + 4 * n + mm + 7) & ~(size_t)7;
  /* Cache-line aligned like the SVD scratch (backend_cpu.c): BLAS kernels that round by
   * alignment then see every thread's slice alike, from run to run. */
  c->opscratch = aligned_alloc(64, c->opscratch_per_thread * (size_t)c->nthreads * sizeof(double));
  if (!c->opscratch) ok = 0;
  c->jpvt = calloc(n * (size_t)c->nthreads, sizeof *c->jpvt);
  if (!c->jpvt) ok = 0;
  if (kind == BLORC_OP_MATRIX) {
    c->At = zalloc(mm * n, &ok);
    c->Ry = zalloc(mm * cap, &ok);
    c->Bop = zalloc(n * n, &ok);
    c->GA = zalloc(mm * n, &ok);
    if (ok) {
      /* A row-major m x n is A^T column-major n x m. */
      memcpy(c->At, A, mm * n * sizeof(double));
      cblas_dgemm(CblasColMajor, CblasNoTrans, CblasTrans, (int)n, (int)n, m, 1.0, c->At, (int)n,
                  c->At, (int)n, 0.0, c->Bop, (int)n);
      for (size_t i = 0; i < n; i++) c->Bop[i * n + i] += ridge;
      /* ||A||_2 from the largest eigenvalue of A^T A: the scale of C's pivots. */
      double *tmp = malloc(n * n * sizeof(double)), *ev = malloc(n * sizeof(double));
      double top = 0;
      if (tmp && ev) {
        memcpy(tmp, c->Bop, n * n * sizeof(double));
        if (LAPACKE_dsyev(LAPACK_COL_MAJOR, 'N', 'L', (int)n, tmp, (int)n, ev) == 0)
          top = ev[n - 1];
      } else {
        ok = 0;
      }
      free(tmp), free(ev);
      c->anorm = sqrt(fmax(top, 0.0));
    }
  } else {
    c->Mk = zalloc(n * cap, &ok);
    c->WtW = zalloc(n * n, &ok);
    c->Lj = zalloc(n * n * cap, &ok);
    c->Kj = zalloc(n * k * cap, &ok);
    c->Qj = zalloc(k * k * cap, &ok);
    c->anorm = sqrt(1.0 + ridge);
  }
  c->Mv = zalloc(n * cap, &ok); /* B x* for the certificate */
  if (!ok) {
    cpu_op_free(c);
    c->op = BLORC_OP_IDENTITY;
    return blorc_fail(err, BLORC_ENOMEM,
                      "out of host memory for the %s operator (m=%d n=%d k=%d batch=%d)",
                      kind == BLORC_OP_MATRIX ? "matrix" : "mask", m, b->n, b->k, b->cap);
  }
  c->ridge = ridge;
  return BLORC_OK;
}

blorc_status cpu_set_masks(blorc_backend *b, const double *masks, blorc_error *err) {
  cpu_state *c = cpu_of(b);
  size_t count = b->N * (size_t)b->n;
  double *mk = malloc(count * sizeof(double));
  if (!mk) return blorc_fail(err, BLORC_ENOMEM, "out of host memory for %zu masks", b->N);
  memcpy(mk, masks, count * sizeof(double));
  free(c->Mall);
  c->Mall = mk;
  return BLORC_OK;
}

void cpu_op_select(blorc_backend *b) {
  cpu_state *c = cpu_of(b);
  int n = b->n, m = b->m, B = b->B;
  for (int j = 0; j < B; j++)
    memcpy(c->Ym + (size_t)j * m, c->Yall + c->idx[j] * (size_t)m, (size_t)m * sizeof(double));
  if (c->op == BLORC_OP_MATRIX) {
    cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, n, B, m, 1.0, c->At, n, c->Ym, m, 0.0,
                c->Y, n);
    return;
  }
  for (int j = 0; j < B; j++) {
    double *mk = c->Mk + (size_t)j * n;
    memcpy(mk, c->Mall + c->idx[j] * (size_t)n, (size_t)n * sizeof(double));
    for (int i = 0; i < n; i++) c->Y[(size_t)j * n + i] = mk[i] * c->Ym[(size_t)j * m + i];
  }
}

void cpu_op_normal(const cpu_state *c, int n, int j, const double *x, double *out) {
  if (c->op == BLORC_OP_MATRIX) {
    cblas_dsymv(CblasColMajor, CblasLower, n, 1.0, c->Bop, n, x, 1, 0.0, out, 1);
    return;
  }
  const double *mk = c->Mk + (size_t)j * n;
  for (int i = 0; i < n; i++) out[i] = (mk[i] + c->ridge) * x[i];
}

void cpu_op_apply_batch(const cpu_state *c, int n, int m, int B, const double *X, double *out) {
  if (c->op == BLORC_OP_MATRIX) {
    cblas_dgemm(CblasColMajor, CblasTrans, CblasNoTrans, m, B, n, 1.0, c->At, n, X, n, 0.0, out, m);
    return;
  }
  for (size_t i = 0; i < (size_t)n * B; i++) out[i] = c->Mk[i] * X[i];
}

blorc_status cpu_op_factor(blorc_backend *b, blorc_error *err) {
  cpu_state *c = cpu_of(b);
  int n = b->n;
  double rho = b->rho;
  if (c->op == BLORC_OP_MATRIX) {
    /* L = chol(A^T A + ridge I + rho W^T W); K, Q as for denoising (factor.c). */
    memcpy(c->L, c->Bop, (size_t)n * n * sizeof(double));
    cblas_dsyrk(CblasColMajor, CblasLower, CblasNoTrans, n, b->k, rho, c->W, n, 1.0, c->L, n);
    return BLORC_OK;
  }
  /* Masks: the shared part; each sample's factor is made when its batch runs ADMM. */
  cblas_dsyrk(CblasColMajor, CblasLower, CblasNoTrans, n, b->k, rho, c->W, n, 0.0, c->WtW, n);
  (void)err;
  return BLORC_OK;
}

/* K_rho's Cholesky with the singular case named: null(A) and null(W) meet. A pivot below
 * 1e-13 of the largest diagonal entry counts as singular, not only a failed dpotrf. */
blorc_status cpu_op_cholesky(double *L, int n, const char *who, blorc_error *err) {
  double dmax = 0;
  for (int i = 0; i < n; i++) dmax = fmax(dmax, L[(size_t)i * n + i]);
  for (int j = 0; j < n; j++)
    for (int i = j; i < n; i++)
      if (!isfinite(L[(size_t)j * n + i]))
        return blorc_fail(err, BLORC_ENUMERIC, "factor%s: A^T A + rho W^T W overflows", who);
  lapack_int info = LAPACKE_dpotrf(LAPACK_COL_MAJOR, 'L', n, L, n);
  int singular = info > 0;
  for (int i = 0; !singular && i < n; i++)
    singular = L[(size_t)i * n + i] * L[(size_t)i * n + i] <= 1e-13 * dmax;
  if (singular)
    return blorc_fail(err, BLORC_EINVAL,
                      "factor%s: A^T A + rho W^T W is singular: null(A) and null(W) meet "
                      "(operator.ridge > 0 makes it definite)",
                      who);
  if (info != 0) return blorc_fail(err, BLORC_ENUMERIC, "factor%s: dpotrf info %d", who, (int)info);
  return BLORC_OK;
}

blorc_status cpu_op_factor_batch(blorc_backend *b, blorc_error *err) {
  cpu_state *c = cpu_of(b);
  int n = b->n, k = b->k, B = b->B;
  double rho = b->rho;
  int bad = -1;
  blorc_error first;
  blorc_error_clear(&first);
#pragma omp parallel for schedule(static) num_threads(c->nthreads)
  for (int j = 0; j < B; j++) {
    double *L = c->Lj + (size_t)j * n * n, *K = c->Kj + (size_t)j * n * k;
    memcpy(L, c->WtW, (size_t)n * n * sizeof(double));
    for (int i = 0; i < n; i++) L[(size_t)i * n + i] += c->Mk[(size_t)j * n + i] + c->ridge;
    char who[96];
    snprintf(who, sizeof who, " (batch sample %d, data-set signal %zu)", j, c->idx[j]);
    blorc_error e;
    if (cpu_op_cholesky(L, n, who, &e) != BLORC_OK) {
#pragma omp critical
      if (bad < 0 || j < bad) bad = j, first = e;
      continue;
    }
    for (size_t i = 0; i < (size_t)n * k; i++) K[i] = rho * c->W[i];
    LAPACKE_dpotrs(LAPACK_COL_MAJOR, 'L', n, k, L, n, K, n);
    cblas_dgemm(CblasColMajor, CblasTrans, CblasNoTrans, k, k, n, 1.0, c->W, n, K, n, 0.0,
                c->Qj + (size_t)j * k * k, k);
    double *C = c->C + (size_t)j * n;
    memcpy(C, c->Y + (size_t)j * n, (size_t)n * sizeof(double));
    LAPACKE_dpotrs(LAPACK_COL_MAJOR, 'L', n, 1, L, n, C, n);
  }
  if (bad >= 0) {
    if (err) *err = first;
    return first.code;
  }
  return BLORC_OK;
}

int cpu_op_prepare(const cpu_state *c, int n, int m, int j, int r, const double *Vr,
                   cpu_op_work *w) {
  double *Q = c->opscratch + c->opscratch_per_thread * (size_t)omp_get_thread_num();
  w->N = Q;
  w->tau = Q + (size_t)n * n;
  w->R = w->tau + n;
  w->rtau = w->R + (size_t)(m + n) * n;
  w->t = w->rtau + n;
  w->u = w->t + n;
  w->v = w->u + n;
  w->x = w->v + n; /* n, then m more */
  w->jpvt = c->jpvt + (size_t)n * omp_get_thread_num();
  int p = n - r;
  w->p = p;
  /* N: the trailing n - r columns of the full Q of V_r = Q R. */
  memcpy(Q, Vr, (size_t)n * r * sizeof(double));
  /* dorgqr overwrites the trailing columns, but LAPACKE's NaN check reads them first: stale or
   * uninitialised scratch must not decide the result. */
  memset(Q + (size_t)n * r, 0, (size_t)n * (n - r) * sizeof(double));
  if (r > 0) LAPACKE_dgeqrf(LAPACK_COL_MAJOR, n, r, Q, n, w->tau);
  LAPACKE_dorgqr(LAPACK_COL_MAJOR, n, n, r, Q, n, w->tau);
  w->N = Q + (size_t)n * r;
  if (p == 0) return 1; /* x* = 0: M = 0 */
  /* R: A N (rows of N kept by the mask, or the m x p product), over sqrt(ridge) I_p. */
  int rows = (c->op == BLORC_OP_MATRIX ? m : n) + (c->ridge > 0 ? p : 0);
  w->ld = rows;
  if (rows < p) return 0;
  if (c->op == BLORC_OP_MATRIX) {
    cblas_dgemm(CblasColMajor, CblasTrans, CblasNoTrans, m, p, n, 1.0, c->At, n, w->N, n, 0.0, w->R,
                rows);
  } else {
    const double *mk = c->Mk + (size_t)j * n;
    for (int col = 0; col < p; col++)
      for (int i = 0; i < n; i++) w->R[(size_t)col * rows + i] = mk[i] * w->N[(size_t)col * n + i];
  }
  if (c->ridge > 0) {
    int top = rows - p;
    double sr = sqrt(c->ridge);
    for (int col = 0; col < p; col++)
      for (int i = 0; i < p; i++) w->R[(size_t)col * rows + top + i] = i == col ? sr : 0.0;
  }
  for (int i = 0; i < p; i++) w->jpvt[i] = 0;
  lapack_int *jp = (lapack_int *)w->jpvt;
  if (LAPACKE_dgeqp3(LAPACK_COL_MAJOR, rows, p, w->R, rows, jp, w->rtau) != 0) return 0;
  /* Column pivoting orders |R_ii| decreasingly: the last pivot decides uniqueness. */
  double last = fabs(w->R[(size_t)(p - 1) * rows + (p - 1)]);
  return last > 1e-10 * (c->anorm > 0 ? c->anorm : 1.0);
}

void cpu_op_solve(const cpu_op_work *w, int n, const double *v, double *out) {
  int p = w->p, ld = w->ld;
  if (p == 0) {
    memset(out, 0, (size_t)n * sizeof(double));
    return;
  }
  /* C = P R^T R P^T: out = N P R^{-1} R^{-T} P^T N^T v. */
  cblas_dgemv(CblasColMajor, CblasTrans, n, p, 1.0, w->N, n, v, 1, 0.0, w->t, 1);
  for (int i = 0; i < p; i++) w->u[i] = w->t[w->jpvt[i] - 1];
  cblas_dtrsv(CblasColMajor, CblasUpper, CblasTrans, CblasNonUnit, p, w->R, ld, w->u, 1);
  cblas_dtrsv(CblasColMajor, CblasUpper, CblasNoTrans, CblasNonUnit, p, w->R, ld, w->u, 1);
  for (int i = 0; i < p; i++) w->t[w->jpvt[i] - 1] = w->u[i];
  cblas_dgemv(CblasColMajor, CblasNoTrans, n, p, 1.0, w->N, n, w->t, 1, 0.0, out, 1);
}
