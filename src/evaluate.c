/* Data-set level measures: mean loss and gradient, PSNR, baseline scale tuning. */
#include "blorc/evaluate.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

blorc_status blorc_objective_full(blorc_backend *b, int max_batch, const size_t *idx, size_t count,
                                  const blorc_denoise_opts *o, double gamma, double *loss,
                                  double *G, double *Gy, double *GA, size_t *used,
                                  blorc_error *err) {
  size_t kn = blorc_buffer_size(b, BLORC_BUF_W), m = (size_t)blorc_operator_rows(b);
  size_t an = GA ? blorc_buffer_size(b, BLORC_BUF_GRAD_OP) : 0; /* m x n, or 0: no shared A */
  size_t glen = kn > an ? kn : an;
  double *g = G || an ? malloc(glen * sizeof(double)) : NULL;
  double *u = malloc((size_t)max_batch * sizeof(double));
  blorc_status st = BLORC_OK;
  if (((G || an) && !g) || !u) st = blorc_fail(err, BLORC_ENOMEM, "objective: out of memory");
  if (G) memset(G, 0, kn * sizeof(double));
  if (an) memset(GA, 0, an * sizeof(double));
  double sum = 0;
  size_t total = 0;
  for (size_t start = 0; start < count && !st; start += (size_t)max_batch) {
    int B = (int)(count - start < (size_t)max_batch ? count - start : (size_t)max_batch);
    double l;
    if ((st = blorc_select(b, idx + start, B, err)) || (st = blorc_factor(b, o->rho, err)) ||
        (st = blorc_admm(b, &o->admm, NULL, err)) || (st = blorc_signs(b, gamma, err)) ||
        (st = blorc_svd(b, o->svd_tol, err)) || (st = blorc_closed_form(b, err)) ||
        (st = blorc_gradient(b, &l, err)) || (st = blorc_read(b, BLORC_BUF_UNIQUE, u, B, err)))
      break;
    /* The backend reports means over the batch's samples with a unique minimiser (all of them
     * for denoising); weight them by that count. */
    size_t ub = 0;
    for (int j = 0; j < B; j++) ub += u[j] != 0.0;
    sum += l * (double)ub;
    total += ub;
    if (G) {
      if ((st = blorc_read(b, BLORC_BUF_GRAD, g, kn, err))) break;
      for (size_t i = 0; i < kn; i++) G[i] += g[i] * (double)ub;
    }
    if (Gy && (st = blorc_read(b, BLORC_BUF_GRAD_Y, Gy + start * m, (size_t)B * m, err))) break;
    if (an) {
      if ((st = blorc_read(b, BLORC_BUF_GRAD_OP, g, an, err))) break;
      for (size_t i = 0; i < an; i++) GA[i] += g[i] * (double)ub;
    }
  }
  free(g), free(u);
  if (st) return st;
  double scale = total ? 1.0 / (double)total : 0.0;
  for (size_t i = 0; G && i < kn; i++) G[i] *= scale;
  for (size_t i = 0; i < an; i++) GA[i] *= scale;
  *loss = sum * scale;
  if (used) *used = total;
  return BLORC_OK;
}

blorc_status blorc_objective(blorc_backend *b, int max_batch, const size_t *idx, size_t count,
                             const blorc_denoise_opts *o, double gamma, double *loss, double *G,
                             blorc_error *err) {
  return blorc_objective_full(b, max_batch, idx, count, o, gamma, loss, G, NULL, NULL, NULL, err);
}

static double aggregate(const double *X, const double *Y, size_t N, int n) {
  double se = 0;
  for (size_t i = 0; i < N * (size_t)n; i++) se += (Y[i] - X[i]) * (Y[i] - X[i]);
  double mse = se / ((double)N * n);
  return mse > 1e-30 ? -10.0 * log10(mse) : 300.0;
}

/* Standard error of 10 log10(mean e_B / mean e_A) (B NULL: of -10 log10(mean e_A)), e the
 * per-signal squared errors, by the delta method: the variance of the log of a mean is
 * var(e) / (N mean^2), and a paired difference subtracts twice the covariance. */
