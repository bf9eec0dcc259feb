/* NumPy .npy files: float64 arrays in C order, 1-D or 2-D. Reading also accepts float32
 * (converted to float64). Anything else (big-endian, Fortran order, other dtypes, 3-D, a
 * truncated body) is an error naming the file and what was expected. */
#ifndef BLORC_NPY_H
#define BLORC_NPY_H

#include <stddef.h>

#include "blorc/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct blorc_array {
  double *data;    /* rows * cols values, row-major; owned by the array */
  size_t rows;     /* shape[0] */
  size_t cols;     /* shape[1]; 1 for a 1-D array */
  int ndim;        /* 1 or 2 */
  int was_float32; /* the file held float32 that was converted */
} blorc_array;

/* Reads path into *out (zeroed first). On error *out holds no memory. Free with
 * blorc_array_free. */
blorc_status blorc_npy_load(const char *path, blorc_array *out, blorc_error *err);

/* Reads only rows [first, first + count) of a 2-D (or 1-D) file, checking the whole header and
 * the file's size as blorc_npy_load does; *total (may be NULL) receives the file's row count. A
 * window past the end is BLORC_EINVAL naming the rows. A data-parallel rank reads its shard so. */
blorc_status blorc_npy_load_rows(const char *path, size_t first, size_t count, blorc_array *out,
                                 size_t *total, blorc_error *err);

/* Writes a float64 C-order array (ndim 1: shape (rows,), cols ignored; ndim 2: (rows, cols))
 * to a temporary file beside path and renames it over path, so readers never see a torn
 * file and a failed write leaves any previous file intact. */
blorc_status blorc_npy_save(const char *path, const double *data, int ndim, size_t rows,
                            size_t cols, blorc_error *err);

/* Frees the data and zeroes the struct. Safe on a zeroed struct. */
void blorc_array_free(blorc_array *a);

#ifdef __cplusplus
}
#endif
#endif
