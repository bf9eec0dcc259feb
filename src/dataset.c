/* The data set and the initial W a run configuration describes. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "blorc/data.h"
#include "blorc/npy.h"
#include "blorc/operator.h"
#include "blorc/train.h"
#include "blorc/transforms.h"

/* first: the file row of a's first row (a window of the file), for the messages. */
static blorc_status check_rows(const char *what, const blorc_array *a, size_t first, int n,
                               blorc_error *err) {
  if (a->ndim != 2)
    return blorc_fail(err, BLORC_EFORMAT, "%s: 1-D array of %zu values, expected shape (N, %d)",
                      what, a->rows, n);
  if (n > 0 && (int)a->cols != n)
    return blorc_fail(err, BLORC_EFORMAT, "%s: shape (%zu, %zu), expected (N, %d)", what, a->rows,
                      a->cols, n);
  for (size_t i = 0; i < a->rows * a->cols; i++)
    if (!isfinite(a->data[i]))
      return blorc_fail(err, BLORC_EFORMAT, "%s: non-finite value at row %zu column %zu", what,
                        first + i / a->cols, i % a->cols);
  return BLORC_OK;
}

static blorc_status check_matrix(const char *what, const blorc_array *a, int n, blorc_error *err) {
  return check_rows(what, a, 0, n, err);
}

/* The rows a caller holds: training rows [tlo, thi) and validation rows [vlo, vhi), counted
 * within each part; blorc_dataset_op takes them all. */
typedef struct shard {
  size_t tlo, thi, vlo, vhi;
} shard;

static size_t shard_rows(const shard *s) {
  return (s->thi - s->tlo) + (s->vhi - s->vlo);
}

/* The shard's rows of one file (N x cols, at least need rows): its training rows, then its
 * validation rows, which follow the training part (train rows) in the file. */
static blorc_status load_shard_file(const char *path, int cols, size_t need, size_t train,
                                    const shard *s, double **out, size_t *total, blorc_error *err) {
  blorc_array a = {0}, b = {0};
  size_t rows = 0;
  blorc_status st = blorc_npy_load_rows(path, 0, 0, &a, &rows, err); /* the header alone */
  blorc_array_free(&a);
  if (!st && rows < need)
    st =
        blorc_fail(err, BLORC_EINVAL, "%s: %zu signals, but data.train + data.val = %zu are needed",
                   path, rows, need);
  if (!st) st = blorc_npy_load_rows(path, s->tlo, s->thi - s->tlo, &a, NULL, err);
  if (!st) st = check_rows(path, &a, s->tlo, cols, err);
  if (!st) st = blorc_npy_load_rows(path, train + s->vlo, s->vhi - s->vlo, &b, NULL, err);
  if (!st) st = check_rows(path, &b, train + s->vlo, cols, err);
  double *all = NULL;
  size_t width = a.cols ? a.cols : b.cols;
  if (!st && !(all = malloc((shard_rows(s) ? shard_rows(s) : 1) * width * sizeof(double))))
    st = blorc_fail(err, BLORC_ENOMEM, "%s: out of memory for %zu rows", path, shard_rows(s));
  if (!st) {
    memcpy(all, a.data, a.rows * a.cols * sizeof(double));
    memcpy(all + a.rows * a.cols, b.data, b.rows * b.cols * sizeof(double));
    *out = all;
    if (total) *total = rows;
  }
  blorc_array_free(&a), blorc_array_free(&b);
  return st;
}

/* m: the measurements' length (n without an operator). */
static blorc_status load_files(const blorc_config *c, int m, const shard *s, double **X, double **Y,
                               blorc_error *err) {
  size_t need = (size_t)c->train + (size_t)c->val, nx = 0, ny = 0;
  *X = *Y = NULL;
  blorc_status st = load_shard_file(c->clean, c->n, need, (size_t)c->train, s, X, &nx, err);
  if (!st) st = load_shard_file(c->noisy, m, need, (size_t)c->train, s, Y, &ny, err);
  if (!st && nx != ny)
    st = blorc_fail(err, BLORC_EFORMAT, "%s has %zu signals but %s has %zu: expected the same",
                    c->clean, nx, c->noisy, ny);
  if (st) {
    free(*X), free(*Y);
    *X = *Y = NULL;
  }
  return st;
}

