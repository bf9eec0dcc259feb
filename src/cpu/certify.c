/* The certificate and the active-set polish on the CPU (design.md section 7; the per-sample
 * decisions are blorc/active_set.h's, shared with cuda/certify.cu):
 *   a  = a_cur + (W0m^+)^T (q - W0m^T a_cur)   on Z: of all duals of the closed form (a_cur
 *        plus a solution of W0^T d = q - x* - W0^T a_cur), the one nearest the polish's
 *        current dual; with dependent rows the closed form's minimum-norm a may leave the
 *        box while a dual inside it exists, as ADMM's shows
 *   stationarity  x* - y + W^T (s + a),   and v = W x* for the primal and sign checks. */
#include <omp.h>
#include <string.h>

#include "blorc/active_set.h"
#include "cpu_backend.h"

static void row_norms(const double *W, int n, int k, double *rn) {
  for (int i = 0; i < k; i++) rn[i] = cblas_dnrm2(n, W + (size_t)i * n, 1);
}

blorc_status cpu_certify(blorc_backend *b, double tol, int start, blorc_error *err) {
  (void)err;
  cpu_state *c = cpu_of(b);
  int n = b->n, k = b->k, kn = b->kn, B = b->B;
  int fast = b->svd_used == BLORC_SVD_FAST;
  size_t kB = (size_t)k * B, nB = (size_t)n * B;
  row_norms(c->W, n, k, c->rn);
  if (start)
    for (int j = 0; j < B; j++) {
      double *lam = c->Tk + (size_t)j * k; /* lambda = rho u, ADMM's dual */
      for (int i = 0; i < k; i++) lam[i] = b->rho * c->U[(size_t)j * k + i];
      blorc_polish_start(k, c->S + (size_t)j * k, lam, c->Dcur + (size_t)j * k);
    }
  /* Rn = q - W0m^T a_cur = y - W^T (s + mask0 a_cur) */
  for (size_t i = 0; i < kB; i++) c->Tk[i] = c->S[i] != 0.0 ? c->S[i] : c->Dcur[i];
  memcpy(c->Rn, c->Y, nB * sizeof(double));
  cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, n, B, k, -1.0, c->W, n, c->Tk, k, 1.0,
              c->Rn, n);
  /* With an operator the closed form's x* is B x* in the stationarity: Rn -= B x*, and the
   * residual below starts from B x* - A^T y. */
  const double *bx = c->Xs;
  if (c->op != BLORC_OP_IDENTITY) {
    for (int j = 0; j < B; j++)
      cpu_op_normal(c, n, j, c->Xs + (size_t)j * n, c->Mv + (size_t)j * n);
    for (size_t i = 0; i < nB; i++) c->Rn[i] -= c->Mv[i];
    bx = c->Mv;
  }
#pragma omp parallel num_threads(c->nthreads)
  {
    double *coef = c->scratch + c->scratch_per_thread * (size_t)omp_get_thread_num();
    double *v = coef + kn;
#pragma omp for schedule(static)
    for (int j = 0; j < B; j++) {
      memcpy(v, c->Rn + (size_t)j * n, (size_t)n * sizeof(double));
      /* With the identity, Rn's part in null(W0) is x* and is dropped here; with an operator
       * Rn lies in range(W0^T) already. */
      cpu_project(n, c->rank[j], c->Vs + (size_t)j * n * kn, fast ? NULL : c->sv + (size_t)j * kn,
                  v, c->Wr + (size_t)j * n, coef);
    }
  }
  cpu_masked_w_times(c, fast, n, k, B, c->Wr, c->Ac);
  for (size_t i = 0; i < kB; i++)
    if (c->S[i] == 0.0) c->Ac[i] += c->Dcur[i];
  /* v = W x*; stationarity residual Rn = x* - y + W^T (s + a) */
  cblas_dgemm(CblasColMajor, CblasTrans, CblasNoTrans, k, B, n, 1.0, c->W, n, c->Xs, n, 0.0, c->Vx,
              k);
  for (size_t i = 0; i < kB; i++) c->Tk[i] = c->S[i] + c->Ac[i];
  for (size_t i = 0; i < nB; i++) c->Rn[i] = bx[i] - c->Y[i];
  cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, n, B, k, 1.0, c->W, n, c->Tk, k, 1.0,
              c->Rn, n);
  for (int j = 0; j < B; j++) {
    double stat = cblas_dnrm2(n, c->Rn + (size_t)j * n, 1);
    double ys = c->ynorm[j] > 1.0 ? c->ynorm[j] : 1.0;
    blorc_certificate(k, c->S + (size_t)j * k, c->Vx + (size_t)j * k, c->Ac + (size_t)j * k, c->rn,
                      ys, stat, tol, c->cert + (size_t)j * BLORC_CERT_COLUMNS);
    /* No unique minimiser: the closed form is not this pattern's solution. */
    if (!c->uniq[j]) c->cert[(size_t)j * BLORC_CERT_COLUMNS + BLORC_CERT_OK] = 0.0;
  }
  return BLORC_OK;
}

blorc_status cpu_polish_step(blorc_backend *b, double tol, int from_admm, long long *moved,
                             blorc_error *err) {
  (void)err;
  cpu_state *c = cpu_of(b);
  int k = b->k;
  for (int j = 0; j < b->B; j++) {
    c->redo[j] = 0;
    if (c->cert[(size_t)j * BLORC_CERT_COLUMNS + BLORC_CERT_OK] != 0.0) continue;
    double ys = c->ynorm[j] > 1.0 ? c->ynorm[j] : 1.0;
    size_t o = (size_t)j * k;
    int m = 0;
    if (from_admm) {
      for (int i = 0; i < k; i++) c->Tk[o + i] = b->rho * c->U[o + i];
      m = blorc_polish_from_admm(k, c->S + o, c->Z + o, c->Tk + o, c->Dcur + o);
    }
    if (m == 0)
      m = blorc_polish_step(k, c->S + o, c->Dcur + o, c->Ac + o, c->Vx + o, c->rn, ys, tol);
    c->redo[j] = m > 0;
    *moved += m;
  }
  return BLORC_OK;
}
