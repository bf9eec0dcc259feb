/* Stage 5: the closed form given the sign pattern (design.md section 3):
 *   q = y - W^T s,  x* = P_N q,  a = (W0m^+)^T q,  and with g = x* - x (or an upstream
 *   gradient, BLORC_BUF_UPSTREAM):  h = P_N g,  b = (W0m^+)^T g,  loss = 1/2 ||g||^2.
 * (W0m^+)^T = W0m V_r S_r^-2 V_r^T, so per sample only r-vectors are formed; the two
 * products with W0m run as GEMMs over the batch. */
#include <omp.h>
#include <string.h>

#include "cpu_backend.h"

/* v <- v - V_r (V_r^T v); w <- V_r S_r^-2 V_r^T v (the original v), or with sv NULL (stage
 * 4's fast path) w <- V_r V_r^T v, the part of v that W^+^T maps to a; coef: r scratch. */
void cpu_project(int n, int r, const double *Vr, const double *sv, double *v, double *w,
                 double *coef) {
  if (r == 0) {
    memset(w, 0, (size_t)n * sizeof(double));
    return;
  }
  cblas_dgemv(CblasColMajor, CblasTrans, n, r, 1.0, Vr, n, v, 1, 0.0, coef, 1);
  cblas_dgemv(CblasColMajor, CblasNoTrans, n, r, -1.0, Vr, n, coef, 1, 1.0, v, 1);
  if (sv)
    for (int i = 0; i < r; i++) coef[i] /= sv[i] * sv[i];
  cblas_dgemv(CblasColMajor, CblasNoTrans, n, r, 1.0, Vr, n, coef, 1, 0.0, w, 1);
}

/* out = mask0 .* (M w) for the batch, M = W (or W^+^T on the fast path; both stored n x k):
 * rows with s != 0 are not rows of W0m. */
void cpu_masked_w_times(const cpu_state *c, int fast, int n, int k, int B, const double *w,
                        double *out) {
  const double *M = fast ? c->Wpinv : c->W;
  cblas_dgemm(CblasColMajor, CblasTrans, CblasNoTrans, k, B, n, 1.0, M, n, w, n, 0.0, out, k);
  size_t kB = (size_t)k * B;
  for (size_t i = 0; i < kB; i++)
    if (c->S[i] != 0.0) out[i] = 0.0;
}

/* One sample of the closed form with an operator (design.md section 7): x* = M q, and the
 * residuals q - B x* and g - B h, which W0m^+^T maps to a and b (cpu_project keeps only
 * their part in range(W0^T), which is all of them). Without a unique minimiser x* is ADMM's
 * and a, b, h are zero. xs holds q on entry. */
static void closed_form_operator(const blorc_backend *b, int j, int fast, double *coef) {
  cpu_state *c = cpu_of(b);
  int n = b->n, kn = b->kn, r = c->rank[j];
  const double *Vr = c->Vs + (size_t)j * n * kn;
  const double *sv = fast ? NULL : c->sv + (size_t)j * kn;
  double *xs = c->Xs + (size_t)j * n, *h = c->H + (size_t)j * n;
  double *wq = c->Wq + (size_t)j * n, *wg = c->Wg + (size_t)j * n;
  const double *x = c->X + (size_t)j * n;
  cpu_op_work w;
  c->uniq[j] = cpu_op_prepare(c, n, b->m, j, r, Vr, &w);
  if (!c->uniq[j]) {
    memcpy(xs, c->Xa + (size_t)j * n, (size_t)n * sizeof(double));
    memset(wq, 0, (size_t)n * sizeof(double));
    memset(wg, 0, (size_t)n * sizeof(double));
    double l = 0;
    for (int i = 0; i < n; i++) {
      h[i] = 0;
      l += (xs[i] - x[i]) * (xs[i] - x[i]);
    }
    c->loss[j] = 0.5 * l;
    return;
  }
  double *res = w.v, *bx = w.x;
  cpu_op_solve(&w, n, xs, bx);
  cpu_op_normal(c, n, j, bx, res);
  for (int i = 0; i < n; i++) res[i] = xs[i] - res[i]; /* q - B x* */
  memcpy(xs, bx, (size_t)n * sizeof(double));
  cpu_project(n, r, Vr, sv, res, wq, coef);
  int mode = blorc_residual_mode(b);
  if (!mode) return;
  double l = 0;
  for (int i = 0; i < n; i++) {
    res[i] = mode == BLORC_RESIDUAL_UPSTREAM ? x[i] : xs[i] - x[i]; /* g */
    l += res[i] * res[i];
  }
  c->loss[j] = 0.5 * l;
  cpu_op_solve(&w, n, res, h);
  cpu_op_normal(c, n, j, h, bx);
  for (int i = 0; i < n; i++) res[i] -= bx[i]; /* g - B h */
  cpu_project(n, r, Vr, sv, res, wg, coef);
}

blorc_status cpu_closed_form(blorc_backend *b, blorc_error *err) {
  cpu_state *c = cpu_of(b);
  int n = b->n, k = b->k, kn = b->kn, B = b->B, mode = blorc_residual_mode(b);
  int clean = mode != BLORC_RESIDUAL_NONE, up = mode == BLORC_RESIDUAL_UPSTREAM;
  int fast = b->svd_used == BLORC_SVD_FAST; /* stage 4 took the fast path (svd.c) */
  /* q = y - W^T s for the whole batch. */
  memcpy(c->Xs, c->Y, (size_t)n * B * sizeof(double));
  cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, n, B, k, -1.0, c->W, n, c->S, k, 1.0,
              c->Xs, n);
#pragma omp parallel num_threads(c->nthreads)
  {
    double *coef = c->scratch + c->scratch_per_thread * (size_t)omp_get_thread_num();
#pragma omp for schedule(static)
    for (int j = 0; j < B; j++) {
      if (c->op != BLORC_OP_IDENTITY) {
        closed_form_operator(b, j, fast, coef);
        continue;
      }
      c->uniq[j] = 1;
      const double *Vr = c->Vs + (size_t)j * n * kn;
      const double *sv = fast ? NULL : c->sv + (size_t)j * kn;
      int r = c->rank[j];
      double *xs = c->Xs + (size_t)j * n;
      cpu_project(n, r, Vr, sv, xs, c->Wq + (size_t)j * n, coef);
      if (!clean) continue;
      double *h = c->H + (size_t)j * n;
      const double *x = c->X + (size_t)j * n;
      double l = 0;
      for (int i = 0; i < n; i++) {
        h[i] = up ? x[i] : xs[i] - x[i];
        l += h[i] * h[i];
      }
      c->loss[j] = 0.5 * l;
      cpu_project(n, r, Vr, sv, h, c->Wg + (size_t)j * n, coef);
    }
  }
  cpu_masked_w_times(c, fast, n, k, B, c->Wq, c->A);
  if (clean) cpu_masked_w_times(c, fast, n, k, B, c->Wg, c->Bv);
  blorc_status st = cpu_check_finite(b, "closed_form", "x*", c->Xs, (size_t)n, err);
  if (!st) st = cpu_check_finite(b, "closed_form", "a", c->A, (size_t)k, err);
  if (!st && clean) st = cpu_check_finite(b, "closed_form", "b", c->Bv, (size_t)k, err);
  if (!st && clean) st = cpu_check_finite(b, "closed_form", "loss", c->loss, 1, err);
  return st;
}
