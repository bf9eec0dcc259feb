/* The lower level as a differentiable layer: forward by the denoising stages, backward by the
 * gradient stage with an upstream gradient in place of x* - x (BLORC_BUF_UPSTREAM). */
#include "blorc/layer.h"

#include <stdlib.h>
#include <string.h>

#include "backend_impl.h"
#include "blorc/active_set.h"

/* ok[j] = 1 for a sample with a gradient (certified and unique); counts into stats. */
static blorc_status with_gradient(blorc_backend *b, int B, double *ok, blorc_layer_stats *stats,
                                  blorc_error *err) {
  double *cert = malloc((size_t)B * BLORC_CERT_COLUMNS * sizeof(double));
  if (!cert) return blorc_fail(err, BLORC_ENOMEM, "layer: out of memory for a batch of %d", B);
  blorc_status st = blorc_read(b, BLORC_BUF_UNIQUE, ok, (size_t)B, err);
  if (!st) st = blorc_read(b, BLORC_BUF_CERT, cert, (size_t)B * BLORC_CERT_COLUMNS, err);
  for (int j = 0; !st && j < B; j++) {
    int certified = cert[(size_t)j * BLORC_CERT_COLUMNS + BLORC_CERT_OK] != 0.0;
    int unique = ok[j] != 0.0;
    stats->certified += certified;
    stats->unique += unique;
    stats->with_gradient += certified && unique;
    ok[j] = certified && unique;
  }
  free(cert);
  return st;
}

blorc_status blorc_layer_forward(blorc_backend *b, const double *W, const double *Y,
                                 const double *masks, int B, const blorc_denoise_opts *o, double *x,
                                 double *ok, blorc_layer_stats *stats, blorc_error *err) {
  blorc_layer_stats local;
  if (!stats) stats = &local;
  memset(stats, 0, sizeof *stats);
  if (B < 1 || B > b->cap)
    return blorc_fail(err, BLORC_EINVAL, "layer: batch of %d, the backend takes at most %d", B,
                      b->cap);
  size_t len;
  size_t *idx = malloc((size_t)B * sizeof(size_t));
  double *flag = malloc((size_t)B * sizeof(double));
  blorc_status st = BLORC_OK;
  if (!idx || !flag) st = blorc_fail(err, BLORC_ENOMEM, "layer: out of memory");
  for (int j = 0; !st && j < B; j++) idx[j] = (size_t)j;
  blorc_admm_stats as = {0};
  if (!st) st = blorc_write(b, BLORC_BUF_W, W, blorc_buffer_size(b, BLORC_BUF_W), err);
  if (!st) st = blorc_set_data(b, (size_t)B, NULL, Y, err);
  if (!st && masks) st = blorc_set_masks(b, masks, err);
  if (!st) st = blorc_select(b, idx, B, err);
  if (!st) st = blorc_factor(b, o->rho, err);
  if (!st) st = blorc_admm(b, &o->admm, &as, err);
  if (!st) st = blorc_signs(b, o->polish_gamma, err);
  if (!st) st = blorc_svd(b, o->svd_tol, err);
  if (!st) st = blorc_closed_form(b, err);
  if (!st) st = blorc_polish(b, &o->polish, NULL, err);
  if (!st) st = with_gradient(b, B, flag, stats, err);
  len = blorc_buffer_size(b, BLORC_BUF_XSTAR);
  double *xadmm = st ? NULL : malloc(len * sizeof(double));
  if (!st && !xadmm) st = blorc_fail(err, BLORC_ENOMEM, "layer: out of memory");
  if (!st) st = blorc_read(b, BLORC_BUF_XSTAR, x, len, err);
  if (!st) st = blorc_read(b, BLORC_BUF_X_ADMM, xadmm, len, err);
  if (!st) {
    /* Where there is no gradient the closed form may belong to a wrong pattern: ADMM's
     * iterate is the better answer. */
    size_t dim = len / (size_t)B;
    for (int j = 0; j < B; j++) {
      if (flag[j] == 0.0) memcpy(x + j * dim, xadmm + j * dim, dim * sizeof(double));
      if (ok) ok[j] = flag[j];
    }
    stats->iters = as.iters_total;
    stats->at_cap = as.at_cap;
  }
  free(idx), free(flag), free(xadmm);
  return st;
}

blorc_status blorc_layer_backward(blorc_backend *b, const double *gx, double *gW, double *gy,
                                  double *gA, blorc_error *err) {
  size_t B = blorc_buffer_size(b, BLORC_BUF_UNIQUE), kn = blorc_buffer_size(b, BLORC_BUF_W);
  size_t m = (size_t)blorc_operator_rows(b), an = blorc_buffer_size(b, BLORC_BUF_GRAD_OP);
  if (B == 0) return blorc_fail(err, BLORC_EINVAL, "layer backward: run blorc_layer_forward first");
  blorc_layer_stats counts = {0};
  double *ok = malloc(B * sizeof(double));
  if (!ok) return blorc_fail(err, BLORC_ENOMEM, "layer backward: out of memory");
  blorc_status st =
      blorc_write(b, BLORC_BUF_UPSTREAM, gx, blorc_buffer_size(b, BLORC_BUF_XSTAR), err);
  if (!st) st = with_gradient(b, (int)B, ok, &counts, err);
  int used = counts.with_gradient;
  if (!st && used == 0) { /* nothing to differentiate (the gradient stage would refuse) */
    memset(gW, 0, kn * sizeof(double));
    if (gy) memset(gy, 0, B * m * sizeof(double));
    if (gA && an) memset(gA, 0, an * sizeof(double));
    free(ok);
    return BLORC_OK;
  }
  double loss;
  if (!st) st = blorc_gradient(b, &loss, err);
  if (!st) st = blorc_read(b, BLORC_BUF_GRAD, gW, kn, err);
  /* The stage reports the mean over the samples with a gradient; the layer's is the sum. */
  for (size_t i = 0; !st && i < kn; i++) gW[i] *= used;
  if (!st && gy) st = blorc_read(b, BLORC_BUF_GRAD_Y, gy, B * m, err);
  for (size_t j = 0; !st && gy && j < B; j++)
    if (ok[j] == 0.0) memset(gy + j * m, 0, m * sizeof(double));
  if (!st && gA && an) st = blorc_read(b, BLORC_BUF_GRAD_OP, gA, an, err);
  for (size_t i = 0; !st && gA && i < an; i++) gA[i] *= used;
  free(ok);
  return st;
}
