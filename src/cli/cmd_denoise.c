/* blorc-gpu denoise: x = argmin 1/2||x - y||^2 + ||W x||_1 for every row of the input. */
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"

static const char HELP[] =
    "usage: blorc-gpu denoise --transform W.npy --input Y.npy --output X.npy [--tol 1e-10]\n"
    "                         [--max-iters 20000] [--rho 10] [--svd-tol 1e-8]\n"
    "                         [--device cpu|cuda|auto]\n"
    "Solves argmin_x 1/2||x - y||^2 + ||W x||_1 for every row y of the input (shape (N, n); W\n"
    "is (k, n)) by ADMM, then replaces each result by the exact minimiser for its sign\n"
    "pattern (the closed form) when the two agree, i.e. when the pattern has settled.\n";

int cmd_denoise(int argc, char **argv) {
  const char *C = "denoise", *wpath = NULL, *in = NULL, *out = NULL, *dev_s = "auto";
  blorc_denoise_opts dopt = blorc_denoise_defaults();
  static const struct option opts[] = {{"transform", 1, 0, 'w'}, {"input", 1, 0, 'i'},
                                       {"output", 1, 0, 'o'},    {"help", 0, 0, 'h'},
                                       CLI_SOLVER_OPTIONS,       {0, 0, 0, 0}};
  int o;
  while ((o = cli_getopt(C, argc, argv, opts)) != -1) {
    switch (o) {
      case 'w': wpath = optarg; break;
      case 'i': in = optarg; break;
      case 'o': out = optarg; break;
      case 'h': fputs(HELP, stdout); return 0;
      default:
        if (cli_solver_flag(C, o, optarg, &dopt, &dev_s) == 1) break;
        return 2;
    }
  }
  if (optind < argc) return cli_usage_error(C, "unexpected argument '%s'", argv[optind]);
  if (!wpath || !in || !out)
    return cli_usage_error(C, "--transform, --input and --output are required");
  blorc_device dev;
  if (cli_device(C, dev_s, &dev)) return 2;
  blorc_error e = {0};
  blorc_array W = {0}, Y = {0};
  if (cli_load_matrix("--transform", wpath, 0, &W, &e)) return cli_fail(C, &e);
  if (cli_load_matrix("--input", in, (int)W.cols, &Y, &e)) {
    blorc_array_free(&W);
    return cli_fail(C, &e);
  }
  size_t N = Y.rows;
  int n = (int)W.cols, k = (int)W.rows, cap = N < 256 ? (int)N : 256;
  double *X = malloc(N * n * sizeof(double));
  size_t *idx = malloc(N * sizeof(size_t));
  blorc_backend *b = NULL;
  blorc_denoise_stats ds;
  blorc_status st = X && idx ? blorc_backend_create(dev, n, k, cap, &b, &e)
                             : blorc_fail(&e, BLORC_ENOMEM, "out of memory for %zu signals", N);
  for (size_t i = 0; !st && i < N; i++) idx[i] = i;
  if (!st) st = blorc_set_data(b, N, NULL, Y.data, &e);
  if (!st) st = blorc_write(b, BLORC_BUF_W, W.data, (size_t)k * n, &e);
  if (!st) st = blorc_denoise(b, cap, idx, N, &dopt, X, &ds, &e);
  if (!st) st = blorc_npy_save(out, X, 2, N, (size_t)n, &e);
  if (!st)
    printf(
        "denoised %zu signals (n=%d, k=%d) on %s into %s: %zu exact (closed form; %zu of them "
        "certified), %zu ADMM only; mean ADMM iterations %.1f, %zu at the cap\n",
        N, n, k, blorc_backend_name(b), out, ds.polished, ds.certified, ds.unpolished,
        (double)ds.iters / (double)N, ds.at_cap);
  blorc_backend_destroy(b);
  blorc_array_free(&W), blorc_array_free(&Y);
  free(X), free(idx);
  return st ? cli_fail(C, &e) : 0;
}
