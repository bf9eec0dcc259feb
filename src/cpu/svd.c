/* Stage 4: per sample, the factorisation of W0m = diag(s == 0) W that the closed form needs:
 * an orthonormal basis V_r of range(W0m^T) (so P_N = I - V_r V_r^T) and the rank r.
 *
 * Full path: the SVD of each W0m. Zero rows change neither the null space nor the
 * pseudo-inverse's action, so only the rows of W0 are packed (as the columns of W0^T,
 * n x k0) and decomposed with LAPACK dgesdd; the left singular vectors of W0^T are the right
 * singular vectors V of W0m. Rank: #{sigma_i > rel_tol sigma_1}.
 *
 * Fast path (k <= n, W well conditioned): with W^+ the pseudo-inverse (W W^+ = I_k), W0 W^+
 * e_i = 0 for every row i with s_i != 0, so null(W0) = null(W) + span{W^+ e_i : s_i != 0},
 * an (n - k0)-dimensional space. One QR of W^T per minibatch gives null(W) and W^+; per sample
 * a Householder QR of those n - k0 columns gives Q, whose trailing k0 columns are V_r. By
 * interlacing sigma_min(W0)/sigma_1(W0) >= sigma_k(W)/sigma_1(W), so the guard below makes
 * r = k0 exactly the full path's decision. The pseudo-inverse part of the closed form is
 * then a = W^+^T (I - P_N) q (closed_form.c), since W0^T a = (I - P_N) q and W0 W^+ = [I 0].
 * Cost per sample: O(n^2 (n - k0)) instead of an O(n k0^2 + k0^3) SVD. */
#include <lapacke.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "cpu_backend.h"

typedef struct {
  int sample, info;
  const char *call;
} svd_failure;

static void record_failure(svd_failure *f, int sample, int info, const char *call) {
#pragma omp critical
  {
    f->sample = sample;
    f->info = info;
    f->call = call;
  }
}

/* Packs the rows of W with s_i == 0 as the columns of A (n x k0); returns k0. */
static int pack_w0(const cpu_state *c, int n, int k, const double *s, double *A) {
  int k0 = 0;
  for (int i = 0; i < k; i++)
    if (s[i] == 0.0) memcpy(A + (size_t)k0++ * n, c->W + (size_t)i * n, n * sizeof(double));
  return k0;
}

/* Once per minibatch: a Householder QR of the n x k matrix W^T = Q R, so that
 * W^+ = Q_k R^-T and null(W) = span of Q's columns k.. (Wu). The guard needs
 * sigma_k(W)/sigma_1(W), bounded from below without an SVD: sigma_1 <= ||R||_F and
 * 1/sigma_k = ||R^-1||_2 <= ||R^-1||_F. Returns 1 when the fast path applies, 0 when W is too
 * ill conditioned for it, -1 with *info set when LAPACK failed. */
static int prepare_fast(cpu_state *c, int n, int k, double rel_tol, lapack_int *info) {
  lapack_int lw = (lapack_int)c->wqr_lwork;
  memcpy(c->Wu, c->W, (size_t)n * k * sizeof(double));
  *info = LAPACKE_dgeqrf_work(LAPACK_COL_MAJOR, n, k, c->Wu, n, c->Wtau, c->Wwork, lw);
  if (*info != 0) return -1;
  /* Wa (k x k, leading dimension k) <- R, then R^-1. */
  double r_norm = 0, rinv_norm = 0;
  for (int j = 0; j < k; j++)
    for (int i = 0; i < k; i++) {
      double v = i <= j ? c->Wu[(size_t)j * n + i] : 0.0;
      c->Wa[(size_t)j * k + i] = v;
      r_norm += v * v;
    }
  if (LAPACKE_dtrtri_work(LAPACK_COL_MAJOR, 'U', 'N', k, c->Wa, k) != 0) return 0; /* singular */
  for (size_t i = 0; i < (size_t)k * k; i++) rinv_norm += c->Wa[i] * c->Wa[i];
  /* A margin over rel_tol for rounding in the per-sample singular values; cond(W) <= 1e6
   * keeps the fast path's rounding (eps cond(W)) near the full path's (eps cond(W0)). */
  double guard = fmax(1e3 * rel_tol, 1e-6);
  if (!(1.0 / sqrt(r_norm * rinv_norm) > guard)) return 0;
  *info = LAPACKE_dorgqr_work(LAPACK_COL_MAJOR, n, n, k, c->Wu, n, c->Wtau, c->Wwork, lw);
  if (*info != 0) return -1;
  memcpy(c->Wpinv, c->Wu, (size_t)n * k * sizeof(double));
  cblas_dtrmm(CblasColMajor, CblasRight, CblasUpper, CblasTrans, CblasNonUnit, n, k, 1.0, c->Wa, k,
              c->Wpinv, n);
  return 1;
}

