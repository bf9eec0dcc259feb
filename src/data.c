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

enum { STRIPE_IMAGE = 256, STRIPE_PERIOD = 16, STRIPE_STRIDE = 7 };

static size_t patches_per_side(int side) {
  return side < 1 || side > STRIPE_IMAGE ? 0 : (size_t)(STRIPE_IMAGE - side) / STRIPE_STRIDE + 1;
}

size_t blorc_stripes_count(int side) {
  size_t p = patches_per_side(side);
  return 2 * p * p;
}

blorc_status blorc_generate_stripes(int side, double sigma, int random_phase, blorc_rng *rng,
                                    double *clean, double *noisy, blorc_error *err) {
  size_t p = patches_per_side(side);
  if (p == 0 || !(sigma >= 0))
    return blorc_fail(err, BLORC_EINVAL,
                      "stripes: patch side %d and sigma %g, expected 1..%d and >= 0", side, sigma,
                      STRIPE_IMAGE);
  const size_t S = STRIPE_IMAGE;
  double *img = malloc(S * S * sizeof(double)), *nimg = malloc(S * S * sizeof(double));
  if (!img || !nimg) {
    free(img), free(nimg);
    return blorc_fail(err, BLORC_ENOMEM, "stripes: out of memory for the images");
  }
  size_t n = (size_t)side * side, t = 0;
  for (int which = 0; which < 2; which++) {
    size_t shift = random_phase ? blorc_rng_below(rng, 2 * STRIPE_PERIOD) : 0;
    for (size_t r = 0; r < S; r++)
      for (size_t c = 0; c < S; c++) {
        size_t phase = shift + (which == 0 ? c : r + c); /* vertical, then diagonal */
        img[r * S + c] = (phase / STRIPE_PERIOD) % 2 ? 1.0 : 0.0;
        nimg[r * S + c] = img[r * S + c] + sigma * blorc_rng_normal(rng);
      }
    for (size_t pr = 0; pr < p; pr++)
      for (size_t pc = 0; pc < p; pc++, t++)
        for (int i = 0; i < side; i++)
          for (int j = 0; j < side; j++) {
            size_t src = (pr * STRIPE_STRIDE + i) * S + pc * STRIPE_STRIDE + j;
            clean[t * n + (size_t)i * side + j] = img[src];
            noisy[t * n + (size_t)i * side + j] = nimg[src];
          }
  }
  free(img), free(nimg);
  return BLORC_OK;
}

blorc_status blorc_sample_stripes(int side, double sigma, int random_phase, blorc_rng *rng,
                                  size_t count, double *clean, double *noisy, blorc_error *err) {
  size_t total = blorc_stripes_count(side), n = (size_t)side * side;
  if (count > total)
    return blorc_fail(err, BLORC_EINVAL,
                      "stripes: %zu patches asked for, the images give %zu of %d x %d", count,
                      total, side, side);
  double *X = malloc(total * n * sizeof(double)), *Y = malloc(total * n * sizeof(double));
  size_t *perm = malloc(total * sizeof(size_t));
  blorc_status st = X && Y && perm
                        ? blorc_generate_stripes(side, sigma, random_phase, rng, X, Y, err)
                        : blorc_fail(err, BLORC_ENOMEM, "stripes: out of memory");
  if (!st) {
    for (size_t i = 0; i < total; i++) perm[i] = i;
    blorc_rng_shuffle(rng, perm, total);
    for (size_t i = 0; i < count; i++) {
      memcpy(clean + i * n, X + perm[i] * n, n * sizeof(double));
      memcpy(noisy + i * n, Y + perm[i] * n, n * sizeof(double));
    }
  }
  free(X), free(Y), free(perm);
  return st;
}
