/* Standard transforms: identity, 1D finite differences, orthonormal DCT-II, 2D finite
 * differences on square patches. */
#include "blorc/transforms.h"

#include <math.h>
#include <string.h>

blorc_status blorc_transform_parse(const char *name, blorc_transform_kind *kind, blorc_error *err) {
  static const struct {
    const char *name;
    blorc_transform_kind kind;
  } names[] = {{"identity", BLORC_TRANSFORM_IDENTITY},
               {"tv", BLORC_TRANSFORM_FD1},
               {"fd", BLORC_TRANSFORM_FD1},
               {"dct", BLORC_TRANSFORM_DCT},
               {"tv2d", BLORC_TRANSFORM_FD2},
               {"fd2d", BLORC_TRANSFORM_FD2}};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    if (strcmp(name, names[i].name) == 0) {
      *kind = names[i].kind;
      return BLORC_OK;
    }
  return blorc_fail(err, BLORC_EINVAL,
                    "transform '%s': expected identity, tv (or fd), dct, tv2d (or fd2d)", name);
}

static int square_side(int n) {
  int m = (int)lround(sqrt((double)n));
  return m * m == n ? m : 0;
}

blorc_status blorc_transform_rows(blorc_transform_kind kind, int n, int *k, blorc_error *err) {
  if (n < 1) return blorc_fail(err, BLORC_EINVAL, "transform: n = %d, expected n >= 1", n);
  switch (kind) {
    case BLORC_TRANSFORM_IDENTITY:
    case BLORC_TRANSFORM_DCT: *k = n; return BLORC_OK;
    case BLORC_TRANSFORM_FD1:
      if (n < 2)
        return blorc_fail(err, BLORC_EINVAL, "finite differences: n = %d, expected n >= 2", n);
      *k = n - 1;
      return BLORC_OK;
    case BLORC_TRANSFORM_FD2: {
      int m = square_side(n);
      if (m < 2)
        return blorc_fail(err, BLORC_EINVAL,
                          "2D finite differences: n = %d, expected a square patch size >= 4", n);
      *k = 2 * m * (m - 1);
      return BLORC_OK;
    }
  }
  return blorc_fail(err, BLORC_EINVAL, "transform: unknown kind %d", (int)kind);
}

blorc_status blorc_transform_fill(blorc_transform_kind kind, int n, double scale, double *W,
                                  blorc_error *err) {
  int k;
  blorc_status st = blorc_transform_rows(kind, n, &k, err);
  if (st != BLORC_OK) return st;
  memset(W, 0, (size_t)k * n * sizeof(double));
  switch (kind) {
    case BLORC_TRANSFORM_IDENTITY:
      for (int i = 0; i < n; i++) W[(size_t)i * n + i] = scale;
      break;
    case BLORC_TRANSFORM_FD1:
      for (int i = 0; i < k; i++) {
        W[(size_t)i * n + i] = -scale;
        W[(size_t)i * n + i + 1] = scale;
      }
      break;
    case BLORC_TRANSFORM_DCT: {
      const double pi = 3.14159265358979323846;
      for (int f = 0; f < n; f++) {
        double a = scale * sqrt((f == 0 ? 1.0 : 2.0) / n);
        for (int i = 0; i < n; i++)
          W[(size_t)f * n + i] = a * cos(pi * (2 * i + 1) * f / (2.0 * n));
      }
      break;
    }
    case BLORC_TRANSFORM_FD2: {
      int m = square_side(n), row = 0;
      for (int r = 0; r < m; r++) /* horizontal: pixel (r, c+1) - (r, c) */
        for (int c = 0; c + 1 < m; c++, row++) {
          W[(size_t)row * n + r * m + c] = -scale;
          W[(size_t)row * n + r * m + c + 1] = scale;
        }
      for (int r = 0; r + 1 < m; r++) /* vertical: pixel (r+1, c) - (r, c) */
        for (int c = 0; c < m; c++, row++) {
          W[(size_t)row * n + r * m + c] = -scale;
          W[(size_t)row * n + (r + 1) * m + c] = scale;
        }
      break;
    }
  }
  return BLORC_OK;
}
