/* Forward operators from their spec text (blorc/operator.h). */
#include "blorc/operator.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blorc/npy.h"

/* The number after "name:" in spec, or -1 when spec does not start with it. */
static int after(const char *spec, const char *name, double *value) {
  size_t len = strlen(name);
  if (strncmp(spec, name, len) != 0 || spec[len] != ':') return -1;
  char *end;
  *value = strtod(spec + len + 1, &end);
  return end != spec + len + 1 && *end == '\0' && isfinite(*value);
}

/* Row-normalised Gaussian taps of width sigma into the `len` x `len` matrix T. */
static void blur_taps(int len, double sigma, double *T) {
  int half = (int)ceil(3 * sigma);
  memset(T, 0, (size_t)len * len * sizeof(double));
  for (int i = 0; i < len; i++) {
    double s = 0;
    for (int d = -half; d <= half; d++)
      if (i + d >= 0 && i + d < len) s += exp(-0.5 * d * d / (sigma * sigma));
    for (int d = -half; d <= half; d++)
      if (i + d >= 0 && i + d < len)
        T[(size_t)i * len + i + d] = exp(-0.5 * d * d / (sigma * sigma)) / s;
  }
}

static blorc_status from_file(const char *spec, int n, const char *where, blorc_operator *op,
                              blorc_error *err) {
  blorc_array a = {0};
  blorc_status st = blorc_npy_load(spec, &a, err);
  if (st) return st;
  if (a.ndim != 2 || (int)a.cols != n || a.rows < 1)
    st = blorc_fail(err, BLORC_EFORMAT,
                    "%s: %s has shape (%zu%s%zu), expected an m x n matrix with n = %d", where,
                    spec, a.rows, a.ndim == 2 ? ", " : ",", a.ndim == 2 ? a.cols : 0, n);
  for (size_t i = 0; !st && i < a.rows * a.cols; i++)
    if (!isfinite(a.data[i]))
      st = blorc_fail(err, BLORC_EFORMAT, "%s: %s has a non-finite value at row %zu column %zu",
                      where, spec, i / a.cols, i % a.cols);
  if (st) {
    blorc_array_free(&a);
    return st;
  }
  op->kind = BLORC_OP_MATRIX;
  op->m = (int)a.rows;
  op->A = a.data;
  snprintf(op->desc, sizeof op->desc, "matrix %s (%d x %d)", spec, op->m, n);
  return BLORC_OK;
}

blorc_status blorc_operator_parse(const char *spec, int n, uint64_t seed, double ridge,
                                  const char *where, blorc_operator *op, blorc_error *err) {
  memset(op, 0, sizeof *op);
  op->n = op->m = n;
  op->kind = BLORC_OP_IDENTITY;
  if (!(ridge >= 0) || !isfinite(ridge))
    return blorc_fail(err, BLORC_EINVAL, "%s: ridge %g, expected a finite value >= 0", where,
                      ridge);
  op->ridge = ridge;
  double v;
  int r;
  size_t len = strlen(spec);
  if (strcmp(spec, "identity") == 0) {
    if (ridge != 0)
      return blorc_fail(err, BLORC_EINVAL,
                        "%s: identity with ridge %g; the identity takes ridge 0 (denoising)", where,
                        ridge);
    snprintf(op->desc, sizeof op->desc, "identity (denoising)");
    return BLORC_OK;
  }
  if ((r = after(spec, "inpaint", &v)) >= 0) {
    if (!r || v < 0 || v >= 1)
      return blorc_fail(err, BLORC_EINVAL,
                        "%s: '%s', expected inpaint:FRACTION with 0 <= FRACTION < 1 (the share "
                        "of missing entries)",
                        where, spec);
    op->kind = BLORC_OP_MASK;
    op->missing = v;
    snprintf(op->desc, sizeof op->desc, "inpainting, per-sample masks with %.3g%% missing",
             100 * v);
    return BLORC_OK;
  }
  if ((r = after(spec, "cs", &v)) >= 0) {
    if (!r || v < 1 || v != floor(v) || v > 1e6)
      return blorc_fail(err, BLORC_EINVAL,
                        "%s: '%s', expected cs:M with M a whole number of measurements >= 1", where,
                        spec);
    op->kind = BLORC_OP_MATRIX;
    op->m = (int)v;
    op->A = malloc((size_t)op->m * n * sizeof(double));
    if (!op->A) return blorc_fail(err, BLORC_ENOMEM, "%s: out of memory for A", where);
    blorc_rng rng;
    blorc_rng_seed(&rng, seed);
    double s = 1.0 / sqrt((double)op->m);
    for (size_t i = 0; i < (size_t)op->m * n; i++) op->A[i] = s * blorc_rng_normal(&rng);
    snprintf(op->desc, sizeof op->desc,
             "compressed sensing, %d x %d Gaussian matrix (entries N(0, 1/%d), seed %llu)", op->m,
             n, op->m, (unsigned long long)seed);
    return BLORC_OK;
  }
  int two = 0;
  if ((r = after(spec, "blur", &v)) >= 0 || (two = 1, r = after(spec, "blur2d", &v)) >= 0) {
    if (!r || !(v > 0) || v > 1e3)
      return blorc_fail(err, BLORC_EINVAL, "%s: '%s', expected %s:SIGMA with SIGMA > 0 (pixels)",
                        where, spec, two ? "blur2d" : "blur");
    int side = (int)lround(sqrt((double)n));
    if (two && side * side != n)
      return blorc_fail(err, BLORC_EINVAL, "%s: '%s' needs square patches, but n = %d", where, spec,
                        n);
    op->kind = BLORC_OP_MATRIX;
    op->A = malloc((size_t)n * n * sizeof(double));
    double *T = malloc((size_t)n * n * sizeof(double));
    if (!op->A || !T) {
      free(T);
      blorc_operator_free(op);
      return blorc_fail(err, BLORC_ENOMEM, "%s: out of memory for A", where);
    }
    if (!two) {
      blur_taps(n, v, op->A);
    } else { /* A = T kron T on row-major patches: pixel (r, c) is index r side + c */
      blur_taps(side, v, T);
      for (int r1 = 0; r1 < side; r1++)
        for (int c1 = 0; c1 < side; c1++)
          for (int r2 = 0; r2 < side; r2++)
            for (int c2 = 0; c2 < side; c2++)
              op->A[(size_t)(r1 * side + c1) * n + r2 * side + c2] =
                  T[(size_t)r1 * side + r2] * T[(size_t)c1 * side + c2];
    }
    free(T);
    snprintf(op->desc, sizeof op->desc, "%s Gaussian blur, sigma %g pixels", two ? "2D" : "1D", v);
    return BLORC_OK;
  }
  if (len > 4 && strcmp(spec + len - 4, ".npy") == 0) return from_file(spec, n, where, op, err);
  return blorc_fail(err, BLORC_EINVAL,
                    "%s: '%s', expected identity, inpaint:FRACTION, cs:M, blur:SIGMA, "
                    "blur2d:SIGMA or an m x n .npy file",
                    where, spec);
}

