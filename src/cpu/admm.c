/* Stage 2: batched ADMM for argmin_x 1/2||x - y||^2 + ||W x||_1 on the selected batch, split
 * z = W x with scaled dual u (design.md section 2). The x-update x = C + K (z - u) is only
 * ever needed through W x, so each iteration computes W x = W C + Q (z - u) with Q = W K
 * (k x k, from stage 1): one GEMM of k x k x B instead of two of n x k x B, and x itself is
 * formed once per sample, when it stops. The per-element updates come from
 * blorc/elementwise.h. Each thread runs a contiguous range of samples through all its
 * iterations; converged samples are swapped behind the active ones so the GEMMs shrink as
 * samples finish. */
#include <lapacke.h>
#include <omp.h>
#include <string.h>

#include "blorc/elementwise.h"
#include "cpu_backend.h"

static void swap_cols(double *M, int rows, int a, int b) {
  if (a == b) return;
  double *x = M + (size_t)a * rows, *y = M + (size_t)b * rows;
  for (int i = 0; i < rows; i++) {
    double t = x[i];
    x[i] = y[i];
    y[i] = t;
  }
}

/* Puts the columns of M (rows x B, stored in active order pos) back into batch order. */
static void unpermute(double *M, double *tmp, int rows, int B, const int *pos) {
  for (int p = 0; p < B; p++)
    memcpy(tmp + (size_t)pos[p] * rows, M + (size_t)p * rows, (size_t)rows * sizeof(double));
  memcpy(M, tmp, (size_t)rows * B * sizeof(double));
}

/* x = C + K T for columns [from, from + count): the x whose W x the last iteration used. */
static void form_x(cpu_state *c, int n, int k, int from, int count) {
  if (count <= 0) return;
  memcpy(c->Xa + (size_t)from * n, c->C + (size_t)from * n, (size_t)n * count * sizeof(double));
  if (c->Kj) { /* per-sample operators: each column has its own K (by batch position) */
    for (int j = from; j < from + count; j++)
      cblas_dgemv(CblasColMajor, CblasNoTrans, n, k, 1.0, c->Kj + (size_t)c->pos[j] * n * k, n,
                  c->T + (size_t)j * k, 1, 1.0, c->Xa + (size_t)j * n, 1);
    return;
  }
  cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, n, count, k, 1.0, c->K, n,
              c->T + (size_t)from * k, k, 1.0, c->Xa + (size_t)from * n, n);
}

/* ADMM on the batch columns [lo, hi), by one thread with single-threaded BLAS: no barrier
 * between iterations, so a slow or preempted core delays only its own columns. Converged
 * columns are swapped to the end of the range. Returns the columns that did not converge. */
static int admm_range(cpu_state *c, int n, int k, int lo, int hi, double rho,
                      const blorc_admm_opts *o) {
  int na = hi - lo, it = 0;
  double inv_rho = 1.0 / rho;
  double *T = c->T + (size_t)lo * k, *Z = c->Z + (size_t)lo * k, *U = c->U + (size_t)lo * k;
  double *V = c->V + (size_t)lo * k, *D = c->D + (size_t)lo * k, *R = c->R + (size_t)lo * n;
  for (size_t i = 0; i < (size_t)k * na; i++) T[i] = Z[i] - U[i];
  while (it < o->max_iters && na > 0) {
    it++;
    memcpy(V, c->WC + (size_t)lo * k, (size_t)k * na * sizeof(double));
    if (c->Qj)
      for (int j = 0; j < na; j++)
        cblas_dgemv(CblasColMajor, CblasNoTrans, k, k, 1.0, c->Qj + (size_t)c->pos[lo + j] * k * k,
                    k, T + (size_t)j * k, 1, 1.0, V + (size_t)j * k, 1);
    else
      cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, k, na, k, 1.0, c->Q, k, T, k, 1.0, V,
                  k);
    for (int j = 0; j < na; j++) {
      double r2 = 0;
      for (int i = 0; i < k; i++) {
        size_t e = (size_t)j * k + i;
        blorc_admm_zu(V[e], inv_rho, &Z[e], &U[e], &r2, &D[e]);
      }
      c->r2[lo + j] = r2;
    }
    if (!o->fixed && (it % o->check_every == 0 || it == o->max_iters)) {
      cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, n, na, k, 1.0, c->W, n, D, k, 0.0, R,
                  n);
      /* Walk backwards so a swap only brings in columns already tested. */
      for (int j = na - 1; j >= 0; j--) {
        double d2 = 0;
        for (int i = 0; i < n; i++) d2 += R[(size_t)j * n + i] * R[(size_t)j * n + i];
        d2 *= rho * rho;
        int col = lo + j, last = lo + na - 1;
        if (!blorc_admm_converged(c->r2[col], d2, o->tol, c->ynorm[col])) continue;
        c->iters[c->pos[col]] = it;
        form_x(c, n, k, col, 1);
        swap_cols(c->C, n, col, last);
        swap_cols(c->WC, k, col, last);
        swap_cols(c->Xa, n, col, last);
        swap_cols(c->Z, k, col, last);
        swap_cols(c->U, k, col, last);
        swap_cols(c->T, k, col, last);
        double t = c->ynorm[col];
        c->ynorm[col] = c->ynorm[last], c->ynorm[last] = t;
        int p = c->pos[col];
        c->pos[col] = c->pos[last], c->pos[last] = p;
        na--;
      }
    }
    if (na > 0 && it < o->max_iters)
      for (size_t i = 0; i < (size_t)k * na; i++) T[i] = Z[i] - U[i];
  }
  form_x(c, n, k, lo, na); /* columns that ran to the cap (or max_iters = 0) */
  return na;
}

