/* The standard analysis transforms used as initialisations and baselines (design.md 6). */
#ifndef BLORC_TRANSFORMS_H
#define BLORC_TRANSFORMS_H

#include "blorc/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum blorc_transform_kind {
  BLORC_TRANSFORM_IDENTITY, /* n x n identity */
  BLORC_TRANSFORM_FD1,      /* (n-1) x n, row i = e_{i+1} - e_i (1D finite differences) */
  BLORC_TRANSFORM_DCT,      /* n x n orthonormal DCT-II, row f = frequency f */
  BLORC_TRANSFORM_FD2       /* 2 m (m-1) x n for m x m patches, n = m^2, row-major pixels:
                               horizontal differences first, then vertical */
} blorc_transform_kind;

/* Looks up a kind by name: "identity", "tv" or "fd" (FD1), "dct", "tv2d" or "fd2d" (FD2).
 * Returns BLORC_EINVAL naming the value and the accepted names otherwise. */
blorc_status blorc_transform_parse(const char *name, blorc_transform_kind *kind, blorc_error *err);

/* Number of rows k of the transform for signal length n, or BLORC_EINVAL when n does not
 * suit the kind (n < 1; n < 2 for FD1; n not a square >= 4 for FD2). */
blorc_status blorc_transform_rows(blorc_transform_kind kind, int n, int *k, blorc_error *err);

/* Fills W (k x n, row-major, k from blorc_transform_rows) with scale times the transform. */
blorc_status blorc_transform_fill(blorc_transform_kind kind, int n, double scale, double *W,
                                  blorc_error *err);

#ifdef __cplusplus
}
#endif
#endif
