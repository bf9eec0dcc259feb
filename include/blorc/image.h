/* Pictures of learned filters (PNG through libpng). */
#ifndef BLORC_IMAGE_H
#define BLORC_IMAGE_H

#include "blorc/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Writes the rows of W (k x n) as a PNG: when patch_side > 0 (n = patch_side^2) each row is
 * a patch_side x patch_side tile, tiles in a grid, each scaled to its own largest magnitude;
 * otherwise a k x n heat map scaled to the largest magnitude in W. Colours: blue negative,
 * white zero, red positive. Written to a temporary name and renamed. */
blorc_status blorc_write_filters_png(const char *path, const double *W, int k, int n,
                                     int patch_side, blorc_error *err);

#ifdef __cplusplus
}
#endif
#endif
