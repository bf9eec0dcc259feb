/* The data set and the initial W a run configuration describes. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "blorc/data.h"
#include "blorc/npy.h"
#include "blorc/operator.h"
#include "blorc/train.h"
#include "blorc/transforms.h"

static blorc_status check_matrix(const char *what, const blorc_array *a, int n, blorc_error *err) {
  if (a->ndim != 2)
    return blorc_fail(err, BLORC_EFORMAT, "%s: 1-D array of %zu values, expected shape (N, %d)",
                      what, a->rows, n);
  if (n > 0 && (int)a->cols != n)
    return blorc_fail(err, BLORC_EFORMAT, "%s: shape (%zu, %zu), expected (N, %d)", what, a->rows,
                      a->cols, n);
  for (size_t i = 0; i < a->rows * a->cols; i++)
    if (!isfinite(a->data[i]))
      return blorc_fail(err, BLORC_EFORMAT, "%s: non-finite value at row %zu column %zu", what,
                        i / a->cols, i % a->cols);
  return BLORC_OK;
}

/* m: the measurements' length (n without an operator). */
static blorc_status load_files(const blorc_config *c, int m, size_t need, double **X, double **Y,
                               blorc_error *err) {
  blorc_array ax = {0}, ay = {0};
  blorc_status st = blorc_npy_load(c->clean, &ax, err);
  if (!st) st = check_matrix(c->clean, &ax, c->n, err);
  if (!st) st = blorc_npy_load(c->noisy, &ay, err);
  if (!st) st = check_matrix(c->noisy, &ay, m, err);
  if (!st && ax.rows != ay.rows)
    st = blorc_fail(err, BLORC_EFORMAT, "%s has %zu signals but %s has %zu: expected the same",
                    c->clean, ax.rows, c->noisy, ay.rows);
  if (!st && ax.rows < need)
    st =
        blorc_fail(err, BLORC_EINVAL, "%s: %zu signals, but data.train + data.val = %zu are needed",
                   c->clean, ax.rows, need);
  if (st) {
    blorc_array_free(&ax), blorc_array_free(&ay);
    return st;
  }
  *X = ax.data; /* the first `need` rows are used */
  *Y = ay.data;
  return BLORC_OK;
}

blorc_status blorc_dataset(const blorc_config *c, double **clean, double **noisy, size_t *N,
                           blorc_error *err) {
  *clean = *noisy = NULL;
  size_t need = (size_t)c->train + (size_t)c->val;
  *N = need;
  if (strcmp(c->data_kind, "files") == 0) return load_files(c, c->n, need, clean, noisy, err);
  blorc_rng rng;
  blorc_rng_seed(&rng, (uint64_t)c->data_seed);
  size_t n = (size_t)c->n, total = need;
  int side = 0;
  if (strcmp(c->data_kind, "stripes") == 0) {
    side = (int)lround(sqrt((double)c->n));
    if (side * side != c->n)
      return blorc_fail(err, BLORC_EINVAL,
                        "data.n = %d: stripes need a square patch size (64 = 8 x 8)", c->n);
    total = blorc_stripes_count(side);
    if (total < need)
      return blorc_fail(
          err, BLORC_EINVAL,
          "data.train + data.val = %zu, but the stripe images give %zu patches of %d x %d", need,
          total, side, side);
  }
  double *X = malloc(need * n * sizeof(double)), *Y = malloc(need * n * sizeof(double));
  if (!X || !Y) {
    free(X), free(Y);
    return blorc_fail(err, BLORC_ENOMEM, "out of memory for %zu signals of length %zu", need, n);
  }
  blorc_status st;
  if (side) {
    st = blorc_sample_stripes(side, c->sigma, strcmp(c->stripe_phase, "random") == 0, &rng, need, X,
                              Y, err);
  } else {
    blorc_data_kind kind = strcmp(c->data_kind, "dct") == 0 ? BLORC_DATA_DCT : BLORC_DATA_PIECEWISE;
    st = blorc_generate(kind, c->n, total, c->sigma, &rng, X, Y, err);
  }
  if (st) {
    free(X), free(Y);
    return st;
  }
  *clean = X, *noisy = Y;
  return BLORC_OK;
}

