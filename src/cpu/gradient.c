/* Stage 6: the minibatch gradient as two GEMMs (design.md section 4):
 *   G = -(1/B) [ (A + S) H^T + Bm X*^T ]   (k x n; stored as its n x k transpose,
 *   which is G row-major), and the mean loss; after the polish over certified samples only.
 * With an operator (section 7) also dU/dy = A h per sample and, for a shared A,
 *   dU/dA = (1/B) sum_j (y_j - A x*_j) h_j^T - (A h_j) x*_j^T. */
#include "blorc/active_set.h"
#include "cpu_backend.h"

/* A sample's weight: 0 without a unique minimiser or (after the polish) a certificate. */
static double weight(const blorc_backend *b, const cpu_state *c, int j) {
  if (!c->uniq[j]) return 0.0;
  return b->polished ? c->cert[(size_t)j * BLORC_CERT_COLUMNS + BLORC_CERT_OK] : 1.0;
}

/* dU/dA^T (n x m) = (1/used) [H diag(w) Ry^T - X* diag(w) Hy^T], Ry = y - A x*, Hy = A h. */
static void operator_gradient(const blorc_backend *b, cpu_state *c, double scale) {
  int n = b->n, m = b->m, B = b->B;
  cpu_op_apply_batch(c, n, m, B, c->Xs, c->Ry);
  for (int j = 0; j < B; j++) {
    double w = weight(b, c, j);
    for (int i = 0; i < m; i++) {
      size_t e = (size_t)j * m + i;
      c->Ry[e] = w * (c->Ym[e] - c->Ry[e]);
    }
  }
  cblas_dgemm(CblasColMajor, CblasNoTrans, CblasTrans, n, m, B, scale, c->H, n, c->Ry, m, 0.0,
              c->GA, n);
  for (int j = 0; j < B; j++) {
    double w = weight(b, c, j);
    if (w != 0.0)
      cblas_dger(CblasColMajor, n, m, -scale * w, c->Xs + (size_t)j * n, 1, c->Hy + (size_t)j * m,
                 1, c->GA, n);
  }
}

blorc_status cpu_gradient(blorc_backend *b, double *loss, blorc_error *err) {
  cpu_state *c = cpu_of(b);
  int n = b->n, k = b->k, B = b->B;
  int used = 0, unique = 0;
  for (int j = 0; j < B; j++) {
    unique += c->uniq[j];
    used += weight(b, c, j) != 0.0;
  }
  if (unique == 0)
    return blorc_fail(err, BLORC_EINVAL,
                      "gradient: no sample of the batch has a unique minimiser (C = (A N)^T (A N) "
                      "is singular on every pattern: too few zero rows for the operator; "
                      "operator.ridge > 0 makes it unique)");
  double sum = 0;
  for (int j = 0; j < B; j++) {
    double w = weight(b, c, j);
    for (int i = 0; i < k; i++) {
      size_t e = (size_t)j * k + i;
      c->T[e] = w * (c->A[e] + c->S[e]);
      c->Tb[e] = w * c->Bv[e];
    }
    sum += w * c->loss[j];
  }
  double scale = used > 0 ? -1.0 / used : 0.0;
  cblas_dgemm(CblasColMajor, CblasNoTrans, CblasTrans, n, k, B, scale, c->H, n, c->T, k, 0.0, c->G,
              n);
  cblas_dgemm(CblasColMajor, CblasNoTrans, CblasTrans, n, k, B, scale, c->Xs, n, c->Tb, k, 1.0,
              c->G, n);
  *loss = used > 0 ? sum / used : 0.0;
  if (c->op != BLORC_OP_IDENTITY) {
    cpu_op_apply_batch(c, n, b->m, B, c->H, c->Hy);
    if (c->op == BLORC_OP_MATRIX) operator_gradient(b, c, -scale);
  }
  for (size_t i = 0; i < (size_t)n * k; i++)
    if (!isfinite(c->G[i]))
      return blorc_fail(err, BLORC_ENUMERIC,
                        "gradient: non-finite entry (%zu, %zu) of the gradient", i / n, i % n);
  if (!isfinite(*loss)) return blorc_fail(err, BLORC_ENUMERIC, "gradient: non-finite mean loss");
  return BLORC_OK;
}
