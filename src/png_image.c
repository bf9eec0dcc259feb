/* Filter pictures: rows of W as a heat map or as square tiles, written with libpng. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <math.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "blorc/image.h"
#include "fsutil.h"

/* Diverging map: -1 blue, 0 white, +1 red. */
static void colour(double v, unsigned char rgb[3]) {
  v = v > 1 ? 1 : v < -1 ? -1 : v;
  unsigned char fade = (unsigned char)lround(255 * (1 - fabs(v)));
  rgb[0] = v >= 0 ? 255 : fade;
  rgb[1] = fade;
  rgb[2] = v <= 0 ? 255 : fade;
}

static blorc_status write_png(const char *path, const unsigned char *rgb, int w, int h,
                              blorc_error *err) {
  blorc_atomic_file f;
  blorc_status st = blorc_atomic_open(&f, path, err);
  if (st) return st;
  FILE *fp = f.fp;
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
  png_infop info = png ? png_create_info_struct(png) : NULL;
  int ok = png && info;
  if (ok && setjmp(png_jmpbuf(png)) == 0) {
    png_init_io(png, fp);
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, 8, PNG_COLOR_TYPE_RGB,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (int r = 0; r < h; r++) png_write_row(png, (png_const_bytep)(rgb + (size_t)r * w * 3));
    png_write_end(png, NULL);
  } else {
    ok = 0;
  }
  png_destroy_write_struct(png ? &png : NULL, info ? &info : NULL);
  return blorc_atomic_close(&f, ok, err);
}

blorc_status blorc_write_filters_png(const char *path, const double *W, int k, int n,
                                     int patch_side, blorc_error *err) {
  int cell, w, h, cols = 1;
  if (patch_side > 0) {
    if (patch_side * patch_side != n)
      return blorc_fail(err, BLORC_EINVAL, "filters: patch side %d does not match n = %d",
                        patch_side, n);
    cols = (int)ceil(sqrt((double)k));
    int rows = (k + cols - 1) / cols;
    cell = 6; /* pixels per filter tap; 2-pixel gaps between tiles */
    w = cols * (patch_side * cell + 2) + 2;
    h = rows * (patch_side * cell + 2) + 2;
  } else {
    cell = n >= 128 ? 4 : 8;
    w = n * cell;
    h = k * cell;
  }
  unsigned char *rgb = malloc((size_t)w * h * 3);
  if (!rgb) return blorc_fail(err, BLORC_ENOMEM, "%s: out of memory for the image", path);
  memset(rgb, 128, (size_t)w * h * 3); /* grey background between tiles */
  double gmax = 0;
  for (size_t i = 0; i < (size_t)k * n; i++) gmax = fmax(gmax, fabs(W[i]));
  for (int r = 0; r < k; r++) {
    const double *row = W + (size_t)r * n;
    double m = gmax;
    if (patch_side > 0) {
      m = 0;
      for (int i = 0; i < n; i++) m = fmax(m, fabs(row[i]));
    }
    for (int i = 0; i < n; i++) {
      unsigned char c[3];
      colour(m > 0 ? row[i] / m : 0, c);
      int x0, y0;
      if (patch_side > 0) {
        x0 = 2 + (r % cols) * (patch_side * cell + 2) + (i % patch_side) * cell;
        y0 = 2 + (r / cols) * (patch_side * cell + 2) + (i / patch_side) * cell;
      } else {
        x0 = i * cell;
        y0 = r * cell;
      }
      for (int dy = 0; dy < cell; dy++)
        for (int dx = 0; dx < cell; dx++) memcpy(rgb + ((size_t)(y0 + dy) * w + x0 + dx) * 3, c, 3);
    }
  }
  blorc_status st = write_png(path, rgb, w, h, err);
  free(rgb);
  return st;
}
