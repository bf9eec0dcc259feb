/* Stage 4: per sample, the SVD of W0m = diag(s == 0) W. Zero rows change neither the
 * null space nor the pseudo-inverse's action, so only the rows of W0 are packed (as the
 * columns of W0^T, n x k0) and decomposed with LAPACK dgesdd; the left singular vectors of
 * W0^T are the right singular vectors V of W0m. Rank: #{sigma_i > rel_tol sigma_1}. */
#include <lapacke.h>
#include <omp.h>
#include <string.h>

#include "cpu_backend.h"

blorc_status cpu_svd(blorc_backend *b, double rel_tol, blorc_error *err) {
  cpu_state *c = cpu_of(b);
  int n = b->n, k = b->k, kn = b->kn, B = b->B;
  int failed_sample = -1, failed_info = 0;
#pragma omp parallel num_threads(c->nthreads)
  {
    double *A = c->scratch + c->scratch_per_thread * (size_t)omp_get_thread_num();
    double *Ut = A + (size_t)n * k;
    double *work = Ut + (size_t)kn * k;
    lapack_int *iwork = (lapack_int *)(work + c->svd_lwork);
#pragma omp for schedule(dynamic, 1)
    for (int j = 0; j < B; j++) {
      const double *s = c->S + (size_t)j * k;
      double *sv = c->sv + (size_t)j * kn;
      double *V = c->Vs + (size_t)j * n * kn;
      int k0 = 0;
      for (int i = 0; i < k; i++)
        if (s[i] == 0.0) memcpy(A + (size_t)k0++ * n, c->W + (size_t)i * n, n * sizeof(double));
      int m0 = k0 < n ? k0 : n;
      memset(sv, 0, (size_t)kn * sizeof(double));
      memset(V, 0, (size_t)n * kn * sizeof(double));
      c->rank[j] = 0;
      if (k0 == 0) continue;
      lapack_int info = LAPACKE_dgesdd_work(LAPACK_COL_MAJOR, 'S', n, k0, A, n, sv, V, n, Ut, m0,
                                            work, (lapack_int)c->svd_lwork, iwork);
      if (info != 0) {
#pragma omp critical
        {
          failed_sample = j;
          failed_info = (int)info;
        }
        continue;
      }
      int r = 0;
      while (r < m0 && sv[r] > rel_tol * sv[0]) r++;
      c->rank[j] = r;
    }
  }
  if (failed_sample >= 0)
    return blorc_fail(err, BLORC_ENUMERIC, "svd: dgesdd failed on batch sample %d (info %d)",
                      failed_sample, failed_info);
  return BLORC_OK;
}