blorc_status blorc_dataset_op(const blorc_config *c, const blorc_operator *op, double **clean,
                              double **meas, double **masks, size_t *N, blorc_error *err) {
  *masks = NULL;
  if (op->kind == BLORC_OP_IDENTITY) return blorc_dataset(c, clean, meas, N, err);
  size_t need = (size_t)c->train + (size_t)c->val, n = (size_t)c->n;
  *N = need;
  *clean = *meas = NULL;
  blorc_status st;
  double *mk = NULL;
  if (op->kind == BLORC_OP_MASK && !(mk = malloc(need * n * sizeof(double))))
    return blorc_fail(err, BLORC_ENOMEM, "out of memory for %zu masks", need);
  if (strcmp(c->data_kind, "files") == 0) {
    st = load_files(c, op->m, need, clean, meas, err);
    if (!st && op->kind == BLORC_OP_MASK) {
      blorc_array am = {0};
      if (!c->masks[0])
        st = blorc_fail(err, BLORC_EINVAL,
                        "config data.masks: the inpainting operator with data.kind = files needs "
                        "the masks .npy (N x %d, 1 observed, 0 missing)",
                        c->n);
      if (!st) st = blorc_npy_load(c->masks, &am, err);
      if (!st) st = check_matrix(c->masks, &am, c->n, err);
      if (!st && am.rows < need)
        st = blorc_fail(err, BLORC_EINVAL, "%s: %zu masks, but %zu signals are used", c->masks,
                        am.rows, need);
      if (!st) st = blorc_operator_check_masks(am.data, need, c->n, c->masks, err);
      if (!st) memcpy(mk, am.data, need * n * sizeof(double));
      blorc_array_free(&am);
    }
  } else {
    double *noisy = NULL;
    st = blorc_dataset(c, clean, &noisy, N, err);
    free(noisy);
    if (!st && !(*meas = malloc(need * (size_t)op->m * sizeof(double))))
      st = blorc_fail(err, BLORC_ENOMEM, "out of memory for %zu measurements", need);
    /* The denoising noise is not reused: y has another length for a matrix. */
    if (!st)
      blorc_operator_simulate(op, need, *clean, c->sigma, (uint64_t)c->data_seed,
                              (uint64_t)c->op_seed, *meas, mk);
  }
  if (st) {
    free(*clean), free(*meas), free(mk);
    *clean = *meas = NULL;
    return st;
  }
  *masks = mk;
  return BLORC_OK;
}

blorc_status blorc_initial_w(const blorc_config *c, double **W, int *k, blorc_error *err) {
  *W = NULL;
  blorc_transform_kind kind;
  size_t len = strlen(c->init);
  if (len > 4 && strcmp(c->init + len - 4, ".npy") == 0) {
    blorc_array a = {0};
    blorc_status st = blorc_npy_load(c->init, &a, err);
    if (!st && a.ndim != 2)
      st = blorc_fail(err, BLORC_EFORMAT, "%s: 1-D array, expected W of shape (k, %d)", c->init,
                      c->n);
    if (!st && (int)a.cols != c->n)
      st = blorc_fail(err, BLORC_EFORMAT,
                      "%s: W has shape (%zu, %zu), expected (k, %d) to match n = %d", c->init,
                      a.rows, a.cols, c->n, c->n);
    if (!st) st = check_matrix(c->init, &a, c->n, err);
    if (st) {
      blorc_array_free(&a);
      return st;
    }
    *k = (int)a.rows;
    *W = a.data; /* a file is used as it is: init_scale applies to named transforms */
    return BLORC_OK;
  }
  blorc_error e2;
  if (blorc_transform_parse(c->init, &kind, &e2) != BLORC_OK)
    return blorc_fail(err, BLORC_EINVAL,
                      "model.init = '%s': expected identity, tv, dct, tv2d or a .npy file",
                      c->init);
  blorc_status st = blorc_transform_rows(kind, c->n, k, err);
  if (st) return st;
  *W = malloc((size_t)*k * c->n * sizeof(double));
  if (!*W) return blorc_fail(err, BLORC_ENOMEM, "out of memory for W");
  return blorc_transform_fill(kind, c->n, c->init_scale, *W, err);
}
