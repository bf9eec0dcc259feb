/* Stage 1: Cholesky factor of I + rho W^T W, K = rho (I + rho W^T W)^{-1} W^T and Q = W K,
 * so each ADMM iteration is one GEMM: W x = W C + Q (z - u), with x = C + K (z - u) and
 * C = (I + rho W^T W)^{-1} y. */
#include <lapacke.h>
#include <string.h>

#include "cpu_backend.h"

/* K = rho K_rho^{-1} W^T and Q = W K from the factor in c->L. */
static blorc_status make_kq(cpu_state *c, int n, int k, double rho, blorc_error *err) {
  for (size_t i = 0; i < (size_t)n * k; i++) c->K[i] = rho * c->W[i];
  lapack_int info = LAPACKE_dpotrs(LAPACK_COL_MAJOR, 'L', n, k, c->L, n, c->K, n);
  if (info != 0) return blorc_fail(err, BLORC_ENUMERIC, "factor: dpotrs info %d", (int)info);
  cblas_dgemm(CblasColMajor, CblasTrans, CblasNoTrans, k, k, n, 1.0, c->W, n, c->K, n, 0.0, c->Q,
              k);
  return BLORC_OK;
}

blorc_status cpu_factor(blorc_backend *b, blorc_error *err) {
  cpu_state *c = cpu_of(b);
  int n = b->n, k = b->k;
  double rho = b->rho;
  if (c->op == BLORC_OP_MASK) return cpu_op_factor(b, err); /* per sample, in ADMM */
  if (c->op == BLORC_OP_MATRIX) {
    blorc_status st = cpu_op_factor(b, err);
    if (!st) st = cpu_op_cholesky(c->L, n, "", err);
    return st ? st : make_kq(c, n, k, rho, err);
  }
  /* W^T W = Wt Wt^T with Wt the n x k column-major storage of W. */
  cblas_dsyrk(CblasColMajor, CblasLower, CblasNoTrans, n, k, rho, c->W, n, 0.0, c->L, n);
  for (int i = 0; i < n; i++) c->L[i * n + i] += 1.0;
  /* A diverged W overflows W^T W before the Cholesky notices anything. */
  for (int j = 0; j < n; j++)
    for (int i = j; i < n; i++)
      if (!isfinite(c->L[(size_t)j * n + i]))
        return blorc_fail(err, BLORC_ENUMERIC,
                          "factor: I + rho W^T W overflows (rho %g): W has grown too large", rho);
  lapack_int info = LAPACKE_dpotrf(LAPACK_COL_MAJOR, 'L', n, c->L, n);
  if (info != 0)
    return blorc_fail(err, BLORC_ENUMERIC,
                      "factor: Cholesky of I + rho W^T W failed (dpotrf info %d, rho %g); W "
                      "probably holds huge values",
                      (int)info, rho);
  return make_kq(c, n, k, rho, err);
}
