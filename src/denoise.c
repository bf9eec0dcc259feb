/* Denoising: ADMM, then the closed form, certified and polished (blorc_polish). */
#include "blorc/denoise.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "blorc/active_set.h"
#include "blorc/elementwise.h"

blorc_denoise_opts blorc_denoise_defaults(void) {
  blorc_denoise_opts o;
  o.rho = 10;
  o.admm = blorc_admm_defaults();
  o.admm.tol = 1e-10;
  o.admm.max_iters = 20000;
  o.polish_gamma = 1e-7;
  o.svd_tol = 1e-8;
  o.polish = blorc_polish_defaults();
  return o;
}

double blorc_psnr(const double *x, const double *ref, int n) {
  double mse = 0;
  for (int i = 0; i < n; i++) mse += (x[i] - ref[i]) * (x[i] - ref[i]);
  mse /= n;
  return mse > 1e-30 ? -10.0 * log10(mse) : 300.0;
}

int blorc_closed_form_agrees(const double *x_admm, const double *x_star, size_t dim,
                             double admm_tol, double nearby) {
  /* ||y|| is not at hand; ||x_admm|| has the same scale for a denoiser. */
  double d = 0, s = 0;
  for (size_t i = 0; i < dim; i++)
    d += (x_admm[i] - x_star[i]) * (x_admm[i] - x_star[i]), s += x_admm[i] * x_admm[i];
  return blorc_agrees(d, s, admm_tol, nearby);
}

blorc_status blorc_denoise(blorc_backend *b, int max_batch, const size_t *idx, size_t count,
                           const blorc_denoise_opts *o, double *out, blorc_denoise_stats *stats,
                           blorc_error *err) {
  blorc_denoise_stats local = {0};
  if (!stats) stats = &local;
  memset(stats, 0, sizeof *stats);
  double *xa = NULL, *xs = NULL, *cert = NULL;
  blorc_status st = BLORC_OK;
  size_t nb = (size_t)max_batch;
  for (size_t start = 0; start < count && st == BLORC_OK; start += nb) {
    int B = (int)(count - start < nb ? count - start : nb);
    blorc_admm_stats as;
    if ((st = blorc_select(b, idx + start, B, err)) || (st = blorc_factor(b, o->rho, err)) ||
        (st = blorc_admm(b, &o->admm, &as, err)) || (st = blorc_signs(b, o->polish_gamma, err)) ||
        (st = blorc_svd(b, o->svd_tol, err)) || (st = blorc_closed_form(b, err)) ||
        (st = blorc_polish(b, &o->polish, NULL, err)))
      break;
    size_t len = blorc_buffer_size(b, BLORC_BUF_XSTAR), dim = len / B;
    if (!xa) {
      xa = malloc(nb * dim * sizeof(double));
      xs = malloc(nb * dim * sizeof(double));
      cert = malloc(nb * BLORC_CERT_COLUMNS * sizeof(double));
      if (!xa || !xs || !cert) {
        st = blorc_fail(err, BLORC_ENOMEM, "denoise: out of memory for a batch of %d", B);
        break;
      }
    }
    if ((st = blorc_read(b, BLORC_BUF_X_ADMM, xa, len, err)) ||
        (st = blorc_read(b, BLORC_BUF_XSTAR, xs, len, err)) ||
        (st = blorc_read(b, BLORC_BUF_CERT, cert, (size_t)B * BLORC_CERT_COLUMNS, err)))
      break;
    stats->iters += as.iters_total;
    stats->at_cap += (size_t)as.at_cap;
    for (int j = 0; j < B; j++) {
      const double *a = xa + (size_t)j * dim, *c = xs + (size_t)j * dim;
      int certified = cert[(size_t)j * BLORC_CERT_COLUMNS + BLORC_CERT_OK] != 0.0;
      int use = certified || blorc_closed_form_agrees(a, c, dim, o->admm.tol, 0);
      stats->certified += (size_t)certified;
      memcpy(out + (start + j) * dim, use ? c : a, dim * sizeof(double));
      if (use)
        stats->polished++;
      else
        stats->unpolished++;
    }
  }
  free(xa), free(xs), free(cert);
  return st;
}
