/* NumPy .npy reader and atomic writer (format versions 1.0-3.0; see blorc/npy.h). */
#define _POSIX_C_SOURCE 200809L
#include "blorc/npy.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsutil.h"

static const char MAGIC[6] = {'\x93', 'N', 'U', 'M', 'P', 'Y'};

/* Finds the value text after key ('descr', ...) in the header dict, or NULL. */
static const char *dict_value(const char *h, const char *key) {
  char pat[32];
  snprintf(pat, sizeof pat, "'%s'", key);
  const char *p = strstr(h, pat);
  if (!p) return NULL;
  p += strlen(pat);
  while (*p == ' ') p++;
  if (*p != ':') return NULL;
  p++;
  while (*p == ' ') p++;
  return p;
}

static blorc_status parse_header(const char *path, const char *h, int *itemsize, int *ndim,
                                 size_t shape[2], blorc_error *err) {
  const char *d = dict_value(h, "descr");
  if (!d || (*d != '\'' && *d != '"'))
    return blorc_fail(err, BLORC_EFORMAT, "%s: .npy header has no 'descr' field", path);
  char descr[16] = {0};
  size_t i = 0;
  for (d++; *d && *d != '\'' && *d != '"' && i < sizeof descr - 1; d++) descr[i++] = *d;
  if (strcmp(descr, "<f8") == 0)
    *itemsize = 8;
  else if (strcmp(descr, "<f4") == 0)
    *itemsize = 4;
  else
    return blorc_fail(err, BLORC_EFORMAT,
                      "%s: dtype '%s', expected little-endian float64 '<f8' (or float32 '<f4')",
                      path, descr);
  const char *f = dict_value(h, "fortran_order");
  if (!f) return blorc_fail(err, BLORC_EFORMAT, "%s: .npy header has no 'fortran_order'", path);
  if (strncmp(f, "False", 5) != 0)
    return blorc_fail(err, BLORC_EFORMAT,
                      "%s: Fortran-ordered array, expected C order (save np.ascontiguousarray)",
                      path);
  const char *s = dict_value(h, "shape");
  if (!s || *s != '(')
    return blorc_fail(err, BLORC_EFORMAT, "%s: .npy header has no 'shape'", path);
  s++;
  *ndim = 0;
  /* A Python tuple of integers: "()", "(3,)", "(3, 4)" (a trailing comma allowed). */
  for (;;) {
    while (*s == ' ') s++;
    if (*s == ')') break;
    if (*s < '0' || *s > '9')
      return blorc_fail(err, BLORC_EFORMAT, "%s: malformed shape in .npy header", path);
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || v > ((size_t)1 << 40))
      return blorc_fail(err, BLORC_EFORMAT, "%s: shape entry too large", path);
    if (*ndim == 2)
      return blorc_fail(err, BLORC_EFORMAT,
                        "%s: array has more than 2 dimensions, expected 1-D or 2-D", path);
    shape[(*ndim)++] = (size_t)v;
    s = end;
    while (*s == ' ') s++;
    if (*s == ',')
      s++;
    else if (*s != ')')
      return blorc_fail(err, BLORC_EFORMAT, "%s: malformed shape in .npy header", path);
  }
  if (*ndim == 0)
    return blorc_fail(err, BLORC_EFORMAT, "%s: 0-d array (a scalar), expected 1-D or 2-D", path);
  if (*ndim == 1) shape[1] = 1;
  return BLORC_OK;
}

/* Reads rows [first, first + want) of path (want SIZE_MAX: to the end); *total (may be NULL)
 * receives the file's row count. */
