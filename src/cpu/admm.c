/* Stage 2: batched ADMM for argmin_x 1/2||x - y||^2 + ||W x||_1 on the selected batch, split
 * z = W x with scaled dual u (design.md section 2). The x-update x = C + K (z - u) is only
 * ever needed through W x, so each iteration computes W x = W C + Q (z - u) with Q = W K
 * (k x k, from stage 1): one GEMM of k x k x B instead of two of n x k x B, and x itself is
 * formed once per sample, when it stops. The per-element updates come from
 * blorc/elementwise.h; converged samples are swapped behind the active ones so the GEMMs
 * shrink as samples finish. */
#include <lapacke.h>
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

/* T = Z - U for the first na columns. */
static void z_minus_u(cpu_state *c, int k, int na) {
  size_t len = (size_t)k * na;
  for (size_t i = 0; i < len; i++) c->T[i] = c->Z[i] - c->U[i];
}

/* x = C + K T for columns [from, from + count): the x whose W x the last iteration used. */
static void form_x(cpu_state *c, int n, int k, int from, int count) {
  if (count <= 0) return;
  memcpy(c->Xa + (size_t)from * n, c->C + (size_t)from * n, (size_t)n * count * sizeof(double));
  cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, n, count, k, 1.0, c->K, n,
              c->T + (size_t)from * k, k, 1.0, c->Xa + (size_t)from * n, n);
}

blorc_status cpu_admm(blorc_backend *b, const blorc_admm_opts *o, blorc_admm_stats *stats,
                      blorc_error *err) {
  cpu_state *c = cpu_of(b);
  int n = b->n, k = b->k, B = b->B;
  double rho = b->rho, inv_rho = 1.0 / rho;

  /* Warm start: the store keeps lambda = rho u, which does not change with rho. */
  for (size_t i = 0; i < (size_t)k * B; i++) c->U[i] *= inv_rho;
  memcpy(c->C, c->Y, (size_t)n * B * sizeof(double));
  lapack_int info = LAPACKE_dpotrs(LAPACK_COL_MAJOR, 'L', n, B, c->L, n, c->C, n);
  if (info != 0) return blorc_fail(err, BLORC_ENUMERIC, "admm: dpotrs info %d", (int)info);
  cblas_dgemm(CblasColMajor, CblasTrans, CblasNoTrans, k, B, n, 1.0, c->W, n, c->C, n, 0.0, c->WC,
              k);
  for (int j = 0; j < B; j++) c->pos[j] = j, c->iters[j] = o->max_iters;

  int na = B; /* columns 0..na-1 (in the order pos) are still iterating */
  int it = 0;
  z_minus_u(c, k, na);
  while (it < o->max_iters && na > 0) {
    it++;
    memcpy(c->V, c->WC, (size_t)k * na * sizeof(double));
    cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, k, na, k, 1.0, c->Q, k, c->T, k, 1.0,
                c->V, k);
#pragma omp parallel for schedule(static)
    for (int j = 0; j < na; j++) {
      double r2 = 0;
      for (int i = 0; i < k; i++) {
        size_t e = (size_t)j * k + i;
        blorc_admm_zu(c->V[e], inv_rho, &c->Z[e], &c->U[e], &r2, &c->D[e]);
      }
      c->r2[j] = r2;
    }
    int check = !o->fixed && (it % o->check_every == 0 || it == o->max_iters);
    if (check) {
      cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, n, na, k, 1.0, c->W, n, c->D, k, 0.0,
                  c->R, n);
      /* Walk backwards so a swap only brings in columns already tested. */
      for (int j = na - 1; j >= 0; j--) {
        double d2 = 0;
        for (int i = 0; i < n; i++) d2 += c->R[(size_t)j * n + i] * c->R[(size_t)j * n + i];
        d2 *= rho * rho;
        if (!blorc_admm_converged(c->r2[j], d2, o->tol, c->ynorm[j])) continue;
        c->iters[c->pos[j]] = it;
        form_x(c, n, k, j, 1);
        int last = na - 1;
        swap_cols(c->C, n, j, last);
        swap_cols(c->WC, k, j, last);
        swap_cols(c->Xa, n, j, last);
        swap_cols(c->Z, k, j, last);
        swap_cols(c->U, k, j, last);
        swap_cols(c->T, k, j, last);
        double t = c->ynorm[j];
        c->ynorm[j] = c->ynorm[last], c->ynorm[last] = t;
        int p = c->pos[j];
        c->pos[j] = c->pos[last], c->pos[last] = p;
        na--;
      }
    }
    if (na > 0 && it < o->max_iters) z_minus_u(c, k, na);
  }
  form_x(c, n, k, 0, na); /* samples that ran to the cap (or max_iters = 0) */
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
  stats->at_cap = o->max_iters > 0 ? na : 0;
  return BLORC_OK;
}
