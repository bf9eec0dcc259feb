/* blorc-gpu reconstruct (and denoise, its A = I name): x = argmin 1/2||A x - y||^2 + ||W x||_1
 * for every row of the input. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char HELP[] =
    "usage: blorc-gpu reconstruct --transform W.npy --input Y.npy --output X.npy\n"
    "                 [--operator identity|inpaint:F|cs:M|blur:S|blur2d:S|A.npy] [--masks M.npy]\n"
    "                 [--ridge 0] [--operator-seed 0] [--tol 1e-10] [--max-iters 20000]\n"
    "                 [--rho 10] [--svd-tol 1e-8] [--device cpu|cuda|auto]\n"
    "usage: blorc-gpu denoise ...  (the same with the identity: A = I)\n"
    "Solves argmin_x 1/2||A x - y||^2 + ||W x||_1 for every row y of the input (shape (N, m);\n"
    "W is (k, n); the output is (N, n)) by ADMM, then replaces each result by the exact\n"
    "minimiser for its sign pattern (the closed form) when it is certified or agrees with ADMM,\n"
    "i.e. when the pattern has settled. --operator as in 'blorc-gpu data': cs:M draws the same\n"
    "matrix for the same --operator-seed; inpaint:F needs --masks (N x n, 1 observed, 0\n"
    "missing; unobserved entries of y are ignored). --ridge adds ridge/2 ||x||^2.\n";

int cmd_denoise(int argc, char **argv) {
  const char *C = argv[0], *wpath = NULL, *in = NULL, *out = NULL, *dev_s = "auto";
  int is_denoise = strcmp(C, "denoise") == 0;
  blorc_denoise_opts dopt = blorc_denoise_defaults();
  cli_operator copt = CLI_OPERATOR_INIT;
  static const struct option opts[] = {
      {"transform", 1, 0, 'w'}, {"input", 1, 0, 'i'}, {"output", 1, 0, 'o'}, {"help", 0, 0, 'h'},
      CLI_SOLVER_OPTIONS,       CLI_OPERATOR_OPTIONS, {0, 0, 0, 0}};
  int o;
  while ((o = cli_getopt(C, argc, argv, opts)) != -1) {
    switch (o) {
      case 'w': wpath = optarg; break;
      case 'i': in = optarg; break;
      case 'o': out = optarg; break;
      case 'h': fputs(HELP, stdout); return 0;
      default:
        if (cli_solver_flag(C, o, optarg, &dopt, &dev_s) == 1) break;
        if (cli_operator_flag(C, o, optarg, &copt) == 1) break;
        return 2;
    }
  }
  if (optind < argc) return cli_usage_error(C, "unexpected argument '%s'", argv[optind]);
  if (!wpath || !in || !out)
    return cli_usage_error(C, "--transform, --input and --output are required");
  if (is_denoise && strcmp(copt.spec, "identity") != 0)
    return cli_usage_error(C, "--operator %s: denoise is A = I; use blorc-gpu reconstruct",
                           copt.spec);
  blorc_device dev;
  if (cli_device(C, dev_s, &dev)) return 2;
  blorc_error e = {0};
  blorc_array W = {0}, Y = {0}, M = {0};
  blorc_operator op = {0};
  blorc_status st = cli_load_matrix("--transform", wpath, 0, &W, &e);
  int n = (int)W.cols, k = (int)W.rows;
  int m = 0;
  if (!st) st = cli_operator_rows(&copt, n, &m, &e);
  if (!st) st = cli_load_matrix("--input", in, m, &Y, &e);
  size_t N = Y.rows;
  if (!st) st = cli_operator_open(&copt, n, N, &op, &M, &e);
  int cap = N < 256 ? (int)N : 256;
  double *X = NULL;
  size_t *idx = NULL;
  blorc_backend *b = NULL;
  blorc_denoise_stats ds;
  if (!st && (!(X = malloc(N * n * sizeof(double))) || !(idx = malloc(N * sizeof(size_t)))))
    st = blorc_fail(&e, BLORC_ENOMEM, "out of memory for %zu signals", N);
  if (!st) st = blorc_backend_create(dev, n, k, cap, &b, &e);
  for (size_t i = 0; !st && i < N; i++) idx[i] = i;
  if (!st) st = blorc_operator_load(b, &op, N, NULL, Y.data, M.data, &e);
  if (!st) st = blorc_write(b, BLORC_BUF_W, W.data, (size_t)k * n, &e);
  if (!st) st = blorc_denoise(b, cap, idx, N, &dopt, X, &ds, &e);
  if (!st) st = blorc_npy_save(out, X, 2, N, (size_t)n, &e);
  if (!st)
    printf(
        "%s %zu signals (n=%d, k=%d%s%s) on %s into %s: %zu exact (closed form; %zu of them "
        "certified), %zu ADMM only; mean ADMM iterations %.1f, %zu at the cap\n",
        op.kind == BLORC_OP_IDENTITY ? "denoised" : "reconstructed", N, n, k,
        op.kind == BLORC_OP_IDENTITY ? "" : "; ", op.kind == BLORC_OP_IDENTITY ? "" : op.desc,
        blorc_backend_name(b), out, ds.polished, ds.certified, ds.unpolished,
        N ? (double)ds.iters / (double)N : 0.0, ds.at_cap);
  blorc_backend_destroy(b);
  blorc_operator_free(&op);
  blorc_array_free(&W), blorc_array_free(&Y), blorc_array_free(&M);
  free(X), free(idx);
  return st ? cli_fail(C, &e) : 0;
}