blorc_status cpu_admm(blorc_backend *b, const blorc_admm_opts *o, blorc_admm_stats *stats,
                      blorc_error *err) {
  cpu_state *c = cpu_of(b);
  int n = b->n, k = b->k, B = b->B;
  double rho = b->rho;

  /* Warm start from the store, which keeps lambda = rho u (independent of rho): taken from it
   * on every call, so that ADMM run twice on one selected batch (after a new factor, say)
   * continues from the first run's state instead of dividing an already scaled dual again. */
  for (int j = 0; j < B; j++) {
    size_t t = c->idx[j];
    memcpy(c->Z + (size_t)j * k, c->Zall + t * k, (size_t)k * sizeof(double));
    for (int i = 0; i < k; i++) c->U[(size_t)j * k + i] = c->Lall[t * k + i] / rho;
  }
  if (c->op == BLORC_OP_MASK) {
    blorc_status st = cpu_op_factor_batch(b, err); /* K_rho per sample, and C */
    if (st) return st;
  } else {
    memcpy(c->C, c->Y, (size_t)n * B * sizeof(double));
    lapack_int info = LAPACKE_dpotrs(LAPACK_COL_MAJOR, 'L', n, B, c->L, n, c->C, n);
    if (info != 0) return blorc_fail(err, BLORC_ENUMERIC, "admm: dpotrs info %d", (int)info);
  }
  cblas_dgemm(CblasColMajor, CblasTrans, CblasNoTrans, k, B, n, 1.0, c->W, n, c->C, n, 0.0, c->WC,
              k);
  for (int j = 0; j < B; j++) c->pos[j] = j, c->iters[j] = o->max_iters;
  /* Each thread owns a contiguous range of columns for all iterations. */
  int nt = c->nthreads < B ? c->nthreads : B, left = 0;
#pragma omp parallel num_threads(nt) reduction(+ : left)
  {
    int t = omp_get_thread_num(), p = omp_get_num_threads();
    left += admm_range(c, n, k, (int)((long)B * t / p), (int)((long)B * (t + 1) / p), rho, o);
  }
  unpermute(c->Xa, c->R, n, B, c->pos);
  unpermute(c->Z, c->T, k, B, c->pos);
  unpermute(c->U, c->T, k, B, c->pos);
  unpermute(c->C, c->R, n, B, c->pos);
  for (int p = 0; p < B; p++) c->D[c->pos[p]] = c->ynorm[p];
  memcpy(c->ynorm, c->D, (size_t)B * sizeof(double));

  stats->iters_total = 0, stats->iters_max = 0, stats->at_cap = 0;
  for (int j = 0; j < B; j++) {
    size_t t = c->idx[j];
    memcpy(c->Zall + t * k, c->Z + (size_t)j * k, (size_t)k * sizeof(double));
    for (int i = 0; i < k; i++) c->Lall[t * k + i] = rho * c->U[(size_t)j * k + i];
    stats->iters_total += c->iters[j];
    if (c->iters[j] > stats->iters_max) stats->iters_max = c->iters[j];
  }
  /* "At the cap": used every iteration without passing the test (all of them in fixed
   * mode, where the test never runs). */
  stats->at_cap = o->max_iters > 0 ? left : 0;
  return cpu_check_finite(b, "admm", "x", c->Xa, (size_t)n, err);
}