static blorc_status load(const char *path, size_t first, size_t want, blorc_array *out,
                         size_t *total, blorc_error *err) {
  memset(out, 0, sizeof *out);
  FILE *fp = fopen(path, "rb");
  if (!fp) return blorc_fail(err, BLORC_EIO, "%s: cannot open (%s)", path, strerror(errno));
  unsigned char pre[12];
  blorc_status st = BLORC_OK;
  char *header = NULL;
  void *raw = NULL;
  if (fread(pre, 1, 8, fp) != 8 || memcmp(pre, MAGIC, 6) != 0) {
    st = blorc_fail(err, BLORC_EFORMAT, "%s: not a .npy file (bad magic)", path);
    goto done;
  }
  uint32_t hlen;
  if (pre[6] == 1) {
    if (fread(pre + 8, 1, 2, fp) != 2) goto truncated;
    hlen = (uint32_t)pre[8] | (uint32_t)pre[9] << 8;
  } else if (pre[6] == 2 || pre[6] == 3) {
    if (fread(pre + 8, 1, 4, fp) != 4) goto truncated;
    hlen = (uint32_t)pre[8] | (uint32_t)pre[9] << 8 | (uint32_t)pre[10] << 16 |
           (uint32_t)pre[11] << 24;
  } else {
    st = blorc_fail(err, BLORC_EFORMAT, "%s: .npy format version %d, expected 1, 2 or 3", path,
                    pre[6]);
    goto done;
  }
  if (hlen > (1u << 20)) {
    st = blorc_fail(err, BLORC_EFORMAT, "%s: .npy header of %u bytes is implausible", path, hlen);
    goto done;
  }
  header = malloc(hlen + 1);
  if (!header) {
    st = blorc_fail(err, BLORC_ENOMEM, "%s: out of memory for the header", path);
    goto done;
  }
  if (fread(header, 1, hlen, fp) != hlen) goto truncated;
  header[hlen] = '\0';
  int itemsize = 0, ndim = 0;
  size_t shape[2];
  st = parse_header(path, header, &itemsize, &ndim, shape, err);
  if (st != BLORC_OK) goto done;
  size_t count = shape[0] * shape[1];
  if (shape[1] != 0 && count / shape[1] != shape[0]) {
    st = blorc_fail(err, BLORC_EFORMAT, "%s: shape too large", path);
    goto done;
  }
  if (count > SIZE_MAX / sizeof(double)) {
    st = blorc_fail(err, BLORC_EFORMAT, "%s: shape too large", path);
    goto done;
  }
  /* Before allocating: a corrupt header must not claim gigabytes the file does not hold. */
  struct stat sb;
  long body = ftell(fp);
  if (body >= 0 && fstat(fileno(fp), &sb) == 0 && S_ISREG(sb.st_mode) &&
      (size_t)(sb.st_size - body) / (size_t)itemsize < count) {
    st = blorc_fail(err, BLORC_EFORMAT,
                    "%s: file is truncated (its header says %zu x %zu values, it holds %lld bytes "
                    "of data)",
                    path, shape[0], shape[1], (long long)(sb.st_size - body));
    goto done;
  }
  if (total) *total = shape[0];
  if (first > shape[0] || (want != SIZE_MAX && want > shape[0] - first)) {
    st = blorc_fail(err, BLORC_EINVAL, "%s: rows %zu..%zu asked for, the file has %zu", path, first,
                    want == SIZE_MAX ? shape[0] : first + want, shape[0]);
    goto done;
  }
  if (want == SIZE_MAX) want = shape[0] - first;
  count = want * shape[1];
  if (first && fseek(fp, (long)(first * shape[1] * (size_t)itemsize), SEEK_CUR) != 0)
    goto truncated;
  shape[0] = want;
  out->data = malloc((count ? count : 1) * sizeof(double));
  raw = itemsize == 4 ? malloc((count ? count : 1) * 4) : NULL;
  if (!out->data || (itemsize == 4 && !raw)) {
    st = blorc_fail(err, BLORC_ENOMEM, "%s: out of memory for %zu values", path, count);
    goto done;
  }
  if (fread(itemsize == 8 ? (void *)out->data : raw, (size_t)itemsize, count, fp) != count)
    goto truncated;
  if (itemsize == 4)
    for (size_t i = 0; i < count; i++) out->data[i] = (double)((const float *)raw)[i];
  out->rows = shape[0];
  out->cols = shape[1];
  out->ndim = ndim;
  out->was_float32 = itemsize == 4;
  goto done;
truncated:
  st = blorc_fail(err, BLORC_EFORMAT, "%s: file is truncated (fewer bytes than its header says)",
                  path);
done:
  fclose(fp);
  free(header);
  free(raw);
  if (st != BLORC_OK) blorc_array_free(out);
  return st;
}

blorc_status blorc_npy_load(const char *path, blorc_array *out, blorc_error *err) {
  return load(path, 0, SIZE_MAX, out, NULL, err);
}

blorc_status blorc_npy_load_rows(const char *path, size_t first, size_t count, blorc_array *out,
                                 size_t *total, blorc_error *err) {
  return load(path, first, count, out, total, err);
}

void blorc_array_free(blorc_array *a) {
  free(a->data);
  memset(a, 0, sizeof *a);
}

blorc_status blorc_npy_save(const char *path, const double *data, int ndim, size_t rows,
                            size_t cols, blorc_error *err) {
  if (ndim != 1 && ndim != 2)
    return blorc_fail(err, BLORC_EINVAL, "%s: ndim %d, expected 1 or 2", path, ndim);
  char dict[160];
  int dl = ndim == 1 ? snprintf(dict, sizeof dict,
                                "{'descr': '<f8', 'fortran_order': False, 'shape': (%zu,), }", rows)
                     : snprintf(dict, sizeof dict,
                                "{'descr': '<f8', 'fortran_order': False, 'shape': (%zu, %zu), }",
                                rows, cols);
  /* Pad with spaces and a newline so data starts on a 64-byte boundary (format 1.0). */
  size_t total = 10 + (size_t)dl + 1;
  size_t pad = (64 - total % 64) % 64;
  size_t hlen = (size_t)dl + pad + 1;
  size_t count = rows * (ndim == 2 ? cols : 1);

  blorc_atomic_file f;
  blorc_status st = blorc_atomic_open(&f, path, err);
  if (st) return st;
  unsigned char pre[10];
  memcpy(pre, MAGIC, 6);
  pre[6] = 1, pre[7] = 0, pre[8] = (unsigned char)(hlen & 0xff),
  pre[9] = (unsigned char)(hlen >> 8);
  int ok = fwrite(pre, 1, 10, f.fp) == 10 && fwrite(dict, 1, (size_t)dl, f.fp) == (size_t)dl;
  for (size_t i = 0; ok && i < pad; i++) ok = fputc(' ', f.fp) != EOF;
  ok = ok && fputc('\n', f.fp) != EOF;
  ok = ok && fwrite(data, sizeof(double), count, f.fp) == count;
  st = blorc_atomic_close(&f, ok, err);
  return st;
}