/* The polish's rounds redo only the samples it changed (c->partial set from b->svd_partial). */
static int b_partial(const cpu_state *c, int j) {
  return c->partial && !c->redo[j];
}

static void fast_svd(cpu_state *c, int n, int k, int kn, int B, svd_failure *fail) {
#pragma omp parallel num_threads(c->nthreads)
  {
    double *G = c->scratch + c->scratch_per_thread * (size_t)omp_get_thread_num();
    double *tau = G + (size_t)n * n;
    double *work = tau + n;
#pragma omp for schedule(dynamic, 4)
    for (int j = 0; j < B; j++) {
      if (b_partial(c, j)) continue;
      const double *s = c->S + (size_t)j * k;
      double *V = c->Vs + (size_t)j * n * kn;
      /* G = [null(W), W^+ e_i for s_i != 0]: a basis of null(W0m), m columns. */
      int m = n - k;
      memcpy(G, c->Wu + (size_t)k * n, (size_t)n * m * sizeof(double));
      for (int i = 0; i < k; i++)
        if (s[i] != 0.0) memcpy(G + (size_t)m++ * n, c->Wpinv + (size_t)i * n, n * sizeof(double));
      int k0 = n - m;
      c->rank[j] = k0; /* sv stays unused: the closed form needs no singular values here */
      if (k0 == 0) continue;
      /* V = Q [0; I_k0]: the trailing k0 columns of the QR's orthogonal factor. */
      memset(V, 0, (size_t)n * k0 * sizeof(double));
      for (int i = 0; i < k0; i++) V[(size_t)i * n + m + i] = 1.0;
      if (m == 0) continue;
      lapack_int info =
          LAPACKE_dgeqrf_work(LAPACK_COL_MAJOR, n, m, G, n, tau, work, (lapack_int)c->qr_lwork);
      if (info == 0)
        info = LAPACKE_dormqr_work(LAPACK_COL_MAJOR, 'L', 'N', n, k0, m, G, n, tau, V, n, work,
                                   (lapack_int)c->qr_lwork);
      if (info != 0) record_failure(fail, j, (int)info, "dgeqrf/dormqr");
    }
  }
}

static void full_svd(cpu_state *c, int n, int k, int kn, int B, double rel_tol, svd_failure *fail) {
#pragma omp parallel num_threads(c->nthreads)
  {
    double *A = c->scratch + c->scratch_per_thread * (size_t)omp_get_thread_num();
    double *Ut = A + (size_t)n * k;
    double *work = Ut + (size_t)kn * k;
    lapack_int *iwork = (lapack_int *)(work + c->svd_lwork);
#pragma omp for schedule(dynamic, 1)
    for (int j = 0; j < B; j++) {
      if (b_partial(c, j)) continue;
      const double *s = c->S + (size_t)j * k;
      double *sv = c->sv + (size_t)j * kn;
      double *V = c->Vs + (size_t)j * n * kn;
      int k0 = pack_w0(c, n, k, s, A);
      int m0 = k0 < n ? k0 : n;
      memset(sv, 0, (size_t)kn * sizeof(double));
      memset(V, 0, (size_t)n * kn * sizeof(double));
      c->rank[j] = 0;
      if (k0 == 0) continue;
      lapack_int info = LAPACKE_dgesdd_work(LAPACK_COL_MAJOR, 'S', n, k0, A, n, sv, V, n, Ut, m0,
                                            work, (lapack_int)c->svd_lwork, iwork);
      const char *call = "dgesdd";
      if (info > 0) {
        /* dgesdd's divide and conquer can fail to converge on nearly rank-deficient W0
         * (overcomplete W with almost dependent rows); QR iteration (dgesvd) is slower and
         * robust. It overwrote A, so pack again; this rare path may allocate. */
        pack_w0(c, n, k, s, A);
        info = LAPACKE_dgesvd(LAPACK_COL_MAJOR, 'S', 'N', n, k0, A, n, sv, V, n, NULL, 1, work);
        call = "dgesvd (after dgesdd did not converge)";
      }
      if (info != 0) {
        record_failure(fail, j, (int)info, call);
        continue;
      }
      int r = 0;
      while (r < m0 && sv[r] > rel_tol * sv[0]) r++;
      c->rank[j] = r;
    }
  }
}

