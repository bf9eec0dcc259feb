/* Stage 6: the minibatch gradient as two GEMMs (design.md section 4):
 *   G = -(1/B) [ (A + S) H^T + Bm X*^T ]   (k x n; stored as its n x k transpose,
 *   which is G row-major), and the mean loss. */
#include "cpu_backend.h"

blorc_status cpu_gradient(blorc_backend *b, double *loss, blorc_error *err) {
  cpu_state *c = cpu_of(b);
  int n = b->n, k = b->k, B = b->B;
  size_t kB = (size_t)k * B;
  for (size_t i = 0; i < kB; i++) c->T[i] = c->A[i] + c->S[i];
  double scale = -1.0 / B;
  cblas_dgemm(CblasColMajor, CblasNoTrans, CblasTrans, n, k, B, scale, c->H, n, c->T, k, 0.0, c->G,
              n);
  cblas_dgemm(CblasColMajor, CblasNoTrans, CblasTrans, n, k, B, scale, c->Xs, n, c->Bv, k, 1.0,
              c->G, n);
  double sum = 0;
  for (int j = 0; j < B; j++) sum += c->loss[j];
  *loss = sum / B;
  for (size_t i = 0; i < (size_t)n * k; i++)
    if (!isfinite(c->G[i]))
      return blorc_fail(err, BLORC_ENUMERIC,
                        "gradient: non-finite entry (%zu, %zu) of the gradient", i / n, i % n);
  if (!isfinite(*loss)) return blorc_fail(err, BLORC_ENUMERIC, "gradient: non-finite mean loss");
  return BLORC_OK;
}
