/* Stage 6: the minibatch gradient as two GEMMs (design.md section 4):
 *   G = -(1/B) [ (A + S) H^T + Bm X*^T ]   (k x n; stored as its n x k transpose,
 *   which is G row-major), and the mean loss; after the polish over certified samples only. */
#include "blorc/active_set.h"
#include "cpu_backend.h"

blorc_status cpu_gradient(blorc_backend *b, double *loss, blorc_error *err) {
  cpu_state *c = cpu_of(b);
  int n = b->n, k = b->k, B = b->B;
  /* After the polish, samples without a certificate weigh 0 and B counts the others. */
  int used = b->polished ? b->certified : B;
  double sum = 0;
  for (int j = 0; j < B; j++) {
    double w = b->polished ? c->cert[(size_t)j * BLORC_CERT_COLUMNS + BLORC_CERT_OK] : 1.0;
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
  for (size_t i = 0; i < (size_t)n * k; i++)
    if (!isfinite(c->G[i]))
      return blorc_fail(err, BLORC_ENUMERIC,
                        "gradient: non-finite entry (%zu, %zu) of the gradient", i / n, i % n);
  if (!isfinite(*loss)) return blorc_fail(err, BLORC_ENUMERIC, "gradient: non-finite mean loss");
  return BLORC_OK;
}