/* Rough flop counts of the two paths for this batch's patterns: an SVD with vectors of each
 * n x k0 W0^T, against one QR of W^T (with its n x n Q) plus a QR of n x m and its product
 * with k0 columns per sample (m = n - k0). With few zero rows the per-sample SVDs are tiny
 * and the fixed cost of the fast path does not pay (e.g. one pair, W = 0.1 I). */
static int fast_pays(const cpu_state *c, int n, int k, int B) {
  double full = 0, fast = 4.0 * n * n * n;
  for (int j = 0; j < B; j++) {
    const double *s = c->S + (size_t)j * k;
    double k0 = 0;
    for (int i = 0; i < k; i++) k0 += s[i] == 0.0;
    double m = n - k0;
    full += 4.0 * n * k0 * k0 + 8.0 * k0 * k0 * k0;
    fast += 2.0 * n * m * m + 4.0 * n * k0 * m;
  }
  return fast < full;
}

blorc_status cpu_svd(blorc_backend *b, double rel_tol, blorc_error *err) {
  cpu_state *c = cpu_of(b);
  int n = b->n, k = b->k, kn = b->kn, B = b->B;
  svd_failure fail = {-1, 0, NULL};
  int fast = 0;
  c->partial = b->svd_partial;
  /* A polish round keeps the path of the batch's stage 4 (W, hence W^+, is unchanged): the
   * closed form reads every sample the same way. */
  int want = b->svd_partial ? 0
                            : b->svd_method == BLORC_SVD_FAST ||
                                  (b->svd_method == BLORC_SVD_AUTO && fast_pays(c, n, k, B));
  if (b->svd_partial) fast = b->svd_used == BLORC_SVD_FAST;
  if (want && c->Wpinv) {
    lapack_int info = 0;
    int use = prepare_fast(c, n, k, rel_tol, &info);
    if (use < 0)
      return blorc_fail(err, BLORC_ENUMERIC, "svd: QR of W^T failed (info %d)", (int)info);
    fast = use;
  }
  if (fast) {
    b->svd_used = BLORC_SVD_FAST;
    fast_svd(c, n, k, kn, B, &fail);
  } else
    full_svd(c, n, k, kn, B, rel_tol, &fail);
  if (fail.sample >= 0)
    return blorc_fail(err, BLORC_ENUMERIC, "svd: %s failed on batch sample %d (info %d)", fail.call,
                      fail.sample, fail.info);
  return BLORC_OK;
}

blorc_status cpu_read_singular_values(const blorc_backend *b, double *dst, blorc_error *err) {
  const cpu_state *c = cpu_of(b);
  if (b->svd_used != BLORC_SVD_FAST) {
    memcpy(dst, c->sv, (size_t)b->kn * b->B * sizeof(double));
    return BLORC_OK;
  }
  /* The fast path never formed them: one values-only SVD per sample, for diagnostics. */
  return blorc_masked_singular_values(b->n, b->k, b->kn, b->B, c->W, c->S, dst, err);
}
