/* Helpers shared by the subcommands: errors, flags, numbers, matrices, devices. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

int cli_fail(const char *cmd, const blorc_error *e) {
  fprintf(stderr, "blorc-gpu %s: %s\n", cmd, e->msg);
  return 1;
}

int cli_usage_error(const char *cmd, const char *fmt, ...) {
  va_list ap;
  fprintf(stderr, "blorc-gpu %s: ", cmd);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fprintf(stderr, " (see blorc-gpu %s --help)\n", cmd);
  return 2;
}

int cli_getopt(const char *cmd, int argc, char **argv, const struct option *opts) {
  opterr = 0;
  int c = getopt_long(argc, argv, ":", opts, NULL);
  if (c == '?') {
    const char *bad = argv[optind - 1];
    if (optopt)
      cli_usage_error(cmd, "unknown flag '-%c'", optopt);
    else
      cli_usage_error(cmd, "unknown flag '%s'", bad);
    return '?';
  }
  if (c == ':') {
    cli_usage_error(cmd, "flag '%s' needs a value", argv[optind - 1]);
    return '?';
  }
  return c;
}

int cli_int(const char *cmd, const char *flag, const char *s, long long min, long long *out) {
  char *end;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if (errno || end == s || *end || v < min) {
    cli_usage_error(cmd, "--%s '%s': expected an integer >= %lld", flag, s, min);
    return -1;
  }
  *out = v;
  return 0;
}

int cli_double(const char *cmd, const char *flag, const char *s, double min_excl, double *out) {
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  if (errno || end == s || *end || !isfinite(v) || !(v > min_excl)) {
    cli_usage_error(cmd, "--%s '%s': expected a number > %g", flag, s, min_excl);
    return -1;
  }
  *out = v;
  return 0;
}

blorc_status cli_load_matrix(const char *what, const char *path, int want_cols, blorc_array *a,
                             blorc_error *err) {
  blorc_status st = blorc_npy_load(path, a, err);
  if (st) return st;
  if (a->ndim != 2)
    st = blorc_fail(err, BLORC_EFORMAT, "%s %s: 1-D array of %zu values, expected a 2-D array",
                    what, path, a->rows);
  else if (want_cols > 0 && (int)a->cols != want_cols)
    st = blorc_fail(err, BLORC_EFORMAT, "%s %s: shape (%zu, %zu), expected %d columns", what, path,
                    a->rows, a->cols, want_cols);
  else if (a->rows == 0 || a->cols == 0)
    st = blorc_fail(err, BLORC_EFORMAT, "%s %s: empty array", what, path);
  for (size_t i = 0; !st && i < a->rows * a->cols; i++)
    if (!isfinite(a->data[i]))
      st = blorc_fail(err, BLORC_EFORMAT,
                      "%s %s: non-finite value (NaN or Inf) at row %zu column %zu", what, path,
                      i / a->cols, i % a->cols);
  if (st) blorc_array_free(a);
  return st;
}

int cli_device(const char *cmd, const char *s, blorc_device *dev) {
  if (strcmp(s, "cpu") == 0)
    *dev = BLORC_DEVICE_CPU;
  else if (strcmp(s, "cuda") == 0)
    *dev = BLORC_DEVICE_CUDA;
  else if (strcmp(s, "auto") == 0)
    *dev = blorc_cuda_available() ? BLORC_DEVICE_CUDA : BLORC_DEVICE_CPU;
  else
    return cli_usage_error(cmd, "--device '%s': expected cpu, cuda or auto", s), -1;
  return 0;
}

int cli_solver_flag(const char *cmd, int opt, const char *arg, blorc_denoise_opts *o,
                    const char **device) {
  long long iters;
  switch (opt) {
    case 't': return cli_double(cmd, "tol", arg, 0, &o->admm.tol) ? -1 : 1;
    case 'm':
      if (cli_int(cmd, "max-iters", arg, 1, &iters) || iters > 1000000000) return -1;
      o->admm.max_iters = (int)iters;
      return 1;
    case 'r': return cli_double(cmd, "rho", arg, 0, &o->rho) ? -1 : 1;
    case 'd': *device = arg; return 1;
    case CLI_OPT_SVD_TOL:
      if (cli_double(cmd, "svd-tol", arg, 0, &o->svd_tol)) return -1;
      if (o->svd_tol >= 1) {
        cli_usage_error(cmd, "--svd-tol '%s': expected a number below 1", arg);
        return -1;
      }
      return 1;
  }
  return 0;
}

blorc_status cli_load_pairs(const char *cflag, const char *cpath, const char *nflag,
                            const char *npath, int n, int m, blorc_array *X, blorc_array *Y,
                            blorc_error *err) {
  blorc_status st = cli_load_matrix(cflag, cpath, n, X, err);
  if (!st) st = cli_load_matrix(nflag, npath, m, Y, err);
  if (!st && X->rows != Y->rows)
    st =
        blorc_fail(err, BLORC_EFORMAT, "%s %s has %zu signals but %s %s has %zu: expected the same",
                   cflag, cpath, X->rows, nflag, npath, Y->rows);
  if (st) blorc_array_free(X), blorc_array_free(Y);
  return st;
}

int cli_operator_flag(const char *cmd, int opt, const char *arg, cli_operator *o) {
  long long seed;
  switch (opt) {
    case CLI_OPT_OPERATOR: o->spec = arg; return 1;
    case CLI_OPT_MASKS: o->masks = arg; return 1;
    case CLI_OPT_RIDGE: return cli_double(cmd, "ridge", arg, -1e-300, &o->ridge) ? -1 : 1;
    case CLI_OPT_OP_SEED:
      if (cli_int(cmd, "operator-seed", arg, 0, &seed)) return -1;
      o->seed = seed;
      return 1;
  }
  return 0;
}

blorc_status cli_operator_rows(const cli_operator *o, int n, int *m, blorc_error *err) {
  blorc_operator op;
  blorc_status st =
      blorc_operator_parse(o->spec, n, (uint64_t)o->seed, o->ridge, "--operator", &op, err);
  *m = op.m;
  blorc_operator_free(&op);
  return st;
}

blorc_status cli_load_masks(const char *flag, const char *path, int n, size_t N, blorc_array *masks,
                            blorc_error *err) {
  blorc_status st = cli_load_matrix(flag, path, n, masks, err);
  if (!st && masks->rows != N)
    st = blorc_fail(err, BLORC_EFORMAT, "%s %s: %zu rows, expected one per signal (%zu)", flag,
                    path, masks->rows, N);
  if (!st) st = blorc_operator_check_masks(masks->data, N, n, path, err);
  if (st) blorc_array_free(masks);
  return st;
}

blorc_status cli_operator_open(const cli_operator *o, int n, size_t N, blorc_operator *op,
                               blorc_array *masks, blorc_error *err) {
  memset(masks, 0, sizeof *masks);
  blorc_status st =
      blorc_operator_parse(o->spec, n, (uint64_t)o->seed, o->ridge, "--operator", op, err);
  if (st) return st;
  if (op->kind != BLORC_OP_MASK) {
    if (o->masks)
      st = blorc_fail(err, BLORC_EINVAL, "--masks %s: only the inpainting operator takes masks",
                      o->masks);
  } else if (!o->masks) {
    st = blorc_fail(err, BLORC_EINVAL,
                    "--operator %s needs --masks M.npy (one row of n = %d entries per signal, 1 "
                    "observed, 0 missing)",
                    o->spec, n);
  } else {
    st = cli_load_masks("--masks", o->masks, n, N, masks, err);
  }
  if (st) blorc_operator_free(op);
  return st;
}

#ifndef BLORC_CONFIG_REL
#define BLORC_CONFIG_REL "../share/blorc-gpu/configs"
#endif
#ifndef BLORC_SOURCE_CONFIGS
#define BLORC_SOURCE_CONFIGS "configs"
#endif

int cli_find_config(const char *cmd, const char *name, char *out, size_t cap) {
  if (access(name, R_OK) == 0 || strchr(name, '/')) {
    snprintf(out, cap, "%s", name);
    return 0; /* a path: used as given (a missing file is reported when it is read) */
  }
  char exe[PATH_MAX] = "", dirs[2][PATH_MAX + 64];
  ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (len > 0) {
    exe[len] = '\0';
    char *slash = strrchr(exe, '/');
    if (slash) *slash = '\0';
  }
  snprintf(dirs[0], sizeof dirs[0], "%s/%s", exe, BLORC_CONFIG_REL);
  snprintf(dirs[1], sizeof dirs[1], "%s", BLORC_SOURCE_CONFIGS);
  for (int d = 0; d < 2; d++)
    for (int ext = 0; ext < 2; ext++) {
      snprintf(out, cap, "%s/%s%s", dirs[d], name, ext ? ".ini" : "");
      if (access(out, R_OK) == 0) return 0;
    }
  cli_usage_error(cmd, "--config '%s': no such file, nor a config of that name in %s or %s", name,
                  dirs[0], dirs[1]);
  return -1;
}
