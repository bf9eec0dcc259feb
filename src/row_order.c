/* Ordering learned rows like a reference transform for pictures (the paper shows its learned
 * DCT-like W "row-rearranged such that it has maximum correlation with the 1D-DCT"). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "blorc/image.h"

typedef struct {
  double c; /* normalised correlation, signed */
  int w, r;
} pair;

static int by_correlation(const void *a, const void *b) {
  const pair *p = a, *q = b;
  if (fabs(p->c) != fabs(q->c)) return fabs(p->c) < fabs(q->c) ? 1 : -1;
  /* Ties (equal magnitudes, zero rows) keep a fixed order so the picture is reproducible. */
  if (p->w != q->w) return p->w < q->w ? -1 : 1;
  return p->r < q->r ? -1 : p->r > q->r;
}

static double norm(const double *v, int n) {
  double s = 0;
  for (int i = 0; i < n; i++) s += v[i] * v[i];
  return sqrt(s);
}

blorc_status blorc_order_rows_like(const double *W, int k, const double *R, int kr, int n,
                                   double *out, int *order, blorc_error *err) {
  if (k < 1 || kr < 1 || n < 1)
    return blorc_fail(err, BLORC_EINVAL,
                      "order rows: sizes k = %d, reference rows = %d, n = %d, expected all >= 1", k,
                      kr, n);
  size_t np = (size_t)k * kr;
  pair *p = malloc(np * sizeof *p);
  int *owner = malloc((size_t)kr * sizeof *owner); /* W row matched to each R row, or -1 */
  double *sign = calloc((size_t)k, sizeof *sign);  /* 0 while a W row is unmatched */
  double *rnorm = malloc((size_t)kr * sizeof *rnorm);
  if (!p || !owner || !sign || !rnorm) {
    free(p), free(owner), free(sign), free(rnorm);
    return blorc_fail(err, BLORC_ENOMEM, "order rows: out of memory for %d x %d pairs", k, kr);
  }
  for (int r = 0; r < kr; r++) rnorm[r] = norm(R + (size_t)r * n, n), owner[r] = -1;
  for (int w = 0; w < k; w++) {
    double nw = norm(W + (size_t)w * n, n);
    for (int r = 0; r < kr; r++) {
      double d = 0;
      for (int i = 0; i < n; i++) d += W[(size_t)w * n + i] * R[(size_t)r * n + i];
      p[(size_t)w * kr + r] = (pair){nw > 0 && rnorm[r] > 0 ? d / (nw * rnorm[r]) : 0, w, r};
    }
  }
  /* Greedy assignment, strongest |correlation| first: each row of W and of R used once. */
  qsort(p, np, sizeof *p, by_correlation);
  for (size_t i = 0; i < np; i++) {
    int w = p[i].w, r = p[i].r;
    if (sign[w] != 0 || owner[r] >= 0) continue;
    owner[r] = w;
    sign[w] = p[i].c < 0 ? -1 : 1; /* ||W x||_1 ignores a row's sign; flipped, matches look alike */
  }
  int pos = 0;
  for (int r = 0; r < kr; r++)
    if (owner[r] >= 0) order[pos++] = owner[r];
  for (int w = 0; w < k; w++)
    if (sign[w] == 0) order[pos++] = w, sign[w] = 1;
  for (int i = 0; i < k; i++)
    for (int j = 0; j < n; j++)
      out[(size_t)i * n + j] = sign[order[i]] * W[(size_t)order[i] * n + j];
  free(p), free(owner), free(sign), free(rnorm);
  return BLORC_OK;
}

blorc_status blorc_write_filters_png_like(const char *path, const double *W, int k, int n,
                                          int patch_side, const blorc_transform_kind *like,
                                          blorc_error *err) {
  if (!like) return blorc_write_filters_png(path, W, k, n, patch_side, err);
  int kr;
  blorc_status st = blorc_transform_rows(*like, n, &kr, err);
  if (st) return st;
  double *R = malloc((size_t)kr * n * sizeof *R), *out = malloc((size_t)k * n * sizeof *out);
  int *order = malloc((size_t)k * sizeof *order);
  if (!R || !out || !order)
    st = blorc_fail(err, BLORC_ENOMEM, "%s: out of memory ordering %d rows", path, k);
  if (!st) st = blorc_transform_fill(*like, n, 1.0, R, err);
  if (!st) st = blorc_order_rows_like(W, k, R, kr, n, out, order, err);
  if (!st) st = blorc_write_filters_png(path, out, k, n, patch_side, err);
  free(R), free(out), free(order);
  return st;
}
