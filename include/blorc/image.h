/* Pictures of learned filters (PNG through libpng). */
#ifndef BLORC_IMAGE_H
#define BLORC_IMAGE_H

#include "blorc/error.h"
#include "blorc/transforms.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Writes the rows of W (k x n) as a PNG: when patch_side > 0 (n = patch_side^2) each row is
 * a patch_side x patch_side tile, tiles in a grid, each scaled to its own largest magnitude;
 * otherwise a k x n heat map scaled to the largest magnitude in W. Colours: blue negative,
 * white zero, red positive. Written to a temporary name and renamed. */
blorc_status blorc_write_filters_png(const char *path, const double *W, int k, int n,
                                     int patch_side, blorc_error *err);

/* Orders the k rows of W (k x n) like the kr rows of a reference transform R (kr x n), for
 * pictures: rows are paired greedily, the largest |normalised correlation| first, each row of
 * W and of R at most once. out (k x n, caller's) gets the W rows matched to R rows 0, 1, ...
 * in that order, each multiplied by the sign of its correlation, then the unmatched W rows in
 * their original order; order (k entries, caller's) gets the W row index at each position.
 * Returns BLORC_EINVAL for a size below 1, BLORC_ENOMEM; out and order are then unspecified. */
blorc_status blorc_order_rows_like(const double *W, int k, const double *R, int kr, int n,
                                   double *out, int *order, blorc_error *err);

/* blorc_write_filters_png of W with its rows ordered like the transform *like (unit scale)
 * by blorc_order_rows_like; like NULL keeps W's order. Errors as both. */
blorc_status blorc_write_filters_png_like(const char *path, const double *W, int k, int n,
                                          int patch_side, const blorc_transform_kind *like,
                                          blorc_error *err);

#ifdef __cplusplus
}
#endif
#endif
