/* The paper's signal generators. */
#include "blorc/data.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "blorc/transforms.h"

static void piecewise(int n, blorc_rng *rng, double *x) {
  double h = blorc_rng_uniform(rng);
  for (int i = 0; i < n; i++) {
    if (i > 0 && blorc_rng_uniform(rng) < 0.1) h = blorc_rng_uniform(rng);
    x[i] = h;
  }
}

/* x = D^T c with D the orthonormal DCT (k = n rows). */
static void dct_sparse(int n, const double *D, blorc_rng *rng, double *c, double *x) {
  for (int f = 0; f < n; f++)
    c[f] = blorc_rng_uniform(rng) < 0.1 ? 2.0 * blorc_rng_uniform(rng) - 1.0 : 0.0;
  memset(x, 0, (size_t)n * sizeof(double));
  for (int f = 0; f < n; f++)
    if (c[f] != 0.0)
      for (int i = 0; i < n; i++) x[i] += D[(size_t)f * n + i] * c[f];
}

blorc_status blorc_generate(blorc_data_kind kind, int n, size_t count, double sigma, blorc_rng *rng,
                            double *clean, double *noisy, blorc_error *err) {
  if (n < 1 || count < 1 || !(sigma >= 0))
    return blorc_fail(err, BLORC_EINVAL,
                      "data: n=%d count=%zu sigma=%g, expected n >= 1, "
                      "count >= 1, sigma >= 0",
                      n, count, sigma);
  double *D = NULL, *c = NULL;
  if (kind == BLORC_DATA_DCT) {
    D = malloc((size_t)n * n * sizeof(double));
    c = malloc((size_t)n * sizeof(double));
    if (!D || !c) {
      free(D), free(c);
      return blorc_fail(err, BLORC_ENOMEM, "data: out of memory for the DCT of n=%d", n);
    }
    blorc_transform_fill(BLORC_TRANSFORM_DCT, n, 1.0, D, NULL);
  }
  for (size_t t = 0; t < count; t++) {
    double *x = clean + t * n, *y = noisy + t * n;
    if (kind == BLORC_DATA_DCT)
      dct_sparse(n, D, rng, c, x);
    else
      piecewise(n, rng, x);
    for (int i = 0; i < n; i++) y[i] = x[i] + sigma * blorc_rng_normal(rng);
  }
  free(D), free(c);
  return BLORC_OK;
}