static double aggregate_se(const double *X, const double *A, const double *B, size_t N, int n) {
  if (N < 2) return 0;
  double ma = 0, mb = 0;
  for (size_t j = 0; j < N; j++) {
    for (int i = 0; i < n; i++) {
      size_t e = j * (size_t)n + i;
      ma += (A[e] - X[e]) * (A[e] - X[e]);
      if (B) mb += (B[e] - X[e]) * (B[e] - X[e]);
    }
  }
  ma /= (double)N, mb /= (double)N;
  if (!(ma > 0) || (B && !(mb > 0))) return 0;
  double v = 0;
  for (size_t j = 0; j < N; j++) {
    double ea = 0, eb = 0;
    for (int i = 0; i < n; i++) {
      size_t e = j * (size_t)n + i;
      ea += (A[e] - X[e]) * (A[e] - X[e]);
      if (B) eb += (B[e] - X[e]) * (B[e] - X[e]);
    }
    double d = ea / ma - (B ? eb / mb : 1.0); /* relative deviations; their mean is 0 */
    v += d * d;
  }
  v /= (double)(N - 1) * (double)N;
  return 10.0 / log(10.0) * sqrt(v);
}

/* Statistics of the per-signal PSNR of A minus that of B (B NULL: of A alone). Mean and
 * variance by Welford's update: one pass, no buffer, and no cancellation when the values are
 * large next to their spread. */
static blorc_psnr_stats stats(const double *X, const double *A, const double *B, size_t N, int n) {
  double mean = 0, m2 = 0;
  for (size_t j = 0; j < N; j++) {
    double v = blorc_psnr(A + j * n, X + j * n, n) - (B ? blorc_psnr(B + j * n, X + j * n, n) : 0);
    double delta = v - mean;
    mean += delta / (double)(j + 1);
    m2 += delta * (v - mean);
  }
  blorc_psnr_stats r;
  r.mean = mean;
  r.stderr_ = N > 1 ? sqrt(m2 / (double)(N - 1) / (double)N) : 0;
  r.aggregate = aggregate(X, A, N, n) - (B ? aggregate(X, B, N, n) : 0);
  r.aggregate_se = aggregate_se(X, A, B, N, n);
  return r;
}

blorc_psnr_stats blorc_psnr_of(const double *X, const double *Y, size_t N, int n) {
  return stats(X, Y, NULL, N, n);
}

blorc_psnr_stats blorc_psnr_paired(const double *X, const double *A, const double *B, size_t N,
                                   int n) {
  return stats(X, A, B, N, n);
}

/* A backend holding the data set, for repeated denoising with different W. */
static blorc_status open_eval(blorc_device device, const blorc_operator *op, const double *masks,
                              int k, int n, const double *Y, size_t N, blorc_backend **b,
                              size_t **idx, double **out, blorc_error *err) {
  int cap = N < 256 ? (int)N : 256;
  blorc_status st = blorc_backend_create(device, n, k, cap, b, err);
  if (st) return st;
  if (op && (st = blorc_operator_load(*b, op, N, NULL, Y, masks, err))) return st;
  if (!op && (st = blorc_set_data(*b, N, NULL, Y, err))) return st;
  *idx = malloc(N * sizeof(size_t));
  *out = malloc(N * (size_t)n * sizeof(double));
  if (!*idx || !*out)
    return blorc_fail(err, BLORC_ENOMEM, "eval: out of memory for %zu signals", N);
  for (size_t i = 0; i < N; i++) (*idx)[i] = i;
  return BLORC_OK;
}

static blorc_status psnr_with(blorc_backend *b, const double *W, size_t kn, const size_t *idx,
                              const double *X, double *out, size_t N, int n,
                              const blorc_denoise_opts *o, blorc_psnr_stats *r, blorc_error *err) {
  int cap = N < 256 ? (int)N : 256;
  blorc_status st = blorc_write(b, BLORC_BUF_W, W, kn, err);
  if (!st) st = blorc_denoise(b, cap, idx, N, o, out, NULL, err);
  if (!st) *r = blorc_psnr_of(X, out, N, n);
  return st;
}

