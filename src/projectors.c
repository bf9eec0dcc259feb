/* What both backends report from stage 4 through host code: the null-space projectors
 * P_N = I - V_r V_r^T (BLORC_BUF_PN), and the singular values when the fast path never formed
 * them (BLORC_BUF_SV). */
#include <cblas.h>
#include <lapacke.h>
#include <stdlib.h>
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

blorc_status blorc_masked_singular_values(int n, int k, int kn, int B, const double *W,
                                          const double *S, double *dst, blorc_error *err) {
  double *A = malloc((size_t)n * k * sizeof(double));
  if (!A) return blorc_fail(err, BLORC_ENOMEM, "read: out of host memory for singular values");
  blorc_status st = BLORC_OK;
  for (int j = 0; j < B && st == BLORC_OK; j++) {
    const double *s = S + (size_t)j * k;
    double *sv = dst + (size_t)j * kn;
    int k0 = 0; /* the rows of W0 as the columns of A = W0^T, n x k0 */
    for (int i = 0; i < k; i++)
      if (s[i] == 0.0) memcpy(A + (size_t)k0++ * n, W + (size_t)i * n, n * sizeof(double));
    memset(sv, 0, (size_t)kn * sizeof(double));
    if (k0 == 0) continue;
    lapack_int info = LAPACKE_dgesdd(LAPACK_COL_MAJOR, 'N', n, k0, A, n, sv, NULL, 1, NULL, 1);
    if (info != 0)
      st = blorc_fail(err, BLORC_ENUMERIC, "read: dgesdd failed on batch sample %d (info %d)", j,
                      (int)info);
  }
  free(A);
  return st;
}