void blorc_operator_free(blorc_operator *op) {
  free(op->A);
  op->A = NULL;
}

void blorc_operator_draw_masks(const blorc_operator *op, size_t N, blorc_rng *rng, double *masks) {
  int n = op->n;
  for (size_t j = 0; j < N; j++) {
    double *mk = masks + j * n;
    int seen = 0;
    for (int i = 0; i < n; i++) seen += (mk[i] = blorc_rng_uniform(rng) >= op->missing) != 0;
    if (!seen) mk[blorc_rng_below(rng, (uint64_t)n)] = 1.0;
  }
}

void blorc_operator_measure(const blorc_operator *op, size_t N, const double *X,
                            const double *masks, double sigma, blorc_rng *rng, double *Y) {
  int n = op->n, m = op->m;
  for (size_t j = 0; j < N; j++) {
    const double *x = X + j * n;
    double *y = Y + j * m;
    for (int i = 0; i < m; i++) {
      double v;
      if (op->kind == BLORC_OP_MATRIX) {
        v = 0;
        for (int c = 0; c < n; c++) v += op->A[(size_t)i * n + c] * x[c];
      } else {
        v = x[i];
      }
      v += sigma * blorc_rng_normal(rng);
      y[i] = op->kind == BLORC_OP_MASK ? masks[j * n + i] * v : v;
    }
  }
}

void blorc_operator_simulate(const blorc_operator *op, size_t N, const double *X, double sigma,
                             uint64_t data_seed, uint64_t mask_seed, double *Y, double *masks) {
  const uint64_t stream = 0x6f70657261746f72ULL; /* "operator" */
  blorc_rng rng;
  if (op->kind == BLORC_OP_MASK) {
    blorc_rng_seed(&rng, mask_seed);
    blorc_operator_draw_masks(op, N, &rng, masks);
  }
  blorc_rng_seed(&rng, data_seed ^ stream);
  blorc_operator_measure(op, N, X, masks, sigma, &rng, Y);
}

blorc_status blorc_operator_check_masks(const double *masks, size_t N, int n, const char *what,
                                        blorc_error *err) {
  for (size_t j = 0; j < N; j++) {
    int seen = 0;
    for (int i = 0; i < n; i++) {
      double v = masks[j * n + i];
      if (v != 0.0 && v != 1.0)
        return blorc_fail(err, BLORC_EFORMAT,
                          "%s: value %g at row %zu column %d, expected 0 (missing) or 1 "
                          "(observed)",
                          what, v, j, i);
      seen += v == 1.0;
    }
    if (!seen)
      return blorc_fail(err, BLORC_EFORMAT, "%s: row %zu observes nothing (every entry 0)", what,
                        j);
  }
  return BLORC_OK;
}

blorc_status blorc_operator_install(blorc_backend *b, const blorc_operator *op, blorc_error *err) {
  return blorc_set_operator(b, op->kind, op->m, op->kind == BLORC_OP_MATRIX ? op->A : NULL,
                            op->ridge, err);
}

blorc_status blorc_operator_load(blorc_backend *b, const blorc_operator *op, size_t N,
                                 const double *X, const double *Y, const double *masks,
                                 blorc_error *err) {
  blorc_status st = blorc_operator_install(b, op, err);
  if (!st) st = blorc_set_data(b, N, X, Y, err);
  if (!st && op->kind == BLORC_OP_MASK) st = blorc_set_masks(b, masks, err);
  return st;
}