blorc_status blorc_eval_psnr(blorc_device device, const blorc_operator *op, const double *masks,
                             const double *W, int k, int n, const double *X, const double *Y,
                             size_t N, const blorc_denoise_opts *o, blorc_psnr_stats *r,
                             double *denoised, blorc_error *err) {
  blorc_backend *b = NULL;
  size_t *idx = NULL;
  double *out = NULL;
  blorc_status st = open_eval(device, op, masks, k, n, Y, N, &b, &idx, &out, err);
  if (!st) st = psnr_with(b, W, (size_t)k * n, idx, X, out, N, n, o, r, err);
  if (!st && denoised) memcpy(denoised, out, N * (size_t)n * sizeof *out);
  blorc_backend_destroy(b);
  free(idx), free(out);
  return st;
}

/* The criterion's PSNR with W = 10^t T. */
static blorc_status at_scale(blorc_backend *b, const double *T, double *W, size_t kn, double t,
                             const size_t *idx, const double *X, double *out, size_t N, int n,
                             const blorc_denoise_opts *o, blorc_tune_criterion crit, double *psnr,
                             blorc_error *err) {
  for (size_t i = 0; i < kn; i++) W[i] = pow(10.0, t) * T[i];
  blorc_psnr_stats r = {0, 0, 0, 0};
  blorc_status st = psnr_with(b, W, kn, idx, X, out, N, n, o, &r, err);
  *psnr = crit == BLORC_TUNE_MSE ? r.aggregate : r.mean;
  return st;
}

blorc_status blorc_tune_beta(blorc_device device, const blorc_operator *op, const double *masks,
                             const double *T, int k, int n, const double *X, const double *Y,
                             size_t N, const blorc_denoise_opts *o, blorc_tune_criterion crit,
                             double *beta, double *psnr, blorc_error *err) {
  if (crit != BLORC_TUNE_MEAN_PSNR && crit != BLORC_TUNE_MSE)
    return blorc_fail(err, BLORC_EINVAL, "tune: criterion %d, expected 0 (mean PSNR) or 1 (MSE)",
                      (int)crit);
  blorc_backend *b = NULL;
  size_t *idx = NULL, kn = (size_t)k * n;
  double *out = NULL, *W = malloc(kn * sizeof(double));
  blorc_status st = W ? open_eval(device, op, masks, k, n, Y, N, &b, &idx, &out, err)
                      : blorc_fail(err, BLORC_ENOMEM, "tune: out of memory");
  /* Golden section on t = log10(beta): PSNR is unimodal in the scale in practice. */
  const double phi = 0.5 * (sqrt(5.0) - 1.0);
  double lo = -4, hi = 2, a = hi - phi * (hi - lo), c = lo + phi * (hi - lo), fa = 0, fc = 0;
  if (!st) st = at_scale(b, T, W, kn, a, idx, X, out, N, n, o, crit, &fa, err);
  if (!st) st = at_scale(b, T, W, kn, c, idx, X, out, N, n, o, crit, &fc, err);
  for (int it = 0; it < 38 && !st; it++) {
    if (fa > fc) { /* the maximum lies in [lo, c] */
      hi = c, c = a, fc = fa, a = hi - phi * (hi - lo);
      st = at_scale(b, T, W, kn, a, idx, X, out, N, n, o, crit, &fa, err);
    } else {
      lo = a, a = c, fa = fc, c = lo + phi * (hi - lo);
      st = at_scale(b, T, W, kn, c, idx, X, out, N, n, o, crit, &fc, err);
    }
  }
  if (!st) {
    *beta = pow(10.0, fa > fc ? a : c);
    *psnr = fa > fc ? fa : fc;
  }
  blorc_backend_destroy(b);
  free(idx), free(out), free(W);
  return st;
}
