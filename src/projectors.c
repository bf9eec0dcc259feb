/* Null-space projectors P_N = I - V_r V_r^T from a batch of right singular vectors: how both
 * backends report BLORC_BUF_PN. */
#include <cblas.h>
#include <string.h>

#include "backend_impl.h"

void blorc_projectors(int n, int kn, int B, const double *Vs, const int *rank, double *dst) {
  for (int j = 0; j < B; j++) {
    double *P = dst + (size_t)j * n * n;
    const double *Vr = Vs + (size_t)j * n * kn;
    memset(P, 0, (size_t)n * n * sizeof(double));
    for (int i = 0; i < n; i++) P[(size_t)i * n + i] = 1;
    if (rank[j] > 0)
      cblas_dgemm(CblasColMajor, CblasNoTrans, CblasTrans, n, n, rank[j], -1.0, Vr, n, Vr, n, 1.0,
                  P, n);
  }
}