/* Keeps the shard's rows of a full N x cols array (in place, then shrunk). */
static void keep_shard(double *a, size_t cols, size_t train, const shard *s) {
  if (!a) return;
  memmove(a, a + s->tlo * cols, (s->thi - s->tlo) * cols * sizeof(double));
  memmove(a + (s->thi - s->tlo) * cols, a + (train + s->vlo) * cols,
          (s->vhi - s->vlo) * cols * sizeof(double));
}

blorc_status blorc_dataset(const blorc_config *c, double **clean, double **noisy, size_t *N,
                           blorc_error *err) {
  *clean = *noisy = NULL;
  size_t need = (size_t)c->train + (size_t)c->val;
  *N = need;
  if (strcmp(c->data_kind, "files") == 0) {
    shard all = {0, (size_t)c->train, 0, (size_t)c->val};
    return load_files(c, c->n, &all, clean, noisy, err);
  }
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

static blorc_status dataset_shard(const blorc_config *c, const blorc_operator *op, const shard *sh,
                                  double **clean, double **meas, double **masks, size_t *N,
                                  blorc_error *err) {
  *masks = NULL;
  *clean = *meas = NULL;
  size_t need = (size_t)c->train + (size_t)c->val, n = (size_t)c->n, rows = shard_rows(sh);
  size_t train = (size_t)c->train;
  *N = rows;
  blorc_status st = BLORC_OK;
  double *mk = NULL;
  if (strcmp(c->data_kind, "files") == 0) {
    st = load_files(c, op->m, sh, clean, meas, err);
    if (!st && op->kind == BLORC_OP_MASK) {
      if (!c->masks[0])
        st = blorc_fail(err, BLORC_EINVAL,
                        "config data.masks: the inpainting operator with data.kind = files needs "
                        "the masks .npy (N x %d, 1 observed, 0 missing)",
                        c->n);
      if (!st) st = load_shard_file(c->masks, c->n, need, train, sh, &mk, NULL, err);
      if (!st) st = blorc_operator_check_masks(mk, rows, c->n, c->masks, err);
    }
  } else { /* generated: every row is drawn (the streams are sequential), the shard kept */
    size_t total;
    double *noisy = NULL;
    st = blorc_dataset(c, clean, &noisy, &total, err);
    if (!st && op->kind == BLORC_OP_IDENTITY) {
      *meas = noisy;
      noisy = NULL;
    } else if (!st) {
      if (op->kind == BLORC_OP_MASK && !(mk = malloc(need * n * sizeof(double))))
        st = blorc_fail(err, BLORC_ENOMEM, "out of memory for %zu masks", need);
      if (!st && !(*meas = malloc(need * (size_t)op->m * sizeof(double))))
        st = blorc_fail(err, BLORC_ENOMEM, "out of memory for %zu measurements", need);
      /* The denoising noise is not reused: y has another length for a matrix. */
      if (!st)
        blorc_operator_simulate(op, need, *clean, c->sigma, (uint64_t)c->data_seed,
                                (uint64_t)c->op_seed, *meas, mk);
    }
    free(noisy);
    if (!st && rows < need) {
      keep_shard(*clean, n, train, sh);
      keep_shard(*meas, (size_t)op->m, train, sh);
      keep_shard(mk, n, train, sh);
    }
  }
  if (st) {
    free(*clean), free(*meas), free(mk);
    *clean = *meas = NULL;
    return st;
  }
  *masks = mk;
  return BLORC_OK;
}

blorc_status blorc_dataset_op(const blorc_config *c, const blorc_operator *op, double **clean,
                              double **meas, double **masks, size_t *N, blorc_error *err) {
  shard all = {0, (size_t)c->train, 0, (size_t)c->val};
  return dataset_shard(c, op, &all, clean, meas, masks, N, err);
}

blorc_status blorc_dataset_op_rows(const blorc_config *c, const blorc_operator *op, size_t tlo,
                                   size_t thi, size_t vlo, size_t vhi, double **clean,
                                   double **meas, double **masks, blorc_error *err) {
  if (tlo > thi || thi > (size_t)c->train || vlo > vhi || vhi > (size_t)c->val)
    return blorc_fail(err, BLORC_EINVAL,
                      "data set rows: training %zu..%zu of %ld, validation %zu..%zu of %ld", tlo,
                      thi, c->train, vlo, vhi, c->val);
  shard sh = {tlo, thi, vlo, vhi};
  size_t N;
  return dataset_shard(c, op, &sh, clean, meas, masks, &N, err);
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
